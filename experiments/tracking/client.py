"""The MLflow client wrapper: runs, batched logging within MLflow's request limits, and the tracking URI.

Every call to the tracking store goes through :class:`Tracker` (what a job logs is decided in
:mod:`~experiments.tracking.job_log`; the pyfunc model and promotion in their own modules of this package);
``forecast`` never imports MLflow. The URI comes from
``MLFLOW_TRACKING_URI``, else the spec's ``tracking.uri``, else ``sqlite:///mlruns.db`` in the working directory.
Every failure to reach or write the store is raised as :class:`TrackingError` (CLI exit code 3).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from experiments.tracking import tags as TAG

DEFAULT_URI = "sqlite:///mlruns.db"
MAX_METRICS = 1000  # MLflow's per-request limits (mlflow.utils.validation)
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000  # params + tags + metrics in one log_batch request
MAX_PARAM_CHARS = 6000

Status = Literal["FINISHED", "FAILED"]

# Fail fast when a remote server is down instead of MLflow's default minutes of retries (a user's env wins).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


class TrackingError(RuntimeError):
    """The tracking store could not be reached or written."""


def resolve_uri(spec_uri: str | None = None) -> str:
    """The tracking URI by precedence: environment, spec, local SQLite file.

    A relative SQLite path is made absolute against the working directory: MLflow caches its stores by URI, so a
    relative one would keep writing to the first directory it was opened in.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI") or spec_uri or DEFAULT_URI
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return uri


def _artifact_root(uri: str, experiment: str) -> str | None:
    """For a local SQLite store, keep artifacts beside the database file (``mlartifacts/<experiment>``)."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return (db.resolve().parent / "mlartifacts" / experiment).as_uri()


def git_commit() -> str:
    """The checkout's commit, or 'unknown' outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def flatten(prefix: str, mapping: Mapping[str, Any]) -> dict[str, str]:
    """Namespaced string params: {"order": [1, 0, 0]} under "model" → {"model.order": "[1, 0, 0]"}."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(name, value))
        else:
            out[name] = str(value)[:MAX_PARAM_CHARS]
    return out


def batches(params: list[Any], tags: list[Any], metrics: list[Any]) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """Split params, tags and metrics into as few ``log_batch`` requests as MLflow's limits allow: each request
    carries at most 100 params, 100 tags and 1,000 metrics, and at most 1,000 entities in all."""
    p, t, m = 0, 0, 0
    while p < len(params) or t < len(tags) or m < len(metrics):
        ps, ts = params[p : p + MAX_PARAMS], tags[t : t + MAX_TAGS]
        room = min(MAX_METRICS, MAX_ENTITIES - len(ps) - len(ts))
        ms = metrics[m : m + room]
        p, t, m = p + len(ps), t + len(ts), m + len(ms)
        yield ps, ts, ms


@dataclass
class Run:
    """An open run: its id, and the status it will end with (the body of :meth:`Tracker.run` may set FAILED)."""

    id: str
    status: Status = "FINISHED"


class Tracker:
    """A thin, batching wrapper over ``MlflowClient`` for one experiment."""

    def __init__(self, uri: str, experiment: str) -> None:
        try:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=uri)
            exp = self.client.get_experiment_by_name(experiment)
            if exp is None:
                self.experiment_id = self.client.create_experiment(
                    experiment, artifact_location=_artifact_root(uri, experiment)
                )
            else:
                self.experiment_id = exp.experiment_id
        except Exception as exc:  # MLflow raises many types for an unreachable or broken store
            raise TrackingError(f"tracking store {uri} unavailable: {type(exc).__name__}: {exc}") from None
        self.uri = uri
        self.n_requests = 0

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            self.n_requests += 1
            return fn(*args, **kwargs)
        except Exception as exc:
            raise TrackingError(f"MLflow {what} failed on {self.uri}: {type(exc).__name__}: {exc}") from None

    def start(self, name: str, tags: Mapping[str, str], parent_id: str | None = None) -> str:
        """Create a run (a child when ``parent_id`` is given) and return its id."""
        all_tags = dict(tags)
        if parent_id is not None:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self._call("create_run", self.client.create_run, self.experiment_id, tags=all_tags, run_name=name)
        return run.info.run_id

    def end(self, run_id: str, status: Status = "FINISHED") -> None:
        """Close a run as FINISHED or FAILED."""
        self._call("set_terminated", self.client.set_terminated, run_id, status)

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, str] | None = None,
        metrics: Iterable[tuple[str, float, int]] = (),
        tags: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> None:
        """Log params, (key, value, step) metrics and tags in as few requests as MLflow's limits allow.

        With ``model_id``, the step-0 metrics are also linked to that logged model (its page in the UI shows them).
        """
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        ps = [Param(k, v) for k, v in (params or {}).items()]
        ts = [RunTag(k, v) for k, v in (tags or {}).items()]
        ms = [Metric(k, float(v), now, int(s), model_id=model_id if s == 0 else None) for k, v, s in metrics]
        for p, t, m in batches(ps, ts, ms):
            self._call("log_batch", self.client.log_batch, run_id, metrics=m, params=p, tags=t)

    def artifacts(self, run_id: str, folder: str | Path, artifact_path: str | None = None) -> None:
        """Upload every file below ``folder`` to the run's artifacts in one call (sub-folders are kept)."""
        self._call("log_artifacts", self.client.log_artifacts, run_id, str(folder), artifact_path)

    @contextmanager
    def run(self, name: str, tags: Mapping[str, str], parent_id: str | None = None) -> Iterator[Run]:
        """A run that ends with ``run.status`` (FINISHED unless the body sets FAILED), or FAILED with the reason
        tagged if the body raises."""
        run = Run(self.start(name, tags, parent_id))
        try:
            yield run
        except BaseException as exc:
            try:
                self.log(run.id, tags={TAG.FAILURE: f"{type(exc).__name__}: {exc}"[:5000]})
                self.end(run.id, "FAILED")
            except TrackingError:
                pass
            raise
        self.end(run.id, run.status)
