"""Target transforms that keep forecasts, intervals and quantiles inside the target's bounds.

The frame layer (:mod:`forecast.core`) fits every model on ``z = forward(y)`` and maps the model's mean, interval
bounds and quantiles back with ``inverse``. Because both maps are increasing, a quantile of ``z`` maps to the same
quantile of ``y``; ``inverse`` always lands inside the bounds, so nothing can leave them.

``"none"`` (:class:`Identity`)
    No transform; ``inverse`` clips into the bounds. For a symmetric predictive distribution the clipped bounds are
    exactly the quantiles of the *censored* distribution (the mass beyond a bound sits on the bound), and the
    ``mean`` column is the clipped point forecast.
``"log1p"`` (:class:`Log1p`), for counts ≥ lower (strikes launched, alert counts)
    ``z = log(1 + y − lower)``, ``y = lower + exp(z) − 1``. Multiplicative noise, intervals that widen with the level
    of the series and a lower bound that is never crossed; an upper bound, if any, is enforced by clipping.
``"logit"`` (:class:`Logit`), for a quantity between two bounds (hours off per day in [0, 24])
    ``p = (y − lower)/(upper − lower)`` squeezed to ``p' = ε + (1 − 2ε)·p`` so that the bounds themselves (days with
    0 or 24 hours off happen) have finite images, then ``z = log(p'/(1 − p'))``. Back: ``p' = 1/(1 + e^(−z))``,
    ``p = (p' − ε)/(1 − 2ε)`` clipped into [0, 1] (the z-mass below ``logit(ε)`` lands on the lower bound, above
    ``logit(1 − ε)`` on the upper bound). ``ε = 0.02`` by default: 0.48 h of the 24-h range, about the half-hour
    resolution of outage schedules.

What ``mean`` is under a transform
    The back-transformed point forecast ``inverse(mean_z)``. For the Gaussian (or any symmetric) predictive
    distribution on the z scale, that is the **median** of the forecast distribution of ``y``, not its mean (Jensen:
    for log1p the mean is larger, ``E[y] ≈ inverse(mean_z + σ²/2)``). It is also the ``q-0.5`` column. It is not
    bias-adjusted: the median is the point forecast that minimises the absolute error (MAE, MASE, sMAPE).

Observed values outside the bounds (a data error) are clipped into them before the forward map.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

import numpy as np
import polars as pl

from features.contract import MEAN, Bounds, hi_col, lo_col
from forecast.output.quantiles import quantile_columns

TransformName = Literal["none", "log1p", "logit"]
TRANSFORMS: tuple[str, ...] = ("none", "log1p", "logit")
DEFAULT_LOGIT_EPS = 0.02


class Transform(ABC):
    """An increasing bijection between the target scale and the model scale, inverse landing inside ``bounds``."""

    name: ClassVar[str]

    def __init__(self, bounds: Bounds | None = None) -> None:
        self.bounds = bounds if bounds is not None else Bounds()

    @property
    def lower(self) -> float:
        """The lower bound (−inf when unbounded)."""
        return -np.inf if self.bounds.lower is None else float(self.bounds.lower)

    @property
    def upper(self) -> float:
        """The upper bound (+inf when unbounded)."""
        return np.inf if self.bounds.upper is None else float(self.bounds.upper)

    def clip(self, y: np.ndarray) -> np.ndarray:
        """Clip into the bounds (NaN stays NaN)."""
        arr = np.asarray(y, dtype=np.float64)
        if self.bounds.lower is None and self.bounds.upper is None:
            return arr
        return np.clip(arr, self.lower, self.upper)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Target scale → model scale (values outside the bounds are clipped first; NaN stays NaN)."""
        return self._forward(self.clip(y))

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model scale → target scale, always inside the bounds (NaN stays NaN)."""
        return self.clip(self._inverse(np.asarray(z, dtype=np.float64)))

    @abstractmethod
    def _forward(self, y: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _inverse(self, z: np.ndarray) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bounds!r})"


class Identity(Transform):
    """No transform; the inverse clips into the bounds (the documented clipping rule)."""

    name = "none"

    def _forward(self, y: np.ndarray) -> np.ndarray:
        return y

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        return z


class Log1p(Transform):
    """``z = log1p(y − lower)``: for counts and other quantities ≥ a lower bound."""

    name = "log1p"

    def __init__(self, bounds: Bounds | None = None) -> None:
        super().__init__(bounds)
        if self.bounds.lower is None:
            raise ValueError("'log1p' needs a lower bound (e.g. lower = 0 for counts)")

    def _forward(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(y - self.lower)

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.expm1(z) + self.lower


class Logit(Transform):
    """Scaled logit with an ε squeeze: for quantities between two bounds (hours off per day in [0, 24])."""

    name = "logit"

    def __init__(self, bounds: Bounds | None = None, eps: float = DEFAULT_LOGIT_EPS) -> None:
        super().__init__(bounds)
        if self.bounds.lower is None or self.bounds.upper is None:
            raise ValueError("'logit' needs both bounds (e.g. lower = 0, upper = 24)")
        if not 0.0 < eps < 0.5:
            raise ValueError(f"logit eps: expected a number in (0, 0.5), got {eps}")
        self.eps = float(eps)

    def _forward(self, y: np.ndarray) -> np.ndarray:
        p = (y - self.lower) / (self.upper - self.lower)
        ps = self.eps + (1.0 - 2.0 * self.eps) * p
        return np.log(ps) - np.log1p(-ps)

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            ps = 1.0 / (1.0 + np.exp(-z))
        p = np.clip((ps - self.eps) / (1.0 - 2.0 * self.eps), 0.0, 1.0)
        return self.lower + (self.upper - self.lower) * p

    def __repr__(self) -> str:
        return f"Logit({self.bounds!r}, eps={self.eps})"


TransformLike = str | Transform


def make_transform(spec: TransformLike | None, bounds: Bounds | None = None, *, key: str = "transform") -> Transform:
    """A :class:`Transform` from a name (``"none"``, ``"log1p"``, ``"logit"``) and the target bounds.

    A :class:`Transform` instance (e.g. ``Logit(bounds, eps=0.01)``) is returned as is when its bounds are the
    target's.
    Errors are :class:`ValueError` starting with ``key`` (e.g. ``transform: unknown 'log'``).
    """
    if spec is None:
        spec = "none"
    if isinstance(spec, Transform):
        if bounds is None or spec.bounds == bounds:
            return spec
        if spec.bounds == Bounds():  # an unbounded Identity: give it the target's bounds
            return Identity(bounds)
        raise ValueError(f"{key}: {spec!r} has bounds other than the target's {bounds!r}")
    if not isinstance(spec, str):
        raise TypeError(f"{key}: expected one of {', '.join(TRANSFORMS)} or a Transform, got {type(spec).__name__}")
    try:
        if spec == "none":
            return Identity(bounds)
        if spec == "log1p":
            return Log1p(bounds)
        if spec == "logit":
            return Logit(bounds)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    raise ValueError(f"{key}: unknown {spec!r}; expected one of {', '.join(TRANSFORMS)}")


def resolve_transforms(
    spec: TransformLike | Mapping[str, TransformLike] | None, names: list[str], bounds: Bounds | None
) -> dict[str, Transform]:
    """One transform per model name: a single spec for all, or a mapping per model (missing names: ``"none"``)."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"transform: no model named {', '.join(map(repr, unknown))}; models: {', '.join(names)}")
        return {n: make_transform(spec.get(n, "none"), bounds, key=f"transform.{n}") for n in names}
    one = make_transform(spec, bounds)
    return dict.fromkeys(names, one)


def apply_bounds(frame: pl.DataFrame, bounds: Bounds | None, levels: Sequence[int] = ()) -> pl.DataFrame:
    """Clip ``mean``, the interval columns of ``levels`` and every ``q-*`` column into ``bounds`` (monotone, so
    the ordering is kept)."""
    if bounds is None or (bounds.lower is None and bounds.upper is None):
        return frame
    cols = [MEAN, *[c for lv in levels for c in (lo_col(lv), hi_col(lv))], *quantile_columns(frame.columns).values()]
    return frame.with_columns(bounds.clip_expr(pl.col(c)).alias(c) for c in cols)
