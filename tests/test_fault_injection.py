"""Fault injection with real processes: ``kill -9`` at seeded random points, a tracking server killed mid-run, a
read-only and a full output filesystem, two jobs on the same output. After each: no partial output, no run left
RUNNING once the next job has started, a one-line message and a documented exit code (docs: ``gridcast --help``).

Each job is the tiny spec of :func:`jobprocs.tiny_spec` (seasonal naive, two series: seconds per job). The
filesystem faults are real where the machine allows (a tmpfs mounted read-only or 16 KiB small, as root with
``mount``); otherwise a non-root ``chmod`` or, as a last resort, the ``sitecustomize`` hook of :mod:`jobprocs`
raising what the kernel would (EROFS, and polars' wrapped ENOSPC).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import polars as pl
import pytest
from jobprocs import GRIDCAST, MLFLOW, child_env, gridcast, tiny_spec, write_hook
from mlflow.tracking import MlflowClient

from experiments.jobs.outputs import VOLATILE
from experiments.tracking import tags as TAG

SEED = 20261128
N_KILLS = 20
LANES = 2  # kills run in two independent copies of the working folder at once (wall time)
AS_OF = "2025-01-31"
CANARY = "CANARY-pw-51d0c"
FORECAST = ["forecast", "--config", "spec.toml"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's pytest folder (the children's bytecode cache lives there)."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="module")
def hook(base: Path) -> str:
    return str(write_hook(base / "hook"))


class Server:
    """An ``mlflow server`` on 127.0.0.1 (free port, SQLite store) that can be killed and brought back."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.store = root, f"sqlite:///{root / 'store.db'}"
        with socket_free() as port:
            self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        args = ["server", "--backend-store-uri", self.store, "--artifacts-destination", str(self.root / "artifacts")]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [MLFLOW, *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, (self.root / "server.log").read_text()[-2000:]
            with suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as up:
                if up.status == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("mlflow server did not start within 180 s")
        # /health answers before the store is opened; one real query pays the server's first-request set-up (seconds
        # on a loaded 2-core machine) here, not inside a job that gives each call 5 s
        search = f"http://127.0.0.1:{self.port}/api/2.0/mlflow/experiments/search?max_results=1"
        with urllib.request.urlopen(search, timeout=120) as up:
            assert up.status == 200

    def kill(self) -> None:
        """``kill -9`` the server and its workers."""
        if self.proc is not None and self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@contextmanager
def socket_free() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[Server]:
    """Started by the first test that asks; killed at the end."""
    srv = Server(base / "mlflow-server")
    srv.start(child_env(base))
    yield srv
    srv.kill()


def _hidden(root: Path) -> list[str]:
    """Every hidden path below ``root`` but the lock files."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*") if p.name != ".lock")


def _runs(store: str) -> list:
    client = MlflowClient(store)
    return [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]


def _outputs(folder: Path) -> dict[str, object]:
    """Every output file's digest, the manifest without its volatile keys."""
    out: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "manifest.json":
            manifest = json.loads(path.read_text())
            out["manifest"] = {k: v for k, v in manifest.items() if k not in VOLATILE}
        else:
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


def _kill_lane(folder: Path, points: list[float], env: dict[str, str], files: set[str]) -> int:
    """Start the job and ``kill -9`` it at each point (seconds after its start); after each kill, every visible
    output folder is whole. Returns how many were killed (the others finished first)."""
    killed = 0
    for point in points:
        proc = subprocess.Popen([GRIDCAST, *FORECAST], cwd=folder, env=env, stdout=subprocess.DEVNULL)
        try:
            assert proc.wait(timeout=point) == 0
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
        spec_dir = folder / "out" / "demo"
        for out in (p for p in spec_dir.glob("*") if p.is_dir() and not p.name.startswith(".")):
            assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == files, f"partial {out}"
            for parquet in out.glob("*.parquet"):
                pl.read_parquet(parquet)
    return killed


def _held_job(folder: Path, env: dict[str, str], hook: str) -> tuple[subprocess.Popen[str], Path]:
    """A forecast job in ``folder`` held by the test hook at its first tracking call (its runs exist), and the pause
    file whose removal releases it."""
    pause = folder / "pause"
    pause.touch()
    job = subprocess.Popen(
        [GRIDCAST, *FORECAST],
        cwd=folder,
        env=env | {"GRIDCAST_TEST_PAUSE": str(pause), "PYTHONPATH": hook},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not Path(f"{pause}.reached").exists():
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.05)
    return job, pause


def _kill_while_tracking(lane: Path, env: dict[str, str], hook: str) -> None:
    """A job killed with -9 once its runs exist."""
    job, pause = _held_job(lane, env, hook)
    job.send_signal(signal.SIGKILL)
    job.communicate()
    pause.unlink()
    Path(f"{pause}.reached").unlink()


def _timed_job(folder: Path, env: dict[str, str]) -> float:
    """Seconds an undisturbed job takes in ``folder``."""
    started = time.monotonic()
    proc = gridcast(FORECAST, folder, env)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - started


@pytest.mark.slow
def test_kill_9_at_seeded_points_leaves_nothing_and_the_rerun_is_identical(
    workdir: Path, base: Path, hook: str
) -> None:
    """20 kills in two lanes at seeded points, and one per lane held at the start of its tracking (so the runs'
    cleanup is always exercised, however the machine's load moves the seeded points); then in each lane the next
    start leaves no hidden folder, no RUNNING run, and outputs identical to an undisturbed run's."""
    tiny_spec(workdir)
    env = child_env(base)
    reference = gridcast([*FORECAST, "--out-root", "reference"], workdir, env)  # (also fills the bytecode cache)
    assert reference.returncode == 0, reference.stderr
    expected = _outputs(workdir / "reference" / "demo" / AS_OF)
    files = {k for k in expected if k != "manifest"} | {"manifest.json"}
    lanes = []
    for i in range(LANES):  # the same inputs and store (created by the reference run), each its own out root
        lane = workdir / f"lane-{i}"
        lane.mkdir()
        for name in ("data", "spec.toml", "mlruns.db"):
            (shutil.copytree if name == "data" else shutil.copyfile)(workdir / name, lane / name)
        lanes.append(lane)
    with ThreadPoolExecutor(LANES) as pool:
        # how long a job takes with the lanes side by side: the kills fall within it (the published folders are
        # then what the killed jobs replace)
        took = sum(pool.map(lambda lane: _timed_job(lane, env), lanes)) / LANES
        rng = random.Random(SEED)
        points = [rng.uniform(0.0, took) for _ in range(N_KILLS)]
        killed = sum(pool.map(lambda i: _kill_lane(lanes[i], points[i::LANES], env, files), range(LANES)))
        list(pool.map(lambda lane: _kill_while_tracking(lane, env, hook), lanes))
        reruns = list(pool.map(lambda lane: gridcast(FORECAST, lane, env), lanes))
    assert killed >= N_KILLS // 2  # the points fall within a job's time: most jobs are killed
    failed = 0
    for lane, rerun in zip(lanes, reruns, strict=True):
        assert rerun.returncode == 0, rerun.stderr
        assert _hidden(lane / "out") == [], rerun.stdout
        assert sorted(p.name for p in (lane / "out" / "demo").iterdir()) == [".lock", AS_OF, "latest"]
        assert _outputs(lane / "out" / "demo" / AS_OF) == expected
        runs = _runs(f"sqlite:///{lane / 'mlruns.db'}")
        assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
        for run in (r for r in runs if r.info.status == "FAILED"):  # each a killed job's, failed by a later one
            assert "was gone" in run.data.tags[TAG.FAILURE]
            failed += 1
    assert failed >= LANES  # at least the kills held in the tracking stage left RUNNING runs the rerun failed


@contextmanager
def _broken_folder(folder: Path, kind: str, hook: str) -> Iterator[dict[str, str]]:
    """``folder`` made read-only (``kind="readonly"``) or 16 KiB small (``"full"``): a real tmpfs when this
    machine lets us mount one, else a chmod (read-only, not root) or the hook's simulation. Yields the extra
    environment the job needs."""
    folder.mkdir()
    options = "ro,size=64k" if kind == "readonly" else "size=16k"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    try:
        if mounted.returncode == 0:
            yield {}
        elif kind == "readonly" and os.geteuid() != 0:
            folder.chmod(0o555)
            yield {}
        elif kind == "readonly":
            yield {"PYTHONPATH": hook, "GRIDCAST_TEST_READONLY": str(folder)}
        else:
            yield {"PYTHONPATH": hook, "GRIDCAST_TEST_ENOSPC": "1"}
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize(
    ("kind", "reason"), [("readonly", ("Read-only file system", "Permission denied")), ("full", ("No space",))]
)
def test_an_unwritable_output_folder_fails_cleanly(
    workdir: Path, base: Path, hook: str, kind: str, reason: tuple[str, ...]
) -> None:
    """Exit 7, one line naming the folder and why, nothing partial, no tracking store touched."""
    tiny_spec(workdir)
    folder = workdir / kind
    with _broken_folder(folder, kind, hook) as extra:
        proc = gridcast([*FORECAST, "--out-root", kind], workdir, child_env(base, **extra))
        left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert proc.returncode == 7, proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith(f"gridcast: cannot write outputs in {kind}") and any(r in line for r in reason), line
    assert "nothing was published" in line
    assert left in ([], ["demo"], ["demo", "demo/.lock"])  # at most the empty lock
    assert not (workdir / "mlruns.db").exists()


def test_two_jobs_on_the_same_output_never_fail_after_their_runs_finish(
    workdir: Path, base: Path, hook: str, server: Server
) -> None:
    """A second job exits 5 at once while the first holds the output's lock (its runs open); the first finishes;
    a third publishes over the first's folder. No exception anywhere, every run FINISHED. (``server`` is asked for
    only to boot meanwhile, for the next test.)"""
    tiny_spec(workdir)
    env = child_env(base)
    first, pause = _held_job(workdir, env, hook)
    second = gridcast(FORECAST, workdir, env)
    pause.unlink()
    _, first_err = first.communicate(timeout=120)
    assert second.returncode == 5 and f"pid {first.pid} started" in _one_line(second.stderr)
    assert first.returncode == 0 and first_err == ""
    third = gridcast(FORECAST, workdir, env)
    assert third.returncode == 0 and third.stderr == ""
    runs = _runs(f"sqlite:///{workdir / 'mlruns.db'}")
    # per job: a parent, the model's child and the (baseline) scenario's child
    assert len(runs) == 6 and {r.info.status for r in runs} == {"FINISHED"}
    assert sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 2
    assert sorted(p.name for p in (workdir / "out" / "demo").iterdir()) == [".lock", AS_OF, "latest"]


@pytest.mark.slow
def test_a_tracking_server_killed_mid_run(workdir: Path, base: Path, hook: str, server: Server) -> None:
    """Outputs kept, exit 3 naming the store (password masked); the runs it left RUNNING are failed by the next
    job once the server is back. The URI carries a canary password that must never show."""
    tiny_spec(workdir)
    uri = f"http://gridcast:{CANARY}@127.0.0.1:{server.port}"
    env = child_env(base, MLFLOW_TRACKING_URI=uri)
    server.wait_ready()
    job, pause = _held_job(workdir, env, hook)  # its runs exist and it is about to log to them
    server.kill()
    pause.unlink()
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 3
    line = _one_line(stderr)
    assert line.startswith("gridcast: tracking unavailable (outputs kept):") and "Connection refused" in line
    assert f"http://gridcast:***@127.0.0.1:{server.port}" in line
    assert (workdir / "out" / "demo" / AS_OF / "forecast.parquet").is_file() and _hidden(workdir / "out") == []
    left = {r.info.run_id for r in _runs(server.store) if r.info.status == "RUNNING"}
    assert left  # the killed server never heard the end of them

    server.start(child_env(base))
    server.wait_ready()
    # the recovery is under test, not the 5 s answer time: a loaded CI machine gets longer
    after = gridcast(FORECAST, workdir, env | {"MLFLOW_HTTP_REQUEST_TIMEOUT": "60"})
    assert after.returncode == 0, after.stderr
    runs = {r.info.run_id: r for r in _runs(server.store)}
    assert all(runs[i].info.status == "FAILED" and "was gone" in runs[i].data.tags[TAG.FAILURE] for i in left)
    assert all(f"cleanup: run {i}" in after.stdout for i in left)
    assert [r for r in runs.values() if r.info.status == "RUNNING"] == []
    recorded = [f"{k}={v}" for r in runs.values() for k, v in {**r.data.params, **r.data.tags}.items()]
    manifest = (workdir / "out" / "demo" / AS_OF / "manifest.json").read_text()
    for text in (stdout, stderr, after.stdout, after.stderr, manifest, *recorded):
        assert CANARY not in text
