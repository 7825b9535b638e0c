"""Where the work over series runs: in this process, in local worker processes, or on a Dask cluster.

An executor maps one function over a list of work items (chunks of series, :mod:`forecast.parallel.by_series`) and
returns the results **in the order of the items**, whatever order they finished in. The numbers cannot depend on
the executor: every item is computed by the same function on the same inputs, each worker runs one BLAS thread,
and the results are put back together in item order (tests/test_executors.py checks the job's Parquet bytes).

- :class:`SerialExecutor` (``serial``): a plain loop in this process.
- :class:`ProcessExecutor` (``processes``): a pool of ``workers`` local processes (default: every core the process
  may use). Workers come from a fork server that has already imported the forecasting code
  (:mod:`forecast.parallel.worker`), so each worker starts in milliseconds, the numba kernels load from their
  on-disk cache, and no worker inherits this process's threads. Each worker limits its BLAS pools to one thread.
  The pool lives as long as the executor (``with``).
- :class:`DaskExecutor` (``dask``): ``dask.distributed`` — a running scheduler at ``address``
  (``tcp://host:8786``; the project installed on every worker, the data on storage every worker reads), or a local
  cluster of ``workers`` single-threaded process workers when no address is given (:data:`LOCAL_CLUSTER_CONFIG`).
  Each item is scattered to a worker and computed there; an item lost with a worker that died is scattered and
  submitted again (:meth:`DaskExecutor.map`). Its nannies start workers with one BLAS thread.

Per-model time limits (:mod:`forecast.timeout`) use ``SIGALRM`` and work in this process and in process workers
(items run in their main thread); Dask runs items in a worker thread, where no limit can be set: the engine logs
that once per worker and the models run unlimited.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, ClassVar

EXECUTORS = ("serial", "processes", "dask")
"""Executor names a spec's ``[executor] kind`` and ``gridcast --executor`` take."""

Done = Callable[[int], None]
"""Called with an item's index when it has finished (progress reporting), in the order they finish."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


class Executor:
    """Maps a function over items, results in item order; a context manager that releases its workers."""

    name: ClassVar[str] = ""
    chunks_per_worker: ClassVar[int] = 4
    """Chunks of series per worker (:mod:`forecast.parallel.by_series`): enough to balance series of unequal cost,
    few enough that what a chunk costs to ship and start stays small against its work."""
    resubmitted: int = 0
    """Items computed again because the worker holding them died (over every :meth:`map`; only Dask loses any)."""

    @property
    def workers(self) -> int:
        """How many items can run at once."""
        return 1

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any, done: Done | None = None) -> list[Any]:
        """``[fn(item, *args) for item in items]``, computed where the executor runs its work."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (a no-op for the serial executor)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """A short phrase for the job's log: ``serial``, ``2 processes``, ``dask tcp://… (4 workers)``."""
        return self.name


class SerialExecutor(Executor):
    """Every item in this process, one after another."""

    name: ClassVar[str] = "serial"

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any, done: Done | None = None) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item, *args))
            if done is not None:
                done(i)
        return out


class ProcessExecutor(Executor):
    """A pool of local worker processes (module docstring); started on first use, closed by :meth:`close`."""

    name: ClassVar[str] = "processes"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"executor workers: expected an integer >= 1, got {workers!r}")
        self._workers = workers or available_cores()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("forkserver")
            # imported once in the fork server, before any worker exists: workers fork from a process that holds
            # the forecasting code and no thread pools of this process
            ctx.set_forkserver_preload(["forecast.parallel.worker"])
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=ctx, initializer=_start_worker, initargs=(os.getpid(),)
            )
        return self._pool

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any, done: Done | None = None) -> list[Any]:
        pool = self._started()
        futures = {pool.submit(fn, item, *args): i for i, item in enumerate(items)}
        return _in_order(futures, len(items), done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def describe(self) -> str:
        return f"{self._workers} processes"


def _start_worker(job_pid: int) -> None:
    """A worker's initialiser: every BLAS/OpenMP pool of the process limited to one thread for its lifetime (parallel
    work comes from processes over series; more threads per worker only contend for the same cores), and a watch
    that ends the worker when the job is gone (``kill -9`` of a job would otherwise leave its workers blocked on
    their queue for ever, holding their memory; the fork server then exits with them)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    threading.Thread(target=_exit_without, args=(job_pid,), name="gridcast-job-watch", daemon=True).start()


def _exit_without(job_pid: int, every_s: float = 0.5) -> None:
    while True:
        time.sleep(every_s)
        try:
            os.kill(job_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            os._exit(1)


def _in_order(futures: dict[Future[Any], int], n: int, done: Done | None) -> list[Any]:
    """Wait for every future, reporting each as it finishes; the results in item order (a failure raises)."""
    results: list[Any] = [None] * n
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                results[futures[fut]] = fut.result()
                if done is not None:
                    done(futures[fut])
    finally:
        for fut in pending:
            fut.cancel()
    return results


RESUBMITS = 3
"""Times an item lost with a dead Dask worker is scattered and submitted again."""

LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
"""Dask settings of the local cluster this executor starts: every worker's statistical profiler off (it samples the
task's stack every 10 ms for the dashboard, which a local cluster here does not serve), memory checked every second
rather than every 100 ms. Idle, the cluster then takes 5 % of a core instead of 11 % (2 workers; measured with
``/proc/<pid>/task/*/stat``), which on a small machine is taken from the work. A cluster at an address keeps its own
settings."""


class DaskExecutor(Executor):
    """``dask.distributed``: a scheduler at ``address``, or a local cluster of ``workers`` process workers."""

    name: ClassVar[str] = "dask"
    chunks_per_worker: ClassVar[int] = 2  # a Dask task costs ~10 ms of CPU in the client and worker, a pool's ~1 ms

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"executor workers: expected an integer >= 1, got {workers!r}")
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ValueError("executor dask: dask.distributed is not installed (pip install 'gridcast[dask]')") from exc
        self.address = address
        self._n = workers
        self._client: Any = None
        self._cluster: Any = None

    def _started(self) -> Any:
        if self._client is None:
            from distributed import Client, LocalCluster

            if self.address is None:
                import dask

                n = self._n or available_cores()
                with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the nannies hand it on to their workers
                    self._cluster = LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
                    )
                self._client = Client(self._cluster, direct_to_workers=True)
            else:
                try:
                    self._client = Client(self.address, timeout="10s")
                except OSError as exc:
                    raise ValueError(f"executor dask: no scheduler at {self.address} ({exc})") from None
        return self._client

    @property
    def workers(self) -> int:
        if self.address is None:  # a local cluster of that many single-threaded workers: no round trip to ask
            return self._n or available_cores()
        # threads, not workers, are what run items at once; and some distributed releases list at most 5 workers
        # in scheduler_info()
        return max(1, sum(self._started().nthreads().values()))

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any, done: Done | None = None) -> list[Any]:
        """Each item is scattered straight to one worker (its data does not pass through the scheduler) and computed
        there; what every item shares (models, settings, the input provider) goes to each worker once. A worker
        that dies takes the items scattered to it with it: Dask cancels their tasks, and each is scattered and
        submitted again (at most :data:`RESUBMITS` times), so the results are complete and in order. Results are
        fetched as they finish, so a worker that dies later holds none that are still needed."""
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        client = self._started()
        shared = client.scatter(list(args), broadcast=True, hash=False) if args else []  # one round trip
        results: list[Any] = [None] * len(items)
        tries = [0] * len(items)
        live: dict[Any, tuple[int, Any]] = {}  # task future → (item index, its scattered data)

        def submit(indices: list[int]) -> list[Any]:
            data = client.scatter([items[i] for i in indices], hash=False)
            futures = client.map(fn, data, *([s] * len(data) for s in shared), pure=False)  # one message
            live.update((f, (i, d)) for f, i, d in zip(futures, indices, data, strict=True))
            return futures

        # a first item per worker goes out alone, so the workers start while the rest are scattered
        first = min(len(items), self.workers)
        pending = as_completed(submit(list(range(first))))
        if first < len(items):
            pending.update(submit(list(range(first, len(items)))))
        try:
            for fut in pending:
                i, data = live.pop(fut)
                try:
                    results[i] = fut.result()  # raises the item's error here
                except FutureCancelledError:  # its worker died with its data
                    tries[i] += 1
                    if tries[i] > RESUBMITS:
                        raise
                    self.resubmitted += 1
                    pending.update(submit([i]))
                    continue
                finally:
                    fut.release()
                    data.release()
                if done is not None:
                    done(i)
            return results
        finally:
            for fut, (_, data) in live.items():
                fut.release()
                data.release()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> str:
        where = self.address or "local cluster"
        return f"dask {where} ({self.workers} workers)"


def make_executor(kind: str = "serial", *, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor named ``kind`` (one of :data:`EXECUTORS`); ``ValueError`` naming the key when it is wrong."""
    if kind == "serial":
        if address is not None:
            raise ValueError("executor address: only the dask executor takes an address")
        return SerialExecutor()
    if kind == "processes":
        if address is not None:
            raise ValueError("executor address: only the dask executor takes an address")
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(address, workers)
    raise ValueError(f"executor kind: expected one of {', '.join(EXECUTORS)}, got {kind!r}")
