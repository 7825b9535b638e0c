"""Against a real `mlflow server` process on a free loopback port (SQLite backend, artifact root in a temp dir):
a forecast job logs there, `promote` registers the best model with an alias, and the model loaded back from
``models:/<name>@champion`` forecasts the same numbers as the job did in-process. Then a real browser (Debian's
chromium driven by Playwright) opens the server's UI: the experiment's runs with their metric columns, and the
compare view of two child runs with their metrics side by side. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from experiments.jobs.run import run_job
from experiments.tracking.promotion import leaderboard, promote

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'store.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("mlflow server did not start within 180 s")
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def tracked(server: str, tmp_path_factory: pytest.TempPathFactory, small_demo: Path) -> dict:
    """One forecast job logged to the server, from a working copy of the small demo."""
    import shutil

    work = tmp_path_factory.mktemp("job")
    shutil.copytree(small_demo, work / "data" / "demo")
    spec = (REPO / "experiments" / "specs" / "demo.toml").read_text()
    spec = spec.replace("h = 14\nn_windows = 30\nstep = 14\nrefit_every = 4", "h = 7\nn_windows = 2\nstep = 7")
    # one level: the server's runs and the champion are about the regions (hierarchies: tests/test_hierarchy_job.py)
    spec = spec[: spec.index("\n# the 24 regions sum into the country")] + spec[spec.index("\n[tracking]") :]
    spec = spec.replace("complete_from = 2022-10-01", "complete_from = 2024-11-01")
    (work / "spec.toml").write_text(spec)
    old_cwd, old_uri = os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI")
    os.chdir(work)
    os.environ["MLFLOW_TRACKING_URI"] = server
    try:
        result = run_job("spec.toml", kind="forecast")
    finally:
        os.chdir(old_cwd)
        if old_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_uri
    assert result.tracking_error is None, result.tracking_error
    return {"result": result, "forecast": pl.read_parquet(work / result.out_dir / "forecast.parquet")}


def test_promote_and_load_champion_gives_the_in_process_numbers(server: str, tracked: dict) -> None:
    import mlflow

    first = promote(server, "gridcast-demo", "mase")
    assert first.alias == "champion" and first.champion_value is None
    board = leaderboard(server, "gridcast-demo", "mase")
    assert first.value == pytest.approx(board["mase"][0]) and first.run_id == board["run_id"][0]
    again = promote(server, "gridcast-demo", "mase")  # same best run: nothing moves
    assert (again.alias, again.version) == ("champion", first.version)
    client = MlflowClient(server)
    mv = client.get_model_version_by_alias("demo", "champion")
    assert mv.tags["gridcast.decision"] == "champion"
    mlflow.set_tracking_uri(server)
    model = mlflow.pyfunc.load_model("models:/demo@champion")
    # the pyfunc's default scenario is the job's base one (the shipped demo spec adds three what-ifs)
    rows = tracked["forecast"].filter(pl.col("model") == board["model"][0])
    assert rows["scenario"].unique(maintain_order=True).to_list() == ["baseline", "surge", "ceasefire", "cold_snap"]
    expected = rows.filter(pl.col("scenario") == "baseline")
    future = expected.select("unique_id", "ds").unique().sort("unique_id", "ds").to_pandas()
    got = pl.from_pandas(model.predict(future, params={"h": 14, "level": [80, 95]}))
    cols = ["mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    merged = expected.join(got.with_columns(pl.col("ds").cast(pl.Date)), on=["unique_id", "ds"], suffix="_loaded")
    assert merged.height == expected.height == 24 * 14
    for col in cols:
        assert (merged[col] - merged[f"{col}_loaded"]).abs().max() < 1e-9, col


def test_a_worse_model_becomes_challenger(server: str, tracked: dict) -> None:
    promote(server, "gridcast-demo", "mase")
    worse = promote(server, "gridcast-demo", "mae", margin=0.99)  # cannot beat by 99 %
    assert worse.alias in {"challenger", "champion"}
    if worse.alias == "challenger":
        assert worse.champion_value is not None


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_mlflow_ui_shows_runs_metrics_and_comparison(server: str, tracked: dict) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    client = MlflowClient(server)
    exp = client.get_experiment_by_name("gridcast-demo")
    children = client.search_runs([exp.experiment_id], filter_string="tags.gridcast.model != ''")
    ids = [r.info.run_id for r in children if r.data.tags.get("mlflow.parentRunId") == tracked["result"].run_id]
    assert len(ids) == 2
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        page = browser.new_page(viewport={"width": 2200, "height": 900})
        page.goto(f"{server}/#/experiments/{exp.experiment_id}/runs", timeout=180_000)
        parent_name = f"forecast-demo-{tracked['result'].as_of}"
        page.get_by_text(parent_name).first.wait_for(timeout=180_000)
        # the job's parent run lists one child run per model
        page.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
        for model in ("sarimax", "seasonal_naive"):
            page.get_by_text(model, exact=True).first.wait_for(timeout=60_000)
        # show the metric columns: the children's MASE/MAE appear beside their names
        for metric in ("mase", "mae"):
            page.get_by_role("button", name="Columns", exact=True).click()
            page.get_by_placeholder("Search columns").fill(metric)
            page.get_by_text(metric, exact=True).first.click()
            page.keyboard.press("Escape")
        page.get_by_role("columnheader", name="mase", exact=True).first.wait_for(timeout=60_000)
        headers = {h.strip() for h in page.locator("[role=columnheader]").all_inner_texts()}
        assert {"mase", "mae"} <= headers, headers  # columns further right are virtualised (not rendered)
        page.screenshot(path=str(SHOTS / "mlflow-runs.png"))
        runs_text = page.inner_text("body")
        for run in children:
            if run.info.run_id in ids:  # each child's MASE beside its name in the runs table
                assert f"{run.data.metrics['mase']:.8f}"[:5] in runs_text, run.info.run_name  # 1.469, not rounded
        compare = f'{server}/#/compare-runs?runs=["{ids[0]}","{ids[1]}"]&experiments=["{exp.experiment_id}"]'
        page.goto(compare, timeout=180_000)
        try:
            page.get_by_text("Run details").first.wait_for(timeout=180_000)
            # the metric rows are virtualised: scroll the comparison until the per-horizon MASE row is rendered
            page.mouse.move(1100, 800)
            for _ in range(60):
                if page.get_by_text("mase_by_h", exact=True).count():
                    break
                page.mouse.wheel(0, 500)
                page.wait_for_timeout(250)
            page.get_by_text("mase_by_h", exact=True).first.wait_for(timeout=60_000)
        finally:  # what the page showed, also when the wait failed
            page.screenshot(path=str(SHOTS / "mlflow-compare.png"), full_page=True)
        text = page.inner_text("body")
        for run in children:
            if run.info.run_id in ids:
                assert run.info.run_name in text
        assert {"mase", "mase_by_h"} <= set(text.split())
        browser.close()
