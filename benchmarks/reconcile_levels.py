"""Does reconciliation help, level by level? Base forecasts vs bottom-up vs MinT-shrink on the real Dnipro queues and
the demo's regions (#9 item 5; ``docs/hierarchy.md``), through the job's own code.

Run from the repository root (needs ``../shared/data`` and the demo data, ``gridcast demo-data --out data/demo``)::

    nice -n 10 .venv/bin/python -m benchmarks.reconcile_levels              # dnipro, demo
    nice -n 10 .venv/bin/python -m benchmarks.reconcile_levels --specs dnipro

For each shipped spec with a ``[hierarchy]`` (dnipro: 12 queues → 6 queue groups → the city; demo: 24 regions →
the country) it runs what a backtest job runs (:func:`forecast.scenarios.coherent.coherent_backtest`): every
level's frame (sums of hours off, means of the inputs continued along the spec's ``[paths]``), each level part
backtested with its own bounds and calibration, reconciled bottom-up and MinT-shrink (MinT's covariance from the
errors of the earlier windows known at each cutoff only), every model scored on the windows every method
reconciled. The table is the job's ``reconciliation.parquet`` (:func:`forecast.scenarios.coherent.level_scores`):
mean MASE (m = 7, scale from each window's history) and MAE over each level's series, with the largest coherence
gap and MinT's shrinkage over every window added here.

Writes ``benchmarks/results/reconcile.json`` and prints a Markdown table.
"""

from __future__ import annotations

from benchmarks import _setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import json
import time
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.dataset import load_dataset
from experiments.inputs.hierarchy import build_hierarchy, every_level, every_level_truth
from experiments.inputs.settings import build_models, exog_provider, forecast_settings
from experiments.inputs.spec import load_spec
from experiments.inputs.vintages import rescored, scoring_truth
from features.contract import MODEL
from forecast.hierarchy import coherence_gap, residual_matrix, shrunk_covariance
from forecast.metrics import evaluate
from forecast.scenarios.coherent import coherent_backtest, level_scores

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "reconcile.json"
SPECS = ("dnipro", "demo")
METHODS = ("base", "bottom_up", "mint_shrink")


def run_spec(name: str) -> list[dict[str, Any]]:
    """The job's per-level table of spec ``name`` with the coherence gaps, MinT's shrinkage and the wall time."""
    spec = load_spec(REPO / "experiments" / "specs" / f"{name}.toml")
    assert spec.hierarchy is not None and spec.backtest is not None
    data = load_dataset(spec)
    hierarchy = build_hierarchy(spec.hierarchy, data.frame)
    every = every_level(data, hierarchy)
    settings = forecast_settings(spec)
    models = build_models(spec)
    provider = exog_provider(spec, every)
    started = time.perf_counter()
    scored, cal = coherent_backtest(
        every.frame, models, settings, provider, hierarchy, spec.hierarchy.methods,
        min_windows=spec.hierarchy.min_windows,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    truth = every_level_truth(scoring_truth(spec), hierarchy)
    scored = scored if truth is None else rescored(scored, truth)
    table = level_scores(evaluate(scored, every.frame, spec.season_length)["per_series"], hierarchy, list(models))
    gaps = {
        method: max(coherence_gap(scored.filter(pl.col(MODEL) == f"{m}/{method}"), hierarchy) for m in models)
        for method in spec.hierarchy.methods
    }
    assert cal.raw is not None
    lambdas = {m: shrunk_covariance(residual_matrix(cal.raw, hierarchy, m))[1] for m in models}
    windows = scored.get_column("cutoff").n_unique()
    return [
        {
            "spec": name,
            **{k: v for k, v in r.items() if k != "mase_change"},
            "mase_change": r["mase_change"],
            "scored_windows": windows,
            "min_windows": spec.hierarchy.min_windows,
            "max_coherence_gap": gaps.get(r["method"]),
            "shrinkage_all_windows": lambdas[r[MODEL]],
            "backtest_seconds": round(seconds, 1),
        }
        for r in table.iter_rows(named=True)
    ]


def markdown(rows: list[dict[str, Any]]) -> str:
    """One line per (spec, level, model): MASE and MAE of base, bottom-up and MinT-shrink."""
    table: dict[tuple[str, str, str, int], dict[str, dict[str, Any]]] = {}
    for r in rows:
        table.setdefault((r["spec"], r["level"], r[MODEL], r["series"]), {})[r["method"]] = r
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
