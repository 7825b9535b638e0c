"""Shared pytest fixtures, and the hypothesis profile for CI.

Hypothesis profiles: locally the default profile explores (new random cases every run, failures remembered in
``.hypothesis/``); with ``CI`` set (CI runs with ``CI=true``) the ``ci`` profile draws the same cases on every run
(``derandomize=True``, no example database), so CI cannot fail by chance. Deadlines are left as they are (each
test's own ``@settings``). Cases found locally that matter are pinned as explicit tests.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings
from threadpoolctl import threadpool_limits

from experiments.demo import write_demo_data

REPO = Path(__file__).resolve().parents[1]

# one BLAS thread per test process, as the gridcast CLI runs (experiments/threads.py): a plugin has loaded numpy
# before this file, so the environment variables come too late here and the running pool is limited instead
threadpool_limits(1)
# jobs run their series in this process (in-process jobs and the gridcast children, which inherit it): the suite
# already keeps every core busy (pytest -n auto), and monkeypatched code must run where it was patched; the
# executors themselves are tested in tests/test_executors.py, which overrides this
os.environ.setdefault("GRIDCAST_EXECUTOR", "serial")

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real source files, ``<repo>/../shared/data`` (never copied into the repo); skip when absent."""
    path = REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-month synthetic demo dataset (gridcast demo-data), written once per session."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    write_demo_data(out, start=date(2024, 11, 1), end=date(2025, 1, 31))
    return out


HIERARCHY_START = "\n# the 24 regions sum into the country"


def _workdir(tmp_path: Path, small_demo: Path, monkeypatch: pytest.MonkeyPatch, *, hierarchy: bool) -> Path:
    shutil.copytree(small_demo, tmp_path / "data" / "demo")
    spec = (REPO / "experiments" / "specs" / "demo.toml").read_text()
    for old, new in (
        ("h = 14\nn_windows = 30\nstep = 14\nrefit_every = 4", "h = 7\nn_windows = 2\nstep = 7"),
        ("min_windows = 4", "min_windows = 1"),
        ("complete_from = 2022-10-01", "complete_from = 2024-11-01"),
    ):
        assert old in spec, f"the demo spec no longer has {old!r}: update the workdir fixture"
        spec = spec.replace(old, new)
    # the what-if scenarios are tested on their own (tests/test_scenarios_job.py); here only the baseline runs
    assert "\n[scenarios.surge]" in spec, "the demo spec no longer has its scenarios: update the workdir fixture"
    spec = spec[: spec.index("\n# what-if scenarios")] + spec[spec.index("\n[sources.outages]") :]
    assert HIERARCHY_START in spec, "the demo spec no longer has its [hierarchy]: update the workdir fixture"
    if not hierarchy:
        spec = spec[: spec.index(HIERARCHY_START)] + spec[spec.index("\n[tracking]") :]
    (tmp_path / "spec.toml").write_text(spec)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture
def workdir(tmp_path: Path, small_demo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with a copy of the small demo data and ``spec.toml`` (the demo spec, shortened
    backtest, without its ``[hierarchy]``: the series of one level, as most job tests need) pointing at it; the
    default tracking store would be ``./mlruns.db`` there."""
    return _workdir(tmp_path, small_demo, monkeypatch, hierarchy=False)


@pytest.fixture
def workdir_levels(tmp_path: Path, small_demo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """:func:`workdir` with the demo spec's ``[hierarchy]`` (24 regions → the country): what ``make forecast``
    runs, on the small data."""
    return _workdir(tmp_path, small_demo, monkeypatch, hierarchy=True)
