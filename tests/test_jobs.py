"""Jobs end to end: outputs, their determinism and atomicity, the MLflow run hierarchy, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from experiments.jobs.outputs import VOLATILE
from experiments.jobs.run import run_job
from forecast.models import SeasonalNaive, registry
from forecast.models.base import Forecaster

REPO = Path(__file__).resolve().parents[1]
GRIDCAST = str(Path(sys.executable).with_name("gridcast"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_forecast_job_outputs_respect_contract_and_bounds(workdir: Path) -> None:
    result = run_job("spec.toml", kind="forecast", track=False)
    out = workdir / "out" / "demo" / "2025-01-31"
    assert result.out_dir == Path("out/demo/2025-01-31")
    fc = pl.read_parquet(out / "forecast.parquet")
    assert fc.columns[:4] == ["unique_id", "ds", "model", "mean"]
    assert {"lo-80", "hi-80", "lo-95", "hi-95", "fallback_reason", "scenario"} <= set(fc.columns)
    assert fc.height == 24 * 2 * 14  # series × models × h
    assert fc["ds"].min() == date(2025, 2, 1) and fc["ds"].max() == date(2025, 2, 14)
    for col in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
        assert fc[col].null_count() == 0
        assert fc[col].min() >= 0.0 and fc[col].max() <= 24.0, col
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["lo-80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["hi-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()
    bt = pl.read_parquet(out / "backtest.parquet")
    assert bt["cutoff"].n_unique() == 2 and (bt["ds"] > bt["cutoff"]).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["as_of"] == "2025-01-31" and len(manifest["inputs"]) == 4
    assert set(manifest["files"]) >= {"forecast.parquet", "backtest.parquet", "leaderboard.csv"}
    board = pl.read_csv(out / "leaderboard.csv")
    assert board["mase"].is_sorted() and set(board["model"]) == {"seasonal_naive", "sarimax"}


def test_same_spec_and_as_of_give_identical_outputs_and_leave_no_temp_folder(workdir: Path) -> None:
    run_job("spec.toml", kind="forecast", track=False)
    out = workdir / "out" / "demo" / "2025-01-31"
    first = {p.name: digest(p) for p in out.iterdir() if p.is_file()}
    first_manifest = stable_manifest(out)
    run_job("spec.toml", kind="forecast", track=False)
    second = {p.name: digest(p) for p in out.iterdir() if p.is_file()}
    # every file byte for byte, but the manifest's creation time (and run id, None here)
    assert {k: v for k, v in first.items() if k != "manifest.json"} == {
        k: v for k, v in second.items() if k != "manifest.json"
    }
    assert stable_manifest(out) == first_manifest and len(first) == 9
    # the as-of folder, the lock (empty after a clean exit) and the latest link; no temporary sibling
    listing = sorted(p.name for p in (workdir / "out" / "demo").iterdir())
    assert listing == [".lock", "2025-01-31", "latest"]
    assert (workdir / "out" / "demo" / ".lock").read_text() == ""


def stable_manifest(folder: Path) -> dict[str, object]:
    """The manifest without the keys that differ from run to run (creation time, run id)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(VOLATILE) <= set(manifest)
    return {k: v for k, v in manifest.items() if k not in VOLATILE}


def test_mlflow_parent_and_child_runs(workdir: Path) -> None:
    result = run_job("spec.toml", kind="backtest")
    assert result.tracking_error is None and result.run_id
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns.db'}")
    exp = client.get_experiment_by_name("gridcast-demo")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.info.run_id == result.run_id)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.run_id]
    assert sorted(r.info.run_name for r in children) == ["sarimax", "seasonal_naive"]
    assert parent.data.tags["gridcast.kind"] == "backtest"
    assert len(parent.data.tags["gridcast.spec_hash"]) == 16 and parent.data.tags["gridcast.as_of"] == "2025-01-31"
    board = pl.read_csv(workdir / "out" / "demo" / "2025-01-31" / "leaderboard.csv")
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["model.name"] == child.info.run_name
        assert child.data.params["backtest.h"] == "7"
        expected = board.filter(pl.col("model") == child.info.run_name)["mase"][0]
        assert child.data.metrics["mase"] == pytest.approx(expected)
        steps = client.get_metric_history(child.info.run_id, "mae_by_h")
        assert sorted(m.step for m in steps) == list(range(1, 8))
        arts = [a.path for a in client.list_artifacts(child.info.run_id)]
        assert f"backtest-{child.info.run_name}.parquet" in arts
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"spec.json", "manifest.json", "leaderboard.csv"}


class _AlwaysFails(Forecaster):
    """A model whose fit always raises, to exercise the fallback and failure recording."""

    name = "always_fails"
    config_cls = SeasonalNaive.config_cls

    def _fit(self, y, X):
        raise np.linalg.LinAlgError("Singular matrix (test)")

    def _predict(self, h, X_future, level):
        raise AssertionError("unreachable")


def test_model_failing_everywhere_falls_back_is_recorded_and_its_run_failed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._MODELS, "always_fails", _AlwaysFails)
    spec = (workdir / "spec.toml").read_text()
    spec = spec.replace(
        "[models.sarimax]", '[models.broken]\nkind = "always_fails"\nseason_length = 7\n\n[models.sarimax]'
    )
    (workdir / "spec.toml").write_text(spec)
    result = run_job("spec.toml", kind="backtest")
    assert result.failed_models == ["broken"] and not result.all_failed
    bt = pl.read_parquet(workdir / "out" / "demo" / "2025-01-31" / "backtest.parquet")
    broken = bt.filter(pl.col("model") == "broken")
    assert broken["mean"].null_count() == 0
    assert broken["fallback_reason"].str.contains("LinAlgError: Singular matrix \\(test\\)").all()
    assert broken["fallback_reason"].str.contains("seasonal_naive").all()
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns.db'}")
    children = client.search_runs(
        [client.get_experiment_by_name("gridcast-demo").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    statuses = {r.info.run_name: r.info.status for r in children}
    assert statuses == {"broken": "FAILED", "sarimax": "FINISHED", "seasonal_naive": "FINISHED"}
    failed = next(r for r in children if r.info.run_name == "broken")
    assert "failed on every series" in failed.data.tags["gridcast.failure"]
    assert failed.data.metrics["series_fallen_back"] == 24


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | env
    return subprocess.run([GRIDCAST, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def test_cli_exit_3_when_tracking_is_unavailable_and_outputs_are_kept(workdir: Path) -> None:
    proc = _cli(
        ["backtest", "--config", "spec.toml"],
        workdir,
        MLFLOW_TRACKING_URI="http://127.0.0.1:9",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
    )
    assert proc.returncode == 3, proc.stderr
    assert "tracking unavailable (outputs kept)" in proc.stderr
    assert (workdir / "out" / "demo" / "2025-01-31" / "backtest.parquet").is_file()


def test_cli_exit_2_in_a_real_process(workdir: Path) -> None:
    (workdir / "data/demo/outages/outage_hours_daily.csv").write_text("date,region,hours_off\n2025-01-01,kyiv,x\n")
    proc = _cli(["forecast", "--config", "spec.toml"], workdir)
    assert proc.returncode == 2
    assert "outage_hours_daily.csv: column 'hours_off': non-numeric value; row 1; found 'x'" in proc.stderr
    assert not (workdir / "out").exists() and not (workdir / "mlruns.db").exists()


@pytest.mark.realdata
def test_dnipro_backtest_on_real_files_logs_to_mlflow(shared_data: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    proc = _cli(
        ["backtest", "--config", "experiments/specs/dnipro.toml", "--out-root", str(tmp_path / "out")],
        REPO,
        MLFLOW_TRACKING_URI=uri,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / "dnipro" / "2025-12-31"
    levels = pl.read_parquet(out / "levels.parquet")  # the spec's [hierarchy]: 12 queues, 6 groups, the city
    assert levels.group_by("level").len().sort("level").rows() == [("city", 1), ("group", 6), ("queue", 12)]
    bt = pl.read_parquet(out / "backtest.parquet").join(levels, on="unique_id")
    assert bt["unique_id"].n_unique() == 19 and bt.filter(pl.col("level") == "queue")["unique_id"].n_unique() == 12
    assert bt["y"].min() >= 0 and bt["mean"].min() >= 0
    assert (bt["y"] <= 24 * bt["n_bottom"]).all() and (bt["mean"] <= 24 * bt["n_bottom"]).all()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("gridcast-dnipro").experiment_id])
    assert sorted(r.info.run_name for r in runs if "mlflow.parentRunId" in r.data.tags) == ["sarimax", "seasonal_naive"]
    assert all(r.data.metrics["mase"] > 0 for r in runs if "mlflow.parentRunId" in r.data.tags)
