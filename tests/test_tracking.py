"""Tracking: requests within MLflow's limits, run status on failure, everything a tracked job must log, one artifact
upload per run, and charts drawn on a reused figure."""

from __future__ import annotations

import json
import math
import os
import socket
import time
from datetime import date, timedelta
from pathlib import Path

import mlflow
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from experiments.inputs.spec import load_spec
from experiments.jobs.run import run_job
from experiments.tracking.client import (
    MAX_ENTITIES,
    MAX_METRICS,
    MAX_PARAMS,
    MAX_TAGS,
    Tracker,
    TrackingError,
    batches,
    display_uri,
)
from experiments.tracking.job_log import logged_model_id
from experiments.tracking.plots import Charts, FanChart, HorizonChart, start_rendering
from experiments.tracking.tags import LOGGED_ARTIFACTS as LOGGED_ARTIFACTS_TAG


@pytest.mark.parametrize(("n_params", "n_tags", "n_metrics"), [(0, 0, 0), (3, 2, 40), (250, 130, 2500), (0, 0, 3001)])
def test_batches_stay_within_limits_deliver_everything_once_and_use_the_fewest_requests(
    n_params: int, n_tags: int, n_metrics: int
) -> None:
    params, tags, metrics = (
        [f"{k}{i}" for i in range(n)] for k, n in (("p", n_params), ("t", n_tags), ("m", n_metrics))
    )
    out = list(batches(params, tags, metrics))
    for p, t, m in out:
        assert len(p) <= MAX_PARAMS and len(t) <= MAX_TAGS and len(m) <= MAX_METRICS
        assert 0 < len(p) + len(t) + len(m) <= MAX_ENTITIES
    assert [x for p, _, _ in out for x in p] == params
    assert [x for _, t, _ in out for x in t] == tags
    assert [x for _, _, m in out for x in m] == metrics
    fewest = max(
        math.ceil(n_params / MAX_PARAMS),
        math.ceil(n_tags / MAX_TAGS),
        math.ceil(n_metrics / MAX_METRICS),
        math.ceil((n_params + n_tags + n_metrics) / MAX_ENTITIES),
    )
    assert len(out) == fewest


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(f"sqlite:///{tmp_path / 'runs.db'}", "tracking-test")


def test_tracker_logs_a_large_batch_in_one_request_per_batch(tracker: Tracker) -> None:
    run = tracker.start("many", {"kind": "test"})
    before = tracker.n_requests
    metrics = [(f"m{i % 3}", float(i), i // 3) for i in range(2400)]
    params = {f"p{i}": str(i) for i in range(150)}
    tracker.log(run, params=params, metrics=metrics, tags={"a": "1"})
    assert tracker.n_requests - before == len(list(batches(list(params), ["a"], metrics)))
    got = tracker.client.get_run(run).data
    assert got.params == params and got.tags["a"] == "1"
    history = tracker.client.get_metric_history(run, "m1")
    assert sorted(m.step for m in history) == list(range(800))


def test_run_ends_failed_with_the_reason_when_its_body_raises(tracker: Tracker) -> None:
    with pytest.raises(ValueError, match="boom"), tracker.run("breaks", {}) as run:
        raise ValueError("boom (test)")
    got = tracker.client.get_run(run.id)
    assert got.info.status == "FAILED"
    assert got.data.tags["gridcast.failure"] == "ValueError: boom (test)"


def test_run_ends_with_the_status_its_body_sets(tracker: Tracker) -> None:
    with tracker.run("fine", {}) as fine:
        pass
    with tracker.run("fell back", {}) as failed:
        failed.status = "FAILED"
    assert tracker.client.get_run(fine.id).info.status == "FINISHED"
    assert tracker.client.get_run(failed.id).info.status == "FAILED"


@pytest.mark.parametrize(
    ("store", "reason"),
    [
        ("folder", "cannot open the SQLite file .*: unable to open database file"),
        ("under-a-file", "cannot create its folder .*: Not a directory"),
        ("corrupt", "cannot open the SQLite file .*: file is not a database"),
        ("refused", "unavailable: Connection refused"),
    ],
)
def test_an_unreachable_store_is_a_tracking_error(tmp_path: Path, store: str, reason: str) -> None:
    """MLflow retries opening an SQLite store 10 times with backoff (~100 s); the probe fails at the first try."""
    (tmp_path / "folder.db").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "corrupt.db").write_bytes(bytes(range(256)) * 20)
    with socket.socket() as held:  # bound, not listening: a connection is refused
        held.bind(("127.0.0.1", 0))
        uri = {
            "folder": f"sqlite:///{tmp_path / 'folder.db'}",
            "under-a-file": f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'runs.db'}",
            "corrupt": f"sqlite:///{tmp_path / 'corrupt.db'}",
            "refused": f"http://user:s3cret-canary@127.0.0.1:{held.getsockname()[1]}",
        }[store]
        with pytest.raises(TrackingError, match=reason) as caught:
            Tracker(uri, "x")
    message = str(caught.value)
    assert display_uri(uri) in message and "s3cret-canary" not in message


def test_a_server_that_never_answers_is_given_up_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(TrackingError, match="unavailable: no answer within 1 s"):
            Tracker(uri, "x")


def test_after_the_store_is_found_unreachable_later_calls_fail_at_once() -> None:
    calls = []

    class Unreachable:
        def set_terminated(self, *args: object) -> None:
            calls.append(args)
            raise ConnectionError("API request to http://h failed with exception [Errno 111] Connection refused")

    tracker = Tracker.__new__(Tracker)  # a tracker whose store went away after it was opened
    tracker.uri, tracker.n_requests, tracker.broken, tracker.client = "http://h", 0, None, Unreachable()
    for _ in range(3):
        with pytest.raises(TrackingError, match="Connection refused"):
            tracker.end("some-run")
    assert len(calls) == 1


def test_logged_model_id_only_from_a_plain_logged_model_uri() -> None:
    assert logged_model_id("models:/m-0123abcd") == "m-0123abcd"
    for uri in ("models:/demo@champion", "models:/demo/3", "runs:/abc/model", "models:/"):
        assert logged_model_id(uri) is None


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Which runs each artifact call of MlflowClient went to (the calls still happen)."""
    calls: dict[str, list[str]] = {"log_artifact": [], "log_artifacts": []}
    for name in calls:
        original = getattr(MlflowClient, name)

        def spy(self, run_id, *args, _name=name, _original=original, **kwargs):
            calls[_name].append(run_id)
            return _original(self, run_id, *args, **kwargs)

        monkeypatch.setattr(MlflowClient, name, spy)
    return calls


def test_tracked_backtest_logs_everything_with_one_upload_per_run(workdir: Path, uploads: dict) -> None:
    result = run_job("spec.toml", kind="backtest")
    assert result.tracking_error is None and result.run_id and result.tracking_s > 0
    max_fans = load_spec("spec.toml").tracking.max_fan_charts
    out = workdir / "out" / "demo" / "2025-01-31"
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns.db'}")
    parent = client.get_run(result.run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    names = sorted(r.info.run_name for r in children)
    assert names == ["sarimax", "seasonal_naive"]
    # every run's artifacts went up in one call, no file on its own
    assert uploads["log_artifact"] == []
    assert sorted(uploads["log_artifacts"]) == sorted([result.run_id, *(r.info.run_id for r in children)])

    assert parent.info.status == "FINISHED"
    params = parent.data.params
    assert params["backtest.h"] == "7" and params["forecast.level"] == "[80, 95]"
    assert params["features.0.name"] == "hdd" and params["data.n_series"] == "24"
    assert parent.data.tags["gridcast.kind"] == "backtest" and parent.data.tags["mlflow.source.git.commit"]
    (lineage,) = parent.inputs.dataset_inputs
    assert lineage.dataset.name == "demo@2025-01-31"
    assert {(t.key, t.value) for t in lineage.tags} == {("mlflow.data.context", "training")}
    columns = {c["name"] for c in json.loads(lineage.dataset.schema)["mlflow_colspec"]}
    assert {"unique_id", "ds", "y", "hdd_c", "launched_uav_damage", "launched_missile_damage"} <= columns
    parent_files = {a.path for a in client.list_artifacts(result.run_id)}
    assert parent_files >= {"spec.json", "manifest.json", "leaderboard.csv", "plots"}
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert plots == {"plots/mase_by_horizon.png", "plots/mae_by_horizon.png"}
    spec = json.loads(Path(client.download_artifacts(result.run_id, "spec.json")).read_text())
    assert spec["name"] == "demo" and spec["backtest"]["h"] == 7

    per_series = pl.read_parquet(out / "metrics_per_series.parquet")
    backtest = pl.read_parquet(out / "backtest.parquet")
    for child in children:
        name = child.info.run_name
        assert child.info.status == "FINISHED"
        assert child.data.params["model.name"] == name and child.data.params["backtest.h"] == "7"
        files = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {f"backtest-{name}.parquet", "metrics_per_series.json", "plots"} <= files
        rows = pl.read_parquet(client.download_artifacts(child.info.run_id, f"backtest-{name}.parquet"))
        assert rows.equals(backtest.filter(pl.col("model") == name))
        table = json.loads(Path(client.download_artifacts(child.info.run_id, "metrics_per_series.json")).read_text())
        frame = pl.DataFrame(table["data"], schema=table["columns"], orient="row")
        expected = per_series.filter(pl.col("model") == name)
        assert frame["unique_id"].to_list() == expected["unique_id"].to_list()
        assert frame["mase"].to_list() == pytest.approx(expected["mase"].to_list())
        assert json.loads(child.data.tags[LOGGED_ARTIFACTS_TAG]) == [
            {"path": "metrics_per_series.json", "type": "table"}
        ]
        fans = [a.path for a in client.list_artifacts(child.info.run_id, "plots")]
        assert len(fans) == max_fans and all(p.startswith("plots/fan-") and p.endswith(".png") for p in fans)
        horizon = client.get_metric_history(child.info.run_id, "mase_by_h")
        assert sorted(m.step for m in horizon) == list(range(1, 8))
        # the pyfunc model, its signature, and the overall metrics linked to it
        model_uri = child.data.tags["gridcast.model_uri"]
        info = mlflow.models.get_model_info(model_uri)
        assert {p.name for p in info.signature.params.params} == {"h", "level", "scenario", "as_of"}
        assert [c.name for c in info.signature.inputs.inputs][:2] == ["unique_id", "ds"]
        model = client.get_logged_model(logged_model_id(model_uri))
        assert model.experiment_id == parent.info.experiment_id and model.source_run_id == child.info.run_id
        assert model.params["model.name"] == name
        linked = {m.key: m.value for m in model.metrics or []}
        assert linked["mase"] == pytest.approx(child.data.metrics["mase"])
        assert not any(k.endswith("_by_h") for k in linked)


def test_a_failed_upload_fails_the_job_loudly_and_ends_its_runs_failed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = MlflowClient.log_artifacts

    def broken(self, run_id, local_dir, artifact_path=None):
        if any(Path(local_dir).glob("*.parquet")):  # a child run's upload
            raise OSError("disk full (test)")
        return original(self, run_id, local_dir, artifact_path)

    monkeypatch.setattr(MlflowClient, "log_artifacts", broken)
    result = run_job("spec.toml", kind="backtest")
    assert result.tracking_error is not None and "disk full (test)" in result.tracking_error
    assert (workdir / "out" / "demo" / "2025-01-31" / "backtest.parquet").is_file()  # outputs kept
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns.db'}")
    runs = client.search_runs([client.get_experiment_by_name("gridcast-demo").experiment_id])
    assert len(runs) == 3  # the parent and one child per model: none left RUNNING, each says why it failed
    for run in runs:
        assert run.info.status == "FAILED" and "disk full (test)" in run.data.tags["gridcast.failure"]


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(40)]
    history = pl.DataFrame(
        {"unique_id": ["a"] * 30 + ["b"] * 30, "ds": days[:30] * 2, "y": [float(i % 7) for i in range(60)]}
    )
    future = pl.DataFrame(
        {
            "unique_id": ["a"] * 10 + ["b"] * 10,
            "ds": days[30:] * 2,
            "model": ["m"] * 20,
            "mean": [3.0] * 10 + [5.0] * 10,
            "lo-80": [2.0] * 20,
            "hi-80": [6.0] * 20,
            "lo-95": [1.0] * 20,
            "hi-95": [8.0] * 20,
        }
    )
    return history, future


def _fan(history: pl.DataFrame, future: pl.DataFrame, series: str, path: Path) -> FanChart:
    return FanChart.from_frames(history, future, series, "m", [80, 95], path)


def test_a_chart_on_the_reused_figure_is_the_chart_drawn_on_a_fresh_one(tmp_path: Path) -> None:
    history, future = _frames()
    reused = Charts()
    reused.draw(_fan(history, future, "a", tmp_path / "a.png"))
    per_step = pl.DataFrame({"model": ["m", "m"], "step": [1, 2], "mase": [1.0, 1.2]})
    reused.draw(HorizonChart.from_frame(per_step, "mase", tmp_path / "h.png"))
    reused.draw(_fan(history, future, "b", tmp_path / "b-reused.png"))
    Charts().draw(_fan(history, future, "b", tmp_path / "b-fresh.png"))
    png = (tmp_path / "b-reused.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (800, 320)
    assert png == (tmp_path / "b-fresh.png").read_bytes()
    assert png != (tmp_path / "a.png").read_bytes()


@pytest.mark.parametrize("join", ["wait", "finish"])
def test_charts_drawn_in_the_background_are_the_charts_drawn_here(tmp_path: Path, join: str) -> None:
    history, future = _frames()
    series = [s for s in "ab" for _ in range(3)]
    charts = {
        w: [_fan(history, future, s, tmp_path / w / f"{i}.png") for i, s in enumerate(series)] for w in ("bg", "here")
    }
    for where in charts:
        (tmp_path / where).mkdir()
    with start_rendering(charts["bg"], background=True) as rendering:
        getattr(rendering, join)()  # finish: this process draws from the end while the child draws from the start
    with start_rendering(charts["here"], background=False) as rendering:
        rendering.finish()
    assert sorted(p.name for p in (tmp_path / "bg").iterdir()) == [f"{i}.png" for i in range(len(series))]
    for i in range(len(series)):
        assert (tmp_path / "bg" / f"{i}.png").read_bytes() == (tmp_path / "here" / f"{i}.png").read_bytes()


def test_a_failure_while_drawing_in_the_background_fails_the_job_loudly(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_pid = os.getpid()
    draw_fan = Charts._draw_fan

    def broken_in_the_child(self, chart):
        if os.getpid() != job_pid:
            raise ValueError(f"no ink for {chart.title} (test)")
        return draw_fan(self, chart)

    monkeypatch.setattr(Charts, "_draw_fan", broken_in_the_child)  # the forked child inherits it
    result = run_job("spec.toml", kind="backtest")
    assert result.tracking_error is not None
    assert "drawing the charts failed: ValueError: no ink for" in result.tracking_error
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns.db'}")
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FAILED" and "no ink for" in parent.data.tags["gridcast.failure"]


def test_a_hung_child_does_not_hold_up_the_job_once_every_chart_is_drawn_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history, future = _frames()
    parent_pid = os.getpid()
    draw_fan = Charts._draw_fan

    def hangs_in_the_child(self, chart):
        if os.getpid() != parent_pid:
            chart.path.write_bytes(b"half a png")  # the partial file of a chart being drawn when stopped
            time.sleep(3600)
        return draw_fan(self, chart)

    monkeypatch.setattr(Charts, "_draw_fan", hangs_in_the_child)  # the forked child inherits it
    charts = [_fan(history, future, s, tmp_path / f"{s}.png") for s in "abc"]
    with start_rendering(charts, background=True) as rendering:
        child = rendering.pid
        rendering.finish(timeout=3600)  # returns when this process has drawn all three, not after the timeout
    assert rendering.pid is None and child is not None
    with pytest.raises(ChildProcessError):  # killed and reaped
        os.waitpid(child, os.WNOHANG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in tmp_path.iterdir())
