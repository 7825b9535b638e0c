"""Tracking overhead: the demo backtest with and without MLflow logging, and the requests it makes.

Both arms run the same job in one warm process (``track=False`` is the baseline: outputs only), interleaved and
alternating which goes first, best of ``--repeat`` each. The tracking store is a fresh local SQLite file (what
``make forecast`` uses) whose tables and experiment are created before timing, as a deployment creates them once.
Three numbers come out:

- **overhead**: best tracked wall − best untracked wall, as a share of the untracked wall (target, issue 5: ≤ 5 %);
- **tracking phase**: the time the tracked job spent in ``track_job`` (less noisy than a difference of two walls);
- **import**: what the tracking path imports beyond the untracked job (MLflow, its pyfunc and data modules,
  matplotlib), timed in fresh processes and reported apart, as a fixed per-process cost.

Requests: every outermost call into the tracking store during one tracked job (the SQLite store here; against a
tracking server each is one REST request) by method, plus artifact upload calls and the files they carry (one HTTP
upload each against a server with proxied artifacts). Results: ``benchmarks/results/tracking.json``.

    python -m benchmarks.bench_tracking [--quick] [--repeat 3]
"""

from __future__ import annotations

import benchmarks._setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "tracking.json"
TARGET_SHARE = 0.05
# what the tracked job imports that the untracked one does not (timed after the untracked job's own imports)
TRACKING_IMPORTS = (
    "mlflow, mlflow.pyfunc, mlflow.data.polars_dataset, experiments.tracking.job_log, experiments.tracking.plots"
)


@contextmanager
def count_requests() -> Iterator[dict[str, Counter]]:
    """Count outermost tracking-store calls (by method) and artifact uploads while the block runs.

    Wraps the public methods of the SQLite store class and the local artifact repository; a store method that
    calls another public one is counted once (a thread-local depth), as one REST request would be.
    """
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.tracking.abstract_store import AbstractStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    counts: dict[str, Counter] = {"store": Counter(), "artifact_calls": Counter(), "artifact_files": Counter()}
    depth = threading.local()
    saved: list[tuple[type, str, Any]] = []

    def wrap(cls: type, name: str, record: Callable[[str, tuple[Any, ...]], None]) -> None:
        original = getattr(cls, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            level = getattr(depth, "n", 0)
            if level == 0:
                record(name, args)
            depth.n = level + 1
            try:
                return original(*args, **kwargs)
            finally:
                depth.n = level

        saved.append((cls, name, original))
        setattr(cls, name, counted)

    def store_call(method: str, args: tuple[Any, ...]) -> None:
        counts["store"][method] += 1

    def upload(method: str, args: tuple[Any, ...]) -> None:  # args: (repository, local path, ...)
        counts["artifact_calls"][method] += 1
        local = Path(args[1])
        counts["artifact_files"][method] += sum(p.is_file() for p in local.rglob("*")) if local.is_dir() else 1

    # public store methods, less the ones that never leave the process (async-logging housekeeping)
    for name in sorted(n for n in dir(AbstractStore) if not n.startswith("_") and "async" not in n):
        if callable(getattr(SqlAlchemyStore, name, None)) and not isinstance(
            SqlAlchemyStore.__dict__.get(name), (staticmethod, classmethod, property)
        ):
            wrap(SqlAlchemyStore, name, store_call)
    for name in ("log_artifact", "log_artifacts"):
        wrap(LocalArtifactRepository, name, upload)
    try:
        yield counts
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)


def import_seconds(bytecode_cache: bool, repeat: int) -> float:
    """Best-of-``repeat`` time to import the tracking path in a fresh process, after the untracked job's imports:
    with a bytecode cache (an ordinary install, written by a first run), or compiling every module from source
    (an empty ``PYTHONPYCACHEPREFIX``, nothing written: how this machine runs with ``PYTHONDONTWRITEBYTECODE=1``
    and no cache)."""
    code = (
        "import benchmarks._setup, time, experiments.jobs.run, experiments.demo; t = time.perf_counter(); "
        f"import {TRACKING_IMPORTS}; print(time.perf_counter() - t)"
    )
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    with tempfile.TemporaryDirectory(prefix="gridcast-no-pycache-") as empty:
        if bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
        else:
            env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)
        times = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
            times.append(float(out.stdout.decode().split()[-1]))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="three months of demo data instead of the full span")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each arm (best is kept)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args()

    from experiments.demo import write_demo_data
    from experiments.inputs.spec import load_spec
    from experiments.jobs.run import run_job
    from experiments.tracking.client import Tracker

    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="gridcast-bench-tracking-"))
    old = os.getcwd()
    walls: dict[str, list[float]] = {"untracked": [], "tracked": []}
    phases: list[float] = []
    loads: list[float] = []
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

        run_job("spec.toml", kind="backtest", track=False)  # warm both arms: imports, caches, first SQLite writes
        with count_requests() as counts:  # also the first tracked job of the process: its lazy imports and set-up
            warm = run_job("spec.toml", kind="backtest", track=True)
        assert warm.tracking_error is None, warm.tracking_error

        def timed(track: bool) -> None:
            t0 = time.perf_counter()
            result = run_job("spec.toml", kind="backtest", track=track)
            walls["tracked" if track else "untracked"].append(time.perf_counter() - t0)
            assert result.tracking_error is None, result.tracking_error
            if track:
                phases.append(result.tracking_s)
            loads.append(os.getloadavg()[0])

        for i in range(args.repeat):
            for track in (False, True) if i % 2 == 0 else (True, False):
                timed(track)
    finally:
        os.chdir(old)
        shutil.rmtree(work, ignore_errors=True)

    imports = {"bytecode_cache_s": import_seconds(True, 3), "no_bytecode_cache_s": import_seconds(False, 3)}
    untracked, tracked = min(walls["untracked"]), min(walls["tracked"])
    out = {
        "job": "demo backtest" + (" (quick)" if args.quick else ""),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": args.repeat,
        "tracked_s": round(tracked, 3),
        "untracked_s": round(untracked, 3),
        "ratio": round(tracked / untracked, 4),
        "overhead_s": round(tracked - untracked, 3),
        "overhead_share": round((tracked - untracked) / untracked, 4),
        "tracking_phase_s": round(min(phases), 3),
        "tracking_phase_share": round(min(phases) / untracked, 4),
        "first_tracking_phase_s": round(warm.tracking_s, 3),
        "target_share": TARGET_SHARE,
        "met": (tracked - untracked) / untracked <= TARGET_SHARE,
        "import_s": {k: round(v, 3) for k, v in imports.items()},
        "import_modules": TRACKING_IMPORTS,
        "store_requests": sum(counts["store"].values()),
        "store_requests_by_method": dict(sorted(counts["store"].items())),
        "artifact_upload_calls": sum(counts["artifact_calls"].values()),
        "artifact_files": sum(counts["artifact_files"].values()),
        "tracker_requests": warm.n_requests,
        "walls_s": {k: [round(v, 3) for v in vs] for k, vs in walls.items()},
        "tracking_phases_s": [round(v, 3) for v in phases],
        "load_avg_1m": {"start": round(load_start[0], 2), "runs": [round(v, 2) for v in loads]},
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(table(out))


def table(out: dict[str, Any]) -> str:
    """The results as a Markdown table (as pasted into benchmarks/README.md)."""
    rows = [
        ("wall with tracking (best)", f"{out['tracked_s']:.2f} s"),
        ("wall without tracking (best)", f"{out['untracked_s']:.2f} s"),
        ("ratio", f"{out['ratio']:.3f}"),
        ("overhead (share of untracked wall)", f"{out['overhead_s']:.2f} s ({out['overhead_share']:.1%})"),
        ("tracking phase (share)", f"{out['tracking_phase_s']:.2f} s ({out['tracking_phase_share']:.1%})"),
        ("first tracked job of a process: tracking phase", f"{out['first_tracking_phase_s']:.2f} s"),
        ("target ≤ 5 % met", "yes" if out["met"] else "no"),
        (
            "import of the tracking path (bytecode cache · none)",
            f"{out['import_s']['bytecode_cache_s']:.2f} · {out['import_s']['no_bytecode_cache_s']:.2f} s",
        ),
        ("store requests per backtest", str(out["store_requests"])),
        ("artifact uploads (calls · files)", f"{out['artifact_upload_calls']} · {out['artifact_files']}"),
        ("load average 1 min (start · runs)", f"{out['load_avg_1m']['start']} · {out['load_avg_1m']['runs']}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'measure':<{width}} | value |", f"| {'-' * width} | --- |"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
