"""Comparing runs and promoting models in the MLflow registry with aliases (stages are deprecated).

``promote`` takes the best child run of an experiment by a metric, registers its logged model under the spec's
registered-model name, and moves ``@champion`` only when it beats the current champion by the spec's relative
margin; otherwise the new version becomes ``@challenger``. The decision and both numbers are returned, printed by
the CLI and tagged on the model version.

Each metric has a direction (:func:`metric_loss`): MASE, sMAPE, CRPS, Winkler and the other errors are better
lower; ``coverage-<L>`` is better the closer it is to L/100; ``bias`` the closer it is to 0.

Runs compare only when they were scored alike: the same data (``gridcast.data_digest``) and evaluation
(``gridcast.eval_hash``: target, backtest plan, levels and calibration). The candidates are the finished runs scored
like the most recent one, and a champion scored differently is not compared with them: ``promote`` refuses and
says why, unless ``allow_different`` is given.
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


class PromotionError(ValueError):
    """A promotion that cannot be decided as asked: an unknown metric, or runs that do not compare."""


LOWER_IS_BETTER = ("mase", "smape", "owa", "mae", "rmse", "wape", "crps", "pinball", "winkler-", "brier-")


def metric_loss(metric: str, value: float) -> float:
    """The metric as a loss (lower is better): itself for errors, the distance to the nominal level for
    ``coverage-<L>``, the absolute value for ``bias``; an unknown metric is an error."""
    if metric.startswith("coverage-") and metric.removeprefix("coverage-").isdigit():
        return abs(value - int(metric.removeprefix("coverage-")) / 100.0)
    if metric == "bias":
        return abs(value)
    if metric in LOWER_IS_BETTER or metric.startswith(("winkler-", "brier-")):
        return value
    raise PromotionError(
        f"metric {metric!r} has no known direction; use one of mase, smape, owa, mae, rmse, wape, crps, pinball, "
        "bias, winkler-<L>, coverage-<L>, brier-<c>"
    )


def _scoring(run) -> tuple[str | None, str | None]:
    tags = run.data.tags
    return tags.get(TAG.DATA_DIGEST), tags.get(TAG.EVAL_HASH)


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
    metric_loss(metric, 0.0)
    loss = pl.col(metric).map_elements(lambda v: metric_loss(metric, v), return_dtype=pl.Float64)
    return frame.sort(loss, nulls_last=True)


def promote(
    uri: str,
    experiment: str,
    metric: str = "mase",
    *,
    name: str | None = None,
    margin: float | None = None,
    allow_different: bool = False,
) -> Promotion:
    """Register the best run's model and move ``@champion`` or ``@challenger`` (see the module docstring)."""
    metric_loss(metric, 0.0)  # an unknown metric fails before anything is read
    client = _client(uri)
    exp_id = _experiment_id(client, experiment)
    runs = client.search_runs(
        [exp_id],
        filter_string="tags.gridcast.model != '' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    runs = [r for r in runs if metric in r.data.metrics]
    if not runs:
        raise TrackingError(f"no finished model run with metric {metric!r} in experiment {experiment!r}")
    if not allow_different:
        latest = _scoring(runs[0])
        runs = [r for r in runs if _scoring(r) == latest]
    best = min(runs, key=lambda r: (metric_loss(metric, float(r.data.metrics[metric])), -r.info.start_time))
    name = name or best.data.tags.get(TAG.REGISTERED_MODEL) or experiment
    margin = float(best.data.tags.get(TAG.PROMOTE_MARGIN, 0.0)) if margin is None else margin
    value = float(best.data.metrics[metric])
    current = _champion(client, name)
    if current is not None and current.run_id == best.info.run_id:  # nothing new: keep the registry as it is
        return Promotion(name, str(current.version), CHAMPION, metric, value, value, margin, best.info.run_id)
    champion_run = client.get_run(current.run_id) if current is not None else None
    if champion_run is not None and not allow_different and _scoring(champion_run) != _scoring(best):
        same_data = _scoring(champion_run)[0] == _scoring(best)[0]
        what = "evaluation (target, backtest plan, levels or calibration)" if same_data else "data"
        raise PromotionError(
            f"@champion of {name!r} (v{current.version}, run {current.run_id}) was scored on different {what} than "
            f"run {best.info.run_id}: their {metric} do not compare. Score the champion's model on the same data, "
            "or pass --allow-different to compare anyway"
        )
    champion_value = None
    if champion_run is not None and metric in champion_run.data.metrics:
        champion_value = float(champion_run.data.metrics[metric])
    version = _register(uri, name, best)
    better = champion_value is None or metric_loss(metric, value) < metric_loss(metric, champion_value) * (1.0 - margin)
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
