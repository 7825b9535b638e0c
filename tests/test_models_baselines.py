"""Benchmark models against hand computations and statsforecast; the M4 seasonality test and decomposition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecast.models import Drift, HistoricAverage, Naive, Naive2, SeasonalNaive, WindowAverage
from forecast.models.common import acf, centred_moving_average, multiplicative_indices, seasonality_test

Z80 = 1.2815515655446004
Y = np.array([3.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0])


def test_naive_by_hand():
    pred = Naive().fit(Y).predict(3, level=(80,))
    np.testing.assert_array_equal(pred.mean, [9, 9, 9])
    # one-step residuals 2, -1, 2, 2, -1, 2: sigma^2 = 18 / 6
    sigma = math.sqrt(18 / 6)
    np.testing.assert_allclose(pred.lower[80], 9 - Z80 * sigma * np.sqrt([1, 2, 3]))


def test_drift_by_hand():
    pred = Drift().fit(Y).predict(3, level=(80,))
    slope = (9 - 3) / 6
    np.testing.assert_allclose(pred.mean, 9 + slope * np.array([1, 2, 3]))
    resid = np.diff(Y) - slope
    sigma = math.sqrt(np.sum(resid**2) / 6)
    steps = np.array([1, 2, 3])
    np.testing.assert_allclose(pred.upper[80], pred.mean + Z80 * sigma * np.sqrt(steps * (1 + steps / 6)))


def test_historic_and_window_average_by_hand():
    pred = HistoricAverage().fit(Y).predict(2, level=(80,))
    np.testing.assert_allclose(pred.mean, [6, 6])
    sigma = math.sqrt(np.sum((Y - 6) ** 2) / 6)
    np.testing.assert_allclose(pred.lower[80], 6 - Z80 * sigma * math.sqrt(1 + 1 / 7))
    np.testing.assert_allclose(WindowAverage(3).fit(Y).predict(4, level=()).mean, [8, 8, 8, 8])


def test_window_average_has_no_intervals_and_needs_its_window():
    assert not WindowAverage.get_class_tag("intervals") and not WindowAverage(3).get_tag("intervals")
    with pytest.raises(ValueError, match="gives no intervals"):
        WindowAverage(3).fit(Y).predict(2)
    with pytest.raises(ValueError, match=r"WindowAverage\(window=10\) needs at least 10 observations, got 7"):
        WindowAverage(10).fit(Y)


@pytest.fixture(scope="module")
def sf():
    """statsforecast's models (imported on first use: the import compiles numba code)."""
    return pytest.importorskip("statsforecast.models")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (Naive(), ("Naive", {})),
        (SeasonalNaive(7), ("SeasonalNaive", {"season_length": 7})),
        (Drift(), ("RandomWalkWithDrift", {})),
        (HistoricAverage(), ("HistoricAverage", {})),
    ],
    ids=["naive", "seasonal_naive", "drift", "historic_average"],
)
def test_baselines_match_statsforecast(sf, ours, theirs):
    theirs = getattr(sf, theirs[0])(**theirs[1])
    rng = np.random.default_rng(3)
    y = 50 + np.cumsum(rng.normal(size=60)) + 3 * np.sin(np.arange(60) * 2 * np.pi / 7)
    pred = ours.fit(y).predict(10, level=(80, 95))
    ref = theirs.forecast(y, 10, level=[80, 95])
    np.testing.assert_allclose(pred.mean, ref["mean"], rtol=1e-12)
    for lv in (80, 95):
        np.testing.assert_allclose(pred.lower[lv], ref[f"lo-{lv}"], rtol=1e-10)
        np.testing.assert_allclose(pred.upper[lv], ref[f"hi-{lv}"], rtol=1e-10)


def test_window_average_matches_statsforecast(sf):
    y = np.random.default_rng(4).gamma(2.0, size=40)
    ref = sf.WindowAverage(window_size=9).forecast(y, 5)["mean"]
    np.testing.assert_allclose(WindowAverage(9).fit(y).predict(5, level=()).mean, ref)


@pytest.mark.parametrize("model", [Naive(), Drift(), HistoricAverage()])
def test_too_short_raises(model):
    with pytest.raises(ValueError, match="needs at least 2 observations, got 1"):
        model.fit(np.array([1.0]))


# -- M4 seasonality --------------------------------------------------------------------------------------------
def test_acf_by_hand():
    x = np.array([1.0, 3.0, 2.0, 4.0])  # mean 2.5, deviations -1.5, .5, -.5, 1.5; sum of squares 5
    np.testing.assert_allclose(acf(x, 2), [(-0.75 - 0.25 - 0.75) / 5, (0.75 + 0.75) / 5])


def test_seasonality_test_criterion():
    t = np.arange(96)
    seasonal = 10 + np.sin(2 * np.pi * t / 24)
    assert seasonality_test(seasonal, 24)
    noise = np.random.default_rng(0).normal(size=96)
    r = acf(noise, 24)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / 96)
    assert seasonality_test(noise, 24) == (abs(r[-1]) > limit)
    assert not seasonality_test(seasonal[:71], 24)  # fewer than three seasons
    assert not seasonality_test(seasonal, 1)


def test_centred_moving_average_is_2x4_for_even_m():
    y = np.arange(1.0, 11.0) ** 2
    cma = centred_moving_average(y, 4)
    assert np.isnan(cma[:2]).all() and np.isnan(cma[-2:]).all()
    assert cma[2] == pytest.approx((0.5 * y[0] + y[1] + y[2] + y[3] + 0.5 * y[4]) / 4)


def test_multiplicative_indices_recover_a_pure_pattern():
    pattern = np.array([0.8, 1.2, 1.0, 1.0])
    y = 100 * np.tile(pattern, 6)
    np.testing.assert_allclose(multiplicative_indices(y, 4), pattern)
    # positions count from the first observation: a series starting at position 1 gets rolled indices
    np.testing.assert_allclose(multiplicative_indices(y[1:], 4), np.roll(pattern, -1))


def test_naive2_by_hand():
    pattern = np.array([0.5, 1.5, 1.0, 1.0])
    level = np.r_[np.full(12, 100.0), np.full(12, 120.0)]  # a level shift, seasonal throughout
    y = level * np.tile(pattern, 6)
    model = Naive2(4).fit(y)
    assert model.seasonal_
    idx = multiplicative_indices(y, 4)
    adjusted_last = y[-1] / idx[23 % 4]
    np.testing.assert_allclose(model.predict(6, level=()).mean, adjusted_last * idx[(24 + np.arange(6)) % 4])


def test_naive2_is_naive_when_not_seasonal():
    y = np.random.default_rng(1).normal(10, 1, size=100)
    model = Naive2(24).fit(y)
    assert not model.seasonal_
    np.testing.assert_array_equal(model.predict(5, level=()).mean, Naive().fit(y).predict(5, level=()).mean)
    np.testing.assert_allclose(model.predict(5).upper[95], Naive().fit(y).predict(5).upper[95])


def test_naive2_decomposes_a_non_positive_seasonal_series_additively():
    t = np.arange(96)
    y = np.sin(2 * np.pi * t / 24)  # seasonal, moving-average trend around zero: no multiplicative indices
    model = Naive2(24).fit(y)
    assert model.seasonal_ and model.decomposition_.additive
    pred = model.predict(24, level=(80,))
    np.testing.assert_allclose(pred.mean, y[-24:], atol=0.02)  # the cycle continued: indices added back
    assert (pred.lower[80] < pred.mean).all() and (pred.upper[80] > pred.mean).all()
    positive = Naive2(24).fit(y + 5.0)  # a positive series keeps M4's multiplicative decomposition
    assert positive.seasonal_ and not positive.decomposition_.additive


@pytest.mark.parametrize("transform", ["none", "logit"])
def test_naive2_and_theta_run_under_every_transform(transform):
    """Under logit the transformed hours are negative where few hours are off: the decomposition goes additive
    instead of failing, so neither model falls back (it did on every series before)."""
    from datetime import date, timedelta

    import polars as pl

    from features.contract import HOURS_PER_DAY
    from forecast.core import forecast_frame
    from forecast.models import Theta
    from forecast.settings import ForecastSettings

    t = np.arange(120)
    hours = np.clip(4 + 3 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(5).normal(0, 0.5, t.size), 0, 24)
    df = pl.DataFrame({"unique_id": "a", "ds": [date(2024, 1, 1) + timedelta(days=int(i)) for i in t], "y": hours})
    settings = ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, transform=transform, levels=(80,))
    out = forecast_frame(df, {"naive2": Naive2(7), "theta": Theta(season_length=7)}, 7, settings)
    assert out["fallback_reason"].null_count() == out.height
    assert out["mean"].min() >= 0 and out["hi-80"].max() <= 24
    assert out.filter(pl.col("model") == "naive2")["mean"].std() > 1  # the weekly cycle is forecast
