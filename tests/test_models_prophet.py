"""Prophet: extra regressors move the forecast, Ukrainian holidays, dates given or synthesised, quiet fits.

Prophet fits take about a second: the module fits once (plus one small fit without dates).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from forecast.models import Prophet

N = 400
RNG = np.random.default_rng(7)
DATES = np.datetime64("2021-01-01") + np.arange(N).astype("timedelta64[D]")  # before martial law: see below
X = RNG.normal(size=(N, 1))
Y = 10 + 0.01 * np.arange(N) + 2 * np.sin(2 * np.pi * np.arange(N) / 7) + 3.0 * X[:, 0] + RNG.normal(0, 0.3, N)


@pytest.fixture(scope="module")
def fitted():
    model = Prophet(yearly_seasonality=False, uncertainty_samples=200)
    return model.fit(Y, X, ds=DATES)


def test_prophet_forecast_moves_with_the_regressor(fitted):
    low = fitted.predict(7, X_future=np.zeros((7, 1)), level=())
    high = fitted.predict(7, X_future=np.ones((7, 1)), level=())
    np.testing.assert_allclose(high.mean - low.mean, high.mean[0] - low.mean[0])  # a linear, constant effect
    assert high.mean[0] - low.mean[0] == pytest.approx(3.0, abs=0.3)


def test_prophet_has_ukrainian_holidays_and_uses_the_dates(fitted):
    # Ukraine's public holidays are suspended under martial law (since 24 Feb 2022): the holidays package
    # lists none from 2023 on, so only a history before that carries holiday effects.
    names = set(fitted._model.train_holiday_names)
    assert any("Independence" in n for n in names), names
    assert fitted._last == DATES[-1]


def test_prophet_intervals_are_nested_seeded_and_contain_the_mean(fitted):
    a = fitted.predict(14, X_future=np.zeros((14, 1)), level=(80, 95))
    b = fitted.predict(14, X_future=np.zeros((14, 1)), level=(80, 95))
    np.testing.assert_array_equal(a.lower[95], b.lower[95])  # same seed, same samples
    assert np.all(a.lower[95] <= a.lower[80]) and np.all(a.lower[80] <= a.mean)
    assert np.all(a.mean <= a.upper[80]) and np.all(a.upper[80] <= a.upper[95])
    assert np.all(a.upper[95] - a.lower[95] > 0.5)  # noise sd 0.3: the 95 % band is wider than 1.2 at least


def test_prophet_without_dates_synthesises_them_and_is_quiet(caplog, capfd):
    caplog.set_level(logging.INFO)
    model = Prophet(freq="1h", country_holidays=None, uncertainty_samples=50).fit(Y[:200])
    assert model._last == np.datetime64("2000-01-01T00:00") + np.timedelta64(199, "h")
    assert np.isfinite(model.predict(24, level=(80,)).mean).all()
    assert not [r for r in caplog.records if r.name.startswith(("cmdstanpy", "prophet"))]
    out, err = capfd.readouterr()
    assert "cmdstanpy" not in out + err


def test_prophet_checks_the_dates():
    with pytest.raises(ValueError, match="ds: expected 10 dates"):
        Prophet().fit(Y[:10], ds=DATES[:9])
    with pytest.raises(ValueError, match="strictly increasing"):
        Prophet().fit(Y[:3], ds=DATES[[0, 2, 1]])
