"""``out/<spec>/latest``: a symbolic link to the newest complete as-of folder, replaced atomically.

A consumer reads ``out/<spec>/latest/forecast.parquet`` and always gets a whole folder: the link is only pointed at
a folder after the job has published it (:func:`experiments.atomic.publish_folder`), by creating a new link beside
it and renaming it over the old one (one ``rename``, atomic on POSIX). "Newest" is by as-of date, not by when a job
ran: a backfill of older dates never moves the link backwards.
"""

from __future__ import annotations

import os
from pathlib import Path

LATEST = "latest"


def current_latest(spec_dir: Path) -> str | None:
    """The as-of folder name ``latest`` points at, or None."""
    link = spec_dir / LATEST
    return os.readlink(link) if link.is_symlink() else None


def point_latest(spec_dir: Path, as_of: str) -> bool:
    """Point ``spec_dir/latest`` at the as-of folder ``as_of`` unless it already points at a later one; returns
    whether the link now names ``as_of``. As-of names are ISO dates, so they order as text."""
    if not (spec_dir / as_of).is_dir():
        raise FileNotFoundError(f"{spec_dir / as_of}: no such output folder to point {LATEST} at")
    now = current_latest(spec_dir)
    if now is not None and now > as_of and (spec_dir / now).is_dir():
        return False
    tmp = spec_dir / f".{LATEST}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(as_of, tmp)  # relative: the tree can be moved or mounted elsewhere
    os.replace(tmp, spec_dir / LATEST)
    return True
