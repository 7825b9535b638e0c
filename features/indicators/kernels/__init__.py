"""Numba kernels over grouped arrays (see :mod:`features.indicators.grouped` for the ``values``/``indptr`` layout).

Each kernel module, one per shape (:mod:`~.elementwise`, :mod:`~.scan`, :mod:`~.window`), holds two things, each
documented there with its NaN semantics:

- **1-D kernels** (``*_1d``): one series of float64 values in, a preallocated ``out`` slice written; state in float64
  locals; ``njit(inline="always")``, so each is compiled once, inside the driver of its module;
- **the op table** ``OPS`` (:class:`~._ops.OpTable`): one :class:`~._ops.Op` row per operation — its name, its call
  on one group (e.g. ``"rolling_std_1d(x, int(p[0]), int(p[1]), out)"``), its inputs, its parameters
  (:class:`~.params.Param`: type, default, check, examples) and how they pack into the driver's vector ``p``.

Everything else derives from the tables:

- **drivers**, one per shape (``elementwise_driver``, ``scan_driver``, ``window_driver``; :data:`DRIVERS`): a
  generated plain chain of ``if op == code`` branches, one per distinct call, looping over a range of groups, each
  group from a fresh state, after one loop over pairs of groups per op with a pair call (series without NaN, see
  :mod:`~._ops`). One signature each (see :mod:`~._run`), so a process loads exactly three cached functions (each
  with the fast paths it calls). A kernel passed as a first-class function argument would instead be typed by
  identity and miss the on-disk cache in every new process (measured with numba 0.68), hence integer op codes;
- **entry points** (:mod:`~.api`): :func:`run_op` and one ``grouped_<name>`` per op (re-exported here, with the op's
  signature and docstring). Parameters are validated in one place, :func:`~.params.resolve`, against the op's
  ``Param`` objects, which the indicator catalogue reuses for spec validation;
- **warm-up**: :func:`warmup` runs every op, each parameter at its first example.

Adding an operation: a kernel and an ``OPS`` row in the module of its shape; no op code, driver branch, entry point,
re-export or warm-up entry to write.

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

from features.indicators.kernels._buffers import release_buffers
from features.indicators.kernels._jit import NUMBA_ENABLED
from features.indicators.kernels._run import (
    N_PARAMS,
    counting_nan,
    nan_free,
    parallel_map,
    set_threads,
    threads,
)
from features.indicators.kernels.api import (
    ENTRY_POINTS,
    HDD_BASE_C,
    HDD_THRESHOLD_C,
    OPS,
    TABLES,
    decay_factor,
    ewm_alpha,
    run_op,
)

globals().update(ENTRY_POINTS)  # grouped_<name> for every op

__all__ = [
    "DRIVERS",
    "ENTRY_POINTS",
    "HDD_BASE_C",
    "HDD_THRESHOLD_C",
    "NUMBA_ENABLED",
    "OPS",
    "counting_nan",
    "decay_factor",
    "ewm_alpha",
    "nan_free",
    "parallel_map",
    "release_buffers",
    "run_op",
    "set_threads",
    "start_warmup",
    "threads",
    "warmup",
    *ENTRY_POINTS,
]

DRIVERS: dict[str, Callable[..., bool]] = {table.shape: table.driver for table in TABLES}
"""The compiled functions: one per shape (name → numba dispatcher, or plain function without numba)."""


def warmup() -> dict[str, Any]:
    """Compile (or load from the disk cache) every driver, then run every op once on float64 and float32 input (each
    parameter at its first example, else its default).

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
        params = np.zeros(N_PARAMS)
        params[:2] = 2.0, 1.0  # op 0 of each driver: hdd (base, threshold), ewm (alpha ≤ 1 unused here), lag (k)
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
        for name, (_, op) in OPS.items():
            run_op(name, (values, other)[: len(op.inputs)], indptr, {p.name: p.example() for p in op.params})
        report["calls"] += len(OPS)
    report["seconds"] = round(time.perf_counter() - started, 4)
    report["cpu_seconds"] = round(time.process_time() - cpu_started, 4)
    return report


class _WarmupThread(threading.Thread):
    report: dict[str, Any] | None = None

    def run(self) -> None:
        self.report = warmup()


def start_warmup() -> threading.Thread:
    """Start :func:`warmup` in a daemon thread and return it; its ``report`` attribute holds the result once done.

    For jobs that read their inputs first: numba's start-up (about 0.2 s even with a warm cache) then overlaps the
    file reading (Polars releases the GIL while parsing). Join the thread before forking a process pool: a fork
    taken while numba holds its compiler lock would leave the child waiting on it.
    """
    thread = _WarmupThread(name="gridcast-warmup", daemon=True)
    thread.start()
    return thread
