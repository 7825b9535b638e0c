"""Hierarchy-coherent jobs (#9 item 5): every level modelled with its own bounds and calibration, reconciled,
scored on the same windows, and a per-level table saying whether reconciliation helped; the spec's [hierarchy]."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from experiments.inputs.spec import SpecError, load_spec
from experiments.jobs.log import JobLog
from experiments.jobs.run import run_job
from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Bounds, Y
from forecast.calibration import FEW_NOTE, calibrate_backtest
from forecast.conformal import conformal_intervals
from forecast.exog import LastValueProvider
from forecast.hierarchy import Hierarchy, aggregate, coherence_gap
from forecast.hierarchy.moved import moved_intervals
from forecast.models import SeasonalNaive, WindowAverage
from forecast.scenarios.coherent import coherent_backtest, coherent_forecast, level_scores
from forecast.scenarios.runner import calibrated_backtest, scenario_forecast
from forecast.settings import BacktestPlan, ForecastSettings

CHAINS = {f"{g}.{k}": [str(g), "city"] for g in (1, 2, 3) for k in (1, 2)}
LEVELS = ["city", "group", "queue"]
MODELS = {"snaive": SeasonalNaive(season_length=7), "avg": WindowAverage(window=14)}
N_WINDOWS, MIN_WINDOWS = 10, 3


@pytest.fixture(scope="module")
def tree() -> Hierarchy:
    return Hierarchy.from_parents(CHAINS, LEVELS)


@pytest.fixture(scope="module")
def every(tree: Hierarchy) -> pl.DataFrame:
    """Six queues' hours off (weekly pattern, group shocks) over 150 days, and every level's sums."""
    rng = np.random.default_rng(3)
    n = 150
    t = np.arange(n)
    shocks = {g: rng.normal(0, 2.0, n) for g in "123"}
    parts = []
    for k, uid in enumerate(CHAINS):
        y = 12 + 5 * np.sin(2 * np.pi * t / 7 + k / 2) + shocks[uid[0]] + rng.normal(0, 1.5, n)
        days = [dt.date(2024, 9, 1) + dt.timedelta(days=int(i)) for i in t]
        parts.append(pl.DataFrame({ID: uid, DS: days, Y: np.clip(y, 0, 24)}))
    return aggregate(pl.concat(parts), tree)


@pytest.fixture(scope="module")
def settings() -> ForecastSettings:
    return ForecastSettings(
        freq="1d",
        season_length=7,
        bounds=Bounds(0.0, 24.0),
        levels=(80,),
        quantiles=(0.1, 0.5, 0.9),
        thresholds=(12.0,),
        backtest=BacktestPlan(h=7, n_windows=N_WINDOWS, step=7),
        calibration_windows=3,
    )


@pytest.fixture(scope="module")
def run(every: pl.DataFrame, tree: Hierarchy, settings: ForecastSettings):
    scored, cal = coherent_backtest(
        every, MODELS, settings, LastValueProvider(), tree, ["bottom_up", "mint_shrink"], min_windows=MIN_WINDOWS
    )
    forecast = coherent_forecast(every, MODELS, 7, settings, LastValueProvider(), cal, tree)
    return scored, cal, forecast


def _level(frame: pl.DataFrame, tree: Hierarchy, level: str) -> pl.DataFrame:
    return frame.filter(pl.col(ID).is_in(tree.nodes[tree.levels.index(level)]))


def test_every_reconciled_model_is_coherent_bounded_and_scored_on_the_same_windows(run, tree: Hierarchy) -> None:
    scored, _, forecast = run
    names = ["snaive", "avg", "snaive/bottom_up", "avg/bottom_up", "snaive/mint_shrink", "avg/mint_shrink"]
    assert scored[MODEL].unique(maintain_order=True).to_list() == names
    assert forecast[MODEL].unique(maintain_order=True).to_list() == names
    assert forecast[ID].unique(maintain_order=True).to_list() == list(tree.ids)
    # MinT needs MIN_WINDOWS windows of residuals first: every model is scored on the windows after them
    per_model = scored.group_by(MODEL).agg(pl.col(CUTOFF).n_unique().alias("n"))
    assert set(per_model["n"]) == {N_WINDOWS - MIN_WINDOWS}
    for frame in (scored, forecast):
        for name in names[2:]:
            assert coherence_gap(frame.filter(pl.col(MODEL) == name), tree) < 1e-9
        bottom, city = _level(frame, tree, "queue"), _level(frame, tree, "city")
        assert bottom[MEAN].min() >= 0 and bottom[MEAN].max() <= 24
        assert city[MEAN].max() <= 24 * 6 and city[MEAN].max() > 24  # a sum of six queues, on its own bounds
        banded = frame.filter(pl.col("lo-80").is_not_null())
        assert (banded["lo-80"] <= banded[MEAN] + 1e-9).all() and (banded[MEAN] <= banded["hi-80"] + 1e-9).all()


def test_each_level_is_calibrated_on_its_own_series_only(
    run, every: pl.DataFrame, tree: Hierarchy, settings: ForecastSettings
) -> None:
    """A level's base rows are exactly what the runner gives that level alone: a city's quantiles never pool its
    queues' residuals, and the bottom level is what a job without a hierarchy makes of it."""
    scored, _, forecast = run
    cutoffs = scored[CUTOFF].unique().to_list()
    for level, n in (("queue", 1), ("group", 2), ("city", 6)):
        own = settings.replace(bounds=Bounds(0.0, 24.0 * n), thresholds=(12.0 * n,))
        alone, cal = calibrated_backtest(_level(every, tree, level), MODELS, own, LastValueProvider())
        alone = alone.filter(pl.col(CUTOFF).is_in(cutoffs)).rename({f"p_exceed-{12 * n:g}": "p_exceed-12"})
        got = _level(scored, tree, level).filter(pl.col(MODEL).is_in(list(MODELS)))
        key = [ID, MODEL, CUTOFF, DS]
        cols = [MEAN, "lo-80", "hi-80", "q-0.9", "p_exceed-12", "interval_note"]
        assert got.sort(key).select(*key, *cols).equals(alone.sort(key).select(*key, *cols)), level
        fc = scenario_forecast(_level(every, tree, level), MODELS, 7, own, LastValueProvider(), cal)
        fc = fc.rename({f"p_exceed-{12 * n:g}": "p_exceed-12"})
        got = _level(forecast, tree, level).filter(pl.col(MODEL).is_in(list(MODELS)))
        assert got.sort(ID, MODEL, DS).select(fc.columns).equals(fc.sort(ID, MODEL, DS)), level


def test_the_per_level_table_is_the_mean_of_each_levels_series(run, every: pl.DataFrame, tree: Hierarchy) -> None:
    from forecast.metrics import evaluate

    scored, _, _ = run
    per = evaluate(scored, every, 7)["per_series"]
    table = level_scores(per, tree, list(MODELS))
    assert table.height == len(LEVELS) * len(MODELS) * 3
    row = table.filter((pl.col("level") == "group") & (pl.col(MODEL) == "avg") & (pl.col("method") == "mint_shrink"))
    want = per.filter(pl.col(ID).is_in(tree.nodes[1]) & (pl.col(MODEL) == "avg/mint_shrink"))["mase"].mean()
    assert row["series"].item() == 3 and row["mase"].item() == pytest.approx(want, rel=1e-12)
    base = table.filter((pl.col("level") == "group") & (pl.col(MODEL) == "avg") & (pl.col("method") == "base"))
    assert row["mase_change"].item() == pytest.approx(want / base["mase"].item() - 1, rel=1e-9)


def test_moved_intervals_keep_the_base_widths_around_the_reconciled_mean() -> None:
    keys = [ID, DS]
    base = pl.DataFrame(
        {ID: ["a", "a"], DS: [1, 2], MODEL: ["m", "m"], MEAN: [10.0, 2.0], "lo-80": [7.0, 0.5], "hi-80": [13.0, 4.0],
         "q-0.1": [7.0, 0.5], "q-0.5": [10.0, 2.0], "q-0.9": [13.0, 4.0]}
    )  # fmt: skip
    rec = pl.DataFrame({ID: ["a", "a"], DS: [1, 2], MODEL: ["m/bottom_up"] * 2, MEAN: [12.0, 1.0]})
    out = moved_intervals(rec, base, keys, bounds=Bounds(0.0, 24.0), thresholds=(12.0,))
    assert out["lo-80"].to_list() == [9.0, 0.0]  # 0.5 - 1 clipped at the lower bound
    assert out["hi-80"].to_list() == [15.0, 3.0]
    # F through (0, 0), (9, .1), (12, .5), (15, .9), (24, 1): P(y > 12) = 0.5; second row: 12 lies in (3, 24)
    p = out["p_exceed-12"].to_list()
    assert p[0] == pytest.approx(0.5) and p[1] == pytest.approx(1 - (0.9 + 0.1 * (12 - 3) / 21))


def test_too_few_residuals_give_null_intervals_with_a_note_instead_of_failing(settings: ForecastSettings) -> None:
    """A series with missing truths leaves fewer residuals than a level needs (the demo's national sum)."""
    rows = []
    for w in range(6):
        cutoff = dt.date(2025, 1, 1) + dt.timedelta(days=7 * w)
        for s in range(1, 8):
            y = None if (w < 4 and s == 2) else 10.0 + (w * s) % 3  # step 2: one residual before window 5
            rows.append(("a", cutoff + dt.timedelta(days=s), cutoff, "m", y, 10.0))
    bt = pl.DataFrame(rows, schema=[ID, DS, CUTOFF, MODEL, Y, MEAN], orient="row")
    last_cutoff = dt.date(2025, 2, 5)
    with pytest.raises(ValueError, match="step 2: 1 calibration residuals cannot calibrate a 80% interval"):
        conformal_intervals(bt.filter(pl.col(CUTOFF) < last_cutoff), bt.filter(pl.col(CUTOFF) == last_cutoff), (80,))
    plain = settings.replace(
        backtest=BacktestPlan(h=7, n_windows=6, step=7), thresholds=(), quantiles=(), calibration_windows=5
    )
    out, note = calibrate_backtest(bt, plain, ["m"])
    assert note is None
    last = out.filter(pl.col(CUTOFF) == last_cutoff)
    step2 = last.filter(pl.col(DS) == last_cutoff + dt.timedelta(days=2))
    assert step2["hi-80"].is_null().all() and step2["interval_note"].to_list() == [FEW_NOTE]
    others = last.filter(pl.col(DS) != last_cutoff + dt.timedelta(days=2))
    assert others["hi-80"].is_not_null().all() and others["interval_note"].is_null().all()


# --- the job ---------------------------------------------------------------------------------------------------------


def test_demo_job_forecasts_every_level_reconciled_and_tracked(workdir_levels: Path) -> None:
    lines: list[str] = []
    result = run_job("spec.toml", kind="forecast", log=JobLog(lines.append))
    assert result.run_id is not None and result.tracking_error is None
    out = result.out_dir
    levels = pl.read_parquet(out / "levels.parquet")
    assert levels.filter(pl.col("level") == "country").rows() == [("ukraine", "country", 24, None)]
    assert levels.filter(pl.col("level") == "region")["parent"].unique().to_list() == ["ukraine"]
    fc = pl.read_parquet(out / "forecast.parquet")
    assert fc[ID].n_unique() == 25
    for name in ("sarimax/bottom_up", "sarimax/mint_shrink", "seasonal_naive/mint_shrink"):
        part = fc.filter(pl.col(MODEL) == name)
        assert part.height == 25 * 14 and coherence_gap(part.drop("y", strict=False), _demo(levels)) < 1e-9
    national = fc.filter(pl.col(ID) == "ukraine")
    assert national[MEAN].max() <= 24 * 24 and national["hi-95"].max() <= 24 * 24
    table = pl.read_parquet(out / "reconciliation.parquet")
    assert set(table["level"]) == {"country", "region"} and set(table["method"]) == {"base", "bottom_up", "mint_shrink"}
    said = [line for line in lines if "reconciliation: country (1 series), sarimax: MASE base" in line]
    assert len(said) == 1 and "mint_shrink" in said[0]
    board = pl.read_csv(out / "leaderboard.csv")
    assert set(board[MODEL]) == set(fc[MODEL])
    charts = sorted(p.name for p in (out / "plots").glob("*.png"))  # the 24 regions and the country, on its bounds
    assert len(charts) == 25 and any("ukraine" in name for name in charts)
    _logged_model_reproduces_the_regions(workdir_levels, fc)


def _logged_model_reproduces_the_regions(workdir: Path, forecast: pl.DataFrame) -> None:
    """The logged SARIMAX forecasts the bottom series as the job's base model did (reconciliation is a job step)."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("gridcast-demo").experiment_id])
    child = next(
        r for r in runs if r.data.tags.get("gridcast.model") == "sarimax" and "gridcast.model_uri" in r.data.tags
    )
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(child.data.tags["gridcast.model_uri"])
    expected = forecast.filter((pl.col(MODEL) == "sarimax") & (pl.col(ID) != "ukraine"))
    future = expected.select(ID, DS).unique().sort(ID, DS).to_pandas()
    got = pl.from_pandas(model.predict(future, params={"h": 14, "level": [80, 95]})).with_columns(
        pl.col(DS).cast(pl.Date)
    )
    merged = expected.join(got, on=[ID, DS], suffix="_loaded")
    assert merged.height == expected.height == 24 * 14
    for col in (MEAN, "lo-80", "hi-95", "p_exceed-12"):
        assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, col


def _demo(levels: pl.DataFrame) -> Hierarchy:
    bottom = levels.filter(pl.col("level") == "region")
    return Hierarchy.from_parents({u: ["ukraine"] for u in bottom[ID]}, ["country", "region"])


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('country = { name = "ukraine" }', 'country = { before_last = "." }', "hierarchy", "has no '.' to cut at"),
        ('country = { name = "ukraine" }', "", "hierarchy", "missing country"),
        ('levels = ["country", "region"]', 'levels = ["country", "region", "town"]', "hierarchy", "missing region"),
        ("min_windows = 1", "min_windows = 2", "hierarchy.min_windows", "leaves no backtest window to reconcile"),
        ('methods = ["bottom_up", "mint_shrink"]', 'methods = ["top_down"]', "hierarchy.methods", "bottom_up"),
    ],
)
def test_a_bad_hierarchy_is_a_spec_error_naming_its_key(
    workdir_levels: Path, old: str, new: str, key: str, problem: str
) -> None:
    spec = (workdir_levels / "spec.toml").read_text()
    assert old in spec
    (workdir_levels / "spec.toml").write_text(spec.replace(old, new))
    with pytest.raises(SpecError) as err:
        load_spec("spec.toml") if key != "hierarchy" or "cut at" not in problem else run_job(
            "spec.toml", kind="backtest", track=False
        )
    assert err.value.key.startswith(key) and problem in str(err.value), str(err.value)
    assert not (workdir_levels / "out").exists()
