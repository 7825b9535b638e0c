"""Metrics against hand computations; MASE scaled per cutoff; null truths excluded and counted."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Y
from forecast.backtest import backtest
from forecast.metrics import (
    bias,
    coverage,
    crps_from_quantiles,
    evaluate,
    mae,
    mase,
    owa,
    pinball,
    rmse,
    seasonal_naive_scale,
    smape,
    wape,
    winkler,
)
from forecast.models import SeasonalNaive
from forecast.settings import BacktestPlan, ForecastSettings

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
    bt = backtest(
        df, {"snaive": SeasonalNaive(7)}, ForecastSettings(freq="1d", backtest=BacktestPlan(h=5, n_windows=2, step=5))
    )
    res = evaluate(bt, df, 7)
    y = df.get_column(Y).to_numpy()
    expected = []
    for cutoff_row in (n - 11, n - 6):
        window = bt.filter(pl.col(CUTOFF) == df.item(cutoff_row, DS))
        scale = seasonal_naive_scale(y[: cutoff_row + 1], 7)
        expected.extend(np.abs(window.get_column(MEAN) - window.get_column(Y)).to_numpy() / scale)
    assert res["overall"].item(0, "mase") == pytest.approx(np.mean(expected))


# -- sMAPE, WAPE, pinball, CRPS, coverage, Winkler, OWA ----------------------------------------------------------
def test_new_numpy_metrics_by_hand():
    assert smape(np.array([1.0, 0.0, 2.0]), np.array([3.0, 0.0, 2.0])) == pytest.approx(100 / 3)  # 200*2/4, 0/0 := 0
    assert smape(np.array([-2.0]), np.array([2.0])) == pytest.approx(200.0)  # |y| + |f| in the denominator
    assert wape(np.array([1.0, 3.0]), np.array([2.0, 0.0])) == pytest.approx(4 / 4)
    assert math.isnan(wape(np.zeros(2), np.ones(2)))
    # q = 0.9: d = y - f = -1 -> 0.1; d = 3 -> 2.7
    assert pinball(np.array([1.0, 5.0]), np.array([2.0, 2.0]), 0.9) == pytest.approx(1.4)
    y, lo, hi = np.array([1.0, 5.0, 3.0, np.nan]), np.array([0.0, 0.0, 3.0, 0.0]), np.array([2.0, 4.0, 3.0, 1.0])
    assert coverage(y, lo, hi) == pytest.approx(2 / 3)
    assert winkler(y, lo, hi, 80) == pytest.approx((2 + (4 + 10 * 1) + 0) / 3)  # 2/alpha = 10
    Q = np.array([[0.0, 1.0, 2.0], [4.0, 5.0, 6.0]])
    qs = np.array([0.1, 0.5, 0.9])
    yy = np.array([1.0, 7.0])
    expected = 2 * np.mean([pinball(yy, Q[:, k], q) for k, q in enumerate(qs)])
    assert crps_from_quantiles(yy, Q, qs) == pytest.approx(expected)
    assert owa(10.0, 1.0, 20.0, 2.0) == pytest.approx(0.5)


def test_crps_from_a_dense_grid_approaches_the_gaussian_crps():
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    qs = np.arange(1, 200) / 200
    Q = np.tile(norm.ppf(qs), (y.size, 1))  # every forecast N(0, 1)
    z = y
    exact = np.mean(z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))  # closed form, N(0, 1)
    assert crps_from_quantiles(y, Q, qs) == pytest.approx(exact, rel=0.01)


def _prob_bt() -> pl.DataFrame:
    rows = [
        # id, ds, cutoff, model, y, mean, lo-80, hi-80, q-0.1, q-0.9, p_exceed-5
        ("a", D[4], D[3], "m", 4.0, 5.0, 3.0, 6.0, 3.0, 6.0, 0.2),
        ("a", D[5], D[3], "m", 6.0, 5.0, 3.0, 6.0, 3.0, 6.0, 0.6),
        ("a", D[4], D[3], "n2", 4.0, 3.0, 1.0, 4.0, 1.0, 4.0, 0.0),
        ("a", D[5], D[3], "n2", 6.0, 3.0, 1.0, 4.0, 1.0, 4.0, 0.0),
        ("b", D[4], D[3], "m", 8.0, 8.0, 7.0, 9.0, 7.0, 9.0, 1.0),
        ("b", D[5], D[3], "m", 8.0, 6.0, 5.0, 7.0, 5.0, 7.0, 0.7),
        ("b", D[4], D[3], "n2", 8.0, 4.0, 3.0, 5.0, 3.0, 5.0, 0.5),
        ("b", D[5], D[3], "n2", 8.0, 4.0, 3.0, 5.0, 3.0, 5.0, 0.5),
    ]
    cols = [ID, DS, CUTOFF, MODEL, Y, MEAN, "lo-80", "hi-80", "q-0.1", "q-0.9", "p_exceed-5"]
    schema = {c: pl.Float64 for c in cols} | {ID: pl.String, DS: pl.Date, CUTOFF: pl.Date, MODEL: pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_evaluate_probabilistic_columns_and_owa_from_overall_means():
    train = _train([("a", TRAIN_Y), ("b", TRAIN_Y)])  # scale at cutoff d3: 1.5 for both
    res = evaluate(_prob_bt(), train, 2, naive2="n2")
    overall = {r[MODEL]: r for r in res["overall"].iter_rows(named=True)}
    point = ["n", "n_missing_y", "n_missing_forecast", "mae", "rmse", "bias", "mase", "smape", "wape"]
    assert res["overall"].columns[:10] == [MODEL, *point]
    assert {"coverage-80", "winkler-80", "pinball", "crps", "brier-5", "owa"} <= set(res["overall"].columns)
    m = overall["m"]
    assert m["coverage-80"] == pytest.approx(3 / 4)  # 4 in [3, 6], 6 in [3, 6]; 8 in [7, 9]; 8 not in [5, 7]
    assert m["winkler-80"] == pytest.approx((3 + 3 + 2 + (2 + 10 * 1)) / 4)
    assert m["wape"] == pytest.approx((1 + 1 + 0 + 2) / (4 + 6 + 8 + 8))
    assert m["brier-5"] == pytest.approx((0.2**2 + 0.4**2 + 0 + 0.3**2) / 4)
    pb = [(0.1 * 1 + 0.1 * 2) / 2, (0.1 * 3 + 0.1 * 0) / 2, (0.1 * 1 + 0.1 * 1) / 2, (0.1 * 3 + 0.9 * 1) / 2]
    assert m["pinball"] == pytest.approx(np.mean(pb)) and m["crps"] == pytest.approx(2 * np.mean(pb))
    # sMAPE per series then averaged (M4); OWA from the overall means, not per series
    s_m = {"a": (200 / 9 + 200 / 11) / 2, "b": (0 + 200 * 2 / 14) / 2}
    s_n = {"a": (200 / 7 + 200 * 3 / 9) / 2, "b": (200 * 4 / 12) / 1}
    mase_m = {"a": 1 / 1.5, "b": 1 / 1.5}
    mase_n = {"a": 2 / 1.5, "b": 4 / 1.5}
    assert m["smape"] == pytest.approx(np.mean(list(s_m.values())))
    assert overall["n2"]["smape"] == pytest.approx(np.mean(list(s_n.values())))
    owa_overall = 0.5 * (np.mean(list(s_m.values())) / np.mean(list(s_n.values())) + (2 / 3) / 2)
    owa_per_series = np.mean([0.5 * (s_m[k] / s_n[k] + mase_m[k] / mase_n[k]) for k in "ab"])
    assert m["owa"] == pytest.approx(owa_overall) and abs(owa_overall - owa_per_series) > 0.01
    assert overall["n2"]["owa"] == pytest.approx(1.0)
    step1 = res["per_step"].filter((pl.col(MODEL) == "m") & (pl.col("step") == 1)).row(0, named=True)
    # step 1: sMAPE m (200/9 + 0)/2, n2 (200/7 + 200·4/12)/2; MASE m (1 + 0)/1.5/2, n2 (1 + 4)/1.5/2
    assert step1["owa"] == pytest.approx(0.5 * ((100 / 9) / (100 / 7 + 100 / 3) + (1 / 1.5 / 2) / (5 / 1.5 / 2)))
    with pytest.raises(ValueError, match="naive2: no model 'naive2'"):
        evaluate(_prob_bt(), train, 2, naive2="naive2")


def test_cross_check_against_utilsforecast_losses():
    from utilsforecast import losses as uf

    rng = np.random.default_rng(11)
    ids, h, cutoffs = [f"s{i}" for i in range(6)], 5, (D[3], D[5])
    train = pl.DataFrame(
        {ID: np.repeat(ids, 9), DS: D * len(ids), Y: rng.gamma(2.0, 2.0, 9 * len(ids))},
        schema_overrides={DS: pl.Date},
    )
    rows = []
    for uid in ids:
        for cut in cutoffs:
            for k in range(1, h + 1):
                y = float(rng.gamma(2.0, 2.0))
                f = y + float(rng.normal(scale=2.0))
                q1, q9 = f - abs(rng.normal(scale=2.0)), f + abs(rng.normal(scale=2.0))
                rows.append((uid, cut + dt.timedelta(days=k), cut, y, f, q1, q9))
    wide = pl.DataFrame(rows, schema=[ID, DS, CUTOFF, Y, "m", "m-q-0.1", "m-q-0.9"], orient="row")
    wide = wide.with_columns(pl.col("m-q-0.1").alias("m-lo-80"), pl.col("m-q-0.9").alias("m-hi-80"))
    ours_in = wide.select(
        ID, DS, CUTOFF, pl.lit("m").alias(MODEL), Y, pl.col("m").alias(MEAN),
        pl.col("m-lo-80").alias("lo-80"), pl.col("m-hi-80").alias("hi-80"),
        pl.col("m-q-0.1").alias("q-0.1"), pl.col("m-q-0.9").alias("q-0.9"),
    )  # fmt: skip
    ours = evaluate(ours_in, train, 2)["per_series"].sort(ID)

    def per_series(frame: pl.DataFrame, col: str = "m") -> np.ndarray:  # utilsforecast scores per (id, cutoff)
        return frame.group_by(ID).agg(pl.col(col).mean()).sort(ID).get_column(col).to_numpy()

    np.testing.assert_allclose(ours.get_column("smape"), 200 * per_series(uf.smape(wide, ["m"])), rtol=1e-12)
    np.testing.assert_allclose(ours.get_column("mase"), per_series(uf.mase(wide, ["m"], 2, train)), rtol=1e-12)
    np.testing.assert_allclose(ours.get_column("coverage-80"), per_series(uf.coverage(wide, ["m"], 80)), rtol=1e-12)
    np.testing.assert_allclose(ours.get_column("winkler-80"), per_series(uf.winkler_score(wide, ["m"], 80)), rtol=1e-12)
    mq = uf.mqloss(wide, {"m": ["m-q-0.1", "m-q-0.9"]}, np.array([0.1, 0.9]))
    np.testing.assert_allclose(ours.get_column("pinball"), per_series(mq), rtol=1e-12)
    q9 = uf.quantile_loss(wide, {"m": "m-q-0.9"}, q=0.9)
    np.testing.assert_allclose(pinball_by_series(ours_in, 0.9), per_series(q9), rtol=1e-12)
    one_cutoff = wide.filter(pl.col(CUTOFF) == cutoffs[0])  # WAPE pools, utilsforecast scores per (id, cutoff)
    ours_one = evaluate(ours_in.filter(pl.col(CUTOFF) == cutoffs[0]), train, 2)["per_series"].sort(ID)
    np.testing.assert_allclose(ours_one.get_column("wape"), per_series(uf.wape(one_cutoff, ["m"])), rtol=1e-12)


def pinball_by_series(frame: pl.DataFrame, q: float) -> np.ndarray:
    """The numpy-level pinball loss per series (same pairs as utilsforecast's quantile_loss)."""
    parts = frame.sort(ID).partition_by(ID, maintain_order=True)
    return np.array([pinball(p.get_column(Y).to_numpy(), p.get_column(f"q-{q:g}").to_numpy(), q) for p in parts])


def test_coverage_carries_its_count_and_wilson_band_and_skips_rows_without_intervals() -> None:
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(4)
    n = 240
    y = rng.normal(size=n)
    lo = np.where(np.arange(n) < 40, np.nan, -1.2816)  # the first 40 rows have no interval: not scored
    frame = pl.DataFrame(
        {
            ID: ["a"] * n,
            DS: [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)],
            CUTOFF: [dt.date(2023, 12, 31)] * n,
            MODEL: ["m"] * n,
            Y: y,
            MEAN: np.zeros(n),
            "lo-80": lo,
            "hi-80": -lo,
        }
    ).with_columns(pl.col("lo-80").fill_nan(None), pl.col("hi-80").fill_nan(None))
    train = pl.DataFrame({ID: ["a"] * 3, DS: [dt.date(2023, 12, 29 + i) for i in range(3)], Y: [0.0, 1.0, 0.0]})
    row = evaluate(frame, train, 1)["overall"].row(0, named=True)
    hits = int(np.sum((y[40:] >= -1.2816) & (y[40:] <= 1.2816)))
    assert row["coverage-80-n"] == 200 and row["n"] == n
    assert row["coverage-80"] == pytest.approx(hits / 200)
    low, high = proportion_confint(hits, 200, alpha=0.05, method="wilson")
    assert row["coverage-80-lo"] == pytest.approx(low, rel=1e-9)
    assert row["coverage-80-hi"] == pytest.approx(high, rel=1e-9)
