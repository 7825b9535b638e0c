"""Ensembles: the mean, weighted mean or median of built member models (the registry builds them from
`{name, params}` specs)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from forecast.models.base import Forecaster, ForecastError, Prediction
from forecast.models.common import COMPOSITE_CONFIG, Member


class EnsembleConfig(BaseModel):
    """Parameters of :class:`Ensemble`: ``members`` (built models; a spec's ``{name, params}`` entries are built
    by the registry), ``combine`` and, for a weighted mean, ``weights`` (one per member, non-negative, not all
    zero; stored normalised to sum to 1)."""

    model_config = COMPOSITE_CONFIG
    members: list[Member] = Field(min_length=2)
    combine: Literal["mean", "median"] = "mean"
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _check_weights(self) -> EnsembleConfig:
        if self.weights is None:
            return self
        w = self.weights
        if self.combine != "mean":
            raise ValueError("weights: only a mean is weighted (combine = 'mean')")
        if len(w) != len(self.members):
            raise ValueError(f"weights: expected one weight per member ({len(self.members)}), got {len(w)}")
        if not all(np.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"weights: expected finite weights >= 0 with a positive sum, got {w}")
        total = sum(w)
        object.__setattr__(self, "weights", [x / total for x in w])  # frozen model: normalised once, here
        return self


class Ensemble(Forecaster):
    """Combine the point forecasts of its members by their mean, weighted mean or median, step by step.

    Every member is fitted to the same series; members with the ``exogenous`` tag get ``X`` and ``X_future``,
    the others ignore them. If any member fails, the ensemble fails (and the frame layer falls back): a
    combination of fewer members would be a different model. Intervals combine the members' bounds with the
    same statistic (mean, weighted mean or median of the lower bounds, of the upper bounds): a pragmatic rule, not a
    probabilistic one. The ensemble has the ``intervals`` tag only when every member has it, and the
    ``exogenous`` and ``dates`` tags when any member has them (those members get ``X``, ``ds``). ``members_``
    holds the fitted members.
    """

    name: ClassVar[str] = "ensemble"
    nested: ClassVar[tuple[str, ...]] = ("members",)
    tags: ClassVar[dict[str, bool]] = {"exogenous": True, "intervals": True, "seasonality": True, "missing": False}
    config_cls = EnsembleConfig
    config: EnsembleConfig

    def _instance_tags(self) -> dict[str, bool]:
        members = self.config.members
        return {
            "exogenous": any(m.get_tag("exogenous") for m in members),
            "intervals": all(m.get_tag("intervals") for m in members),
            "dates": any(m.get_tag("dates") for m in members),
        }

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.members_: list[Forecaster] = []
        self._uses_x: list[bool] = []
        for i, configured in enumerate(self.config.members):
            member = configured.clone()
            uses_x = X is not None and member.get_tag("exogenous")
            try:
                member.fit(y, X if uses_x else None, ds=self._ds)
            except Exception as exc:
                raise ForecastError(f"ensemble member {i} ({member.name}): {type(exc).__name__}: {exc}") from exc
            self.fit_warnings_.extend(f"{member.name}: {w}" for w in member.fit_warnings_)
            self.members_.append(member)
            self._uses_x.append(uses_x)

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        preds = []  # level is () unless every member gives intervals (the intervals tag; checked by predict)
        for member, uses_x in zip(self.members_, self._uses_x, strict=True):
            try:
                preds.append(member.predict(h, X_future if uses_x else None, level=level))
            except Exception as exc:
                raise ForecastError(f"ensemble member {member.name}: {type(exc).__name__}: {exc}") from exc
        weights = self.config.weights
        if weights is not None:
            w = np.asarray(weights)

            def stat(a: np.ndarray, axis: int) -> np.ndarray:
                return np.tensordot(w, a, axes=(0, axis))

        else:
            stat = np.mean if self.config.combine == "mean" else np.median
        mean = stat(np.stack([p.mean for p in preds]), axis=0)
        lower = {lv: stat(np.stack([p.lower[lv] for p in preds]), axis=0) for lv in level}
        upper = {lv: stat(np.stack([p.upper[lv] for p in preds]), axis=0) for lv in level}
        return Prediction(mean, lower, upper)
