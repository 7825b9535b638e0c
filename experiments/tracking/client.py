"""The MLflow client wrapper: runs, batched logging within MLflow's request limits, and the tracking URI.

Every call to the tracking store goes through :class:`Tracker` (what a job logs is decided in
:mod:`~experiments.tracking.job_log`; the pyfunc model and promotion in their own modules of this package);
``forecast`` never imports MLflow. The URI comes from
``MLFLOW_TRACKING_URI``, else the spec's ``tracking.uri``, else ``sqlite:///mlruns.db`` in the working directory.
Every failure to reach or write the store is raised as :class:`TrackingError` (CLI exit code 3), naming the store
with any password masked (:func:`redact`).

Bounded time to fail (about 10 s at most, whatever the store): an HTTP store gets
``MLFLOW_HTTP_REQUEST_TIMEOUT`` = 5 s and ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` = 1 (MLflow's defaults, 120 s and 7
retries with exponential backoff, take minutes; a value in the environment wins). MLflow opens an SQLite store
through ``create_sqlalchemy_engine_with_retry``, which retries 10 times with backoff (~100 s) and has no setting,
so :func:`probe_sqlite` opens the file once first and fails at once if it cannot. After the first failure to
reach the store, a :class:`Tracker` fails every later call at once (marking its runs FAILED would wait as long
again; the next job does it, :func:`experiments.jobs.cleanup.fail_dead_runs`).
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
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

# Fail fast when a remote server is down instead of MLflow's default minutes of retries (a user's env wins):
# at most 2 attempts of 5 s each (urllib3 does not back off before the first retry).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
# MLflow prints each run's URL (with any password in the URI) on stdout when a run ends on a server, and asks the
# server for the run again to do so: never (our own log line names the run).
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
SQLITE_BUSY_S = 5.0  # how long the probe waits for another writer's lock on the SQLite file

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<password>[^/\s@]+)@")


class TrackingError(RuntimeError):
    """The tracking store could not be reached or written (the message never carries a password)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot be reached at all (transport or database connection), rather than a
    refused request."""
    seen: BaseException | None = exc
    while seen is not None:
        if "API request to" in str(seen) or type(seen).__name__ in ("OperationalError", "ConnectionError", "Timeout"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def why(exc: BaseException) -> str:
    """A short reason for a failed store call: the OS error or timeout at the bottom of MLflow's and urllib3's
    wrapping (``Connection refused``, ``no answer within 5 s``), else the exception's type and first 300 characters."""
    text = str(exc)
    n = int(os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0") or 0) + 1
    attempts = f" ({n} attempts)" if "API request to" in text else ""
    errno_text = re.search(r"\[Errno -?\d+\] (?P<reason>[^\"')\]]+)", text)
    if errno_text:
        return f"{errno_text['reason'].strip()}{attempts}"
    if "timed out" in text.lower():
        return f"no answer within {os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT')} s{attempts}"
    too_many = re.search(r"too many \d+ error responses", text)
    if too_many:
        return too_many[0]
    return f"{type(exc).__name__}: {text[:300]}"


def probe_sqlite(uri: str) -> None:
    """Open an ``sqlite:///`` store's file once and read its schema, raising :class:`TrackingError` with the reason
    when it cannot be created or opened or is not a database (MLflow itself would retry for ~100 s)."""
    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    if not db.name or db.name == ":memory:":
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = display_path(db.parent)
        raise TrackingError(
            f"tracking store {display_uri(uri)}: cannot create its folder {where}: {exc.strerror}"
        ) from None
    try:
        con = sqlite3.connect(f"file:{db}?mode=rwc", uri=True, timeout=SQLITE_BUSY_S)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        where = display_path(db)
        raise TrackingError(f"tracking store {display_uri(uri)}: cannot open the SQLite file {where}: {exc}") from None


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
        self.uri = uri
        self.n_requests = 0
        self.broken: str | None = None  # why the store cannot be reached: every later call fails at once
        probe_sqlite(uri)
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
            raise TrackingError(f"tracking store {display_uri(uri)} unavailable: {why(exc)}") from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.broken is not None:
            raise TrackingError(f"MLflow {what} not tried: {self.broken}")
        try:
            self.n_requests += 1
            return fn(*args, **kwargs)
        except Exception as exc:
            message = f"MLflow {what} failed on {display_uri(self.uri)}: {why(exc)}"
            if _unreachable(exc):
                self.broken = redact(message)
            raise TrackingError(message) from None

    def start(self, name: str, tags: Mapping[str, str], parent_id: str | None = None) -> str:
        """Create a run (a child when ``parent_id`` is given) and return its id."""
        all_tags = {TAG.PID: str(os.getpid()), TAG.HOST: socket.gethostname(), **tags}
        if parent_id is not None:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self._call("create_run", self.client.create_run, self.experiment_id, tags=all_tags, run_name=name)
        return run.info.run_id

    def search_running(self) -> list[Any]:
        """The experiment's RUNNING runs (MLflow ``Run`` objects)."""
        return list(
            self._call(
                "search_runs",
                self.client.search_runs,
                [self.experiment_id],
                filter_string="attributes.status = 'RUNNING'",
                max_results=1000,
            )
        )

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


def display_path(path: str | Path) -> str:
    """A path as it may be recorded: relative to the working directory when below it, ``~/…`` when below the
    home folder, as given otherwise (never an absolute path into a home folder)."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return str(p)


def display_uri(uri: str) -> str:
    """A tracking URI as it may be shown or recorded: password masked, a local SQLite file's path relative
    (:func:`display_path`)."""
    if uri.startswith("sqlite:///"):
        return "sqlite:///" + display_path(uri.removeprefix("sqlite:///"))
    return redact(uri)


def command_line(argv: list[str]) -> str:
    """The ``mlflow.source.name`` of a run: the command's name and its arguments, paths made relative
    (:func:`display_path`) and passwords masked."""
    words = [Path(argv[0]).name if argv else "gridcast"]
    for arg in argv[1:]:
        key, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if value.startswith(("/", "~")):
            value = display_path(Path(value).expanduser())
        words.append(redact(f"{key}{eq}{value}"))
    return " ".join(words)[:500]
