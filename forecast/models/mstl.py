"""MSTL: several seasonalities removed by statsmodels' MSTL, the rest forecast by any model (built)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from forecast.models.base import Forecaster, Prediction
from forecast.models.common import COMPOSITE_CONFIG, Member, quiet
from forecast.models.smoothing import Ets


class MstlConfig(BaseModel):
    """Parameters of :class:`Mstl`.

    ``season_length`` lists the periods (e.g. ``[24, 168]`` for hourly data, ``[7]`` or ``[7, 365]`` daily);
    ``remainder`` is the model (built; a spec's ``{name, params}`` is built by the registry) for the seasonally
    adjusted series, a non-seasonal
    ETS selected by AICc by default. ``windows`` are STL's seasonal smoother lengths per period (statsmodels'
    default 7 + 4·i), ``iterate`` its refinement passes.
    """

    model_config = COMPOSITE_CONFIG
    season_length: list[StrictInt] = Field(min_length=1)
    remainder: Member = Field(default_factory=lambda: Ets(model="ZZN"))
    iterate: StrictInt = Field(default=2, ge=1)
    windows: list[StrictInt] | None = None
    robust: StrictBool = False
    log: StrictBool = Field(default=False, description="decompose log(y) (needs y > 0); forecasts exp(·)")

    @field_validator("season_length")
    @classmethod
    def _check_periods(cls, value: list[int]) -> list[int]:
        if any(p < 2 for p in value) or len(set(value)) != len(value):
            raise ValueError(f"expected distinct periods >= 2, got {value}")
        return sorted(value)

    @model_validator(mode="after")
    def _check_nested(self) -> MstlConfig:
        if self.windows is not None and len(self.windows) != len(self.season_length):
            raise ValueError(f"windows: expected one window per period ({len(self.season_length)})")
        return self


class Mstl(Forecaster):
    """Multiple seasonal-trend decomposition by Loess, then a model on trend + remainder.

    Periods with fewer than two full cycles in the history are dropped (``periods_`` lists those kept; with
    none, the remainder model sees the raw series). Each seasonal component is continued by repeating its last
    cycle; the remainder model forecasts the adjusted series ``y − Σ seasonals``; the two are added. Intervals
    are the remainder model's, shifted by the seasonal forecast (the seasonal estimate is taken as known, as in
    statsforecast's MSTL). Exogenous regressors go to the remainder model when it takes them. The ``exogenous``,
    ``intervals`` and ``dates`` tags are the remainder model's (it gets ``ds`` when it uses dates).

    With ``log`` the decomposition and the remainder model work on ``log(y)`` (seasonal amplitude proportional to
    the level, as in most hourly load-like series) and the forecast and bounds are ``exp`` of theirs: the point
    forecast is then the median, not the mean, of the log-normal-ish forecast distribution. Needs y > 0.
    """

    name: ClassVar[str] = "mstl"
    nested: ClassVar[tuple[str, ...]] = ("remainder",)
    tags: ClassVar[dict[str, bool]] = {"exogenous": True, "intervals": True, "seasonality": True, "missing": False}
    config_cls = MstlConfig
    config: MstlConfig

    def _instance_tags(self) -> dict[str, bool]:
        remainder = self.config.remainder
        return {tag: remainder.get_tag(tag) for tag in ("exogenous", "intervals", "dates")}

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        cfg = self.config
        if cfg.log:
            if np.min(y) <= 0:
                raise ValueError("MSTL(log=True) needs y > 0")
            y = np.log(y)
        keep = [i for i, p in enumerate(cfg.season_length) if y.size >= 2 * p + 1]
        self.periods_ = [cfg.season_length[i] for i in keep]
        self._seasonals: list[np.ndarray] = []
        adjusted = y
        if keep:
            from statsmodels.tsa.seasonal import MSTL

            windows = None if cfg.windows is None else [cfg.windows[i] for i in keep]
            with quiet(self.fit_warnings_):
                res = MSTL(
                    y, periods=self.periods_, windows=windows, iterate=cfg.iterate, stl_kwargs={"robust": cfg.robust}
                ).fit()
            seasonal = np.asarray(res.seasonal, dtype=np.float64).reshape(y.size, -1)
            self._seasonals = [seasonal[:, j] for j in range(seasonal.shape[1])]
            adjusted = y - seasonal.sum(axis=1)
        self.adjusted_ = adjusted
        self.remainder_: Forecaster = cfg.remainder.clone()
        self._rem_exog = X is not None and self.remainder_.get_tag("exogenous")
        self.remainder_.fit(adjusted, X if self._rem_exog else None, ds=self._ds)
        self.fit_warnings_.extend(self.remainder_.fit_warnings_)

    def seasonal_forecast(self, h: int) -> np.ndarray:
        """The sum of the seasonal components continued over ``h`` steps."""
        out = np.zeros(h)
        for p, comp in zip(self.periods_, self._seasonals, strict=True):
            out += comp[-p:][np.arange(h) % p]
        return out

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        pred = self.remainder_.predict(h, X_future if self._rem_exog else None, level=level)
        s = self.seasonal_forecast(h)
        back = np.exp if self.config.log else (lambda v: v)
        return Prediction(
            back(pred.mean + s),
            {k: back(v + s) for k, v in pred.lower.items()},
            {k: back(v + s) for k, v in pred.upper.items()},
        )
