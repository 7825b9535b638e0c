"""``out/<spec>/latest``: a symbolic link to the newest complete as-of folder, replaced atomically.

A consumer reads ``out/<spec>/latest/forecast.parquet`` and always gets a whole folder: the link is only pointed at
a folder after the job has published it (:func:`experiments.atomic.publish_folder`), by creating a new link beside
it and renaming it over the old one (one ``rename``, atomic on POSIX). "Newest" is by as-of date, not by when a job
ran: a backfill of older dates never moves the link backwards. The new link is made under a hidden name of
:mod:`experiments.atomic`'s scheme (``.latest.tmp-<pid>-<n>``), so one left by a killed job is removed at the next
start like any other leftover.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from experiments.atomic import temp_sibling

LATEST = "latest"
_SETTLE_S = 2.0  # how long a folder being republished by another writer may be missing before we give up


def current_latest(spec_dir: Path) -> str | None:
    """The as-of folder name ``latest`` points at, or None."""
    link = spec_dir / LATEST
    return os.readlink(link) if link.is_symlink() else None


def point_latest(spec_dir: Path, as_of: str) -> bool:
    """Point ``spec_dir/latest`` at the as-of folder ``as_of`` unless it already points at a later one; returns
    whether the link now names ``as_of``. As-of names are ISO dates, so they order as text."""
    deadline = time.monotonic() + _SETTLE_S
    while not (spec_dir / as_of).is_dir():  # another writer may have moved it aside for an instant (publish_folder)
        if time.monotonic() > deadline:
            raise FileNotFoundError(f"{spec_dir / as_of}: no such output folder to point {LATEST} at")
        time.sleep(0.01)
    now = current_latest(spec_dir)
    if now is not None and now > as_of and (spec_dir / now).is_dir():
        return False
    tmp = temp_sibling(spec_dir / LATEST, "tmp", make_dir=False)
    tmp.unlink(missing_ok=True)  # a dangling link of a dead process that had our pid
    os.symlink(as_of, tmp)  # relative: the tree can be moved or mounted elsewhere
    os.replace(tmp, spec_dir / LATEST)
    return True
