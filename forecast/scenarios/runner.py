"""A backtest that calibrates, then one scenario's forecast calibrated on it: the numbers of a scenario job.

The forecast job (:mod:`experiments.jobs.compute`) and the logged model on today's data
(:mod:`experiments.tracking.pyfunc_history`) both call these two functions, so a registered model fed a history
frame gives the job's numbers by construction.

:func:`calibrated_backtest` runs the spec's rolling-origin backtest under the base scenario's provider:

* its inputs are deterministic paths (or column providers): :func:`forecast.backtest.backtest`, then honest
  split-conformal intervals (:func:`forecast.calibration.calibrate_backtest`) when ``intervals = "conformal"``;
* some strike path is sampled (``samples = n`` on a path): :func:`forecast.scenarios.sampled.sampled_backtest`,
  whose intervals mix over the sampled paths and are calibrated on the errors *given* the true strikes.

:func:`scenario_forecast` forecasts ``h`` periods under one scenario's provider and calibrates its intervals on that
backtest: with a sampled backtest every scenario is a mixture over its own paths
(:func:`~forecast.scenarios.sampled.sampled_forecast`; a scenario without sampled paths, such as a ceasefire, is
one path), otherwise the conformal correction of :func:`forecast.calibration.calibrate_forecast`. ``state`` and
``refit`` share one fit per model and series across scenarios (the first scenario fits, the others re-condition).
Where calibration is impossible (no backtest, too few windows, a backtest shorter than ``h``) the models' own
intervals are kept and ``interval_note`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from forecast.backtest import backtest
from forecast.calibration import calibrate_backtest, calibrate_forecast
from forecast.core import ModelLike, forecast_frame_with_state, future_grid
from forecast.exog import ExogProvider
from forecast.models.base import Forecaster
from forecast.output.quantiles import with_interval_note
from forecast.parallel.by_series import by_series
from forecast.scenarios.provider import InputPathProvider
from forecast.scenarios.sampled import sampled_backtest, sampled_forecast
from forecast.settings import ForecastSettings

NO_BACKTEST_NOTE = "model intervals, not calibrated: the spec has no [backtest] to calibrate on"


def is_sampled(provider: ExogProvider) -> bool:
    """Whether ``provider`` samples some input path (``samples = n``)."""
    return isinstance(provider, InputPathProvider) and bool(provider.sampled)


@dataclass(frozen=True)
class Calibration:
    """What a backtest hands the forecasts it calibrates: the raw backtest (``raw``; for a sampled backtest the one
    under the true sampled inputs), whether it was sampled, its horizon, and why intervals are not calibrated
    (``note``; None when they are)."""

    raw: pl.DataFrame | None
    h: int = 0
    sampled: bool = False
    note: str | None = None

    @classmethod
    def none(cls, settings: ForecastSettings) -> Calibration:
        """No backtest: the models' own intervals, with the note when conformal intervals were asked for."""
        return cls(None, note=NO_BACKTEST_NOTE if settings.intervals == "conformal" else None)


def calibrated_backtest(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    provider: ExogProvider,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pl.DataFrame, Calibration]:
    """The backtest of ``settings.backtest`` scored honestly (intervals calibrated on earlier windows only, the
    ``interval_note`` column last) and the :class:`Calibration` it gives the forecasts (module docstring)."""
    plan = settings.backtest
    if plan is None:
        raise ValueError("calibrated_backtest: settings.backtest is None; give a BacktestPlan")
    names = list(models)
    if is_sampled(provider):
        run = sampled_backtest(df, models, settings, provider, progress=progress)
        return with_interval_note(run.frame, run.note), Calibration(run.conditioned, plan.h, True, run.note)
    raw = backtest(df, models, settings, exog_provider=provider, progress=progress)
    scored, note = raw, None
    if settings.intervals == "conformal":
        scored, note = calibrate_backtest(raw, settings, names)
    return with_interval_note(scored, note), Calibration(raw, plan.h, False, note)


def forecast_note(settings: ForecastSettings, calibration: Calibration, h: int) -> str | None:
    """Why a forecast of ``h`` periods keeps the models' own intervals (None: they are calibrated)."""
    if settings.intervals != "conformal" or calibration.note is not None:
        return calibration.note
    if calibration.raw is not None and calibration.h < h:
        return f"model intervals, not calibrated: backtest h = {calibration.h} is shorter than h = {h}"
    return None


def scenario_forecast(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    provider: ExogProvider,
    calibration: Calibration,
    *,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
) -> pl.DataFrame:
    """One scenario's forecast frame (``interval_note`` last) under ``provider``, calibrated on ``calibration``
    (module docstring). A backtest covering ``h`` also calibrates models without intervals of their own."""
    note = forecast_note(settings, calibration, h)
    covers = calibration.raw is not None and calibration.h >= h
    raw = calibration.raw if covers else None
    if calibration.sampled:  # without a calibration the mixture is of the paths' own intervals
        conditioned = raw if note is None else None
        fc = sampled_forecast(df, models, h, settings, provider, conditioned, state=state, refit=refit)
        return with_interval_note(fc, note)
    future = provider.future(df, future_grid(df, h, settings.freq), list(settings.exog))
    fc = forecast_frame_with_state(
        df, models, h, settings, future_exog=future, calibration=raw, state=state, refit=refit
    )
    if settings.intervals == "conformal" and raw is not None and note is None:
        fc = calibrate_forecast(fc, raw, settings, list(models))
    return with_interval_note(fc, note)


def scenario_forecasts(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    providers: Sequence[ExogProvider],
    calibration: Calibration,
) -> list[pl.DataFrame]:
    """:func:`scenario_forecast` under every provider (frames in their order), each model fitted once per series:
    the first scenario fits it, the others re-condition the fitted model on the same history. The series run in
    chunks on the current executor (:mod:`forecast.parallel`); the calibration is pooled over the whole backtest,
    so a chunk's rows are calibrated exactly as in one pass."""
    chunks = by_series(df, _scenarios_part, models, h, settings, list(providers), calibration, stage="forecast")
    if len(chunks) == 1:
        return chunks[0]
    return [pl.concat([c[k] for c in chunks], how="vertical").rechunk() for k in range(len(providers))]


def _scenarios_part(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    providers: Sequence[ExogProvider],
    calibration: Calibration,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[pl.DataFrame]:
    """:func:`scenario_forecasts` for the series of ``df`` in one pass (``progress`` unused: one step)."""
    state: dict[str, dict[str, Forecaster]] = {}
    return [
        scenario_forecast(df, models, h, settings, p, calibration, state=state, refit=i == 0)
        for i, p in enumerate(providers)
    ]
