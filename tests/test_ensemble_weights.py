"""Weighted-mean ensembles: weights are checked against the members, normalised, and applied step by step."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.models import Drift, Naive, SeasonalNaive
from forecast.models.registry import ModelSpecError, make_model

T = np.arange(84)
Y = 20 + 0.05 * T + 3 * np.sin(2 * np.pi * T / 7) + np.random.default_rng(3).normal(0, 0.5, T.size)
MEMBERS = [
    {"name": "naive"},
    {"name": "seasonal_naive", "params": {"season_length": 7}},
    {"name": "drift"},
]


def test_weighted_mean_of_the_members_with_normalised_weights():
    model = make_model("ensemble", {"members": MEMBERS, "weights": [2, 1, 1]})
    assert model.config.weights == [0.5, 0.25, 0.25]
    pred = model.fit(Y).predict(10, level=(80,))
    members = [Naive().fit(Y).predict(10), SeasonalNaive(7).fit(Y).predict(10), Drift().fit(Y).predict(10)]
    w = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(pred.mean, w @ np.stack([p.mean for p in members]))
    np.testing.assert_allclose(pred.upper[80], w @ np.stack([p.upper[80] for p in members]))
    assert np.all(pred.lower[80] <= pred.mean) and np.all(pred.mean <= pred.upper[80])


def test_equal_weights_are_the_plain_mean_and_a_zero_weight_drops_a_member():
    plain = make_model("ensemble", {"members": MEMBERS}).fit(Y).predict(10).mean
    equal = make_model("ensemble", {"members": MEMBERS, "weights": [3, 3, 3]}).fit(Y).predict(10).mean
    np.testing.assert_allclose(equal, plain)
    two = make_model("ensemble", {"members": MEMBERS[:2]}).fit(Y).predict(10).mean
    zero = make_model("ensemble", {"members": MEMBERS, "weights": [1, 1, 0]}).fit(Y).predict(10).mean
    np.testing.assert_allclose(zero, two)


def test_weights_survive_a_clone():
    model = make_model("ensemble", {"members": MEMBERS, "weights": [0.2, 0.3, 0.5]})
    clone = model.clone()
    assert clone.get_params() == model.get_params()
    np.testing.assert_allclose(clone.config.weights, [0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights": [1, 1]}, "expected one weight per member (3), got 2"),
        ({"weights": [1, -1, 1]}, "expected finite weights >= 0 with a positive sum"),
        ({"weights": [0, 0, 0]}, "expected finite weights >= 0 with a positive sum"),
        ({"weights": [1, float("nan"), 1]}, "expected finite weights >= 0 with a positive sum"),
        ({"weights": [1, 1, 1], "combine": "median"}, "only a mean is weighted"),
    ],
)
def test_bad_weights_are_refused_naming_the_key(params, message):
    with pytest.raises(ModelSpecError, match=r"models\.ensemble") as info:
        make_model("ensemble", {"members": MEMBERS, **params})
    assert message in str(info.value)
