"""Frame orchestration (fallbacks, bounds, nulls), exogenous providers and rolling-origin backtests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict

from features.contract import CUTOFF, DS, FALLBACK, HOURS_PER_DAY, ID, MEAN, MODEL, Y, hi_col, lo_col
from features.errors import DataError
from forecast.backtest import BacktestPlanError, backtest, backtest_schedule
from forecast.core import forecast_frame, future_grid
from forecast.engine import fill_gaps
from forecast.exog import LastValueProvider, OracleProvider
from forecast.models import Sarimax, SeasonalNaive
from forecast.models.base import Forecaster, Prediction
from forecast.settings import BacktestPlan, ForecastSettings

START = dt.date(2024, 1, 1)
LEVEL_COLS = [lo_col(80), hi_col(80), lo_col(95), hi_col(95)]


def frame(ids=("a", "b"), n=40, *, seed=0, base=12.0, amp=4.0, noise=1.0, exog=False) -> pl.DataFrame:
    """Daily series with a weekly pattern; optional regressor ``x`` entering y with coefficient 2."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        t = np.arange(n)
        x = rng.normal(size=n)
        y = base + amp * np.sin(2 * np.pi * t / 7 + k) + noise * rng.normal(size=n) + (2.0 * x if exog else 0.0)
        cols = {ID: [uid] * n, DS: [START + dt.timedelta(days=int(i)) for i in t], Y: y}
        if exog:
            cols["x"] = x
        parts.append(pl.DataFrame(cols, schema_overrides={DS: pl.Date, Y: pl.Float64}))
    return pl.concat(parts)


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Broken(Forecaster):
    """Always fails in fit, like a singular design matrix would."""

    name = "broken"
    tags: ClassVar[dict[str, bool]] = {"intervals": True}
    config_cls = _NoParams

    def _fit(self, y, X):
        raise np.linalg.LinAlgError("Singular matrix")

    def _predict(self, h, X_future, level):
        raise AssertionError("unreachable")


class Spy(Forecaster):
    """Last value ± 1; records the length of every history it is fitted on."""

    name = "spy"
    tags: ClassVar[dict[str, bool]] = {"intervals": True}
    config_cls = _NoParams
    seen: ClassVar[list[int]] = []

    def _fit(self, y, X):
        Spy.seen.append(len(y))
        self._last = y[-1]

    def _predict(self, h, X_future, level):
        mean = np.full(h, self._last)
        return Prediction(mean, {lv: mean - 1 for lv in level}, {lv: mean + 1 for lv in level})


# -- forecast_frame --------------------------------------------------------------------------------------------
def test_forecast_frame_columns_grid_and_numbers():
    df = frame(n=30)
    out = forecast_frame(df, {"snaive": SeasonalNaive(7)}, 3, ForecastSettings(freq="1d"))
    assert out.columns == [ID, DS, MODEL, MEAN, *LEVEL_COLS, FALLBACK]
    assert out.schema[DS] == pl.Date and out.schema[FALLBACK] == pl.String
    a = out.filter(pl.col(ID) == "a")
    assert a.get_column(DS).to_list() == [START + dt.timedelta(days=d) for d in (30, 31, 32)]
    y_a = df.filter(pl.col(ID) == "a").get_column(Y).to_numpy()
    np.testing.assert_allclose(a.get_column(MEAN).to_numpy(), y_a[23:26])  # same weekday one season back
    assert out.get_column(FALLBACK).null_count() == out.height


def test_forecast_frame_hourly_utc_grid():
    ds = pl.datetime_range(
        dt.datetime(2024, 3, 30, 20), dt.datetime(2024, 3, 31, 23), "1h", time_zone="UTC", eager=True
    )
    df = pl.DataFrame({ID: "kyiv", DS: ds, Y: np.arange(ds.len(), dtype=float) % 24})
    out = forecast_frame(df, {"snaive": SeasonalNaive(24)}, 4, ForecastSettings(freq="1h", season_length=24))
    assert out.schema[DS] == pl.Datetime("us", "UTC")
    assert out.get_column(DS).to_list()[0] == dt.datetime(2024, 4, 1, 0, tzinfo=dt.UTC)
    assert out.get_column(DS).diff().drop_nulls().unique().to_list() == [dt.timedelta(hours=1)]


def test_failing_model_falls_back_and_says_why():
    df = frame(n=30)
    out = forecast_frame(df, {"broken": Broken(), "snaive": SeasonalNaive(7)}, 3, ForecastSettings(freq="1d"))
    broken = out.filter(pl.col(MODEL) == "broken")
    snaive = out.filter(pl.col(MODEL) == "snaive")
    assert broken.get_column(FALLBACK).unique().to_list() == [
        "broken failed: LinAlgError: Singular matrix; used seasonal_naive"
    ]
    for c in (MEAN, *LEVEL_COLS):
        np.testing.assert_allclose(broken.get_column(c).to_numpy(), snaive.get_column(c).to_numpy())


def test_when_fallback_fails_too_rows_are_null_with_both_reasons():
    df = frame(ids=("tiny",), n=5)  # seasonal naive with m = 7 needs 8 observations
    out = forecast_frame(df, {"broken": Broken()}, 2, ForecastSettings(freq="1d"))
    assert out.get_column(MEAN).null_count() == 2
    assert out.select(pl.col(pl.Float64).is_nan().any()).row(0) == (False,) * 5
    reason = out.get_column(FALLBACK)[0]
    assert reason.startswith("broken failed: LinAlgError: Singular matrix; fallback seasonal_naive failed:")
    assert "needs more than 7 observations, got 5" in reason


def test_series_with_no_observation_is_reported_not_nan():
    df = frame(ids=("a", "b"), n=20).with_columns(pl.when(pl.col(ID) == "b").then(None).otherwise(pl.col(Y)).alias(Y))
    out = forecast_frame(df, {"snaive": SeasonalNaive(7)}, 2, ForecastSettings(freq="1d"))
    b = out.filter(pl.col(ID) == "b")
    assert b.get_column(MEAN).null_count() == 2
    assert "no observed values" in b.get_column(FALLBACK)[0]
    assert out.filter(pl.col(ID) == "a").get_column(MEAN).null_count() == 0


def test_fill_gaps_rule():
    y = np.array([1.0, np.nan, 3.0, 4.0, 5.0, np.nan, np.nan])
    # interior: linear (2); trailing: seasonal naive with m = 3 -> y[5] = y[2] = 3, y[6] = y[3] = 4
    np.testing.assert_allclose(fill_gaps(y, 3), [1, 2, 3, 4, 5, 3, 4])
    # trailing gap shorter than a season back: last observation
    np.testing.assert_allclose(fill_gaps(np.array([1.0, 2.0, np.nan]), 7), [1, 2, 2])


def test_null_history_gives_no_nan_forecast():
    df = frame(ids=("a",), n=40, exog=True)
    row = pl.int_range(pl.len())
    df = df.with_columns(
        pl.when(row.is_in([0, 1, 15, 16, 39])).then(None).otherwise(pl.col(Y)).alias(Y),
        pl.when(row.is_in([5, 39])).then(None).otherwise(pl.col("x")).alias("x"),
    )
    fx = future_grid(df, 3, "1d").with_columns(x=pl.lit(0.5))
    out = forecast_frame(
        df,
        {"snaive": SeasonalNaive(7), "sarimax": Sarimax(order=(1, 0, 0))},
        3,
        ForecastSettings(freq="1d", exog=["x"]),
        future_exog=fx,
    )
    assert out.get_column(FALLBACK).null_count() == out.height
    assert out.select(pl.sum_horizontal(pl.col(MEAN, *LEVEL_COLS).null_count())).item() == 0
    # seasonal naive repeats the last season, rows 33..39 with row 39 filled by y[32]: steps 1-3 = rows 33-35
    y = df.get_column(Y).to_numpy()
    np.testing.assert_allclose(out.filter(pl.col(MODEL) == "snaive").get_column(MEAN).to_numpy(), y[33:36])


def test_bounds_keep_every_value_inside_and_ordered():
    low = frame(ids=("low",), n=35, base=0.5, amp=0.5, noise=1.0, seed=3).with_columns(pl.col(Y).clip(0, 24))
    high = frame(ids=("high",), n=35, base=23.5, amp=0.5, noise=1.0, seed=4).with_columns(pl.col(Y).clip(0, 24))
    df = pl.concat([low, high])
    models = {"snaive": SeasonalNaive(7), "sarimax": Sarimax(order=(1, 0, 0))}
    raw = forecast_frame(df, models, 14, ForecastSettings(freq="1d"))
    vals = raw.select(pl.concat_list(MEAN, *LEVEL_COLS).explode()).to_series()
    assert vals.min() < 0 and vals.max() > 24  # unbounded intervals do leave [0, 24]
    out = forecast_frame(df, models, 14, ForecastSettings(freq="1d", bounds=HOURS_PER_DAY))
    vals = out.select(pl.concat_list(MEAN, *LEVEL_COLS).explode()).to_series()
    assert vals.min() >= 0 and vals.max() <= 24
    order = [lo_col(95), lo_col(80), MEAN, hi_col(80), hi_col(95)]
    for left, right in itertools.pairwise(order):
        assert (out.get_column(left) <= out.get_column(right)).all()


def test_exog_needs_future_values_for_exogenous_models_only():
    df = frame(ids=("a", "b"), n=30, exog=True)
    # a model without exog capability ignores the columns: no future values needed
    out = forecast_frame(df, {"snaive": SeasonalNaive(7)}, 2, ForecastSettings(freq="1d", exog=["x"]))
    assert out.height == 4
    with pytest.raises(DataError, match="future_exog: missing"):
        forecast_frame(df, {"sarimax": Sarimax()}, 2, ForecastSettings(freq="1d", exog=["x"]))
    fx = (
        future_grid(df, 2, "1d").with_columns(x=pl.lit(1.0)).filter(~((pl.col(ID) == "b") & (pl.col(DS).dt.day() == 1)))
    )
    with pytest.raises(DataError, match="no value for some forecast periods; found 'b'"):
        forecast_frame(df, {"sarimax": Sarimax()}, 2, ForecastSettings(freq="1d", exog=["x"]), future_exog=fx)


def test_forecast_follows_future_exog():
    df = frame(ids=("a",), n=120, exog=True, amp=0.0, noise=0.3)
    grid = future_grid(df, 2, "1d")
    model = {"sarimax": Sarimax(order=(1, 0, 0))}
    runs = [
        forecast_frame(
            df, model, 2, ForecastSettings(freq="1d", exog=["x"]), future_exog=grid.with_columns(x=pl.lit(v))
        )
        for v in (0.0, 1.0)
    ]
    diff = runs[1].get_column(MEAN) - runs[0].get_column(MEAN)
    np.testing.assert_allclose(diff.to_numpy(), 2.0, atol=0.15)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.reverse(), "not an ascending regular 1d grid"),
        (lambda d: d.filter(pl.col(DS) != START + dt.timedelta(days=5)), "not an ascending regular 1d grid.*'a'"),
        (lambda d: d.with_columns(pl.col(Y).cast(pl.String)), "column 'y': type String"),
        (lambda d: d.drop(Y), "missing columns"),
        (lambda d: pl.concat([d.slice(0, 5), d.slice(30, 5), d.slice(5, 25)]), "not contiguous"),
    ],
)
def test_frame_validation(mutate, match):
    df = frame(ids=("a", "b"), n=30)
    with pytest.raises(DataError, match=match):
        forecast_frame(mutate(df), {"snaive": SeasonalNaive(7)}, 2, ForecastSettings(freq="1d"))


def test_date_with_hourly_freq_is_refused():
    with pytest.raises(DataError, match="Date values with freq '1h'"):
        forecast_frame(frame(n=30), {"snaive": SeasonalNaive(7)}, 2, ForecastSettings(freq="1h"))


# -- exogenous providers ---------------------------------------------------------------------------------------
def test_providers():
    df = frame(ids=("a", "b"), n=10, exog=True).with_columns(
        pl.when((pl.col(ID) == "a") & (pl.col(DS) == START + dt.timedelta(days=7)))
        .then(None)
        .otherwise(pl.col("x"))
        .alias("x")
    )
    hist = df.filter(pl.col(DS) <= START + dt.timedelta(days=7))
    fut = df.filter(pl.col(DS) > START + dt.timedelta(days=7)).select(ID, DS)
    last = LastValueProvider().future(hist, fut, ["x"])
    assert last.select(ID, DS).equals(fut)
    x = df.get_column("x").to_numpy()
    # series a: day 7 is null, so the last observed value is day 6's
    np.testing.assert_allclose(last.get_column("x").to_numpy(), [x[6], x[6], x[17], x[17]])
    oracle = OracleProvider(df).future(hist, fut, ["x"])
    np.testing.assert_allclose(oracle.get_column("x").to_numpy(), [x[8], x[9], x[18], x[19]])


# -- backtest --------------------------------------------------------------------------------------------------
def test_schedule_by_hand():
    ds = [START + dt.timedelta(days=i) for i in range(20)]
    windows = backtest_schedule(ds, BacktestPlan(h=3, n_windows=3, step=2))
    # cutoff rows: 20 - 3 - 2*(2 - w) - 1 -> 12, 14, 16
    assert [w.cutoff for w in windows] == [ds[12], ds[14], ds[16]]
    assert [w.train_end for w in windows] == [13, 15, 17]
    assert [w.train_start for w in windows] == [0, 0, 0]
    assert windows[-1].test_ds == tuple(ds[17:20])
    fixed = backtest_schedule(ds, BacktestPlan(h=3, n_windows=3, step=2, input_size=10))
    assert [(w.train_start, w.train_end) for w in fixed] == [(3, 13), (5, 15), (7, 17)]
    assert backtest_schedule(ds, BacktestPlan(h=5, n_windows=2))[0].test_ds == tuple(ds[10:15])  # step defaults to h
    with pytest.raises(BacktestPlanError, match="20 periods, need 21"):
        backtest_schedule(ds, BacktestPlan(h=3, n_windows=3, step=2, input_size=14))


def test_backtest_windows_cutoffs_and_truth():
    df = frame(ids=("a", "b"), n=40)
    bt = backtest(
        df, {"snaive": SeasonalNaive(7)}, ForecastSettings(freq="1d", backtest=BacktestPlan(h=3, n_windows=4, step=2))
    )
    assert bt.columns == [ID, DS, CUTOFF, MODEL, Y, MEAN, *LEVEL_COLS, FALLBACK]
    assert bt.height == 2 * 4 * 3
    expected = backtest_schedule(df.filter(pl.col(ID) == "a").get_column(DS), BacktestPlan(h=3, n_windows=4, step=2))
    a = bt.filter(pl.col(ID) == "a")
    assert a.get_column(CUTOFF).unique(maintain_order=True).to_list() == [w.cutoff for w in expected]
    assert a.get_column(DS).to_list() == [d for w in expected for d in w.test_ds]
    truth = bt.join(df.select(ID, DS, pl.col(Y).alias("_truth")), on=[ID, DS])
    assert (truth.get_column(Y) == truth.get_column("_truth")).all()
    steps = bt.select(((pl.col(DS) - pl.col(CUTOFF)).dt.total_days()).alias("k")).get_column("k")
    assert steps.min() == 1 and steps.max() == 3


def test_backtest_no_look_ahead_trap():
    df = frame(ids=("a",), n=60, exog=True)
    models = {"snaive": SeasonalNaive(7), "sarimax": Sarimax(order=(1, 0, 0))}
    settings = ForecastSettings(freq="1d", exog=("x",), backtest=BacktestPlan(h=4, n_windows=2, step=4))
    first = backtest(df, models, settings)
    cutoff0 = first.get_column(CUTOFF).min()
    after = pl.col(DS) > cutoff0
    trapped = df.with_columns(
        pl.when(after).then(1e3).otherwise(pl.col(Y)).alias(Y),
        pl.when(after).then(-50.0).otherwise(pl.col("x")).alias("x"),
    )
    second = backtest(trapped, models, settings)
    w0 = pl.col(CUTOFF) == cutoff0
    cols = [ID, DS, MODEL, MEAN, *LEVEL_COLS]
    assert first.filter(w0).select(cols).equals(second.filter(w0).select(cols))
    assert not first.filter(~w0).select(cols).equals(second.filter(~w0).select(cols))  # the trap is live
    # with oracle exog the future x *is* read, so the same alteration moves window 0 of sarimax
    o1 = backtest(df, models, settings, exog_provider=OracleProvider(df))
    o2 = backtest(trapped, models, settings, exog_provider=OracleProvider(trapped))
    sx = w0 & (pl.col(MODEL) == "sarimax")
    assert not o1.filter(sx).select(cols).equals(o2.filter(sx).select(cols))


def test_backtest_too_short_series_listed_in_one_error():
    df = pl.concat([frame(ids=("short1",), n=12), frame(ids=("long",), n=40), frame(ids=("short2",), n=9)])
    with pytest.raises(BacktestPlanError) as info:
        backtest(
            df,
            {"snaive": SeasonalNaive(7)},
            ForecastSettings(freq="1d", backtest=BacktestPlan(h=3, n_windows=2, step=3)),
        )
    assert info.value.ids == ["short1", "short2"]
    msg = str(info.value)
    assert "2 series too short" in msg and "need 14 periods" in msg and "short1 (12), short2 (9)" in msg
    assert "long" not in msg


def test_backtest_expanding_vs_fixed_input_size():
    df = frame(ids=("a",), n=30)
    Spy.seen.clear()
    backtest(df, {"spy": Spy()}, ForecastSettings(freq="1d", backtest=BacktestPlan(h=2, n_windows=3, step=1)))
    assert Spy.seen == [26, 27, 28]
    Spy.seen.clear()
    backtest(
        df, {"spy": Spy()}, ForecastSettings(freq="1d", backtest=BacktestPlan(h=2, n_windows=3, step=1, input_size=10))
    )
    assert Spy.seen == [10, 10, 10]


def test_backtest_respects_bounds_and_records_fallback():
    df = frame(ids=("a",), n=30, base=1.0, amp=1.0, noise=1.5).with_columns(pl.col(Y).clip(0, 24))
    bt = backtest(
        df,
        {"broken": Broken()},
        ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, backtest=BacktestPlan(h=7, n_windows=2)),
    )
    assert bt.get_column(FALLBACK).str.starts_with("broken failed: LinAlgError").all()
    assert bt.select(pl.min_horizontal(pl.col(MEAN, *LEVEL_COLS).min())).item() >= 0
    assert bt.get_column(lo_col(95)).min() == 0.0


# -- refit every k windows -------------------------------------------------------------------------------------
class Recorder(Forecaster):
    """Predicts the mean of the history it was *fitted* on; ``update`` keeps that mean (a fixed parameter) and
    records every call, like a state-space model re-filtered with fixed parameters."""

    name = "recorder"
    tags: ClassVar[dict[str, bool]] = {"intervals": True}
    config_cls = _NoParams
    calls: ClassVar[list[tuple[str, int]]] = []
    fail_update: ClassVar[bool] = False

    def _fit(self, y, X):
        Recorder.calls.append(("fit", len(y)))
        self._mean = float(np.mean(y))

    def _update(self, y, X):
        Recorder.calls.append(("update", len(y)))
        if Recorder.fail_update:
            raise RuntimeError("filter diverged")

    def _predict(self, h, X_future, level):
        mean = np.full(h, self._mean)
        return Prediction(mean, {lv: mean - 1 for lv in level}, {lv: mean + 1 for lv in level})


def test_schedule_marks_refit_windows():
    ds = [START + dt.timedelta(days=i) for i in range(30)]
    assert [w.refit for w in backtest_schedule(ds, BacktestPlan(h=3, n_windows=5, step=2, refit_every=2))] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert all(w.refit for w in backtest_schedule(ds, BacktestPlan(h=3, n_windows=5, step=2)))
    with pytest.raises(ValueError, match="refit_every: expected an integer >= 1, got 0"):
        backtest_schedule(ds, BacktestPlan(h=3, n_windows=5, step=2, refit_every=0))


def test_refit_every_k_windows_updates_in_between():
    df = frame(ids=("a", "b"), n=30)
    Recorder.calls.clear()
    Recorder.fail_update = False
    bt = backtest(
        df,
        {"rec": Recorder()},
        ForecastSettings(freq="1d", backtest=BacktestPlan(h=2, n_windows=5, step=1, refit_every=2)),
    )
    # per series: cutoff rows 30 - 2 - (4 - w) - 1; windows 0, 2, 4 fit on 24, 26, 28 rows, 1 and 3 update
    per_series = [("fit", 24), ("update", 25), ("fit", 26), ("update", 27), ("fit", 28)]
    assert sorted(Recorder.calls) == sorted(per_series * 2)
    a = bt.filter(pl.col(ID) == "a")
    means = a.group_by(CUTOFF, maintain_order=True).agg(pl.col(MEAN).first()).get_column(MEAN).to_list()
    y = df.filter(pl.col(ID) == "a").get_column(Y).to_numpy()
    expected = [y[:24].mean(), y[:24].mean(), y[:26].mean(), y[:26].mean(), y[:28].mean()]  # parameters kept
    np.testing.assert_allclose(means, expected)


def test_default_update_refits_so_results_do_not_depend_on_k():
    df = frame(ids=("a", "b"), n=40)
    models = {"snaive": SeasonalNaive(7), "spy": Spy()}  # neither overrides _update
    plan = BacktestPlan(h=3, n_windows=4, step=2)
    Spy.seen.clear()
    every = backtest(df, models, ForecastSettings(freq="1d", backtest=plan))
    assert Spy.seen == [31, 31, 33, 33, 35, 35, 37, 37]  # cutoff rows 40 - 3 - 2 * (3 - w) - 1, both series
    every3 = ForecastSettings(freq="1d", backtest=BacktestPlan(h=3, n_windows=4, step=2, refit_every=3))
    assert every.equals(backtest(df, models, every3))


def test_failed_update_falls_back_and_the_next_window_refits():
    df = frame(ids=("a",), n=30)
    Recorder.calls.clear()
    Recorder.fail_update = True
    try:
        bt = backtest(
            df,
            {"rec": Recorder()},
            ForecastSettings(freq="1d", backtest=BacktestPlan(h=2, n_windows=3, step=1, refit_every=3)),
        )
    finally:
        Recorder.fail_update = False
    assert Recorder.calls == [("fit", 26), ("update", 27), ("fit", 28)]
    reasons = bt.group_by(CUTOFF, maintain_order=True).agg(pl.col(FALLBACK).first()).get_column(FALLBACK).to_list()
    assert reasons[0] is None and reasons[2] is None
    assert reasons[1] == "rec failed: RuntimeError: filter diverged; used seasonal_naive"
