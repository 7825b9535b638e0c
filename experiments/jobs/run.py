"""Backtest and forecast jobs: spec → data → models → outputs in ``out/<spec>/<as-of>/`` → MLflow.

Order matters for honest failure: the spec and every input are validated before anything is written, so bad input
leaves no output folder and no tracking store behind (exit 2). Outputs are written into a temporary sibling folder
and renamed into place (:mod:`experiments.atomic`), so a killed job leaves nothing half-written. Tracking runs after
the outputs exist; if the store is unavailable the outputs are kept and the job reports it (exit 3).

The spec becomes one :class:`~forecast.settings.ForecastSettings` here (:mod:`experiments.inputs.settings`), and
that object is what the backtest, the forecast and the logged models receive.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from experiments.atomic import publish_folder, temp_sibling
from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.settings import build_models, exog_provider, forecast_settings, scenario_names
from experiments.inputs.spec import ExperimentSpec, SpecError, load_spec
from experiments.jobs.outputs import JobFrames, failures, leaderboard, stable, write_outputs
from experiments.text import table
from features.contract import DS, ID, MEAN, MODEL, SCENARIO
from forecast.backtest import backtest
from forecast.calibration import calibrate_backtest, calibrate_forecast
from forecast.core import forecast_frame, future_grid
from forecast.exog import ExogProvider
from forecast.metrics import evaluate
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.settings import ForecastSettings

Kind = Literal["backtest", "forecast"]
DELTA_MEAN = "delta_mean"  # a scenario's mean minus the base scenario's


@dataclass
class JobResult:
    """What a job produced: where, how the models ranked, which failed, and the tracking outcome."""

    kind: Kind
    spec: str
    as_of: str
    out_dir: Path
    leaderboard: pl.DataFrame
    gaps: str
    failed_models: list[str] = field(default_factory=list)
    all_failed: bool = False
    run_id: str | None = None
    tracking_uri: str | None = None
    tracking_error: str | None = None
    n_requests: int = 0  # requests made through the tracker (the pyfunc model's own requests not included)
    tracking_s: float = 0.0  # wall time spent logging to MLflow
    interval_note: str | None = None  # why intervals are the models' own when calibration was asked for

    def report(self) -> str:
        """A short human-readable summary with the leaderboard (best first)."""
        lines = [f"{self.kind} {self.spec} as of {self.as_of}: outputs in {self.out_dir}", f"data: {self.gaps}"]
        if self.interval_note:
            lines.append(f"intervals: {self.interval_note}")
        if self.leaderboard.height:
            lines.append("leaderboard (backtest, best first):")
            lines.append(table(self.leaderboard))
        if self.failed_models:
            lines.append(f"fell back on some series: {', '.join(self.failed_models)}")
        if self.run_id:
            lines.append(f"MLflow run {self.run_id} in {self.tracking_uri} ({self.n_requests} requests)")
        return "\n".join(lines)


def run_job(
    config: str | Path,
    *,
    kind: Kind,
    out_root: str | Path = "out",
    track: bool = True,
    scenarios: list[str] | None = None,
) -> JobResult:
    """Run a backtest or forecast job from a spec file; see the module docstring for the order of work.

    A forecast job forecasts under every scenario of the spec (``baseline``, its ``[paths]``, then each
    ``[scenarios.<name>]``), or under ``scenarios`` (names; ``baseline`` always runs, the others are its what-ifs)."""
    spec = load_spec(config)
    wanted = _scenarios(spec, scenarios)
    data = load_dataset(spec)  # every DataError surfaces here, before anything is written
    settings = forecast_settings(spec)
    providers = {name: exog_provider(spec, data, scenario=name) for name in wanted}  # bad paths fail here too
    frames = _compute(spec, data, settings, kind, providers)
    failed, all_failed = failures(frames.rows, list(spec.models))
    board = leaderboard(frames.overall, frames.rows)
    as_of = str(data.as_of)
    final = Path(out_root) / spec.name / as_of
    result = JobResult(kind, spec.name, as_of, final, board, data.gaps.summary(), failed, all_failed)
    result.interval_note = frames.interval_note
    tmp = temp_sibling(final, "tmp")
    try:
        write_outputs(tmp, spec, data, frames.files(), board)
        if track:
            _track(result, tmp, spec, data, settings, frames)
        publish_folder(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _scenarios(spec: ExperimentSpec, asked: list[str] | None) -> list[str]:
    """The scenario names to run, the base one first; an unknown name is a spec error naming the known ones."""
    names = scenario_names(spec)
    if not asked:
        return names
    unknown = [a for a in asked if a not in names]
    if unknown:
        raise SpecError(spec.path, "scenarios", f"no scenario {unknown[0]!r}; the spec has {', '.join(names)}")
    return [names[0], *[n for n in names[1:] if n in asked]]


def _compute(
    spec: ExperimentSpec, data: Dataset, settings: ForecastSettings, kind: Kind, providers: dict[str, ExogProvider]
) -> JobFrames:
    """The backtest (intervals calibrated, then scored; under the base scenario) when the spec has a plan, and the
    forecast under every scenario of ``providers`` for a forecast job (intervals calibrated on the same backtest).
    Where calibration is impossible the models' own intervals are kept and ``interval_note`` says why (in the frames
    and the job's report)."""
    base = next(iter(providers))
    models = build_models(spec)
    names = list(models)
    out = JobFrames()
    raw = None
    conformal = settings.intervals == "conformal"
    if settings.backtest is not None:
        assert spec.backtest is not None
        provider = exog_provider(spec, data, oracle=True) if spec.backtest.oracle_exog else providers[base]
        raw = backtest(data.frame, models, settings, exog_provider=provider)
        scored = raw
        if conformal:
            scored, out.interval_note = calibrate_backtest(raw, settings, names)
        out.backtest = _noted(scored, out.interval_note).with_columns(pl.lit(base).alias(SCENARIO))
        naive2 = next((e.name for e in spec.model_entries() if e.kind == "naive2"), None)  # the OWA reference
        scores = evaluate(out.backtest, data.frame, spec.season_length, naive2=naive2)
        out.per_series, out.per_step, out.overall = (stable(scores[k]) for k in ("per_series", "per_step", "overall"))
    elif conformal:
        out.interval_note = "model intervals, not calibrated: the spec has no [backtest] to calibrate on"
    if kind == "forecast":
        h = spec.forecast.h
        grid = future_grid(data.frame, h, spec.freq)
        # a backtest covering the horizon calibrates the intervals of models without their own (window_average)
        covers = raw is not None and settings.backtest is not None and settings.backtest.h >= h
        if conformal and raw is not None and out.interval_note is None and not covers:
            bt_h = settings.backtest.h if settings.backtest else 0
            out.interval_note = f"model intervals, not calibrated: backtest h = {bt_h} is shorter than h = {h}"
        parts = []
        for name, provider in providers.items():
            future = provider.future(data.frame, grid, data.exog)
            fc = forecast_frame(
                data.frame, models, h, settings, future_exog=future, calibration=raw if covers else None
            )
            if conformal and raw is not None and out.interval_note is None:
                fc = calibrate_forecast(fc, raw, settings, names)
            parts.append(_noted(fc, out.interval_note).with_columns(pl.lit(name).alias(SCENARIO)))
        out.forecast = _against_base(pl.concat(parts, how="diagonal_relaxed"), base)
    return out


def _against_base(frame: pl.DataFrame, base: str) -> pl.DataFrame:
    """``frame`` with ``delta_mean``: each row's mean minus the base scenario's for the same model, series and ds
    (0 on the base rows)."""
    keys = [MODEL, ID, DS]
    ref = frame.filter(pl.col(SCENARIO) == base).select(*keys, pl.col(MEAN).alias("_base"))
    joined = frame.join(ref, on=keys, how="left", maintain_order="left")
    return joined.with_columns((pl.col(MEAN) - pl.col("_base")).alias(DELTA_MEAN)).drop("_base")


def _noted(frame: pl.DataFrame, note: str | None) -> pl.DataFrame:
    """``frame`` with ``note`` in ``interval_note`` wherever no other note is there."""
    if note is None:
        return frame
    if INTERVAL_NOTE not in frame.columns:
        return frame.with_columns(pl.lit(note).alias(INTERVAL_NOTE))
    return frame.with_columns(pl.coalesce(pl.col(INTERVAL_NOTE), pl.lit(note)).alias(INTERVAL_NOTE))


def _track(
    result: JobResult, folder: Path, spec: ExperimentSpec, data: Dataset, settings: ForecastSettings, f: JobFrames
) -> None:
    """Log the job to MLflow (imported only when tracking) and copy the outcome into ``result``."""
    from experiments.tracking.job_log import JobRef, track_job

    outcome = track_job(JobRef(result.kind, result.as_of, settings, folder), spec, data, f)
    result.run_id, result.tracking_uri, result.tracking_error = outcome.run_id, outcome.uri, outcome.error
    result.n_requests, result.tracking_s = outcome.n_requests, outcome.seconds
