"""Sampled strike paths in the forecast job (`samples = n` on a path in the spec): the backtest and every scenario
mix over the sampled paths, reruns are identical (seeded), a scenario asked alone gives the rows of the full run,
the point forecast is the deterministic path's, and the logged model on the same history gives the job's numbers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.dataset import load_dataset
from experiments.inputs.settings import forecast_settings
from experiments.inputs.spec import load_spec
from experiments.jobs.run import run_job
from experiments.tracking.job_log import logged_model_config
from experiments.tracking.pyfunc_history import forecast_history

SAMPLED = "{ path = %r, samples = 20, seed = 7%s }"
NUMBERS = ("mean", "lo-", "hi-", "q-", "p_exceed-")
SERIES = '["cherkasy", "chernihiv", "dnipro", "kyiv"]'  # four of the 24 regions keep the test quick


def _spec(workdir: Path, *, sampled: bool) -> None:
    """The workdir spec on four regions with six backtest windows (enough to calibrate), h = 7, a surge and a
    ceasefire; the strike paths sampled or not (baselines: the demo's drone tempo needs a year of history)."""
    spec = (workdir / "spec.toml").read_text()
    base = SAMPLED % ("baseline", "") if sampled else '"baseline"'
    surge = SAMPLED % ("scaled", ", factor = 2.0") if sampled else '{ path = "scaled", factor = 2.0 }'
    tables = (
        f"\n[scenarios.surge]\nlaunched_uav = {surge}\nlaunched_missile = {surge}\n"
        '\n[scenarios.ceasefire]\nlaunched_uav = "zero"\nlaunched_missile = "zero"\n'
    )
    for old, new in (
        ('launched_uav = "tempo"', f"launched_uav = {base}"),
        ('launched_missile = "baseline"', f"launched_missile = {base}"),
        ("h = 7\nn_windows = 2\nstep = 7", "h = 7\nn_windows = 6\nstep = 7"),
        ("[forecast]\nh = 14", "[forecast]\nh = 7"),
        ('units = "hours off per day"', f'units = "hours off per day"\nseries = {SERIES}'),
        ("\n[sources.outages]", tables + "\n[sources.outages]"),
    ):
        assert old in spec, old
        spec = spec.replace(old, new, 1)
    (workdir / "spec.toml").write_text(spec)


def _forecast(workdir: Path, scenarios: list[str] | None = None) -> tuple[pl.DataFrame, bytes]:
    result = run_job("spec.toml", kind="forecast", track=False, scenarios=scenarios)
    path = workdir / result.out_dir / "forecast.parquet"
    return pl.read_parquet(path), path.read_bytes()


@pytest.mark.slow
def test_sampled_paths_in_the_job(workdir: Path) -> None:
    _spec(workdir, sampled=True)
    fc, raw = _forecast(workdir)
    assert fc["scenario"].unique(maintain_order=True).to_list() == ["baseline", "surge", "ceasefire"]
    assert "interval_note" not in fc.columns  # calibrated: on the errors given the true strikes, mixed over paths
    assert _forecast(workdir)[1] == raw  # seeded: a rerun writes the same bytes
    alone, _ = _forecast(workdir, ["surge"])
    assert alone.equals(fc.filter(pl.col("scenario").is_in(["baseline", "surge"])))  # order-independent draws

    sarimax = pl.col("model") == "sarimax"
    sampled = fc.filter(sarimax)
    _spec_plain(workdir)
    plain = _forecast(workdir)[0].filter(sarimax)
    assert (sampled["mean"] - plain["mean"]).abs().max() < 1e-9  # the point: the deterministic paths' forecast
    assert not sampled["hi-80"].equals(plain["hi-80"])  # the intervals: a mixture over the sampled strikes
    surge = sampled.filter(pl.col("scenario") == "surge")
    assert surge["delta_mean"].mean() > 0.5  # twice the strikes: more hours off


def _spec_plain(workdir: Path) -> None:
    spec = (workdir / "spec.toml").read_text()
    (workdir / "spec.toml").write_text(spec.replace(", samples = 20, seed = 7", ""))


@pytest.mark.slow
def test_the_logged_model_on_the_same_history_gives_the_sampled_jobs_numbers(workdir: Path) -> None:
    _spec(workdir, sampled=True)
    job, _ = _forecast(workdir)
    spec = load_spec("spec.toml")
    data = load_dataset(spec)
    assert data.inputs is not None
    config = logged_model_config(forecast_settings(spec), spec.model_entry("sarimax"), spec, data)
    history = data.inputs.join(data.frame.select("unique_id", "ds", "y"), on=["unique_id", "ds"], how="left")
    for scenario in ("baseline", "surge", "ceasefire"):
        got = forecast_history(config, history, {"scenario": scenario})
        rows = job.filter((pl.col("model") == "sarimax") & (pl.col("scenario") == scenario))
        merged = rows.join(got, on=["unique_id", "ds"], suffix="_loaded")
        assert merged.height == rows.height == got.height == 4 * 7
        for col in (c for c in rows.columns if c.startswith(NUMBERS)):
            assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, (scenario, col)
