"""The one place a spec becomes the forecast layer's settings and models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from experiments.inputs.dataset import Dataset
from experiments.inputs.future_inputs import supplied_inputs
from experiments.inputs.spec import ExperimentSpec, SpecError
from features.contract import DAILY, DS, freq_step
from features.errors import DataError
from forecast.exog import DEFAULT_SCENARIO, ExogProvider, make_provider
from forecast.models.base import Forecaster
from forecast.models.registry import model_factory
from forecast.scenarios import BASELINE, InputPath, InputPathProvider, Replay, make_path
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
        calibration_score=spec.forecast.calibration_score,
        backtest=plan,
        model_time_limit=spec.model_time_limit,
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
    ``oracle`` (a backtest with ``oracle_exog = true``) reads the true future instead. A ``forecast`` path's file
    (a weather forecast, :mod:`experiments.inputs.future_inputs`) is read here."""
    columns = make_provider(dict(spec.exog_providers), oracle_exog=oracle, full=data.frame)
    if oracle or not spec.paths or data.inputs is None:
        return columns
    overrides = spec.scenarios.get(scenario, {}) if scenario not in (None, BASELINE) else {}
    key = "paths" if not overrides else f"scenarios.{scenario}"
    try:
        paths = {c: make_path(p, key=f"{key}.{c}") for c, p in {**spec.paths, **overrides}.items()}
        _check_replays(spec, data, paths, overrides)
        return InputPathProvider(
            data.inputs,
            data.indicators,
            paths,
            season_length=spec.season_length,
            fallback=columns,
            scenario=scenario or BASELINE,
            supplied=supplied_inputs(paths, spec.freq),
        )
    except DataError:
        raise
    except ValueError as exc:
        raise SpecError(spec.path, key, str(exc).removeprefix("paths: ")) from None


def _check_replays(spec: ExperimentSpec, data: Dataset, paths: dict[str, InputPath], overrides: dict[str, Any]) -> None:
    """A ``replay`` is a what-if (the backtest scores the base paths, at cutoffs before any fixed period ends) and
    its period of ``h`` periods must lie inside the inputs' history up to the as-of."""
    if data.inputs is None:
        return
    ds = data.inputs.get_column(DS).to_numpy()
    unit = "D" if spec.freq == DAILY else "m"
    for column, path in paths.items():
        if not isinstance(path, Replay):
            continue
        if column not in overrides:
            raise ValueError(f"{column}: replay is a what-if; name it in a [scenarios.<name>] table, not in [paths]")
        start = path.first(ds.dtype)
        end = start + np.timedelta64(freq_step(spec.freq)) * (spec.forecast.h - 1)
        if start < ds.min() or end > ds.max():
            shown = [np.datetime_as_string(v, unit=unit) for v in (start, end, ds.min(), ds.max())]
            raise ValueError(
                f"{column}: replay of {shown[0]} to {shown[1]} (h = {spec.forecast.h}) is not inside the inputs' "
                f"history, {shown[2]} to {shown[3]}"
            )


def build_models(spec: ExperimentSpec) -> dict[str, Callable[[], Forecaster]]:
    """Model factories by display name (``[models.NAME]``; ``kind`` picks the class, default NAME)."""
    return {entry.name: model_factory(entry.kind, entry.params) for entry in spec.model_entries()}
