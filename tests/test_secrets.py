"""Paths and secrets kept in their place: a tracking URI's password is never echoed (stdout, stderr, manifest, any
param or tag), runs record the command with relative paths and no absolute home path, and ``gridcast ui`` binds
127.0.0.1 unless ``--host`` says otherwise."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobprocs import child_env, gridcast, tiny_spec
from mlflow.tracking import MlflowClient

from experiments import cli as cli_module
from experiments.tracking.client import command_line, display_path, display_uri, redact

CANARY = "CANARY-pw-7f3a9"


def test_redact_masks_every_password_and_nothing_else() -> None:
    assert (
        redact(f"http://user:{CANARY}@host:5000/x and https://a:b@c")
        == "http://user:***@host:5000/x and https://a:***@c"
    )
    assert redact(f"postgresql://svc:{CANARY}@db/mlflow") == "postgresql://svc:***@db/mlflow"
    for plain in ("http://host:5000", "sqlite:////tmp/x.db", "http://user@host", "at 12:30@noon"):
        assert redact(plain) == plain


def test_recorded_command_and_paths_are_relative_without_home_or_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home" / "op", tmp_path / "home" / "op" / "gridcast"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    argv = [
        str(Path("/opt/venv/bin/gridcast")),
        "forecast",
        "--config",
        str(work / "specs" / "demo.toml"),
        f"--out-root={home / 'outputs'}",
        f"--uri=http://me:{CANARY}@h",
    ]
    assert command_line(argv) == "gridcast forecast --config specs/demo.toml --out-root=~/outputs --uri=http://me:***@h"
    assert (
        display_path(work / "data" / "a.csv") == "data/a.csv" and display_path("/srv/data/a.csv") == "/srv/data/a.csv"
    )
    assert display_uri(f"sqlite:///{work / 'mlruns.db'}") == "sqlite:///mlruns.db"


def _everything_recorded(store: str) -> str:
    """Every param, tag and dataset source of every run in the store, as one text."""
    client = MlflowClient(store)
    texts = []
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            texts += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
            texts += [d.dataset.source for d in run.inputs.dataset_inputs]
    assert texts, "no run was recorded"
    return "\n".join(texts)


def test_a_tracked_job_records_no_absolute_home_path(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The workdir is made the home folder; the spec is named by its absolute path."""
    tiny_spec(workdir, log_models=True)
    env = child_env(tmp_path_factory.getbasetemp(), HOME=str(workdir))
    proc = gridcast(["forecast", "--config", str(workdir / "spec.toml")], workdir, env)
    assert proc.returncode == 0, proc.stderr
    recorded = _everything_recorded(f"sqlite:///{workdir / 'mlruns.db'}")
    assert "mlflow.source.name=gridcast forecast --config spec.toml" in recorded
    manifest = (workdir / "out" / "demo" / "2025-01-31" / "manifest.json").read_text()
    for text in (recorded, proc.stdout, proc.stderr, manifest):
        assert str(workdir) not in text


def test_a_password_in_the_tracking_uri_is_never_echoed(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tiny_spec(workdir)
    with socket.socket() as held:  # bound, not listening: the store refuses the connection
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        uri = f"http://gridcast:{CANARY}@127.0.0.1:{port}"
        env = child_env(tmp_path_factory.getbasetemp(), MLFLOW_TRACKING_URI=uri)
        proc = gridcast(["forecast", "--config", "spec.toml"], workdir, env)
    assert proc.returncode == 3, proc.stderr
    assert f"http://gridcast:***@127.0.0.1:{port}" in proc.stderr
    assert "Connection refused" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    written = "".join(p.read_text(errors="replace") for p in (workdir / "out").rglob("*") if p.is_file())
    for text in (proc.stdout, proc.stderr, written):
        assert CANARY not in text


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    """What ``gridcast ui`` would exec (nothing is started)."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    return calls


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_ui_binds_loopback_unless_told_and_keeps_the_uri_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execs: list[tuple[list[str], dict[str, str]]]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runner = CliRunner()
    first = runner.invoke(cli_module.cli, ["ui"])
    second = runner.invoke(cli_module.cli, ["ui", "--host", "0.0.0.0", "--port", "5123"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    (argv, env), (argv2, _) = execs
    assert argv[1] == "ui" and _option(argv, "--host") == "127.0.0.1" and _option(argv, "--port") == "5000"
    assert _option(argv2, "--host") == "0.0.0.0" and _option(argv2, "--port") == "5123"
    assert env["MLFLOW_BACKEND_STORE_URI"] == f"sqlite:///{tmp_path / 'mlruns.db'}"
    assert not any("mlruns.db" in a for a in argv)
    assert "on http://127.0.0.1:5000" in first.output


def test_ui_for_a_tracking_server_starts_nothing_and_masks_its_password(
    monkeypatch: pytest.MonkeyPatch, execs: list[tuple[list[str], dict[str, str]]]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://op:{CANARY}@tracking.internal:5000")
    result = CliRunner().invoke(cli_module.cli, ["ui"])
    assert result.exit_code == 0 and execs == []
    assert "http://op:***@tracking.internal:5000" in result.output and CANARY not in result.output


def test_the_manifest_and_spec_copy_hold_no_absolute_path(workdir: Path) -> None:
    """Outputs written by an in-process job (tracking off) name inputs by the spec's own relative paths."""
    from experiments.jobs.run import run_job

    tiny_spec(workdir)
    result = run_job(workdir / "spec.toml", kind="backtest", track=False)
    for name in ("manifest.json", "spec.json"):
        text = (workdir / result.out_dir / name).read_text()
        json.loads(text)
        assert str(workdir) not in text and str(Path.home()) not in text
