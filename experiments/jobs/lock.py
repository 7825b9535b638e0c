"""One job at a time per output folder: an advisory lock on ``out/<spec>/.lock``.

The lock is the kernel's (``flock``) on a small file that also records the holder's pid and start time, so:

- a second job for the same spec fails at once with :class:`LockHeld` naming that pid and start time (CLI exit 5)
  instead of racing the first to the same output folder;
- a job that was killed loses its lock with its process: nothing is left that a later run must clean up. The file
  itself stays (emptied on a clean exit). A later job that finds the record of a holder that is gone takes the lock
  over and says so (:attr:`JobLock.took_over`).

The file is never deleted: deleting a lock file while another process has it open would let two holders lock two
different files. A folder where the lock file cannot be made (read-only, full) is an
:class:`~experiments.atomic.OutputError` (CLI exit 7) before anything is written.

Holding the lock, a job removes what dead jobs of the same spec left below the folder
(:mod:`experiments.jobs.cleanup`): no live job can be writing there.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from experiments.atomic import OutputError, io_failure

LOCK_NAME = ".lock"


class LockHeld(RuntimeError):
    """Another live job holds the output folder's lock."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path, self.holder = path, holder
        super().__init__(f"{path}: another job holds the lock ({holder or 'holder unknown'})")


class JobLock:
    """Hold ``<folder>/.lock`` for the duration of a ``with`` block (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.took_over: str | None = None  # the record of a dead holder this lock replaced
        self._fd: int | None = None

    def __enter__(self) -> JobLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(self.path.parent, io_failure(exc) or str(exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        previous = _read(fd)
        if previous:
            self.took_over = previous
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} started {started}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # a clean exit leaves no holder record
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read(fd: int) -> str:
    """The holder record in the lock file ("pid N started T"), stripped."""
    return os.pread(fd, 200, 0).decode(errors="replace").strip()
