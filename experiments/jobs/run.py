"""Backtest and forecast jobs: spec → data → models → outputs in ``out/<spec>/<as-of>/`` → MLflow.

Order matters for honest failure: the spec and every input are validated before anything is written, so bad input
leaves no output folder and no tracking store behind (exit 2). Then one job at a time holds ``out/<spec>/.lock``
(:mod:`experiments.jobs.lock`; a second job exits 5 as soon as its inputs are read). Outputs are written into a
temporary sibling folder and renamed into place (:mod:`experiments.atomic`), so a killed job leaves nothing
half-written; a forecast then moves ``out/<spec>/latest`` to it (:mod:`experiments.jobs.latest`). Tracking runs
after the outputs exist; if the store is unavailable the outputs are kept and the job reports it (exit 3).

``as_of`` replays a past day from full files: every source is read only up to it (rows after it change nothing).
The spec becomes one :class:`~forecast.settings.ForecastSettings` here (:mod:`experiments.inputs.settings`), and
that object is what the backtest, the forecast and the logged models receive.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from experiments.atomic import OutputError, io_failure, publish_folder, temp_sibling
from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.executor import ExecutorChoice, job_executor
from experiments.inputs.hierarchy import build_hierarchy, every_level, every_level_truth
from experiments.inputs.settings import exog_provider, forecast_settings, scenario_names
from experiments.inputs.spec import ExperimentSpec, SpecError, load_spec
from experiments.inputs.vintages import scoring_truth
from experiments.jobs.cleanup import remove_dead_leftovers
from experiments.jobs.compute import DELTA_MEAN, compute
from experiments.jobs.latest import point_latest
from experiments.jobs.lock import JobLock
from experiments.jobs.log import JobLog
from experiments.jobs.outputs import JobFrames, failures, leaderboard, write_manifest, write_outputs
from experiments.text import table
from features.contract import ID, MODEL
from forecast.hierarchy import Hierarchy
from forecast.parallel import use_executor
from forecast.regime import RegimeRules, check_regime
from forecast.settings import ForecastSettings
from forecast.timeout import limit_unavailable

__all__ = ["DELTA_MEAN", "JobResult", "Kind", "run_job"]

Kind = Literal["backtest", "forecast"]
CHAMPION = "champion"  # ``model`` value: the registry's @champion of the spec's registered model


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
    selected: str | None = None  # the model a consumer should read: asked for, else the backtest's best
    scenarios: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # stale or filled feeds, regime breaks (also in the manifest)

    def report(self) -> str:
        """A short human-readable summary with the leaderboard (best first)."""
        lines = [f"{self.kind} {self.spec} as of {self.as_of}: outputs in {self.out_dir}", f"data: {self.gaps}"]
        if self.interval_note:
            lines.append(f"intervals: {self.interval_note}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        if self.selected:
            lines.append(f"selected model: {self.selected}; scenarios: {', '.join(self.scenarios)}")
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
    as_of: date | None = None,
    model: str | None = None,
    log: JobLog | None = None,
    executor: ExecutorChoice | None = None,
) -> JobResult:
    """Run a backtest or forecast job from a spec file; see the module docstring for the order of work.

    A forecast job forecasts under every scenario of the spec (``baseline``, its ``[paths]``, then each
    ``[scenarios.<name>]``), or under ``scenarios`` (names; ``baseline`` always runs, the others are its what-ifs).
    ``as_of`` overrides the spec's; ``model`` names the selected model (default: the backtest's best), and
    ``"champion"`` runs the registry's ``@champion`` alone on this data (its version in the manifest).
    ``executor`` overrides the spec's ``[executor]`` (:mod:`experiments.inputs.executor`)."""
    log = log or JobLog()
    spec = with_as_of(load_spec(config), as_of)
    wanted = _scenarios(spec, scenarios)
    champion = None
    if model == CHAMPION:  # the promoted model, fitted and calibrated on today's data like any spec model
        spec, model, champion = _with_champion(spec, log)
    if model is not None and model not in spec.models:
        raise SpecError(spec.path, "--model", f"no model {model!r}; the spec has {', '.join(spec.models)}")
    with log.stage("data") as stage:
        data = load_dataset(spec)  # every DataError surfaces here, before anything is written (even the lock)
        settings = forecast_settings(spec)
        hierarchy = _hierarchy(spec, data)
        modelled = data if hierarchy is None else every_level(data, hierarchy)  # the series of every level
        providers = {name: exog_provider(spec, modelled, scenario=name) for name in wanted}  # bad paths fail here
        truth = scoring_truth(spec)  # the schedules' version the backtest scores against, when not the one read
        truth = truth if hierarchy is None else every_level_truth(truth, hierarchy)
        stage.summary = f"{data.frame.height} rows, {data.frame[ID].n_unique()} series to {data.as_of}"
        if hierarchy is not None:
            stage.summary += f", {modelled.frame[ID].n_unique()} on {len(hierarchy.levels)} levels"
    for warning in data.warnings:
        log.line(f"warning: {warning}")
    if settings.model_time_limit and (why := limit_unavailable()):  # the models run in this thread
        log.line(f"warning: model time limit not applied: {why}")
    regime = check_regime(modelled.frame, RegimeRules.for_season(spec.season_length))
    for uid, _, detail in regime.iter_rows():
        log.line(f"regime: {uid}: {detail}")
    switch = regime.get_column(ID).unique(maintain_order=True).to_list()
    if spec.forecast.on_regime_break != "fallback":
        switch = []
    elif switch:
        log.line(f"regime: {len(switch)} series forecast with the fallback {spec.fallback} (on_regime_break)")
    try:  # a Dask scheduler is connected to here: one that does not answer stops the job before anything is written
        pool = job_executor(spec.executor, executor)
        pool.describe()
    except ValueError as exc:
        raise SpecError(spec.path, "executor", str(exc)) from None
    if settings.model_time_limit and pool.name == "dask":  # said here: a remote worker's own log is not the job's
        log.line(
            "warning: model time limit not applied: dask runs the models in worker threads, where no signal is "
            "delivered"
        )
    spec_dir = Path(out_root) / spec.name
    with pool, JobLock(spec_dir) as lock:
        if lock.took_over:
            log.line(f"lock: took over from a job that is gone ({lock.took_over})")
        remove_dead_leftovers(spec_dir, log.line)  # no live job of this spec can be writing: we hold its lock
        with use_executor(pool, chunk_size=spec.executor.chunk_size) as work:
            frames = compute(
                spec,
                modelled,
                settings,
                kind,
                providers,
                log,
                regime=regime,
                switch=switch,
                truth=truth,
                hierarchy=hierarchy,
            )
        if lost := pool.resubmitted:  # a Dask worker died with chunks: they were computed again
            log.line(f"warning: {lost} chunk(s) lost with a dask worker that died were computed again")
        if hierarchy is not None:
            frames.history = modelled.frame
        extra: dict[str, object] = {"champion": champion} if champion is not None else {}
        if work.failures:  # series left out of a stage: named in the log and the manifest
            for f in work.failures:
                log.line(f"warning: series {f.unique_id} left out of the {f.stage}: {f.reason}")
            extra["failed_series"] = [asdict(f) for f in work.failures]
        return _publish(spec, data, settings, frames, kind, spec_dir, track=track, model=model, log=log, extra=extra)


def _hierarchy(spec: ExperimentSpec, data: Dataset) -> Hierarchy | None:
    """The spec's hierarchy over the target's series (None without one); a rule that does not fit them is a spec
    error naming ``hierarchy``."""
    if spec.hierarchy is None:
        return None
    try:
        return build_hierarchy(spec.hierarchy, data.frame)
    except ValueError as exc:
        raise SpecError(spec.path, "hierarchy", str(exc)) from None


def _with_champion(spec: ExperimentSpec, log: JobLog) -> tuple[ExperimentSpec, str, dict[str, object]]:
    """The spec with the registry's ``@champion`` as its only model, the model's name, and the manifest entry
    naming the registered model, version and URIs (MLflow imported only here)."""
    from experiments.tracking.champion import champion, champion_models, differences

    champ = champion(spec)  # no champion: a spec error (exit 2); no store: a tracking error (exit 3)
    spec = spec.model_copy(update={"models": champion_models(spec, champ)})
    for line in differences(spec, champ):
        log.line(f"champion: {line}")
    log.line(f"champion: {champ.version_uri} ({champ.model['name']}, logged as of {champ.as_of})")
    return spec, str(champ.model["name"]), champ.manifest()


def with_as_of(spec: ExperimentSpec, as_of: date | None) -> ExperimentSpec:
    """``spec`` with its as-of replaced by ``as_of`` (the spec unchanged when None)."""
    if as_of is None:
        return spec
    return spec.model_copy(update={"as_of": as_of})


def _publish(
    spec: ExperimentSpec,
    data: Dataset,
    settings: ForecastSettings,
    frames: JobFrames,
    kind: Kind,
    spec_dir: Path,
    *,
    track: bool,
    model: str | None,
    log: JobLog,
    extra: dict[str, object] | None = None,
) -> JobResult:
    """Write the outputs into a temporary folder, track them, swap the folder into place, move ``latest``."""
    failed, all_failed = failures(frames.rows, list(spec.models))
    board = leaderboard(frames.overall, frames.rows)
    final = spec_dir / str(data.as_of)
    result = JobResult(kind, spec.name, str(data.as_of), final, board, data.gaps.summary(), failed, all_failed)
    result.interval_note = frames.interval_note
    result.selected = model or _best(board, list(spec.models))
    result.scenarios = frames.scenarios
    created = datetime.now(UTC).isoformat(timespec="seconds")
    job = {
        "kind": kind,
        "created": created,
        "selected_model": result.selected,
        "interval_note": frames.interval_note,
        "warnings": data.warnings,
        "freshness": [f.to_dict() for f in data.freshness],
        "nowcast_periods": data.filled,
        "regime": frames.regime.to_dicts() if frames.regime is not None else [],
        "regime_action": spec.forecast.on_regime_break,
        **(extra or {}),
    }
    result.warnings = [*data.warnings, *(f"regime: {r['unique_id']}: {r['detail']}" for r in job["regime"])]
    try:
        _write_and_publish(result, spec, data, settings, frames, job, track=track, log=log)
        if kind == "forecast" and point_latest(spec_dir, result.as_of):
            log.line(f"latest: {spec_dir / 'latest'} -> {result.as_of}")
    except Exception as exc:  # a read-only or full filesystem: the hidden folder is gone, nothing published
        reason = io_failure(exc, spec_dir)
        if reason is None:
            raise
        raise OutputError(final, reason) from None
    return result


def _write_and_publish(
    result: JobResult,
    spec: ExperimentSpec,
    data: Dataset,
    settings: ForecastSettings,
    frames: JobFrames,
    job: dict[str, object],
    *,
    track: bool,
    log: JobLog,
) -> None:
    """Write the outputs into a hidden sibling folder, track them, then swap the folder into place."""
    final = result.out_dir
    tmp = temp_sibling(final, "tmp")
    try:
        with log.stage("outputs") as stage:
            write_outputs(tmp, spec, data, frames.files(), result.leaderboard)
            if frames.forecast is not None:
                history = frames.history if frames.history is not None else data.frame
                charts = _charts(tmp / "plots", spec, history, frames.forecast, result.selected, frames.levels)
                job["plots"] = len(charts)
            write_manifest(tmp, spec, data, frames.files(), {**job, "run_id": None})
            stage.summary = f"{sum(1 for _ in tmp.iterdir())} files"
        if track:
            with log.stage("tracking") as stage:
                _track(result, tmp, spec, data, settings, frames, log)
                stage.summary = f"run {result.run_id}" if result.run_id else f"failed: {result.tracking_error}"
            write_manifest(tmp, spec, data, frames.files(), {**job, "run_id": result.run_id})
        publish_folder(tmp, final)  # never raises for another writer of the same folder (experiments.atomic)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


MAX_CHARTS = 24  # up to this many series, every series gets a fan chart; beyond it, the most at risk


def _charts(
    folder: Path,
    spec: ExperimentSpec,
    history: pl.DataFrame,
    forecast: pl.DataFrame,
    model: str,
    levels: pl.DataFrame | None = None,
) -> list[Path]:
    """One fan chart per series (every scenario's band) of the selected model, or of the :data:`MAX_CHARTS` series
    most at risk when there are more (:func:`experiments.jobs.fan_charts.select_series`). With a hierarchy
    (``levels``) each group of series summing ``n`` bottom series is drawn with bounds and thresholds times ``n``,
    and every aggregate is drawn; the limit applies to the bottom series."""
    from experiments.jobs.fan_charts import write_scenario_charts

    target = spec.target
    groups = [(1, history.get_column(ID).unique(maintain_order=True).to_list())]
    if levels is not None:
        by_size = levels.group_by("n_bottom", maintain_order=True).agg(pl.col(ID))
        groups = [(int(n), list(ids)) for n, ids in by_size.iter_rows()]
    paths: list[Path] = []
    for n, ids in groups:
        many = n == 1 and len(ids) > MAX_CHARTS
        lower, upper = (None if b is None else b * n for b in (target.lower, target.upper))
        paths += write_scenario_charts(
            folder,
            forecast.filter(pl.col(ID).is_in(ids)),
            history.filter(pl.col(ID).is_in(ids)),
            model=model,
            units=target.units or target.column,
            bounds=(lower, upper),
            thresholds=[c * n for c in spec.forecast.thresholds],
            series=[] if many else None,
            at_risk=MAX_CHARTS if many else 0,
        )
    return paths


def _best(board: pl.DataFrame, names: list[str]) -> str:
    """The leaderboard's best model with a score (the first spec model without a backtest)."""
    if "mase" in board.columns:
        scored = board.filter(pl.col("mase").is_not_null())
        if scored.height:
            return str(scored.get_column(MODEL)[0])
    return names[0]


def _scenarios(spec: ExperimentSpec, asked: list[str] | None) -> list[str]:
    """The scenario names to run, the base one first; an unknown name is a spec error naming the known ones."""
    names = scenario_names(spec)
    if not asked:
        return names
    unknown = [a for a in asked if a not in names]
    if unknown:
        raise SpecError(spec.path, "scenarios", f"no scenario {unknown[0]!r}; the spec has {', '.join(names)}")
    return [names[0], *[n for n in names[1:] if n in asked]]


def _track(
    result: JobResult,
    folder: Path,
    spec: ExperimentSpec,
    data: Dataset,
    settings: ForecastSettings,
    f: JobFrames,
    log: JobLog,
) -> None:
    """Log the job to MLflow (imported only when tracking) and copy the outcome into ``result``."""
    from experiments.tracking.job_log import JobRef, track_job

    outcome = track_job(JobRef(result.kind, result.as_of, settings, folder, result.selected), spec, data, f, log.line)
    result.run_id, result.tracking_uri, result.tracking_error = outcome.run_id, outcome.uri, outcome.error
    result.n_requests, result.tracking_s = outcome.n_requests, outcome.seconds
