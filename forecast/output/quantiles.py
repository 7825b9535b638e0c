"""Quantile levels, exceedance thresholds and their frame column names (Nixtla naming).

A central ``level`` % interval ``[lo, hi]`` holds the quantiles ``(1 − level/100)/2`` and ``(1 + level/100)/2``, so
the quantile ``q`` of a model with intervals is the bound of the interval at level ``100·|1 − 2q|``: ``q = 0.1`` is
``lo-80``, ``q = 0.975`` is ``hi-95`` (statsforecast's construction). The median ``q = 0.5`` is the point forecast
``mean``: exact for the symmetric predictive distributions of the models here and for back-transformed forecasts
(see :mod:`forecast.output.bounds`). Levels are whole percents, so quantiles are multiples of 0.005.

Columns: ``q-0.1``, ``q-0.5``, ``q-0.975`` (``q-`` + the shortest decimal of q) and ``p_exceed-12``,
``p_exceed-12.5`` (``p_exceed-`` + the threshold); ``interval_note`` says why a row's interval columns are null
(a model without intervals of its own and no conformal calibration, see :mod:`forecast.core`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist

import numpy as np
import polars as pl

_Q_RE = re.compile(r"^q-(\d*\.?\d+(?:e-?\d+)?)$")
_LO_RE = re.compile(r"^lo-(\d+)$")
_P_RE = re.compile(r"^p_exceed-(-?\d*\.?\d+(?:e[-+]?\d+)?)$")
_TOL = 1e-9


def normal_quantile(level: float) -> float:
    """The two-sided standard-normal multiplier of a central ``level`` % interval (80 → 1.2816)."""
    return NormalDist().inv_cdf(0.5 + level / 200.0)


INTERVAL_NOTE = "interval_note"
"""Column added to a forecast frame when a model without intervals had to leave its interval columns null."""


def q_col(q: float) -> str:
    """Column of the ``q`` quantile, e.g. ``q-0.1``."""
    return f"q-{float(q):g}"


def p_exceed_col(threshold: float) -> str:
    """Column of the exceedance probability P(y > threshold), e.g. ``p_exceed-12``."""
    return f"p_exceed-{float(threshold):g}"


def check_quantiles(quantiles: Iterable[float] | float | None) -> tuple[float, ...]:
    """Validate quantile probabilities: numbers strictly inside (0, 1) at whole-percent levels; sorted, unique."""
    if quantiles is None:
        return ()
    if isinstance(quantiles, int | float):
        quantiles = (quantiles,)
    out: set[float] = set()
    for q in quantiles:
        if isinstance(q, bool) or not isinstance(q, int | float | np.floating | np.integer):
            raise ValueError(f"quantiles: expected numbers in (0, 1), got {q!r}")
        qf = float(q)
        if not 0.0 < qf < 1.0:
            raise ValueError(f"quantiles: {qf} is outside (0, 1)")
        quantile_level(qf)  # raises when the level is not a whole percent
        out.add(round(qf, 9))
    return tuple(sorted(out))


def quantile_level(q: float) -> int | None:
    """The central interval level whose bound is the ``q`` quantile (0.1 → 80, 0.975 → 95); None for the median."""
    level = 100.0 * abs(1.0 - 2.0 * float(q))
    if level < _TOL:
        return None
    rounded = round(level)
    if abs(level - rounded) > 1e-6 or not 0 < rounded < 100:
        raise ValueError(
            f"quantiles: {q} needs a {level:g}% interval; use quantiles at whole-percent levels (multiples of 0.005)"
        )
    return int(rounded)


def levels_for_quantiles(quantiles: Sequence[float]) -> tuple[int, ...]:
    """The interval levels needed to read the given quantiles off a model's intervals, sorted."""
    return tuple(sorted({lv for q in quantiles if (lv := quantile_level(q)) is not None}))


def quantiles_from_intervals(
    mean: np.ndarray,
    lower: Mapping[int, np.ndarray],
    upper: Mapping[int, np.ndarray],
    quantiles: Sequence[float],
) -> dict[float, np.ndarray]:
    """Quantile arrays read off central intervals (``q < 0.5`` → lower bound, ``q > 0.5`` → upper, 0.5 → mean)."""
    out: dict[float, np.ndarray] = {}
    for q in quantiles:
        lv = quantile_level(q)
        if lv is None:
            out[q] = np.asarray(mean, dtype=np.float64)
        elif lv not in lower or lv not in upper:
            raise KeyError(f"quantile {q} needs the {lv}% interval, which is not available")
        else:
            out[q] = np.asarray(lower[lv] if q < 0.5 else upper[lv], dtype=np.float64)
    return out


def check_thresholds(thresholds: Iterable[float] | float | None) -> tuple[float, ...]:
    """Validate exceedance thresholds: finite numbers, returned sorted and unique."""
    if thresholds is None:
        return ()
    if isinstance(thresholds, int | float):
        thresholds = (thresholds,)
    out: set[float] = set()
    for c in thresholds:
        if isinstance(c, bool) or not isinstance(c, int | float | np.floating | np.integer) or not np.isfinite(c):
            raise ValueError(f"thresholds: expected finite numbers, got {c!r}")
        out.add(float(c))
    return tuple(sorted(out))


def quantile_columns(columns: Iterable[str]) -> dict[float, str]:
    """The ``q-*`` columns among ``columns``, keyed by their probability, ascending."""
    found = {float(m.group(1)): c for c in columns if (m := _Q_RE.match(c))}
    return dict(sorted(found.items()))


def interval_levels(columns: Iterable[str]) -> tuple[int, ...]:
    """The levels with both ``lo-<l>`` and ``hi-<l>`` among ``columns``, ascending."""
    cols = set(columns)
    return tuple(sorted(int(m.group(1)) for c in cols if (m := _LO_RE.match(c)) and f"hi-{m.group(1)}" in cols))


def exceed_columns(columns: Iterable[str]) -> dict[float, str]:
    """The ``p_exceed-*`` columns among ``columns``, keyed by their threshold, ascending."""
    found = {float(m.group(1)): c for c in columns if (m := _P_RE.match(c))}
    return dict(sorted(found.items()))


def with_interval_note(frame: pl.DataFrame, note: str | None) -> pl.DataFrame:
    """``frame`` with ``note`` in ``interval_note`` wherever no other note is there (the column added if needed)."""
    if note is None:
        return frame
    if INTERVAL_NOTE not in frame.columns:
        return frame.with_columns(pl.lit(note).alias(INTERVAL_NOTE))
    return frame.with_columns(pl.coalesce(pl.col(INTERVAL_NOTE), pl.lit(note)).alias(INTERVAL_NOTE))
