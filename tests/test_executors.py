"""Executors (#11): the same spec gives the same bytes in this process, in local processes and on Dask; a series
that fails is recorded and its chunk goes on; the executor is chosen by CLI over spec over environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.executor import ENV, ExecutorChoice, ExecutorSpec, chosen
from experiments.inputs.spec import SpecError
from experiments.jobs.run import run_job
from features.contract import ID
from forecast.parallel import SeriesFailure, by_series, make_executor, use_executor
from forecast.scenarios.provider import InputPathProvider

SURGE = '\n[scenarios.surge]\nlaunched_uav = { path = "scaled", factor = 2.0 }\n'


def with_executor_section(workdir: Path, body: str) -> None:
    """Add a what-if scenario and an ``[executor]`` section to the workdir spec."""
    spec = workdir / "spec.toml"
    spec.write_text(spec.read_text() + SURGE + f"\n[executor]\n{body}\n")


def parquet_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def _ids_unless_lviv(part: pl.DataFrame, *, progress: object = None) -> list[str]:
    """A chunk's series ids; raises for a chunk holding lviv (importable by worker processes)."""
    ids = part.get_column(ID).unique(maintain_order=True).to_list()
    if "lviv" in ids:
        raise ValueError("no data for lviv")
    return ids


FRAME = pl.DataFrame({ID: [u for u in ("a", "b", "lviv", "c", "d", "e", "f") for _ in range(3)], "y": range(21)})


@pytest.mark.parametrize("kind", ["serial", "processes"])
@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7])
def test_by_series_keeps_the_order_and_records_the_failing_series(kind: str, chunk_size: int | None) -> None:
    with make_executor(kind, workers=2) as ex, use_executor(ex, chunk_size=chunk_size) as run:
        parts = by_series(FRAME, _ids_unless_lviv, stage="backtest")
    assert [u for part in parts for u in part] == ["a", "b", "c", "d", "e", "f"]
    assert run.failures == [SeriesFailure("lviv", "backtest", "ValueError: no data for lviv")]


def _worker_settings(_: int) -> tuple[bool, str]:
    import dask

    return dask.config.get("distributed.worker.profile.enabled"), dask.config.get(
        "distributed.worker.memory.monitor-interval"
    )


def test_dask_keeps_the_order_over_its_two_waves_and_runs_its_local_workers_without_the_profiler() -> None:
    """Dask sends a first chunk per worker, then the rest: the results are still in series order with the failing
    series recorded; its chunks are bigger (2 per worker, not 4); the local cluster's workers run without Dask's
    statistical profiler and check their memory every second."""
    pytest.importorskip("distributed")
    with make_executor("dask", workers=2) as ex:
        with use_executor(ex, chunk_size=1) as run:  # 7 chunks: 2 in the first wave, 5 in the second
            parts = by_series(FRAME, _ids_unless_lviv, stage="backtest")
        assert [u for part in parts for u in part] == ["a", "b", "c", "d", "e", "f"]
        assert run.failures == [SeriesFailure("lviv", "backtest", "ValueError: no data for lviv")]
        with use_executor(ex) as run:
            assert run.size(1000) == 250
            assert ex.map(_worker_settings, [0, 1]) == [(False, "1s"), (False, "1s")]
    with make_executor("processes", workers=2) as ex, use_executor(ex) as run:
        assert run.size(1000) == 125


def test_without_an_executor_an_error_propagates() -> None:
    with pytest.raises(ValueError, match="no data for lviv"):
        by_series(FRAME, _ids_unless_lviv, stage="backtest")


def test_the_job_gives_the_same_bytes_on_every_executor(workdir: Path) -> None:
    """Backtest, calibration, scores and two scenarios' forecasts: byte for byte on serial, 2 processes and a local
    Dask cluster of 2 process workers, in chunks of 5 series (24 regions: 5 chunks, the last shorter)."""
    with_executor_section(workdir, "chunk_size = 5")
    outputs = {}
    for kind in ("serial", "processes", "dask"):
        result = run_job(
            "spec.toml",
            kind="forecast",
            out_root=f"out-{kind}",
            track=False,
            executor=ExecutorChoice(kind, workers=2),
        )
        outputs[kind] = parquet_bytes(result.out_dir)
        manifest = json.loads((result.out_dir / "manifest.json").read_text())
        assert "failed_series" not in manifest
    assert {"backtest.parquet", "forecast.parquet", "metrics_overall.parquet"} <= set(outputs["serial"])
    assert outputs["processes"] == outputs["serial"]
    assert outputs["dask"] == outputs["serial"]
    forecast = pl.read_parquet(workdir / "out-serial" / "demo" / "latest" / "forecast.parquet")
    assert set(forecast["scenario"]) == {"baseline", "surge"} and forecast[ID].n_unique() == 24


def test_a_series_that_fails_is_left_out_and_named(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A series whose future inputs cannot be built: the job finishes with the other 23, and the log line and
    the manifest name it, the stage and the error."""
    future = InputPathProvider.future

    def broken(self: InputPathProvider, history: pl.DataFrame, *args: object, **kwargs: object) -> pl.DataFrame:
        if "lviv" in history.get_column(ID).to_list():
            raise RuntimeError("weather feed for lviv unreadable")
        return future(self, history, *args, **kwargs)

    monkeypatch.setattr(InputPathProvider, "future", broken)
    lines: list[str] = []
    from experiments.jobs.log import JobLog

    result = run_job(
        "spec.toml",
        kind="forecast",
        track=False,
        executor=ExecutorChoice("serial"),
        log=JobLog(lines.append, "spec"),
    )
    assert "lviv" not in pl.read_parquet(result.out_dir / "backtest.parquet")[ID].to_list()
    assert pl.read_parquet(result.out_dir / "forecast.parquet")[ID].n_unique() == 23
    failed = json.loads((result.out_dir / "manifest.json").read_text())["failed_series"]
    assert [(f["unique_id"], f["stage"]) for f in failed] == [("lviv", "backtest"), ("lviv", "forecast")]
    assert "RuntimeError: weather feed for lviv unreadable" in failed[0]["reason"]
    assert any(
        line.endswith("warning: series lviv left out of the backtest: RuntimeError: weather feed for lviv unreadable")
        for line in lines
    )


def test_cli_over_spec_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert chosen(ExecutorSpec()) == ("processes", None, None)
    monkeypatch.setenv(ENV, "serial")
    assert chosen(ExecutorSpec()) == ("serial", None, None)
    assert chosen(ExecutorSpec(kind="processes", workers=3)) == ("processes", 3, None)
    assert chosen(ExecutorSpec(kind="processes"), ExecutorChoice("dask", 2, "tcp://h:8786")) == (
        "dask",
        2,
        "tcp://h:8786",
    )
    assert chosen(ExecutorSpec(address="tcp://h:8786")) == ("dask", None, "tcp://h:8786")
    monkeypatch.setenv(ENV, "threads")
    with pytest.raises(ValueError, match="GRIDCAST_EXECUTOR: expected one of serial, processes, dask, got 'threads'"):
        chosen(ExecutorSpec())


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('kind = "threads"', "executor.kind"),
        ("workers = 0", "executor.workers"),
        ('kind = "processes"\naddress = "tcp://h:8786"', "executor"),
        ('address = "h:8786"', "executor.address"),
        ("chunk_size = -1", "executor.chunk_size"),
    ],
)
def test_a_bad_executor_section_names_its_key(workdir: Path, body: str, key: str) -> None:
    with_executor_section(workdir, body)
    with pytest.raises(SpecError) as err:
        run_job("spec.toml", kind="backtest", track=False)
    assert f"'{key}'" in str(err.value) or f"key {key}" in str(err.value) or key in str(err.value)


def _drivers_loaded(_: int) -> dict[str, dict[str, int]]:
    """Run every indicator driver once in this (worker) process; numba's compile statistics per driver."""
    from features.indicators.kernels import warmup

    return warmup()["drivers"]


@pytest.mark.skipif(os.environ.get("GRIDCAST_NO_NUMBA") is not None, reason="numba switched off")
def test_process_workers_load_the_numba_kernels_from_the_disk_cache() -> None:
    from features.indicators.kernels import warmup

    warmup()  # writes the on-disk cache if this clone has none yet
    with make_executor("processes", workers=2) as ex:
        reports = ex.map(_drivers_loaded, [0, 1])
    for report in reports:
        assert report and all(info["cache_misses"] == 0 and info["cache_hits"] == 1 for info in report.values())


def test_a_killed_job_leaves_no_worker_process_behind(workdir: Path) -> None:
    """``kill -9`` of a job in the middle of its backtest: its fork server and worker processes end within
    seconds (each worker watches the job) instead of waiting on their queue for ever."""
    psutil = pytest.importorskip("psutil")
    from jobprocs import GRIDCAST, child_env

    env = child_env(workdir, GRIDCAST_EXECUTOR="processes")
    job = subprocess.Popen([GRIDCAST, "backtest", "--config", "spec.toml", "--no-tracking"], cwd=workdir, env=env)
    try:
        deadline, workers = time.monotonic() + 120, []
        while time.monotonic() < deadline and job.poll() is None:
            family = psutil.Process(job.pid).children(recursive=True)
            workers = [p for p in family if "forkserver" in " ".join(p.cmdline())]
            if len(workers) >= 3:  # the fork server and its two workers
                break
            time.sleep(0.05)
        assert len(workers) >= 3, "the job ended before its workers were seen"
        job.send_signal(signal.SIGKILL)
        job.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == [], [p.cmdline()[:3] for p in alive]
    finally:
        if job.poll() is None:
            job.kill()
