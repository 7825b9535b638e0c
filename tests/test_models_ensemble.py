"""Ensembles (mean/median of members), nested specs, and failures that raise instead of returning NaN."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from forecast.core import forecast_frame
from forecast.models import Drift, Ensemble, Ets, Naive, Naive2, SeasonalNaive, Theta, WindowAverage
from forecast.models.base import ForecastError
from forecast.models.registry import ModelSpecError, make_model
from forecast.settings import ForecastSettings

T = np.arange(84)
Y = 20 + 0.05 * T + 3 * np.sin(2 * np.pi * T / 7) + np.random.default_rng(2).normal(0, 0.5, T.size)
MEMBERS = [
    {"name": "naive"},
    {"name": "seasonal_naive", "params": {"season_length": 7}},
    {"name": "drift"},
]


@pytest.mark.parametrize(("combine", "stat"), [("mean", np.mean), ("median", np.median)])
def test_ensemble_is_the_mean_or_median_of_its_members(combine, stat):
    pred = make_model("ensemble", {"members": MEMBERS, "combine": combine}).fit(Y).predict(10, level=(80,))
    members = [Naive().fit(Y).predict(10), SeasonalNaive(7).fit(Y).predict(10), Drift().fit(Y).predict(10)]
    np.testing.assert_allclose(pred.mean, stat(np.stack([p.mean for p in members]), axis=0))
    np.testing.assert_allclose(pred.lower[80], stat(np.stack([p.lower[80] for p in members]), axis=0))
    assert np.all(pred.lower[80] <= pred.mean) and np.all(pred.mean <= pred.upper[80])


def test_ensemble_passes_exog_only_to_exogenous_members():
    x = np.random.default_rng(3).normal(size=(Y.size, 1))
    y = Y + 2 * x[:, 0]
    spec = [{"name": "sarimax", "params": {"order": [1, 0, 0]}}, {"name": "naive"}]
    model = make_model("ensemble", {"members": spec}).fit(y, x)
    low = model.predict(3, X_future=np.zeros((3, 1)))
    high = model.predict(3, X_future=np.ones((3, 1)))
    np.testing.assert_allclose(high.mean - low.mean, model.members_[0].params_["x1"] / 2, rtol=1e-9)


def test_ensemble_with_a_member_without_intervals():
    spec = [{"name": "window_average", "params": {"window": 7}}, {"name": "naive"}]
    model = make_model("ensemble", {"members": spec})
    assert not model.get_tag("intervals") and Ensemble.get_class_tag("intervals")  # the members decide
    assert not model.get_tag("exogenous") and not model.get_tag("dates")
    model.fit(Y)
    expected = (WindowAverage(7).fit(Y).predict(4, level=()).mean + Y[-1]) / 2
    np.testing.assert_allclose(model.predict(4, level=()).mean, expected)
    with pytest.raises(ValueError, match="Ensemble gives no intervals"):
        model.predict(4)


def test_ensemble_tags_follow_the_members():
    with_x = make_model("ensemble", {"members": [{"name": "sarimax"}, {"name": "naive"}]})
    assert with_x.get_tag("exogenous") and with_x.get_tag("intervals") and not with_x.get_tag("dates")
    with_dates = make_model("ensemble", {"members": [{"name": "prophet"}, {"name": "naive"}]})
    assert with_dates.get_tag("dates") and with_dates.clone().get_tag("dates")


def test_ensemble_member_failure_raises_naming_the_member():
    spec = [{"name": "naive"}, {"name": "window_average", "params": {"window": 500}}]
    with pytest.raises(ForecastError, match=r"ensemble member 1 \(window_average\): ValueError: .*needs at least 500"):
        make_model("ensemble", {"members": spec}).fit(Y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"members": [{"name": "naive"}]}, "models.ensemble.members: List should have at least 2 items"),
        ({"members": [{"name": "naive"}, {"name": "arima"}]}, "models.ensemble.members.1.arima: unknown model"),
        (
            {"members": [{"name": "naive"}, {"name": "theta", "params": {"period": 7}}]},
            "models.ensemble.members.1.theta.period: unknown parameter (allowed: season_length,",
        ),
        ({"members": MEMBERS, "combine": "mode"}, "models.ensemble.combine: Input should be 'mean' or 'median'"),
        ({"season_length": [24], "remainder": {"name": "ets", "params": {"model": "ZZ"}}}, "models.mstl.remainder"),
    ],
)
def test_nested_spec_errors_name_the_key(params, message):
    name = "mstl" if "remainder" in params else "ensemble"
    with pytest.raises(ModelSpecError) as info:
        make_model(name, params)
    assert str(info.value).startswith(message)


def test_every_registered_model_clones_with_its_params():
    model = make_model("ensemble", {"members": MEMBERS, "combine": "median"})
    clone = model.clone()
    assert clone.get_params() == model.get_params() and not clone.is_fitted


# -- failures raise; the frame layer falls back and records why ------------------------------------------------
@pytest.mark.parametrize(
    ("model", "y", "match"),
    [
        (Ets(model="MNN"), -Y, "multiplicative components need y > 0"),
        (Naive2(7), Y[:1], "Naive2 needs at least 2 observations"),
        (Theta(), Y[:3], "Theta needs at least 4 observations"),
        (WindowAverage(100), Y, "needs at least 100 observations"),
    ],
)
def test_failures_raise(model, y, match):
    with pytest.raises(ValueError, match=match):
        model.fit(y)


def test_failure_falls_back_with_a_recorded_reason():
    from datetime import date, timedelta

    df = pl.DataFrame(
        {
            "unique_id": ["a"] * Y.size,
            "ds": [date(2024, 1, 1) + timedelta(days=int(i)) for i in T],
            "y": np.sin(2 * np.pi * T / 7),  # values <= 0: a multiplicative ETS cannot fit it
        }
    )
    out = forecast_frame(
        df, {"ets": Ets(model="MNN")}, 7, ForecastSettings(freq="1d", levels=(80,), fallback="seasonal_naive")
    )
    assert out.height == 7 and out["mean"].null_count() == 0
    reason = out["fallback_reason"][0]
    assert reason.startswith("ets failed: ValueError: ETS 'MNN': multiplicative components need y > 0")
    assert "seasonal_naive" in reason
    np.testing.assert_allclose(out["mean"].to_numpy(), df["y"].to_numpy()[-7:])
