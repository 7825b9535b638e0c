"""Forecasts and backtests under sampled input paths: fit once, predict under every path, mix, calibrate given inputs.

Why "given inputs": a backtest under the deterministic baseline path has residuals that already contain the error of
the future inputs (the strikes were not what the path said). Mixing over sampled strike paths *and* calibrating on
those residuals would count that error twice. So the intervals are calibrated on the model's error **given** the
sampled inputs — a backtest in which the sampled raw columns take their true values after each cutoff (the other
inputs still follow their paths, e.g. temperature its climatology: :meth:`InputPathProvider.conditioned`) — and the
forecast mixes ``path mean + that error`` over the sampled paths (:func:`forecast.scenarios.mixture.
conformal_mixture`). The truth is read only for those residuals, never for a forecast being scored.

:func:`sampled_backtest` walks the backtest once per window: every model is fitted once (``refit_every`` as in
:func:`forecast.backtest.backtest`) and predicts under the mean paths (today's deterministic backtest), the
conditioned inputs, and every sampled path. Window ``w`` is then scored honestly, like
:func:`forecast.calibration.calibrate_backtest`: its mixture is calibrated on the conditioned residuals of the
``calibration_windows`` windows before it whose truth was known at its cutoff; the first windows only calibrate
(null intervals, ``interval_note = "calibration window"``).
:func:`sampled_forecast` mixes the forecast's paths with the conditioned residuals of the backtest's last windows.

The point forecast ``mean`` is the forecast under the deterministic (mean) input paths, as without sampling, clipped
into the narrowest interval; ``q-0.5`` is the mixture's median (why: :mod:`forecast.scenarios.mixture`). So point
scores and ``delta_mean`` between scenarios are those of a job without sampling; intervals, quantiles and
exceedance probabilities are the mixture's.

With ``intervals = "model"`` (or a backtest too short to calibrate) the components are the paths' own Gaussian
intervals instead (:func:`~forecast.scenarios.mixture.gaussian_mixture`). A provider without sampled paths gives one
path: the mixture is then the conformal interval of the conditioned residuals (for a ceasefire, the strikes are
known: zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import FALLBACK, ID, MEAN
from forecast.backtest import backtest_paths
from forecast.calibration import CALIBRATION_NOTE, too_short_note, windows_needed
from forecast.core import ModelLike, forecast_frame_paths, future_grid
from forecast.exog import ExogProvider
from forecast.models.base import Forecaster
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.scenarios.mixture import conformal_mixture, gaussian_mixture, path_values
from forecast.scenarios.provider import InputPathProvider
from forecast.settings import ForecastSettings
from forecast.windows import WINDOW, earlier_windows, window_count, with_window

_ORDER = "_sampled_row"


@dataclass
class SampledBacktest:
    """A sampled backtest: ``frame`` is scored (the mixture; calibrated intervals as ``calibrate_backtest`` gives
    them), ``conditioned`` the raw backtest under the true sampled inputs (the residuals the forecast is calibrated
    on), ``deterministic`` the raw backtest under the mean paths from the same fits (what ``backtest`` gives with
    this provider; means only when calibrating), ``note`` why intervals are not calibrated (None when they are)."""

    frame: pl.DataFrame
    conditioned: pl.DataFrame
    deterministic: pl.DataFrame
    samples: int
    note: str | None = None
    path_means: np.ndarray | None = None  # (rows of frame, samples): each sampled path's mean, in frame row order


def _lag(settings: ForecastSettings) -> int:
    """Windows whose truth is incomplete at a cutoff when windows overlap (as :mod:`forecast.calibration`)."""
    plan = settings.backtest
    return 0 if plan is None else math.ceil(plan.h / plan.stride) - 1


def _span(n_series: int, settings: ForecastSettings) -> int:
    """Complete windows a calibration uses (as :mod:`forecast.calibration`)."""
    return max(windows_needed(n_series, settings.levels), settings.calibration_windows or 0)


def _means_only(settings: ForecastSettings) -> ForecastSettings:
    return settings.replace(levels=(), quantiles=(), thresholds=())


def _futures(
    provider: ExogProvider, history: pl.DataFrame, future: pl.DataFrame, exog: list[str]
) -> list[pl.DataFrame]:
    if isinstance(provider, InputPathProvider):
        return provider.futures(history, future, exog)
    return [provider.future(history, future, exog)]


def _is_sampled(provider: ExogProvider) -> bool:
    return isinstance(provider, InputPathProvider) and bool(provider.sampled)


def _stack(frames: Sequence[pl.DataFrame]) -> tuple[pl.DataFrame, np.ndarray]:
    """The first path's frame (fallback reason of any path) and the ``(rows, n)`` path means."""
    reasons = pl.coalesce([f.get_column(FALLBACK) for f in frames]) if len(frames) > 1 else frames[0][FALLBACK]
    base = frames[0].with_columns(reasons.alias(FALLBACK))
    return base, np.column_stack([path_values(f, MEAN) for f in frames])


def _model_mixture(
    frames: list[pl.DataFrame], point: np.ndarray, settings: ForecastSettings, names: list[str], sampled: bool
) -> pl.DataFrame:
    """The Gaussian mixture of the paths' own intervals; without levels, the point forecast alone."""
    if settings.levels:
        return gaussian_mixture(frames, settings, names, point=point, sampled=sampled)
    return frames[0].with_columns(pl.Series(MEAN, point, dtype=pl.Float64).fill_nan(None))


@dataclass(frozen=True)
class _WindowFutures:
    """A window's futures from its history and test rows: the deterministic paths, the paths conditioned on the
    history (the calibration's), then every sampled path. A class, not a closure, so that worker processes can
    receive it (:mod:`forecast.parallel`)."""

    provider: ExogProvider
    exog: tuple[str, ...]

    def __call__(self, history: pl.DataFrame, test: pl.DataFrame) -> list[pl.DataFrame]:
        p, exog = self.provider, list(self.exog)
        conditioned_of = p.conditioned if isinstance(p, InputPathProvider) else p.future
        return [p.future(history, test, exog), conditioned_of(history, test, exog), *_futures(p, history, test, exog)]


def sampled_backtest(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    provider: ExogProvider,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SampledBacktest:
    """The backtest of ``settings.backtest`` under ``provider``'s sampled paths, scored honestly (module docstring).

    ``frame`` has the rows and columns of ``calibrate_backtest``'s output (``interval_note`` last); ``mean`` is the
    deterministic paths' forecast. ``progress(done, total)`` is called after each window."""
    names = list(models)
    exog = list(settings.exog)
    plan = settings.backtest
    if plan is None:
        raise ValueError("sampled_backtest: settings.backtest is None; give a BacktestPlan")
    n_series, lag = df.get_column(ID).n_unique(), _lag(settings)
    needed, span = windows_needed(n_series, settings.levels) + lag, _span(n_series, settings) + lag
    note = too_short_note(plan.n_windows, needed) if settings.intervals == "conformal" else None
    conformal = settings.intervals == "conformal" and note is None
    futures = _WindowFutures(provider, tuple(exog))
    frames = backtest_paths(df, models, _means_only(settings) if conformal else settings, futures, progress=progress)
    deterministic, conditioned, paths = frames[0], frames[1], frames[2:]
    base, means = _stack(paths)
    point = path_values(deterministic, MEAN)
    sampled = _is_sampled(provider)
    if not conformal:
        mixed = _model_mixture([base, *paths[1:]], point, settings, names, sampled)
        return SampledBacktest(mixed, conditioned, deterministic, len(paths), note, means)
    framed = with_window(base.with_row_index(_ORDER))
    windows = framed.get_column(WINDOW).to_numpy()
    parts = []
    for w, _, calib in earlier_windows(conditioned, needed, span):
        at = np.flatnonzero(windows == w)
        target = framed[at].drop(WINDOW)
        mixed = conformal_mixture(target, means[at], calib, settings, names, point=point[at], sampled=sampled)
        parts.append(mixed)
    early = np.flatnonzero(windows < needed)
    first = (
        framed[early]
        .drop(WINDOW)
        .with_columns(
            pl.Series(MEAN, point[early], dtype=pl.Float64).fill_nan(None),
            pl.lit(CALIBRATION_NOTE).alias(INTERVAL_NOTE),
        )
    )
    out = pl.concat([*parts, first], how="diagonal_relaxed").sort(_ORDER).drop(_ORDER)
    columns = [c for c in out.columns if c != INTERVAL_NOTE] + [INTERVAL_NOTE]
    return SampledBacktest(out.select(columns), conditioned, deterministic, len(paths), None, means)


def sampled_forecast(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    provider: ExogProvider,
    conditioned: pl.DataFrame | None = None,
    *,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
) -> pl.DataFrame:
    """The forecast of the next ``h`` periods under ``provider``'s sampled paths, mixed into one distribution.

    ``conditioned`` (:attr:`SampledBacktest.conditioned`, covering ``h``) calibrates the components when
    ``settings.intervals == "conformal"``: on its last ``calibration_windows`` windows (at least what the levels
    need), as :func:`forecast.calibration.calibrate_forecast`. Without it, or with ``intervals = "model"``, the
    paths' own Gaussian intervals are mixed. ``state``/``refit`` share fits across scenarios as in
    :func:`forecast.core.forecast_frame_with_state`. Output: the columns and rows of a forecast frame.
    """
    names = list(models)
    conformal = settings.intervals == "conformal" and conditioned is not None
    grid = future_grid(df, h, settings.freq)
    exog = list(settings.exog)
    futures = [provider.future(df, grid, exog), *_futures(provider, df, grid, exog)]
    run = _means_only(settings) if conformal else settings
    calibration = None if conformal else conditioned
    frames = forecast_frame_paths(df, models, h, run, futures, calibration=calibration, state=state, refit=refit)
    point = path_values(frames[0], MEAN)
    base, means = _stack(frames[1:])
    sampled = _is_sampled(provider)
    if not conformal:
        return _model_mixture([base, *frames[2:]], point, settings, names, sampled)
    assert conditioned is not None
    span = _span(conditioned.get_column(ID).n_unique(), settings)
    framed = with_window(conditioned)
    recent = framed.filter(pl.col(WINDOW) > window_count(framed) - 1 - span).drop(WINDOW)
    return conformal_mixture(base, means, recent, settings, names, point=point, sampled=sampled)
