"""End to end: the demo job as `make forecast` runs it, in fresh processes, with the time of each stage.

Run from the repository root after `make demo-data` (``make bench-job``)::

    .venv/bin/python -m benchmarks.bench_job [--repeat 2] [--spec experiments/specs/demo.toml]

Each repeat starts ``gridcast forecast --config <spec> --scenario surge --scenario cold_snap`` (the Makefile's default
scenarios) as a new process, writing into a temporary output root and tracked to a SQLite store whose tables exist (one
per spec variant, kept across the repeats), so every run is a *second* `make forecast`: environment, bytecode and numba
caches, demo data and tracking store present. The wall time includes interpreter start-up and imports; the stage times
are the job's own log lines (``data``, ``backtest``, ``forecast``, ``outputs``, ``tracking``: ``… in 12.3 s``). Writes
``benchmarks/results/job.json`` with the load average before and after (the machine is shared: compare runs made side by
side only).

``--baseline`` also runs, alternating with the spec, a copy whose ``[models.sarimax]`` says ``exact_ar1 = false``
(statsmodels' numerical optimiser instead of the exact AR(1)-regression MLE), and records the ratio of the medians.
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


def tracking_store(folder: Path) -> str:
    """A SQLite tracking store in ``folder`` with MLflow's tables created, as the first `make forecast` leaves it
    (creating them takes about a second, which a second run does not pay)."""
    uri = f"sqlite:///{folder / 'mlruns.db'}"
    code = "import sys; from mlflow.tracking import MlflowClient; MlflowClient(sys.argv[1]).search_experiments()"
    subprocess.run([sys.executable, "-c", code, uri], check=True, capture_output=True)
    return uri


def one_run(spec: Path, uri: str) -> dict[str, Any]:
    """One fresh `gridcast forecast` process tracked to ``uri``: its wall time and the seconds of each stage from
    its log."""
    gridcast = Path(sys.executable).with_name("gridcast")
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-job-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
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


def _optimiser_spec(spec: Path, folder: Path) -> Path:
    """A copy of ``spec`` (in ``folder``; its data paths stay relative to the repository) with SARIMAX fitted by
    statsmodels' optimiser."""
    text = spec.read_text()
    if "[models.sarimax]\n" not in text:
        raise SystemExit(f"{spec}: no [models.sarimax] table to compare")
    out = folder / spec.name
    out.write_text(text.replace("[models.sarimax]\n", "[models.sarimax]\nexact_ar1 = false\n", 1))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=REPO / "experiments" / "specs" / "demo.toml")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--baseline", action="store_true", help="also run the spec with exact_ar1 = false")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    specs = {"spec": args.spec}
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-job-spec-") as tmp:
        if args.baseline:
            specs["statsmodels_optimiser"] = _optimiser_spec(args.spec, Path(tmp))
        stores = {name: tracking_store(Path(tempfile.mkdtemp(prefix=f"store-{name}-", dir=tmp))) for name in specs}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
        for k in range(args.repeat):
            for name, spec in specs.items():
                runs[name].append(one_run(spec, stores[name]))
                print(f"run {k + 1} {name}: {runs[name][-1]['wall_s']:.1f} s {runs[name][-1]['stages_s']}", flush=True)
    medians = {name: sorted(r["wall_s"] for r in rs)[len(rs) // 2] for name, rs in runs.items()}
    record = {
        "spec": str(args.spec.relative_to(REPO)) if args.spec.is_relative_to(REPO) else str(args.spec),
        "scenarios": ["baseline", *SCENARIOS],
        "runs": runs["spec"],
        "median_wall_s": medians["spec"],
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    if args.baseline:
        record["statsmodels_optimiser"] = {
            "runs": runs["statsmodels_optimiser"],
            "median_wall_s": medians["statsmodels_optimiser"],
            "ratio": round(medians["statsmodels_optimiser"] / medians["spec"], 2),
        }
        print(f"statsmodels' optimiser: median {medians['statsmodels_optimiser']:.1f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"median wall {record['median_wall_s']:.1f} s over {args.repeat} runs; {args.out}")


if __name__ == "__main__":
    main()
