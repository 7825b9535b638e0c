"""Model interface, SeasonalNaive and SARIMAX numbers, registry errors."""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from forecast.models import Sarimax, SeasonalNaive
from forecast.models.base import Forecaster, ForecastError, NotFittedError, Prediction, normal_quantile
from forecast.models.registry import ModelSpecError, available_models, make_model, model_factory

Z80, Z95 = 1.2815515655446004, 1.959963984540054


# -- SeasonalNaive ---------------------------------------------------------------------------------------------
def test_normal_quantiles():
    assert normal_quantile(80) == pytest.approx(Z80)
    assert normal_quantile(95) == pytest.approx(Z95)


def test_seasonal_naive_matches_hand_computation():
    y = np.array([10, 20, 30, 12, 18, 33, 11, 22, 29], dtype=float)
    pred = SeasonalNaive(3).fit(y).predict(5, level=(80, 95))
    # repeat the last season 11, 22, 29
    np.testing.assert_allclose(pred.mean, [11, 22, 29, 11, 22])
    # residuals y[t] - y[t-3]: 2, -2, 3, -1, 4, -4 -> sigma^2 = 50 / 6
    sigma = math.sqrt(50 / 6)
    # steps 1..3 reach one season ahead (k = 1), steps 4..5 two (k = 2)
    sigma_h = sigma * np.sqrt([1, 1, 1, 2, 2])
    np.testing.assert_allclose(pred.lower[95], pred.mean - Z95 * sigma_h)
    np.testing.assert_allclose(pred.upper[95], pred.mean + Z95 * sigma_h)
    np.testing.assert_allclose(pred.lower[80], pred.mean - Z80 * sigma_h)
    assert pred.upper[95][0] == pytest.approx(11 + 1.959963984540054 * 2.886751345948129)
    assert pred.levels == (80, 95)


def test_seasonal_naive_needs_more_than_one_season():
    with pytest.raises(ValueError, match=r"season_length=7\) needs more than 7 observations, got 7"):
        SeasonalNaive(7).fit(np.arange(7.0))


def test_seasonal_naive_rejects_nan_naming_positions():
    y = np.arange(20.0)
    y[[3, 11]] = np.nan
    with pytest.raises(ValueError, match=r"missing values at positions 3, 11; SeasonalNaive does not accept NaN"):
        SeasonalNaive(7).fit(y)


def test_seasonal_naive_ignores_exog():
    y = np.arange(30.0) % 7
    X = np.random.default_rng(0).normal(size=(30, 2))
    with_x = SeasonalNaive(7).fit(y, X).predict(3, X_future=np.ones((3, 2)))
    without = SeasonalNaive(7).fit(y).predict(3)
    np.testing.assert_array_equal(with_x.mean, without.mean)


def test_tags():
    assert SeasonalNaive.get_class_tag("seasonality") and not SeasonalNaive.get_class_tag("exogenous")
    assert all(Sarimax.get_class_tag(t) for t in ("exogenous", "missing", "intervals"))
    assert not Sarimax.get_class_tag("dates") and Sarimax().get_tag("intervals")
    with pytest.raises(KeyError, match="unknown tag"):
        Sarimax.get_class_tag("bogus")
    with pytest.raises(KeyError, match="unknown tag"):
        Sarimax().get_tag("bogus")


# -- validation in the public methods --------------------------------------------------------------------------
Y = np.arange(30.0) % 7 + 1.0


@pytest.mark.parametrize(
    ("y", "X", "match"),
    [
        (Y.reshape(5, 6), None, "expected a 1-D array"),
        (np.array([]), None, "empty series"),
        (np.r_[Y, np.inf], None, "infinite values at positions 30"),
        (np.full(5, np.nan), None, "every value is missing"),
        (Y, np.ones((29, 1)), "X: expected 30 rows, got 29"),
        (Y, np.ones((30, 2, 1)), "X: expected a 2-D array"),
        (Y, np.r_[np.ones(29), np.nan].reshape(30, 1), "X: missing or infinite values in rows 29"),
    ],
)
def test_fit_validation(y, X, match):
    with pytest.raises(ValueError, match=match):
        SeasonalNaive(7).fit(y, X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"h": 0}, "h: expected an integer >= 1"),
        ({"h": 2.5}, "h: expected an integer >= 1"),
        ({"h": 3, "level": (80, 100)}, r"level: 100 is outside \(0, 100\)"),
        ({"h": 3, "level": (0,)}, r"level: 0 is outside"),
        ({"h": 3, "level": ("80",)}, "level: expected integers"),
        ({"h": 3, "X_future": np.ones((2, 1))}, "X_future: expected 3 rows, got 2"),
    ],
)
def test_predict_validation(kwargs, match):
    model = SeasonalNaive(7).fit(Y)
    with pytest.raises(ValueError, match=match):
        model.predict(**kwargs)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="call fit before predict"):
        SeasonalNaive(7).predict(3)


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NanModel(Forecaster):
    name = "nan_model"
    tags: ClassVar[dict[str, bool]] = {"intervals": True}
    config_cls = _NoParams

    def _fit(self, y, X):
        pass

    def _predict(self, h, X_future, level):
        mean = np.full(h, np.nan)
        return Prediction(mean, dict.fromkeys(level, mean), dict.fromkeys(level, mean))


def test_non_finite_output_is_an_error_not_a_silent_nan():
    with pytest.raises(ForecastError, match="non-finite point forecast"):
        _NanModel().fit(Y).predict(2)


# -- SARIMAX ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def arx():
    """y = 2 + 3·x + AR(1) noise (phi 0.5); fitted once for the module."""
    rng = np.random.default_rng(42)
    n = 300
    x = rng.normal(size=n)
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = 0.5 * e[t - 1] + rng.normal(scale=0.5)
    y = 2.0 + 3.0 * x + e
    model = Sarimax(order=(1, 0, 0)).fit(y, x[:, None])
    return model, y, x


def test_sarimax_recovers_exog_coefficient(arx):
    model, _, _ = arx
    assert model.params_["x1"] == pytest.approx(3.0, abs=0.1)
    assert model.params_["ar.L1"] == pytest.approx(0.5, abs=0.15)
    # trend=None resolves to an intercept without differencing: mean level c / (1 - phi) ≈ 2
    assert model.params_["intercept"] / (1 - model.params_["ar.L1"]) == pytest.approx(2.0, abs=0.2)


def test_sarimax_forecast_moves_with_future_exog(arx):
    model, _, _ = arx
    low = model.predict(4, X_future=np.zeros((4, 1)))
    high = model.predict(4, X_future=np.ones((4, 1)))
    np.testing.assert_allclose(high.mean - low.mean, model.params_["x1"], rtol=1e-9)
    # intervals are nested and contain the mean
    for p in (low, high):
        assert np.all(p.lower[95] <= p.lower[80]) and np.all(p.lower[80] <= p.mean)
        assert np.all(p.mean <= p.upper[80]) and np.all(p.upper[80] <= p.upper[95])


def test_sarimax_intervals_match_statsmodels_conf_int(arx):
    model, _, _ = arx
    Xf = np.linspace(-1, 1, 3)[:, None]
    pred = model.predict(3, X_future=Xf, level=(90,))
    ci = model._result.get_forecast(3, exog=Xf).conf_int(alpha=0.10) * model.scale_  # fitted to y / scale_
    assert model.scale_ > 1
    np.testing.assert_allclose(pred.lower[90], ci[:, 0])
    np.testing.assert_allclose(pred.upper[90], ci[:, 1])


@pytest.mark.parametrize(
    ("X_future", "match"),
    [
        (None, "fitted with 1 regressors"),
        (np.ones((3, 2)), "expected 1 columns"),
        (np.ones((2, 1)), "expected 3 rows"),
        (np.array([[1.0], [np.nan], [1.0]]), "missing or infinite values in rows 1"),
    ],
)
def test_sarimax_future_exog_validation(arx, X_future, match):
    model, _, _ = arx
    with pytest.raises(ValueError, match=match):
        model.predict(3, X_future=X_future)


def test_sarimax_without_exog_refuses_future_exog():
    model = Sarimax(order=(1, 0, 0)).fit(np.sin(np.arange(40.0)))
    with pytest.raises(ValueError, match="fitted without X"):
        model.predict(2, X_future=np.ones((2, 1)))


def test_sarimax_takes_missing_values(arx):
    _, y, x = arx
    y = y[:120].copy()
    y[[10, 11, 50, 119]] = np.nan  # interior gaps and a missing last period
    model = Sarimax(order=(1, 0, 0)).fit(y, x[:120, None])
    pred = model.predict(2, X_future=np.zeros((2, 1)))
    assert np.isfinite(pred.mean).all()
    assert model.params_["x1"] == pytest.approx(3.0, abs=0.2)


def test_sarimax_fit_is_quiet(capsys):
    y = np.sin(np.arange(80) * 2 * np.pi / 7) + np.random.default_rng(1).normal(size=80)
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        model = Sarimax(order=(2, 0, 1), seasonal_order=(1, 0, 1, 7), maxiter=2).fit(y)
        model.predict(3)
    assert leaked == []
    assert capsys.readouterr() == ("", "")
    assert any("ConvergenceWarning" in w for w in model.fit_warnings_)


# -- registry --------------------------------------------------------------------------------------------------
def test_registry_builds_models():
    assert available_models() == sorted(
        [
            "naive",
            "seasonal_naive",
            "drift",
            "historic_average",
            "window_average",
            "naive2",
            "ets",
            "sarimax",
            "unobserved_components",
            "theta",
            "mstl",
            "prophet",
            "ensemble",
        ]
    )
    m = make_model("sarimax", {"order": [2, 1, 0], "seasonal_order": [0, 1, 1, 7]})
    assert isinstance(m, Sarimax) and m.config.order == (2, 1, 0) and m.config.resolved_trend == "n"
    assert make_model("seasonal_naive", {"season_length": 24}).config.season_length == 24
    factory = model_factory("seasonal_naive", {"season_length": 7})
    a, b = factory(), factory()
    assert a is not b and not a.is_fitted


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("arima", {}, "models.arima: unknown model; available: drift, ensemble, ets, historic_average, mstl, naive,"),
        ("sarimax", {"order": [1, 0]}, "models.sarimax.order: expected 3 integers >= 0 (p, d, q), got [1, 0]"),
        ("sarimax", {"order": [1, 0, True]}, "models.sarimax.order: expected 3 integers"),
        ("sarimax", {"ordr": [1, 0, 0]}, "models.sarimax.ordr: unknown parameter (allowed: order,"),
        ("sarimax", {"seasonal_order": [1, 0, 0, 1]}, "models.sarimax.seasonal_order: a seasonal model needs"),
        ("sarimax", {"order": [0, 1, 1], "trend": "c"}, "models.sarimax.trend: 'c' has terms of lower order"),
        ("sarimax", {"trend": "quadratic"}, "models.sarimax.trend: Input should be"),
        ("seasonal_naive", {}, "models.seasonal_naive.season_length: required parameter missing"),
        ("seasonal_naive", {"season_length": 0}, "models.seasonal_naive.season_length: Input should be greater"),
        ("seasonal_naive", {"season_length": "7"}, "models.seasonal_naive.season_length: Input should be a valid"),
    ],
)
def test_registry_errors_name_the_key(name, params, message):
    with pytest.raises(ModelSpecError) as info:
        make_model(name, params)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_clone_is_fresh_and_equal():
    m = Sarimax(order=(1, 0, 1), trend="c").fit(np.sin(np.arange(30.0)))
    c = m.clone()
    assert not c.is_fitted and c.get_params() == m.get_params()
