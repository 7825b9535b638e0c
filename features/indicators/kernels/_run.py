"""Running a shape driver over a grouped array: dtypes, read-only views, chunks of groups and threads.

Every driver has the one signature ``driver(op, x, y, indptr, g0, g1, p, out)`` with ``x``/``y`` read-only
C-contiguous float64, ``indptr`` writable int64, ``p`` float64 parameters (:data:`N_PARAMS` of them) and ``out``
writable float64; it returns whether it wrote no NaN into ``out`` (:func:`nan_free`). Keeping to that single
signature means each driver is compiled (or loaded from the cache) exactly once per process:

- float64 inputs are passed as read-only views (a writable array would be a second numba type);
- float32 inputs are widened chunk by chunk (at most :data:`CHUNK_ROWS` rows, whole groups) into float64 scratch,
  and the float64 result is narrowed into the float32 output. Kernels compute in float64 either way, so this gives
  the same numbers as float32-specialised kernels with float64 state, at half the compile time, with scratch memory
  bounded by the chunk (not by the input).

Parallelism: drivers are ``nogil``, so chunks of whole groups, balanced by rows (never splitting a group), run on
``threads()`` threads: the caller and the workers of a process-wide pool (re-made after a fork). There are
:data:`TASKS_PER_THREAD` chunks per thread, taken in turn by whichever thread is free, so a thread the OS holds back
(another process on its core) leaves its share to the others instead of holding up the call. Below
:data:`PARALLEL_MIN_ROWS` rows, or without numba, everything runs in the caller, in one driver call.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np

from features.indicators.kernels import _buffers
from features.indicators.kernels._jit import NUMBA_ENABLED

Driver = Callable[..., bool]
T = TypeVar("T")
R = TypeVar("R")

N_PARAMS = 4
"""Length of the drivers' parameter vector ``p`` (unused entries are 0)."""
CHUNK_ROWS = 1 << 16
"""Most rows of a float32 chunk widened at once (whole groups; a longer group is one chunk of its own)."""
PARALLEL_MIN_ROWS = 1 << 17
"""Inputs shorter than this run in the caller only (a thread hand-off costs more than it saves)."""
TASKS_PER_THREAD = 4
"""Chunks per thread in a parallel call (at least :data:`MIN_TASK_ROWS` rows each)."""
MIN_TASK_ROWS = 1 << 15
_THREADS: int | None = None


def threads() -> int:
    """Worker threads for large inputs: :func:`set_threads`, else ``GRIDCAST_THREADS``, else the usable cores."""
    if _THREADS is not None:
        return _THREADS
    env = os.environ.get("GRIDCAST_THREADS", "").strip()
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(n: int | None) -> None:
    """Use ``n`` threads for large inputs (``None``: back to the default; 1: no threads, e.g. inside a process pool
    that already uses every core)."""
    global _THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    _THREADS = n


def run(driver: Driver, op: int, x: np.ndarray, y: np.ndarray | None, indptr: np.ndarray, params: Sequence[float]):
    """Apply ``driver``'s kernel ``op`` to the grouped ``x`` (and ``y``); returns a new array of the inputs' dtype.

    ``x``/``y`` are validated 1-D float arrays of the same length (``y=None`` for one-input kernels); mixed
    float32/float64 inputs are computed and returned as float64.
    """
    if y is not None and y.dtype != x.dtype:
        x, y = x.astype(np.float64), y.astype(np.float64)
    dtype = x.dtype
    out = _buffers.empty(x.size, dtype)  # a reused block for a large result (see _buffers)
    if x.size == 0:
        return out
    if len(params) > N_PARAMS:
        raise ValueError(f"at most {N_PARAMS} driver parameters, got {len(params)}")
    p = np.zeros(N_PARAMS, dtype=np.float64)
    p[: len(params)] = params
    if not indptr.flags.writeable or not indptr.flags.c_contiguous:
        indptr = np.array(indptr, dtype=np.int64)  # tiny (n_groups + 1); keeps the driver's one signature
    n_groups = indptr.size - 1
    workers = threads() if NUMBA_ENABLED and x.size >= PARALLEL_MIN_ROWS else 1

    nan_seen: list[bool] = []  # a chunk whose driver call wrote a NaN appends (list.append is atomic)
    counting = getattr(_COUNTING, "on", False)
    if not counting:  # the drivers' convention: a negative op code (~op) asks for no NaN count
        op = ~op

    if dtype == np.float64:
        xr = _readonly(x)
        yr = xr if y is None else _readonly(y)

        def direct(g: tuple[int, int]) -> None:
            if not driver(op, xr, yr, indptr, g[0], g[1], p, out):
                nan_seen.append(True)

        if workers == 1:
            direct((0, n_groups))
        else:
            _map(direct, _split(indptr, max(x.size / (workers * TASKS_PER_THREAD), MIN_TASK_ROWS)), workers)
        _LAST.result = weakref.ref(out), counting and not nan_seen
        return out

    def widened(g: tuple[int, int]) -> None:
        g0, g1 = g
        a, b = int(indptr[g0]), int(indptr[g1])
        xs = _readonly(x[a:b].astype(np.float64))
        ys = xs if y is None else _readonly(y[a:b].astype(np.float64))
        scratch = np.empty(b - a, dtype=np.float64)
        if not driver(op, xs, ys, indptr[g0 : g1 + 1] - a, 0, g1 - g0, p, scratch):
            nan_seen.append(True)
        out[a:b] = scratch  # narrowing float64 to float32 makes no NaN

    _map(widened, _split(indptr, CHUNK_ROWS), workers)
    _LAST.result = weakref.ref(out), counting and not nan_seen
    return out


_LAST = threading.local()
_COUNTING = threading.local()


@contextmanager
def counting_nan() -> Iterator[None]:
    """Within the block, kernel runs in this thread count the NaN they write, for :func:`nan_free` (a vectorised pass
    over each group while it is in cache, until the first NaN: about 1.5 ms per 10M rows without one, against
    Polars' own scan, 6 ms; ``add_indicators`` hands NaN-free results to Polars without that scan). Outside, the
    drivers skip the count."""
    previous = getattr(_COUNTING, "on", False)
    _COUNTING.on = True
    try:
        yield
    finally:
        _COUNTING.on = previous


def nan_free(values: np.ndarray) -> bool:
    """Whether ``values`` is the array that the last :func:`run` in this thread returned, inside
    :func:`counting_nan`, and its kernels wrote no NaN into it. ``False`` when unknown."""
    last = getattr(_LAST, "result", None)
    return last is not None and last[0]() is values and last[1]


def _readonly(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def _split(indptr: np.ndarray, rows: float) -> list[tuple[int, int]]:
    """Group ranges ``(g0, g1)`` of about ``rows`` rows each (a group is never split; a big group is its own chunk)."""
    n_groups, total = indptr.size - 1, int(indptr[-1])
    targets = np.arange(rows, total, rows) if rows < total else np.empty(0)
    cuts = np.unique(np.concatenate([[0], np.searchsorted(indptr, targets), [n_groups]]).astype(np.int64))
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]


def _map(fn: Callable[[T], None], chunks: Sequence[T], workers: int) -> None:
    """``fn`` on every chunk: in the caller alone, or on ``workers`` threads (the caller and ``workers − 1`` pool
    threads) that each take the next chunk left until none is (``next`` on a list iterator is atomic under the GIL).
    Also used for other work that releases the GIL (:func:`parallel_map`)."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            fn(chunk)
        return
    left = iter(chunks)

    def take() -> None:
        for chunk in left:
            fn(chunk)

    helpers = [_pool(workers - 1).submit(take) for _ in range(min(workers, len(chunks)) - 1)]
    try:
        take()
    finally:
        for helper in helpers:
            helper.result()


def parallel_map(fn: Callable[[T], R], items: Sequence[T], rows: int) -> list[R]:
    """``[fn(item) for item in items]`` in order; on the kernels' threads (:func:`threads`) when each item covers
    ``rows`` ≥ :data:`PARALLEL_MIN_ROWS` rows (worth it only for work that releases the GIL, e.g. Polars building a
    column from a large array)."""
    results: list[R | None] = [None] * len(items)

    def one(i: int) -> None:
        results[i] = fn(items[i])

    _map(one, range(len(items)), threads() if NUMBA_ENABLED and rows >= PARALLEL_MIN_ROWS else 1)
    return results  # type: ignore[return-value]  # every slot is filled


_POOL: tuple[int, int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, made anew after a fork (a forked child has none of the parent's
    threads, so the parent's pool would never run anything there) or when the thread count changes."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] != workers:
            if _POOL is not None and _POOL[0] == os.getpid():
                _POOL[2].shutdown(wait=False)
            _POOL = (os.getpid(), workers, ThreadPoolExecutor(workers, thread_name_prefix="gridcast-kernel"))
        return _POOL[2]
