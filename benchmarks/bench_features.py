"""Feature-core benchmark (issues 3 and 11): A rolling/EWM vs coreforecast and Polars, B the full indicator set vs
Polars and pandas with peak memory, C cold start. Synthetic, seeded data (``benchmarks.bench_features_refs``).

Run from the repository root (``make bench-features``)::

    .venv/bin/python -m benchmarks.bench_features            # full sizes, writes benchmarks/results/features.json
    .venv/bin/python -m benchmarks.bench_features --quick    # small smoke run (seconds), prints only unless --out

Timings are the median (``wall_median_s``) and the best (``wall_s``) of ``--repeat`` runs after one warm-up call;
in A competitors are interleaved run by run so that machine load (other jobs on this 2-core machine) hits them alike;
in B ours runs before Polars and pandas (see there); the load average is recorded per section. Wall time is the
headline; CPU time (process, all threads) is reported beside it as the less load-sensitive view. The four figures
of issue 11 are collected under ``figures`` in the results file (median ratios, best-of beside them).

- **A** (2,000 × 1,500): rolling mean and rolling std (window 28, ``min_periods`` = 28) and EWM (half-life 7,
  ``adjust=False``): ours on (values, indptr) vs coreforecast's GroupedArray (same threads) vs Polars
  ``.over("unique_id")``, plus ours through ``add_indicators`` (frame in, frame out) for the frame-level comparison
  with Polars. Targets are set for the rolling mean and the EWM; the rolling std is reported beside them.
- **B** (10,000 × 1,000 = 10M rows): the 17 indicators of ``SPECS`` via ``add_indicators`` (warm) vs the same set
  in Polars expressions (damage stock via ``map_batches`` per series, reported apart) and in pandas groupby (run
  once); results compared. Ours runs as a process that calls it repeatedly does: its output buffers reused from the
  previous call's dropped results (``kernels/_buffers.py``; Polars' allocator returns freed pages to the system, so
  its queries fault in their working set on every call); it is also timed with that pool off (``ours_fresh_memory``:
  every result on fresh memory, page faults included, what a process computing the set once pays). Peak memory: a
  fresh subprocess resets the kernel's high-water mark (``/proc/self/clear_refs``) after loading the data and reads
  ``VmHWM`` after the call, i.e. the RSS peak of the call above the loaded inputs, compared with the input frame's
  size.
- **C** cold start in subprocesses: whole-set compile from an empty ``NUMBA_CACHE_DIR``, then time to first result
  (imports + the full set on a small frame) in fresh processes with that cache warm, with and without a Python
  bytecode cache (this machine runs with ``PYTHONDONTWRITEBYTECODE=1``, so site-packages are compiled from source
  at every import unless ``PYTHONPYCACHEPREFIX`` points somewhere writable).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.bench_features_refs import (
    ID,
    INPUTS,
    SPECS,
    WINDOW,
    pandas_indicators,
    polars_damage_only,
    polars_indicators,
    synthetic_frame,
)
from features.indicators import add_indicators, compute_indicator, kernels, validate_indicator_specs
from features.indicators.grouped import GroupedArray, group_indptr

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "features.json"
FULL = {"A": (2_000, 1_500), "B": (10_000, 1_000), "C": (20, 60)}
QUICK = {"A": (200, 300), "B": (300, 200), "C": (20, 60)}
TARGETS = {
    "A_ours_over_coreforecast_max": 1.2,
    "A_polars_over_ours_min": 10.0,
    "B_full_set_seconds_max": 1.0,
    "B_polars_over_ours_min": 10.0,
    "B_peak_over_inputs_max": 3.0,
    "C_first_result_seconds_max": 0.5,
    "C_compile_seconds_max": 5.0,
}


# --- timing ---------------------------------------------------------------------------------------------------


def race(fns: dict[str, Callable[[], Any]], repeat: int, warm: bool = True) -> dict[str, dict[str, float]]:
    """Best (``wall_s``, ``cpu_s``) and median (``wall_median_s``, ``cpu_median_s``) wall and CPU seconds of each
    function over ``repeat`` interleaved rounds (after one warm-up call each)."""
    if warm:
        for fn in fns.values():
            fn()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            runs[name].append((time.perf_counter() - w0, time.process_time() - c0))
    return {
        name: {
            "wall_s": round(min(w for w, _ in r), 5),
            "cpu_s": round(min(c for _, c in r), 5),
            "wall_median_s": round(statistics.median(w for w, _ in r), 5),
            "cpu_median_s": round(statistics.median(c for _, c in r), 5),
        }
        for name, r in runs.items()
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def max_abs_diff(a: np.ndarray | pl.Series, b: np.ndarray | pl.Series) -> float:
    a = a.fill_null(np.nan).to_numpy() if isinstance(a, pl.Series) else a
    b = b.fill_null(np.nan).to_numpy() if isinstance(b, pl.Series) else b
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    both = ~np.isnan(a)
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


# --- A --------------------------------------------------------------------------------------------------------


def section_a(n_series: int, n_days: int, repeat: int) -> dict[str, Any]:
    from coreforecast.grouped_array import GroupedArray as CoreGroupedArray

    frame = synthetic_frame(n_series, n_days, seed=1).select(ID, "ds", x="temp_mean_c")
    ga = GroupedArray.from_frame(frame, "x")
    values, indptr = ga.values, ga.indptr
    threads = kernels.threads()
    core = {
        n: CoreGroupedArray(np.ascontiguousarray(values), indptr.astype(np.int32), num_threads=n) for n in (1, threads)
    }
    ops = _section_a_ops(values, indptr, core)
    result: dict[str, Any] = {"rows": int(values.size), "series": n_series, "threads": threads, "load_before": load()}
    for op, (ours, theirs, expr, spec) in ops.items():

        def single(fn: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                kernels.set_threads(1)
                try:
                    return fn()
                finally:
                    kernels.set_threads(None)

            return run

        timings = race(
            {
                "ours": ours,
                "coreforecast": lambda theirs=theirs: theirs(threads),
                "ours_1_thread": single(ours),
                "coreforecast_1_thread": lambda theirs=theirs: theirs(1),
                "polars": lambda expr=expr: frame.select(expr),
                "ours_add_indicators": lambda spec=spec: add_indicators(frame, [spec]),
            },
            repeat,
        )
        w = {k: v["wall_s"] for k, v in timings.items()}
        c = {k: v["cpu_s"] for k, v in timings.items()}
        m = {k: v["wall_median_s"] for k, v in timings.items()}
        result[op] = {
            "timings": timings,
            "ours_over_coreforecast_median": round(m["ours"] / m["coreforecast"], 3),
            "ours_over_coreforecast_1_thread_median": round(m["ours_1_thread"] / m["coreforecast_1_thread"], 3),
            "ours_over_coreforecast": round(w["ours"] / w["coreforecast"], 3),
            "ours_over_coreforecast_1_thread": round(w["ours_1_thread"] / w["coreforecast_1_thread"], 3),
            "ours_over_coreforecast_cpu": round(c["ours"] / c["coreforecast"], 3),
            "polars_over_ours": round(w["polars"] / w["ours"], 2),
            "polars_over_ours_add_indicators": round(w["polars"] / w["ours_add_indicators"], 2),
            "max_abs_diff_vs_coreforecast": max_abs_diff(ours(), theirs(threads)),
            "max_abs_diff_vs_polars": max_abs_diff(ours(), frame.select(expr).to_series()),
        }
    result["load_after"] = load()
    return result


def _section_a_ops(values: np.ndarray, indptr: np.ndarray, core: dict[int, Any]) -> dict[str, tuple]:
    """Per op of section A: ours on arrays, coreforecast (given a thread count), the Polars expression, our spec."""
    from coreforecast import lag_transforms as cf

    alpha = kernels.ewm_alpha(7.0)
    return {
        "rolling_mean_28": (
            lambda: kernels.grouped_rolling_mean(values, indptr, WINDOW),
            lambda n: cf.RollingMean(0, WINDOW).transform(core[n]),
            pl.col("x").rolling_mean(WINDOW).over(ID),
            {"name": "rolling_mean", "input": "x", "window": WINDOW},
        ),
        "rolling_std_28": (
            lambda: kernels.grouped_rolling_std(values, indptr, WINDOW),
            lambda n: cf.RollingStd(0, WINDOW).transform(core[n]),
            pl.col("x").rolling_std(WINDOW).over(ID),
            {"name": "rolling_std", "input": "x", "window": WINDOW},
        ),
        "ewm_hl7": (
            lambda: kernels.grouped_ewm(values, indptr, alpha),
            lambda n: cf.ExponentiallyWeightedMean(0, alpha).transform(core[n]),
            pl.col("x").ewm_mean(alpha=alpha, adjust=False).over(ID),
            {"name": "strike_ewm", "input": "x", "half_life": 7.0},
        ),
    }


# --- B --------------------------------------------------------------------------------------------------------


def section_b(n_series: int, n_days: int, repeat: int, pandas_too: bool, memory: bool) -> dict[str, Any]:
    frame = synthetic_frame(n_series, n_days, seed=2)
    specs = validate_indicator_specs(SPECS)
    result: dict[str, Any] = {"rows": frame.height, "series": n_series, "indicators": len(specs), "load_before": load()}
    # not interleaved: after a Polars query its allocator returns gigabytes to the OS in background threads, which
    # would be charged to whatever runs next in this process; ours runs first, Polars and pandas after
    timings = race({"ours": lambda: add_indicators(frame, specs)}, repeat)
    timings.update(race({"ours_fresh_memory": lambda: _without_buffer_pool(add_indicators, frame, specs)}, repeat))
    timings.update(race({"polars_without_damage": lambda: polars_indicators(frame, damage=False)}, repeat))
    timings.update(race({"polars_damage_only": lambda: polars_damage_only(frame)}, 1))
    timings.update(race({"polars": lambda: polars_indicators(frame)}, 1))
    ours_frame = add_indicators(frame, specs)
    reference = polars_indicators(frame)
    outputs = [s.output for s in specs]
    result["max_abs_diff_vs_polars"] = {c: max_abs_diff(ours_frame[c], reference[c]) for c in outputs}
    if pandas_too:
        pdf = frame.to_pandas()
        timings.update(race({"pandas": lambda: pandas_indicators(pdf)}, 1, warm=False))  # one run, no warm-up
        expected = pandas_indicators(pdf)
        result["max_abs_diff_vs_pandas"] = {c: max_abs_diff(ours_frame[c], expected[c].to_numpy()) for c in outputs}
    result["timings"] = timings
    result["breakdown_s"] = _breakdown(frame, specs)
    w = {k: v["wall_s"] for k, v in timings.items()}
    result["polars_over_ours"] = round(w["polars"] / w["ours"], 2)
    result["polars_without_damage_over_ours"] = round(w["polars_without_damage"] / w["ours"], 2)
    median = timings["polars_without_damage"]["wall_median_s"] / timings["ours"]["wall_median_s"]
    result["polars_without_damage_over_ours_median"] = round(median, 2)
    fresh = timings["polars_without_damage"]["wall_median_s"] / timings["ours_fresh_memory"]["wall_median_s"]
    result["polars_without_damage_over_ours_fresh_memory_median"] = round(fresh, 2)
    if "pandas" in w:
        result["pandas_over_ours"] = round(w["pandas"] / w["ours"], 2)
    result["load_after"] = load()
    if memory:
        result["memory"] = _memory_probe(n_series, n_days)
    return result


def _without_buffer_pool(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with the kernels' output-buffer pool off: every result on fresh memory from malloc (page faults
    and zero-filling included), as a process that computes the set once pays it."""
    from features.indicators.kernels import _buffers

    _buffers.set_budget(0)
    try:
        return fn(*args)
    finally:
        _buffers.set_budget(None)


def _breakdown(frame: pl.DataFrame, specs: list) -> dict[str, float]:
    """Where ``add_indicators`` spends its time: grouping checks, kernels, NaN → null conversion (best of 2)."""
    best: dict[str, float] = {}
    for _ in range(2):
        t0 = time.perf_counter()
        indptr = group_indptr(frame)
        t1 = time.perf_counter()
        arrays = {c: frame[c].to_numpy() for c in INPUTS}
        results = []
        for spec in specs:
            from features.indicators import INDICATORS

            names = INDICATORS[spec.name].column_params
            inputs = {p: GroupedArray(arrays[c], indptr) for p, c in zip(names, spec.input_columns, strict=True)}
            arrays[spec.output] = compute_indicator(spec, inputs)
            results.append(arrays[spec.output])
        t2 = time.perf_counter()
        for spec, values in zip(specs, results, strict=True):
            pl.Series(spec.output, values, nan_to_null=True)
        t3 = time.perf_counter()
        for key, value in {"group_indptr": t1 - t0, "kernels": t2 - t1, "to_polars": t3 - t2}.items():
            best[key] = round(min(best.get(key, value), value), 4)
    return best


_MEMORY_PROBE = """
import gc, json, sys
import numpy as np
from benchmarks.bench_features_refs import SPECS, INPUTS, synthetic_frame
from features.indicators import add_indicators
from features.indicators.kernels import warmup

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

warmup()
frame = synthetic_frame(int(sys.argv[1]), int(sys.argv[2]), seed=2)
add_indicators(frame.head(1000), SPECS)  # first-call allocations (Polars, numba) out of the measurement
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS
base = status("VmRSS")
out = add_indicators(frame, SPECS)
peak = status("VmHWM")
new = out.select(out.columns[frame.width:])
print(json.dumps({
    "baseline_rss_bytes": base,
    "peak_rss_bytes": peak,
    "peak_above_baseline_bytes": peak - base,
    "input_frame_bytes": frame.estimated_size(),
    "input_value_columns_bytes": frame.select(INPUTS).estimated_size(),
    "output_columns_bytes": new.estimated_size(),
}))
"""


def _memory_probe(n_series: int, n_days: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(n_series), str(n_days)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    m = json.loads(proc.stdout)
    m["method"] = "RSS high-water mark (VmHWM) of a fresh process, reset after loading the data (clear_refs 5)"
    m["peak_over_input_frame"] = round(m["peak_above_baseline_bytes"] / m["input_frame_bytes"], 2)
    m["peak_over_input_value_columns"] = round(m["peak_above_baseline_bytes"] / m["input_value_columns_bytes"], 2)
    m["outputs_over_input_frame"] = round(m["output_columns_bytes"] / m["input_frame_bytes"], 2)
    extra = m["peak_above_baseline_bytes"] - m["output_columns_bytes"]
    m["working_memory_beyond_outputs_bytes"] = extra
    m["working_memory_beyond_outputs_over_input_frame"] = round(extra / m["input_frame_bytes"], 2)
    return m


# --- C --------------------------------------------------------------------------------------------------------

_COMPILE = """
import json, time
t0 = time.perf_counter()
from features.indicators.kernels import warmup
t1 = time.perf_counter()
report = warmup()
print(json.dumps({"import_s": t1 - t0, "warmup": report}))
"""

_FIRST_RESULT = """
import time
t0 = time.perf_counter()
import json, sys
import numpy as np
t_numpy = time.perf_counter()
import polars as pl
t_polars = time.perf_counter()
import numba
t_numba = time.perf_counter()
from features.indicators import add_indicators
t_features = time.perf_counter()
from benchmarks.bench_features_refs import SPECS, synthetic_frame  # not timed (data preparation)
frame = synthetic_frame(int(sys.argv[1]), int(sys.argv[2]), seed=3)
t_data = time.perf_counter()
modules_before = set(sys.modules)
out = add_indicators(frame, SPECS)
t_first = time.perf_counter()
imported = set(sys.modules) - modules_before
assert out.width == frame.width + len(SPECS)
add_indicators(frame, SPECS)
t_second = time.perf_counter()
print(json.dumps({
    "import_numpy_s": t_numpy - t0, "import_polars_s": t_polars - t_numpy, "import_numba_s": t_numba - t_polars,
    "import_features_s": t_features - t_numba, "imports_s": t_features - t0,
    "first_call_s": t_first - t_data, "second_call_s": t_second - t_first,
    "script_to_first_result_s": t_first - t0 - (t_data - t_features),
    "modules_imported_by_first_call": len(imported),
    "scipy_linalg_imported_by_first_call": "scipy.linalg" in imported,
    "cffi_imported_by_first_call": "cffi" in imported,
}))
"""


def _python(code: str, *args: str, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout), wall


_NUMBA_FLOOR_MODULE = """
from numba import njit


@njit(cache=True)
def one(x):
    return x + 1.0
"""

_NUMBA_FLOOR = """
import time
t0 = time.perf_counter()
import json, numba
t1 = time.perf_counter()
import floor_probe
floor_probe.one(1.0)
t2 = time.perf_counter()
print(json.dumps({"import_numba_s": t1 - t0, "first_cached_call_s": t2 - t1}))
"""


def _numba_floor(env: dict[str, str], repeat: int) -> dict[str, float]:
    """numba's own cost of a first call in a fresh process: a one-line cached function, warm disk cache, best of
    ``repeat``."""
    with tempfile.TemporaryDirectory(prefix="gridcast-floor-") as folder:
        (Path(folder) / "floor_probe.py").write_text(_NUMBA_FLOOR_MODULE)
        env = {**env, "PYTHONPATH": os.pathsep.join([folder, str(REPO)]), "NUMBA_CACHE_DIR": str(Path(folder) / "c")}
        _python(_NUMBA_FLOOR, env=env)  # compiles and caches
        runs = [_python(_NUMBA_FLOOR, env=env)[0] for _ in range(repeat)]
    best = min(runs, key=lambda x: x["first_cached_call_s"])
    return {k: round(v, 3) for k, v in best.items()}


def _compile_report(env: dict[str, str]) -> dict[str, Any]:
    report, wall = _python(_COMPILE, env=env)
    drivers = report["warmup"]["drivers"]
    return {
        "process_wall_s": round(wall, 3),
        "import_s": round(report["import_s"], 3),
        "warmup_s": report["warmup"]["seconds"],
        "warmup_cpu_s": report["warmup"]["cpu_seconds"],
        "per_driver_s": {k: v["seconds"] for k, v in drivers.items()},
        "cache_misses": {k: v["cache_misses"] for k, v in drivers.items()},
    }


def section_c(n_series: int, n_days: int, repeat: int, compile_from_scratch: bool) -> dict[str, Any]:
    """Compile from an empty numba cache, then first results with that cache warm, per Python environment:
    ``bytecode_cache`` (imports from .pyc, as on an ordinary install) and, in the full run, ``as_is`` (this
    machine's ``PYTHONDONTWRITEBYTECODE=1``: every import compiled from source, numba's lazily imported modules too,
    which also slows its first compilation)."""
    result: dict[str, Any] = {"load_before": load(), "first_result_frame_rows": n_series * n_days}
    with tempfile.TemporaryDirectory(prefix="gridcast-c-") as tmp:
        base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPYCACHEPREFIX")}
        base["PYTHONPATH"] = str(REPO)
        bytecode = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
        variants = {"bytecode_cache": {**bytecode, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pyc")}}
        if compile_from_scratch:
            variants["as_is"] = dict(base)
        result["compile_from_scratch"] = {}
        for name, env in variants.items():
            env["NUMBA_CACHE_DIR"] = str(Path(tmp) / f"numba-{name}")
            if compile_from_scratch:
                if name == "bytecode_cache":  # a first compile fills the bytecode cache; measure the second
                    _compile_report({**env, "NUMBA_CACHE_DIR": str(Path(tmp) / "numba-pyc-fill")})
                result["compile_from_scratch"][name] = _compile_report(env)
            else:  # quick: the project's own (warm) numba cache
                env.pop("NUMBA_CACHE_DIR")
            _python(_FIRST_RESULT, str(n_series), str(n_days), env=env)  # warms the bytecode cache
            runs = [_python(_FIRST_RESULT, str(n_series), str(n_days), env=env) for _ in range(repeat)]
            best, wall = min(runs, key=lambda r: r[0]["script_to_first_result_s"])
            result[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()}
            result[name]["process_wall_s"] = round(wall, 3)
            for key in ("first_call_s", "script_to_first_result_s"):
                result[name][f"{key[:-2]}_median_s"] = round(statistics.median(r[0][key] for r in runs), 3)
            result[name]["numba_floor"] = _numba_floor(env, repeat)
            hits, _ = _python(_COMPILE, env=env)
            result[name]["fresh_process_cache_hits"] = {
                k: v["cache_hits"] for k, v in hits["warmup"]["drivers"].items()
            }
            result[name]["fresh_process_cache_misses"] = {
                k: v["cache_misses"] for k, v in hits["warmup"]["drivers"].items()
            }
    result["load_after"] = load()
    return result


# --- report ---------------------------------------------------------------------------------------------------


def figures(results: dict[str, Any]) -> dict[str, Any]:
    """The four figures of issue 11, each with its target: the median ratio (or seconds) and the best-of beside it."""
    out: dict[str, Any] = {}
    a, b, c = results.get("A"), results.get("B"), results.get("C")

    def figure(value: float, best: float, target: str, met: bool, how: str) -> dict[str, Any]:
        return {"value": value, "best_of": best, "target": target, "met": met, "how": how}

    for op, name in (("rolling_mean_28", "rolling_mean_vs_coreforecast"), ("ewm_hl7", "ewm_vs_coreforecast")):
        if a:
            value = a[op]["ours_over_coreforecast_median"]
            how = f"ours/coreforecast wall, {a['rows']:,} rows, {a['series']:,} series, {a['threads']} threads each"
            met = value <= TARGETS["A_ours_over_coreforecast_max"]
            out[name] = figure(value, a[op]["ours_over_coreforecast"], "<= 1.2", met, how)
    if b:
        value = b["polars_without_damage_over_ours_median"]
        how = f"Polars expressions (no damage stock) / ours, {b['rows']:,} rows, {b['indicators']} indicators"
        met = value >= TARGETS["B_polars_over_ours_min"]
        out["full_set_polars_over_ours"] = figure(value, b["polars_without_damage_over_ours"], ">= 10", met, how)
    if c and "bytecode_cache" in c:
        v = c["bytecode_cache"]
        how = "fresh process, bytecode and numba caches warm: add_indicators on 1,200 rows after the imports"
        met = v["first_call_median_s"] <= TARGETS["C_first_result_seconds_max"]
        out["fresh_process_first_result_s"] = figure(v["first_call_median_s"], v["first_call_s"], "<= 0.5", met, how)
        out["fresh_process_first_result_s"]["from_process_start_s"] = v["script_to_first_result_median_s"]
    return out


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """Each target, the measured value and whether it is met."""
    out: dict[str, Any] = {}
    a, b, c = results.get("A"), results.get("B"), results.get("C")
    if a:
        for op in ("rolling_mean_28", "ewm_hl7"):
            ratio = a[op]["ours_over_coreforecast"]
            out[f"A {op}: ours/coreforecast <= 1.2"] = (ratio, ratio <= TARGETS["A_ours_over_coreforecast_max"])
            ratio = a[op]["polars_over_ours"]
            out[f"A {op}: polars/ours >= 10"] = (ratio, ratio >= TARGETS["A_polars_over_ours_min"])
    if b:
        wall = b["timings"]["ours"]["wall_s"]
        out["B full set <= 1.0 s"] = (wall, wall <= TARGETS["B_full_set_seconds_max"])
        ratio = b["polars_over_ours"]
        out["B polars/ours >= 10"] = (ratio, ratio >= TARGETS["B_polars_over_ours_min"])
        ratio = b["polars_without_damage_over_ours"]
        out["B polars (without damage stock)/ours >= 10"] = (ratio, ratio >= TARGETS["B_polars_over_ours_min"])
        mem = b.get("memory", {})
        if "peak_over_input_frame" in mem:
            ratio = mem["peak_over_input_frame"]
            out["B peak memory <= 3x input frame"] = (ratio, ratio <= TARGETS["B_peak_over_inputs_max"])
    if c:
        for variant in [v for v in ("bytecode_cache", "as_is") if v in c]:
            seconds = c[variant]["script_to_first_result_s"]
            out[f"C first result ({variant}) <= 0.5 s"] = (seconds, seconds <= TARGETS["C_first_result_seconds_max"])
            seconds = c[variant]["first_call_s"]
            out[f"C first call after imports ({variant}) <= 0.5 s"] = (seconds, seconds <= 0.5)
        for variant, comp in c.get("compile_from_scratch", {}).items():
            seconds = comp["warmup_s"]
            out[f"C whole-set compile ({variant}) <= 5 s"] = (seconds, seconds <= TARGETS["C_compile_seconds_max"])
    return {k: {"value": v, "met": met} for k, (v, met) in out.items()}


def table(results: dict[str, Any]) -> str:
    lines = ["Issue 11 figures (median; best of the runs in brackets):", "", "| figure | value | target | met |"]
    lines.append("| --- | --- | --- | --- |")
    for name, f in results.get("figures", {}).items():
        lines.append(f"| {name} | {f['value']} ({f['best_of']}) | {f['target']} | {'yes' if f['met'] else 'NO'} |")
    lines += ["", "| target | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v['value']} | {'yes' if v['met'] else 'NO'} |" for k, v in results["verdicts"].items()]
    a, b = results.get("A"), results.get("B")
    if a:
        lines += ["", f"A ({a['rows']:,} rows, {a['threads']} threads), best wall seconds:", ""]
        lines += ["| op | ours | coreforecast | ours 1t | cf 1t | polars | ours add_indicators |", "|" + " --- |" * 7]
        for op in [op for op in ("rolling_mean_28", "rolling_std_28", "ewm_hl7") if op in a]:
            t = a[op]["timings"]
            cols = ["ours", "coreforecast", "ours_1_thread", "coreforecast_1_thread", "polars", "ours_add_indicators"]
            lines.append(f"| {op} | " + " | ".join(f"{t[k]['wall_s']:.4f}" for k in cols) + " |")
    if b:
        t = b["timings"]
        lines += ["", f"B ({b['rows']:,} rows, {b['indicators']} indicators), wall seconds:", ""]
        lines += ["| ours | polars | polars w/o damage | polars damage only | pandas |", "|" + " --- |" * 5]
        pandas = f"{t['pandas']['wall_s']:.2f}" if "pandas" in t else "-"
        lines.append(
            f"| {t['ours']['wall_s']:.3f} | {t['polars']['wall_s']:.2f} | {t['polars_without_damage']['wall_s']:.3f} "
            f"| {t['polars_damage_only']['wall_s']:.2f} | {pandas} |"
        )
        lines.append(f"\nours breakdown (s): {b['breakdown_s']}")
        if "memory" in b and "peak_over_input_frame" in b["memory"]:
            m = b["memory"]
            lines.append(
                f"peak RSS above inputs: {m['peak_above_baseline_bytes'] / 1e6:.0f} MB = "
                f"{m['peak_over_input_frame']}x the input frame ({m['input_frame_bytes'] / 1e6:.0f} MB); outputs "
                f"{m['output_columns_bytes'] / 1e6:.0f} MB, working memory beyond outputs "
                f"{m['working_memory_beyond_outputs_bytes'] / 1e6:.1f} MB"
            )
    c = results.get("C")
    if c:
        lines += ["", "C cold start, seconds (fresh processes):", ""]
        for variant, comp in c.get("compile_from_scratch", {}).items():
            lines.append(
                f"compile from an empty cache ({variant}): warmup {comp['warmup_s']} s wall, {comp['warmup_cpu_s']} s "
                f"CPU (per driver {comp['per_driver_s']})"
            )
        lines += [
            "numba floor: first call of a cached one-line @njit function in a fresh process (numba's own start-up)",
            "",
            "| python env | imports | of which numba | first call (median) | numba floor | to first result | process |",
            "|" + " --- |" * 7,
        ]
        for name in [v for v in ("bytecode_cache", "as_is") if v in c]:
            v = c[name]
            floor = v["numba_floor"]
            lines.append(
                f"| {name} | {v['imports_s']} | {v['import_numba_s']} | {v['first_call_s']} "
                f"({v['first_call_median_s']}) | {floor['first_cached_call_s']} "
                f"| {v['script_to_first_result_s']} | {v['process_wall_s']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes; no pandas, memory probe or compile from scratch"
    )
    parser.add_argument(
        "--out", type=Path, help=f"JSON results file (default {RESULTS.relative_to(REPO)}; none with --quick)"
    )
    parser.add_argument("--repeat", type=int, help="timed rounds per measurement (default 5, quick 2)")
    parser.add_argument("--sections", default="ABC", help="which of A, B, C to run (default ABC)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or (2 if args.quick else 5)
    out = args.out or (None if args.quick else RESULTS)
    warm = kernels.warmup()
    results: dict[str, Any] = {
        "meta": {
            "quick": args.quick,
            "repeat": repeat,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cores": len(os.sched_getaffinity(0)),
            "threads": kernels.threads(),
            "versions": _versions(),
            "warmup_in_this_process": {k: v for k, v in warm.items() if k != "drivers"},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    }
    if "A" in args.sections:
        results["A"] = section_a(*sizes["A"], repeat)
    if "B" in args.sections:
        results["B"] = section_b(*sizes["B"], repeat, pandas_too=not args.quick, memory=not args.quick)
    if "C" in args.sections:
        results["C"] = section_c(*sizes["C"], repeat=1 if args.quick else 5, compile_from_scratch=not args.quick)
    results["figures"] = figures(results)
    results["verdicts"] = verdicts(results)
    print(table(results))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(out)
        print(f"\nwritten {out}")
    return results


def _versions() -> dict[str, str]:
    import coreforecast
    import numba
    import pandas

    return {
        "numpy": np.__version__,
        "polars": pl.__version__,
        "numba": numba.__version__,
        "coreforecast": getattr(coreforecast, "__version__", "?"),
        "pandas": pandas.__version__,
    }


if __name__ == "__main__":
    main()
