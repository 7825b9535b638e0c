"""ETS, Theta, SARIMAX order search, UnobservedComponents and MSTL against statsmodels/statsforecast references."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecast.models import Ets, Mstl, Sarimax, SeasonalNaive, Theta, UnobservedComponents, seasonality_test
from forecast.models.base import Forecaster
from forecast.models.registry import make_model
from forecast.models.smoothing import EtsConfig, ets_candidates

RNG = np.random.default_rng(5)
N = 200
LEVEL = 50 + np.cumsum(RNG.normal(0, 1, N))
NOISE = RNG.normal(0, 2, N)
SEASON12 = 5 * np.sin(np.arange(N) * 2 * np.pi / 12)


# -- ETS -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "m", "rtol"), [("ANN", 1, 1e-3), ("AAN", 1, 1e-3), ("ANA", 12, 3e-2)])
def test_ets_fixed_spec_matches_statsforecast(spec, m, rtol):
    sf = pytest.importorskip("statsforecast.models")
    y = LEVEL + NOISE + (SEASON12 if m > 1 else 0)
    damped = False if spec[1] == "A" else None
    ours = Ets(model=spec, season_length=m, damped=damped).fit(y)
    ref = sf.AutoETS(model=spec, season_length=m, damped=False).forecast(y, 12)["mean"]
    assert ours.spec_.label == spec
    np.testing.assert_allclose(ours.predict(12, level=()).mean, ref, rtol=rtol)


@pytest.mark.parametrize(
    ("spec", "damped", "init"),
    [("AAA", True, "estimated"), ("MAM", True, "heuristic"), ("ANM", None, "heuristic"), ("MNN", None, "estimated")],
)
def test_ets_equals_statsmodels_with_the_same_spec(spec, damped, init):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = LEVEL + NOISE + SEASON12
    ours = Ets(model=spec, damped=damped, season_length=12, initialization=init).fit(y)
    comp = {"A": "add", "M": "mul", "N": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ETSModel(
            pd.Series(y),
            error=comp[spec[0]],
            trend=comp[spec[1]],
            damped_trend=bool(damped),
            seasonal=comp[spec[2]],
            seasonal_periods=12 if spec[2] != "N" else None,
            initialization_method=init,
        ).fit(disp=False)
    assert ours.aicc_[ours.spec_.label] == pytest.approx(res.aicc, rel=1e-12)
    np.testing.assert_allclose(ours.predict(30, level=()).mean, res.forecast(30), rtol=1e-9)
    if spec == "AAA":  # closed-form intervals (the multiplicative ones are simulated)
        pred = ours.predict(6, level=(90,))
        ref = res.get_prediction(start=N, end=N + 5)
        np.testing.assert_allclose(pred.lower[90], np.asarray(ref.pred_int(alpha=0.1))[:, 0], rtol=1e-9)


def test_ets_selects_the_smallest_aicc():
    y = np.exp(np.log(LEVEL) + 0.05 * np.sin(np.arange(N) * 2 * np.pi / 12))  # positive, multiplicative season
    model = Ets(model="ZZZ", season_length=12, initialization="heuristic").fit(y)
    scores = {k: v for k, v in model.aicc_.items() if isinstance(v, float)}
    assert len(scores) >= 10
    assert model.spec_.label == min(scores, key=scores.get)
    pred = model.predict(12)
    assert np.all(pred.lower[95] <= pred.lower[80]) and np.all(pred.upper[80] <= pred.upper[95])


def test_ets_candidates_respect_the_data():
    cfg = EtsConfig(model="ZZZ", season_length=12)
    y = LEVEL - LEVEL.min()  # has a zero: no multiplicative component
    labels = {c.label for c in ets_candidates(cfg, y)}
    assert labels == {"ANN", "ANA", "AAN", "AAA", "AAdN", "AAdA"}
    labels_short = {c.label for c in ets_candidates(cfg, y[:20] - y[:20].min())}  # too short for a season
    assert labels_short == {"ANN", "AAN", "AAdN"}
    with pytest.raises(ValueError, match="multiplicative components need y > 0"):
        Ets(model="MNN").fit(y)
    with pytest.raises(ValueError, match="a seasonal model needs at least 26 observations"):
        Ets(model="ANA", season_length=12).fit(LEVEL[:20])


# -- Theta -----------------------------------------------------------------------------------------------------
def test_theta_matches_statsmodels_when_seasonal():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = LEVEL + NOISE + 3 * SEASON12 + 20
    assert seasonality_test(y, 12)
    ours = Theta(season_length=12).fit(y)
    assert ours.seasonal_
    ref = ThetaModel(y, period=12, deseasonalize=True, use_test=False, method="multiplicative").fit()
    np.testing.assert_allclose(ours.predict(30, level=()).mean, ref.forecast(30), rtol=1e-9)


def test_theta_matches_statsmodels_when_not_seasonal():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = 50 + NOISE
    ours = Theta(season_length=12).fit(y)
    assert not ours.seasonal_
    ref = ThetaModel(y, deseasonalize=False).fit().forecast(10, theta=3.0)
    np.testing.assert_allclose(Theta(season_length=12, theta=3.0).fit(y).predict(10, level=()).mean, ref)
    pred = ours.predict(10, level=(80, 95))
    width = pred.upper[95] - pred.lower[95]
    assert np.all(np.diff(width) > 0) and np.all(pred.lower[95] < pred.lower[80])


# -- SARIMAX order search --------------------------------------------------------------------------------------
def test_sarimax_auto_order_picks_the_smallest_aicc():
    e = np.random.default_rng(12).normal(size=300)
    y = np.zeros(300)
    for t in range(2, 300):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + e[t]
    model = Sarimax(order=(0, 0, 0), auto_order=True, max_p=2, max_q=1).fit(y)
    scores = {o: s for o, s in model.search_ if isinstance(s, float)}
    assert (model.order_, model.seasonal_order_) == min(scores, key=scores.get)
    assert model.order_[0] == 2
    assert model.params_["ar.L1"] == pytest.approx(0.6, abs=0.15)


@pytest.mark.skipif(not hasattr(Forecaster, "update"), reason="Forecaster.update not available")
def test_sarimax_update_keeps_parameters():
    y = LEVEL + NOISE
    model = Sarimax(order=(1, 1, 0)).fit(y[:150])
    params = dict(model.params_)
    model.update(y)
    assert model.params_ == params
    refit = Sarimax(order=(1, 1, 0)).fit(y)
    # forecasts now start after the longer history (close to a refit, not equal)
    np.testing.assert_allclose(model.predict(3, level=()).mean, refit.predict(3, level=()).mean, rtol=0.05)


# -- UnobservedComponents --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def uc():
    x = np.random.default_rng(13).normal(size=(N, 1))
    y = LEVEL + 4.0 * x[:, 0] + NOISE * 0.3
    return UnobservedComponents(level="local level").fit(y, x), y, x


def test_unobserved_components_recovers_the_exog_effect_and_moves_with_it(uc):
    model, _, _ = uc
    assert model.params_["beta.x1"] == pytest.approx(4.0, abs=0.2)
    low = model.predict(5, X_future=np.zeros((5, 1)))
    high = model.predict(5, X_future=np.ones((5, 1)))
    np.testing.assert_allclose(high.mean - low.mean, model.params_["beta.x1"], rtol=1e-9)
    assert np.all(low.lower[95] < low.lower[80]) and np.all(low.upper[80] < low.upper[95])


def test_unobserved_components_with_seasonal_harmonics_and_missing_values():
    y = (LEVEL + NOISE + SEASON12).copy()
    y[[20, 21, 150]] = np.nan
    model = UnobservedComponents(level="local linear trend", season_length=12, harmonics=2).fit(y)
    pred = model.predict(12, level=())
    assert np.isfinite(pred.mean).all()
    ahead = 5 * np.sin((N + np.arange(12)) * 2 * np.pi / 12)
    assert np.corrcoef(pred.mean - pred.mean.mean(), ahead)[0, 1] > 0.9  # the season is continued


# -- MSTL ------------------------------------------------------------------------------------------------------
def test_mstl_adds_the_continued_seasonals_to_the_remainder_forecast():
    t = np.arange(24 * 7 * 4)
    y = (
        100
        + 10 * np.sin(2 * np.pi * t / 24)
        + 5 * np.sin(2 * np.pi * t / 168)
        + np.random.default_rng(14).normal(0, 1, t.size)
    )
    model = make_model("mstl", {"season_length": [24, 168, 10_000], "remainder": {"name": "theta"}}).fit(y)
    assert model.periods_ == [24, 168]  # 10,000 dropped: not two cycles of data
    pred = model.predict(48, level=(80,))
    rem = model.remainder_.predict(48, level=(80,))
    s = model.seasonal_forecast(48)
    np.testing.assert_allclose(pred.mean, rem.mean + s)
    np.testing.assert_allclose(pred.upper[80] - pred.mean, rem.upper[80] - rem.mean)
    truth = (
        100
        + 10 * np.sin(2 * np.pi * (t.size + np.arange(48)) / 24)
        + 5 * np.sin(2 * np.pi * (t.size + np.arange(48)) / 168)
    )
    snaive = SeasonalNaive(24).fit(y).predict(48, level=()).mean
    assert np.mean(np.abs(pred.mean - truth)) < 0.5 * np.mean(np.abs(snaive - truth))


def test_mstl_passes_exog_to_an_exogenous_remainder():
    rng = np.random.default_rng(11)  # local: the module generator's state depends on which tests ran
    t = np.arange(120)
    x = rng.normal(size=(120, 1))
    y = 20 + 3 * np.sin(2 * np.pi * t / 7) + 2.0 * x[:, 0] + rng.normal(0, 0.2, 120)
    model = make_model(
        "mstl", {"season_length": [7], "remainder": {"name": "sarimax", "params": {"order": [1, 0, 0]}}}
    ).fit(y, x)
    low = model.predict(7, X_future=np.zeros((7, 1)), level=())
    high = model.predict(7, X_future=np.ones((7, 1)), level=())
    np.testing.assert_allclose(high.mean - low.mean, model.remainder_.params_["x1"], rtol=1e-9)
    # STL's trend soaks up a little of the regressor's effect before the remainder model sees it
    assert model.remainder_.params_["x1"] == pytest.approx(2.0, abs=0.4)


def test_mstl_tags_are_its_remainder_models():
    assert make_model("mstl", {"season_length": [7], "remainder": {"name": "sarimax"}}).get_tag("exogenous")
    default = Mstl(season_length=[7])  # ETS: no regressors, intervals
    assert not default.get_tag("exogenous") and default.get_tag("intervals")
    point = make_model("mstl", {"season_length": [7], "remainder": {"name": "window_average", "params": {"window": 7}}})
    assert not point.get_tag("intervals")
    y = 10 + np.sin(2 * np.pi * np.arange(42) / 7)
    assert point.fit(y).predict(3, level=()).mean.shape == (3,)
    with pytest.raises(ValueError, match="Mstl gives no intervals"):
        point.predict(3)


def test_mstl_log_works_on_log_y_and_needs_positive_values():
    t = np.arange(24 * 14)
    y = np.exp(3 + 0.3 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(15).normal(0, 0.02, t.size))
    model = make_model("mstl", {"season_length": [24], "log": True, "remainder": {"name": "naive"}}).fit(y)
    pred = model.predict(24, level=(80,))
    np.testing.assert_allclose(pred.mean, np.exp(np.log(y)[-1] - model._seasonals[0][-1] + model.seasonal_forecast(24)))
    assert np.all(pred.lower[80] > 0) and np.all(pred.lower[80] <= pred.mean)
    with pytest.raises(ValueError, match=r"MSTL\(log=True\) needs y > 0"):
        Mstl(season_length=[24], log=True).fit(y - y.min())
