"""Executors for the work over series: serial, local processes, or a Dask cluster, with the same numbers.

:func:`use_executor` sets where :func:`forecast.backtest.backtest`, :func:`~forecast.backtest.backtest_paths` and
the job's scenario forecasts run their series (:mod:`forecast.parallel.by_series`); :func:`make_executor` builds
one by name (:mod:`forecast.parallel.executors`).
"""

from forecast.parallel.by_series import ParallelRun, SeriesFailure, by_series, current_run, use_executor
from forecast.parallel.executors import (
    EXECUTORS,
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    available_cores,
    make_executor,
)

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "ParallelRun",
    "ProcessExecutor",
    "SerialExecutor",
    "SeriesFailure",
    "available_cores",
    "by_series",
    "current_run",
    "make_executor",
    "use_executor",
]
