"""Exogenous providers: climatology by hand, per-column mapping, names, and their use inside backtests."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict

from features.contract import CUTOFF, DS, ID, MEAN, Y
from forecast.backtest import backtest
from forecast.exog import (
    ClimatologyProvider,
    ColumnProvider,
    LastValueProvider,
    OracleProvider,
    make_provider,
)
from forecast.models.base import Forecaster, Prediction
from forecast.settings import BacktestPlan, ForecastSettings


def daily(uid: str, start: dt.date, end: dt.date, value) -> pl.DataFrame:
    """Daily rows of series ``uid`` with column ``x = value(date)``."""
    days = pl.date_range(start, end, eager=True)
    return pl.DataFrame(
        {ID: uid, DS: days, "x": [value(d) for d in days.to_list()]}, schema_overrides={"x": pl.Float64}
    )


def future(uid: str, start: dt.date, n: int) -> pl.DataFrame:
    return pl.DataFrame({ID: uid, DS: pl.date_range(start, start + dt.timedelta(days=n - 1), eager=True)})


def test_climatology_by_hand():
    # a: 10 in 2022, 20 in 2023, 1000 in 2024 (the recent values must not leak into the climatology)
    a = daily("a", dt.date(2022, 1, 1), dt.date(2024, 6, 30), lambda d: {2022: 10.0, 2023: 20.0}.get(d.year, 1000.0))
    # b: four months of history only -> last value carried forward
    b = daily("b", dt.date(2024, 3, 1), dt.date(2024, 6, 30), lambda d: 7.0)
    # c: around new year: Dec 2022 / Jan 2023 are 5, the rest of 2023 (including last week's December) 1000
    c = daily("c", dt.date(2022, 12, 1), dt.date(2023, 12, 31), lambda d: 5.0 if d < dt.date(2023, 2, 1) else 1000.0)
    history = pl.concat([a, b, c])
    fut = pl.concat(
        [future("a", dt.date(2024, 7, 1), 3), future("b", dt.date(2024, 7, 1), 2), future("c", dt.date(2024, 1, 1), 2)]
    )
    out = ClimatologyProvider(window_days=3).future(history, fut, ["x"])
    assert out.select(ID, DS).equals(fut)
    # a: the 7 days around 1 July of 2022 (10) and of 2023 (20) -> 15
    assert out.get_column("x").to_list() == [15.0, 15.0, 15.0, 7.0, 7.0, 5.0, 5.0]


def test_climatology_skips_nulls_and_uses_the_window():
    def value(d: dt.date) -> float | None:
        if d == dt.date(2023, 7, 2):
            return None
        return float(d.day) if d.year == 2023 else 99.0  # day of month, 2023 only in the past

    hist = daily("a", dt.date(2023, 1, 1), dt.date(2024, 6, 30), value)
    out = ClimatologyProvider(window_days=2).future(hist, future("a", dt.date(2024, 7, 3), 1), ["x"])
    # 3 July 2024 is day 185 of a leap year: days 183..187 of 2023 = 2..6 July, 2 July null -> mean(3, 4, 5, 6)
    assert out.get_column("x").to_list() == [4.5]
    zero = ClimatologyProvider(window_days=0).future(hist, future("a", dt.date(2024, 7, 3), 1), ["x"])
    assert zero.get_column("x").to_list() == [4.0]  # day 185 of 2023 = 4 July


def test_climatology_hourly_matches_the_hour_of_day():
    ds = pl.datetime_range(dt.datetime(2023, 1, 1), dt.datetime(2024, 2, 1), "1h", time_zone="UTC", eager=True)
    hist = pl.DataFrame({ID: "k", DS: ds}).with_columns(
        pl.when(pl.col(DS).dt.year() == 2023).then(pl.col(DS).dt.hour().cast(pl.Float64)).otherwise(-1.0).alias("t")
    )
    fut = pl.DataFrame(
        {ID: "k", DS: [dt.datetime(2024, 2, 1, 5, tzinfo=dt.UTC), dt.datetime(2024, 2, 1, 17, tzinfo=dt.UTC)]}
    )
    assert ClimatologyProvider(2).future(hist, fut, ["t"]).get_column("t").to_list() == [5.0, 17.0]


def test_column_provider_and_names():
    hist = daily("a", dt.date(2023, 1, 1), dt.date(2024, 6, 30), lambda d: 1.0 if d.year == 2023 else 2.0)
    hist = hist.with_columns((pl.col("x") * 10).alias("s"))
    fut = future("a", dt.date(2024, 7, 1), 2)
    out = ColumnProvider({"x": "climatology"}).future(hist, fut, ["s", "x"])
    assert out.columns == [ID, DS, "s", "x"]
    assert out.get_column("x").to_list() == [1.0, 1.0] and out.get_column("s").to_list() == [20.0, 20.0]
    assert isinstance(make_provider(None), LastValueProvider)
    assert isinstance(make_provider("climatology"), ClimatologyProvider)
    assert isinstance(make_provider({"x": "climatology"}), ColumnProvider)
    assert isinstance(make_provider("climatology", oracle_exog=True, full=hist), OracleProvider)
    with pytest.raises(ValueError, match=r"exog_providers.x: unknown provider 'clim'; expected one of last_value"):
        make_provider({"x": "clim"})
    with pytest.raises(ValueError, match="oracle provider needs the full frame"):
        make_provider(None, oracle_exog=True)
    with pytest.raises(ValueError, match="window_days"):
        ClimatologyProvider(window_days=-1)


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EchoExog(Forecaster):
    """Forecasts the future regressor itself: the output shows exactly what the provider supplied."""

    name = "echo"
    tags: ClassVar[dict[str, bool]] = {"exogenous": True, "intervals": True}
    config_cls = _NoParams

    def _fit(self, y, X):
        pass

    def _predict(self, h, X_future, level):
        mean = X_future[:, 0].copy()
        return Prediction(mean, {lv: mean - 1 for lv in level}, {lv: mean + 1 for lv in level})


def test_backtest_uses_the_provider_per_window_without_look_ahead():
    start = dt.date(2022, 1, 1)
    df = daily("a", start, dt.date(2023, 9, 30), lambda d: float(d.year - 2000))  # 22 in 2022, 23 in 2023
    df = df.with_columns(pl.Series(Y, np.arange(df.height) % 7, dtype=pl.Float64))
    kw = ForecastSettings(freq="1d", exog=("x",), levels=(80,), backtest=BacktestPlan(h=5, n_windows=3, step=30))
    clim = backtest(df, {"echo": EchoExog()}, kw, exog_provider=make_provider({"x": "climatology"}))
    last = backtest(df, {"echo": EchoExog()}, kw)
    assert clim.get_column(CUTOFF).n_unique() == 3
    assert clim.get_column(MEAN).unique().to_list() == [22.0]  # last year's values around the same dates
    assert last.get_column(MEAN).unique().to_list() == [23.0]  # the value at the cutoff, carried forward
    # trap: changing the regressor after the first cutoff leaves window 0 untouched under both providers
    cutoff0 = clim.get_column(CUTOFF).min()
    trapped = df.with_columns(pl.when(pl.col(DS) > cutoff0).then(-1e3).otherwise(pl.col("x")).alias("x"))
    again = backtest(trapped, {"echo": EchoExog()}, kw, exog_provider=make_provider({"x": "climatology"}))
    w0 = pl.col(CUTOFF) == cutoff0
    assert again.filter(w0).get_column(MEAN).equals(clim.filter(w0).get_column(MEAN))
