"""Speed of a scenario forecast: each model fitted once for every scenario against one fit per scenario.

Run from the repository root (needs the demo data, ``make demo-data``)::

    .venv/bin/python -m benchmarks.bench_scenarios            # the demo spec: 24 regions, 4 scenarios
    .venv/bin/python -m benchmarks.bench_scenarios --specs demo,dnipro --repeats 3

Both arms forecast the spec's models under every scenario of the spec from the same data, inputs and settings, in
one process and alternating (``refit``, ``once``, ``refit``, …) so that the shared machine's load falls on both:

- **refit** (the named baseline, the job before this change): ``forecast_frame`` per scenario, every model fitted
  anew each time;
- **once** (the job now, ``experiments.jobs.compute``): the first scenario fits, the others re-condition the fitted
  model (``refit=False``) and forecast under their own inputs.

Reported: the median wall time of each arm, the ratio refit / once, and the largest difference between the two
arms' forecasts (means and intervals), which must be rounding only. Results: ``benchmarks/results/scenarios.json``.
"""

from __future__ import annotations

from benchmarks import _setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.dataset import load_dataset
from experiments.inputs.settings import build_models, exog_provider, forecast_settings, scenario_names
from experiments.inputs.spec import load_spec
from forecast.core import forecast_frame, forecast_frame_with_state, future_grid

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scenarios.json"


def run_arm(arm: str, data: Any, models: Any, settings: Any, futures: dict[str, pl.DataFrame], h: int) -> Any:
    """Forecast every scenario one way; returns the frames and the wall time."""
    started = time.perf_counter()
    frames = []
    state: dict[str, Any] = {}
    for i, future in enumerate(futures.values()):
        if arm == "refit":
            frames.append(forecast_frame(data.frame, models, h, settings, future_exog=future))
        else:
            frames.append(
                forecast_frame_with_state(
                    data.frame, models, h, settings, future_exog=future, state=state, refit=i == 0
                )
            )
    return frames, time.perf_counter() - started


def bench(name: str, repeats: int) -> dict[str, Any]:
    spec = load_spec(REPO / "experiments" / "specs" / f"{name}.toml")
    data = load_dataset(spec)
    settings = forecast_settings(spec)
    models = build_models(spec)
    grid = future_grid(data.frame, spec.forecast.h, spec.freq)
    futures = {
        s: exog_provider(spec, data, scenario=s).future(data.frame, grid, data.exog) for s in scenario_names(spec)
    }
    times: dict[str, list[float]] = {"refit": [], "once": []}
    frames: dict[str, Any] = {}
    for _ in range(repeats):
        for arm in ("refit", "once"):
            frames[arm], seconds = run_arm(arm, data, models, settings, futures, spec.forecast.h)
            times[arm].append(seconds)
    cols = [c for c in frames["once"][0].columns if c == "mean" or c.startswith(("lo-", "hi-"))]
    diff = max(
        float((a.select(cols) - b.select(cols)).select(pl.all().abs().max()).max_horizontal().max() or 0.0)
        for a, b in zip(frames["refit"], frames["once"], strict=True)
    )
    refit, once = statistics.median(times["refit"]), statistics.median(times["once"])
    return {
        "spec": name,
        "series": data.frame.get_column("unique_id").n_unique(),
        "models": list(models),
        "scenarios": list(futures),
        "repeats": repeats,
        "refit_s": round(refit, 2),
        "once_s": round(once, 2),
        "ratio_refit_over_once": round(refit / once, 2),
        "max_abs_difference": diff,
        "all_s": {arm: [round(t, 2) for t in ts] for arm, ts in times.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="demo", help="comma-separated spec names (experiments/specs)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [bench(name, args.repeats) for name in args.specs.split(",")]
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    for r in rows:
        print(
            f"{r['spec']}: {len(r['scenarios'])} scenarios × {len(r['models'])} models × {r['series']} series: "
            f"refit {r['refit_s']} s, once {r['once_s']} s (×{r['ratio_refit_over_once']}); "
            f"max |difference| {r['max_abs_difference']:.2e}"
        )


if __name__ == "__main__":
    main()
