"""Named what-if scenarios in a forecast job: each overrides some raw-input paths, the indicators follow, and the
demo's generating process fixes the direction of every effect (more strikes or colder days → more hours off)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.spec import SpecError, load_spec
from experiments.jobs.run import run_job

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = (REPO / "experiments" / "specs" / "demo.toml").read_text()
SCENARIOS = SCENARIOS[SCENARIOS.index("\n# what-if scenarios") : SCENARIOS.index("\n[sources.outages]")]


def _with_scenarios(workdir: Path) -> None:
    spec = (workdir / "spec.toml").read_text()
    spec = spec.replace("\n[sources.outages]", SCENARIOS + "\n[sources.outages]", 1)
    (workdir / "spec.toml").write_text(spec)


def _forecast(workdir: Path, scenarios: list[str] | None = None) -> pl.DataFrame:
    result = run_job("spec.toml", kind="forecast", track=False, scenarios=scenarios)
    return pl.read_parquet(workdir / result.out_dir / "forecast.parquet")


def test_scenarios_move_the_forecast_the_way_the_generating_process_says(workdir: Path) -> None:
    _with_scenarios(workdir)
    fc = _forecast(workdir)
    assert fc["scenario"].unique(maintain_order=True).to_list() == ["baseline", "surge", "ceasefire", "cold_snap"]
    mean = {
        s: fc.filter((pl.col("model") == "sarimax") & (pl.col("scenario") == s))["mean"].mean()
        for s in ("baseline", "surge", "ceasefire", "cold_snap")
    }
    assert mean["surge"] > mean["baseline"] + 0.5  # twice the strikes: more damage, more hours off
    assert mean["ceasefire"] < mean["baseline"] - 0.5  # no strikes: the damage stock is repaired
    assert mean["cold_snap"] > mean["baseline"]  # 8 °C colder for a week: more heating demand
    base = fc.filter(pl.col("scenario") == "baseline")
    assert base["delta_mean"].abs().max() == 0.0
    surge = fc.filter((pl.col("scenario") == "surge") & (pl.col("model") == "sarimax")).sort("unique_id", "ds")
    joined = surge.join(base, on=["model", "unique_id", "ds"], suffix="_base")
    assert (joined["delta_mean"] - (joined["mean"] - joined["mean_base"])).abs().max() < 1e-12
    # a model without inputs forecasts the same under every scenario
    naive = fc.filter(pl.col("model") == "seasonal_naive")
    assert naive["delta_mean"].abs().max() == 0.0
    assert fc.select(pl.col("lo-80") <= pl.col("hi-80")).to_series().all()

    # asking for one scenario gives exactly its rows (and the baseline's) of the full run: order-independent
    only = _forecast(workdir, ["ceasefire"])
    assert only["scenario"].unique(maintain_order=True).to_list() == ["baseline", "ceasefire"]
    assert only.equals(fc.filter(pl.col("scenario").is_in(["baseline", "ceasefire"])))


def test_an_unknown_scenario_is_refused_naming_the_known_ones(workdir: Path) -> None:
    _with_scenarios(workdir)
    with pytest.raises(SpecError, match=r"no scenario 'double'; the spec has baseline, surge, ceasefire, cold_snap"):
        run_job("spec.toml", kind="forecast", track=False, scenarios=["double"])
    assert not (workdir / "out").exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[scenarios.Surge]\nlaunched_uav = 'zero'\n", "scenarios.Surge: a name of lower-case letters"),
        ("[scenarios.baseline]\nlaunched_uav = 'zero'\n", "not 'baseline'"),
        ("[scenarios.x]\nlaunched_uav = { path = 'scaled', factor = -2 }\n", "scenarios.x.launched_uav"),
        ("[scenarios.x]\n", "scenarios.x: name at least one raw input"),
    ],
)
def test_bad_scenario_tables_are_spec_errors(workdir: Path, table: str, message: str) -> None:
    spec = (workdir / "spec.toml").read_text().replace("\n[sources.outages]", "\n" + table + "\n[sources.outages]", 1)
    (workdir / "spec.toml").write_text(spec)
    with pytest.raises(SpecError, match=r"spec\.toml") as err:
        load_spec("spec.toml")
    assert message in str(err.value)


def test_a_scenario_path_for_an_unknown_input_names_the_scenario(workdir: Path) -> None:
    table = "[scenarios.x]\nwind = 'zero'\n"
    spec = (workdir / "spec.toml").read_text().replace("\n[sources.outages]", "\n" + table + "\n[sources.outages]", 1)
    (workdir / "spec.toml").write_text(spec)
    with pytest.raises(SpecError, match=r"key 'scenarios.x': 'wind' is not a raw input column"):
        run_job("spec.toml", kind="forecast", track=False)
    assert not (workdir / "out").exists()


def test_the_logged_model_forecasts_each_scenario_as_the_job_did(workdir: Path) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    _with_scenarios(workdir)
    result = run_job("spec.toml", kind="forecast", scenarios=["surge"])
    assert result.tracking_error is None, result.tracking_error
    fc = pl.read_parquet(workdir / result.out_dir / "forecast.parquet").filter(pl.col("model") == "sarimax")
    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    runs = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("gridcast-demo").experiment_id])
    child = next(r for r in runs if r.data.tags.get("gridcast.model") == "sarimax")
    assert child.data.tags["gridcast.scenario"] == "baseline,surge"
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(child.data.tags["gridcast.model_uri"])
    future = fc.select("unique_id", "ds").unique().sort("unique_id", "ds").to_pandas()
    for scenario in ("baseline", "surge"):
        got = pl.from_pandas(model.predict(future, params={"h": 14, "scenario": scenario}))
        got = got.with_columns(pl.col("ds").cast(pl.Date))
        job = fc.filter(pl.col("scenario") == scenario)
        merged = job.join(got, on=["unique_id", "ds"], suffix="_loaded")
        assert merged.height == job.height == 24 * 14
        for col in ("mean", "lo-80", "hi-95", "p_exceed-12"):
            assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, (scenario, col)
    with pytest.raises(Exception, match="scenario 'double' unknown"):
        model.predict(future, params={"h": 14, "scenario": "double"})

    # one child run per scenario, beside the model runs: what-ifs compared side by side in the UI
    client = MlflowClient(uri)
    by_name = {r.info.run_name: r for r in runs if r.data.tags.get("gridcast.run_type") == "scenario"}
    assert sorted(by_name) == ["scenario-baseline", "scenario-surge"]
    surge, base = by_name["scenario-surge"], by_name["scenario-baseline"]
    assert surge.data.tags["gridcast.scenario"] == "surge" and "gridcast.model" not in surge.data.tags
    assert surge.data.tags["mlflow.parentRunId"] == child.data.tags["mlflow.parentRunId"]
    assert (
        surge.data.params["path.launched_uav.path"] == "scaled"
        and surge.data.params["path.launched_uav.factor"] == "2.0"
    )
    assert base.data.params["path.launched_uav"] == "tempo"
    job_surge = fc.filter(pl.col("scenario") == "surge")
    assert surge.data.metrics["sarimax.delta_mean"] == pytest.approx(job_surge["delta_mean"].mean())
    assert surge.data.metrics["sarimax.delta_mean"] > 0.5 and base.data.metrics["sarimax.delta_mean"] == 0.0
    selected = json.loads((workdir / result.out_dir / "manifest.json").read_text())["selected_model"]
    assert surge.data.metrics["mean"] == surge.data.metrics[f"{selected}.mean"]
    steps = client.get_metric_history(surge.info.run_id, "mean_by_step")
    assert [m.step for m in steps] == list(range(1, 15))
    artifacts = [a.path for a in client.list_artifacts(surge.info.run_id)]
    assert artifacts == ["forecast-surge.parquet"]
    from experiments.tracking.promotion import leaderboard

    assert sorted(leaderboard(uri, "gridcast-demo")["model"].to_list()) == ["sarimax", "seasonal_naive"]
