"""The one place a spec becomes the forecast layer's settings and models."""

from __future__ import annotations

from collections.abc import Callable

from experiments.inputs.spec import ExperimentSpec
from forecast.models.base import Forecaster
from forecast.models.registry import model_factory
from forecast.settings import BacktestPlan, ForecastSettings


def forecast_settings(spec: ExperimentSpec) -> ForecastSettings:
    """The :class:`~forecast.settings.ForecastSettings` of a spec: grid, bounds, each model's transform, fallback,
    exogenous columns, output request, conformal switch and backtest plan."""
    plan = None
    if spec.backtest is not None:
        b = spec.backtest
        plan = BacktestPlan(b.h, b.n_windows, b.step, b.input_size, b.refit_every)
    return ForecastSettings(
        freq=spec.freq,
        season_length=spec.season_length,
        bounds=spec.target.bounds,
        transform={entry.name: entry.transform for entry in spec.model_entries()},
        fallback=spec.fallback,
        exog=tuple(spec.exog),
        levels=tuple(spec.forecast.level),
        quantiles=tuple(spec.forecast.quantiles),
        thresholds=tuple(spec.forecast.thresholds),
        conformal=spec.forecast.conformal,
        backtest=plan,
    )


def build_models(spec: ExperimentSpec) -> dict[str, Callable[[], Forecaster]]:
    """Model factories by display name (``[models.NAME]``; ``kind`` picks the class, default NAME)."""
    return {entry.name: model_factory(entry.kind, entry.params) for entry in spec.model_entries()}
