"""Model benchmark: our rolling-origin ETS backtest against statsforecast's ``cross_validation``, and fit times.

Run from the repository root (``make bench-models``)::

    .venv/bin/python -m benchmarks.bench_models           # 1,000 daily series
    .venv/bin/python -m benchmarks.bench_models --quick   # 60 series, a smoke run

1. **Backtest race.** 1,000 seeded synthetic daily series (positive: level + slow drift + weekly pattern +
   noise, 400 days each), 3 windows of h = 14. Ours: :func:`forecast.backtest.backtest` with ``Ets(model="ANA",
   season_length=7)`` (the statsmodels ETSModel), with statsmodels' heuristic initial states on all series, and
   with estimated initial states (the same estimator as statsforecast; slow, so on the first
   ``--estimated-subset`` series, raced against statsforecast on the same subset); theirs:
   ``StatsForecast(models=[AutoETS(model="ANA", season_length=7)]).cross_validation(h=14, n_windows=3)``.
   Both on ``--n-jobs`` processes (ours: the series split into that many shards, one backtest per process in a
   pool started and warmed up before the clock starts; theirs: ``n_jobs``, after a one-series warm-up that
   compiles its numba code). Wall times include the frame work; MASE (m = 7, scale from each window's history)
   of both comes from :func:`forecast.metrics.evaluate`. ``--estimated-only`` runs just the estimated race (the
   subset, nothing written); ``--statsmodels-backend`` adds ours with ``backend="statsmodels"`` (statsmodels'
   own likelihood and optimiser) on the subset, to compare with the default numba-kernel fit.
2. **Fit times.** Median milliseconds per ``fit`` + ``predict(14)`` of every registered model (daily parameters)
   on 900-point daily series, after one warm-up fit (imports excluded).

Writes ``benchmarks/results/models.json`` and prints a table. One BLAS thread per process (see ``_setup``).
"""

from __future__ import annotations

from benchmarks._setup import warm_pool  # first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import json
import os
import platform
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from forecast.backtest import backtest
from forecast.metrics import evaluate
from forecast.models.registry import make_model, model_factory
from forecast.settings import BacktestPlan, ForecastSettings

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"
H, N_WINDOWS, M = 14, 3, 7
START = date(2023, 1, 1)

FIT_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "naive": ("naive", {}),
    "seasonal_naive": ("seasonal_naive", {"season_length": 7}),
    "drift": ("drift", {}),
    "historic_average": ("historic_average", {}),
    "window_average": ("window_average", {"window": 28}),
    "naive2": ("naive2", {"season_length": 7}),
    "ets ANA estimated": ("ets", {"model": "ANA", "season_length": 7}),
    "ets ANA heuristic": ("ets", {"model": "ANA", "season_length": 7, "initialization": "heuristic"}),
    "ets ZZZ heuristic": ("ets", {"season_length": 7, "initialization": "heuristic"}),
    "ets ZZZ estimated": ("ets", {"season_length": 7}),
    "sarimax (1,0,1)(1,0,1,7)": ("sarimax", {"order": [1, 0, 1], "seasonal_order": [1, 0, 1, 7]}),
    "sarimax auto (d=1)": ("sarimax", {"order": [1, 1, 1], "auto_order": True, "max_p": 2, "max_q": 2}),
    "unobserved_components": ("unobserved_components", {"level": "local linear trend", "season_length": 7}),
    "theta": ("theta", {"season_length": 7}),
    "mstl [7, 365] + ets ZZN": ("mstl", {"season_length": [7, 365]}),
    "prophet": ("prophet", {"yearly_seasonality": True}),
    "ensemble median(theta, ets ANA, snaive)": (
        "ensemble",
        {
            "combine": "median",
            "members": [
                {"name": "theta", "params": {"season_length": 7}},
                {"name": "ets", "params": {"model": "ANA", "season_length": 7, "initialization": "heuristic"}},
                {"name": "seasonal_naive", "params": {"season_length": 7}},
            ],
        },
    ),
}
SLOW = {"ets ZZZ estimated", "sarimax auto (d=1)", "sarimax (1,0,1)(1,0,1,7)", "prophet", "unobserved_components"}


# -- data -------------------------------------------------------------------------------------------------------
def synthetic_daily(n_series: int, length: int, seed: int = 2024) -> pl.DataFrame:
    """Seeded positive daily series: level × (1 + drift) + weekly pattern + AR(1) noise, ids ``s0000``…"""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    ids, values = [], []
    for i in range(n_series):
        level = rng.uniform(20, 200)
        drift = np.cumsum(rng.normal(0, 0.004, length))  # slow relative random walk
        weekly = rng.normal(0, 0.15, 7)
        weekly -= weekly.mean()
        noise = np.zeros(length)
        eps = rng.normal(0, rng.uniform(0.03, 0.10), length)
        for k in range(1, length):
            noise[k] = 0.4 * noise[k - 1] + eps[k]
        y = level * (1 + drift + weekly[(t + i) % 7] + noise)
        ids.append(f"s{i:04d}")
        values.append(np.maximum(y, 0.05 * level))
    return pl.DataFrame(
        {
            "unique_id": np.repeat(ids, length),
            "ds": pl.date_range(START, START + timedelta(days=length - 1), "1d", eager=True).to_list() * n_series,
            "y": np.concatenate(values),
        }
    ).with_columns(pl.col("ds").cast(pl.Date))


# -- ours -------------------------------------------------------------------------------------------------------
def _ours_shard(args: tuple[pl.DataFrame, dict[str, Any]]) -> pl.DataFrame:
    df, params = args
    return backtest(
        df,
        {"ets": model_factory("ets", params)},
        ForecastSettings(freq="1d", levels=(), season_length=M, backtest=BacktestPlan(h=H, n_windows=N_WINDOWS)),
    )


def _warm_worker(df: pl.DataFrame, params: dict[str, Any]) -> None:
    _ours_shard((df, params))  # imports statsmodels and runs the code once, before the clock starts


def run_ours(df: pl.DataFrame, params: dict[str, Any], n_jobs: int) -> tuple[pl.DataFrame, float]:
    """Our backtest of ``Ets(**params)`` on ``n_jobs`` shards; returns (frame, wall seconds)."""
    ids = df.get_column("unique_id").unique(maintain_order=True).to_list()
    shards = [df.filter(pl.col("unique_id").is_in(ids[j::n_jobs])) for j in range(n_jobs)]
    warm = shards[0].filter(pl.col("unique_id") == ids[0])
    if n_jobs > 1:
        with warm_pool(n_jobs, _warm_worker, (warm, params)) as pool:
            t0 = time.perf_counter()
            parts = list(pool.map(_ours_shard, [(s, params) for s in shards]))
            wall = time.perf_counter() - t0
    else:
        _warm_worker(warm, params)
        t0 = time.perf_counter()
        parts = [_ours_shard((shards[0], params))]
        wall = time.perf_counter() - t0
    return pl.concat(parts), wall


# -- statsforecast ----------------------------------------------------------------------------------------------
def run_statsforecast(df: pl.DataFrame, n_jobs: int) -> tuple[pl.DataFrame, float]:
    """statsforecast's cross_validation with AutoETS(model="ANA", season_length=7); returns (frame, wall s)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    warm = df.filter(pl.col("unique_id") == df["unique_id"][0])
    StatsForecast(models=[AutoETS(model="ANA", season_length=M)], freq="1d", n_jobs=1).cross_validation(
        df=warm, h=H, n_windows=N_WINDOWS
    )  # warm-up: numba compilation, not timed
    t0 = time.perf_counter()
    sf = StatsForecast(models=[AutoETS(model="ANA", season_length=M)], freq="1d", n_jobs=n_jobs)
    cv = sf.cross_validation(df=df, h=H, n_windows=N_WINDOWS)
    wall = time.perf_counter() - t0
    out = cv.rename({"AutoETS": "mean"}).with_columns(pl.lit("statsforecast").alias("model"))
    return out.select("unique_id", "ds", "cutoff", "model", "y", "mean"), wall


def mase_of(frame: pl.DataFrame, df: pl.DataFrame) -> float:
    """Overall MASE (mean of per-series MASE) from :func:`forecast.metrics.evaluate`."""
    cols = ["unique_id", "ds", "cutoff", "model", "y", "mean"]
    return float(evaluate(frame.select(cols), df.select("unique_id", "ds", "y"), M)["overall"]["mase"][0])


# -- fit times --------------------------------------------------------------------------------------------------
def fit_times(series: list[np.ndarray], quick: bool) -> dict[str, dict[str, float]]:
    """Median ms per fit + predict(14) of each model in FIT_MODELS (warm-up excluded)."""
    out = {}
    for key, (name, params) in FIT_MODELS.items():
        k = 2 if quick else (3 if key in SLOW else 10)
        make_model(name, params).fit(series[-1]).predict(H, level=())  # warm-up
        times = []
        for y in series[:k]:
            t0 = time.perf_counter()
            make_model(name, params).fit(y).predict(H, level=())
            times.append(1000 * (time.perf_counter() - t0))
        out[key] = {"model": name, "params": params, "median_ms": float(np.median(times)), "n": k}
        print(f"  fit {key}: {out[key]['median_ms']:.1f} ms (n={k})", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 series, fewer fit-time repetitions")
    ap.add_argument("--n-series", type=int, default=None)
    ap.add_argument("--length", type=int, default=400)
    ap.add_argument("--n-jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--skip-fit-times", action="store_true")
    ap.add_argument(
        "--estimated-subset", type=int, default=200, help="series for the (slow) estimated-initial-states race"
    )
    ap.add_argument("--estimated-only", action="store_true", help="only the estimated race on the subset; no file")
    ap.add_argument(
        "--statsmodels-backend", action="store_true", help="also race backend='statsmodels' on the estimated subset"
    )
    args = ap.parse_args(argv)
    n_series = args.n_series or (60 if args.quick else 1000)

    load_start = os.getloadavg()
    df = synthetic_daily(n_series, args.length)
    print(f"{n_series} series × {args.length} days, h={H}, {N_WINDOWS} windows, n_jobs={args.n_jobs}", flush=True)
    race: dict[str, Any] = {}
    runs: list[tuple[dict[str, Any], pl.DataFrame, float, float, str]] = []
    if not args.estimated_only:
        sf_frame, sf_wall = run_statsforecast(df, args.n_jobs)
        sf_mase = mase_of(sf_frame, df)
        print(f"  statsforecast AutoETS(ANA): {sf_wall:.1f} s, MASE {sf_mase:.4f}", flush=True)
        race["statsforecast AutoETS(model='ANA', season_length=7)"] = {"wall_s": sf_wall, "mase": sf_mase}
        runs.append(({"initialization": "heuristic"}, df, sf_wall, sf_mase, ""))
    sub_ids = df.get_column("unique_id").unique(maintain_order=True).to_list()[: args.estimated_subset]
    sub = df.filter(pl.col("unique_id").is_in(sub_ids))
    estimated = [{"initialization": "estimated"}]
    if args.statsmodels_backend:
        estimated.append({"initialization": "estimated", "backend": "statsmodels"})
    if len(sub_ids) < n_series or args.estimated_only:  # estimated states: raced on a subset, against sf on it
        sub_frame, sub_wall = run_statsforecast(sub, args.n_jobs)
        sub_mase = mase_of(sub_frame, sub)
        print(f"  statsforecast AutoETS(ANA) [first {len(sub_ids)}]: {sub_wall:.1f} s, MASE {sub_mase:.4f}", flush=True)
        race[f"statsforecast AutoETS(model='ANA', season_length=7) [first {len(sub_ids)} series]"] = {
            "wall_s": sub_wall,
            "mase": sub_mase,
        }
        runs += [(extra, sub, sub_wall, sub_mase, f" [first {len(sub_ids)} series]") for extra in estimated]
    else:
        runs += [(extra, df, sf_wall, sf_mase, "") for extra in estimated]
    for extra, data, ref_wall, ref_mase, tag in runs:
        params = {"model": "ANA", "season_length": M, **extra}
        frame, wall = run_ours(data, params, args.n_jobs)
        mase = mase_of(frame, data)
        n_fb = int(frame["fallback_reason"].drop_nulls().len()) if "fallback_reason" in frame.columns else 0
        label = ", ".join(f"{k}={v!r}" for k, v in extra.items())
        race[f"ours Ets(model='ANA', season_length=7, {label}){tag}"] = {
            "wall_s": wall,
            "mase": mase,
            "wall_ratio_vs_statsforecast": wall / ref_wall,
            "mase_rel_diff_vs_statsforecast": mase / ref_mase - 1,
            "fallback_rows": n_fb,
        }
        print(f"  ours ANA {label}{tag}: {wall:.1f} s ({wall / ref_wall:.2f}×), MASE {mase:.4f}", flush=True)

    fits = {}
    if not (args.skip_fit_times or args.estimated_only):
        long = synthetic_daily(10, 900, seed=7)
        series = [p.get_column("y").to_numpy() for p in long.partition_by("unique_id", maintain_order=True)]
        fits = fit_times(series, args.quick)

    result = {
        "setup": {
            "n_series": n_series,
            "length": args.length,
            "h": H,
            "n_windows": N_WINDOWS,
            "n_jobs": args.n_jobs,
            "estimated_subset": min(args.estimated_subset, n_series),
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "quick": args.quick,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        },
        "backtest": race,
        "fit_times_ms_900_daily": fits,
    }
    if not (args.quick or args.estimated_only):
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        tmp.replace(RESULTS)
    print("\n| run | wall s | ratio vs statsforecast | MASE |\n| --- | ---: | ---: | ---: |")
    for key, r in race.items():
        ratio = r.get("wall_ratio_vs_statsforecast", 1.0)
        print(f"| {key} | {r['wall_s']:.1f} | {ratio:.2f} | {r['mase']:.4f} |")
    if fits:
        print("\n| model | median ms per fit+predict (900 daily points) |\n| --- | ---: |")
        for key, r in fits.items():
            print(f"| {key} | {r['median_ms']:.1f} |")


if __name__ == "__main__":
    main()
