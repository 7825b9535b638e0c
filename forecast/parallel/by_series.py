"""Work over series in chunks on the current executor; a series that fails is recorded, its chunk goes on.

Series are independent in every model fit, backtest window and scenario path (what couples them, the pooled
interval calibration and the reconciliation of a hierarchy, runs afterwards on the gathered frames), so a frame can
be cut into chunks of whole series, each chunk computed anywhere, and the results concatenated in series order:
the numbers are those of one pass over the frame, on any executor.

:func:`use_executor` sets the executor for the code inside it (a job sets it for its run). Without one, the work
runs in this process in one pass and an error propagates, as a plain library call does.

With an executor:

- **Chunks.** The series, in the frame's order, are cut into chunks of ``chunk_size`` series (default
  ``⌈n / (k · workers)⌉`` with ``k`` the executor's ``chunks_per_worker``: 4 for local processes, 2 for Dask, whose
  tasks cost about ten times as much to ship and start; enough chunks to balance the load when series differ in
  length, few enough that their cost stays small against the work). A single chunk runs in this process whatever
  the executor. When each series' rows are one contiguous block (as every forecasting input is), a chunk is a
  slice of the frame, which copies nothing; otherwise the rows of a chunk's series are gathered, in frame order.
- **Failures.** When a chunk raises, it is computed again series by series in the same worker; a series that
  still raises is left out of the results and recorded as a :class:`SeriesFailure` (``failures`` of the context
  the job reads: its log and manifest name the series, the stage and the error). The other series of the chunk
  are unaffected, and so are the numbers: a series' results never depend on the other series of its chunk.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from features.contract import ID
from forecast.frames import id_runs

if TYPE_CHECKING:
    from forecast.parallel.executors import Executor

T = TypeVar("T")
MAX_REASON = 300


@dataclass(frozen=True)
class SeriesFailure:
    """A series left out of a stage's results because computing it raised."""

    unique_id: str
    stage: str
    reason: str


@dataclass
class ParallelRun:
    """The executor work runs on, the chunk size (``None``: automatic) and the series that failed so far."""

    executor: Executor
    chunk_size: int | None = None
    failures: list[SeriesFailure] = field(default_factory=list)

    def size(self, n_series: int) -> int:
        """Series per chunk for ``n_series`` series."""
        if self.chunk_size is not None:
            return self.chunk_size
        per_worker = self.executor.chunks_per_worker
        return max(1, math.ceil(n_series / (per_worker * self.executor.workers)))


_current: ContextVar[ParallelRun | None] = ContextVar("gridcast_parallel_run", default=None)


@contextmanager
def use_executor(executor: Executor, *, chunk_size: int | None = None) -> Iterator[ParallelRun]:
    """Run the series work inside the block on ``executor``, in chunks of ``chunk_size`` series (automatic)."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"executor chunk_size: expected an integer >= 1, got {chunk_size!r}")
    run = ParallelRun(executor, chunk_size)
    token = _current.set(run)
    try:
        yield run
    finally:
        _current.reset(token)


def current_run() -> ParallelRun | None:
    """The :class:`ParallelRun` set by the innermost :func:`use_executor`, or ``None``."""
    return _current.get()


def by_series(
    df: pl.DataFrame,
    fn: Callable[..., T],
    *args: Any,
    stage: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[T]:
    """``fn(part, *args)`` over parts of ``df`` holding whole series, in series order (module docstring).

    Without an executor the one part is ``df`` itself. ``progress(series_done, n_series)`` is called as chunks
    finish (``fn`` reports its own progress when it runs in this process in one part: ``progress`` is then passed
    to it as a keyword). The caller concatenates the parts' results."""
    run = current_run()
    if run is None:
        return [fn(df, *args, progress=progress)]
    runs, contiguous = id_runs(df)
    n_series = runs.height if contiguous else df.get_column(ID).n_unique()
    size = run.size(n_series)
    if n_series <= size:
        results, failures = _chunk(df, fn, args, stage, progress)
        run.failures.extend(failures)
        return results
    chunks = _slices(df, runs.get_column("len").to_numpy(), size) if contiguous else _gathered(df, size)
    sizes = [min(size, n_series - i * size) for i in range(len(chunks))]
    done = [0]

    def finished(i: int) -> None:
        done[0] += sizes[i]
        if progress is not None:
            progress(done[0], n_series)

    outcomes = run.executor.map(_chunk, chunks, fn, args, stage, None, done=finished)
    results: list[T] = []
    for part_results, failures in outcomes:
        results.extend(part_results)
        run.failures.extend(failures)
    return results


def _slices(df: pl.DataFrame, lengths: np.ndarray, size: int) -> list[pl.DataFrame]:
    """Chunks of ``size`` series of a frame whose series are contiguous blocks of ``lengths`` rows: slices."""
    bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])[::size].tolist()
    bounds = [*bounds, df.height] if bounds[-1] != df.height else bounds
    return [df.slice(a, b - a) for a, b in itertools.pairwise(bounds)]


def _gathered(df: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    """Chunks of ``size`` series, in order of first appearance, of a frame whose series are not contiguous."""
    ids = df.get_column(ID).unique(maintain_order=True).to_list()
    order = {uid: i // size for i, uid in enumerate(ids)}
    chunk_of = df.get_column(ID).replace_strict(order, return_dtype=pl.Int64)
    tagged = df.with_columns(chunk_of.alias("_chunk"))
    return [part.drop("_chunk") for part in tagged.partition_by("_chunk", maintain_order=True)]


def _chunk(
    part: pl.DataFrame,
    fn: Callable[..., T],
    args: Sequence[Any],
    stage: str,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[T], list[SeriesFailure]]:
    """One chunk's results: ``fn`` on the whole part, or series by series when that raises (failures recorded)."""
    try:
        return [fn(part, *args, progress=progress)], []
    except Exception:  # retried series by series below, where each error is recorded
        pass
    results: list[T] = []
    failures: list[SeriesFailure] = []
    for one in part.partition_by(ID, maintain_order=True):
        uid = str(one.get_column(ID)[0])
        try:
            results.append(fn(one, *args, progress=None))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            failures.append(SeriesFailure(uid, stage, reason[:MAX_REASON]))
    return results, failures
