"""The remaining CLI commands: features, validate, warmup."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from experiments.cli import cli


def expected_rows(workdir: Path) -> int:
    """Each series runs from its first observed day to the as-of date (2025-01-31), gaps included as nulls."""
    raw = pl.read_csv(workdir / "data/demo/outages/outage_hours_daily.csv", try_parse_dates=True)
    first = raw.group_by("region").agg(pl.col("date").min())["date"]
    return sum((date(2025, 1, 31) - d).days + 1 for d in first)


def test_features_writes_the_aligned_indicator_frame(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["features", "--config", "spec.toml", "--out", "feat/x.parquet"])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(workdir / "feat" / "x.parquet")
    assert frame.columns[:3] == ["unique_id", "ds", "y"]
    raw = {"temp_mean_c", "launched_uav", "launched_missile"}
    assert raw | {"hdd_c", "launched_uav_damage", "launched_missile_damage"} <= set(frame.columns)
    assert frame.height == expected_rows(workdir) and frame["unique_id"].n_unique() == 24
    assert not [p for p in (workdir / "feat").iterdir() if p.name.startswith(".")]  # no temp file left
    # HDD follows the Eurostat rule on the temperature it sits beside
    cold = frame.filter(pl.col("temp_mean_c") <= 15)
    assert (cold["hdd_c"] - (18 - cold["temp_mean_c"])).abs().max() < 1e-9


def test_validate_reports_series_and_gaps(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--config", "spec.toml"])
    assert result.exit_code == 0
    assert f"24 series, {expected_rows(workdir)} rows to 2025-01-31" in result.output
    assert "periods missing" in result.output or "no missing periods" in result.output


def test_warmup_compiles_the_kernels() -> None:
    result = CliRunner().invoke(cli, ["warmup"])
    assert result.exit_code == 0 and result.output.startswith("warm-up (")
