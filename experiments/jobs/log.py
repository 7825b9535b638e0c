"""What a scheduled job prints: one timestamped line per stage, progress on long stages, no library noise.

Cron mails whatever a job prints, so the job's own lines are plain text, one per finished stage
(``2026-11-28T06:00:41Z demo 2025-03-31 backtest: 26 windows, 2 models in 41.2 s``), with a progress line at most
every :data:`PROGRESS_EVERY_S` seconds while a long stage runs (a Rich progress bar instead when the output is a
terminal). :func:`quiet_libraries` keeps MLflow's and other libraries' log records, Python warnings and artifact
download bars out of that output; ``--verbose`` leaves them on.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

PROGRESS_EVERY_S = 10.0

Echo = Callable[[str], None]


class JobLog:
    """Timestamped lines for one job (``echo`` None: silent, as when a job runs as a library call); with ``bar``
    (a terminal), long stages show a Rich progress bar instead of progress lines."""

    def __init__(self, echo: Echo | None = None, prefix: str = "", *, bar: bool = False) -> None:
        self.echo, self.prefix, self.bar = echo, prefix, bar

    def line(self, message: str) -> None:
        """Print ``<UTC time> <prefix> <message>``."""
        if self.echo is not None:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.echo(" ".join(p for p in (stamp, self.prefix, message) if p))

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Time a stage and print one line when it ends: ``<name>: <summary> in <s> s`` (summary set by the block)."""
        stage = Stage(self, name)
        try:
            yield stage
        finally:
            stage.close()
        took = time.perf_counter() - stage.start
        self.line(f"{name}: {stage.summary + ' ' if stage.summary else ''}in {took:.1f} s")


class Stage:
    """A running stage: its summary and a throttled progress callback ``progress(done, total)``."""

    def __init__(self, log: JobLog, name: str) -> None:
        self.log, self.name = log, name
        self.summary = ""
        self.start = time.perf_counter()
        self._last = self.start
        self._progress: Any = None
        self._task: Any = None

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total``: a Rich bar on a terminal, else ``<name>: <done>/<total>`` when
        :data:`PROGRESS_EVERY_S` have passed since the last line."""
        if self.log.echo is None:
            return
        if self.log.bar:
            self._bar(done, total)
            return
        now = time.perf_counter()
        if now - self._last >= PROGRESS_EVERY_S and done < total:
            self._last = now
            self.log.line(f"{self.name}: {done}/{total} after {now - self.start:.0f} s")

    def _bar(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"{self.log.prefix} {self.name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,  # the bar goes when the stage ends; its one line stays
            )
            self._progress.start()
            self._task = self._progress.add_task(self.name, total=total)
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Remove the bar, if one was shown."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def quiet_libraries() -> None:
    """Keep library noise out of a job's output: MLflow's log records and artifact progress bars, the root
    logger's records (MLflow's schema inference writes there), and Python warnings. Call before MLflow is
    imported; a user's own environment settings win."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    for name in ("mlflow", "alembic", "cmdstanpy", "prophet", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)
    root = logging.getLogger()
    root.setLevel(logging.ERROR)
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    warnings.simplefilter("ignore")
