"""Split-conformal intervals: the finite-sample quantile by hand, bounds, and held-out coverage on demo data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from experiments.demo import generate_demo
from features.contract import CUTOFF, DS, HOURS_PER_DAY, ID, MEAN, MODEL, NON_NEGATIVE, Y, hi_col, lo_col
from forecast.backtest import backtest
from forecast.conformal import conformal_backtest, conformal_intervals, conformal_quantile, half_widths
from forecast.metrics import coverage
from forecast.models import SeasonalNaive
from forecast.output.bounds import make_transform
from forecast.settings import BacktestPlan, ForecastSettings

D = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]
SCHEMA = {ID: pl.String, DS: pl.Date, CUTOFF: pl.Date, MODEL: pl.String, Y: pl.Float64, MEAN: pl.Float64}


def test_finite_sample_quantile_by_hand():
    scores = np.arange(9.0, 0.0, -1.0)  # 1..9, unsorted
    assert conformal_quantile(scores, 80) == 8.0  # k = ceil(10 * 0.8) = 8
    assert conformal_quantile(scores, 50) == 5.0  # k = ceil(10 * 0.5) = 5
    assert conformal_quantile(np.arange(1.0, 20.0), 95) == 19.0  # n = 19: k = ceil(20 * 0.95) = 19 = n
    with pytest.raises(
        ValueError, match=r"9 calibration residuals cannot calibrate a 95% interval \(need at least 19\)"
    ):
        conformal_quantile(scores, 95)


def _calibration() -> pl.DataFrame:
    """Two steps; step 1 residuals 1..9 (|y - mean|), step 2 residuals 2, 4, ..., 18, spread over windows/series."""
    rows = []
    for i in range(9):
        uid, cutoff = ("a" if i % 2 else "b"), D[i]
        rows.append((uid, D[i + 1], cutoff, "m", 10.0 + (i + 1) * (-1) ** i, 10.0))
        rows.append((uid, D[i + 2], cutoff, "m", 10.0 - 2.0 * (i + 1), 10.0))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def test_intervals_quantiles_and_exceedance_by_hand():
    fc = pl.DataFrame(
        {ID: ["z", "z"], DS: [D[30], D[31]], MODEL: ["m", "m"], MEAN: [5.0, 5.0], "lo-80": [0.0, 0.0], "x": [1, 2]}
    )
    out = conformal_intervals(_calibration(), fc, (80,), quantiles=(0.1, 0.5, 0.9), thresholds=(5.0, 10.0, 100.0))
    quantile_cols = ["q-0.1", "q-0.5", "q-0.9"]
    exceed_cols = ["p_exceed-5", "p_exceed-10", "p_exceed-100"]
    assert out.columns == [ID, DS, MODEL, MEAN, "lo-80", "hi-80", *quantile_cols, *exceed_cols, "x"]
    # step 1: q80 = 8 -> [-3, 13]; step 2: q80 = 16 (8th of 2, 4, ..., 18) -> [-11, 21]
    assert out.get_column("lo-80").to_list() == [-3.0, -11.0]
    assert out.get_column("hi-80").to_list() == [13.0, 21.0]
    assert out.get_column("q-0.1").to_list() == [-3.0, -11.0] and out.get_column("q-0.5").to_list() == [5.0, 5.0]
    # P(y > 10) = P(e > 5) = 1/2 * #{s > 5} / 9: step 1 -> 4/18, step 2 (s = 2..18) -> 7/18
    np.testing.assert_allclose(out.get_column("p_exceed-10").to_numpy(), [4 / 18, 7 / 18])
    assert out.get_column("p_exceed-5").to_list() == [0.5, 0.5]
    assert out.get_column("p_exceed-100").to_list() == [0.0, 0.0]
    bounded = conformal_intervals(_calibration(), fc, (80,), bounds=NON_NEGATIVE)
    assert bounded.get_column("lo-80").to_list() == [0.0, 0.0]


def test_log1p_scale_gives_multiplicative_intervals():
    cal = _calibration().with_columns(pl.col(Y).abs(), pl.col(MEAN))
    fc = pl.DataFrame({ID: ["z", "y"], DS: [D[30], D[30]], MODEL: ["m", "m"], MEAN: [1.0, 100.0]})
    out = conformal_intervals(cal, fc, (80,), bounds=NON_NEGATIVE, transform="log1p")
    width = (out.get_column("hi-80") - out.get_column("lo-80")).to_numpy()
    assert width[1] > 20 * width[0]  # same log-scale half-width, far wider at a high level
    assert out.get_column("lo-80").min() >= 0


def test_errors_name_model_and_step():
    fc = pl.DataFrame({ID: ["z"] * 3, DS: D[30:33], MODEL: ["m"] * 3, MEAN: [5.0] * 3})
    with pytest.raises(ValueError, match="no calibration residuals for model 'm' at step 3"):
        conformal_intervals(_calibration(), fc, (80,))
    with pytest.raises(ValueError, match="model 'm', step 1: 9 calibration residuals cannot calibrate a 95%"):
        conformal_intervals(_calibration(), fc.head(2), (95,))
    other = fc.head(1).with_columns(pl.lit("other").alias(MODEL))
    with pytest.raises(ValueError, match="no calibration residuals for model 'other' at step 1"):
        conformal_intervals(_calibration(), other, (80,))


def _with_model_intervals(frame: pl.DataFrame, widths: dict[int, float]) -> pl.DataFrame:
    """The model's own 80 % interval: mean ± the half-width of the row's step."""
    step = pl.col(DS).rank("ordinal").over(ID, CUTOFF) if CUTOFF in frame.columns else pl.lit(1)
    half = step.replace_strict(widths, default=None, return_dtype=pl.Float64)
    return frame.with_columns((pl.col(MEAN) - half).alias("lo-80"), (pl.col(MEAN) + half).alias("hi-80"))


def test_normalised_scores_by_hand():
    # step 1: residuals 1..9 with model half-width 1; step 2: residuals 2..18 with half-width 2. Divided by the width
    # both steps give 1..9, mean 5 (the step factor), so the pooled scores are 0.2, 0.2, 0.4, 0.4, ..., 1.8, 1.8
    cal = _with_model_intervals(_calibration(), {1: 1.0, 2: 2.0})
    fc = pl.DataFrame({ID: ["z", "z"], DS: [D[30], D[31]], MODEL: ["m", "m"], MEAN: [5.0, 5.0]})
    fc = fc.with_columns(pl.Series("lo-80", [2.0, 4.0]), pl.Series("hi-80", [8.0, 6.0]))  # half-widths 3 and 1
    out = conformal_intervals(cal, fc, (80,), thresholds=(10.0,), spread=80)
    # q80: the 16th of the 18 pooled scores (k = ceil(19 * 0.8)) = 1.6; half-width q * width * factor
    np.testing.assert_allclose(out.get_column("hi-80").to_numpy(), [5.0 + 1.6 * 3 * 5, 5.0 + 1.6 * 1 * 5])
    np.testing.assert_allclose(out.get_column("lo-80").to_numpy(), [5.0 - 24.0, 5.0 - 8.0])
    # P(y > 10): d = 5 / (width * 5) = 1/3 and 1: 1/2 * #{u > d} / 18 = 1/2 * 16/18 and 1/2 * 8/18
    np.testing.assert_allclose(out.get_column("p_exceed-10").to_numpy(), [8 / 18, 4 / 18])


def test_normalised_scores_fall_back_to_absolute_ones_without_model_intervals():
    fc = pl.DataFrame({ID: ["z", "z"], DS: [D[30], D[31]], MODEL: ["m", "m"], MEAN: [5.0, 5.0]})
    absolute = conformal_intervals(_calibration(), fc, (80,))
    assert conformal_intervals(_calibration(), fc, (80,), spread=80).equals(absolute)  # no intervals anywhere
    with_own = _with_model_intervals(_calibration(), {1: 1.0, 2: 2.0})
    assert conformal_intervals(with_own, fc, (80,), spread=80).equals(absolute)  # none on the forecast rows
    zero = fc.with_columns(pl.col(MEAN).alias("lo-80"), pl.col(MEAN).alias("hi-80"))  # degenerate model intervals
    assert conformal_intervals(with_own, zero, (80,), spread=80).equals(absolute)


def test_a_side_cut_by_a_bound_does_not_count_as_spread():
    tr = make_transform("log1p", NON_NEGATIVE)
    frame = pl.DataFrame({MEAN: [100.0, 10.0], "lo-80": [50.0, 0.0], "hi-80": [200.0, 30.0]})
    got = half_widths(frame, 80, tr)
    # both sides: ½·log(201/51); the lower side clipped to 0: the upper one, log(31/11), not ½·log(31/1)
    np.testing.assert_allclose(got, [0.5 * np.log(201 / 51), np.log(31 / 11)])


# -- held-out coverage on demo data ----------------------------------------------------------------------------
H, N_WINDOWS = 7, 104  # two years of weekly windows: the first year calibrates, the second is held out


@pytest.fixture(scope="module")
def demo_backtest() -> pl.DataFrame:
    o = generate_demo().outages.select(
        pl.col("region").alias(ID), pl.col("date").alias(DS), pl.col("hours_off").alias(Y)
    )
    grid = (
        o.select(ID).unique().join(pl.DataFrame({DS: pl.date_range(o[DS].min(), o[DS].max(), eager=True)}), how="cross")
    )
    df = grid.join(o, on=[ID, DS], how="left").sort(ID, DS)  # gaps stay null rows
    assert df.get_column(ID).n_unique() == 24 and df.height > 24 * 900
    return backtest(
        df,
        {"snaive": SeasonalNaive(7)},
        ForecastSettings(freq="1d", bounds=HOURS_PER_DAY, backtest=BacktestPlan(h=H, n_windows=N_WINDOWS, step=H)),
    )


@pytest.mark.parametrize("transform", ["none", "logit"])
def test_held_out_coverage_within_5_points_of_nominal(demo_backtest: pl.DataFrame, transform: str):
    cutoffs = demo_backtest.get_column(CUTOFF).unique().sort()
    split = cutoffs[N_WINDOWS // 2 - 1]
    calib = demo_backtest.filter(pl.col(CUTOFF) <= split)
    held_out = demo_backtest.filter(pl.col(CUTOFF) > split)
    assert held_out.get_column(CUTOFF).n_unique() == N_WINDOWS // 2
    out = conformal_intervals(calib, held_out, (80, 95), bounds=HOURS_PER_DAY, transform=transform)
    y = out.get_column(Y).to_numpy()
    assert np.isfinite(y).sum() > 8000  # 52 windows x 24 regions x 7 steps, minus the gaps
    for level in (80, 95):
        achieved = 100 * coverage(y, out.get_column(lo_col(level)).to_numpy(), out.get_column(hi_col(level)).to_numpy())
        assert abs(achieved - level) <= 5, (transform, level, achieved)
    assert out.select(pl.min_horizontal(pl.col(lo_col(95)).min()), pl.col(hi_col(95)).max()).row(0) >= (0.0, 0.0)
    assert out.get_column(hi_col(95)).max() <= 24


def test_honest_conformal_backtest_calibrates_on_the_past_only(demo_backtest: pl.DataFrame):
    # each held-out window calibrated on the 52 weekly windows (one year) before it
    first = conformal_backtest(demo_backtest, (80, 95), min_windows=52, max_windows=52, bounds=HOURS_PER_DAY)
    assert first.get_column("window").unique().sort().to_list() == list(range(52, N_WINDOWS))
    y = first.get_column(Y).to_numpy()
    for level in (80, 95):
        achieved = 100 * coverage(
            y, first.get_column(lo_col(level)).to_numpy(), first.get_column(hi_col(level)).to_numpy()
        )
        assert abs(achieved - level) <= 5, (level, achieved)
    # change the truth of the last window: no earlier window's interval may move
    last = demo_backtest.get_column(CUTOFF).max()
    trapped = demo_backtest.with_columns(pl.when(pl.col(CUTOFF) == last).then(24.0).otherwise(pl.col(Y)).alias(Y))
    second = conformal_backtest(trapped, (80,), min_windows=52, max_windows=52, bounds=HOURS_PER_DAY)
    cols = [ID, DS, CUTOFF, "lo-80", "hi-80"]
    earlier = pl.col(CUTOFF) < last
    assert first.filter(earlier).select(cols).equals(second.filter(earlier).select(cols))
    with pytest.raises(ValueError, match="leaves no window to score"):
        conformal_backtest(demo_backtest, (80,), min_windows=N_WINDOWS)
