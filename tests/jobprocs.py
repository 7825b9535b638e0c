"""Helpers for tests that run ``gridcast`` jobs as real processes (tests/test_fault_injection.py,
tests/test_secrets.py): the child's environment, a spec small enough that a job takes seconds, and a
``sitecustomize`` hook that pauses a job at a chosen point or fakes a failure the machine cannot produce."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GRIDCAST = str(Path(sys.executable).with_name("gridcast"))
MLFLOW = str(Path(sys.executable).with_name("mlflow"))

# Loaded by every child whose PYTHONPATH starts with the hook's folder (Python imports ``sitecustomize`` at start).
HOOK = """
import errno, os, time
from pathlib import Path

_pause = os.environ.get("GRIDCAST_TEST_PAUSE")  # stop at the first log call of the job's tracking, until released
if _pause:
    from experiments.tracking import client as _client

    _log = _client.Tracker.log

    def _paused_log(self, *args, **kwargs):
        if not Path(_pause + ".reached").exists():
            Path(_pause + ".reached").touch()
            deadline = time.monotonic() + 120
            while Path(_pause).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return _log(self, *args, **kwargs)

    _client.Tracker.log = _paused_log

_readonly = os.environ.get("GRIDCAST_TEST_READONLY")  # a folder whose filesystem refuses writes (EROFS)
if _readonly:
    _open, _mkdir = os.open, os.mkdir

    def _refuse(path):
        if os.path.abspath(os.fspath(path)).startswith(_readonly):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def _ro_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            _refuse(path)
        return _open(path, flags, *args, **kwargs)

    def _ro_mkdir(path, *args, **kwargs):
        if os.path.isdir(path):  # what the kernel says first
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
        _refuse(path)
        return _mkdir(path, *args, **kwargs)

    os.open, os.mkdir = _ro_open, _ro_mkdir

if os.environ.get("GRIDCAST_TEST_ENOSPC"):  # the disk fills up half-way through the first Parquet file
    import polars as _pl

    _write = _pl.DataFrame.write_parquet

    def _full(self, file, *args, **kwargs):
        _write(self, file, *args, **kwargs)
        with open(file, "r+b") as fh:
            fh.truncate(os.path.getsize(file) // 2)
        raise _pl.exceptions.ComputeError("parquet: underlying IO error: No space left on device (os error 28)")

    _pl.DataFrame.write_parquet = _full
"""


def write_hook(folder: Path) -> Path:
    """The folder holding the ``sitecustomize`` hook (put it first on the child's PYTHONPATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HOOK)
    return folder


def child_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment of a gridcast child process: no tracking URI inherited, bytecode cached for the session in
    pytest's folder (the machine may forbid writing it beside the sources, and compiling every start is slow)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PYTHONDONTWRITEBYTECODE")}
    return env | {"PYTHONPYCACHEPREFIX": str(base / "pycache")} | extra


def tiny_spec(workdir: Path, *, log_models: bool = False) -> None:
    """The workdir spec cut to the seasonal-naive model on two series: a job takes seconds."""
    text = (workdir / "spec.toml").read_text()
    block = '[models.sarimax]\norder = [1, 0, 0]\ntrend = "c"\n'
    target = 'column = "hours_off"\n'
    assert block in text and target in text, "the demo spec changed: update tiny_spec"
    text = text.replace(block, "").replace(target, target + 'series = ["kyiv", "lviv"]\n')
    text += f"log_models = {str(log_models).lower()}\nmax_fan_charts = 1\n"
    (workdir / "spec.toml").write_text(text)


def gridcast(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``gridcast`` to the end."""
    return subprocess.run([GRIDCAST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
