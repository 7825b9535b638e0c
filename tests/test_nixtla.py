"""Nixtla's wide layout: to_nixtla / from_nixtla, statsforecast's column order and utilsforecast's evaluate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.contract import CUTOFF, DS, FALLBACK, ID, MEAN, MODEL, SCENARIO, Y, hi_col, lo_col
from forecast import metrics
from forecast.backtest import backtest
from forecast.core import forecast_frame
from forecast.models import Naive, SeasonalNaive
from forecast.output.nixtla import from_nixtla, to_nixtla
from forecast.settings import BacktestPlan, ForecastSettings

START = dt.date(2024, 1, 1)
MODELS = ("naive", "snaive")
BLOCK = ["", "-lo-80", "-lo-95", "-hi-80", "-hi-95"]  # statsforecast 2.x: point, lo by level, hi by level
SETTINGS = ForecastSettings(
    levels=(80, 95), quantiles=(0.1, 0.5, 0.975), thresholds=(12.0,), backtest=BacktestPlan(h=5, n_windows=3)
)


def series(ids=("a", "b"), n=50, seed=0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        t = np.arange(n)
        y = 12.0 + 4.0 * np.sin(2 * np.pi * t / 7 + k) + rng.normal(size=n)
        days = [START + dt.timedelta(days=int(i)) for i in t]
        parts.append(pl.DataFrame({ID: [uid] * n, DS: days, Y: y}, schema_overrides={DS: pl.Date}))
    return pl.concat(parts)


def models() -> dict:
    return {"naive": Naive(), "snaive": SeasonalNaive(7)}


@pytest.fixture(scope="module")
def fc() -> pl.DataFrame:
    return forecast_frame(series(), models(), 5, SETTINGS)


@pytest.fixture(scope="module")
def bt() -> pl.DataFrame:
    return backtest(series(), models(), SETTINGS)


def shared_equal(back: pl.DataFrame, original: pl.DataFrame) -> None:
    shared = [c for c in back.columns if c in original.columns]
    assert_frame_equal(back.select(shared), original.select(shared))


def test_forecast_layout_is_statsforecast_order(fc: pl.DataFrame) -> None:
    wide = to_nixtla(fc)
    assert wide.columns == [ID, DS, *[m + s for m in MODELS for s in BLOCK]]
    assert wide.schema[ID] == pl.String and wide.schema[DS] == pl.Date
    assert all(wide.schema[c] == pl.Float64 for c in wide.columns[2:])
    assert wide.height == fc.height // len(MODELS)
    assert wide.select(ID, DS).equals(wide.select(ID, DS).sort(ID, DS))
    # the values are the long frame's, one model block at a time
    for m in MODELS:
        long = fc.filter(pl.col(MODEL) == m).sort(ID, DS)
        assert wide.get_column(m).to_list() == long.get_column(MEAN).to_list()
        for lv in (80, 95):
            assert wide.get_column(f"{m}-lo-{lv}").to_list() == long.get_column(lo_col(lv)).to_list()
            assert wide.get_column(f"{m}-hi-{lv}").to_list() == long.get_column(hi_col(lv)).to_list()


def test_backtest_layout_keeps_cutoff_and_y_once_per_row(bt: pl.DataFrame) -> None:
    wide = to_nixtla(bt)
    assert wide.columns == [ID, DS, CUTOFF, Y, *[m + s for m in MODELS for s in BLOCK]]
    assert wide.height == bt.height // len(MODELS)
    assert wide.select(ID, CUTOFF, DS).equals(wide.select(ID, CUTOFF, DS).sort(ID, CUTOFF, DS))
    assert wide.schema[CUTOFF] == bt.schema[CUTOFF] and wide.schema[Y] == pl.Float64
    truth = bt.filter(pl.col(MODEL) == "naive").sort(ID, CUTOFF, DS).get_column(Y)
    assert wide.get_column(Y).to_list() == truth.to_list()


def test_text_and_exceedance_columns_are_left_out(bt: pl.DataFrame) -> None:
    wide = to_nixtla(bt.with_columns(pl.lit("note").alias("interval_note")))
    assert not [c for c in wide.columns if "p_exceed" in c or "-q-" in c or c in (FALLBACK, "interval_note")]


def test_quantiles_are_named_in_percent_as_the_nixtla_client(fc: pl.DataFrame) -> None:
    wide = to_nixtla(fc, quantiles=True)
    assert wide.columns[2:10] == [*[f"naive{s}" for s in BLOCK], "naive-q-10", "naive-q-50", "naive-q-97.5"]
    naive = fc.filter(pl.col(MODEL) == "naive").sort(ID, DS)
    assert wide.get_column("naive-q-97.5").to_list() == naive.get_column("q-0.975").to_list()
    assert wide.get_column("naive-q-50").to_list() == wide.get_column("naive").to_list()


def test_round_trip_forecast(fc: pl.DataFrame) -> None:
    back = from_nixtla(to_nixtla(fc, quantiles=True))
    assert back.columns == [c for c in fc.columns if not c.startswith("p_exceed")]
    shared_equal(back, fc)
    back_default = from_nixtla(to_nixtla(fc))
    assert back_default.columns == [ID, DS, MODEL, MEAN, "lo-80", "hi-80", "lo-95", "hi-95", FALLBACK]
    shared_equal(back_default, fc)


def test_round_trip_backtest(bt: pl.DataFrame) -> None:
    back = from_nixtla(to_nixtla(bt, quantiles=True))
    assert back.columns == [c for c in bt.columns if not c.startswith("p_exceed")]
    shared_equal(back, bt)


def test_utilsforecast_evaluate_takes_the_wide_backtest_as_it_is(bt: pl.DataFrame) -> None:
    evaluation = pytest.importorskip("utilsforecast.evaluation")
    from utilsforecast.losses import coverage, mae, scaled_crps

    wide = to_nixtla(bt)
    scores = evaluation.evaluate(wide, metrics=[mae, coverage, scaled_crps], level=[80, 95])
    assert isinstance(scores, pl.DataFrame)
    assert scores.columns == [ID, CUTOFF, "metric", *MODELS]
    windows = bt.select(ID, CUTOFF).unique(maintain_order=True).rows()
    assert len(windows) == 6
    by_key = {(r[ID], r[CUTOFF], r["metric"]): r for r in scores.iter_rows(named=True)}
    quantiles = np.array([0.025, 0.1, 0.9, 0.975])  # what evaluate reads off level=[80, 95]
    for m in MODELS:
        for uid, cutoff in windows:
            part = bt.filter((pl.col(MODEL) == m) & (pl.col(ID) == uid) & (pl.col(CUTOFF) == cutoff))
            y = part.get_column(Y).to_numpy()
            score = {metric: row[m] for (u, c, metric), row in by_key.items() if (u, c) == (uid, cutoff)}
            assert score["mae"] == pytest.approx(metrics.mae(y, part.get_column(MEAN).to_numpy()), rel=1e-12)
            for lv in (80, 95):
                ours = metrics.coverage(
                    y, part.get_column(lo_col(lv)).to_numpy(), part.get_column(hi_col(lv)).to_numpy()
                )
                assert score[f"coverage_level{lv}"] == pytest.approx(ours, abs=1e-12)
            grid = part.select(lo_col(95), lo_col(80), hi_col(80), hi_col(95)).to_numpy()
            crps = metrics.crps_from_quantiles(y, grid, quantiles) * y.size / np.abs(y).sum()  # scaled by mean |y|
            assert score["scaled_crps"] == pytest.approx(crps, rel=1e-9)
    # pooled over every window: utilsforecast's mean over series (per cutoff), then over the equally sized windows,
    # is our overall MAE
    overall = evaluation.evaluate(wide, metrics=[mae], agg_fn="mean")
    assert overall.height == 3
    ours = metrics.evaluate(bt, series(), 7)["overall"]
    for m in MODELS:
        expected = ours.filter(pl.col(MODEL) == m).get_column("mae").item()
        assert overall.get_column(m).mean() == pytest.approx(expected, rel=1e-12)


def test_evaluate_needs_models_when_quantile_columns_are_written(bt: pl.DataFrame) -> None:
    """Why ``quantiles`` is off by default: evaluate takes ``naive-q-10`` for a model and wants its bounds."""
    evaluation = pytest.importorskip("utilsforecast.evaluation")
    from utilsforecast.losses import coverage, mae

    wide = to_nixtla(bt, quantiles=True)
    with pytest.raises(ValueError, match="naive-q-10-lo-80"):
        evaluation.evaluate(wide, metrics=[mae, coverage], level=[80])
    scores = evaluation.evaluate(wide, metrics=[mae, coverage], models=list(MODELS), level=[80])
    assert scores.columns == [ID, CUTOFF, "metric", *MODELS]


def test_scenarios(fc: pl.DataFrame) -> None:
    surge = fc.with_columns(pl.col(MEAN) * 2, pl.lit("surge").alias(SCENARIO))
    both = pl.concat([fc.with_columns(pl.lit("baseline").alias(SCENARIO)), surge])
    with pytest.raises(ValueError, match=r"2 scenarios \(baseline, surge\)"):
        to_nixtla(both)
    with pytest.raises(ValueError, match="no scenario 'calm'"):
        to_nixtla(both, scenario="calm")
    with pytest.raises(ValueError, match="no scenario column"):
        to_nixtla(fc, scenario="surge")
    wide = to_nixtla(both, scenario="surge")
    assert SCENARIO not in wide.columns
    back = from_nixtla(wide, scenario="surge")
    assert back.columns[-1] == SCENARIO and back.schema[SCENARIO] == pl.String
    shared_equal(back, surge)
    assert to_nixtla(surge).equals(wide)  # a single scenario needs no choice


def test_from_nixtla_reads_statsforecast_cross_validation() -> None:
    sf = pytest.importorskip("statsforecast")
    from statsforecast.models import Naive as SfNaive
    from statsforecast.models import SeasonalNaive as SfSeasonalNaive

    df = series()
    cv = sf.StatsForecast(models=[SfNaive(), SfSeasonalNaive(7)], freq="1d").cross_validation(
        df=df, h=5, n_windows=3, step_size=5, level=[95, 80]
    )
    long = from_nixtla(cv)
    cols = [ID, DS, CUTOFF, MODEL, Y, MEAN, "lo-80", "hi-80", "lo-95", "hi-95", FALLBACK]
    assert long.columns == cols
    assert long.get_column(MODEL).unique(maintain_order=True).to_list() == ["Naive", "SeasonalNaive"]
    assert long.height == 2 * 2 * 3 * 5
    # the same numbers as our own models' backtest, and the result is a frame our metrics score
    ours = backtest(df, {"Naive": Naive(), "SeasonalNaive": SeasonalNaive(7)}, SETTINGS)
    for c in (MEAN, "lo-80", "hi-95"):
        np.testing.assert_allclose(long.get_column(c).to_numpy(), ours.get_column(c).to_numpy(), rtol=1e-6)
    assert metrics.evaluate(long, df, 7)["overall"].height == 2


def test_from_nixtla_detects_models_and_fills_missing_blocks() -> None:
    hours = pl.datetime_range(
        dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 2), "1h", time_zone="UTC", eager=True
    ).alias(DS)
    wide = pl.DataFrame(
        {
            ID: ["q2", "q1", "q2"],
            DS: hours,
            "ets": [1.0, 2.0, 3.0],
            "ets-lo-90": [0.0, 1.0, 2.0],
            "ets-hi-90": [2.0, 3.0, 4.0],
            "ets-q-5": [0.0, 1.0, 2.0],
            "ets-q-2.5": [-1.0, 0.0, 1.0],
            "mean_only": [5, 6, 7],
            "label": ["x", "y", "z"],
        }
    )
    long = from_nixtla(wide)
    assert long.columns == [ID, DS, MODEL, MEAN, "lo-90", "hi-90", "q-0.025", "q-0.05", FALLBACK]
    assert long.schema[DS] == pl.Datetime("us", "UTC")
    # series in order of first appearance, then model, then ds
    assert long.get_column(ID).to_list() == ["q2"] * 4 + ["q1"] * 2
    assert long.get_column(MODEL).to_list() == ["ets", "ets", "mean_only", "mean_only", "ets", "mean_only"]
    only = long.filter(pl.col(MODEL) == "mean_only")
    assert only.get_column(MEAN).to_list() == [5.0, 7.0, 6.0]
    assert only.select("lo-90", "q-0.05").null_count().row(0) == (3, 3)
    assert long.get_column(FALLBACK).null_count() == long.height
    assert from_nixtla(wide, models=["mean_only"]).columns == [ID, DS, MODEL, MEAN, FALLBACK]


def test_errors() -> None:
    with pytest.raises(ValueError, match="missing columns unique_id"):
        from_nixtla(pl.DataFrame({"id": ["a"], DS: [START], "m": [1.0]}))
    wide = pl.DataFrame({ID: ["a"], DS: [START], "m": [1.0], "m-lo-99.5": [0.0], "m-hi-99.5": [2.0]})
    with pytest.raises(ValueError, match="no model column 'ets'"):
        from_nixtla(wide, models=["ets"])
    with pytest.raises(ValueError, match="whole percents"):
        from_nixtla(wide)
    with pytest.raises(ValueError, match="no model columns"):
        from_nixtla(pl.DataFrame({ID: ["a"], DS: [START], Y: [1.0]}))
    long = pl.DataFrame({ID: ["a", "a"], DS: [START, START], MODEL: ["m", "m"], MEAN: [1.0, 2.0]})
    with pytest.raises(ValueError, match="missing columns mean"):
        to_nixtla(long.drop(MEAN))
    with pytest.raises(ValueError, match="more than one row per model"):
        to_nixtla(long)
    with pytest.raises(ValueError, match="disagree on y"):
        to_nixtla(long.with_columns(pl.Series(MODEL, ["m", "k"]), pl.Series(Y, [1.0, 2.0])))
    with pytest.raises(ValueError, match="cannot be wide columns"):
        to_nixtla(long.with_columns(pl.Series(MODEL, ["m", Y])))
