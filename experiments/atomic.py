"""Atomic writes: a file or a folder appears whole under its final name, or not at all.

Everything is first written under a hidden sibling name that carries the writer's pid
(``.<name>.<kind>-<pid>-<n>``), then renamed into place. A process killed half-way leaves only such a hidden
sibling, never a half-written final file or folder; :func:`sibling_pid` reads the pid back so a later run can tell
a dead writer's leftovers from a live one's.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>[a-z]+)-(?P<pid>\d+)-(?P<n>\d+)$")


def temp_sibling(final: Path, kind: str = "tmp", *, make_dir: bool = True) -> Path:
    """A new hidden sibling of ``final`` named ``.<name>.<kind>-<pid>-<n>`` (created as a folder unless
    ``make_dir`` is false, in which case only a free name is returned)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
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


def publish_folder(tmp: Path, final: Path) -> None:
    """Swap the finished folder ``tmp`` into place as ``final``; an existing ``final`` is moved aside first and
    deleted after, so readers see the old folder or the new one, never a mix."""
    if final.exists():
        old = temp_sibling(final, "old", make_dir=False)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


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
