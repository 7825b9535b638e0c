"""Job-level interval calibration (forecast.calibration): which windows calibrate, which are scored, what the
forecast is calibrated on, and the note when a backtest is too short."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Bounds, Y
from forecast.calibration import (
    CALIBRATION_NOTE,
    calibrate_backtest,
    calibrate_forecast,
    residuals_needed,
    score_transforms,
    windows_needed,
)
from forecast.conformal import conformal_backtest
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.settings import BacktestPlan, ForecastSettings

H = 5
_BANDS = ("lo-80", "hi-80", "lo-95", "hi-95")


def _backtest(n_series: int, n_windows: int, *, step: int = H, seed: int = 0) -> pl.DataFrame:
    """Model ``m``: mean 10, truth 10 + N(0, 1) (exchangeable residuals); model intervals deliberately too narrow."""
    rng = np.random.default_rng(seed)
    rows = []
    start = date(2024, 1, 1)
    for s in range(n_series):
        for w in range(n_windows):
            cutoff = start + timedelta(days=w * step)
            for k in range(1, H + 1):
                rows.append((f"s{s:02d}", cutoff + timedelta(days=k), cutoff, "m", 10.0 + rng.normal(), 10.0))
    frame = pl.DataFrame(rows, schema=[ID, DS, CUTOFF, MODEL, Y, MEAN], orient="row")
    return frame.with_columns(
        (pl.col(MEAN) - 0.1).alias("lo-80"), (pl.col(MEAN) + 0.1).alias("hi-80"),
        (pl.col(MEAN) - 0.2).alias("lo-95"), (pl.col(MEAN) + 0.2).alias("hi-95"),
    )  # fmt: skip


def _settings(n_windows: int, *, step: int = H, windows: int | None = 3, scale: str = "none") -> ForecastSettings:
    return ForecastSettings(
        levels=(80, 95),
        intervals="conformal",
        calibration_windows=windows,
        calibration_scale=scale,
        backtest=BacktestPlan(H, n_windows, step),
    )


def _window(frame: pl.DataFrame) -> pl.Expr:
    return pl.col(CUTOFF).rank("dense").over(ID).cast(pl.Int64) - 1


@pytest.mark.parametrize(
    ("levels", "n_series", "residuals", "windows"),
    [((80, 95), 24, 19, 1), ((80, 95), 12, 19, 2), ((80, 95), 1, 19, 19), ((80,), 1, 4, 4), ((99,), 10, 99, 10)],
)
def test_windows_needed_follow_the_finite_sample_rule(
    levels: tuple[int, ...], n_series: int, residuals: int, windows: int
) -> None:
    assert residuals_needed(levels) == residuals
    assert windows_needed(n_series, levels) == windows


def test_first_windows_only_calibrate_and_the_rest_equal_the_honest_conformal_backtest() -> None:
    bt = _backtest(n_series=10, n_windows=8)  # 10 series: 2 windows give the 19 residuals per step of 95 %
    out, note = calibrate_backtest(bt, _settings(8), ["m"])
    assert note is None
    assert out.select(ID, DS, CUTOFF, MODEL, Y, MEAN).equals(bt.select(ID, DS, CUTOFF, MODEL, Y, MEAN))
    early = out.filter(_window(out) < 2)
    assert early.get_column("lo-80").null_count() == early.height
    assert early.get_column(INTERVAL_NOTE).unique().to_list() == [CALIBRATION_NOTE]
    scored = out.filter(_window(out) >= 2)
    assert scored.get_column(INTERVAL_NOTE).null_count() == scored.height
    expected = conformal_backtest(bt, (80, 95), min_windows=2, max_windows=3, bounds=Bounds(), transform="none")
    key = [ID, DS, CUTOFF]
    np.testing.assert_allclose(
        scored.sort(key).select("lo-80", "hi-80", "lo-95", "hi-95").to_numpy(),
        expected.sort(key).select("lo-80", "hi-80", "lo-95", "hi-95").to_numpy(),
    )


def test_calibrated_intervals_keep_their_promise_on_exchangeable_residuals() -> None:
    bt = _backtest(n_series=60, n_windows=12, seed=5)
    out, _ = calibrate_backtest(bt, _settings(12), ["m"])
    scored = out.filter(pl.col("lo-80").is_not_null())
    y, lo80, hi80 = (scored.get_column(c).to_numpy() for c in (Y, "lo-80", "hi-80"))
    lo95, hi95 = scored.get_column("lo-95").to_numpy(), scored.get_column("hi-95").to_numpy()
    n = y.size  # 60 × 11 × 5 = 3,300 points: a 95 % binomial band of about ±0.014 around 0.80
    assert n == 3300
    assert abs(np.mean((y >= lo80) & (y <= hi80)) - 0.80) < 3 * np.sqrt(0.16 / n) + 0.01
    assert abs(np.mean((y >= lo95) & (y <= hi95)) - 0.95) < 3 * np.sqrt(0.0475 / n) + 0.01
    # the model's own intervals (±0.1, ±0.2) cover far less: calibration changed them
    assert np.mean((y >= 9.9) & (y <= 10.1)) < 0.2


def test_a_backtest_too_short_to_calibrate_is_kept_and_says_why() -> None:
    bt = _backtest(n_series=10, n_windows=2)
    out, note = calibrate_backtest(bt, _settings(2), ["m"])
    assert out.equals(bt)
    assert note is not None and "2 window(s)" in note and "more than 2" in note


def test_overlapping_windows_wait_until_their_truth_is_complete() -> None:
    bt = _backtest(n_series=10, n_windows=12, step=1)  # h = 5, stride 1: 4 more windows before the first score
    out, note = calibrate_backtest(bt, _settings(12, step=1), ["m"])
    assert note is None
    windows = out.with_columns(_window(out).alias("w"))
    first_scored = windows.filter(pl.col("lo-80").is_not_null()).get_column("w").min()
    assert first_scored == 2 + 4


def test_the_forecast_is_calibrated_on_the_last_windows_only() -> None:
    bt = _backtest(n_series=10, n_windows=8)
    forecast = bt.filter(_window(bt) == 7).drop(CUTOFF, Y).with_columns(pl.col(DS) + timedelta(days=40))
    settings = _settings(8)
    base = calibrate_forecast(forecast, bt, settings, ["m"])
    old = bt.with_columns(pl.when(_window(bt) == 0).then(pl.col(Y) * 50).otherwise(pl.col(Y)).alias(Y))
    assert calibrate_forecast(forecast, old, settings, ["m"]).equals(base)  # window 0 is outside the last 3
    recent = bt.with_columns(pl.when(_window(bt) == 7).then(pl.col(Y) * 50).otherwise(pl.col(Y)).alias(Y))
    wider = calibrate_forecast(forecast, recent, settings, ["m"])
    assert (wider.get_column("hi-80") > base.get_column("hi-80")).all()


def test_auto_scale_is_log1p_for_a_target_bounded_below_by_zero() -> None:
    s = _settings(8, scale="auto")
    assert score_transforms(s.replace(bounds=Bounds(0.0, 24.0)), ["m"]) == {"m": "log1p"}
    assert score_transforms(s.replace(bounds=Bounds(-5.0, None)), ["m"]) == {"m": "none"}
    assert score_transforms(s.replace(bounds=Bounds()), ["m"]) == {"m": "none"}
    model = s.replace(calibration_scale="model", bounds=Bounds(0.0, 24.0), transform={"m": "logit"})
    assert repr(score_transforms(model, ["m"])["m"]).startswith("Logit")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"intervals": "bootstrap"}, "intervals: expected one of model, conformal"),
        ({"calibration_windows": 0}, "calibration_windows"),
        ({"calibration_scale": "log"}, "calibration_scale: expected one of"),
        ({"calibration_score": "studentised"}, "calibration_score: expected one of absolute, normalised"),
    ],
)
def test_settings_refuse_bad_calibration_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _settings(8).replace(**changes)


def _uneven(n_windows: int, *, seed: int = 0) -> pl.DataFrame:
    """Three quiet series (residual sd 0.2) and three loud ones (sd 2), each model interval ±1.2816 sd: right in
    width, so only the normalised scores can use it."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        sd = 0.2 if s < 3 else 2.0
        for w in range(n_windows):
            cutoff = date(2024, 1, 1) + timedelta(days=w * H)
            for k in range(1, H + 1):
                half = 1.2816 * sd
                rows.append((f"s{s}", cutoff + timedelta(days=k), cutoff, "m", 10 + sd * rng.normal(), 10.0, half))
    frame = pl.DataFrame(rows, schema=[ID, DS, CUTOFF, MODEL, Y, MEAN, "half"], orient="row")
    return frame.with_columns(
        (pl.col(MEAN) - pl.col("half")).alias("lo-80"), (pl.col(MEAN) + pl.col("half")).alias("hi-80"),
        (pl.col(MEAN) - 1.5 * pl.col("half")).alias("lo-95"), (pl.col(MEAN) + 1.5 * pl.col("half")).alias("hi-95"),
    ).drop("half")  # fmt: skip


def _coverage_by_loudness(out: pl.DataFrame) -> dict[bool, float]:
    scored = out.filter(pl.col("lo-80").is_not_null()).with_columns(pl.col(ID).is_in(["s3", "s4", "s5"]).alias("loud"))
    inside = ((pl.col(Y) >= pl.col("lo-80")) & (pl.col(Y) <= pl.col("hi-80"))).mean()
    return dict(scored.group_by("loud").agg(inside).iter_rows())


def test_normalised_scores_cover_quiet_and_loud_series_alike() -> None:
    bt = _uneven(40)  # 6 series: the first 4 windows only calibrate; 36 x 3 x 5 = 540 scored points per group
    absolute, _ = calibrate_backtest(bt, _settings(40), ["m"])
    normalised, note = calibrate_backtest(bt, _settings(40).replace(calibration_score="normalised"), ["m"])
    assert note is None
    same = [ID, DS, CUTOFF, MODEL, Y, MEAN, INTERVAL_NOTE]
    assert normalised.select(same).equals(absolute.select(same))  # same windows calibrate, same windows scored
    pooled = _coverage_by_loudness(absolute)
    assert pooled[False] > 0.97 and pooled[True] < 0.7  # one width for all: quiet series over-, loud under-covered
    for share in _coverage_by_loudness(normalised).values():
        assert abs(share - 0.80) < 0.06  # 3.5 standard errors of 540 points


def test_a_normalised_forecast_follows_the_model_width() -> None:
    bt = _uneven(8)
    forecast = bt.filter(_window(bt) == 7).drop(CUTOFF, Y).with_columns(pl.col(DS) + timedelta(days=40))
    settings = _settings(8).replace(calibration_score="normalised")
    base = calibrate_forecast(forecast, bt, settings, ["m"])
    doubled = forecast.with_columns((2 * pl.col(c) - pl.col(MEAN)).alias(c) for c in ("lo-80", "hi-80"))
    wide = calibrate_forecast(doubled, bt, settings, ["m"])
    half = (base.get_column("hi-80") - base.get_column(MEAN)).to_numpy()
    np.testing.assert_allclose((wide.get_column("hi-80") - wide.get_column(MEAN)).to_numpy(), 2 * half)
    loud = base.filter(pl.col(ID) == "s5").get_column("hi-80") - 10.0
    quiet = base.filter(pl.col(ID) == "s0").get_column("hi-80") - 10.0
    np.testing.assert_allclose(loud.to_numpy(), 10 * quiet.to_numpy())  # widths 10x apart, as the model's


def test_the_score_setting_round_trips_and_defaults_to_absolute() -> None:
    assert ForecastSettings().calibration_score == "absolute"
    s = _settings(8).replace(calibration_score="normalised")
    assert ForecastSettings.from_dict(s.to_dict()) == s
    old = {k: v for k, v in s.to_dict().items() if k != "calibration_score"}  # a model logged before the setting
    assert ForecastSettings.from_dict(old).calibration_score == "absolute"


def test_models_without_intervals_of_their_own_keep_absolute_scores() -> None:
    own = _uneven(10)
    bare = own.with_columns(pl.lit("n").alias(MODEL), *(pl.lit(None, dtype=pl.Float64).alias(c) for c in _BANDS))
    bt = pl.concat([own, bare])
    absolute, _ = calibrate_backtest(bt, _settings(10), ["m", "n"])
    normalised, _ = calibrate_backtest(bt, _settings(10).replace(calibration_score="normalised"), ["m", "n"])
    is_n = pl.col(MODEL) == "n"
    assert normalised.filter(is_n).equals(absolute.filter(is_n))
    assert not normalised.filter(~is_n).equals(absolute.filter(~is_n))
