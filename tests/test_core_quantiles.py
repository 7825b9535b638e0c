"""Quantiles and exceedance probabilities from the model interface and the frame layer; the update hook."""

from __future__ import annotations

import datetime as dt
import itertools
import warnings
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict
from scipy.stats import norm

from features.contract import DS, FALLBACK, HOURS_PER_DAY, ID, MEAN, MODEL, Bounds, Y, hi_col, lo_col
from forecast.core import forecast_frame
from forecast.models import Sarimax, SeasonalNaive
from forecast.models.base import Forecaster, NotFittedError, Prediction
from forecast.output.bounds import Logit
from forecast.output.quantiles import check_quantiles, p_exceed_col, q_col, quantile_level
from forecast.settings import ForecastSettings

START = dt.date(2024, 1, 1)
Y9 = np.array([10, 20, 30, 12, 18, 33, 11, 22, 29], dtype=float)


def frame(ids=("a", "b"), n=40, *, base=12.0, amp=4.0, noise=1.0, seed=0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        t = np.arange(n)
        y = base + amp * np.sin(2 * np.pi * t / 7 + k) + noise * rng.normal(size=n)
        parts.append(
            pl.DataFrame(
                {ID: [uid] * n, DS: [START + dt.timedelta(days=int(i)) for i in t], Y: y},
                schema_overrides={DS: pl.Date, Y: pl.Float64},
            )
        )
    return pl.concat(parts)


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointOnly(Forecaster):
    """A model without intervals (last value)."""

    name = "point_only"
    config_cls = _NoParams

    def _fit(self, y, X):
        self._last = y[-1]

    def _predict(self, h, X_future, level):
        return Prediction(np.full(h, self._last))


class Broken(Forecaster):
    name = "broken"
    tags: ClassVar[dict[str, bool]] = {"intervals": True}
    config_cls = _NoParams

    def _fit(self, y, X):
        raise RuntimeError("boom")

    def _predict(self, h, X_future, level):
        raise AssertionError("unreachable")


# -- names and levels ------------------------------------------------------------------------------------------
def test_column_names_and_levels():
    assert [q_col(q) for q in (0.1, 0.5, 0.975, 0.025)] == ["q-0.1", "q-0.5", "q-0.975", "q-0.025"]
    assert [p_exceed_col(c) for c in (12, 16.0, 12.5)] == ["p_exceed-12", "p_exceed-16", "p_exceed-12.5"]
    assert [quantile_level(q) for q in (0.1, 0.9, 0.025, 0.5, 0.05)] == [80, 80, 95, None, 90]
    assert check_quantiles([0.9, 0.1, 0.5, 0.1]) == (0.1, 0.5, 0.9)
    with pytest.raises(ValueError, match=r"0.123 needs a 75.4% interval"):
        check_quantiles([0.123])
    with pytest.raises(ValueError, match="outside"):
        check_quantiles([1.0])


# -- numpy-level interface -------------------------------------------------------------------------------------
def test_predict_quantiles_are_interval_bounds_and_median_is_mean():
    model = SeasonalNaive(3).fit(Y9)
    full = model.predict(5, level=(50, 80, 95))
    pred = model.predict(5, level=(80,), quantiles=(0.025, 0.1, 0.25, 0.5, 0.9))
    assert pred.levels == (80,)  # the levels the quantiles needed are not added to the intervals
    np.testing.assert_allclose(pred.quantiles[0.025], full.lower[95])
    np.testing.assert_allclose(pred.quantiles[0.25], full.lower[50])
    np.testing.assert_allclose(pred.quantiles[0.9], full.upper[80])
    np.testing.assert_allclose(pred.quantiles[0.5], full.mean)
    np.testing.assert_allclose(full.quantile(0.975), full.upper[95])
    with pytest.raises(KeyError, match="needs the 90% interval"):
        full.quantile(0.05)
    qs = np.array([pred.quantiles[q] for q in (0.025, 0.1, 0.25, 0.5, 0.9)])
    assert (np.diff(qs, axis=0) > 0).all()  # sigma > 0: strictly increasing in q


def test_point_only_model_gives_median_but_no_other_quantile():
    model = PointOnly().fit(Y9)
    assert model.predict(2, level=(), quantiles=(0.5,)).quantiles[0.5].tolist() == [29.0, 29.0]
    with pytest.raises(ValueError, match="gives no intervals"):
        model.predict(2, level=(), quantiles=(0.1,))


def test_update_default_refits_and_validates():
    model = SeasonalNaive(3)
    with pytest.raises(NotFittedError):
        model.update(Y9)
    model.fit(Y9[:6])
    model.update(Y9)
    np.testing.assert_allclose(model.predict(3, level=()).mean, [11, 22, 29])
    assert model.n_obs_ == 9
    with pytest.raises(ValueError, match="missing values"):
        model.update(np.r_[Y9, np.nan])


class SarimaxKeep(Sarimax):
    """The hook as Sarimax can implement it: re-run the Kalman filter on the new data with fixed parameters."""

    def _update(self, y, X):
        self._result = self._result.apply(y, exog=X, refit=False)


def test_update_hook_keeps_statsmodels_parameters():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(1)
    y = np.zeros(150)
    for t in range(1, 150):
        y[t] = 0.6 * y[t - 1] + rng.normal()
    y += 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SarimaxKeep(order=(1, 0, 0), scale=False).fit(y[:100])  # its _result is then on y itself
        params = dict(model.params_)
        model.update(y)
        pred = model.predict(3, level=(80,))
        ref = SARIMAX(y, order=(1, 0, 0), trend="c").filter(np.array(list(params.values())))
        refit = Sarimax(order=(1, 0, 0)).fit(y).predict(3, level=())
    fc = ref.get_forecast(3)
    np.testing.assert_allclose(pred.mean, fc.predicted_mean, rtol=1e-10)
    np.testing.assert_allclose(pred.upper[80], fc.conf_int(alpha=0.2)[:, 1], rtol=1e-10)
    assert not np.allclose(pred.mean, refit.mean, rtol=1e-6)  # a refit on 150 points would move the parameters


# -- frame level -----------------------------------------------------------------------------------------------
def test_frame_quantile_and_exceedance_columns():
    df = frame(n=30)
    out = forecast_frame(
        df,
        {"snaive": SeasonalNaive(7)},
        9,
        ForecastSettings(freq="1d", levels=(95,), quantiles=(0.9, 0.1, 0.5), thresholds=(16, 12)),
    )
    assert out.columns == [
        ID,
        DS,
        MODEL,
        MEAN,
        lo_col(95),
        hi_col(95),
        "q-0.1",
        "q-0.5",
        "q-0.9",
        "p_exceed-12",
        "p_exceed-16",
        FALLBACK,
    ]
    ref = forecast_frame(df, {"snaive": SeasonalNaive(7)}, 9, ForecastSettings(freq="1d", levels=(80,)))
    np.testing.assert_allclose(out.get_column("q-0.1").to_numpy(), ref.get_column(lo_col(80)).to_numpy())
    np.testing.assert_allclose(out.get_column("q-0.9").to_numpy(), ref.get_column(hi_col(80)).to_numpy())
    np.testing.assert_allclose(out.get_column("q-0.5").to_numpy(), out.get_column(MEAN).to_numpy())
    # Gaussian exceedance by hand: sigma_h from the in-sample seasonal residuals, sqrt(k) growth after a season
    a = out.filter(pl.col(ID) == "a")
    y = df.filter(pl.col(ID) == "a").get_column(Y).to_numpy()
    sigma = np.sqrt(np.mean((y[7:] - y[:-7]) ** 2)) * np.sqrt(np.arange(9) // 7 + 1)
    mean = a.get_column(MEAN).to_numpy()
    np.testing.assert_allclose(a.get_column("p_exceed-12").to_numpy(), norm.sf((12 - mean) / sigma), atol=1e-12)
    np.testing.assert_allclose(a.get_column("p_exceed-16").to_numpy(), norm.sf((16 - mean) / sigma), atol=1e-12)


def test_exceedance_alone_needs_no_interval_columns():
    out = forecast_frame(
        frame(n=30), {"snaive": SeasonalNaive(7)}, 3, ForecastSettings(freq="1d", levels=(), thresholds=(12,))
    )
    assert out.columns == [ID, DS, MODEL, MEAN, "p_exceed-12", FALLBACK]
    assert out.get_column("p_exceed-12").is_between(0, 1).all()


def test_exceedance_is_monotone_and_exact_at_the_bounds():
    df = frame(n=35, base=20.0, amp=3.0, noise=2.0).with_columns(pl.col(Y).clip(0, 24))
    cs = (-1.0, 0.0, 6.0, 12.0, 18.0, 22.0, 23.9, 24.0, 30.0)
    for transform in ("none", "logit"):
        out = forecast_frame(
            df,
            {"snaive": SeasonalNaive(7)},
            14,
            ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, thresholds=cs, transform=transform),
        )
        p = out.select(p_exceed_col(c) for c in cs).to_numpy()
        assert (p >= 0).all() and (p <= 1).all()
        assert (np.diff(p, axis=1) <= 1e-15).all()  # non-increasing in c
        assert (p[:, cs.index(-1.0)] == 1).all()
        assert (p[:, cs.index(24.0)] == 0).all() and (p[:, cs.index(30.0)] == 0).all()
        assert (p[:, cs.index(23.9)] > 0).all()  # the mass at the bound comes from just below it


def test_logit_keeps_the_point_forecast_of_seasonal_naive_and_skews_intervals():
    df = frame(ids=("a",), n=35, base=3.0, amp=2.0, noise=1.0, seed=2).with_columns(pl.col(Y).clip(0, 24))
    kw = ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, levels=(80,))
    plain = forecast_frame(df, {"s": SeasonalNaive(7)}, 7, kw.replace(transform="none"))
    logit = forecast_frame(df, {"s": SeasonalNaive(7)}, 7, kw.replace(transform="logit"))
    np.testing.assert_allclose(logit.get_column(MEAN).to_numpy(), plain.get_column(MEAN).to_numpy(), rtol=1e-12)
    lo, hi, mean = (logit.get_column(c).to_numpy() for c in (lo_col(80), hi_col(80), MEAN))
    assert (lo > 0).all()  # near the lower bound the logit interval stays off it ...
    assert (hi - mean > mean - lo).all()  # ... and is right-skewed
    assert plain.get_column(lo_col(80)).min() == 0.0  # while the clipped one piles onto the bound


def test_transform_per_model_and_errors():
    df = frame(n=30).with_columns(pl.col(Y).clip(0, 24))
    models = {"plain": SeasonalNaive(7), "logit": SeasonalNaive(7)}
    out = forecast_frame(
        df,
        models,
        3,
        ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, transform={"logit": Logit(HOURS_PER_DAY, 0.05)}),
    )
    width = out.with_columns((pl.col(hi_col(95)) - pl.col(lo_col(95))).alias("w")).pivot(
        on=MODEL, index=[ID, DS], values="w"
    )
    assert not np.allclose(width.get_column("plain").to_numpy(), width.get_column("logit").to_numpy())
    with pytest.raises(ValueError, match="transform: no model named 'other'"):
        forecast_frame(df, models, 3, ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, transform={"other": "logit"}))
    with pytest.raises(ValueError, match="transform: 'logit' needs both bounds"):
        forecast_frame(df, models, 3, ForecastSettings(freq="1d", bounds=Bounds(0.0, None), transform="logit"))
    with pytest.raises(ValueError, match="transform: unknown 'log'"):
        forecast_frame(df, models, 3, ForecastSettings(freq="1d", transform="log"))


def test_fallback_fills_quantiles_under_the_models_transform_and_nulls_stay_nulls():
    df = frame(n=30).with_columns(pl.col(Y).clip(0, 24))
    kw = ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, quantiles=(0.1, 0.9), thresholds=(12,), transform="logit")
    out = forecast_frame(df, {"broken": Broken(), "snaive": SeasonalNaive(7)}, 3, kw)
    broken, snaive = (out.filter(pl.col(MODEL) == m) for m in ("broken", "snaive"))
    for c in ("q-0.1", "q-0.9", "p_exceed-12", lo_col(80)):
        np.testing.assert_allclose(broken.get_column(c).to_numpy(), snaive.get_column(c).to_numpy())
    tiny = frame(ids=("t",), n=5)
    failed = forecast_frame(tiny, {"broken": Broken()}, 2, kw)
    assert failed.select(pl.col("q-0.1", "q-0.9", "p_exceed-12").null_count()).row(0) == (2, 2, 2)
    assert failed.get_column(FALLBACK)[0].startswith("broken failed: RuntimeError: boom; fallback seasonal_naive")


def test_quantiles_are_ordered_with_intervals_under_every_transform():
    df = frame(n=40, base=5.0, amp=4.0, noise=2.0).with_columns(pl.col(Y).clip(0, 24))
    qs = (0.025, 0.1, 0.5, 0.9, 0.975)
    for transform in ("none", "log1p", "logit"):
        out = forecast_frame(
            df,
            {"s": SeasonalNaive(7)},
            10,
            ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, quantiles=qs, transform=transform),
        )
        np.testing.assert_allclose(out.get_column("q-0.025").to_numpy(), out.get_column(lo_col(95)).to_numpy())
        np.testing.assert_allclose(out.get_column("q-0.975").to_numpy(), out.get_column(hi_col(95)).to_numpy())
        for left, right in itertools.pairwise([q_col(q) for q in qs]):
            assert (out.get_column(left) <= out.get_column(right)).all()
