"""Numba kernels over grouped arrays (see :mod:`features.indicators.grouped` for the ``values``/``indptr`` layout).

Three levels, each small:

- **1-D kernels** (``*_1d``) work on one series of float64 values and write into a preallocated ``out`` slice; state
  lives in float64 locals. They sit in one module per shape: :mod:`~.elementwise`, :mod:`~.scan`,
  :mod:`~.window`, each with its NaN semantics documented.
- **Drivers**, one per shape (``elementwise_driver``, ``scan_driver``, ``window_driver``), loop over a range of
  groups and call the kernel selected by an integer op code, each group from a fresh state. One signature each
  (see :mod:`~._run`), so a process compiles or loads exactly three functions. A kernel passed as a
  first-class function argument would instead be typed by identity and miss the on-disk cache in every new process
  (measured with numba 0.68), hence op codes.
- **Entry points** (:mod:`~features.indicators.kernels.api`), one validated ``grouped_*`` function per kernel.

Pure-Python fallback: ``GRIDCAST_NO_NUMBA=1`` (read once, at import) runs the same source without numba
(:data:`NUMBA_ENABLED` says which mode is active). Compiled code is cached on disk (``__pycache__`` next to the
sources, or ``NUMBA_CACHE_DIR``); :func:`warmup` compiles or loads every driver ahead of a job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from features.indicators.kernels._jit import NUMBA_ENABLED
from features.indicators.kernels._run import set_threads, threads
from features.indicators.kernels.api import (
    HDD_BASE_C,
    HDD_THRESHOLD_C,
    decay_factor,
    ewm_alpha,
    grouped_burst_count,
    grouped_cold_exposure,
    grouped_cold_spell_len,
    grouped_cold_spell_strikes,
    grouped_damage_stock,
    grouped_days_since,
    grouped_ewm,
    grouped_expanding_mean,
    grouped_freeze_thaw,
    grouped_hdd,
    grouped_lag,
    grouped_product,
    grouped_rolling_max,
    grouped_rolling_mean,
    grouped_rolling_min,
    grouped_rolling_std,
    grouped_rolling_sum,
)
from features.indicators.kernels.elementwise import elementwise_driver
from features.indicators.kernels.scan import scan_driver
from features.indicators.kernels.window import window_driver

__all__ = [
    "DRIVERS",
    "HDD_BASE_C",
    "HDD_THRESHOLD_C",
    "NUMBA_ENABLED",
    "decay_factor",
    "ewm_alpha",
    "grouped_burst_count",
    "grouped_cold_exposure",
    "grouped_cold_spell_len",
    "grouped_cold_spell_strikes",
    "grouped_damage_stock",
    "grouped_days_since",
    "grouped_ewm",
    "grouped_expanding_mean",
    "grouped_freeze_thaw",
    "grouped_hdd",
    "grouped_lag",
    "grouped_product",
    "grouped_rolling_max",
    "grouped_rolling_mean",
    "grouped_rolling_min",
    "grouped_rolling_std",
    "grouped_rolling_sum",
    "set_threads",
    "start_warmup",
    "threads",
    "warmup",
]

DRIVERS: dict[str, Callable[..., None]] = {
    "elementwise": elementwise_driver,
    "scan": scan_driver,
    "window": window_driver,
}
"""The compiled functions: one per shape (name → numba dispatcher, or plain function without numba)."""

_ONE_INPUT: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    lambda v, p: grouped_hdd(v, p),
    lambda v, p: grouped_ewm(v, p, 0.5),
    lambda v, p: grouped_expanding_mean(v, p),
    lambda v, p: grouped_cold_exposure(v, p, 3.0),
    lambda v, p: grouped_cold_spell_len(v, p),
    lambda v, p: grouped_damage_stock(v, p, 1.0, 0.1, 2.0),
    lambda v, p: grouped_days_since(v, p),
    lambda v, p: grouped_lag(v, p, 1),
    lambda v, p: grouped_rolling_sum(v, p, 2, 1),
    lambda v, p: grouped_rolling_mean(v, p, 2, 1),
    lambda v, p: grouped_rolling_std(v, p, 2, 1),
    lambda v, p: grouped_rolling_min(v, p, 2, 1),
    lambda v, p: grouped_rolling_max(v, p, 2, 1),
    lambda v, p: grouped_burst_count(v, p, 2),
)
_TWO_INPUTS: tuple[Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], ...] = (
    lambda a, b, p: grouped_product(a, b, p),
    lambda a, b, p: grouped_cold_spell_strikes(a, b, p),
    lambda a, b, p: grouped_freeze_thaw(a, b, p, 2),
)


def warmup() -> dict[str, Any]:
    """Compile (or load from the disk cache) every driver, then run every kernel once on float64 and float32 input.

    Returns a report: ``numba`` (bool), ``seconds`` and ``cpu_seconds`` (total), ``calls`` (kernel calls made),
    ``cache_dir`` and, per driver, ``seconds``/``cpu_seconds`` of its first call, ``signatures`` and the numba
    ``cache_hits``/``cache_misses`` so far (a miss means it was compiled, a hit that it was loaded). Without numba
    nothing is compiled (``drivers`` empty).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    report: dict[str, Any] = {"numba": NUMBA_ENABLED, "drivers": {}, "calls": 0, "cache_dir": None}
    if NUMBA_ENABLED:
        x = np.array([-3.0, np.nan, 20.0, 1.0, 0.5])
        x.flags.writeable = False
        indptr = np.array([0, 2, 5], dtype=np.int64)
        params = np.array([2.0, 1.0, 0.0])
        for name, driver in DRIVERS.items():
            t0, c0 = time.perf_counter(), time.process_time()
            driver(0, x, x, indptr, 0, 2, params, np.empty(x.size))
            stats = driver.stats  # type: ignore[attr-defined]
            report["cache_dir"] = stats.cache_path
            report["drivers"][name] = {
                "seconds": round(time.perf_counter() - t0, 4),
                "cpu_seconds": round(time.process_time() - c0, 4),
                "signatures": [str(sig) for sig in driver.signatures],  # type: ignore[attr-defined]
                "cache_hits": sum(stats.cache_hits.values()),
                "cache_misses": sum(stats.cache_misses.values()),
            }
    indptr = np.array([0, 2, 5], dtype=np.int64)
    for dtype in (np.float64, np.float32):
        values = np.array([-3.0, np.nan, 20.0, 1.0, 0.5], dtype=dtype)
        other = np.array([-1.0, 2.0, np.nan, -2.0, 3.0], dtype=dtype)
        for fn in _ONE_INPUT:
            fn(values, indptr)
        for fn2 in _TWO_INPUTS:
            fn2(values, other, indptr)
        report["calls"] += len(_ONE_INPUT) + len(_TWO_INPUTS)
    report["seconds"] = round(time.perf_counter() - started, 4)
    report["cpu_seconds"] = round(time.process_time() - cpu_started, 4)
    return report


class _WarmupThread(threading.Thread):
    report: dict[str, Any] | None = None

    def run(self) -> None:
        self.report = warmup()


def start_warmup() -> threading.Thread:
    """Start :func:`warmup` in a daemon thread and return it; its ``report`` attribute holds the result once done.

    For jobs that read their inputs first: numba's start-up (about 0.5 s even with a warm cache) then overlaps the
    file reading (Polars releases the GIL while parsing). Join the thread before forking a process pool: a fork
    taken while numba holds its compiler lock would leave the child waiting on it.
    """
    thread = _WarmupThread(name="gridcast-warmup", daemon=True)
    thread.start()
    return thread
