"""The numba ETS likelihood (forecast.models.ets_kernels, ets_fit) against statsmodels' ETSModel.

The kernels run statsmodels' recursion operation for operation and the optimiser is set up as ``ETSModel.fit``
sets it up, so on this machine the results are bit-identical; the tests allow 1e-10 (relative) where a
platform could round a logarithm differently, and ask for the log-likelihood to be at least statsmodels'.
"""

from __future__ import annotations

import warnings
from itertools import product

import numpy as np
import pandas as pd
import pytest

from forecast.models import Ets
from forecast.models import ets_kernels as kern
from forecast.models.ets_fit import EtsStructure, fit_ets, initial_states, internal_params, loglike

RNG = np.random.default_rng(11)
N, M = 120, 4
T = np.arange(N)
WEEK = np.array([1.15, 0.9, 1.05, 0.9])  # multiplicative pattern, mean 1
STRUCTURES = [
    EtsStructure(err, trend, damped, season, M if season else 1, True)
    for err, (trend, damped), season in product(
        ("add", "mul"), ((None, False), ("add", False), ("add", True)), (None, "add", "mul")
    )
]


def series(seed: int, trend: float = 0.0, season: bool = True, level: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = level + trend * T + np.cumsum(rng.normal(0, 0.5, N))
    return base * (WEEK[T % M] if season else 1.0) + rng.normal(0, 1.0, N)


def statsmodels_model(y: np.ndarray, st: EtsStructure):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel(
        y,
        error=st.error,
        trend=st.trend,
        damped_trend=st.damped,
        seasonal=st.seasonal,
        seasonal_periods=st.m if st.seasonal else None,
        initialization_method="estimated" if st.estimated else "heuristic",
    )


def close(a: float, b: float, rel: float = 1e-10) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


@pytest.mark.parametrize("st", STRUCTURES, ids=lambda s: f"{s.error}-{s.trend}-{s.damped}-{s.seasonal}")
def test_recursion_and_loglike_equal_statsmodels_smooth_at_fixed_params(st):
    y = series(1)
    mod = statsmodels_model(y, st)
    params = np.asarray(mod.start_params, dtype=float)
    params[0] = 0.3  # away from the start values: α, β, γ, φ inside the usual region
    names = st.param_names
    for name, value in {"smoothing_trend": 0.05, "smoothing_seasonal": 0.2, "damping_trend": 0.9}.items():
        if name in names:
            params[names.index(name)] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_ll = mod.loglike(params)
        yhat, states = mod.smooth(params, return_raw=True)
    ll, level, trend, season = loglike(y, internal_params(params, st, initial_states(y, st)), st)
    assert close(ll, ref_ll)
    states = np.asarray(states)
    assert close(level, states[-1, 0])
    assert close(trend, states[-1, 1] if st.trend else 0.0)
    if st.seasonal:
        np.testing.assert_allclose(season, states[-M:, mod._seasonal_index], rtol=1e-10)
    # the residuals themselves, row by row
    sq, absfit = np.empty((1, N)), np.ones((1, N))
    full = internal_params(params, st, initial_states(y, st))
    one = np.empty(1)
    kern.ets_rows(full[None, :], False, False, y, st.m, st.seasonal == "mul", st.error == "mul", sq, absfit, one,
                  np.empty(1), np.empty((1, st.m)))  # fmt: skip
    resid = (y - yhat) / yhat if st.error == "mul" else y - yhat
    np.testing.assert_allclose(sq[0], resid**2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("st", "seed"),
    [
        (EtsStructure("add", None, False, "add", M, True), 2),
        (EtsStructure("add", "add", True, "add", M, True), 3),
        (EtsStructure("mul", "add", False, "mul", M, True), 4),
        (EtsStructure("mul", None, False, None, 1, True), 5),
        (EtsStructure("mul", "add", True, "mul", M, False), 6),  # heuristic initial states
    ],
    ids=["ANA", "AAdA", "MAM", "MNN", "MAdM-heuristic"],
)
def test_fitted_loglike_at_least_statsmodels(st, seed):
    y = series(seed, trend=0.2)
    mod = statsmodels_model(y, st)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mod.fit(disp=False, return_params=True)
        ref_ll = mod.loglike(ref)
    fit = fit_ets(y, st)
    assert fit.loglike >= ref_ll - 1e-10 * abs(ref_ll)
    np.testing.assert_allclose(fit.params, ref, rtol=1e-8, atol=1e-10)  # the same optimum, not just as good


def test_large_values_take_scipys_relative_step():
    """At |x| ≈ 1e9, x + 1e-8 == x: the finite-difference step falls back to √ε·max(1, |x|), as scipy's."""
    st = EtsStructure("add", None, False, "add", M, True)
    y = series(7, season=True) * 1e7 + 1e9
    mod = statsmodels_model(y, st)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mod.fit(disp=False, return_params=True)
    fit = fit_ets(y, st)
    assert fit.loglike >= mod.loglike(ref) - 1e-10 * abs(mod.loglike(ref))
    np.testing.assert_allclose(fit.params, ref, rtol=1e-8)


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (series(8, trend=0.0, season=True), "MNM"),  # multiplicative weekly pattern, no trend
        (series(9, trend=0.0, season=False) - 60.0, "ANN"),  # a noisy level that crosses zero: additive only
    ],
    ids=["seasonal", "level"],
)
def test_aicc_choice_equals_statsmodels(y, expected):
    ours = Ets(model="ZZZ", season_length=M).fit(y)
    ref = Ets(model="ZZZ", season_length=M, backend="statsmodels").fit(y)
    assert ours.spec_ == ref.spec_
    assert ours.spec_.label == expected
    assert set(ours.aicc_) == set(ref.aicc_)
    for label, score in ref.aicc_.items():
        assert close(ours.aicc_[label], score)
    np.testing.assert_allclose(ours.predict(8, level=()).mean, ref.predict(8, level=()).mean, rtol=1e-9)


def test_intervals_still_come_from_statsmodels_at_the_fitted_parameters():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = series(10, trend=0.1)
    model = Ets(model="MAM", season_length=M, damped=False).fit(y)
    pred = model.predict(6, level=(80, 95))
    assert np.all(pred.lower[95] <= pred.lower[80]) and np.all(pred.lower[80] <= pred.mean)
    assert np.all(pred.mean <= pred.upper[80]) and np.all(pred.upper[80] <= pred.upper[95])
    add = Ets(model="AAA", season_length=M, damped=True).fit(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=M)
        ref = res.smooth(add._params).get_prediction(start=N, end=N + 5)
    np.testing.assert_allclose(add.predict(6, level=(90,)).lower[90], np.asarray(ref.pred_int(alpha=0.1))[:, 0])


def test_fallback_to_statsmodels_when_numba_is_off(monkeypatch):
    y = series(12)
    fast = Ets(model="ANA", season_length=M).fit(y)
    assert fast.backend_ == "numba"
    monkeypatch.setattr(kern, "NUMBA_ENABLED", False)  # what GRIDCAST_NO_NUMBA=1 sets at import
    slow = Ets(model="ANA", season_length=M).fit(y)
    assert slow.backend_ == "statsmodels"
    assert close(slow.aicc_["ANA"], fast.aicc_["ANA"])
    np.testing.assert_allclose(slow._params, fast._params, rtol=1e-8)


def test_failures_and_warnings_match_statsmodels():
    y = series(13)
    # too short for statsmodels' heuristic: every candidate fails with statsmodels' own message
    for backend in ("numba", "statsmodels"):
        with pytest.raises(ValueError, match="less than 10 observations"):
            Ets(model="ANN", initialization="heuristic", backend=backend).fit(y[:8])
    # an optimiser stopped early says so, as statsmodels does
    ours = Ets(model="AAA", season_length=M, maxiter=3).fit(y)
    ref = Ets(model="AAA", season_length=M, maxiter=3, backend="statsmodels").fit(y)
    assert any("failed to converge" in w for w in ours.fit_warnings_)
    assert any("failed to converge" in w for w in ref.fit_warnings_)
    assert close(ours.aicc_["AAA"], ref.aicc_["AAA"])


@pytest.mark.parametrize(
    "st",
    [EtsStructure("add", "add", True, "add", M, True), EtsStructure("mul", None, False, "mul", M, True)],
    ids=["AAdA", "MNM"],
)
def test_direct_lbfgsb_loop_takes_fmin_l_bfgs_bs_iterates(st, monkeypatch):
    from forecast.models import ets_fit

    y = series(14, trend=0.1)
    assert ets_fit.direct_lbfgsb()  # scipy's private setulb has the interface the loop drives
    direct = fit_ets(y, st, maxiter=200)
    monkeypatch.setattr(ets_fit, "direct_lbfgsb", lambda: False)
    public = fit_ets(y, st, maxiter=200)
    np.testing.assert_array_equal(direct.params, public.params)
    assert (direct.loglike, direct.nit, direct.converged) == (public.loglike, public.nit, public.converged)


def test_division_by_zero_gives_nan_as_statsmodels_does():
    st = EtsStructure("mul", None, False, "mul", M, True)
    y = series(15)
    mod = statsmodels_model(y, st)
    params = np.asarray(mod.start_params, dtype=float)
    params[-2] = 0.0  # a seasonal state of zero: y / s
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = mod.loglike(params)
        ours = loglike(y, internal_params(params, st, initial_states(y, st)), st)[0]
    assert np.isnan(ref) and np.isnan(ours)
