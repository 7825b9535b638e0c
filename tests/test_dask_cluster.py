"""A real Dask cluster (#11): a scheduler and two process workers started with Dask's own commands on loopback,
as an operator would; the job sent there with ``--executor dask --address`` gives the serial job's bytes, also when
a worker is killed mid-run (Dask reschedules its work on the other one)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from jobprocs import child_env, gridcast
from test_executors import parquet_bytes, with_executor_section

distributed = pytest.importorskip("distributed")
BIN = Path(sys.executable).parent  # the venv's `dask` command


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """``dask scheduler`` and two ``dask worker --no-nanny`` processes (one thread each) on 127.0.0.1."""
    port = _free_port()
    env = child_env(tmp_path)
    log = (tmp_path / "cluster.log").open("ab")
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), *common],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    c = Cluster(f"tcp://127.0.0.1:{port}", scheduler)
    try:
        for name in ("w1", "w2"):
            args = ["worker", c.address, "--nthreads", "1", "--no-nanny", "--name", name, "--host", "127.0.0.1"]
            c.workers[name] = subprocess.Popen(
                [str(BIN / "dask"), *args, *common], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        with distributed.Client(c.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield c
    finally:
        c.stop()
        log.close()


def _serial_reference(workdir: Path) -> dict[str, bytes]:
    job = gridcast(
        ["forecast", "--config", "spec.toml", "--no-tracking", "--out-root", "out-serial", "--executor", "serial"],
        workdir,
        child_env(workdir),
    )
    assert job.returncode == 0, job.stderr
    return parquet_bytes(workdir / "out-serial" / "demo" / "latest")


def _kill_first_busy_worker(cluster: Cluster, killed: list[str], stop: threading.Event) -> None:
    """Watch the scheduler; ``kill -9`` the first worker seen computing an item, once."""
    with distributed.Client(cluster.address, timeout="60s") as client:
        while not stop.is_set():
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                name = client.scheduler_info()["workers"][busy[0]]["name"]
                cluster.workers[name].send_signal(signal.SIGKILL)
                killed.append(name)
                return
            time.sleep(0.02)


@pytest.mark.slow
def test_a_job_on_a_dask_cluster_gives_the_serial_bytes_also_when_a_worker_is_killed(
    workdir: Path, cluster: Cluster
) -> None:
    with_executor_section(workdir, "chunk_size = 2")  # 12 items: the kill lands while most are still to do
    reference = _serial_reference(workdir)
    args = ["forecast", "--config", "spec.toml", "--no-tracking", "--executor", "dask", "--address", cluster.address]
    job = gridcast([*args, "--out-root", "out-dask"], workdir, child_env(workdir))
    assert job.returncode == 0, job.stderr
    assert f"on dask {cluster.address} (2 workers) in" in job.stdout  # the backtest's and forecast's lines
    assert parquet_bytes(workdir / "out-dask" / "demo" / "latest") == reference

    killed: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_first_busy_worker, args=(cluster, killed, stop), daemon=True)
    watcher.start()
    job = gridcast([*args, "--out-root", "out-killed"], workdir, child_env(workdir))
    stop.set()
    watcher.join(30)
    assert len(killed) == 1 and cluster.workers[killed[0]].wait(30) == -signal.SIGKILL
    assert job.returncode == 0, job.stderr
    assert "chunk(s) lost with a dask worker that died were computed again" in job.stdout  # data scattered to it
    assert parquet_bytes(workdir / "out-killed" / "demo" / "latest") == reference
