"""What a killed job leaves behind is removed by the next one: hidden siblings of dead pids (never a live writer's),
RUNNING runs of dead pids on this host (never a live pid's or another host's); publishing the same folder from
several processes at once never raises; tracking's temporary files stay under the job's own hidden folder."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from experiments.atomic import pid_alive, publish_folder, temp_sibling
from experiments.jobs.cleanup import dead_leftovers, fail_dead_runs, remove_dead_leftovers, this_host
from experiments.jobs.latest import current_latest, point_latest
from experiments.jobs.run import run_job
from experiments.tracking import tags as TAG
from experiments.tracking.client import Tracker


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_zombie_counts_as_gone_and_a_live_process_as_alive(live: subprocess.Popen[bytes]) -> None:
    assert pid_alive(live.pid) and pid_alive(os.getpid())
    live.kill()  # killed but not reaped yet: a zombie until wait()
    os.waitid(os.P_PID, live.pid, os.WEXITED | os.WNOWAIT)
    assert not pid_alive(live.pid)
    assert not pid_alive(_dead_pid())


def test_only_hidden_siblings_of_dead_pids_are_removed_each_logged(
    tmp_path: Path, live: subprocess.Popen[bytes]
) -> None:
    dead = _dead_pid()
    root = tmp_path / "demo"
    gone = [
        root / f".2025-01-31.tmp-{dead}-0",  # an unpublished output folder (with contents)
        root / f".2025-01-24.old-{dead}-3",  # a folder moved aside
        root / f".2025-01-31.track-{dead}-1",  # tracking staging
        root / "2025-01-17" / f".forecast.parquet.part-{dead}-0",  # a half-written file, deeper down
        root / f".latest.tmp-{dead}-0",  # a new link never renamed into place
    ]
    kept = [
        root / f".2025-01-31.tmp-{live.pid}-0",  # a live writer's
        root / f".2025-01-31.tmp-{os.getpid()}-0",  # ours
        root / ".lock",
        root / f".notes.txt-{dead}",  # not the scheme's name
        root / "2025-01-17" / "forecast.parquet",
        root / f"tmp-{dead}-0",  # not hidden
    ]
    for path in gone[:3] + kept[:2]:
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "x.parquet").write_text("x")
    for path in [gone[3], *kept[2:]]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    gone[4].symlink_to("2025-01-17")
    lines: list[str] = []
    assert remove_dead_leftovers(root, lines.append) == len(gone)
    assert not any(p.exists() or p.is_symlink() for p in gone)
    assert all(p.exists() for p in kept)
    assert len(lines) == len(gone) and all(f"left by pid {dead} (gone)" in line for line in lines)
    assert all("\n" not in line for line in lines)
    assert dead_leftovers(root) == [] and remove_dead_leftovers(tmp_path / "absent", lines.append) == 0


def test_running_runs_of_dead_pids_on_this_host_are_failed_and_no_others(
    tmp_path: Path, live: subprocess.Popen[bytes]
) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path / 'runs.db'}", "cleanup-test")
    dead = str(_dead_pid())
    host = this_host()
    cases = {
        "dead-here": {TAG.PID: dead, TAG.HOST: host},
        "dead-elsewhere": {TAG.PID: dead, TAG.HOST: f"not-{host}"},
        "live-here": {TAG.PID: str(live.pid), TAG.HOST: host},
        "untagged": {},
    }
    ids = {}
    for name, tags in cases.items():
        ids[name] = tracker.start(name, tags)
        if name == "untagged":  # a run from before the tags existed
            tracker.client.delete_tag(ids[name], TAG.PID)
    finished = tracker.start("finished-dead-here", cases["dead-here"])
    tracker.end(finished)
    lines: list[str] = []
    assert fail_dead_runs(tracker, lines.append) == [ids["dead-here"]]
    client = MlflowClient(tracker.uri)
    status = {name: client.get_run(run_id).info.status for name, run_id in ids.items()}
    assert status == {"dead-here": "FAILED", "dead-elsewhere": "RUNNING", "live-here": "RUNNING", "untagged": "RUNNING"}
    assert f"pid {dead} on {host}" in client.get_run(ids["dead-here"]).data.tags[TAG.FAILURE]
    assert client.get_run(finished).info.status == "FINISHED"
    assert len(lines) == 1 and ids["dead-here"] in lines[0] and f"dead pid {dead}" in lines[0]


def test_every_run_carries_the_pid_and_host_that_made_it(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path / 'runs.db'}", "cleanup-test")
    tags = MlflowClient(tracker.uri).get_run(tracker.start("r", {"a": "1"})).data.tags
    assert tags[TAG.PID] == str(os.getpid()) and tags[TAG.HOST] == this_host() and tags["a"] == "1"


def _publisher(root: str, name: str, rounds: int, errors: multiprocessing.Queue) -> None:
    final = Path(root) / "2025-01-31"
    try:
        for i in range(rounds):
            tmp = temp_sibling(final, "tmp")
            for k in range(3):
                (tmp / f"f{k}").write_text(f"{name} {i}")
            publish_folder(tmp, final)
            point_latest(Path(root), "2025-01-31")
    except BaseException as exc:  # reported to the parent
        errors.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_publishes_of_the_same_folder_never_raise_and_leave_one_whole(tmp_path: Path) -> None:
    """The issue's forced concurrent publishes raised ENOTEMPTY and FileNotFoundError (4 writers × 60 here)."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_publisher, args=(str(tmp_path), f"w{n}", 60, errors)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and all(p.exitcode == 0 for p in procs)
    contents = {(tmp_path / "2025-01-31" / f"f{k}").read_text() for k in range(3)}
    assert len(contents) == 1  # one writer's folder, whole
    assert current_latest(tmp_path) == "2025-01-31"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-01-31", "latest"]  # nothing hidden left


def test_tracking_temporary_files_stay_in_the_jobs_hidden_folder(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_tmp = workdir / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    seen: dict[str, str] = {}
    original = MlflowClient.log_artifacts

    def spy(self, run_id, local_dir, artifact_path=None):
        seen[str(local_dir)] = tempfile.gettempdir()
        return original(self, run_id, local_dir, artifact_path)

    monkeypatch.setattr(MlflowClient, "log_artifacts", spy)
    spec = (workdir / "spec.toml").read_text().replace('[models.sarimax]\norder = [1, 0, 0]\ntrend = "c"\n', "")
    (workdir / "spec.toml").write_text(spec)
    result = run_job("spec.toml", kind="backtest")
    assert result.tracking_error is None and seen
    spec_dir = (workdir / "out" / "demo").resolve()
    for staged, temp in seen.items():
        folder = Path(staged).resolve().relative_to(spec_dir).parts[0]
        assert folder.startswith(f".2025-01-31.track-{os.getpid()}-")
        assert Path(temp).resolve().parent == spec_dir / folder  # MLflow's own temp files went there too
    assert list(system_tmp.iterdir()) == []
    assert sorted(p.name for p in spec_dir.iterdir()) == [".lock", "2025-01-31"]
    assert tempfile.gettempdir() == str(system_tmp) and os.environ["TMPDIR"] == str(system_tmp)  # restored
