"""Every model on M4 Hourly (414 series, h = 48, m = 24), scored as M4 did, beside the published benchmarks.

Run by hand from the repository root (not in CI: the whole set takes tens of minutes on 2 cores)::

    .venv/bin/python -m benchmarks.m4_hourly                      # every model in MODELS, then the ensembles
    .venv/bin/python -m benchmarks.m4_hourly --models theta,mstl_ets --limit 20

Each model is fitted to every training series in a process pool (``--n-jobs``, default 2) and forecasts 48 hours
(point forecasts only, ``level=()``); the pool is spawned and warmed up (imports, one fit per worker) before the
clock starts, so the wall time is the fitting; its forecasts (and timings) are cached under ``out/m4_hourly/``,
so ensembles and re-runs of the scoring are free. Ensembles (``ENSEMBLES``) are the step-wise mean or median of
member forecasts, which is exactly what :class:`forecast.models.Ensemble` computes (its members are
fitted independently on the same series), without fitting the members twice. Results (sMAPE, MASE, OWA,
wall time, failures) go to ``benchmarks/results/m4_hourly.json`` and a Markdown table to stdout.

Scoring (M4): sMAPE = mean 200·|y − f|/(|y| + |f|); MASE = MAE / mean |x_t − x_{t−24}| over the training part;
both averaged per series, then over the 414; OWA = ½(sMAPE/sMAPE_Naive2 + MASE/MASE_Naive2) on the data-set
means. A model that fails on a series is replaced there by seasonal naive (as the frame layer's fallback does)
and the failure is counted.
"""

from __future__ import annotations

from benchmarks._setup import warm_pool  # first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from features.ingest.sources.m4 import M4_HOURLY_H, M4_HOURLY_M, read_m4_split
from forecast.models.registry import make_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "m4"
CACHE = REPO / "out" / "m4_hourly"
RESULTS = REPO / "benchmarks" / "results" / "m4_hourly.json"
H, M = M4_HOURLY_H, M4_HOURLY_M

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "naive": ("naive", {}),
    "seasonal_naive": ("seasonal_naive", {"season_length": 24}),
    "seasonal_naive_168": ("seasonal_naive", {"season_length": 168}),
    "naive2": ("naive2", {"season_length": 24}),
    "drift": ("drift", {}),
    "historic_average": ("historic_average", {}),
    "window_average": ("window_average", {"window": 24}),
    "theta": ("theta", {"season_length": 24}),
    "ets": ("ets", {"season_length": 24, "initialization": "heuristic"}),
    "mstl_ets": ("mstl", {"season_length": [24, 168]}),
    "mstl_theta": ("mstl", {"season_length": [24, 168], "remainder": {"name": "theta"}}),
    "mstl_log_ets": ("mstl", {"season_length": [24, 168], "log": True}),
    "mstl_log_theta": ("mstl", {"season_length": [24, 168], "log": True, "remainder": {"name": "theta"}}),
    "mstl_arima": (
        "mstl",
        {"season_length": [24, 168], "remainder": {"name": "sarimax", "params": {"order": [2, 0, 1]}}},
    ),
    "mstl_log_arima": (
        "mstl",
        {"season_length": [24, 168], "log": True, "remainder": {"name": "sarimax", "params": {"order": [2, 0, 1]}}},
    ),
    "sarimax": ("sarimax", {"order": [2, 0, 0], "seasonal_order": [1, 1, 0, 24]}),
    "unobserved_components": ("unobserved_components", {"season_length": 24, "harmonics": 6}),
    "prophet": ("prophet", {"freq": "1h", "country_holidays": None}),
}

ENSEMBLES: dict[str, tuple[str, list[str]]] = {
    "ens_mstl_ets_theta": ("median", ["mstl_ets", "mstl_theta", "ets"]),
    "ens_mean_mstl_snaive168": ("mean", ["mstl_ets", "seasonal_naive_168"]),
    "ens_median_5": ("median", ["mstl_ets", "mstl_theta", "mstl_arima", "ets", "seasonal_naive_168"]),
}

PUBLISHED = ["Naive1", "sNaive", "Naive2", "SES", "Theta", "Comb", "sub118_Smyl", "sub245_Montero-Manso"]


# -- data and scoring -------------------------------------------------------------------------------------------
def load() -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """Series ids (file order H1..H414), training arrays, and the (414, 48) test matrix."""
    train, test = read_m4_split(DATA / "Hourly-train.csv", DATA / "Hourly-test.csv")
    order = sorted(train.get_column("unique_id").unique().to_list(), key=lambda s: int(s[1:]))
    tr = {k[0]: v.get_column("y").to_numpy() for k, v in train.partition_by("unique_id", as_dict=True).items()}
    te = {k[0]: v.get_column("y").to_numpy() for k, v in test.partition_by("unique_id", as_dict=True).items()}
    return order, [tr[i] for i in order], np.stack([te[i] for i in order])


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per-series M4 sMAPE of (series, h) arrays."""
    return np.mean(200.0 * np.abs(y - f) / (np.abs(y) + np.abs(f)), axis=1)


def mase(y: np.ndarray, f: np.ndarray, train: list[np.ndarray], m: int = M) -> np.ndarray:
    """Per-series MASE with the in-sample seasonal-naive scale at lag ``m``."""
    scale = np.array([np.mean(np.abs(x[m:] - x[:-m])) for x in train])
    return np.mean(np.abs(y - f), axis=1) / scale


def score(y: np.ndarray, f: np.ndarray, train: list[np.ndarray], naive2: tuple[float, float]) -> dict[str, float]:
    """Data-set sMAPE, MASE and OWA relative to Naive2's (sMAPE, MASE)."""
    s, m = float(np.mean(smape(y, f))), float(np.mean(mase(y, f, train)))
    return {"smape": s, "mase": m, "owa": 0.5 * (s / naive2[0] + m / naive2[1])}


# -- fitting ----------------------------------------------------------------------------------------------------
def _forecast_chunk(args: tuple[str, dict[str, Any], list[np.ndarray]]) -> list[tuple[np.ndarray, str | None, float]]:
    name, params, chunk = args
    out = []
    for y in chunk:
        t0 = time.perf_counter()
        try:
            f, reason = make_model(name, params).fit(y).predict(H, level=()).mean, None
        except Exception as exc:  # fall back like forecast.core does, and count it
            f, reason = make_model("seasonal_naive", {"season_length": M}).fit(y).predict(H, level=()).mean, str(exc)
        out.append((f, reason, time.perf_counter() - t0))
    return out


def run_model(key: str, train: list[np.ndarray], n_jobs: int) -> dict[str, Any]:
    """Forecast every series with ``MODELS[key]``; returns forecasts, failures and timings."""
    name, params = MODELS[key]
    size = max(1, len(train) // (n_jobs * 8))
    chunks = [(name, params, train[i : i + size]) for i in range(0, len(train), size)]
    if n_jobs > 1:
        with warm_pool(n_jobs, _forecast_chunk, ((name, params, train[:1]),)) as pool:
            t0 = time.perf_counter()
            parts = list(pool.map(_forecast_chunk, chunks))
            wall = time.perf_counter() - t0
    else:
        _forecast_chunk((name, params, train[:1]))  # warm-up: imports, not timed
        t0 = time.perf_counter()
        parts = [_forecast_chunk(c) for c in chunks]
        wall = time.perf_counter() - t0
    rows = [r for part in parts for r in part]
    fails = [r[1] for r in rows if r[1] is not None]
    return {
        "forecasts": np.stack([r[0] for r in rows]),
        "wall_s": wall,
        "median_fit_ms": 1000 * float(np.median([r[2] for r in rows])),
        "n_failed": len(fails),
        "failures": fails[:5],
    }


def published() -> pl.DataFrame:
    """The organisers' Hourly sMAPE, MASE, OWA of the reference methods."""
    return pl.read_csv(DATA / "published_hourly.csv").filter(pl.col("method").is_in(PUBLISHED))


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated keys of MODELS")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N series (smoke runs; not cached)")
    ap.add_argument("--refit", action="store_true", help="ignore cached forecasts")
    args = ap.parse_args(argv)

    ids, train, test = load()
    if args.limit:
        ids, train, test = ids[: args.limit], train[: args.limit], test[: args.limit]
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    forecasts: dict[str, np.ndarray] = {}
    keys = ["naive2", *[k for k in args.models.split(",") if k and k != "naive2"]]
    for key in keys:
        cache = CACHE / f"{key}.npz"
        if cache.exists() and not args.refit and not args.limit:
            continue
        run = run_model(key, train, args.n_jobs)
        forecasts[key] = run.pop("forecasts")
        name, params = MODELS[key]
        results[key] = {"model": name, "params": params, **run}
        if not args.limit:
            np.savez(cache, forecasts=forecasts[key])
            cache.with_suffix(".json").write_text(json.dumps(results[key]) + "\n")
        print(f"{key}: {run['wall_s']:.1f} s, {run['n_failed']} failed", flush=True)
    for key in [k for k in MODELS if k not in forecasts and (CACHE / f"{k}.npz").exists() and not args.limit]:
        forecasts[key] = np.load(CACHE / f"{key}.npz")["forecasts"]
        meta = CACHE / f"{key}.json"
        results.setdefault(key, json.loads(meta.read_text()) if meta.exists() else {})
    n2 = score(test, forecasts["naive2"], train, (1.0, 1.0))
    base = (n2["smape"], n2["mase"])
    for key, fc in forecasts.items():
        results.setdefault(key, {"model": MODELS[key][0], "params": MODELS[key][1]}).update(
            score(test, fc, train, base)
        )
    for key, (how, members) in ENSEMBLES.items():
        if all(m in forecasts for m in members):
            stat = np.mean if how == "mean" else np.median
            fc = stat(np.stack([forecasts[m] for m in members]), axis=0)
            walls = [results[m].get("wall_s", float("nan")) for m in members]
            results[key] = {
                "model": "ensemble",
                "params": {
                    "combine": how,
                    "members": [{"name": MODELS[m][0], "params": MODELS[m][1]} for m in members],
                },
                "members": members,
                "wall_s": float(np.sum(walls)),
                **score(test, fc, train, base),
            }
    if not args.limit:
        record: dict[str, Any] = {"n_series": len(ids), "h": H, "m": M, "models": results}
        if RESULTS.exists() and "validation" in (old := json.loads(RESULTS.read_text())):
            record["validation"] = old["validation"]  # benchmarks.m4_validation's choice and its test score
        RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print("| model | sMAPE | MASE | OWA | wall s | failed |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for key, r in sorted(results.items(), key=lambda kv: kv[1].get("owa", 9)):
        wall = r.get("wall_s", float("nan"))
        print(f"| {key} | {r['smape']:.3f} | {r['mase']:.3f} | {r['owa']:.3f} | {wall:.1f} | {r.get('n_failed', 0)} |")
    print("\npublished:")
    for row in published().iter_rows(named=True):
        print(f"| {row['method']} | {row['smape']:.3f} | {row['mase']:.3f} | {row['owa']:.3f} |")


if __name__ == "__main__":
    main()
