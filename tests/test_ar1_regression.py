"""The exact AR(1)-regression MLE (forecast/models/ar1_regression.py) against statsmodels' SARIMAX(1, 0, 0): the
same likelihood, an optimum at least as high, the same parameters to statsmodels' optimiser tolerance, and the same
forecasts through :class:`~forecast.models.statespace.Sarimax`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.models.ar1_regression import fit_ar1_regression
from forecast.models.statespace import Sarimax


def _series(seed: int, n: int = 400, phi: float = 0.6, gaps: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.gamma(2.0, 1.0, n), np.cumsum(rng.normal(size=n)) / 10, np.zeros(n)])
    raids = rng.random(n) < 0.1
    X[raids, 2] = rng.poisson(3.0, raids.sum())
    u = np.empty(n)
    u[0] = rng.normal() / np.sqrt(1 - phi**2)
    for t in range(1, n):
        u[t] = phi * u[t - 1] + rng.normal()
    y = 2.0 + X @ np.array([0.8, -1.5, 0.3]) + 0.7 * u
    if gaps:
        y[rng.choice(n, 25, replace=False)] = np.nan
        y[100:107] = np.nan  # a week missing: a gap of k = 8 between observations
        y[0] = np.nan  # the series starts with a gap
    return y, X


def _statsmodels(y: np.ndarray, X: np.ndarray | None, trend: str) -> tuple[SARIMAX, object]:
    model = SARIMAX(y, exog=X, order=(1, 0, 0), trend=trend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, model.fit(disp=False)


@pytest.mark.parametrize(
    ("seed", "phi", "trend", "exog", "gaps"),
    [(1, 0.6, "c", True, True), (2, -0.4, "c", True, False), (3, 0.95, "n", True, True), (4, 0.3, "c", False, True)],
)
def test_the_likelihood_is_statsmodels_and_its_optimum_is_reached(
    seed: int, phi: float, trend: str, exog: bool, gaps: bool
) -> None:
    y, X = _series(seed, phi=phi, gaps=gaps)
    X = X if exog else None
    fit = fit_ar1_regression(y, X, intercept=trend == "c")
    model, res = _statsmodels(y, X, trend)
    ours = np.array([*([fit.intercept] if trend == "c" else []), *fit.beta, fit.phi, fit.sigma2])
    # the same likelihood: statsmodels' Kalman filter at our parameters gives our log-likelihood
    assert model.loglike(ours) == pytest.approx(fit.llf, abs=1e-8)
    # the exact optimum: never below statsmodels' L-BFGS, and not far above (both are the MLE)
    assert fit.llf >= res.llf - 1e-7
    assert fit.llf - res.llf < 1e-3
    theirs = np.asarray(res.params)
    assert np.allclose(ours, theirs, rtol=5e-3, atol=5e-3), (ours, theirs)
    assert abs(fit.phi - phi) < 0.15  # and the truth is recovered


def test_a_near_unit_root_stays_stationary_and_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    y = np.cumsum(rng.normal(size=300)) + 50.0
    fit = fit_ar1_regression(y, None, intercept=True)
    _, res = _statsmodels(y, None, "c")
    assert 0.9 < fit.phi < 1.0
    assert fit.llf >= res.llf - 1e-7


def test_too_few_observations_are_refused() -> None:
    y = np.array([1.0, np.nan, 2.0, 3.0, np.nan])
    with pytest.raises(ValueError, match="3 observed values for 5 parameters"):
        fit_ar1_regression(y, np.ones((5, 2)), intercept=True)


def test_sarimax_forecasts_as_with_statsmodels_optimiser() -> None:
    y, X = _series(7)
    n, h = 380, 20
    fast = Sarimax(order=(1, 0, 0), trend="c").fit(y[:n], X[:n])
    slow = Sarimax(order=(1, 0, 0), trend="c", exact_ar1=False).fit(y[:n], X[:n])
    a = fast.predict(h, X[n:], level=(80,))
    b = slow.predict(h, X[n:], level=(80,))
    spread = np.nanstd(np.diff(y))
    assert np.max(np.abs(a.mean - b.mean)) < 1e-3 * spread
    assert np.max(np.abs(a.upper[80] - b.upper[80])) < 1e-3 * spread
    assert fast.params_.keys() == slow.params_.keys()
    assert fast.params_["ar.L1"] == pytest.approx(slow.params_["ar.L1"], abs=2e-3)
    # a regressor that is zero over the history gets no weight (least squares' minimum norm), not an arbitrary one
    X0 = X.copy()
    X0[:n, 2] = 0.0
    zero = Sarimax(order=(1, 0, 0), trend="c").fit(y[:n], X0[:n])
    assert list(zero.params_.values())[3] == 0.0  # statsmodels names an all-zero column "const"
    assert np.all(np.isfinite(zero.predict(h, X0[n:], level=(80,)).mean))


def test_other_orders_keep_statsmodels_optimiser() -> None:
    model = Sarimax(order=(2, 0, 0), trend="c")
    assert not model._exact_ar1(((2, 0, 0), (0, 0, 0, 0)))
    assert not model._exact_ar1(((1, 0, 0), (1, 0, 0, 7)))
    assert Sarimax(order=(1, 0, 0), trend="c")._exact_ar1(((1, 0, 0), (0, 0, 0, 0)))


@pytest.mark.parametrize("trailing_gap", [0, 3])
def test_the_closed_form_forecast_is_statsmodels_kalman_filter(trailing_gap: int) -> None:
    """Predictions of the exact path (closed form) equal statsmodels' filter at the same parameters: after the
    fit, with missing last periods, and after an update on a longer history."""
    y, X = _series(9)
    n, h = 300, 10
    y = y.copy()
    if trailing_gap:
        y[n - trailing_gap : n] = np.nan
    model = Sarimax(order=(1, 0, 0), trend="c").fit(y[:n], X[:n])
    for length in (n, n + 40):
        if length > n:
            model.update(y[:length], X[:length])
        got = model.predict(h, X[length : length + h], level=(80, 95))
        sm = model._result.get_forecast(h, exog=X[length : length + h])  # built at the same parameters
        s = model.scale_
        np.testing.assert_allclose(got.mean, np.asarray(sm.predicted_mean) * s, rtol=1e-10, atol=1e-10)
        for lv in (80, 95):
            ci = np.asarray(sm.conf_int(alpha=1 - lv / 100)) * s
            np.testing.assert_allclose(got.lower[lv], ci[:, 0], rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(got.upper[lv], ci[:, 1], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("columns", ["none", "plain", "zero_first", "ones_last"])
def test_parameter_names_are_statsmodels(columns: str) -> None:
    """The exact path names its parameters without building a SARIMAX when every regressor varies, and asks
    statsmodels otherwise: the names are statsmodels' own either way (and a constant beside the intercept is
    refused as statsmodels refuses it)."""
    from forecast.models.statespace import sarimax_ar1_names

    y, X = _series(10, gaps=False)
    X = {
        "none": None,
        "plain": X[:, :2],
        "zero_first": np.column_stack([np.zeros(y.size), X[:, :2]]),
        "ones_last": np.column_stack([X[:, :2], np.ones(y.size)]),
    }[columns]
    assert (sarimax_ar1_names(X, intercept=True) is None) == (columns in ("zero_first", "ones_last"))
    for trend in ("c", "n"):
        try:
            want = SARIMAX(y, exog=X, order=(1, 0, 0), trend=trend).param_names
        except ValueError:
            assert columns == "ones_last" and trend == "c"
            with pytest.raises(ValueError, match="constant"):
                Sarimax(order=(1, 0, 0), trend=trend).fit(y, X)
            continue
        assert sarimax_ar1_names(X, intercept=trend == "c") in (None, want)
        assert list(Sarimax(order=(1, 0, 0), trend=trend).fit(y, X).params_) == want
