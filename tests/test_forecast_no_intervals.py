"""Models without intervals of their own in the frame layer: their own mean, never the fallback's; intervals from
conformal calibration when a backtest is given, else null with an ``interval_note`` on exactly those rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from pydantic import BaseModel

from features.contract import DS, FALLBACK, ID, MEAN, MODEL, Bounds, Y, hi_col, lo_col
from forecast.backtest import backtest
from forecast.conformal import conformal_intervals
from forecast.core import forecast_frame
from forecast.models import SeasonalNaive, WindowAverage, registry
from forecast.models.base import Forecaster, Prediction
from forecast.models.common import CONFIG
from forecast.models.registry import make_model
from forecast.output.quantiles import INTERVAL_NOTE, p_exceed_col, q_col
from forecast.settings import BacktestPlan, ForecastSettings

IDS = ("a", "b", "c", "d")
N, H, WINDOW = 80, 3, 5
BOUNDS = Bounds(0.0, 24.0)
COMMON = ForecastSettings(freq="1d", levels=(80, 95), quantiles=(0.1, 0.5, 0.9), thresholds=(12.0,), bounds=BOUNDS)
INTERVAL_COLS = [lo_col(80), hi_col(80), lo_col(95), hi_col(95), q_col(0.1), q_col(0.9), p_exceed_col(12.0)]


def frame() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    start = dt.date(2024, 1, 1)
    parts = []
    for k, uid in enumerate(IDS):
        t = np.arange(N)
        y = 12 + 4 * np.sin(2 * np.pi * t / 7 + k) + rng.normal(0, 1.0, N)
        ds = [start + dt.timedelta(days=int(i)) for i in t]
        parts.append(pl.DataFrame({ID: [uid] * N, DS: ds, Y: y}, schema_overrides={DS: pl.Date}))
    return pl.concat(parts)


def own_means(df: pl.DataFrame) -> dict[str, float]:
    return {uid: float(part[Y].tail(WINDOW).mean()) for (uid,), part in df.partition_by(ID, as_dict=True).items()}


def test_window_average_gives_its_own_mean_and_says_why_its_intervals_are_null():
    df = frame()
    models = {"wa": WindowAverage(WINDOW), "snaive": SeasonalNaive(7)}
    fc = forecast_frame(df, models, H, COMMON)
    wa = fc.filter(pl.col(MODEL) == "wa")
    assert wa[FALLBACK].null_count() == wa.height  # nothing failed: no fallback stood in
    means = own_means(df)
    for (uid,), part in wa.partition_by(ID, as_dict=True).items():
        np.testing.assert_allclose(part[MEAN].to_numpy(), means[uid])
    snaive_means = fc.filter(pl.col(MODEL) == "snaive")[MEAN].to_numpy()
    assert not np.allclose(wa[MEAN].to_numpy(), snaive_means)  # not the seasonal-naive fallback
    assert wa.select(INTERVAL_COLS).null_count().row(0) == (wa.height,) * len(INTERVAL_COLS)
    np.testing.assert_array_equal(wa[q_col(0.5)].to_numpy(), wa[MEAN].to_numpy())  # the median is the mean
    assert wa[INTERVAL_NOTE].str.starts_with("wa gives no intervals of its own").all()
    other = fc.filter(pl.col(MODEL) == "snaive")
    assert other[INTERVAL_NOTE].null_count() == other.height
    assert other.select(INTERVAL_COLS).null_count().sum_horizontal().item() == 0


def test_without_such_a_model_there_is_no_note_column_and_mean_only_requests_need_none():
    df = frame()
    assert INTERVAL_NOTE not in forecast_frame(df, {"snaive": SeasonalNaive(7)}, H, COMMON).columns
    fc = forecast_frame(df, {"wa": WindowAverage(WINDOW)}, H, ForecastSettings(freq="1d", levels=()))
    assert fc.columns == [ID, DS, MODEL, MEAN, FALLBACK] and fc[FALLBACK].null_count() == fc.height


def test_calibration_gives_conformal_intervals_to_models_without_their_own():
    df = frame()
    models = {"wa": WindowAverage(WINDOW), "snaive": SeasonalNaive(7)}
    # 4 series x 6 windows = 24 scores per step
    bt = backtest(df, models, COMMON.replace(backtest=BacktestPlan(H, n_windows=6)))
    plain = forecast_frame(df, models, H, COMMON)
    fc = forecast_frame(df, models, H, COMMON, calibration=bt)
    assert INTERVAL_NOTE not in fc.columns
    assert fc.columns == [c for c in plain.columns if c != INTERVAL_NOTE]
    assert fc.select(MEAN, *INTERVAL_COLS).null_count().sum_horizontal().item() == 0
    assert fc.filter(pl.col(MODEL) == "snaive").equals(plain.filter(pl.col(MODEL) == "snaive").drop(INTERVAL_NOTE))
    wa = fc.filter(pl.col(MODEL) == "wa")
    expected = conformal_intervals(
        bt.filter(pl.col(MODEL) == "wa"),
        plain.filter(pl.col(MODEL) == "wa"),
        (80, 95),
        quantiles=(0.1, 0.5, 0.9),
        thresholds=(12.0,),
        bounds=BOUNDS,
    )
    assert wa.equals(expected)
    assert (wa[lo_col(95)] <= wa[lo_col(80)]).all() and (wa[lo_col(80)] < wa[MEAN]).all()
    assert (wa[MEAN] < wa[hi_col(80)]).all() and (wa[hi_col(80)] <= wa[hi_col(95)]).all()


def test_calibration_without_the_model_is_an_error():
    df = frame()
    bt = backtest(df, {"snaive": SeasonalNaive(7)}, COMMON.replace(backtest=BacktestPlan(H, n_windows=6)))
    with pytest.raises(ValueError, match="no calibration residuals for model 'wa'"):
        forecast_frame(df, {"wa": WindowAverage(WINDOW)}, H, COMMON, calibration=bt)


def test_an_ensemble_with_a_member_without_intervals_is_not_replaced_by_the_fallback():
    df = frame()
    members = [{"name": "window_average", "params": {"window": WINDOW}}, {"name": "naive"}]
    fc = forecast_frame(df, {"ens": make_model("ensemble", {"members": members})}, H, COMMON)
    assert fc[FALLBACK].null_count() == fc.height and fc[INTERVAL_NOTE].null_count() == 0
    means = own_means(df)
    last = {uid: float(part[Y][-1]) for (uid,), part in df.partition_by(ID, as_dict=True).items()}
    for (uid,), part in fc.partition_by(ID, as_dict=True).items():
        np.testing.assert_allclose(part[MEAN].to_numpy(), (means[uid] + last[uid]) / 2)


def test_a_failing_model_without_intervals_falls_back_with_the_fallbacks_intervals():
    df = frame()
    fc = forecast_frame(df, {"wa": WindowAverage(N + 1)}, H, COMMON)  # window longer than the history
    assert fc[FALLBACK].str.contains("wa failed").all()
    assert fc[INTERVAL_NOTE].null_count() == fc.height  # the rows are the fallback's, with its intervals
    assert fc.select(INTERVAL_COLS).null_count().sum_horizontal().item() == 0


def test_backtest_rows_carry_the_note_and_conformal_intervals_drop_it():
    df = frame()
    bt = backtest(df, {"wa": WindowAverage(WINDOW)}, COMMON.replace(backtest=BacktestPlan(H, n_windows=6)))
    assert bt[INTERVAL_NOTE].null_count() == 0 and bt[lo_col(80)].null_count() == bt.height
    filled = conformal_intervals(bt, bt, (80,), bounds=BOUNDS)
    assert INTERVAL_NOTE not in filled.columns and filled[lo_col(80)].null_count() == 0


class LastPoint(Forecaster):
    """A registrable model without intervals or parameters (the last value), for the fallback check."""

    name = "last_point"
    config_cls = type("LastPointConfig", (BaseModel,), {"model_config": CONFIG})

    def _fit(self, y, X):
        self.last_ = y[-1]

    def _predict(self, h, X_future, level):
        return Prediction(np.full(h, self.last_))


def test_a_fallback_without_intervals_is_refused_when_intervals_are_asked_for(monkeypatch):
    monkeypatch.setitem(registry._MODELS, "last_point", LastPoint)
    with pytest.raises(ValueError, match="fallback: last_point gives no intervals"):
        forecast_frame(frame(), {"snaive": SeasonalNaive(7)}, H, COMMON.replace(fallback="last_point"))
    fc = forecast_frame(
        frame(), {"snaive": SeasonalNaive(7)}, H, ForecastSettings(freq="1d", levels=(), fallback="last_point")
    )
    assert fc[FALLBACK].null_count() == fc.height
