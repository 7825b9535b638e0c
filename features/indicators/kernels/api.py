"""Validated entry points: one ``grouped_*`` function per kernel, over ``values``/``indptr`` (see ``grouped``).

Each checks the layout and its parameters (``ValueError``/``TypeError``), then runs the kernel of its shape on every
series. Results are new arrays of the inputs' dtype (float64 when two inputs differ); inputs are never written to
(read-only views are fine). Windows, lags and half-lives count periods (rows), not calendar time.
"""

from __future__ import annotations

import math

import numpy as np

from features.indicators.grouped import check_layout
from features.indicators.kernels import elementwise as ew
from features.indicators.kernels import scan as sc
from features.indicators.kernels import window as wi
from features.indicators.kernels._run import run

HDD_BASE_C = 18.0
HDD_THRESHOLD_C = 15.0


def ewm_alpha(half_life: float) -> float:
    """Smoothing factor for a half-life in periods: ``α = 1 − 0.5^(1 / half_life)`` (as Polars/pandas)."""
    return 1.0 - decay_factor(half_life)


def decay_factor(half_life: float) -> float:
    """Per-period decay for a half-life in periods: ``λ = 0.5^(1 / half_life)``, so ``λ^half_life = 0.5``."""
    if not half_life > 0 or not math.isfinite(half_life):
        raise ValueError(f"half_life must be a finite number > 0, got {half_life}")
    return 0.5 ** (1.0 / half_life)


# --- elementwise --------------------------------------------------------------------------------------------


def grouped_hdd(
    values: np.ndarray, indptr: np.ndarray, base: float = HDD_BASE_C, threshold: float = HDD_THRESHOLD_C
) -> np.ndarray:
    """Heating degree days (Eurostat rule): ``base − T`` if ``T ≤ threshold`` else 0, NaN → NaN.

    ``values``: daily mean temperatures, °C. Result: °C·day per day.
    """
    check_layout(values, indptr)
    base, threshold = _finite(base=base, threshold=threshold)
    return run(ew.elementwise_driver, ew.OP_HDD, values, None, indptr, (base, threshold))


def grouped_product(a: np.ndarray, b: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Elementwise ``a · b`` of two aligned inputs (e.g. damage stock × HDD); NaN in either → NaN."""
    _check_pair(a, b, indptr)
    return run(ew.elementwise_driver, ew.OP_PRODUCT, a, b, indptr, ())


# --- scans --------------------------------------------------------------------------------------------------


def grouped_ewm(values: np.ndarray, indptr: np.ndarray, alpha: float) -> np.ndarray:
    """Per-series EWM, ``adjust=False``, NaN-skipping (:func:`~.scan.ewm_mean_1d`); ``α`` in (0, 1].

    Use :func:`ewm_alpha` for a half-life. Units of ``values``.
    """
    check_layout(values, indptr)
    alpha = float(alpha)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return run(sc.scan_driver, sc.OP_EWM, values, None, indptr, (alpha,))


def grouped_expanding_mean(values: np.ndarray, indptr: np.ndarray, min_periods: int = 1) -> np.ndarray:
    """Mean of the valid values so far in each series; NaN-skipping, NaN below ``min_periods`` valid values."""
    check_layout(values, indptr)
    _positive_int(min_periods=min_periods)
    return run(sc.scan_driver, sc.OP_EXPANDING_MEAN, values, None, indptr, (min_periods,))


def grouped_cold_exposure(
    values: np.ndarray,
    indptr: np.ndarray,
    half_life: float,
    base: float = HDD_BASE_C,
    threshold: float = HDD_THRESHOLD_C,
) -> np.ndarray:
    """Decayed cumulative HDD: ``C_t = λ·C_{t−1} + HDD_t``, ``λ = 0.5^(1/half_life)`` (:func:`decay_factor`).

    ``values``: daily mean temperature, °C; HDD by the Eurostat rule with ``base``/``threshold``. Result: °C·day.
    NaN-skipping (see :func:`~features.indicators.kernels.scan.cold_exposure_1d`).
    """
    check_layout(values, indptr)
    base, threshold = _finite(base=base, threshold=threshold)
    return run(sc.scan_driver, sc.OP_COLD_EXPOSURE, values, None, indptr, (base, threshold, decay_factor(half_life)))


def grouped_cold_spell_len(values: np.ndarray, indptr: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Consecutive periods (so far) with ``T < threshold`` (°C); a missing T gives NaN and resets the run."""
    check_layout(values, indptr)
    (threshold,) = _finite(threshold=threshold)
    return run(sc.scan_driver, sc.OP_COLD_SPELL_LEN, values, None, indptr, (threshold,))


def grouped_damage_stock(
    values: np.ndarray, indptr: np.ndarray, weight: float = 1.0, repair_rate: float = 0.1, cap: float = math.inf
) -> np.ndarray:
    """Attrition stock ``D_t = max(0, D_{t−1} + w·s_t − min(cap, r·D_{t−1}))``, ``D_{−1} = 0``.

    ``weight`` ≥ 0 (damage per strike), ``repair_rate`` in [0, 1] (share repaired per period), ``cap`` ≥ 0 (most
    repaired per period, ``inf`` = unlimited). See :func:`~features.indicators.kernels.scan.damage_stock_1d` for NaN.
    """
    check_layout(values, indptr)
    weight, repair_rate = _finite(weight=weight, repair_rate=repair_rate)
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if not 0.0 <= repair_rate <= 1.0:
        raise ValueError(f"repair_rate must be in [0, 1], got {repair_rate}")
    cap = float(cap)
    if math.isnan(cap) or cap < 0:
        raise ValueError(f"cap must be >= 0 (inf for no limit), got {cap}")
    return run(sc.scan_driver, sc.OP_DAMAGE_STOCK, values, None, indptr, (weight, repair_rate, cap))


def grouped_days_since(values: np.ndarray, indptr: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Periods since the last period with ``s ≥ k`` (0 there); NaN before the first one and at missing periods."""
    check_layout(values, indptr)
    (k,) = _finite(k=k)
    return run(sc.scan_driver, sc.OP_DAYS_SINCE, values, None, indptr, (k,))


def grouped_cold_spell_strikes(
    strikes: np.ndarray, temp: np.ndarray, indptr: np.ndarray, threshold: float = 0.0, min_len: int = 1
) -> np.ndarray:
    """``s_t`` where the cold-spell run of ``temp < threshold`` is at least ``min_len`` periods, else 0."""
    _check_pair(strikes, temp, indptr)
    (threshold,) = _finite(threshold=threshold)
    _positive_int(min_len=min_len)
    return run(sc.scan_driver, sc.OP_COLD_SPELL_STRIKES, strikes, temp, indptr, (threshold, min_len))


# --- windows ------------------------------------------------------------------------------------------------


def grouped_lag(values: np.ndarray, indptr: np.ndarray, k: int) -> np.ndarray:
    """``x[t − k]`` within each series (NaN for the first ``k`` periods); NaN propagates."""
    check_layout(values, indptr)
    _positive_int(k=k)
    return run(wi.window_driver, wi.OP_LAG, values, None, indptr, (k, 1))


def grouped_rolling_sum(
    values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None = None
) -> np.ndarray:
    """Rolling sum of the valid values in the last ``window`` periods (``min_periods`` defaults to ``window``)."""
    return _rolling(wi.OP_ROLLING_SUM, values, indptr, window, min_periods)


def grouped_rolling_mean(
    values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None = None
) -> np.ndarray:
    """Rolling mean of the valid values in the last ``window`` periods (``min_periods`` defaults to ``window``)."""
    return _rolling(wi.OP_ROLLING_MEAN, values, indptr, window, min_periods)


def grouped_rolling_std(
    values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None = None
) -> np.ndarray:
    """Rolling sample std (ddof 1) of the valid values in the window; NaN with fewer than 2 (or ``min_periods``)."""
    return _rolling(wi.OP_ROLLING_STD, values, indptr, window, min_periods)


def grouped_rolling_min(
    values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None = None
) -> np.ndarray:
    """Rolling minimum of the valid values in the last ``window`` periods."""
    return _rolling(wi.OP_ROLLING_MIN, values, indptr, window, min_periods)


def grouped_rolling_max(
    values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None = None
) -> np.ndarray:
    """Rolling maximum of the valid values in the last ``window`` periods."""
    return _rolling(wi.OP_ROLLING_MAX, values, indptr, window, min_periods)


def grouped_burst_count(
    values: np.ndarray, indptr: np.ndarray, window: int, level: float = 0.0, min_periods: int = 1
) -> np.ndarray:
    """Periods in the last ``window`` with ``s > level``; NaN below ``min_periods`` valid periods."""
    check_layout(values, indptr)
    _window_args(window, min_periods)
    (level,) = _finite(level=level)
    return run(wi.window_driver, wi.OP_BURST_COUNT, values, None, indptr, (window, min_periods, level))


def grouped_freeze_thaw(
    t_min: np.ndarray, t_max: np.ndarray, indptr: np.ndarray, window: int, min_periods: int = 1
) -> np.ndarray:
    """Periods in the last ``window`` with ``t_min < 0 < t_max`` (°C); NaN below ``min_periods`` valid periods."""
    _check_pair(t_min, t_max, indptr)
    _window_args(window, min_periods)
    return run(wi.window_driver, wi.OP_FREEZE_THAW, t_min, t_max, indptr, (window, min_periods))


def _rolling(op: int, values: np.ndarray, indptr: np.ndarray, window: int, min_periods: int | None) -> np.ndarray:
    check_layout(values, indptr)
    min_periods = window if min_periods is None else min_periods
    _window_args(window, min_periods)
    return run(wi.window_driver, op, values, None, indptr, (window, min_periods))


# --- argument checks ----------------------------------------------------------------------------------------


def _check_pair(a: np.ndarray, b: np.ndarray, indptr: np.ndarray) -> None:
    check_layout(a, indptr)
    check_layout(b, indptr)


def _finite(**kwargs: float) -> tuple[float, ...]:
    out = []
    for name, value in kwargs.items():
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        out.append(value)
    return tuple(out)


def _positive_int(**kwargs: int) -> None:
    for name, value in kwargs.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _window_args(window: int, min_periods: int) -> None:
    _positive_int(window=window, min_periods=min_periods)
    if min_periods > window:
        raise ValueError(f"min_periods must be <= window ({window}), got {min_periods}")
