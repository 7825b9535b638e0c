"""What a killed job left behind, removed by the next job of the same spec.

A job killed half-way (``kill -9``, the OOM killer, a reboot) leaves two kinds of leftovers:

- hidden siblings of :mod:`experiments.atomic`'s scheme, ``.<name>.<kind>-<pid>-<n>`` (the unpublished output
  folder, a folder moved aside, tracking staging, a half-written file, a new ``latest`` link) below
  ``out/<spec>/``: :func:`remove_dead_leftovers` deletes those whose pid is gone, once the job holds the spec's lock
  (:mod:`experiments.jobs.lock`), so no live job of the same spec can be writing them;
- MLflow runs left RUNNING: every run a job creates is tagged with its pid and host
  (:data:`experiments.tracking.tags.PID`, :data:`~experiments.tracking.tags.HOST`), and
  :func:`fail_dead_runs` sets FAILED the RUNNING runs of the experiment that were made on this host by a pid that
  is gone (the job calls it before it logs anything). A run of a live pid, of another host, or without the tags is
  never touched.

Each removal is reported on one line through the ``say`` callback (the job's log).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.atomic import pid_alive, sibling_pid

if TYPE_CHECKING:
    from experiments.tracking.client import Tracker

Say = Callable[[str], None]


def dead_leftovers(root: Path) -> list[Path]:
    """The hidden siblings below ``root`` (at any depth) whose writer's pid is gone; a dead sibling folder is
    listed once, not its contents."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in [*dirs, *files]:
            pid = sibling_pid(here / name)
            if pid is not None and pid != os.getpid() and not pid_alive(pid):
                found.append(here / name)
        dirs[:] = [d for d in dirs if here / d not in found and not (here / d).is_symlink()]
    return found


def remove_dead_leftovers(root: Path, say: Say) -> int:
    """Delete :func:`dead_leftovers` below ``root``, one log line each; returns how many were removed."""
    removed = 0
    for path in dead_leftovers(root):
        kind = "folder" if path.is_dir() and not path.is_symlink() else "file"
        try:
            if kind == "folder":
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            say(f"cleanup: could not remove {path} ({exc.strerror}); left in place")
            continue
        removed += 1
        say(f"cleanup: removed {kind} {path} left by pid {sibling_pid(path)} (gone)")
    return removed


def this_host() -> str:
    """The host name recorded on runs (and compared at cleanup)."""
    return socket.gethostname()


def fail_dead_runs(tracker: Tracker, say: Say) -> list[str]:
    """Set FAILED every RUNNING run of the tracker's experiment made on this host by a process that is gone, with
    the reason tagged; returns their ids. Runs of live pids, other hosts or without a pid tag are left alone."""
    from experiments.tracking import tags as TAG

    host = this_host()
    running = tracker.search_running()
    failed: list[str] = []
    for run in running:
        tags = run.data.tags
        if tags.get(TAG.HOST) != host or not tags.get(TAG.PID, "").isdigit():
            continue
        pid = int(tags[TAG.PID])
        if pid == os.getpid() or pid_alive(pid):
            continue
        reason = f"the job (pid {pid} on {host}) was gone when pid {os.getpid()} started; marked FAILED"
        tracker.log(run.info.run_id, tags={TAG.FAILURE: reason})
        tracker.end(run.info.run_id, "FAILED")
        failed.append(run.info.run_id)
        say(f"cleanup: run {run.info.run_id} ({run.info.run_name}) of dead pid {pid} left RUNNING: set FAILED")
    return failed
