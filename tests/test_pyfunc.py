"""Jobs and their logged models agree: a model loaded from the (local SQLite) store forecasts what the job forecast,
under every transform; the job calibrates intervals per model (own transform; models without intervals)."""

from __future__ import annotations

from datetime import date
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


def test_history_frame_forecasts_from_its_own_data_and_supplied_future_inputs(workdir: Path) -> None:
    """A logged model given a history frame forecasts from it; rows after the as-of with input values replace the
    inputs' path there: the path's own values change nothing, a colder week gives more hours off."""
    import mlflow

    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.settings import forecast_settings
    from experiments.inputs.spec import load_spec
    from experiments.tracking.job_log import logged_model_config
    from experiments.tracking.pyfunc import log_forecaster
    from forecast.core import future_grid
    from forecast.scenarios import InputPathProvider

    spec = load_spec("spec.toml")
    data = load_dataset(spec)
    assert data.inputs is not None
    config = logged_model_config(forecast_settings(spec), spec.model_entry("sarimax"), spec, data)
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlruns.db'}")
    with mlflow.start_run() as run:
        pass
    uri = log_forecaster(run.info.run_id, config, {"history": data.frame, "inputs": data.inputs})
    info = mlflow.models.get_model_info(uri)
    assert {p.name for p in info.signature.params.params} == {"h", "level", "scenario", "as_of"}
    optional = {c.name for c in info.signature.inputs.inputs if not c.required}
    assert {"y", "temp_mean_c", "launched_uav", "launched_missile", "hdd_c"} <= optional
    model = mlflow.pyfunc.load_model(uri)

    ids = ["kharkiv", "kyiv", "lviv", "odesa"]  # a few series: fast (too few to calibrate: the rows say so)
    target = data.frame.select("unique_id", "ds", "y")
    history = data.inputs.join(target, on=["unique_id", "ds"], how="left").filter(pl.col("unique_id").is_in(ids))
    params = {"h": 7, "as_of": "2025-01-31"}
    base = pl.from_pandas(model.predict(history.to_pandas(), params=params)).sort("unique_id", "ds")
    assert base.height == 4 * 7 and base["fallback_reason"].null_count() == base.height
    assert base["interval_note"].str.starts_with("model intervals, not calibrated").all()
    assert base["ds"].cast(pl.Date).min() == date(2025, 2, 1) and base["ds"].cast(pl.Date).max() == date(2025, 2, 7)

    mine = data.frame.filter(pl.col("unique_id").is_in(ids))
    grid = future_grid(mine, 7, "1d")
    path = InputPathProvider(data.inputs, [], spec.paths, season_length=7).extended(mine, grid)
    future = grid.join(path, on=["unique_id", "ds"], how="left").select("unique_id", "ds", "temp_mean_c")

    def predict(temps: pl.DataFrame) -> pl.DataFrame:
        frame = pl.concat([history, temps], how="diagonal_relaxed")
        return pl.from_pandas(model.predict(frame.to_pandas(), params=params)).sort("unique_id", "ds")

    same = predict(future)
    for col in ("mean", "lo-80", "hi-95", "p_exceed-12"):
        assert (same[col] - base[col]).abs().max() < 1e-12, col
    cold = predict(future.with_columns(pl.lit(-20.0).alias("temp_mean_c")))
    assert (cold["mean"] > base["mean"]).all()
    assert cold["mean"].mean() > base["mean"].mean() + 1.0


def test_a_history_frame_is_read_as_the_job_reads_its_files(workdir: Path) -> None:
    """The modelling frame rebuilt from a history frame is the job's; bad frames are errors that say what is wrong."""
    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.settings import forecast_settings
    from experiments.inputs.spec import load_spec
    from experiments.tracking.job_log import logged_model_config
    from experiments.tracking.pyfunc_history import raw_columns, read_history

    spec = load_spec("spec.toml")
    data = load_dataset(spec)
    assert data.inputs is not None
    config = logged_model_config(forecast_settings(spec), spec.model_entry("sarimax"), spec, data)
    legacy = {k: v for k, v in config.items() if k != "inputs"}  # logged before the raw columns were
    assert sorted(raw_columns(legacy)) == sorted(raw_columns(config)) == sorted(data.inputs.columns[2:])
    frame = data.inputs.join(data.frame.select("unique_id", "ds", "y"), on=["unique_id", "ds"], how="left")
    history = read_history(config, frame, None)  # as of the last observed y
    assert history.as_of == data.as_of == date(2025, 1, 31) and history.supplied.height == 0
    assert history.frame.equals(data.frame.sort("unique_id", "ds"))
    assert history.inputs.equals(data.inputs.sort("unique_id", "ds"))

    earlier = read_history(config, frame, "2025-01-20")
    assert earlier.frame["ds"].max() == date(2025, 1, 20) and earlier.supplied["ds"].min() == date(2025, 1, 21)
    with pytest.raises(ValueError, match="missing columns temp_mean_c"):
        read_history(config, frame.drop("temp_mean_c"), None)
    with pytest.raises(ValueError, match="more than one row"):
        read_history(config, pl.concat([frame, frame.head(1)]), None)
    with pytest.raises(ValueError, match="as_of: expected a date"):
        read_history(config, frame, "yesterday")
    without_paths = {**config, "paths": {}, "scenarios": {}}
    with pytest.raises(ValueError, match=r"rows after the as-of 2025-01-20 carry input values.*no \[paths\]"):
        read_history(without_paths, frame, "2025-01-20")
