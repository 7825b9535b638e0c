"""Tracking overhead: the demo backtest with and without MLflow logging, as a share of the tracked wall time.

Baseline: the same job with ``track=False`` (outputs only). The tracking store is a fresh local SQLite file whose
tables and experiment are created before timing (a deployment creates them once). Also counts the MLflow requests
a backtest makes. Results: ``benchmarks/results/tracking.json``. Target (issue 5): overhead ≤ 5 %.

    python -m benchmarks.bench_tracking [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "tracking.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="three months of demo data instead of the full span")
    args = parser.parse_args()

    from experiments.jobs import run_job
    from experiments.spec import load_spec
    from experiments.tracking import Tracker
    from features.demo import write_demo_data

    work = Path(tempfile.mkdtemp(prefix="gridcast-bench-tracking-"))
    old = os.getcwd()
    try:
        os.chdir(work)
        spec_text = (REPO / "experiments" / "specs" / "demo.toml").read_text()
        if args.quick:
            write_demo_data("data/demo", start=date(2024, 11, 1), end=date(2025, 1, 31))
            spec_text = spec_text.replace("complete_from = 2022-10-01", "complete_from = 2024-11-01")
            spec_text = spec_text.replace("h = 14\nn_windows = 3\nstep = 14", "h = 7\nn_windows = 2\nstep = 7")
        else:
            write_demo_data("data/demo")
        Path("spec.toml").write_text(spec_text)
        uri = f"sqlite:///{work / 'mlruns.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = uri
        Tracker(uri, load_spec("spec.toml").experiment_name)  # create tables and experiment before timing
        run_job("spec.toml", kind="backtest", track=False)  # warm imports and caches for both arms
        t0 = time.perf_counter()
        run_job("spec.toml", kind="backtest", track=False)
        untracked = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_job("spec.toml", kind="backtest", track=True)
        tracked = time.perf_counter() - t0
        assert result.tracking_error is None, result.tracking_error
        out = {
            "job": "demo backtest" + (" (quick)" if args.quick else ""),
            "untracked_s": round(untracked, 3),
            "tracked_s": round(tracked, 3),
            "overhead_s": round(tracked - untracked, 3),
            "overhead_share": round((tracked - untracked) / tracked, 4),
            "mlflow_requests": result.n_requests,
            "target_share": 0.05,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        os.chdir(old)
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
