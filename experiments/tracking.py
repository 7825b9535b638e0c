"""MLflow tracking: one parent run per invocation, one child run per model, batched logging.

Only this module (and the registry later) talks to MLflow; ``forecast`` never imports it. The URI comes from
``MLFLOW_TRACKING_URI``, else the spec's ``tracking.uri``, else ``sqlite:///mlruns.db`` in the working directory.
Every failure to reach or write the store is raised as :class:`TrackingError` (CLI exit code 3).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_URI = "sqlite:///mlruns.db"
MAX_METRICS = 1000  # MLflow's per-request limits (mlflow.utils.validation)
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_PARAM_CHARS = 6000

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


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """Close a run as FINISHED or FAILED."""
        self._call("set_terminated", self.client.set_terminated, run_id, status)

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, str] | None = None,
        metrics: Iterable[tuple[str, float, int]] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Log params, (key, value, step) metrics and tags in batches within MLflow's request limits."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        ps = [Param(k, v) for k, v in (params or {}).items()]
        ts = [RunTag(k, v) for k, v in (tags or {}).items()]
        ms = [Metric(k, float(v), now, int(s)) for k, v, s in metrics]
        for chunk in _chunks(ps, MAX_PARAMS):
            self._call("log_batch", self.client.log_batch, run_id, params=chunk)
        for chunk in _chunks(ts, MAX_TAGS):
            self._call("log_batch", self.client.log_batch, run_id, tags=chunk)
        for chunk in _chunks(ms, MAX_METRICS):
            self._call("log_batch", self.client.log_batch, run_id, metrics=chunk)

    def artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload one local file to the run's artifacts."""
        self._call("log_artifact", self.client.log_artifact, run_id, str(path), artifact_path)

    @contextmanager
    def run(self, name: str, tags: Mapping[str, str], parent_id: str | None = None) -> Iterator[str]:
        """A run that ends FINISHED, or FAILED (with the reason tagged) if the body raises."""
        run_id = self.start(name, tags, parent_id)
        try:
            yield run_id
        except BaseException as exc:
            try:
                self.log(run_id, tags={"gridcast.failure": f"{type(exc).__name__}: {exc}"[:5000]})
                self.end(run_id, "FAILED")
            except TrackingError:
                pass
            raise
        self.end(run_id, "FINISHED")
