"""Helpers shared by the model modules: config defaults, quiet fitting, the M4 seasonality test and decomposition.

The seasonality test and the classical multiplicative decomposition follow the M4 Competition's definitions
(Makridakis, Spiliotis & Assimakopoulos 2018; the organisers' benchmark code): they are used by
:class:`~forecast.models.baselines.Naive2` and :class:`~forecast.models_statsmodels.Theta`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, StrictStr

from forecast.models.base import Forecaster

CONFIG = ConfigDict(extra="forbid", frozen=True)
"""Model configs are frozen and refuse unknown keys (a typo in a spec is an error)."""

M4_TCRIT = 1.645
"""The one-sided 90 % normal quantile the M4 seasonality test uses."""


class ModelSpec(BaseModel):
    """A nested model given by its registry name and parameters (ensemble members, MSTL's remainder model), as
    written in a spec; :func:`forecast.models.registry.make_model` builds it before the composite is made."""

    model_config = CONFIG
    name: StrictStr
    params: dict[str, Any] = Field(default_factory=dict)


def _member_spec(model: Forecaster) -> dict[str, Any]:
    return {"name": model.name, "params": model.get_params()}


def _is_model(value: Any) -> Forecaster:
    if not isinstance(value, Forecaster):
        raise ValueError(
            f"expected a built model, got {type(value).__name__}; build nested specs with forecast.models.make_model"
        )
    return value


Member = Annotated[Forecaster, PlainValidator(_is_model), PlainSerializer(_member_spec, return_type=dict)]
"""A built model inside a composite's config (serialised as ``{name, params}``, the form a spec writes)."""

COMPOSITE_CONFIG = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
"""The config of a model holding other models (:data:`Member` fields)."""


def messages(caught: list[warnings.WarningMessage]) -> list[str]:
    """Unique ``Category: message`` strings of caught warnings, in order of first appearance."""
    seen: dict[str, None] = {}
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return list(seen)


@contextmanager
def quiet(sink: list[str]) -> Iterator[None]:
    """Catch every warning raised inside the block and append its text to ``sink`` (nothing leaks to stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            yield
    sink.extend(m for m in messages(caught) if m not in sink)


def clamp_intervals(
    mean: np.ndarray, lower: dict[int, np.ndarray], upper: dict[int, np.ndarray]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Make simulated or sampled bounds contain the point forecast (``lo ≤ mean ≤ hi``) and nest across levels."""
    lo_out: dict[int, np.ndarray] = {}
    hi_out: dict[int, np.ndarray] = {}
    inner_lo, inner_hi = mean, mean
    for lv in sorted(lower):
        inner_lo = np.minimum(np.asarray(lower[lv], dtype=np.float64), inner_lo)
        inner_hi = np.maximum(np.asarray(upper[lv], dtype=np.float64), inner_hi)
        lo_out[lv], hi_out[lv] = inner_lo, inner_hi
    return lo_out, hi_out


# -- M4 seasonality ---------------------------------------------------------------------------------------------
def acf(y: np.ndarray, nlags: int) -> np.ndarray:
    """Sample autocorrelations r_1..r_nlags (mean removed, denominator the full sum of squares, as R's ``acf``)."""
    x = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = float(np.dot(x, x))
    if denom == 0.0:
        return np.zeros(nlags)
    return np.array([np.dot(x[k:], x[: x.size - k]) / denom for k in range(1, nlags + 1)])


def seasonality_test(y: np.ndarray, m: int, tcrit: float = M4_TCRIT) -> bool:
    """M4's 90 % autocorrelation test for seasonality at lag ``m``.

    Seasonal when ``|r_m| > tcrit·sqrt((1 + 2·Σ_{k<m} r_k²)/n)``; series shorter than three seasons (and
    ``m < 2``) are not seasonal.
    """
    n = int(np.asarray(y).size)
    if m < 2 or n < 3 * m:
        return False
    r = acf(y, m)
    limit = tcrit * np.sqrt((1.0 + 2.0 * np.sum(r[:-1] ** 2)) / n)
    return bool(abs(r[-1]) > limit)


def centred_moving_average(y: np.ndarray, m: int) -> np.ndarray:
    """The classical-decomposition trend: a centred m-MA for odd m, a 2×m MA for even m (NaN at both ends)."""
    y = np.asarray(y, dtype=np.float64)
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = w.size // 2
    out = np.full(y.size, np.nan)
    if y.size >= w.size:
        out[half : y.size - half] = np.convolve(y, w, mode="valid")
    return out


def _trend(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    trend = centred_moving_average(y, m)
    ok = ~np.isnan(trend)
    if not ok.any():
        raise ValueError(f"classical decomposition needs at least {m + 1 + (m % 2 == 0)} observations")
    return trend, ok


def additive_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical additive seasonal indices, one per position ``t mod m`` counted from the first observation.

    Difference ``y − trend`` (trend: :func:`centred_moving_average`), averaged per position, centred to mean 0.
    Used where the multiplicative form cannot be (a series with values ≤ 0, e.g. a target on the logit scale).
    """
    trend, ok = _trend(y, m)
    diff = np.where(ok, np.asarray(y, dtype=np.float64) - np.where(ok, trend, 0.0), np.nan)
    index = np.array([np.nanmean(diff[i::m]) for i in range(m)])
    return index - index.mean()


def multiplicative_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative seasonal indices, one per position ``t mod m`` counted from the first observation.

    Ratio ``y / trend`` (trend: :func:`centred_moving_average`), averaged per position, normalised to mean 1.
    Raises :class:`ValueError` when the trend is not positive (the ratios are then meaningless).
    """
    trend, ok = _trend(y, m)
    if (trend[ok] <= 0).any():
        raise ValueError("multiplicative decomposition needs a positive moving-average trend")
    ratio = np.where(ok, np.asarray(y, dtype=np.float64) / np.where(ok, trend, 1.0), np.nan)
    index = np.array([np.nanmean(ratio[i::m]) for i in range(m)])
    return index / index.mean()


@dataclass(frozen=True)
class Deseasonalized:
    """A series divided by its M4 seasonal indices (all ones when the test says not seasonal)."""

    adjusted: np.ndarray
    indices: np.ndarray  # one per position, position 0 = the first observation
    seasonal: bool
    additive: bool = False  # indices added (not multiplied): series with values <= 0

    def future(self, n: int, h: int) -> np.ndarray:
        """The indices of the ``h`` periods after a series of length ``n`` (the in-sample cycle continued)."""
        return self.indices[(n + np.arange(h)) % self.indices.size]

    def reseasonalize(self, values: np.ndarray, n: int) -> np.ndarray:
        """Put the seasonality back on ``h`` adjusted values following a series of length ``n``."""
        si = self.future(n, values.shape[0])
        return values + si if self.additive else values * si


def m4_deseasonalize(y: np.ndarray, m: int) -> Deseasonalized:
    """M4's deseasonalisation: test at lag ``m`` (:func:`seasonality_test`), then divide by the indices.

    A series with a value ≤ 0 (a bounded target on the logit scale, a centred series) has no meaningful
    multiplicative indices; it is decomposed additively instead (indices subtracted, then added back), so Naive2
    and Theta run under every transform. Positive series, M4's case, are decomposed exactly as M4 did.
    """
    y = np.asarray(y, dtype=np.float64)
    if not seasonality_test(y, m):
        return Deseasonalized(y, np.ones(1), False)
    pos = np.arange(y.size) % m
    if (y <= 0).any():
        idx = additive_indices(y, m)
        return Deseasonalized(y - idx[pos], idx, True, True)
    idx = multiplicative_indices(y, m)
    return Deseasonalized(y / idx[pos], idx, True)
