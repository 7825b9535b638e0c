"""The one place a spec becomes the forecast layer's settings and models."""

from __future__ import annotations

from collections.abc import Callable

from experiments.inputs.dataset import Dataset
from experiments.inputs.spec import ExperimentSpec, SpecError
from forecast.exog import DEFAULT_SCENARIO, ExogProvider, make_provider
from forecast.models.base import Forecaster
from forecast.models.registry import model_factory
from forecast.scenarios import BASELINE, InputPathProvider
from forecast.settings import BacktestPlan, ForecastSettings


def forecast_settings(spec: ExperimentSpec) -> ForecastSettings:
    """The :class:`~forecast.settings.ForecastSettings` of a spec: grid, bounds, each model's transform, fallback,
    exogenous columns, output request, interval calibration and backtest plan."""
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
        intervals=spec.forecast.intervals,
        calibration_windows=spec.forecast.calibration_windows,
        calibration_scale=spec.forecast.calibration_scale,
        backtest=plan,
    )


def scenario_names(spec: ExperimentSpec) -> list[str]:
    """The scenarios a forecast job runs: ``baseline`` (the spec's ``[paths]``) then each ``[scenarios.<name>]``;
    a spec without paths has one, the column providers' ``last_value``."""
    return [BASELINE, *spec.scenarios] if spec.paths else [DEFAULT_SCENARIO]


def exog_provider(
    spec: ExperimentSpec, data: Dataset, *, oracle: bool = False, scenario: str | None = None
) -> ExogProvider:
    """How the spec's inputs continue after a cutoff: with ``[paths]``, raw inputs extended by their paths (those of
    ``scenario`` override them) and the indicators recomputed (:class:`~forecast.scenarios.InputPathProvider`;
    columns it cannot derive use ``exog_providers``); without, each column carried by its ``exog_providers`` entry.
    ``oracle`` (a backtest with ``oracle_exog = true``) reads the true future instead."""
    columns = make_provider(dict(spec.exog_providers), oracle_exog=oracle, full=data.frame)
    if oracle or not spec.paths or data.inputs is None:
        return columns
    overrides = spec.scenarios.get(scenario, {}) if scenario not in (None, BASELINE) else {}
    key = "paths" if not overrides else f"scenarios.{scenario}"
    try:
        return InputPathProvider(
            data.inputs,
            data.indicators,
            {**spec.paths, **overrides},
            season_length=spec.season_length,
            fallback=columns,
        )
    except ValueError as exc:
        raise SpecError(spec.path, key, str(exc).removeprefix("paths: ")) from None


def build_models(spec: ExperimentSpec) -> dict[str, Callable[[], Forecaster]]:
    """Model factories by display name (``[models.NAME]``; ``kind`` picks the class, default NAME)."""
    return {entry.name: model_factory(entry.kind, entry.params) for entry in spec.model_entries()}
