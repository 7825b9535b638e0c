"""Metrics against hand computations; MASE scaled per cutoff; null truths excluded and counted."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Y
from forecast.backtest import backtest
from forecast.metrics import bias, evaluate, mae, mase, rmse, seasonal_naive_scale
from forecast.models import SeasonalNaive

D = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(9)]
#             d0 d1 d2 d3 d4 d5 d6 d7 d8
TRAIN_Y = [1.0, 3, 2, 5, 4, 6, 8, 7, None]
# |y[t] - y[t-2]| for t = 2..7: 1, 2, 2, 1, 4, 1 (t = 8 has no truth)


def test_numpy_metrics_by_hand():
    y = np.array([1.0, 2.0, np.nan, 4.0])
    f = np.array([2.0, 0.0, 5.0, 4.0])
    assert mae(y, f) == pytest.approx(1.0)  # |1|, |-2|, |0| -> 3 / 3
    assert rmse(y, f) == pytest.approx(math.sqrt(5 / 3))
    assert bias(y, f) == pytest.approx(-1 / 3)  # forecast - truth: 1, -2, 0
    assert math.isnan(mae(np.array([np.nan]), np.array([1.0])))
    with pytest.raises(ValueError, match="differ in shape"):
        mae(y, f[:3])


def test_seasonal_naive_scale_and_mase_by_hand():
    train = np.array([1.0, 3, 2, 5, 4, 6, 8, 7])
    assert seasonal_naive_scale(train, 2) == pytest.approx(11 / 6)
    assert seasonal_naive_scale(train, 1) == pytest.approx((2 + 1 + 3 + 1 + 2 + 2 + 1) / 7)
    assert mase(np.array([9.0, 9.0]), np.array([8.0, 11.0]), train, 2) == pytest.approx(1.5 / (11 / 6))
    assert math.isnan(mase(np.ones(2), np.zeros(2), np.ones(10), 1))  # zero scale: undefined, not inf
    assert math.isnan(seasonal_naive_scale(np.ones(2), 2))


def _bt(rows):
    return pl.DataFrame(
        rows,
        schema={ID: pl.String, DS: pl.Date, CUTOFF: pl.Date, MODEL: pl.String, Y: pl.Float64, MEAN: pl.Float64},
        orient="row",
    )


def _train(ids_and_values):
    rows = [(uid, d, v) for uid, values in ids_and_values for d, v in zip(D, values, strict=True)]
    return pl.DataFrame(rows, schema={ID: pl.String, DS: pl.Date, Y: pl.Float64}, orient="row")


def test_evaluate_by_hand_with_a_missing_truth():
    train = _train([("a", TRAIN_Y)])
    bt = _bt(
        [
            # window A: cutoff d3, scale from |diffs| up to d3 = (1 + 2) / 2 = 1.5
            ("a", D[4], D[3], "m", 4.0, 5.0),
            ("a", D[5], D[3], "m", 6.0, 5.0),
            # window B: cutoff d6, scale = (1 + 2 + 2 + 1 + 4) / 5 = 2; d8 has no truth
            ("a", D[7], D[6], "m", 7.0, 9.0),
            ("a", D[8], D[6], "m", None, 9.0),
        ]
    )
    res = evaluate(bt, train, 2)
    s = res["per_series"].row(0, named=True)
    assert (s["n"], s["n_missing_y"], s["n_missing_forecast"]) == (3, 1, 0)
    assert s["mae"] == pytest.approx(4 / 3)
    assert s["rmse"] == pytest.approx(math.sqrt(2))
    assert s["bias"] == pytest.approx(2 / 3)
    assert s["mase"] == pytest.approx((1 / 1.5 + 1 / 1.5 + 2 / 2) / 3)
    steps = res["per_step"].sort("step")
    assert steps.get_column("step").to_list() == [1, 2]
    assert steps.get_column("n").to_list() == [2, 1]
    assert steps.get_column("n_missing_y").to_list() == [0, 1]
    np.testing.assert_allclose(steps.get_column("mae").to_numpy(), [1.5, 1.0])
    np.testing.assert_allclose(steps.get_column("mase").to_numpy(), [(1 / 1.5 + 1) / 2, 1 / 1.5])
    overall = res["overall"].row(0, named=True)
    assert overall["mase"] == pytest.approx(s["mase"]) and overall["n_missing_y"] == 1


def test_overall_mase_is_mean_of_series_mase_and_pooled_mae():
    train = _train([("a", TRAIN_Y), ("b", TRAIN_Y)])
    bt = _bt(
        [
            ("a", D[4], D[3], "m", 4.0, 5.0),  # scaled 1/1.5
            ("a", D[5], D[3], "m", 6.0, 5.0),  # scaled 1/1.5
            ("a", D[7], D[6], "m", 7.0, 9.0),  # scaled 2/2
            ("b", D[4], D[3], "m", 4.0, 7.0),  # scaled 3/1.5
            ("b", D[5], D[3], "m", 6.0, 3.0),  # scaled 3/1.5
        ]
    )
    res = evaluate(bt, train, 2)
    per = dict(res["per_series"].select(ID, "mase").iter_rows())
    assert per["a"] == pytest.approx(7 / 9) and per["b"] == pytest.approx(2.0)
    overall = res["overall"].row(0, named=True)
    assert overall["mase"] == pytest.approx((7 / 9 + 2) / 2)  # not the pooled 6.33 / 5
    assert overall["mae"] == pytest.approx((1 + 1 + 2 + 3 + 3) / 5)
    assert overall["n"] == 5


def test_zero_scale_and_missing_forecasts_are_excluded_and_counted():
    train = _train([("flat", [5.0] * 9), ("a", TRAIN_Y)])
    bt = _bt(
        [
            ("flat", D[4], D[3], "m", 5.0, 6.0),
            ("a", D[4], D[3], "m", 4.0, None),  # model and fallback both failed
            ("a", D[5], D[3], "m", 6.0, 5.0),
        ]
    )
    res = evaluate(bt, train, 2)
    per = {r[ID]: r for r in res["per_series"].iter_rows(named=True)}
    assert per["flat"]["mase"] is None and per["flat"]["mae"] == pytest.approx(1.0)
    assert per["a"]["n"] == 1 and per["a"]["n_missing_forecast"] == 1
    assert res["overall"].row(0, named=True)["mase"] == pytest.approx(1 / 1.5)


def test_per_series_season_lengths():
    train = _train([("a", TRAIN_Y)])
    bt = _bt([("a", D[4], D[3], "m", 4.0, 5.0)])
    # m = 1 up to d3: |3-1|, |2-3|, |5-2| -> 2
    assert evaluate(bt, train, {"a": 1})["overall"].item(0, "mase") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no season length for series a"):
        evaluate(bt, train, {"b": 1})


def test_evaluate_on_a_real_backtest_matches_numpy_mase():
    rng = np.random.default_rng(5)
    n = 35
    df = pl.DataFrame(
        {ID: "s", DS: [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)], Y: rng.gamma(2.0, 3.0, n)}
    )
    bt = backtest(df, {"snaive": SeasonalNaive(7)}, h=5, n_windows=2, step=5, freq="1d")
    res = evaluate(bt, df, 7)
    y = df.get_column(Y).to_numpy()
    expected = []
    for cutoff_row in (n - 11, n - 6):
        window = bt.filter(pl.col(CUTOFF) == df.item(cutoff_row, DS))
        scale = seasonal_naive_scale(y[: cutoff_row + 1], 7)
        expected.extend(np.abs(window.get_column(MEAN) - window.get_column(Y)).to_numpy() / scale)
    assert res["overall"].item(0, "mase") == pytest.approx(np.mean(expected))
