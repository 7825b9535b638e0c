"""Jobs and their logged models agree: a model loaded from the (local SQLite) store forecasts what the job forecast,
under every transform; the job calibrates intervals per model (own transform; models without intervals)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from experiments.jobs.run import run_job

COLUMNS = ["mean", "lo-80", "hi-80", "lo-95", "hi-95", "q-0.1", "q-0.9", "p_exceed-12"]


@pytest.mark.parametrize("transform", ["logit", "none"])
def test_loaded_model_reproduces_the_job_under_the_target_transform(workdir: Path, transform: str) -> None:
    import mlflow

    spec = (workdir / "spec.toml").read_text()
    assert 'transform = "none"' in spec or 'transform = "logit"' in spec
    spec = spec.replace('transform = "none"', f'transform = "{transform}"')
    spec = spec.replace('transform = "logit"', f'transform = "{transform}"')
    (workdir / "spec.toml").write_text(spec)
    result = run_job("spec.toml", kind="forecast")
    assert result.tracking_error is None, result.tracking_error
    forecast = pl.read_parquet(workdir / result.out_dir / "forecast.parquet")

    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("gridcast-demo")
    child = next(
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("gridcast.model") == "sarimax" and "gridcast.model_uri" in r.data.tags
    )
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(child.data.tags["gridcast.model_uri"])
    expected = forecast.filter(pl.col("model") == "sarimax")
    future = expected.select("unique_id", "ds").unique().sort("unique_id", "ds").to_pandas()
    got = pl.from_pandas(model.predict(future, params={"h": 14, "level": [80, 95]}))
    got = got.with_columns(pl.col("ds").cast(pl.Date))
    merged = expected.join(got, on=["unique_id", "ds"], suffix="_loaded")
    assert merged.height == expected.height == 24 * 14
    for col in COLUMNS:
        assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, col


@pytest.mark.parametrize("forecast_h", [7, 14])
def test_job_calibrates_a_model_without_intervals_when_its_backtest_covers_the_horizon(
    workdir: Path, forecast_h: int
) -> None:
    spec = (workdir / "spec.toml").read_text()  # backtest h = 7
    spec = spec.replace("[models.sarimax]", "[models.window_average]\nwindow = 7\n\n[models.sarimax]")
    spec = spec.replace("[forecast]\nh = 14", f"[forecast]\nh = {forecast_h}")
    (workdir / "spec.toml").write_text(spec)
    result = run_job("spec.toml", kind="forecast", track=False)
    forecast = pl.read_parquet(workdir / result.out_dir / "forecast.parquet")
    rows = forecast.filter(pl.col("model") == "window_average")
    assert rows.height == 24 * forecast_h and rows["fallback_reason"].null_count() == rows.height
    if forecast_h == 7:  # calibrated on the backtest: conformal intervals around its own mean
        assert "interval_note" not in forecast.columns or rows["interval_note"].null_count() == rows.height
        for col in ("lo-80", "hi-80", "lo-95", "hi-95"):
            assert rows[col].null_count() == 0, col
        assert (rows["lo-95"] <= rows["lo-80"]).all() and (rows["lo-80"] <= rows["mean"]).all()
        assert (rows["mean"] <= rows["hi-80"]).all() and (rows["hi-80"] <= rows["hi-95"]).all()
        assert (rows["hi-95"] > rows["lo-95"]).any()
    else:  # the backtest has no residuals for steps 8..14: no intervals, and the rows say why
        assert rows["lo-80"].null_count() == rows.height
        assert rows["interval_note"].null_count() == 0
    other = forecast.filter(pl.col("model") == "sarimax")
    assert other["lo-80"].null_count() == 0


def test_conformal_job_intervals_use_each_models_own_transform(workdir: Path) -> None:
    from features.contract import Bounds
    from forecast.conformal import conformal_intervals

    spec = (workdir / "spec.toml").read_text()
    spec = spec.replace('transform = "logit"', 'transform = "none"')  # the target's; sarimax gets "logit" of its own
    assert 'transform = "none"' in spec
    spec = spec.replace("[models.sarimax]", '[models.sarimax]\ntransform = "logit"')
    spec = spec.replace("[forecast]\nh = 14", '[forecast]\nh = 7\ncalibration_scale = "model"')
    (workdir / "spec.toml").write_text(spec)
    result = run_job("spec.toml", kind="forecast", track=False)
    out = workdir / result.out_dir
    forecast, bt = pl.read_parquet(out / "forecast.parquet"), pl.read_parquet(out / "backtest.parquet")
    for name, transform in (("sarimax", "logit"), ("seasonal_naive", "none")):
        rows = forecast.filter(pl.col("model") == name).drop("scenario")
        again = conformal_intervals(
            bt.filter(pl.col("model") == name),
            rows.select("unique_id", "ds", "model", "mean"),
            (80, 95),
            bounds=Bounds(0.0, 24.0),
            transform=transform,
        )
        for col in ("lo-80", "hi-95"):
            assert (rows[col] - again[col]).abs().max() < 1e-12, (name, col)
