"""Scale benchmark (#11): backtest throughput and memory over 1,000-20,000 series on every executor, and ingestion.

Run from the repository root (``make bench-scale``, about 10 minutes on the project's shared 2-core machine)::

    .venv/bin/python -m benchmarks.bench_scale           # 1,000 / 5,000 / 20,000 series, writes results/scale.json
    .venv/bin/python -m benchmarks.bench_scale --quick   # 200 / 1,000 series and a 1M-row file, prints only

**Data.** Seeded synthetic daily outage series (hours off per day, in [0.5, 24], half-hour steps: a level of 3-14
h, a winter wave, a weekly pattern and AR(1) noise), all ending on the same day, each starting on its own day so
the histories are 90-300 days long (queues and cities published their schedules from different dates; the demo's
regions have 910 days, cut here to keep the run within its time: an ETS fit costs in proportion to the length);
season m = 7. The positive floor keeps Theta's multiplicative decomposition defined on both sides.

**Backtest race.** One rolling-origin window of h = 14 (the plan that keeps the full run under ~20 minutes: the cost
is one fit per series, model and window, so W windows cost W times as much), point forecasts, for two models: ours
``Ets(model="ANA", season_length=7)`` (estimated initial states, numba likelihood) against statsforecast's
``AutoETS(model="ANA", season_length=7)``, and ours ``Theta(season_length=7)`` (statsmodels' ThetaModel with M4's
multiplicative deseasonalisation) against statsforecast's ``Theta(season_length=7)`` (the standard theta method with
the same 90 % seasonality test and multiplicative decomposition; its closest match). Ours runs
:func:`forecast.backtest.backtest` under ``use_executor`` on ``serial``, ``processes`` (2 workers) and ``dask`` (a
local cluster of 2 single-threaded process workers); theirs ``StatsForecast(..., n_jobs=2).cross_validation``.

Every configuration (size × engine × model) runs in a **fresh subprocess**, one after another in the order serial,
processes, dask, statsforecast (ETS, then Theta, for each), so the ratios are side by side under the same load; at
1,000 and 5,000 series that round is run 5 and 3 times and each figure is the median over the rounds
(:func:`rounds`), so a drift of the shared machine's speed falls on every engine alike. In
each: the data are read, the executor started and warmed up on 16 series (pool start, imports, numba caches:
reported as ``startup_s``, not in the wall), then the model's backtest is timed and scored. A call shorter than 2 s is
timed again, up to 5 calls, and the median is the wall (:func:`timed_calls`): timed once, Theta's 0.25 s backtest of
1,000 series on 2 workers varied by ±15 % between processes, enough to move its speed-up by 0.3. One process per model
keeps a model's memory out of the next one's peak: run after ETS in the same Dask workers, Theta's peak carried
what the ETS run left behind, which does not grow in proportion to the series (1,000 / 5,000 / 20,000 series: peaks
904 / 1,060 / 1,407 MB after ETS, 700 / 780 / 1,078 MB alone; 2026-11-29). A thread
polls the RSS of the whole process tree (this process, the fork server and its workers, Dask's nannies and workers,
statsforecast's pool) every 50 ms: ``rss_peak_mb`` is the peak during the calls, ``rss_idle_mb`` the tree just before
them, and their difference per 1,000 series the memory that grows with the work. RSS sums count pages shared by forked
workers once per process (an upper bound). ``cpu_s`` is the CPU time (user + system) of the tree per call,
reaped children included: the cost per series that other sessions' load changes least. MASE (m = 7, scale from
the window's history) of both sides comes from :func:`forecast.metrics.evaluate`.

**Ingestion.** A 10M-row Parquet file (25,000 series × 400 days) is written to a temporary folder and read in
fresh subprocesses, alternated, best of 2: bare ``pl.read_parquet``, and the job's target path
(``features.ingest.table.read_table`` → ``validate_long`` with bounds [0, 24] → ``regularize`` → ``gap_report``),
each with its process's peak RSS.

**Profile.** ``cProfile`` of the serial backtest of the slowest model per series on 300 series (top entries).

Writes ``benchmarks/results/scale.json`` (not with ``--quick``) and prints Markdown tables.
"""

from __future__ import annotations

import benchmarks._setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import contextlib
import functools
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
SIZES, QUICK_SIZES = (1000, 5000, 20000), (200, 1000)
H, N_WINDOWS, M, WORKERS = 14, 1, 7, 2
LENGTHS = (90, 300)
END = date(2026, 11, 27)
ENGINES = ("serial", "processes", "dask", "statsforecast")
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "ets": ("ets", {"model": "ANA", "season_length": M}),
    "theta": ("theta", {"season_length": M}),
}
SF_MODELS = {"ets": "AutoETS(model='ANA', season_length=7)", "theta": "Theta(season_length=7)"}
MIN_TIMED_S, MAX_REPEATS = 2.0, 5  # a call shorter than this is timed again: the median of up to 5 calls
INGEST_ROWS = (25_000, 400)  # series × days = 10M rows
QUICK_INGEST_ROWS = (2_500, 400)


# -- data -------------------------------------------------------------------------------------------------------
def outage_series(n: int, lengths: tuple[int, int] = LENGTHS, seed: int = 11) -> pl.DataFrame:
    """``n`` seeded daily outage series (module docstring), ids ``q00000``…, ragged starts, a common end."""
    rng = np.random.default_rng(seed)
    span = lengths[1]
    t = np.arange(span)
    level = rng.uniform(3, 14, n)[:, None]
    wave = rng.uniform(0.1, 0.5, n)[:, None] * np.cos(2 * np.pi * (t[None, :] - rng.uniform(0, 365, n)[:, None]) / 365)
    weekly = rng.normal(0, 0.12, (n, 7))
    weekly -= weekly.mean(axis=1, keepdims=True)
    dow = (t[None, :] + rng.integers(0, 7, n)[:, None]) % 7
    eps = rng.normal(0, 1, (n, span)) * rng.uniform(0.05, 0.2, n)[:, None]
    noise = np.empty_like(eps)
    noise[:, 0] = eps[:, 0]
    for k in range(1, span):  # AR(1), vectorised over series
        noise[:, k] = 0.5 * noise[:, k - 1] + eps[:, k]
    y = level * (1 + wave + np.take_along_axis(weekly, dow, axis=1) + noise)
    y = np.clip(np.round(2 * y) / 2, 0.5, 24.0)
    keep = rng.integers(lengths[0], lengths[1] + 1, n) if lengths[0] < lengths[1] else np.full(n, span)
    mask = t[None, :] >= (span - keep)[:, None]
    days = pl.date_range(END - timedelta(days=span - 1), END, "1d", eager=True).to_numpy()
    ids = np.array([f"q{i:05d}" for i in range(n)])
    rows = np.nonzero(mask)
    return pl.DataFrame({"unique_id": ids[rows[0]], "ds": days[rows[1]], "y": y[rows]}).with_columns(
        pl.col("ds").cast(pl.Date)
    )


def first_series(path: Path, n: int) -> pl.DataFrame:
    """The first ``n`` series of the benchmark's Parquet file (ids are zero-padded, so in order)."""
    return pl.scan_parquet(path).filter(pl.col("unique_id") < f"q{n:05d}").collect()


# -- memory -----------------------------------------------------------------------------------------------------
class TreeRss:
    """Polls the summed RSS of this process and all its descendants every ``every_s`` seconds (in a thread)."""

    def __init__(self, every_s: float = 0.05) -> None:
        import psutil

        self._me = psutil.Process()
        self._every = every_s
        self.peak = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> int:
        import psutil

        total = 0
        for p in [self._me, *self._me.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):  # a worker that just ended
                total += p.memory_info().rss
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) of the live tree plus every child already reaped."""
        import psutil

        total = 0.0
        for p in [self._me, *self._me.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = p.cpu_times()
                total += t.user + t.system
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return total + reaped.ru_utime + reaped.ru_stime

    def __enter__(self) -> TreeRss:
        self.peak = self.now()
        self.cpu_s = -self.cpu()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.now())
        self.cpu_s += self.cpu()


def timed_calls(call: Any) -> tuple[Any, list[float], TreeRss, int]:
    """``call()`` timed once, and again while the calls so far took less than :data:`MIN_TIMED_S` in all (at most
    :data:`MAX_REPEATS` calls): a 0.25 s backtest timed once on a shared 2-core machine varies by ±15 % from one
    process to the next, the median of its calls does not. Returns the last result, every call's wall, the tree's
    memory and CPU over all the calls, and the tree's RSS just before them. The previous result is dropped before
    the next call, so no two are held at once."""
    mem = TreeRss()
    idle = mem.now()
    walls: list[float] = []
    result = None
    with mem:
        while not walls or (sum(walls) < MIN_TIMED_S and len(walls) < MAX_REPEATS):
            result = None
            t0 = time.perf_counter()
            result = call()
            walls.append(time.perf_counter() - t0)
    return result, walls, mem, idle


def _timing(walls: list[float], mem: TreeRss, idle: int) -> dict[str, Any]:
    return {
        "wall_s": float(np.median(walls)),
        "walls_s": walls,
        "rss_idle_mb": idle / 2**20,
        "rss_peak_mb": mem.peak / 2**20,
        "cpu_s": mem.cpu_s / len(walls),
    }


# -- one configuration (runs in a fresh subprocess) -------------------------------------------------------------
def _settings() -> Any:
    from forecast.settings import BacktestPlan, ForecastSettings

    return ForecastSettings(freq="1d", levels=(), season_length=M, backtest=BacktestPlan(h=H, n_windows=N_WINDOWS))


def _mase(frame: pl.DataFrame, df: pl.DataFrame) -> float:
    from forecast.metrics import evaluate

    cols = ["unique_id", "ds", "cutoff", "model", "y", "mean"]
    return float(evaluate(frame.select(cols), df.select("unique_id", "ds", "y"), M)["overall"]["mase"][0])


def _ours(engine: str, df: pl.DataFrame, warm: pl.DataFrame) -> dict[str, Any]:
    from forecast.backtest import backtest
    from forecast.models.registry import model_factory
    from forecast.parallel import make_executor, use_executor

    settings, out, frames = _settings(), {}, {}
    t0 = time.perf_counter()
    with make_executor(engine, workers=None if engine == "serial" else WORKERS) as ex:
        with use_executor(ex):
            for name, params in MODELS.values():
                backtest(warm, {name: model_factory(name, params)}, settings)
        startup = time.perf_counter() - t0
        for key, (name, params) in MODELS.items():
            models = {name: model_factory(name, params)}
            with use_executor(ex) as run:
                frame, walls, mem, idle = timed_calls(functools.partial(backtest, df, models, settings))
            n_fb = int(frame["fallback_reason"].drop_nulls().len()) if "fallback_reason" in frame.columns else 0
            out[key] = {
                **_timing(walls, mem, idle),
                "startup_s": startup,
                "failures": len(run.failures) // len(walls),
                "fallback_rows": n_fb,
                "load_1m": os.getloadavg()[0],
            }
            frames[key] = frame
    for key, frame in frames.items():  # scored after every timed call, so no call starts on the scoring's memory
        out[key]["mase"] = _mase(frame, df)
    return out


def _statsforecast(df: pl.DataFrame, warm: pl.DataFrame) -> dict[str, Any]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Theta

    make = {"ets": lambda: AutoETS(model="ANA", season_length=M), "theta": lambda: Theta(season_length=M)}
    make = {key: build for key, build in make.items() if key in MODELS}
    t0 = time.perf_counter()
    for build in make.values():  # numba compilation, not timed
        StatsForecast(models=[build()], freq="1d", n_jobs=1).cross_validation(df=warm, h=H, n_windows=N_WINDOWS)
    startup, out, frames = time.perf_counter() - t0, {}, {}
    for key, build in make.items():

        def call(build: Any = build) -> pl.DataFrame:
            sf = StatsForecast(models=[build()], freq="1d", n_jobs=WORKERS)
            return sf.cross_validation(df=df, h=H, n_windows=N_WINDOWS)

        cv, walls, mem, idle = timed_calls(call)
        col = next(c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y"))
        frame = cv.rename({col: "mean"}).with_columns(pl.lit("statsforecast").alias("model"))
        out[key] = {
            **_timing(walls, mem, idle),
            "startup_s": startup,
            "failures": 0,
            "fallback_rows": 0,
            "load_1m": os.getloadavg()[0],
        }
        frames[key] = frame
        del cv
    for key, frame in frames.items():
        out[key]["mase"] = _mase(frame, df)
    return out


def child_backtest(engine: str, data: Path, n: int, out: Path, model: str | None = None) -> None:
    """One configuration: ``engine`` on the first ``n`` series of ``data``, for ``model`` (a key of :data:`MODELS`)
    or every model; results to ``out`` (JSON)."""
    global MODELS
    if model is not None:
        MODELS = {model: MODELS[model]}
    df = first_series(data, n)
    warm = df.filter(pl.col("unique_id") < "q00016")
    result = _statsforecast(df, warm) if engine == "statsforecast" else _ours(engine, df, warm)
    out.write_text(json.dumps(result))


def child_ingest(mode: str, path: Path, out: Path) -> None:
    """Read the 10M-row file bare (``read_parquet``) or through the job's target path; wall and peak RSS."""
    from features.contract import Bounds
    from features.ingest.table import read_table
    from features.ingest.validate import gap_report, regularize, validate_long

    t0 = time.perf_counter()
    if mode == "read_parquet":
        frame = pl.read_parquet(path)
    else:
        frame = read_table(path, values=["y"])
        frame = validate_long(frame, path, freq="1d", values=["y"], bounds={"y": Bounds(0.0, 24.0)})
        frame = regularize(frame, "1d")
        gap_report(frame, "y")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps({"wall_s": wall, "rows": frame.height, "peak_rss_mb": peak / 2**20}))


# -- the driver -------------------------------------------------------------------------------------------------
def _spawn(args: list[str], tmp: Path, label: str, timeout: float = 1800) -> dict[str, Any]:
    out = tmp / f"{label}.json"
    log = tmp / f"{label}.log"
    with log.open("w") as fh:
        cmd = [sys.executable, "-m", "benchmarks.bench_scale", *args, "--result", str(out)]
        rc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout).returncode
    if rc != 0 or not out.exists():
        raise RuntimeError(f"{label} failed (exit {rc}):\n{log.read_text()[-3000:]}")
    return json.loads(out.read_text())


def rounds(n: int) -> int:
    """Rounds of every engine at ``n`` series: the short sizes again and again, alternated, so a drift of the shared
    machine's speed over a minute falls on every engine alike (a 1,000-series Theta backtest is 0.25-0.5 s)."""
    return 5 if n <= 1000 else 3 if n <= 5000 else 1


def over_rounds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's rounds as one: the median of every figure, every call's wall kept (``walls_s``)."""
    out = dict(results[0])
    for field in ("wall_s", "startup_s", "rss_idle_mb", "rss_peak_mb", "cpu_s", "load_1m"):
        out[field] = float(np.median([r[field] for r in results]))
    out["round_walls_s"] = [r["wall_s"] for r in results]
    out["walls_s"] = [w for r in results for w in r["walls_s"]]
    return out


def race(data: Path, sizes: tuple[int, ...], tmp: Path) -> list[dict[str, Any]]:
    """Every (size, engine, model) in a fresh subprocess, engines alternated over :func:`rounds`; one row per
    (size, engine, model) with the median over the rounds."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {e: {k: [] for k in MODELS} for e in ENGINES}
        for r in range(rounds(n)):
            for engine in ENGINES:
                t0 = time.perf_counter()
                for key in MODELS:  # one process per model: no model's leftovers in the next one's peak
                    args = ["--child", engine, "--model", key, "--data", str(data), "--n", str(n)]
                    runs[engine][key].append(_spawn(args, tmp, f"{engine}-{key}-{n}-{r}")[key])
                print(f"  {n} series, round {r + 1}, {engine}: {time.perf_counter() - t0:.0f} s in all", flush=True)
        got = {e: {k: over_rounds(runs[e][k]) for k in MODELS} for e in ENGINES}
        for key in MODELS:
            serial, sf = got["serial"][key]["wall_s"], got["statsforecast"][key]
            for engine in ENGINES:
                r = got[engine][key]
                growth = r["rss_peak_mb"] - r["rss_idle_mb"]
                rows.append(
                    {
                        "n_series": n,
                        "model": key,
                        "engine": engine,
                        "workers": 1 if engine == "serial" else WORKERS,
                        **r,
                        "series_per_s": n / r["wall_s"],
                        "speedup_vs_serial": serial / r["wall_s"] if engine != "statsforecast" else None,
                        "wall_ratio_vs_statsforecast": r["wall_s"] / sf["wall_s"],
                        "mase_statsforecast": sf["mase"],
                        "mase_rel_diff_vs_statsforecast": r["mase"] / sf["mase"] - 1,
                        "rss_growth_mb": growth,
                        "cpu_ms_per_series": 1000 * r["cpu_s"] / n,
                        "rss_growth_per_1000_series_mb": 1000 * growth / n,
                    }
                )
    return rows


def memory_verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (engine, model): the peak tree RSS at each size and the marginal MB per 1,000 series between successive
    sizes; the target (memory per 1,000 series constant within ±20 %) holds when those slopes agree within 20 % of
    their mean (needs three sizes). The fixed part (interpreters, workers, imports) is what the peak is above it."""
    out = {}
    for engine in ENGINES:
        for key in MODELS:
            peak = {r["n_series"]: r["rss_peak_mb"] for r in rows if (r["engine"], r["model"]) == (engine, key)}
            sizes = sorted(peak)
            slopes = [1000 * (peak[b] - peak[a]) / (b - a) for a, b in itertools.pairwise(sizes)]
            mean = float(np.mean(slopes)) if slopes else 0.0
            spread = max(abs(s / mean - 1) for s in slopes) if len(slopes) > 1 and mean > 0 else None
            fixed = peak[sizes[0]] - mean * sizes[0] / 1000 if slopes else None
            out[f"{engine} {key}"] = {
                "peak_mb": peak,
                "marginal_mb_per_1000": dict(
                    zip([f"{a}-{b}" for a, b in itertools.pairwise(sizes)], slopes, strict=True)
                ),
                "mean_marginal_mb_per_1000": mean,
                "fixed_mb": fixed,
                "max_rel_spread": spread,
                "met": None if spread is None else spread <= 0.2,
            }
    return out


def ingestion(tmp: Path, shape: tuple[int, int], repeat: int = 2) -> dict[str, Any]:
    """Write the synthetic Parquet file, then read it ``repeat`` times each way in fresh processes (alternated)."""
    path = tmp / "ingest.parquet"
    outage_series(shape[0], (shape[1], shape[1]), seed=5).write_parquet(path)
    times: dict[str, list[dict[str, Any]]] = {"read_parquet": [], "reader_path": []}
    for i in range(repeat):
        for mode in times:
            times[mode].append(_spawn(["--child-ingest", mode, "--data", str(path)], tmp, f"ingest-{mode}-{i}"))
    best = {mode: min(runs, key=lambda r: r["wall_s"]) for mode, runs in times.items()}
    rows = best["reader_path"]["rows"]
    return {
        "rows": rows,
        "series": shape[0],
        "file_mb": path.stat().st_size / 2**20,
        "reader_path": "read_table(values=['y']) -> validate_long(bounds y in [0, 24]) -> regularize -> gap_report",
        "read_parquet_s": best["read_parquet"]["wall_s"],
        "reader_path_s": best["reader_path"]["wall_s"],
        "reader_over_read_parquet": best["reader_path"]["wall_s"] / best["read_parquet"]["wall_s"],
        "reader_rows_per_s": rows / best["reader_path"]["wall_s"],
        "read_parquet_peak_rss_mb": best["read_parquet"]["peak_rss_mb"],
        "reader_path_peak_rss_mb": best["reader_path"]["peak_rss_mb"],
        "runs": times,
    }


def profile(data: Path, n: int = 300, top: int = 15) -> dict[str, Any]:
    """cProfile of the serial backtest of Theta (the slowest of our models per series) on ``n`` series."""
    import cProfile
    import io
    import pstats

    from forecast.backtest import backtest
    from forecast.models.registry import model_factory

    df = first_series(data, n)
    name, params = MODELS["theta"]
    backtest(df.filter(pl.col("unique_id") < "q00004"), {name: model_factory(name, params)}, _settings())
    prof = cProfile.Profile()
    prof.enable()
    backtest(df, {name: model_factory(name, params)}, _settings())
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    entries = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append({"function": f"{Path(file).name}:{line}({func})", "calls": nc, "tottime_s": tt, "cumtime_s": ct})
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return {
        "model": "theta",
        "n_series": n,
        "total_s": total,
        "top_tottime": sorted(entries, key=lambda e: -e["tottime_s"])[:top],
        "top_cumtime": sorted(entries, key=lambda e: -e["cumtime_s"])[:top],
    }


def print_tables(result: dict[str, Any]) -> None:
    head = (
        "| series | model | engine | series/s | vs serial | wall vs sf | MASE | MASE sf | peak RSS MB | CPU ms/series "
        "| rounds × calls |"
    )
    print(f"\n{head}\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in result["runs"]:
        up = f"{r['speedup_vs_serial']:.2f}" if r["speedup_vs_serial"] is not None else ""
        n_rounds = len(r["round_walls_s"])
        print(
            f"| {r['n_series']:,} | {r['model']} | {r['engine']} | {r['series_per_s']:.1f} | {up} | "
            f"{r['wall_ratio_vs_statsforecast']:.2f} | {r['mase']:.4f} | {r['mase_statsforecast']:.4f} | "
            f"{r['rss_peak_mb']:.0f} | {r['cpu_ms_per_series']:.2f} | {n_rounds} × {len(r['walls_s']) // n_rounds} |"
        )
    ing = result.get("ingestion")
    if ing:
        print(
            f"\ningestion {ing['rows']:,} rows ({ing['file_mb']:.0f} MB Parquet): "
            f"read_parquet {ing['read_parquet_s']:.2f} s, reader path {ing['reader_path_s']:.2f} s "
            f"({ing['reader_over_read_parquet']:.1f}×), peak RSS {ing['reader_path_peak_rss_mb']:.0f} MB"
        )


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 / 1,000 series and a 1M-row file; nothing written")
    ap.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=None)
    ap.add_argument("--no-ingest", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the results here (default: results/scale.json)")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--child-ingest", choices=("read_parquet", "reader_path"), help=argparse.SUPPRESS)
    ap.add_argument("--model", choices=tuple(MODELS), help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_backtest(args.child, args.data, args.n, args.result, args.model)
    if args.child_ingest:
        return child_ingest(args.child_ingest, args.data, args.result)

    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    started, t_all = datetime.now().isoformat(timespec="seconds"), time.perf_counter()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-scale-") as name:
        tmp = Path(name)
        data = tmp / "series.parquet"
        outage_series(max(sizes)).write_parquet(data)
        print(f"{', '.join(f'{n:,}' for n in sizes)} series, h={H}, {N_WINDOWS} window, {WORKERS} workers", flush=True)
        rows = race(data, sizes, tmp)
        ing = None if args.no_ingest else ingestion(tmp, QUICK_INGEST_ROWS if args.quick else INGEST_ROWS)
        prof = None if args.no_profile else profile(data, 100 if args.quick else 300)
        lengths = pl.scan_parquet(data).group_by("unique_id").len().select(pl.col("len").mean()).collect().item()
    result = {
        "setup": {
            "date": started,
            "sizes": list(sizes),
            "h": H,
            "n_windows": N_WINDOWS,
            "season_length": M,
            "history_days": {"min": LENGTHS[0], "max": LENGTHS[1], "mean": lengths},
            "workers": WORKERS,
            "ours": {k: f"{n}({p})" for k, (n, p) in MODELS.items()},
            "statsforecast": SF_MODELS,
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "total_wall_s": time.perf_counter() - t_all,
            "quick": args.quick,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        },
        "runs": rows,
        "memory": memory_verdicts(rows),
        "ingestion": ing,
        "profile": prof,
    }
    print_tables(result)
    for k, v in result["memory"].items():
        slopes = ", ".join(f"{a}: {b:.0f}" for a, b in v["marginal_mb_per_1000"].items())
        print(f"memory {k}: MB per 1,000 series {slopes} (met: {v['met']})")
    print(f"\nwhole run {result['setup']['total_wall_s'] / 60:.1f} min, load {load_start} -> {os.getloadavg()}")
    target = args.out or (None if args.quick else RESULTS)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = target.with_suffix(".json.tmp")
        tmp_file.write_text(json.dumps(result, indent=1) + "\n")
        tmp_file.replace(target)


if __name__ == "__main__":
    main()
