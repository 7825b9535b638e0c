"""One MLflow child run per scenario of a forecast job, so the UI compares what-ifs side by side.

A forecast job logs, beside its model runs, a child run ``scenario-<name>`` for each scenario it forecast under,
tagged ``gridcast.scenario`` and ``gridcast.run_type = scenario`` (never ``gridcast.model``: promotion and the
leaderboard read model runs only). Its params are the scenario's raw-input paths (``path.<column>.*``, the base
``[paths]`` with the scenario's overrides). Its metrics summarise the forecast over every series and step:

* for each model ``m``: ``m.mean`` (mean of ``mean``), ``m.delta_mean`` (mean of the difference to the base
  scenario), ``m.width-<l>`` (mean width of the ``l`` % interval) and ``m.p_exceed-<c>`` (mean probability of
  exceeding ``c``);
* the same without the prefix for the model the job selected, and ``mean`` per horizon step (``step = 1 … h``),
  so the UI draws each scenario's path and compares scenarios in one chart.

Its artifact is the scenario's rows of the forecast frame (``forecast-<name>.parquet``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.spec import ExperimentSpec
from experiments.tracking import tags as TAG
from experiments.tracking.client import flatten
from features.contract import DS, ID, MEAN, MODEL, SCENARIO

RUN_TYPE = "gridcast.run_type"
DELTA = "delta_mean"


def scenario_paths(spec: ExperimentSpec, scenario: str) -> dict[str, Any]:
    """The raw-input paths a scenario forecasts under: the base ``[paths]`` with its overrides."""
    return {**spec.paths, **spec.scenarios.get(scenario, {})}


def summary(rows: pl.DataFrame, prefix: str = "") -> list[tuple[str, float, int]]:
    """Step-0 metrics of one model's rows of one scenario (module docstring)."""
    out = [(f"{prefix}mean", rows[MEAN].mean())]
    if DELTA in rows.columns:
        out.append((f"{prefix}{DELTA}", rows[DELTA].mean()))
    for column in rows.columns:
        if column.startswith("lo-"):
            level = column.removeprefix("lo-")
            out.append((f"{prefix}width-{level}", (rows[f"hi-{level}"] - rows[column]).mean()))
        elif column.startswith("p_exceed-"):
            out.append((f"{prefix}{column}", rows[column].mean()))
    return [(name, float(value), 0) for name, value in out if isinstance(value, int | float)]


def by_step(rows: pl.DataFrame) -> list[tuple[str, float, int]]:
    """``mean`` of the rows per horizon step (1 = the first forecast period), as a metric history."""
    ranked = rows.with_columns(pl.col(DS).rank("dense").over(ID).cast(pl.Int64).alias("_step"))
    steps = ranked.group_by("_step").agg(pl.col(MEAN).mean()).sort("_step")
    return [("mean_by_step", float(v), int(s)) for s, v in steps.iter_rows() if v is not None]


@dataclass
class StagedRun:
    """A child run ready to log (a model's, in :mod:`~experiments.tracking.job_log`, or a scenario's): its numbers
    computed and every artifact written below ``folder``."""

    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int]]
    folder: Path
    model: dict[str, Any] | None  # the pyfunc model's configuration, when models are logged
    failure: str | None  # why the run ends FAILED (the model fell back on every series)
    model_frames: dict[str, pl.DataFrame] = field(default_factory=dict)  # its Parquet artifacts (history, ...)


def stage_scenarios(
    root: Path,
    spec: ExperimentSpec,
    forecast: pl.DataFrame,
    selected: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    *,
    bottom: list[str] | None = None,
) -> list[StagedRun]:
    """Each scenario's child run (module docstring), its rows written below ``root``. With a hierarchy the metrics
    summarise the ``bottom`` series (a city's sum beside its queues would make the means meaningless); the
    artifact holds every level."""
    staged = []
    for i, (scenario,) in enumerate(forecast.select(SCENARIO).unique(maintain_order=True).iter_rows()):
        rows = forecast.filter(pl.col(SCENARIO) == scenario)
        summarised = rows if bottom is None else rows.filter(pl.col(ID).is_in(bottom))
        metrics: list[tuple[str, float, int]] = []
        for (model,), part in summarised.partition_by(MODEL, as_dict=True, maintain_order=True).items():
            metrics += summary(part, f"{model}.")
            if model == selected:
                metrics += summary(part) + by_step(part)
        folder = root / f"scenario-{i}"
        folder.mkdir(parents=True)
        rows.write_parquet(folder / f"forecast-{scenario}.parquet", statistics=False)
        paths = flatten("path", scenario_paths(spec, scenario))
        own = {**tags, TAG.SCENARIO: scenario, RUN_TYPE: "scenario"}
        staged.append(StagedRun(f"scenario-{scenario}", own, {**params, **paths}, metrics, folder, None, None))
    return staged
