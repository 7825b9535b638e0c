"""Guardrails in the scheduled job: stale feeds (warning or exit 6) and regime breaks of the target (reported, or
the flagged series switched to the fallback model). The rules themselves: tests/test_freshness.py, test_regime.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from experiments.jobs.run import run_job

GRIDCAST = str(Path(sys.executable).with_name("gridcast"))
STRIKES = Path("data/demo/strikes/missile_attacks_daily.csv")
OUTAGES = Path("data/demo/outages/outage_hours_daily.csv")


def _cut_strikes(last: str) -> None:
    rows = pl.read_csv(STRIKES, infer_schema=False)
    rows.filter(pl.col("time_start").str.slice(0, 10) <= last).write_csv(STRIKES)


def _edit(workdir: Path, old: str, new: str) -> None:
    text = (workdir / "spec.toml").read_text()
    assert text.count(old) == 1, f"the demo spec no longer has {old!r} once: update this test"
    (workdir / "spec.toml").write_text(text.replace(old, new))


def test_a_stale_feed_the_spec_refuses_exits_6_and_writes_nothing(workdir: Path) -> None:
    _cut_strikes("2025-01-20")  # the demo spec: strikes at most 3 days old, stale = "fail"
    proc = subprocess.run([GRIDCAST, "forecast", "--config", "spec.toml"], capture_output=True, text=True)
    assert proc.returncode == 6, proc.stderr
    assert str(STRIKES) in proc.stderr and "key 'sources.strikes'" in proc.stderr and "limit 3d" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (workdir / "out").exists() and not (workdir / "mlruns.db").exists()


def test_a_stale_feed_the_spec_allows_is_a_warning_in_the_log_and_the_manifest(workdir: Path) -> None:
    _cut_strikes("2025-01-20")
    _edit(workdir, 'max_age = "3d"\nstale = "fail"', 'max_age = "3d"\nstale = "warn"')
    proc = subprocess.run(
        [GRIDCAST, "forecast", "--config", "spec.toml", "--no-tracking"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if " warning: strikes: " in line]
    assert any("feed ends 2025-01-20, 11 days before the as-of 2025-01-31 (limit 3d)" in w for w in warnings)
    assert any("nowcast" in w for w in warnings)  # the missing days are not read as "no attacks"
    manifest = json.loads((workdir / "out" / "demo" / "2025-01-31" / "manifest.json").read_text())
    assert any("feed ends 2025-01-20" in w for w in manifest["warnings"])
    strikes = next(f for f in manifest["freshness"] if f["source"] == "strikes")
    assert strikes["status"] == "stale" and strikes["last"] == "2025-01-20"
    assert set(manifest["nowcast_periods"].values()) == {11}  # the national feed: 11 days per raw column


def test_a_regime_break_is_reported_and_with_fallback_the_series_is_switched(workdir: Path) -> None:
    rows = pl.read_csv(OUTAGES, try_parse_dates=True)
    dead = (pl.col("region") == "kyiv") & (pl.col("date") >= pl.date(2025, 1, 25))
    rows.with_columns(pl.when(dead).then(0.0).otherwise(pl.col("hours_off")).alias("hours_off")).write_csv(OUTAGES)
    reported = run_job("spec.toml", kind="forecast", track=False, out_root="report")
    assert any(w.startswith("regime: kyiv: zero run") for w in reported.warnings), reported.warnings
    manifest = json.loads((workdir / reported.out_dir / "manifest.json").read_text())
    # a week at 0 after months of outages: a zero run, and the level shifted too
    assert {(r["unique_id"], r["kind"]) for r in manifest["regime"]} == {("kyiv", "zero_run"), ("kyiv", "level_shift")}
    fc = pl.read_parquet(workdir / reported.out_dir / "forecast.parquet")
    assert fc["fallback_reason"].null_count() == fc.height  # "report" changes no forecast

    _edit(workdir, 'on_regime_break = "report"', 'on_regime_break = "fallback"')
    switched = run_job("spec.toml", kind="forecast", track=False, out_root="switched")
    new = pl.read_parquet(workdir / switched.out_dir / "forecast.parquet")
    kyiv = new.filter(pl.col("unique_id") == "kyiv")
    assert kyiv.height == fc.filter(pl.col("unique_id") == "kyiv").height
    assert kyiv["fallback_reason"].str.starts_with("regime break: ").all()
    assert kyiv["fallback_reason"].str.contains("zero run").all()
    assert kyiv["fallback_reason"].str.ends_with("used seasonal_naive").all()
    assert kyiv["mean"].abs().max() < 1e-9  # the seasonal naive of a week of zeros
    others = new.filter(pl.col("unique_id") != "kyiv")
    assert others.equals(fc.filter(pl.col("unique_id") != "kyiv"))  # same rows, same order, same numbers
    assert new.select("unique_id", "model", "ds").equals(fc.select("unique_id", "model", "ds"))
