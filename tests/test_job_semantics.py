"""The scheduled job's semantics: as-of replays, backfill, the output-folder lock, the latest link, the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from experiments.jobs.backfill import as_of_dates, backfill, parse_every
from experiments.jobs.latest import current_latest, point_latest
from experiments.jobs.lock import JobLock, LockHeld
from experiments.jobs.log import JobLog
from experiments.jobs.outputs import VOLATILE
from experiments.jobs.run import run_job
from features.errors import DataError

GRIDCAST = str(Path(sys.executable).with_name("gridcast"))
DATA_FILES = ("forecast.parquet", "backtest.parquet", "leaderboard.csv", "metrics_overall.parquet", "spec.json")


def _fast_spec(workdir: Path) -> None:
    """The workdir spec with the seasonal-naive model only (these tests are about the job, not the models)."""
    text = (workdir / "spec.toml").read_text()
    block = '[models.sarimax]\norder = [1, 0, 0]\ntrend = "c"\n'
    assert block in text, "the demo spec's sarimax block changed: update this test"
    (workdir / "spec.toml").write_text(text.replace(block, ""))


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in DATA_FILES}


def _stable_manifest(folder: Path) -> dict[str, object]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {k: v for k, v in manifest.items() if k not in VOLATILE}


def test_a_poisoned_row_after_the_as_of_changes_nothing(workdir: Path) -> None:
    _fast_spec(workdir)
    as_of = date(2025, 1, 24)
    clean = run_job("spec.toml", kind="forecast", track=False, as_of=as_of, out_root="clean")
    data = workdir / "data" / "demo"
    # values no reader refuses but the as-of view would (hours off out of bounds) or would be skewed by; rows that
    # break a file's structure (duplicates, unparsable dates) are refused whatever the as-of
    with (data / "outages" / "outage_hours_daily.csv").open("a") as fh:
        fh.write("2025-02-03,kyiv,99.0\n")
    with (data / "strikes" / "missile_attacks_daily.csv").open("a") as fh:  # a wildly large attack
        fh.write("2025-01-27,2025-01-27,Shahed-136/131,,Ukraine,,50000.0,1.0" + "," * 14 + "x\n")
    with (data / "weather" / "derived_daily_24_cities.csv").open("a") as fh:
        fh.write("2025-02-03,kyiv,24,-60.0,-70.0,-50.0\n")
    poisoned = run_job("spec.toml", kind="forecast", track=False, as_of=as_of, out_root="poisoned")
    assert clean.as_of == poisoned.as_of == "2025-01-24"
    assert _digests(workdir / clean.out_dir) == _digests(workdir / poisoned.out_dir)
    fc = pl.read_parquet(workdir / poisoned.out_dir / "forecast.parquet")
    assert fc["ds"].min() == date(2025, 1, 25)
    # without the as-of the poisoned file is read, and refused: the rows were real poison
    with pytest.raises(DataError, match=r"column 'hours_off'.*99\.0"):
        run_job("spec.toml", kind="forecast", track=False, out_root="full")


def test_backfill_equals_single_runs_and_skips_what_is_done(workdir: Path) -> None:
    _fast_spec(workdir)
    dates = as_of_dates(date(2025, 1, 20), date(2025, 1, 28), parse_every("2d"))
    assert dates == [date(2025, 1, d) for d in (20, 22, 24, 26, 28)]
    lines: list[str] = []
    outcomes = backfill("spec.toml", dates, out_root="filled", track=False, log=JobLog(lines.append))
    assert [o.status for o in outcomes] == ["done"] * 5 and len(lines) == 5
    assert all("done" in line for line in lines)
    for day in dates:
        single = run_job("spec.toml", kind="forecast", track=False, as_of=day, out_root="single")
        filled = workdir / "filled" / "demo" / day.isoformat()
        assert _digests(filled) == _digests(workdir / single.out_dir), day
        assert _stable_manifest(filled) == _stable_manifest(workdir / single.out_dir)
    # the latest link names the newest as-of, whatever order the dates ran in
    assert current_latest(workdir / "filled" / "demo") == "2025-01-28"
    again = backfill("spec.toml", dates[:2], out_root="filled", track=False)
    assert [o.status for o in again] == ["skipped", "skipped"]


def test_manifest_names_the_selected_model_dates_and_row_counts(workdir: Path) -> None:
    result = run_job("spec.toml", kind="forecast", track=False)
    manifest = json.loads((workdir / result.out_dir / "manifest.json").read_text())
    assert (
        manifest["selected_model"]
        == result.selected
        == pl.read_csv(workdir / result.out_dir / "leaderboard.csv")["model"][0]
    )
    assert manifest["h"] == 14 and manifest["levels"] == [80, 95] and manifest["thresholds"] == [12.0, 16.0]
    assert manifest["forecast_dates"] == ["2025-02-01", "2025-02-14"]
    fc = pl.read_parquet(workdir / result.out_dir / "forecast.parquet")
    assert manifest["rows"]["forecast.parquet"] == fc.height and manifest["series"] == 24
    assert manifest["kind"] == "forecast" and manifest["run_id"] is None and manifest["created"].endswith("+00:00")
    folder = workdir / result.out_dir
    assert set(manifest["files"]) == {p.name for p in folder.iterdir() if p.is_file()}
    # one fan chart per series (24 here) of the selected model, named after the series
    charts = sorted(p.name for p in (folder / "plots").iterdir())
    assert manifest["plots"] == len(charts) == 24 and "kyiv.png" in charts


def test_a_second_job_exits_5_at_once_naming_the_holder(workdir: Path) -> None:
    _fast_spec(workdir)
    with JobLock(workdir / "out" / "demo"):  # this test process holds the lock; the job runs in another process
        proc = subprocess.run(
            [GRIDCAST, "forecast", "--config", "spec.toml", "--no-tracking"], capture_output=True, text=True
        )
    assert proc.returncode == 5, proc.stderr
    assert f"pid {os.getpid()} started" in proc.stderr and "Traceback" not in proc.stderr
    assert not (workdir / "out" / "demo" / "2025-01-31").exists()


def test_a_lock_left_by_a_dead_job_is_taken_over_and_logged(workdir: Path) -> None:
    _fast_spec(workdir)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = workdir / "out" / "demo" / ".lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"pid {dead.stdout.strip()} started 2025-01-31T06:00:00+00:00\n")  # killed: no flock held
    proc = subprocess.run(
        [GRIDCAST, "forecast", "--config", "spec.toml", "--no-tracking"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert f"took over from a job that is gone (pid {dead.stdout.strip()}" in proc.stdout
    assert lock.read_text() == ""


def test_lock_refuses_a_second_holder_in_process_and_frees_on_exit(tmp_path: Path) -> None:
    with JobLock(tmp_path) as first:
        assert first.took_over is None
        with pytest.raises(LockHeld, match=f"pid {os.getpid()} started"), JobLock(tmp_path):
            pass
    with JobLock(tmp_path) as again:
        assert again.took_over is None  # a clean exit left no holder record


def test_latest_never_moves_backwards(tmp_path: Path) -> None:
    for day in ("2025-01-10", "2025-01-20"):
        (tmp_path / day).mkdir()
    assert point_latest(tmp_path, "2025-01-20")
    assert not point_latest(tmp_path, "2025-01-10") and current_latest(tmp_path) == "2025-01-20"
    (tmp_path / "2025-01-30").mkdir()
    assert point_latest(tmp_path, "2025-01-30") and (tmp_path / "latest").resolve() == tmp_path / "2025-01-30"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-01-10", "2025-01-20", "2025-01-30", "latest"]


def test_cli_as_of_and_stage_lines_without_library_noise(workdir: Path) -> None:
    _fast_spec(workdir)
    proc = subprocess.run(
        [GRIDCAST, "forecast", "--config", "spec.toml", "--as-of", "2025-01-21"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # MLflow's warnings, records and download bars stay out of cron mail
    stages = [line.split(" ", 2)[2].split(":")[0] for line in proc.stdout.splitlines() if line[:2] == "20"]
    assert stages == ["data", "backtest", "forecast", "outputs", "tracking", "latest"]
    assert (workdir / "out" / "demo" / "2025-01-21" / "forecast.parquet").is_file()
    manifest = json.loads((workdir / "out" / "demo" / "latest" / "manifest.json").read_text())
    assert manifest["as_of"] == "2025-01-21" and len(manifest["run_id"]) == 32


def test_wide_forecast_files_are_what_utilsforecast_evaluates(workdir: Path) -> None:
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import coverage, mae

    _fast_spec(workdir)
    result = run_job("spec.toml", kind="forecast", track=False, as_of=date(2025, 1, 17))
    folder = workdir / result.out_dir
    wide = pl.read_parquet(folder / "forecast_wide.parquet")
    assert wide.columns == [
        "unique_id",
        "ds",
        "seasonal_naive",
        *[f"seasonal_naive-{s}-{lv}" for s in ("lo", "hi") for lv in (80, 95)],
    ]
    truth = pl.read_csv(workdir / "data" / "demo" / "outages" / "outage_hours_daily.csv", try_parse_dates=True)
    truth = truth.select(
        pl.col("region").alias("unique_id"), pl.col("date").alias("ds"), pl.col("hours_off").alias("y")
    )
    scored = evaluate(wide.join(truth, on=["unique_id", "ds"]), metrics=[mae, coverage], level=[80])
    long = pl.read_parquet(folder / "forecast.parquet").join(truth, on=["unique_id", "ds"])
    ours = long.group_by("unique_id").agg((pl.col("mean") - pl.col("y")).abs().mean().alias("mae"))
    theirs = scored.filter(pl.col("metric") == "mae").select("unique_id", pl.col("seasonal_naive").alias("theirs"))
    both = ours.join(theirs, on="unique_id")
    assert both.height == 24 and (both["mae"] - both["theirs"]).abs().max() < 1e-9
