"""The frame layer hands models with the ``dates`` tag (Prophet) the series' real dates: Prophet's history is the
frame's ``ds`` and a holiday effect lands on the holiday's date.

Ukraine's public holidays are suspended under martial law (24 February 2022 on), so the series here end before
that: the ``holidays`` package lists New Year (1 January) and Orthodox Christmas (7 January) for 2022.
"""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import polars as pl
import pytest

from features.contract import DS, FALLBACK, ID, MEAN, Y
from forecast.backtest import backtest
from forecast.core import forecast_frame
from forecast.models import Ensemble, Prophet
from forecast.models.registry import make_model
from forecast.settings import BacktestPlan, ForecastSettings

START, END = dt.date(2019, 3, 15), dt.date(2021, 12, 31)  # not from 1 January: synthetic dates would not line up
BUMP = 6.0


class Recorder:
    """A factory of Prophet models that keeps every model it made (to look at them after the frame call)."""

    def __init__(self, **params) -> None:
        self.params = params
        self.made: list[Prophet] = []

    def __call__(self) -> Prophet:
        model = Prophet(uncertainty_samples=50, **self.params)
        self.made.append(model)
        return model


def holiday_frame() -> tuple[pl.DataFrame, set[dt.date]]:
    days = pl.date_range(START, END, "1d", eager=True)
    ua = holidays.country_holidays("UA", years=range(START.year, END.year + 2))
    on_holiday = np.array([d in ua for d in days.to_list()])
    rng = np.random.default_rng(3)
    t = np.arange(days.len())
    y = 10 + np.sin(2 * np.pi * t / 7) + BUMP * on_holiday + rng.normal(0, 0.3, t.size)
    y[:4] = np.nan  # leading gaps are dropped, an interior one is skipped by Prophet: ds must stay aligned with y
    y[100] = np.nan
    frame = pl.DataFrame({ID: "x", DS: days, Y: y}).with_columns(pl.col(Y).fill_nan(None))
    return frame, set(ua)


def test_prophet_gets_the_frame_dates_and_the_holiday_lands_on_its_date():
    df, ua = holiday_frame()
    rec = Recorder(yearly_seasonality=False)
    fc = forecast_frame(df, {"prophet": rec}, 14, ForecastSettings(freq="1d", levels=()))
    assert fc[FALLBACK].null_count() == fc.height
    (model,) = rec.made[1:]  # the first one only told the frame layer its tags
    seen = model._model.history["ds"].dt.date.tolist()
    assert seen == df.filter(pl.col(Y).is_not_null())[DS].to_list()
    future = fc[DS].to_list()
    assert future[0] == END + dt.timedelta(days=1)
    feast = np.isin(future, [dt.date(2022, 1, 1), dt.date(2022, 1, 7)])  # New Year, Orthodox Christmas
    assert feast.sum() == 2 and all(d in ua for d in np.array(future)[feast])
    mean = fc[MEAN].to_numpy()
    ordinary = np.array([d not in ua for d in future])
    assert mean[feast].min() - np.median(mean[ordinary]) > BUMP / 2


def test_without_the_dates_the_same_model_puts_the_holiday_elsewhere():
    """The check above can fail: Prophet fed synthetic dates (from 2000-01-01) misses the holiday."""
    df, ua = holiday_frame()
    y = df.filter(pl.col(Y).is_not_null())[Y].to_numpy()
    pred = Prophet(yearly_seasonality=False, uncertainty_samples=50).fit(y).predict(14, level=())
    future = [END + dt.timedelta(days=i) for i in range(1, 15)]
    feast = np.isin(future, [dt.date(2022, 1, 1), dt.date(2022, 1, 7)])
    ordinary = np.array([d not in ua for d in future])
    assert pred.mean[feast].min() - np.median(pred.mean[ordinary]) < BUMP / 2


@pytest.mark.parametrize("refit_every", [1, 2])
def test_backtest_windows_pass_dates_on_fit_and_update(refit_every):
    df, _ = holiday_frame()
    rec = Recorder(yearly_seasonality=False, weekly_seasonality=True, country_holidays=None)
    bt = backtest(
        df,
        {"prophet": rec},
        ForecastSettings(freq="1d", levels=(80,), backtest=BacktestPlan(h=7, n_windows=2, refit_every=refit_every)),
    )
    assert bt[FALLBACK].null_count() == bt.height
    fitted = [m for m in rec.made if m.is_fitted]
    assert fitted and fitted[-1]._model.history["ds"].dt.date.max() == END - dt.timedelta(days=7)


def test_an_ensemble_passes_the_dates_to_its_prophet_member():
    df, _ = holiday_frame()
    prophet = {"name": "prophet", "params": {"yearly_seasonality": False, "uncertainty_samples": 50}}
    members = [prophet, {"name": "naive"}]
    made: list[Ensemble] = []

    def factory() -> Ensemble:
        made.append(make_model("ensemble", {"members": members}))
        return made[-1]

    fc = forecast_frame(df, {"ens": factory}, 7, ForecastSettings(freq="1d", levels=()))
    assert fc[FALLBACK].null_count() == fc.height
    assert made[-1].members_[0]._model.history["ds"].dt.date.max() == END
