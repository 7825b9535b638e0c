"""Atomic writes: a file or a folder appears whole under its final name, or not at all.

Everything is first written under a hidden sibling name that carries the writer's pid
(``.<name>.<kind>-<pid>-<n>``), then renamed into place. A process killed half-way leaves only such a hidden
sibling, never a half-written final file or folder; :func:`sibling_pid` reads the pid back and :func:`pid_alive`
tells a dead writer's leftovers from a live one's (a job removes the dead ones at start:
:mod:`experiments.jobs.cleanup`).
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>[a-z]+)-(?P<pid>\d+)-(?P<n>\d+)$")
_COUNTER = itertools.count()  # threads of one process never draw the same free name
_PUBLISH_TRIES = 100
FULL_BELOW = 1 << 20  # bytes free under which a filesystem counts as full


class OutputError(RuntimeError):
    """The outputs could not be written (read-only or full filesystem, permissions); nothing was published
    (CLI exit code 7)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot write outputs in {path}: {reason} (nothing was published; fix it and rerun)")


def io_failure(exc: BaseException, folder: Path | None = None) -> str | None:
    """The operating system's reason when ``exc`` is a failed write: an ``OSError``, a library error wrapping one
    (polars reports a full disk as ``ComputeError: ... (os error 28)``, or only as ``Invalid thrift: transport
    error``, so a disk found full below ``folder`` explains any error); None for anything else."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    code = re.search(r"\(os error (\d+)\)", str(exc))
    if code:
        return os.strerror(int(code[1]))
    if folder is not None:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return None
        if free < FULL_BELOW:
            return f"{os.strerror(errno.ENOSPC)} ({free} bytes free)"
    return None


def temp_sibling(final: Path, kind: str = "tmp", *, make_dir: bool = True) -> Path:
    """A new hidden sibling of ``final`` named ``.<name>.<kind>-<pid>-<n>`` (created as a folder unless
    ``make_dir`` is false, in which case only a free name is returned)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(1000):
        n = next(_COUNTER)
        candidate = final.parent / f".{final.name}.{kind}-{os.getpid()}-{n}"
        if not make_dir:
            if not candidate.exists():
                return candidate
            continue
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{final.parent}: could not create a temporary name for {final.name}")


def sibling_pid(path: Path) -> int | None:
    """The pid of the process that made the hidden sibling ``path`` (None for any other name)."""
    match = _SIBLING.match(path.name)
    return int(match["pid"]) if match else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and has not exited (a zombie, killed but not yet reaped by its
    parent, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def publish_folder(tmp: Path, final: Path) -> None:
    """Swap the finished folder ``tmp`` into place as ``final``; an existing ``final`` is moved aside first and
    deleted after, so readers see the old folder or the new one, never a mix.

    Safe against another process publishing the same ``final`` at the same time (the last one wins, neither
    raises): a rename that finds ``final`` back in place moves it aside again, and one that finds it gone already
    (moved aside by the other writer) just retries."""
    olds: list[Path] = []
    try:
        for _ in range(_PUBLISH_TRIES):
            try:
                os.replace(tmp, final)  # succeeds when final is absent (or an empty folder)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            old = temp_sibling(final, "old", make_dir=False)
            try:
                os.replace(final, old)
            except FileNotFoundError:  # another writer moved it aside first
                continue
            olds.append(old)
        raise OSError(errno.EBUSY, f"{final}: could not publish after {_PUBLISH_TRIES} tries (concurrent writers)")
    finally:
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


def partial_path(path: Path, pid: int | None = None) -> Path:
    """The hidden partial file :func:`atomic_file` writes for ``path`` in process ``pid`` (default: this one)."""
    return path.with_name(f".{path.name}.part-{os.getpid() if pid is None else pid}-0")


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a hidden partial path to write to; on success it is renamed over ``path``, on failure removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
