"""Numba kernels over grouped arrays (see :mod:`features.grouped` for the ``values``/``indptr`` layout).

Two levels, kept tiny:

- **1-D kernels** (``hdd_1d``, ``ewm_mean_1d``) work on one series and write into a preallocated ``out`` slice.
  They read inputs as float64 and keep any state in float64 whatever the storage dtype, so float32 inputs only
  round once, on store.
- **Drivers**, one explicit function per indicator, named by shape: ``grouped_hdd`` (elementwise) and
  ``grouped_ewm`` (scan). Each validates the layout, then runs a jitted loop that calls the 1-D kernel on every
  group, parallel over groups (``prange``). State never crosses a group boundary: each kernel call starts fresh.
  Drivers return a new array of the input's dtype; inputs are never written to (read-only views are fine).

Why explicit drivers rather than one generic ``scan(values, indptr, kernel, *params)``: numba types a function
argument by its identity, so a generic driver taking a kernel as argument misses the on-disk cache on every new
process (measured with numba 0.68) — defeating ``cache=True``. A new indicator adds one 1-D kernel and one
three-line driver of the matching shape.

Pure-Python fallback: with ``GRIDCAST_NO_NUMBA=1`` (read once, at import) numba is not imported, the decorators
are identities and ``prange`` is ``range``: the very same source runs as plain Python and gives the same numbers
(slowly). :data:`NUMBA_ENABLED` says which mode is active. Compiled code is cached next to this file
(``__pycache__``, or ``NUMBA_CACHE_DIR``); :func:`warmup` compiles every driver signature in advance.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from features.grouped import check_layout

NUMBA_ENABLED: bool = os.environ.get("GRIDCAST_NO_NUMBA", "").strip() in ("", "0")

if NUMBA_ENABLED:
    from numba import njit, prange

    kernel = njit(cache=True, nogil=True)
    driver = njit(cache=True, nogil=True, parallel=True)
else:  # pragma: no cover - exercised in a subprocess by tests/test_kernels.py

    def _identity(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    kernel = driver = _identity
    prange = range

HDD_BASE_C = 18.0
HDD_THRESHOLD_C = 15.0


# --- 1-D kernels -------------------------------------------------------------------------------------------


@kernel
def hdd_1d(x: np.ndarray, base: float, threshold: float, out: np.ndarray) -> None:
    """Heating degree days per period: ``out = base - x`` where ``x <= threshold``, else 0; NaN stays NaN.

    Units: °C·day per day when ``x`` is the daily mean temperature in °C.
    """
    for i in range(x.size):
        t = float(x[i])
        if math.isnan(t):
            out[i] = np.nan
        elif t <= threshold:
            out[i] = base - t
        else:
            out[i] = 0.0


@kernel
def ewm_mean_1d(x: np.ndarray, alpha: float, out: np.ndarray) -> None:
    """Exponentially weighted mean, ``adjust=False``, NaN-skipping.

    ``s_t = alpha * x_t + (1 - alpha) * s_{t-1}``, ``s = x`` at the first valid value. A NaN input leaves the state
    unchanged and ``out[t]`` is the carried state; before the first valid value ``out`` is NaN. Units of ``x``.
    """
    state = np.nan
    started = False
    for i in range(x.size):
        xi = float(x[i])
        if not math.isnan(xi):
            if started:
                state = alpha * xi + (1.0 - alpha) * state
            else:
                state = xi
                started = True
        out[i] = state


# --- drivers (jitted loops over groups) ---------------------------------------------------------------------


@driver
def _grouped_hdd(values: np.ndarray, indptr: np.ndarray, base: float, threshold: float) -> np.ndarray:
    out = np.empty(values.size, dtype=values.dtype)
    for g in prange(indptr.size - 1):
        start, stop = indptr[g], indptr[g + 1]
        hdd_1d(values[start:stop], base, threshold, out[start:stop])
    return out


@driver
def _grouped_ewm(values: np.ndarray, indptr: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty(values.size, dtype=values.dtype)
    for g in prange(indptr.size - 1):
        start, stop = indptr[g], indptr[g + 1]
        ewm_mean_1d(values[start:stop], alpha, out[start:stop])
    return out


# --- public, validated entry points -------------------------------------------------------------------------


def grouped_hdd(
    values: np.ndarray,
    indptr: np.ndarray,
    base: float = HDD_BASE_C,
    threshold: float = HDD_THRESHOLD_C,
) -> np.ndarray:
    """Elementwise HDD (Eurostat rule) of every series: ``base - T`` if ``T <= threshold`` else 0, NaN → NaN.

    ``values`` holds daily mean temperatures in °C; the result is in °C·day per day, same dtype as ``values``.
    """
    check_layout(values, indptr)
    base, threshold = float(base), float(threshold)
    if not (math.isfinite(base) and math.isfinite(threshold)):
        raise ValueError(f"base and threshold must be finite, got {base}, {threshold}")
    return _grouped_hdd(np.ascontiguousarray(values), indptr, base, threshold)


def grouped_ewm(values: np.ndarray, indptr: np.ndarray, alpha: float) -> np.ndarray:
    """Per-series exponentially weighted mean (scan), ``adjust=False``, NaN-skipping (see :func:`ewm_mean_1d`).

    ``alpha`` in (0, 1]; use :func:`ewm_alpha` to get it from a half-life. Same units and dtype as ``values``.
    """
    check_layout(values, indptr)
    alpha = float(alpha)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return _grouped_ewm(np.ascontiguousarray(values), indptr, alpha)


def ewm_alpha(half_life: float) -> float:
    """Smoothing factor for a half-life in periods: ``alpha = 1 - 0.5 ** (1 / half_life)`` (as Polars/pandas)."""
    if not half_life > 0 or not math.isfinite(half_life):
        raise ValueError(f"half_life must be a finite number > 0, got {half_life}")
    return 1.0 - 0.5 ** (1.0 / half_life)


def warmup() -> int:
    """Compile (or load from the cache) every driver for float32/float64, writable and read-only inputs.

    Returns the number of driver calls made. A no-op returning 0 when numba is disabled.
    """
    if not NUMBA_ENABLED:
        return 0
    indptr = np.array([0, 2, 3], dtype=np.int64)
    calls = 0
    for dtype in (np.float64, np.float32):
        for writeable in (True, False):
            values = np.array([1.0, np.nan, 20.0], dtype=dtype)
            values.flags.writeable = writeable
            grouped_hdd(values, indptr)
            grouped_ewm(values, indptr, 0.5)
            calls += 2
    return calls
