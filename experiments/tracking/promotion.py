"""Comparing runs and promoting models in the MLflow registry with aliases (stages are deprecated).

``promote`` takes the best child run of an experiment by a metric (lower is better), registers its logged model
under the spec's registered-model name, and moves ``@champion`` only when it beats the current champion by the
spec's relative margin; otherwise the new version becomes ``@challenger``. The decision and both numbers are
returned, printed by the CLI and tagged on the model version.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from experiments.tracking import tags as TAG
from experiments.tracking.client import TrackingError

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` decided, with the numbers behind it."""

    name: str
    version: str
    alias: str
    metric: str
    value: float
    champion_value: float | None
    margin: float
    run_id: str

    def describe(self) -> str:
        """One line for the CLI."""
        old = "none" if self.champion_value is None else f"{self.champion_value:.4f}"
        return (
            f"{self.name} v{self.version} ({self.metric} {self.value:.4f}; champion {old}; margin "
            f"{self.margin:.1%}) -> @{self.alias} [run {self.run_id}]"
        )


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client, experiment: str) -> str:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise TrackingError(f"no experiment named {experiment!r} in the tracking store")
    return exp.experiment_id


def leaderboard(uri: str, experiment: str, metric: str = "mase", *, latest_only: bool = True) -> pl.DataFrame:
    """Models × metrics from the child runs (of the latest parent run by default), best ``metric`` first."""
    client = _client(uri)
    exp_id = _experiment_id(client, experiment)
    children = client.search_runs([exp_id], filter_string="tags.gridcast.model != ''", max_results=5000)
    if latest_only and children:
        parents = client.search_runs(
            [exp_id],
            filter_string="tags.gridcast.kind != ''",
            max_results=5000,
            order_by=["attributes.start_time DESC"],
        )
        parent_ids = [p.info.run_id for p in parents if "mlflow.parentRunId" not in p.data.tags]
        latest = next(
            (p for p in parent_ids if any(c.data.tags.get("mlflow.parentRunId") == p for c in children)), None
        )
        children = [c for c in children if c.data.tags.get("mlflow.parentRunId") == latest]
    rows = []
    for run in children:
        row = {
            "model": run.data.tags.get(TAG.MODEL, run.info.run_name),
            "status": run.info.status,
            "run_id": run.info.run_id,
        }
        row.update({k: v for k, v in run.data.metrics.items() if not k.endswith("_by_h")})
        rows.append(row)
    if not rows:
        return pl.DataFrame(
            {"model": [], "status": [], "run_id": []}, schema={c: pl.String for c in ("model", "status", "run_id")}
        )
    frame = pl.DataFrame(rows)
    if metric not in frame.columns:
        raise TrackingError(
            f"metric {metric!r} not logged in {experiment!r}; logged: "
            + ", ".join(c for c in frame.columns if c not in ("model", "status", "run_id"))
        )
    return frame.sort(metric, nulls_last=True)


def promote(
    uri: str, experiment: str, metric: str = "mase", *, name: str | None = None, margin: float | None = None
) -> Promotion:
    """Register the best run's model and move ``@champion`` or ``@challenger`` (see the module docstring)."""
    client = _client(uri)
    exp_id = _experiment_id(client, experiment)
    runs = client.search_runs(
        [exp_id],
        filter_string="tags.gridcast.model != '' and attributes.status = 'FINISHED'",
        order_by=[f"metrics.{metric} ASC"],
        max_results=200,
    )
    runs = [r for r in runs if metric in r.data.metrics]
    if not runs:
        raise TrackingError(f"no finished model run with metric {metric!r} in experiment {experiment!r}")
    best = runs[0]
    name = name or best.data.tags.get(TAG.REGISTERED_MODEL) or experiment
    margin = float(best.data.tags.get(TAG.PROMOTE_MARGIN, 0.0)) if margin is None else margin
    value = float(best.data.metrics[metric])
    current = _champion(client, name)
    if current is not None and current.run_id == best.info.run_id:  # nothing new: keep the registry as it is
        return Promotion(name, str(current.version), CHAMPION, metric, value, value, margin, best.info.run_id)
    champion_value = _champion_value(client, current, metric)
    version = _register(uri, name, best)
    better = champion_value is None or value < champion_value * (1.0 - margin)
    alias = CHAMPION if better else CHALLENGER
    client.set_registered_model_alias(name, alias, version)
    for key, val in {
        TAG.DECISION: alias,
        f"gridcast.{metric}": f"{value:.6g}",
        TAG.CHAMPION_BEFORE: "none" if champion_value is None else f"{champion_value:.6g}",
        TAG.MARGIN: str(margin),
    }.items():
        client.set_model_version_tag(name, version, key, val)
    return Promotion(name, version, alias, metric, value, champion_value, margin, best.info.run_id)


def _register(uri: str, name: str, run) -> str:
    """Register the run's logged model (its URI is tagged at logging time) as a new version of ``name``."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model_uri = run.data.tags.get(TAG.MODEL_URI)
    if model_uri is None:
        raise TrackingError(f"run {run.info.run_id} has no logged model (tracking.log_models = false?)")
    return str(mlflow.register_model(model_uri, name).version)


def _champion(client, name: str):
    """The model version holding ``@champion``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _champion_value(client, version, metric: str) -> float | None:
    if version is None:
        return None
    value = client.get_run(version.run_id).data.metrics.get(metric)
    return None if value is None else float(value)
