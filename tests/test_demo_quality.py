"""The default demo spec's backtest keeps its interval promise and its listed model beats the naive (#9).

The full default demo (24 regions, Oct 2022 – Mar 2025) is backtested over a year of fortnightly windows exactly as
`make forecast` does it; the calibrated intervals of every listed model must cover 77–83 % at 80 % and 93–97 % at
95 % of the points scored (8,391 points: a 95 % binomial band of ±0.009 around 0.80, so the bands leave room for
the correlation between steps of one window and nothing more).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from experiments.demo import write_demo_data
from experiments.jobs.run import run_job

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_backtest_is_calibrated_and_beats_the_seasonal_naive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_demo_data(tmp_path / "data" / "demo")
    shutil.copyfile(REPO / "experiments" / "specs" / "demo.toml", tmp_path / "spec.toml")
    monkeypatch.chdir(tmp_path)
    result = run_job("spec.toml", kind="backtest", track=False)
    assert result.interval_note is None
    overall = pl.read_parquet(result.out_dir / "metrics_overall.parquet")
    bases = ["sarimax", "seasonal_naive"]
    # the spec's [hierarchy]: every model also reconciled over the 24 regions and the country
    assert sorted(overall["model"]) == sorted(f"{b}{m}" for b in bases for m in ("", "/bottom_up", "/mint_shrink"))
    for row in overall.iter_rows(named=True):
        assert row["coverage-80-n"] > 8000, row
        assert 0.77 <= row["coverage-80"] <= 0.83, row
        assert 0.93 <= row["coverage-95"] <= 0.97, row
    levels = pl.read_parquet(result.out_dir / "reconciliation.parquet").filter(pl.col("method") == "base")
    mase = dict(levels.filter(pl.col("level") == "region").select("model", "mase").iter_rows())
    # the regions with the indicators of the generating process and their paths: 0.832 with the recent-rate strike
    # paths, 0.760 with the fitted tempo and harmonic climatology (seasonal naive 1.077; docs/results.md), the same
    # year of windows as before the hierarchy; #9's target of 0.75 is not reached (docs/results.md says why)
    assert mase["sarimax"] < 0.77 and mase["sarimax"] < 0.75 * mase["seasonal_naive"]
    backtest = pl.read_parquet(result.out_dir / "backtest.parquet")
    regions = backtest.filter(pl.col("unique_id") != "ukraine")
    calibration_only = regions.filter(pl.col("interval_note") == "calibration window")
    assert calibration_only["lo-80"].null_count() == calibration_only.height
    # 4 earlier windows calibrate each scored one; the first 4 of the 30 only gave MinT-shrink its residuals
    assert calibration_only.filter(pl.col("model") == "sarimax")["cutoff"].n_unique() == 0
