"""Sampled strike paths (#10 item 1): the sampler, the provider's sampled futures, fit once / predict many, the
mixture, and the sampled backtest's calibrated coverage on the demo (slow)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Bounds, Y
from features.indicators import add_indicators, validate_indicator_specs
from forecast.backtest import backtest, backtest_paths
from forecast.calibration import calibrate_backtest
from forecast.conformal import conformal_intervals
from forecast.core import forecast_frame, forecast_frame_paths, future_grid
from forecast.models import Sarimax, SeasonalNaive
from forecast.scenarios import (
    Baseline,
    InputPathProvider,
    Scaled,
    Zero,
    make_path,
    sampled_backtest,
    sampled_forecast,
)
from forecast.scenarios.mixture import atom_bounds, conformal_mixture, gaussian_mixture
from forecast.scenarios.sampling import campaign, fit_dispersion, stream
from forecast.settings import BacktestPlan, ForecastSettings

START = dt.date(2023, 1, 2)
INDICATORS = validate_indicator_specs(
    [{"name": "damage_stock", "input": "launched", "weight": 0.01, "repair_rate": 0.1, "cap": 1.5}]
)
SAMPLED = {"path": "baseline", "samples": 40, "seed": 7}


def _days(n: int) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(n)]


def _counts(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weekly = np.array([1.0, 1.1, 1.0, 1.2, 1.1, 0.9, 0.7])[np.arange(n) % 7]
    campaign_level = np.repeat(rng.gamma(4.0, 0.25, n // 14 + 1), 14)[:n]
    return rng.poisson(rng.gamma(1.5, 30.0 * weekly * campaign_level / 1.5)).astype(float)


def _inputs(ids: tuple[str, ...] = ("a", "b", "c"), n: int = 500) -> pl.DataFrame:
    """A national count column broadcast to ``a`` and ``b``; ``c`` has its own counts."""
    national = _counts(n)
    parts = [
        pl.DataFrame({ID: [u] * n, DS: _days(n), "launched": national if u != "c" else _counts(n, 9)}) for u in ids
    ]
    return pl.concat(parts)


def _split(inputs: pl.DataFrame, cut: int, h: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    ranked = inputs.with_columns(pl.int_range(pl.len()).over(ID).alias("_i"))
    history = ranked.filter(pl.col("_i") < cut).select(ID, DS)
    future = ranked.filter((pl.col("_i") >= cut) & (pl.col("_i") < cut + h)).select(ID, DS)
    return history, future


def _provider(inputs: pl.DataFrame, path: object = SAMPLED, scenario: str = "baseline") -> InputPathProvider:
    return InputPathProvider(inputs, INDICATORS, {"launched": path}, season_length=7, scenario=scenario)  # type: ignore[dict-item]


def _values(frames: list[pl.DataFrame], column: str, uid: str) -> np.ndarray:
    return np.stack([f.filter(pl.col(ID) == uid).get_column(column).to_numpy() for f in frames])


# -- the sampler ---------------------------------------------------------------------------------------------------
def test_negative_binomial_fit_recovers_the_dispersion_and_calls_poisson_poisson() -> None:
    rng = np.random.default_rng(0)
    mu = np.full(20_000, 30.0)
    x = rng.poisson(rng.gamma(1.5, mu / 1.5)).astype(float)
    assert fit_dispersion(x, mu) == pytest.approx(1.5, rel=0.06)
    assert fit_dispersion(rng.poisson(mu).astype(float), mu) > 50  # ≈ Poisson (or inf: no excess variance)
    assert fit_dispersion(np.full(50, 3.0), np.full(50, 3.0)) == float("inf")  # under-dispersed: Poisson


def test_campaign_recovers_a_persistent_multiplier_from_past_totals() -> None:
    rng = np.random.default_rng(4)
    n, h = 14 * 600, 14
    lam = np.repeat(rng.gamma(4.0, 0.25, n // h), h)  # cv 0.5, mean 1, constant over each 14-day block
    x = rng.poisson(rng.gamma(2.0, 40.0 * lam / 2.0)).astype(float)
    b, cv = campaign(x, h, lambda past, k: np.full(k, 40.0), 2.0, span=n, stride=h)
    assert b == pytest.approx(1.0, abs=0.05)
    assert cv == pytest.approx(0.5, abs=0.06)


def test_draws_are_reproducible_by_seed_and_differ_with_it() -> None:
    x, ds = _counts(300), np.array(_days(300), dtype="datetime64[D]")
    fut = ds[-1] + np.arange(1, 15)
    one = Baseline(samples=30, seed=3).draw(ds, x, fut, 7, ("baseline", "launched"))
    again = Baseline(samples=30, seed=3).draw(ds, x, fut, 7, ("baseline", "launched"))
    other = Baseline(samples=30, seed=4).draw(ds, x, fut, 7, ("baseline", "launched"))
    np.testing.assert_array_equal(one, again)
    assert one.shape == (30, 14) and not np.array_equal(one, other)
    assert np.array_equal(one, np.round(one)) and (one >= 0).all()
    assert stream(1, "a", b"x").random() == stream(1, "a", b"x").random() != stream(1, "b", b"x").random()


def test_surge_is_factor_times_the_baseline_on_average_and_more_dispersed() -> None:
    x, ds = _counts(400), np.array(_days(400), dtype="datetime64[D]")
    fut = ds[-1] + np.arange(1, 15)
    base = Baseline(samples=4000, seed=2).draw(ds, x, fut, 7, ("s", "launched"))
    surge = Scaled(factor=2.0, samples=4000, seed=2).draw(ds, x, fut, 7, ("s", "launched"))
    assert surge.mean() == pytest.approx(2.0 * base.mean(), rel=0.05)
    assert surge.var() / surge.mean() > base.var() / base.mean()  # index of dispersion grows with the tempo
    assert base.mean() == pytest.approx(Baseline().extend(ds, x, fut, 7).mean(), rel=0.35)  # b corrects the level


def test_sampling_parameters_are_validated_and_reach_make_path() -> None:
    assert make_path({"path": "scaled", "factor": 2, "samples": 100, "seed": 7}) == Scaled(
        factor=2, samples=100, seed=7
    )
    with pytest.raises(ValueError, match="samples: expected an integer >= 0"):
        make_path({"path": "baseline", "samples": -1})
    with pytest.raises(ValueError, match="campaign: expected true or false"):
        make_path({"path": "baseline", "samples": 5, "campaign": "yes"})
    with pytest.raises(ValueError, match="need the same samples"):
        InputPathProvider(
            _inputs().with_columns(pl.col("launched").alias("other")),
            [],
            {"launched": {"path": "baseline", "samples": 5}, "other": {"path": "baseline", "samples": 6}},
        )


# -- the provider --------------------------------------------------------------------------------------------------
def test_sampled_futures_are_order_independent_and_the_same_for_a_broadcast_column() -> None:
    inputs = _inputs()
    history, future = _split(inputs, 400, 14)
    cols = ["launched", "launched_damage"]
    frames = _provider(inputs).futures(history, future, cols)
    assert len(frames) == 40 and all(f.select(ID, DS).equals(future) for f in frames)
    # series given in another order: each series' draws are unchanged
    rev_h, rev_f = history.sort(ID, descending=True), future.sort(ID, descending=True)
    rev = _provider(inputs).futures(rev_h, rev_f, cols)
    for uid in ("a", "b", "c"):
        np.testing.assert_array_equal(_values(frames, "launched", uid), _values(rev, "launched", uid))
    # scenarios run in another order: nothing carries over between them
    surge = {"path": "scaled", "factor": 2.0, "samples": 40, "seed": 7}
    first = _provider(inputs, surge, "surge").futures(history, future, cols)
    _provider(inputs).futures(history, future, cols)
    second = _provider(inputs, surge, "surge").futures(history, future, cols)
    assert all(a.equals(b) for a, b in zip(first, second, strict=True))
    # the national column broadcast to a and b: the same draws; c (another history) its own
    np.testing.assert_array_equal(_values(frames, "launched", "a"), _values(frames, "launched", "b"))
    assert not np.array_equal(_values(frames, "launched", "a"), _values(frames, "launched", "c"))


def test_each_sampled_frame_recomputes_the_indicators_along_its_path() -> None:
    inputs = _inputs(("a", "c"))
    history, future = _split(inputs, 300, 10)
    frames = _provider(inputs).futures(history, future, ["launched_damage", "launched"])
    for k in (0, 17):
        for uid in ("a", "c"):
            past = inputs.filter((pl.col(ID) == uid) & pl.col(DS).is_in(history[DS].implode()))
            path = frames[k].filter(pl.col(ID) == uid).select(ID, DS, "launched")
            full = add_indicators(pl.concat([past, path]), INDICATORS)
            expected = full.tail(10).get_column("launched_damage").to_numpy()
            np.testing.assert_allclose(frames[k].filter(pl.col(ID) == uid)["launched_damage"], expected)


def test_ceasefire_has_no_uncertainty_and_conditioned_reads_the_truth_only_for_sampled_columns() -> None:
    inputs = _inputs()
    history, future = _split(inputs, 400, 14)
    zero = _provider(inputs, "zero")
    assert zero.samples == 1 and zero.sampled == []
    (only,) = zero.futures(history, future, ["launched"])
    assert (only["launched"] == 0).all()
    truth = future.join(inputs, on=[ID, DS], how="left")["launched"]
    assert _provider(inputs).conditioned(history, future, ["launched"])["launched"].equals(truth)
    assert (zero.conditioned(history, future, ["launched"])["launched"] == 0).all()  # not sampled: its path


# -- fit once, predict many ----------------------------------------------------------------------------------------
def _frame(n: int = 150) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    parts = []
    for k, uid in enumerate(("a", "b")):
        x = rng.gamma(2.0, 1.0, n)
        y = np.clip(8 + 3 * np.sin(2 * np.pi * np.arange(n) / 7 + k) + 2 * x + rng.normal(0, 1, n), 0, 24)
        parts.append(pl.DataFrame({ID: [uid] * n, DS: _days(n), Y: y, "x": x}))
    return pl.concat(parts)


SETTINGS = ForecastSettings(
    season_length=7,
    bounds=Bounds(0.0, 24.0),
    transform="logit",
    exog=("x",),
    quantiles=(0.1, 0.5, 0.9),
    thresholds=(12.0,),
)
MODELS = {"sarimax": Sarimax(order=(1, 0, 0)), "seasonal_naive": SeasonalNaive(season_length=7)}


def _futures(df: pl.DataFrame, h: int, k: int) -> list[pl.DataFrame]:
    grid = future_grid(df, h, "1d")
    rng = np.random.default_rng(8)
    return [grid.with_columns(pl.Series("x", rng.gamma(2.0, 1.0 + i, grid.height))) for i in range(k)]


def test_fit_once_predict_many_equals_forecast_frame_under_each_future() -> None:
    df = _frame()
    futures = _futures(df, 10, 3)
    many = forecast_frame_paths(df, MODELS, 10, SETTINGS, futures)
    for fut, got in zip(futures, many, strict=True):
        assert_frame_equal(got, forecast_frame(df, MODELS, 10, SETTINGS, future_exog=fut), rel_tol=1e-9)
    assert not many[0][MEAN].equals(many[1][MEAN])


def test_backtest_paths_with_one_future_is_the_backtest() -> None:
    df = _frame()
    settings = SETTINGS.replace(backtest=BacktestPlan(h=7, n_windows=3, refit_every=2))
    (one,) = backtest_paths(df, MODELS, settings, lambda hist, test: _futures(hist, 7, 1))
    assert_frame_equal(one, backtest(df, MODELS, settings, exog_provider=_Fixed()), rel_tol=1e-9)


class _Fixed:
    """The first of :func:`_futures` at any cutoff, as an exogenous provider."""

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
        return _futures(history, 7, 1)[0]


# -- the mixture ---------------------------------------------------------------------------------------------------
def _calibration(df: pl.DataFrame, seed: int = 3) -> pl.DataFrame:
    """A backtest-like frame: 10 cutoffs of 10 steps for each series and model, with noisy means."""
    rng = np.random.default_rng(seed)
    rows = []
    for uid in ("a", "b"):
        for model in MODELS:
            for w in range(10):
                cut = START + dt.timedelta(days=20 * w)
                for st in range(1, 11):
                    y = float(rng.uniform(2, 20))
                    rows.append((uid, cut + dt.timedelta(days=st), cut, model, y, y + float(rng.normal(0, 2))))
    return pl.DataFrame(rows, schema=[ID, DS, CUTOFF, MODEL, Y, MEAN], orient="row").with_columns(
        pl.col(MEAN).clip(0, 24)
    )


def test_a_mixture_of_identical_components_is_the_component() -> None:
    df = _frame()
    settings = SETTINGS.replace(levels=(50, 80))
    calib = _calibration(df)
    fc = forecast_frame(
        df, MODELS, 10, settings.replace(levels=(), quantiles=(), thresholds=()), future_exog=_futures(df, 10, 1)[0]
    )
    means = np.repeat(fc[MEAN].to_numpy()[:, None], 5, axis=1)
    mixed = conformal_mixture(fc, means, calib, settings, list(MODELS))
    single = conformal_intervals(
        calib,
        fc,
        settings.levels,
        quantiles=settings.quantiles,
        thresholds=(12.0,),
        bounds=settings.bounds,
        transform="log1p",
    )
    assert mixed.columns == single.columns
    assert_frame_equal(mixed, single, rel_tol=1e-9, abs_tol=1e-9)


def test_mixture_bounds_are_monotone_nested_and_inside_the_bounds() -> None:
    rng = np.random.default_rng(2)
    centers = rng.normal(2.0, 1.0, (30, 25))
    lows, highs, median = atom_bounds(centers, np.abs(rng.normal(0, 0.5, 96)), [0.025, 0.05, 0.1, 0.25, 0.45])
    for t1, t2 in [(0.025, 0.05), (0.05, 0.1), (0.1, 0.25), (0.25, 0.45)]:
        assert (lows[t1] <= lows[t2]).all() and (highs[t1] >= highs[t2]).all()
    assert (lows[0.45] <= median).all() and (median <= highs[0.45]).all()
    with pytest.raises(ValueError, match="10 calibration residuals cannot calibrate a 95% interval"):
        atom_bounds(centers, np.ones(10), [0.025])
    with pytest.raises(ValueError, match=r"10 sampled paths cannot calibrate a 95% interval \(samples: at least 19\)"):
        atom_bounds(centers[:, :10], np.ones(50), [0.025], sampled=True)
    scores = np.abs(rng.normal(0, 0.5, 96))
    plain, corrected = atom_bounds(centers, scores, [0.1]), atom_bounds(centers, scores, [0.1], sampled=True)
    assert (corrected[0][0.1] <= plain[0][0.1]).all() and (corrected[1][0.1] >= plain[1][0.1]).all()
    assert np.isfinite(corrected[0][0.1]).all() and np.isfinite(corrected[1][0.1]).all()
    df = _frame()
    fcs = forecast_frame_paths(
        df, MODELS, 10, SETTINGS.replace(quantiles=(0.05, 0.1, 0.5, 0.9, 0.95)), _futures(df, 10, 6)
    )
    settings = SETTINGS.replace(quantiles=(0.05, 0.1, 0.5, 0.9, 0.95))
    for mixed in (
        gaussian_mixture(fcs, settings, list(MODELS)),
        conformal_mixture(fcs[0], np.column_stack([f[MEAN] for f in fcs]), _calibration(df), settings, list(MODELS)),
    ):
        cols = ["lo-95", "q-0.05", "lo-80", "q-0.5", "hi-80", "q-0.95", "hi-95"]
        values = mixed.select(cols).to_numpy()
        assert (np.diff(values, axis=1) >= -1e-9).all()
        assert (values >= 0).all() and (values <= 24).all()
        assert ((mixed[MEAN] >= mixed["lo-80"]) & (mixed[MEAN] <= mixed["hi-80"])).all()
        assert mixed["p_exceed-12"].is_between(0, 1).all()


def test_sampled_forecast_has_the_forecast_frames_columns_and_rows() -> None:
    n = 200
    rng = np.random.default_rng(1)
    launched = _counts(n)
    df = pl.concat(
        pl.DataFrame({ID: [u] * n, DS: _days(n), Y: rng.uniform(0, 24, n), "launched": launched}) for u in ("a", "b")
    )
    provider = InputPathProvider(df.select(ID, DS, "launched"), INDICATORS, {"launched": SAMPLED}, season_length=7)
    history = df.with_columns(add_indicators(df.select(ID, DS, "launched"), INDICATORS)["launched_damage"])
    settings = SETTINGS.replace(exog=("launched_damage",))
    calib = _calibration(history).with_columns(
        pl.col(DS) + dt.timedelta(days=100), pl.col(CUTOFF) + dt.timedelta(days=100)
    )
    plain = forecast_frame(
        history,
        MODELS,
        10,
        settings,
        future_exog=provider.future(history, future_grid(history, 10, "1d"), ["launched_damage"]),
    )
    for calibration in (calib, None):
        got = sampled_forecast(history, MODELS, 10, settings.replace(intervals="conformal"), provider, calibration)
        assert got.columns == plain.columns and got.select(ID, DS, MODEL).equals(plain.select(ID, DS, MODEL))
        np.testing.assert_allclose(got[MEAN], plain[MEAN])  # the point forecast: under the deterministic path


def _job_like() -> tuple[pl.DataFrame, pl.DataFrame, ForecastSettings]:
    """Two regions whose hours off follow a damage stock of national strikes: the frame, raw inputs, settings."""
    n = 330
    rng = np.random.default_rng(6)
    raw = pl.concat(pl.DataFrame({ID: [u] * n, DS: _days(n), "launched": _counts(n, 3)}) for u in ("a", "b"))
    frame = add_indicators(raw, INDICATORS).with_columns(
        (24 / (1 + np.exp(-(-2.0 + 1.5 * pl.col("launched_damage") + rng.normal(0, 0.3, 2 * n))))).alias(Y)
    )
    settings = SETTINGS.replace(
        exog=("launched_damage",),
        intervals="conformal",
        backtest=BacktestPlan(h=5, n_windows=13, refit_every=4),
        calibration_windows=10,
    )
    return frame.select(ID, DS, Y, "launched_damage"), raw, settings


def test_without_sampled_paths_the_sampled_backtest_is_the_jobs_calibrated_backtest() -> None:
    frame, raw, settings = _job_like()
    provider = InputPathProvider(raw, INDICATORS, {"launched": "baseline"}, season_length=7)
    result = sampled_backtest(frame, MODELS, settings, provider)
    job, note = calibrate_backtest(backtest(frame, MODELS, settings, exog_provider=provider), settings, list(MODELS))
    assert note is None and result.samples == 1
    assert_frame_equal(result.frame, job, rel_tol=1e-9, abs_tol=1e-9)


def test_a_sampled_backtest_keeps_the_rows_and_columns_and_the_deterministic_point() -> None:
    frame, raw, settings = _job_like()
    settings = settings.replace(levels=(80,))  # 12 paths are too few for 95 % (19 needed)
    provider = InputPathProvider(raw, INDICATORS, {"launched": {**SAMPLED, "samples": 12}}, season_length=7)
    result = sampled_backtest(frame, MODELS, settings, provider)
    job, _ = calibrate_backtest(backtest(frame, MODELS, settings, exog_provider=provider), settings, list(MODELS))
    assert result.samples == 12 and result.path_means is not None and result.path_means.shape == (job.height, 12)
    assert result.frame.columns == job.columns and result.frame.select(ID, DS, CUTOFF, MODEL).equals(
        job.select(ID, DS, CUTOFF, MODEL)
    )
    np.testing.assert_allclose(result.frame[MEAN], job[MEAN])
    scored = result.frame.filter(pl.col("lo-80").is_not_null())
    assert scored.height == job.filter(pl.col("lo-80").is_not_null()).height > 0
    early = result.frame.filter(pl.col("interval_note") == "calibration window")
    assert early.height == job.filter(pl.col("interval_note") == "calibration window").height
    sarimax = (pl.col(MODEL) == "sarimax") & pl.col("lo-80").is_not_null()
    assert not result.frame.filter(sarimax)["hi-80"].equals(job.filter(sarimax)["hi-80"])  # the strikes now vary


def test_deterministic_paths_draw_one_path() -> None:
    ds = np.array(_days(30), dtype="datetime64[D]")
    fut = ds[-1] + np.arange(1, 4)
    assert Zero().n_samples() == 0 and Baseline().n_samples() == 0
    np.testing.assert_array_equal(Zero().draw(ds, np.ones(30), fut, 7), np.zeros((1, 3)))


# -- the demo (slow) -----------------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sampled_demo_backtest_covers_80_percent_where_the_future_strikes_are_not_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.demo import write_demo_data
    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.settings import build_models, exog_provider, forecast_settings
    from experiments.inputs.spec import load_spec
    from forecast.metrics import evaluate
    from forecast.scenarios import sampled_backtest

    write_demo_data(tmp_path / "data" / "demo")
    shutil.copyfile(REPO / "experiments" / "specs" / "demo.toml", tmp_path / "spec.toml")
    monkeypatch.chdir(tmp_path)
    spec = load_spec("spec.toml")
    sampled = {c: {"path": "baseline", "samples": 50, "seed": 7} for c in ("launched_uav", "launched_missile")}
    # the year of fortnightly windows this was measured on (the spec's 4 earlier ones only start MinT)
    plan = spec.backtest.model_copy(update={"n_windows": 26})
    spec = spec.model_copy(update={"paths": {**spec.paths, **sampled}, "backtest": plan})
    data = load_dataset(spec)
    result = sampled_backtest(data.frame, build_models(spec), forecast_settings(spec), exog_provider(spec, data))
    overall = evaluate(result.frame, data.frame, spec.season_length)["overall"]
    row = overall.filter(pl.col(MODEL) == "sarimax").row(0, named=True)
    assert row["coverage-80-n"] > 8000
    assert 0.77 <= row["coverage-80"] <= 0.83, row
    assert 0.92 <= row["coverage-95"] <= 0.97, row
    assert row["mase"] < 0.85  # the point forecast is the deterministic path's (0.832)
