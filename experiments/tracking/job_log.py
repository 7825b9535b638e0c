"""What a job logs to MLflow: one parent run per invocation, one child run per model (and, for a forecast job with
input paths, one per scenario: :mod:`~experiments.tracking.scenario_runs`).

Parent: tags (kind, spec hash, data digest, as-of, version, git commit), namespaced params (``backtest.*``,
``forecast.*``, ``features.*``, ``data.*``), the dataset's lineage (``mlflow.data.from_polars`` + ``log_input``),
the resolved spec, manifest and leaderboard, and an error-by-horizon PNG per metric. Child: ``model.*`` params,
overall metrics, per-horizon metrics with ``step = h`` (so the UI draws error against horizon), per-series metrics
as a table artifact, fan-chart PNGs, the backtest/forecast rows as Parquet and the fitted model as a pyfunc model
(its overall metrics linked to it). A model that fell back on every series ends FAILED with the reason tagged.

Cost (the tracking overhead target is 5 % of a job's wall time, ``benchmarks/bench_tracking.py``): every artifact of
a run is first written into one staging folder and uploaded with one ``log_artifacts`` call; the charts are drawn
in a forked child process while the runs, models and numbers are logged (the job waits for it before the uploads
and fails if it failed: :mod:`~experiments.tracking.plots`); params, tags and metrics go out in as few
``log_batch`` requests as MLflow's limits allow; the model is logged before the metrics, because MLflow's
``log_model`` re-reads the history of every metric the run already has to link it to the model (the step-0 metrics
are linked by our own batch instead). Any failure ends the parent and every child run FAILED with the reason tagged.

Before it logs anything, the job fails the RUNNING runs that dead jobs on this host left
(:func:`experiments.jobs.cleanup.fail_dead_runs`; every run is tagged with its pid and host). Staging, and the
temporary files MLflow makes while logging, go in a hidden folder beside the outputs (``.<as-of>.track-<pid>-<n>``,
removed after, or by the next job if this one is killed), never loose in the system's temporary folder. Recorded
paths are relative (``mlflow.source.name`` is the command with relative paths, the dataset source too).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from experiments.atomic import temp_sibling
from experiments.inputs.dataset import Dataset
from experiments.inputs.spec import ExperimentSpec, ModelEntry, evaluation_hash, spec_hash
from experiments.jobs.outputs import JobFrames
from experiments.tracking import tags as TAG
from experiments.tracking.client import (
    Run,
    Tracker,
    TrackingError,
    command_line,
    display_path,
    display_uri,
    flatten,
    git_commit,
    redact,
    resolve_uri,
)
from experiments.tracking.scenario_runs import StagedRun, stage_scenarios
from features.contract import CUTOFF, DS, FALLBACK, ID, MEAN, MODEL, Y
from features.contract import SCENARIO as SCENARIO_COL
from forecast.exog import DEFAULT_SCENARIO
from forecast.settings import ForecastSettings

if TYPE_CHECKING:
    from experiments.tracking.plots import Chart

COUNT_COLUMNS = {"n", "n_missing_y", "n_missing_forecast", "step"}
BAND_SUFFIXES = ("-n", "-lo", "-hi")  # coverage-<l>-n/-lo/-hi: its points and Wilson band
HORIZON_PLOTS = ("mase", "mae")
PARENT_FILES = ("spec.json", "manifest.json", "leaderboard.csv")
PER_SERIES_TABLE = "metrics_per_series.json"


def metric_columns(frame: pl.DataFrame) -> list[str]:
    """The numeric metric columns of an ``evaluate`` frame (counts and keys left out)."""
    return [c for c, t in frame.schema.items() if t.is_numeric() and c not in COUNT_COLUMNS]


@dataclass(frozen=True)
class JobRef:
    """Which job is being logged: its kind (backtest or forecast), as-of date, settings, the folder its outputs
    were written to and the model it selected."""

    kind: str
    as_of: str
    settings: ForecastSettings
    folder: Path
    selected: str | None = None


@dataclass
class TrackingOutcome:
    """What logging a job gave: the parent run, the store, the error if it failed, requests made and time spent."""

    uri: str
    run_id: str | None = None
    error: str | None = None
    n_requests: int = 0  # requests made through the tracker (the pyfunc model's own requests not included)
    seconds: float = 0.0


def track_job(
    job: JobRef, spec: ExperimentSpec, data: Dataset, out: JobFrames, say: Callable[[str], None] = print
) -> TrackingOutcome:
    """Log the job; a tracking failure is returned in :attr:`TrackingOutcome.error` (outputs are already written).
    Runs dead jobs left RUNNING are failed first, each reported through ``say``."""
    from experiments.jobs.cleanup import fail_dead_runs

    uri = resolve_uri(spec.tracking.uri)
    outcome = TrackingOutcome(display_uri(uri))
    started = time.perf_counter()
    try:
        tracker = Tracker(uri, spec.experiment_name)
        try:
            fail_dead_runs(tracker, say)
            with _scratch(job) as scratch:
                _log_job(tracker, outcome, job, spec, data, out, scratch)
        finally:
            outcome.n_requests = tracker.n_requests
    except TrackingError as exc:
        outcome.error = str(exc)
    except Exception as exc:  # an MLflow call outside the batching wrapper (lineage, pyfunc)
        outcome.error = redact(f"{type(exc).__name__}: {exc}")
    finally:
        outcome.seconds = time.perf_counter() - started
    return outcome


@contextmanager
def _scratch(job: JobRef) -> Iterator[Path]:
    """A hidden staging folder beside the job's outputs (``.<as-of>.track-<pid>-<n>``) that is also the temporary
    folder of this process (``tempfile`` and ``TMPDIR``, for MLflow's own files) while the job is logged; removed
    after."""
    folder = temp_sibling(job.folder.parent / job.as_of, "track")
    (folder / "tmp").mkdir()
    before = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(folder / "tmp")
    try:
        yield folder
    finally:
        tempfile.tempdir = before[0]
        if before[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before[1]
        shutil.rmtree(folder, ignore_errors=True)


def job_tags(job: JobRef, spec: ExperimentSpec, data: Dataset, scenarios: list[str]) -> dict[str, str]:
    """The parent run's tags (every child run carries them too)."""
    return {
        TAG.KIND: job.kind,
        TAG.SPEC: spec.name,
        TAG.SPEC_HASH: spec_hash(spec),
        TAG.DATA_DIGEST: data.digest,
        TAG.EVAL_HASH: evaluation_hash(spec),
        TAG.AS_OF: job.as_of,
        TAG.VERSION: version("gridcast"),
        TAG.SCENARIO: ",".join(scenarios),
        TAG.REGISTERED_MODEL: spec.tracking.registered_model or spec.name,
        TAG.PROMOTE_MARGIN: str(spec.tracking.promote_margin),
        TAG.SOURCE_GIT_COMMIT: git_commit(),
        TAG.SOURCE_NAME: command_line(sys.argv),
    }


def job_params(spec: ExperimentSpec, data: Dataset) -> dict[str, str]:
    """The parent run's namespaced params (every child run carries them too)."""
    return {
        **flatten("backtest", spec.backtest.model_dump() if spec.backtest else {}),
        **flatten("forecast", spec.forecast.model_dump()),
        **{f"features.{i}.{k}": str(v) for i, f in enumerate(spec.features) for k, v in f.items()},
        "data.freq": spec.freq,
        "data.exog": ",".join(data.exog) or "(none)",
        "data.n_series": str(data.frame[ID].n_unique()),
        "data.missing_target_periods": str(data.gaps.n_missing),
        "data.season_length": str(spec.season_length),
        "target.transform": spec.target.transform,
        **{f"exog.provider.{c}": spec.exog_providers.get(c, DEFAULT_SCENARIO) for c in data.exog},
    }


def _log_job(
    tracker: Tracker,
    outcome: TrackingOutcome,
    job: JobRef,
    spec: ExperimentSpec,
    data: Dataset,
    out: JobFrames,
    root: Path,
) -> None:
    """Stage every run's artifacts below ``root``, start drawing the charts beside us, log runs, models and numbers,
    then wait for the charts and upload each run's folder in one call."""
    import mlflow

    from experiments.tracking.plots import start_rendering

    mlflow.set_tracking_uri(tracker.uri)
    tags, params = job_tags(job, spec, data, out.scenarios), job_params(spec, data)
    charts: list[Chart] = []
    parent_folder = stage_parent(root / "parent", job, out, charts)
    staged = [
        stage_model(root / f"model-{i}", job, spec, data, out, name, tags, params, charts)
        for i, name in enumerate(spec.models)
    ]
    if out.forecast is not None and spec.paths:  # one child run per scenario (experiments/tracking/scenario_runs.py)
        bottom = None if out.levels is None else out.levels.filter(pl.col("n_bottom") == 1).get_column(ID).to_list()
        staged += stage_scenarios(root / "scenarios", spec, out.forecast, job.selected, tags, params, bottom=bottom)
    with (
        start_rendering(charts) as rendering,
        tracker.run(f"{job.kind}-{spec.name}-{job.as_of}", tags) as parent,
        ExitStack() as children,
    ):
        outcome.run_id = parent.id
        tracker.log(parent.id, params=params)
        _log_lineage(tracker, parent.id, spec, data)
        runs = [children.enter_context(tracker.run(s.name, s.tags, parent.id)) for s in staged]
        for run, run_staged in zip(runs, staged, strict=True):
            log_staged(tracker, run, run_staged)
        rendering.finish()  # draws the charts the child has not reached, then joins it
        tracker.artifacts(parent.id, parent_folder)
        for run, run_staged in zip(runs, staged, strict=True):
            tracker.artifacts(run.id, run_staged.folder)


def stage_parent(folder: Path, job: JobRef, out: JobFrames, charts: list[Chart]) -> Path:
    """The parent run's artifacts: the resolved spec, manifest and leaderboard (copied), and the error-by-horizon
    plots (added to ``charts``, to be drawn)."""
    from experiments.tracking.plots import HorizonChart

    folder.mkdir(parents=True)
    for name in PARENT_FILES:
        shutil.copyfile(job.folder / name, folder / name)
    if out.per_step is not None:
        (folder / "plots").mkdir()
        for metric in HORIZON_PLOTS:
            charts.append(HorizonChart.from_frame(out.per_step, metric, folder / "plots" / f"{metric}_by_horizon.png"))
    return folder


def stage_model(
    folder: Path,
    job: JobRef,
    spec: ExperimentSpec,
    data: Dataset,
    out: JobFrames,
    name: str,
    tags: dict[str, str],
    params: dict[str, str],
    charts: list[Chart],
) -> StagedRun:
    """One model's child run: its numbers, its Parquet rows and per-series table written below ``folder``, and its
    fan charts added to ``charts``."""
    entry = spec.model_entry(name)
    config = logged_model_config(job.settings, entry, spec, data, calibrated=_calibrated(job.settings, out))
    folder.mkdir(parents=True)
    metrics = _metrics(out, name)
    mine = out.rows.filter(pl.col(MODEL) == name)
    fell_back = mine.filter(pl.col(FALLBACK).is_not_null())
    metrics.append(("series_fallen_back", float(fell_back[ID].n_unique()), 0))
    failure = None
    if mine.height and fell_back[ID].n_unique() == mine[ID].n_unique():
        failure = f"failed on every series; e.g. {fell_back[FALLBACK][0]}"[:5000]
    for label, frame in (("forecast", out.forecast), ("backtest", out.backtest)):
        if frame is not None:
            frame.filter(pl.col(MODEL) == name).write_parquet(folder / f"{label}-{name}.parquet", statistics=False)
    if out.per_series is not None:
        write_table(out.per_series.filter(pl.col(MODEL) == name), folder / PER_SERIES_TABLE)
    charts.extend(_fan_charts(spec, data, out, name, folder / "plots"))
    return StagedRun(
        name=name,
        tags={**tags, TAG.MODEL: name, TAG.MODEL_KIND: entry.kind},
        params={**params, **flatten("model", {"name": name, "kind": entry.kind, **entry.params})},
        metrics=metrics,
        folder=folder,
        model=config if spec.tracking.log_models else None,
        model_frames=_model_frames(data, out, name, config) if spec.tracking.log_models else {},
        failure=failure,
    )


def _calibrated(settings: ForecastSettings, out: JobFrames) -> bool:
    """Whether the job's forecast intervals were calibrated on its backtest (and the logged model must be too)."""
    return settings.intervals == "conformal" and out.backtest is not None and out.interval_note is None


def _model_frames(data: Dataset, out: JobFrames, name: str, config: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """The frames a logged model forecasts from: the training history, the raw inputs its paths extend, and the
    backtest residuals its intervals are calibrated on."""
    frames = {"history": data.frame}
    if config["paths"] and data.inputs is not None:
        frames["inputs"] = data.inputs
    if config["calibration_h"] and out.backtest is not None:
        frames["calibration"] = out.backtest.filter(pl.col(MODEL) == name).select(ID, DS, CUTOFF, MODEL, Y, MEAN)
    return frames


def logged_model_config(
    settings: ForecastSettings, entry: ModelEntry, spec: ExperimentSpec, data: Dataset, *, calibrated: bool = False
) -> dict[str, Any]:
    """Everything a logged model needs to forecast again (see :mod:`~experiments.tracking.pyfunc`): the model
    entry, the settings under the model's own transform, the forecast horizon, how the inputs continue (exogenous
    providers, raw-input paths and the indicators recomputed along them), the raw input columns a history frame
    must carry, the backtest plan its intervals are calibrated on when it forecasts from new data (None: the spec
    has none) and the steps the stored residuals calibrate (0: the model's own intervals)."""
    plan = settings.backtest
    own = settings.replace(transform=entry.transform, backtest=None)
    backtest = None
    if plan is not None:
        oracle = spec.backtest is not None and spec.backtest.oracle_exog
        backtest = {**asdict(plan), "oracle_exog": oracle}
    return {
        "model": entry.to_dict(),
        "settings": own.to_dict(),
        "h": spec.forecast.h,
        "exog_providers": dict(spec.exog_providers),
        "paths": dict(spec.paths),
        "scenarios": {name: dict(paths) for name, paths in spec.scenarios.items()},
        "indicators": [ind.to_dict() for ind in data.indicators],
        "inputs": [c for c in data.inputs.columns if c not in (ID, DS)] if data.inputs is not None else [],
        "backtest": backtest,
        "calibration_h": plan.h if calibrated and plan is not None else 0,
    }


def log_staged(tracker: Tracker, run: Run, staged: StagedRun) -> None:
    """Log a staged child run's model, then its params, metrics and tags together (its artifacts go up later).

    The model comes first: MLflow's ``log_model`` links every metric the run already has to the model by reading
    each one's history back; we link the step-0 metrics in our own batch instead.
    """
    tags: dict[str, str] = {}
    model_id = None
    if staged.model is not None:
        from experiments.tracking.pyfunc import log_forecaster

        model_uri = log_forecaster(run.id, staged.model, staged.model_frames, params=staged.params)
        tags[TAG.MODEL_URI] = model_uri
        model_id = logged_model_id(model_uri)
    if (staged.folder / PER_SERIES_TABLE).exists():
        tags[TAG.LOGGED_ARTIFACTS] = json.dumps([{"path": PER_SERIES_TABLE, "type": "table"}])
    if staged.failure is not None:
        tags[TAG.FAILURE] = staged.failure
        run.status = "FAILED"
    tracker.log(run.id, params=staged.params, metrics=staged.metrics, tags=tags, model_id=model_id)


def logged_model_id(model_uri: str) -> str | None:
    """The logged model's id in an MLflow 3 model URI (``models:/<model_id>``); None for any other form."""
    rest = model_uri.removeprefix("models:/")
    return rest if rest != model_uri and rest and not any(ch in rest for ch in "/@") else None


def write_table(frame: pl.DataFrame, path: Path) -> Path:
    """A frame as the JSON table ``MlflowClient.log_table`` writes (pandas' ``orient="split"``), NaN as null."""
    clean = frame.with_columns(pl.col(c).fill_nan(None) for c, t in frame.schema.items() if t.is_float())
    path.write_text(json.dumps({"columns": clean.columns, "data": clean.rows()}, allow_nan=False, default=str))
    return path


def _metrics(out: JobFrames, name: str) -> list[tuple[str, float, int]]:
    """(key, value, step): overall metrics at step 0, per-horizon metrics as ``<metric>_by_h`` at step h."""
    metrics: list[tuple[str, float, int]] = []
    if out.overall is not None:
        row = out.overall.filter(pl.col(MODEL) == name)
        for col in metric_columns(out.overall):
            if row.height and row[col][0] is not None:
                metrics.append((col, float(row[col][0]), 0))
    if out.per_step is not None:  # the coverage bands stay overall: per step they would only crowd the UI
        cols = [c for c in metric_columns(out.per_step) if not c.endswith(BAND_SUFFIXES)]
        for rec in out.per_step.filter(pl.col(MODEL) == name).iter_rows(named=True):
            metrics.extend((f"{c}_by_h", float(rec[c]), int(rec["step"])) for c in cols if rec[c] is not None)
    return metrics


def _log_lineage(tracker: Tracker, run_id: str, spec: ExperimentSpec, data: Dataset) -> None:
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    dataset = mlflow.data.from_polars(
        data.frame,
        source=display_path(spec.sources[spec.target.source].path),
        name=f"{spec.name}@{data.as_of}",
        targets=Y,
    )
    tag = InputTag(key="mlflow.data.context", value="training")
    tracker._call(
        "log_inputs",
        tracker.client.log_inputs,
        run_id,
        datasets=[DatasetInput(dataset=dataset._to_mlflow_entity(), tags=[tag])],
    )


def _fan_charts(spec: ExperimentSpec, data: Dataset, out: JobFrames, name: str, folder: Path) -> list[Chart]:
    """Fan charts of the first ``tracking.max_fan_charts`` series (a backtest's are of its last window)."""
    from experiments.tracking.plots import FanChart

    if not spec.tracking.max_fan_charts:
        return []
    rows = out.rows.filter(pl.col(MODEL) == name)
    if SCENARIO_COL in rows.columns:  # the base scenario's band (the what-ifs are in the forecast table)
        rows = rows.filter(pl.col(SCENARIO_COL) == rows.get_column(SCENARIO_COL).first())
    if out.forecast is None:
        rows = rows.filter(pl.col("cutoff") == pl.col("cutoff").max())
    folder.mkdir()
    charts: list[Chart] = []
    for series in sorted(rows[ID].unique().to_list())[: spec.tracking.max_fan_charts]:
        first = rows.filter(pl.col(ID) == series)[DS].min()
        history = data.frame.filter((pl.col(ID) == series) & (pl.col(DS) < first))
        path = folder / f"fan-{series.replace('/', '_')}.png"
        charts.append(FanChart.from_frames(history, rows, series, name, spec.forecast.level, path))
    return charts
