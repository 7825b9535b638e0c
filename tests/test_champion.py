"""`@champion` on today's data: the registered model, given a history frame as of a later day than the one it was
logged on, gives the numbers of a job run on that day with only the champion's model (baseline and a what-if);
its forecast dates follow the new as-of; a missing champion is a clear spec error."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from experiments.inputs.dataset import load_dataset
from experiments.inputs.settings import forecast_settings
from experiments.inputs.spec import SpecError, load_spec
from experiments.jobs.run import run_job
from experiments.tracking.champion import Champion, ChampionError, champion, champion_models, differences
from experiments.tracking.job_log import logged_model_config
from experiments.tracking.promotion import promote

NUMBERS = ("mean", "lo-", "hi-", "q-", "p_exceed-")
SURGE = '[scenarios.surge]\nlaunched_uav = { path = "scaled", factor = 2.0 }\n'


def _with_surge_and_h7(workdir: Path) -> None:
    """The workdir spec with a what-if back and a forecast horizon its backtest covers (calibrated intervals)."""
    spec = (workdir / "spec.toml").read_text()
    assert "\n[sources.outages]" in spec and "[forecast]\nh = 14" in spec
    spec = spec.replace("\n[sources.outages]", f"\n{SURGE}\n[sources.outages]", 1)
    (workdir / "spec.toml").write_text(spec.replace("[forecast]\nh = 14", "[forecast]\nh = 7"))


def _history_frame(spec_path: str | Path) -> pl.DataFrame:
    """Today's history frame: the raw inputs over their whole history with the target beside them."""
    data = load_dataset(load_spec(spec_path))
    assert data.inputs is not None
    target = data.frame.select("unique_id", "ds", "y")
    return data.inputs.join(target, on=["unique_id", "ds"], how="left", maintain_order="left")


@pytest.mark.slow
def test_champion_on_todays_data_gives_the_jobs_numbers(workdir: Path) -> None:
    import mlflow

    _with_surge_and_h7(workdir)
    logged = run_job("spec.toml", kind="backtest", as_of=date(2025, 1, 20))
    assert logged.tracking_error is None, logged.tracking_error
    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    promoted = promote(uri, "gridcast-demo", "mase")
    assert promoted.alias == "champion"

    spec = load_spec("spec.toml")
    champ = champion(spec, uri)
    assert (champ.name, champ.version, champ.run_id) == ("demo", promoted.version, promoted.run_id)
    assert champ.model_uri == "models:/demo@champion" and champ.as_of == "2025-01-20"
    assert champ.manifest()["version_uri"] == f"models:/demo/{promoted.version}"
    assert differences(spec, champ) == []
    models = champion_models(spec, champ)
    name = champ.model["name"]
    assert list(models) == [name] and models[name]["kind"] == champ.model["kind"]

    # the scheduled job on today's data (as of 2025-01-31) with the champion (`gridcast forecast --model champion`)
    today = run_job("spec.toml", kind="forecast", track=False, model="champion")
    assert today.as_of == "2025-01-31" and today.interval_note is None  # intervals calibrated on today's backtest
    assert today.selected == name
    manifest = json.loads((workdir / today.out_dir / "manifest.json").read_text())
    assert manifest["selected_model"] == name and manifest["models"] == [name]
    assert manifest["champion"]["version_uri"] == f"models:/demo/{promoted.version}"
    assert manifest["champion"]["logged_as_of"] == "2025-01-20"
    expected = pl.read_parquet(workdir / today.out_dir / "forecast.parquet")
    assert expected["model"].unique().to_list() == [name]
    assert expected["scenario"].unique(maintain_order=True).to_list() == ["baseline", "surge"]
    columns = [c for c in expected.columns if c.startswith(NUMBERS)]
    assert {"mean", "lo-80", "hi-95", "q-0.5", "p_exceed-12"} <= set(columns)

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(champ.model_uri)
    history = _history_frame("spec.toml").to_pandas()
    means = {}
    for scenario in ("baseline", "surge"):
        got = pl.from_pandas(model.predict(history, params={"scenario": scenario, "as_of": "2025-01-31"}))
        got = got.with_columns(pl.col("ds").cast(pl.Date))
        assert got["scenario"].unique().to_list() == [scenario]
        assert got["ds"].min() == date(2025, 2, 1) and got["ds"].max() == date(2025, 2, 7)  # not from Jan 21
        rows = expected.filter(pl.col("scenario") == scenario)
        merged = rows.join(got, on=["unique_id", "ds"], suffix="_loaded")
        assert merged.height == rows.height == got.height == 24 * 7
        for col in columns:
            assert merged[col].null_count() == 0, (scenario, col)
            assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, (scenario, col)
        means[scenario] = merged["mean"]
    assert (means["surge"] - means["baseline"]).abs().max() > 1e-3  # the what-if is a different forecast

    # the as-of follows the data: a frame that ends on 2025-01-25 forecasts from 2025-01-26
    few = _history_frame("spec.toml").filter(
        pl.col("unique_id").is_in(["kyiv", "lviv", "odesa"]) & (pl.col("ds") <= date(2025, 1, 25))
    )
    assert few["unique_id"].n_unique() == 3
    earlier = pl.from_pandas(model.predict(few.to_pandas(), params={"h": 3}))
    dates = earlier.with_columns(pl.col("ds").cast(pl.Date)).group_by("unique_id").agg(pl.col("ds").sort())
    assert all(d == [date(2025, 1, 26), date(2025, 1, 27), date(2025, 1, 28)] for d in dates["ds"].to_list())


def test_no_champion_is_a_spec_error_naming_the_store(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    spec = load_spec("spec.toml")
    message = f"no @champion for registered model 'demo' in {uri}; run `gridcast promote` first"
    with pytest.raises(ChampionError) as empty:
        champion(spec, uri)
    assert isinstance(empty.value, SpecError) and empty.value.key == "--model"
    assert empty.value.problem == message
    MlflowClient(uri, registry_uri=uri).create_registered_model("demo")  # registered, but no alias yet
    with pytest.raises(ChampionError) as no_alias:
        champion(spec, uri)
    assert no_alias.value.problem == message
    assert not (workdir / "mlflow.db").exists()  # nothing opened MLflow's default store


def test_champion_models_refuse_a_spec_that_redefines_the_model(workdir: Path) -> None:
    spec = load_spec("spec.toml")
    data = load_dataset(spec)
    config = logged_model_config(forecast_settings(spec), spec.model_entry("sarimax"), spec, data)
    assert config["inputs"] == ["launched_uav", "launched_missile", "temp_mean_c"]
    assert config["backtest"] == {
        "h": 7,
        "n_windows": 2,
        "step": 7,
        "input_size": None,
        "refit_every": 1,
        "oracle_exog": False,
    }
    config = json.loads(json.dumps(config))  # as it comes back from the store
    champ = Champion("demo", "3", "models:/demo@champion", "run", config["model"], "2025-01-20", config)
    assert differences(spec, champ) == []
    models = champion_models(spec, champ)
    assert models == {"sarimax": {"kind": "sarimax", "transform": "logit", "order": [1, 0, 0], "trend": "c"}}
    same = spec.model_copy(update={"models": models})
    assert forecast_settings(same).transform == {"sarimax": "logit"}

    fewer = spec.model_copy(update={"exog": ["hdd_c"]})
    with pytest.raises(ChampionError, match=r"key '--model': @champion of 'demo' \(v3\) does not fit this spec: exog"):
        champion_models(fewer, champ)
    other_path = spec.model_copy(update={"paths": {**spec.paths, "temp_mean_c": "last_value"}})
    assert [line.split(":")[0] for line in differences(other_path, champ)] == ["paths"]
    assert champion_models(other_path, champ) == models  # how inputs continue does not redefine the model
