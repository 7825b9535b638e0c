"""Process set-up shared by the benchmark scripts: import this before numpy.

One BLAS thread per process: statsmodels' optimisers make many tiny BLAS calls, and OpenBLAS' thread hand-off
makes an ETS fit 2–4× slower on this 2-core machine when it is allowed to spawn threads. Parallelism comes from
processes over series instead.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _hold(seconds: float) -> None:
    import time

    time.sleep(seconds)


def warm_pool(n_jobs: int, initializer: Any = None, initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A process pool whose ``n_jobs`` workers are started (and ``initializer`` has run in each) before return.

    Workers are *spawned*, not forked: forking a process whose Polars thread pool is running can deadlock the
    child. Starting them up front keeps interpreter start-up and imports out of the timed work.
    """
    pool = ProcessPoolExecutor(
        n_jobs, mp_context=multiprocessing.get_context("spawn"), initializer=initializer, initargs=initargs
    )
    for fut in [pool.submit(_hold, 0.5) for _ in range(n_jobs)]:  # each worker takes one: all start now
        fut.result()
    return pool
