"""Does reconciliation help, level by level? Base forecasts vs bottom-up vs MinT-shrink on the real Dnipro queues and
the demo's regions (#9 item 5; ``docs/hierarchy.md``).

Run from the repository root (needs ``../shared/data`` and the demo data, ``gridcast demo-data --out data/demo``)::

    nice -n 10 .venv/bin/python -m benchmarks.reconcile_levels              # dnipro, demo
    nice -n 10 .venv/bin/python -m benchmarks.reconcile_levels --specs dnipro

For each spec:

1. the hierarchy: dnipro's 12 queues (``dnipro/GPV1.1`` … ``dnipro/GPV6.2``) → 6 queue groups (the id up to its last
   ``.``: ``dnipro/GPV1`` … ``dnipro/GPV6``) → the city (``dnipro``); the demo's 24 regions → the country
   (``ukraine``);
2. every level's frame (:func:`forecast.hierarchy.aggregate`: sums of hours off, means of the inputs); the future
   inputs come from the spec's provider built on the aggregated raw inputs (their means), so every level continues
   its inputs along the spec's ``[paths]`` as a job does;
3. the spec's backtest (plan, models, transforms) of every level, with the bounds of each level: ``[0, 24]`` for a
   queue or region, ``[0, 24·n]`` for an aggregate of ``n`` of them;
4. each backtest frame reconciled bottom-up and MinT-shrink (:func:`forecast.hierarchy.reconcile_backtest`; MinT's
   covariance from the errors of the earlier windows known at each cutoff only), the bottom results clipped into
   ``[0, 24]``;
5. MASE (m = 7, scale from each window's history, :func:`forecast.metrics.evaluate`) and MAE per series, averaged
   over each level's series, on the same windows for all three (those MinT could reconcile: ``min_windows`` on).

Writes ``benchmarks/results/reconcile.json`` and prints a Markdown table.
"""

from __future__ import annotations

from benchmarks import _setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.settings import build_models, exog_provider, forecast_settings
from experiments.inputs.spec import load_spec
from features.contract import CUTOFF, ID, MODEL, Bounds, Y
from forecast.backtest import backtest
from forecast.hierarchy import (
    Hierarchy,
    aggregate,
    coherence_gap,
    from_rules,
    reconcile_backtest,
    residual_matrix,
    shrunk_covariance,
)
from forecast.hierarchy.structure import LEVEL, SIZE
from forecast.metrics import evaluate

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "reconcile.json"
SPECS = ("dnipro", "demo")
HIERARCHIES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "dnipro": (["city", "group", "queue"], {"city": {"name": "dnipro"}, "group": {"before_last": "."}}),
    "demo": (["country", "region"], {"country": {"name": "ukraine"}}),
}
MIN_WINDOWS = {"dnipro": 4, "demo": 4}  # windows that only give MinT its first residuals (not scored)
METHODS = ("base", "bottom_up", "mint_shrink")


def level_data(data: Dataset, hierarchy: Hierarchy) -> Dataset:
    """The dataset of every level: the aggregated frame and the aggregated raw inputs (means) for the provider."""
    frame = aggregate(data.frame, hierarchy, exog=data.exog)
    inputs = None
    if data.inputs is not None:
        raw = data.inputs.with_columns(pl.lit(0.0).alias(Y))
        inputs = aggregate(raw, hierarchy).drop(Y)
    return dataclasses.replace(data, frame=frame, inputs=inputs)


def level_backtest(name: str) -> tuple[pl.DataFrame, pl.DataFrame, Hierarchy, int, float]:
    """Every level's backtest of spec ``name``, its frame of every level, the hierarchy, the season length and
    the wall time."""
    spec = load_spec(REPO / "experiments" / "specs" / f"{name}.toml")
    data = load_dataset(spec)
    levels, rules = HIERARCHIES[name]
    hierarchy = from_rules(data.frame.get_column(ID).unique(maintain_order=True), levels, rules)
    every = level_data(data, hierarchy)
    settings = forecast_settings(spec)
    models = build_models(spec)
    assert spec.backtest is not None and settings.bounds is not None
    provider = exog_provider(spec, every, oracle=spec.backtest.oracle_exog)
    lower, upper = settings.bounds.lower, settings.bounds.upper
    started = time.perf_counter()
    parts = []
    sizes = every.frame.join(hierarchy.level_frame(), on=ID, how="left")
    for (n,), part in sizes.partition_by(SIZE, as_dict=True, maintain_order=True).items():
        bounds = Bounds(None if lower is None else lower * n, None if upper is None else upper * n)
        frame = part.drop(LEVEL, SIZE)
        parts.append(backtest(frame, models, settings.replace(bounds=bounds), exog_provider=provider))
        print(f"  {name}: backtest of the {part[ID].n_unique()} series of {n} bottom series each done", flush=True)
    return pl.concat(parts, how="vertical"), every.frame, hierarchy, spec.season_length, time.perf_counter() - started


def level_scores(frame: pl.DataFrame, history: pl.DataFrame, hierarchy: Hierarchy, m: int) -> pl.DataFrame:
    """Mean MASE and MAE over each level's series, per model (``model`` split into base model and method)."""
    per = evaluate(frame, history, m)["per_series"].join(hierarchy.level_frame(), on=ID, how="left")
    parts = pl.col(MODEL).str.split_exact("/", 1)
    return (
        per.with_columns(
            parts.struct.field("field_0").alias("base_model"), parts.struct.field("field_1").alias("method")
        )
        .with_columns(pl.col("method").fill_null("base"))
        .group_by(LEVEL, "base_model", "method")
        .agg(
            pl.len().alias("series"),
            pl.col("n").sum().alias("points"),
            pl.col("mase").mean(),
            pl.col("mae").mean(),
        )
    )


def run_spec(name: str) -> list[dict[str, Any]]:
    bt, history, hierarchy, m, seconds = level_backtest(name)
    min_windows = MIN_WINDOWS[name]
    bounds = Bounds(0.0, 24.0)
    bu = reconcile_backtest(bt, hierarchy, "bottom_up", bounds=bounds)
    mint = reconcile_backtest(bt, hierarchy, "mint_shrink", min_windows=min_windows, bounds=bounds)
    scored = sorted(mint.get_column(CUTOFF).unique())
    same = pl.col(CUTOFF).is_in(scored)
    frames = {"base": bt.filter(same), "bottom_up": bu.filter(same), "mint_shrink": mint}
    gaps = {k: coherence_gap(v, hierarchy) for k, v in frames.items() if k != "base"}
    lambdas = {
        model: shrunk_covariance(residual_matrix(bt, hierarchy, model))[1] for model in bt[MODEL].unique().sort()
    }
    scores = pl.concat([level_scores(f, history, hierarchy, m) for f in frames.values()], how="vertical")
    order = {level: k for k, level in enumerate(hierarchy.levels)}
    rows = []
    for r in scores.sort(pl.col(LEVEL).replace_strict(order), "base_model", "method").iter_rows(named=True):
        rows.append(
            {
                "spec": name,
                "level": r[LEVEL],
                "series": r["series"],
                "model": r["base_model"],
                "method": r["method"],
                "mase": r["mase"],
                "mae": r["mae"],
                "points": r["points"],
                "scored_windows": len(scored),
                "min_windows": min_windows,
                "max_coherence_gap": gaps.get(r["method"]),
                "shrinkage_all_windows": lambdas[r["base_model"]],
                "backtest_seconds": round(seconds, 1),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """One line per (spec, level, model): MASE and MAE of base, bottom-up and MinT-shrink."""
    table: dict[tuple[str, str, str, int], dict[str, dict[str, float]]] = {}
    for r in rows:
        table.setdefault((r["spec"], r["level"], r["model"], r["series"]), {})[r["method"]] = r
    head = (
        "| spec | level (series) | model | MASE base | MASE bottom-up | MASE MinT-shrink | MAE base | MAE bottom-up |"
    )
    head += " MAE MinT-shrink |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    lines = [head]
    for (spec, level, model, series), by in table.items():
        mase = [by[m]["mase"] for m in METHODS]
        mae = [by[m]["mae"] for m in METHODS]
        best = f"{min(mase):.3f}"  # bold the best of each row as printed (ties: all of them)
        cells = [f"**{v:.3f}**" if f"{v:.3f}" == best else f"{v:.3f}" for v in mase] + [f"{v:.3f}" for v in mae]
        lines.append(f"| {spec} | {level} ({series}) | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=list(SPECS), choices=SPECS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [row for name in args.specs for row in run_spec(name)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
