"""What a job logs to MLflow: one parent run per invocation, one child run per model.

Parent: tags (kind, spec hash, data digest, as-of, version, git commit), namespaced params (``backtest.*``,
``forecast.*``, ``features.*``, ``data.*``), the dataset's lineage (``mlflow.data.from_polars`` + ``log_input``),
the resolved spec, manifest and leaderboard, and an error-by-horizon PNG per metric. Child: ``model.*`` params,
overall metrics, per-horizon metrics with ``step = h`` (so the UI draws error against horizon), per-series metrics
as a table artifact, fan-chart PNGs, the backtest/forecast rows as Parquet and the fitted model as a pyfunc model.
A model that fell back on every series ends FAILED with the reason tagged. Everything goes through batched calls.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl

from experiments.data import Dataset
from experiments.spec import ExperimentSpec, spec_hash
from experiments.tracking import Tracker, TrackingError, flatten, git_commit, resolve_uri
from features.contract import DS, FALLBACK, ID, MODEL, Y

COUNT_COLUMNS = {"n", "n_missing_y", "n_missing_forecast", "step"}
HORIZON_PLOTS = ("mase", "mae")


@dataclass
class JobOutputs:
    """The frames a job produced (None where the job kind does not produce them)."""

    folder: Path
    backtest: pl.DataFrame | None
    forecast: pl.DataFrame | None
    per_series: pl.DataFrame | None
    per_step: pl.DataFrame | None
    overall: pl.DataFrame | None

    @property
    def rows(self) -> pl.DataFrame:
        """The rows that decide failure and plots: the forecast, else the backtest."""
        frame = self.forecast if self.forecast is not None else self.backtest
        assert frame is not None
        return frame


def metric_columns(frame: pl.DataFrame) -> list[str]:
    """The numeric metric columns of an ``evaluate`` frame (counts and keys left out)."""
    return [c for c, t in frame.schema.items() if t.is_numeric() and c not in COUNT_COLUMNS]


def track_job(result, spec: ExperimentSpec, data: Dataset, out: JobOutputs) -> None:
    """Log the job; a tracking failure is recorded in ``result.tracking_error`` (outputs are already written)."""
    import mlflow

    uri = resolve_uri(spec.tracking.uri)
    result.tracking_uri = uri
    try:
        tracker = Tracker(uri, spec.experiment_name)
        mlflow.set_tracking_uri(uri)
        tags = {
            "gridcast.kind": result.kind,
            "gridcast.spec": spec.name,
            "gridcast.spec_hash": spec_hash(spec),
            "gridcast.data_digest": data.digest,
            "gridcast.as_of": result.as_of,
            "gridcast.version": version("gridcast"),
            "gridcast.scenario": "last_value",
            "gridcast.registered_model": spec.tracking.registered_model or spec.name,
            "gridcast.promote_margin": str(spec.tracking.promote_margin),
            "mlflow.source.git.commit": git_commit(),
            "mlflow.source.name": "gridcast " + " ".join(sys.argv[1:])[:200],
        }
        params = {
            **flatten("backtest", spec.backtest.model_dump() if spec.backtest else {}),
            **flatten("forecast", spec.forecast.model_dump()),
            **{f"features.{i}.{k}": str(v) for i, f in enumerate(spec.features) for k, v in f.items()},
            "data.freq": spec.freq,
            "data.exog": ",".join(data.exog) or "(none)",
            "data.n_series": str(data.frame[ID].n_unique()),
            "data.missing_target_periods": str(data.gaps.n_missing),
            "data.season_length": str(spec.season_length),
            "target.transform": spec.target.transform,
            **{f"exog.provider.{c}": spec.exog_providers.get(c, "last_value") for c in data.exog},
        }
        with (
            tempfile.TemporaryDirectory() as scratch,
            tracker.run(f"{result.kind}-{spec.name}-{result.as_of}", tags) as parent,
        ):
            result.run_id = parent
            tracker.log(parent, params=params)
            _log_lineage(tracker, parent, spec, data)
            for name in ("spec.json", "manifest.json", "leaderboard.csv"):
                tracker.artifact(parent, out.folder / name)
            if out.per_step is not None:
                from experiments.plots import error_by_horizon

                for metric in HORIZON_PLOTS:
                    png = error_by_horizon(out.per_step, metric, Path(scratch) / f"{metric}_by_horizon.png")
                    tracker.artifact(parent, png, "plots")
            for name in spec.models:
                _log_model_run(tracker, parent, tags, params, spec, data, out, name, Path(scratch))
        result.n_requests = tracker.n_requests
    except TrackingError as exc:
        result.tracking_error = str(exc)
    except Exception as exc:  # an MLflow call outside the batching wrapper (lineage, pyfunc)
        result.tracking_error = f"{type(exc).__name__}: {exc}"


def _log_lineage(tracker: Tracker, run_id: str, spec: ExperimentSpec, data: Dataset) -> None:
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    dataset = mlflow.data.from_polars(
        data.frame, source=str(spec.sources[spec.target.source].path), name=f"{spec.name}@{data.as_of}", targets=Y
    )
    tag = InputTag(key="mlflow.data.context", value="training")
    tracker._call(
        "log_inputs",
        tracker.client.log_inputs,
        run_id,
        datasets=[DatasetInput(dataset=dataset._to_mlflow_entity(), tags=[tag])],
    )


def _log_model_run(
    tracker: Tracker,
    parent: str,
    tags: dict[str, str],
    params: dict[str, str],
    spec: ExperimentSpec,
    data: Dataset,
    out: JobOutputs,
    name: str,
    scratch: Path,
) -> None:
    from experiments.jobs import model_config

    config = model_config(spec, name, data.exog)
    run = tracker.start(name, {**tags, "gridcast.model": name, "gridcast.model_kind": config["kind"]}, parent)
    metrics: list[tuple[str, float, int]] = []
    if out.overall is not None:
        row = out.overall.filter(pl.col(MODEL) == name)
        for col in metric_columns(out.overall):
            if row.height and row[col][0] is not None:
                metrics.append((col, float(row[col][0]), 0))
    if out.per_step is not None:
        for rec in out.per_step.filter(pl.col(MODEL) == name).iter_rows(named=True):
            for col in metric_columns(out.per_step):
                if rec.get(col) is not None:
                    metrics.append((f"{col}_by_h", float(rec[col]), int(rec["step"])))
    mine = out.rows.filter(pl.col(MODEL) == name)
    n_series = mine[ID].n_unique()
    fell_back = mine.filter(pl.col(FALLBACK).is_not_null())
    metrics.append(("series_fallen_back", float(fell_back[ID].n_unique()), 0))
    tracker.log(
        run,
        params={**params, **flatten("model", {"name": name, "kind": config["kind"], **config["params"]})},
        metrics=metrics,
    )
    folder = scratch / name
    folder.mkdir()
    for label, frame in (("forecast", out.forecast), ("backtest", out.backtest)):
        if frame is not None:
            path = folder / f"{label}-{name}.parquet"
            frame.filter(pl.col(MODEL) == name).write_parquet(path, statistics=False)
            tracker.artifact(run, path)
    if out.per_series is not None:
        table = out.per_series.filter(pl.col(MODEL) == name).to_pandas()
        tracker._call("log_table", tracker.client.log_table, run, data=table, artifact_file="metrics_per_series.json")
    _log_fan_charts(tracker, run, spec, data, out, name, folder)
    if spec.tracking.log_models:
        from experiments.pyfunc import log_forecaster

        model_uri = log_forecaster(run, config, data.frame)
        tracker.log(run, tags={"gridcast.model_uri": model_uri})
    if n_series and fell_back[ID].n_unique() == n_series:
        reason = fell_back[FALLBACK].head(1).to_list()[0]
        tracker.log(run, tags={"gridcast.failure": f"failed on every series; e.g. {reason}"[:5000]})
        tracker.end(run, "FAILED")
    else:
        tracker.end(run, "FINISHED")


def _log_fan_charts(
    tracker: Tracker, run: str, spec: ExperimentSpec, data: Dataset, out: JobOutputs, name: str, folder: Path
) -> None:
    if not spec.tracking.max_fan_charts:
        return
    from experiments.plots import fan_chart

    rows = out.rows
    if out.forecast is None:  # a backtest: chart the last window
        rows = rows.filter(pl.col("cutoff") == pl.col("cutoff").max())
    for series in sorted(rows[ID].unique().to_list())[: spec.tracking.max_fan_charts]:
        safe = series.replace("/", "_")
        history = data.frame.filter(pl.col(DS) <= rows.filter(pl.col(ID) == series)[DS].min())
        png = fan_chart(history, rows, series, name, spec.forecast.level, folder / f"fan-{safe}.png")
        tracker.artifact(run, png, "plots")
