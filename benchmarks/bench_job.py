"""End to end: the demo job as `make forecast` runs it, in fresh processes, with the time of each stage.

Run from the repository root after `make demo-data` (``make bench-job``)::

    .venv/bin/python -m benchmarks.bench_job [--repeat 2] [--spec experiments/specs/demo.toml]

Each repeat starts ``gridcast forecast --config <spec> --scenario surge --scenario cold_snap`` (the Makefile's
default scenarios) as a new process, tracked to a fresh SQLite store and writing into a temporary output root, so
every run is a *second* `make forecast`: environment, bytecode and numba caches and demo data present, nothing of
the job's own left over. The wall time includes interpreter start-up and imports; the stage times are the job's
own log lines (``data``, ``backtest``, ``forecast``, ``outputs``, ``tracking``: ``… in 12.3 s``). Writes
``benchmarks/results/job.json`` with the load average before and after (the machine is shared: compare runs made
side by side only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "job.json"
STAGE = re.compile(r"^\S+ \S+ (data|backtest|forecast|outputs|tracking): .* in ([0-9.]+) s$")
SCENARIOS = ("surge", "cold_snap")


def one_run(spec: Path) -> dict[str, Any]:
    """One fresh `gridcast forecast` process: its wall time and the seconds of each stage from its log."""
    gridcast = Path(sys.executable).with_name("gridcast")
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-job-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path(tmp) / 'mlruns.db'}"}
        cmd = [str(gridcast), "forecast", "--config", str(spec), "--out-root", str(Path(tmp) / "out")]
        for name in SCENARIOS:
            cmd += ["--scenario", name]
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"gridcast forecast failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    lines = (proc.stdout + "\n" + proc.stderr).splitlines()
    stages = {m.group(1): float(m.group(2)) for line in lines if (m := STAGE.match(line))}
    return {"wall_s": round(wall, 2), "stages_s": stages, "other_s": round(wall - sum(stages.values()), 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=REPO / "experiments" / "specs" / "demo.toml")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    runs = []
    for k in range(args.repeat):
        runs.append(one_run(args.spec))
        print(f"run {k + 1}: {runs[-1]['wall_s']:.1f} s {runs[-1]['stages_s']}", flush=True)
    walls = sorted(r["wall_s"] for r in runs)
    record = {
        "spec": str(args.spec.relative_to(REPO)) if args.spec.is_relative_to(REPO) else str(args.spec),
        "scenarios": ["baseline", *SCENARIOS],
        "runs": runs,
        "median_wall_s": walls[len(walls) // 2],
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"median wall {record['median_wall_s']:.1f} s over {args.repeat} runs; {args.out}")


if __name__ == "__main__":
    main()
