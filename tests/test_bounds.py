"""No forecast value ever leaves the target's bounds: transforms by hand, then real and demo hours and counts."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from experiments.demo import generate_demo
from features.contract import CUTOFF, DS, FALLBACK, HOURS_PER_DAY, ID, MEAN, NON_NEGATIVE, Bounds, Y, hi_col, lo_col
from features.ingest.sources import daily_hours_off, read_outage_schedule_hourly, read_strike_reports
from forecast.backtest import backtest
from forecast.conformal import conformal_intervals
from forecast.core import forecast_frame
from forecast.models import Sarimax, SeasonalNaive
from forecast.output.bounds import Identity, Log1p, Logit, make_transform
from forecast.output.quantiles import exceed_columns, quantile_columns
from forecast.settings import BacktestPlan, ForecastSettings

QUANTILES = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)
HOURS_THRESHOLDS = (-1.0, 0.0, 4.0, 12.0, 16.0, 23.5, 24.0, 30.0)
COUNT_THRESHOLDS = (-1.0, 0.0, 1.0, 10.0, 100.0)
MODELS = {"snaive": SeasonalNaive(7), "sarimax": Sarimax(order=(1, 0, 0))}


def assert_inside(frame: pl.DataFrame, bounds: Bounds) -> None:
    """Every value column inside the bounds, intervals nested, quantiles ordered, exceedance a valid tail."""
    # every column is a quantile of the predictive distribution: order them by probability
    by_prob = [(0.025, lo_col(95)), (0.1, lo_col(80)), (0.5, MEAN), (0.9, hi_col(80)), (0.975, hi_col(95))]
    by_prob += list(quantile_columns(frame.columns).items())
    order = [c for _, c in sorted(by_prob)]
    assert frame.get_column(FALLBACK).null_count() == frame.height, frame.get_column(FALLBACK).drop_nulls()[0]
    values = frame.select(order).to_numpy()
    assert np.isfinite(values).all()
    lower = -np.inf if bounds.lower is None else bounds.lower
    upper = np.inf if bounds.upper is None else bounds.upper
    assert values.min() >= lower and values.max() <= upper, (values.min(), values.max())
    for left, right in itertools.pairwise(order):
        assert (frame.get_column(left) <= frame.get_column(right)).all(), (left, right)
    exceed = exceed_columns(frame.columns)
    if exceed:
        p = frame.select(exceed.values()).to_numpy()
        assert (p >= 0).all() and (p <= 1).all() and (np.diff(p, axis=1) <= 1e-12).all()
        for c, col in exceed.items():
            if c >= upper:
                assert (frame.get_column(col) == 0).all()
            if c < lower:
                assert (frame.get_column(col) == 1).all()


def _quiet_run(fn, *args, **kwargs) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _check_everything(df: pl.DataFrame, bounds: Bounds, transform: str, thresholds, *, bt_kw) -> pl.DataFrame:
    """Forecast, backtest and conformal intervals of both models inside the bounds; returns the backtest."""
    settings = ForecastSettings(
        freq="1d",
        bounds=bounds,
        quantiles=QUANTILES,
        thresholds=thresholds,
        transform=transform,
        backtest=BacktestPlan(**bt_kw),
    )
    fc = _quiet_run(forecast_frame, df, MODELS, bt_kw["h"], settings)
    assert_inside(fc, bounds)
    bt = _quiet_run(backtest, df, MODELS, settings)
    assert_inside(bt, bounds)
    conf = conformal_intervals(bt, fc, (80, 95), quantiles=QUANTILES, thresholds=thresholds, bounds=bounds)
    assert_inside(conf, bounds)
    return bt


# -- transforms by hand ----------------------------------------------------------------------------------------
def test_logit_and_log1p_by_hand():
    logit = Logit(HOURS_PER_DAY, eps=0.02)
    np.testing.assert_allclose(logit.forward(np.array([12.0, 0.0, 24.0])), [0.0, np.log(0.02 / 0.98), np.log(49)])
    hours = np.array([0.0, 0.5, 7.25, 23.5, 24.0])
    np.testing.assert_allclose(logit.inverse(logit.forward(hours)), hours, atol=1e-12)
    assert logit.inverse(np.array([-1e6, -4.0, 4.0, 1e6])).tolist() == [0.0, 0.0, 24.0, 24.0]  # beyond ±logit(1-ε)
    log1p = Log1p(NON_NEGATIVE)
    np.testing.assert_allclose(log1p.forward(np.array([0.0, np.e - 1])), [0.0, 1.0])
    assert log1p.inverse(np.array([-50.0, 800.0])).tolist() == [0.0, np.inf]  # floor at 0, no upper bound
    assert Log1p(Bounds(0.0, 100.0)).inverse(np.array([800.0])).tolist() == [100.0]
    assert np.isnan(logit.forward(np.array([np.nan]))).all()
    assert logit.forward(np.array([-3.0, 30.0])).tolist() == logit.forward(np.array([0.0, 24.0])).tolist()
    assert Identity(HOURS_PER_DAY).inverse(np.array([-2.0, 30.0])).tolist() == [0.0, 24.0]


@pytest.mark.parametrize(
    ("name", "bounds", "match"),
    [
        ("log1p", Bounds(None, 24.0), "'log1p' needs a lower bound"),
        ("logit", NON_NEGATIVE, "'logit' needs both bounds"),
        ("probit", HOURS_PER_DAY, "unknown 'probit'"),
    ],
)
def test_make_transform_errors(name, bounds, match):
    with pytest.raises(ValueError, match=match):
        make_transform(name, bounds)


def test_unbounded_count_forecasts_go_negative(demo):
    """The trap is live: without bounds the same intervals give negative counts."""
    recent = _demo_counts(demo).filter(pl.col(DS) >= pl.col(DS).max() - pl.duration(days=120))
    raw = forecast_frame(recent, {"s": SeasonalNaive(7)}, 14, ForecastSettings(freq="1d", levels=(95,)))
    assert raw.get_column(lo_col(95)).min() < 0


# -- real data -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dnipro(shared_data: Path) -> pl.DataFrame:
    folder = shared_data / "dnipro-outage-schedules"
    daily = daily_hours_off(read_outage_schedule_hourly(folder / "dnipro_schedule_hourly_final.csv"))
    ref = pl.read_csv(folder / "dnipro_outage_hours_daily.csv", try_parse_dates=True)
    assert daily.height == ref.height == 324
    assert daily.get_column("hours_off").sum() == pytest.approx(ref.get_column("hours_off_final").sum())
    return daily.select(ID, DS, pl.col("hours_off").alias(Y))


@pytest.mark.parametrize("transform", ["none", "logit"])
def test_real_dnipro_hours_stay_in_0_24(dnipro: pl.DataFrame, transform: str):
    raw = forecast_frame(dnipro, {"s": SeasonalNaive(7)}, 7, ForecastSettings(freq="1d", levels=(95,)))
    assert raw.get_column(lo_col(95)).min() < 0  # unbounded intervals leave [0, 24] on this data
    # 12 queues x 2 windows = 24 residuals per step: enough to calibrate 95 % conformal intervals
    _check_everything(dnipro, HOURS_PER_DAY, transform, HOURS_THRESHOLDS, bt_kw={"h": 7, "n_windows": 2, "step": 7})


@pytest.mark.parametrize("transform", ["none", "log1p"])
def test_real_strike_counts_stay_non_negative(shared_data: Path, transform: str):
    folder = shared_data / "missile-attacks-ua"
    daily = read_strike_reports(folder / "missile_attacks_daily.csv", folder / "missiles_and_uavs.csv")
    counts = (
        daily.tail(200)
        .select(DS, "launched_uav", "launched_missile", "n_reports")
        .unpivot(index=DS, variable_name=ID, value_name=Y)
        .select(ID, DS, Y)
        .sort(ID, DS)
    )
    assert counts.get_column(Y).min() == 0  # days without missiles: the lower bound is reached
    plan = {"h": 14, "n_windows": 7, "step": 14, "input_size": 90}  # 3 series x 7 windows = 21 residuals per step
    _check_everything(counts, NON_NEGATIVE, transform, COUNT_THRESHOLDS, bt_kw=plan)


# -- demo data -------------------------------------------------------------------------------------------------
_COUNT_COLS = ("launched_uav", "launched_missile", "destroyed_missile")


def _demo_counts(d) -> pl.DataFrame:
    return (
        d.strikes_daily.select(pl.col("date").alias(DS), *[pl.col(c).cast(pl.Float64) for c in _COUNT_COLS])
        .unpivot(index=DS, variable_name=ID, value_name=Y)
        .select(ID, DS, Y)
        .sort(ID, DS)
    )


@pytest.fixture(scope="module")
def demo():
    return generate_demo()


@pytest.mark.parametrize("transform", ["none", "logit"])
def test_demo_hours_stay_in_0_24(demo, transform: str):
    regions = ["kharkiv", "lviv", "odesa", "zaporizhzhia"]
    o = demo.truth.filter(pl.col("region").is_in(regions)).select(
        pl.col("region").alias(ID), pl.col("date").alias(DS), pl.col("hours_off").alias(Y)
    )
    df = o.filter(pl.col(DS) >= pl.col(DS).max() - pl.duration(days=450)).sort(ID, DS)
    assert df.get_column(Y).max() == 24 and df.get_column(Y).min() < 1  # both bounds are approached
    # quarterly windows, cutoffs from near outage-free summers to 24-hour winter days; 4 x 5 = 20 residuals per step
    plan = {"h": 14, "n_windows": 5, "step": 91, "input_size": 60}
    bt = _check_everything(df, HOURS_PER_DAY, transform, HOURS_THRESHOLDS, bt_kw=plan)
    months = {d.month for d in bt.get_column(CUTOFF).unique().to_list()}
    assert months & {6, 7, 8, 9} and months & {12, 1, 2}


@pytest.mark.parametrize("transform", ["none", "log1p"])
def test_demo_counts_stay_non_negative(demo, transform: str):
    df = _demo_counts(demo).filter(pl.col(DS) >= pl.col(DS).max() - pl.duration(days=300))
    plan = {"h": 14, "n_windows": 7, "step": 30, "input_size": 90}  # 3 series x 7 windows = 21 residuals per step
    _check_everything(df, NON_NEGATIVE, transform, COUNT_THRESHOLDS, bt_kw=plan)
