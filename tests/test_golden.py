"""Golden outputs: the demo job's files (the shipped spec, [hierarchy] included, on the small data) are byte-for-byte
those recorded in ``tests/golden/demo_small.json``.

A refactoring must leave them unchanged. A change that is meant to alter the numbers (a better default model, a
fixed bug) rewrites the record on purpose: ``GRIDCAST_UPDATE_GOLDEN=1 pytest tests/test_golden.py``, and the
commit says why the outputs moved.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from experiments.jobs.run import run_job

RECORD = Path(__file__).with_name("golden") / "demo_small.json"
FILES = (
    "forecast.parquet",
    "backtest.parquet",
    "metrics_overall.parquet",
    "metrics_per_series.parquet",
    "metrics_per_step.parquet",
    "leaderboard.csv",
    "levels.parquet",
    "reconciliation.parquet",
)


def test_demo_job_outputs_match_the_golden_record(workdir_levels: Path) -> None:
    run_job("spec.toml", kind="forecast", track=False)
    out = workdir_levels / "out" / "demo" / "2025-01-31"
    got = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}
    if os.environ.get("GRIDCAST_UPDATE_GOLDEN") == "1":
        RECORD.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
        pytest.skip(f"golden record rewritten: {RECORD}")
    assert got == json.loads(RECORD.read_text())
