"""Forecast quality of the shipped specs: the gain the indicators bring and whether the intervals keep their promise.

Run from the repository root (needs the demo data, ``make demo-data``, and the real files in ``../shared/data``)::

    .venv/bin/python -m benchmarks.quality            # demo, dnipro, ua-dam
    .venv/bin/python -m benchmarks.quality --specs demo
    .venv/bin/python -m benchmarks.quality --specs dnipro,ua-dam --calibration-score normalised

For every spec it backtests the same models three ways, exactly as a job does (``experiments.jobs.run``: the
spec's backtest plan, its calibrated intervals, honest scoring): **with** the spec's indicators continued along
their raw-input ``[paths]`` (the shipped spec), with the same indicators **carried** forward after the cutoff by
the column providers (no ``[paths]``), and **without** any input (``exog = []``). Each row gives MASE, CRPS,
Winkler-80 and the coverage at 80 % and 95 % with the number of scored points and whether the coverage lies inside
the 95 % binomial band around the nominal level for that many points (``nominal ± 1.96·√(p(1 − p)/n)``; points of
one window are correlated, so the band is a lower bound on the true uncertainty). ``--calibration-score`` scores
every spec run with that ``[forecast] calibration_score`` instead of its own (``forecast/calibration.py``). Results go
to ``benchmarks/results/quality.json`` (the rows of the specs run replace theirs; the other specs' rows are kept) and a
Markdown table to stdout (docs/results.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.dataset import load_dataset
from experiments.inputs.settings import build_models, exog_provider, forecast_settings
from experiments.inputs.spec import ExperimentSpec, load_spec
from forecast.backtest import backtest
from forecast.calibration import calibrate_backtest
from forecast.metrics import evaluate
from forecast.settings import CALIBRATION_SCORES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "quality.json"
SPECS = ("demo", "dnipro", "ua-dam")


def variants(spec: ExperimentSpec) -> dict[str, ExperimentSpec]:
    """The shipped spec and its two ablations (see the module docstring)."""
    out = {"with": spec}
    if spec.paths:
        out["carried"] = spec.model_copy(update={"paths": {}})
    out["without"] = spec.model_copy(update={"exog": [], "paths": {}, "exog_providers": {}})
    return out


def band(nominal: float, n: int) -> tuple[float, float]:
    """The 95 % binomial band around ``nominal`` for ``n`` independent points."""
    half = 1.959963984540054 * math.sqrt(nominal * (1 - nominal) / n) if n else float("nan")
    return nominal - half, nominal + half


def score(spec: ExperimentSpec, calibration_score: str | None = None) -> tuple[pl.DataFrame, float, str | None]:
    """The overall metrics of one spec's calibrated backtest, its wall time and its interval note."""
    data = load_dataset(spec)
    settings = forecast_settings(spec)
    if calibration_score is not None:
        settings = settings.replace(calibration_score=calibration_score)
    models = build_models(spec)
    assert spec.backtest is not None
    started = time.perf_counter()
    provider = exog_provider(spec, data, oracle=spec.backtest.oracle_exog)
    raw = backtest(data.frame, models, settings, exog_provider=provider)
    scored, note = calibrate_backtest(raw, settings, list(models))
    overall = evaluate(scored, data.frame, spec.season_length)["overall"]
    return overall, time.perf_counter() - started, note


def rows_of(
    name: str, variant: str, overall: pl.DataFrame, seconds: float, note: str | None, calibration: str
) -> list[dict[str, Any]]:
    rows = []
    for r in overall.iter_rows(named=True):
        row: dict[str, Any] = {"spec": name, "variant": variant, "model": r["model"], "calibration": calibration}
        row["mase"] = r["mase"]
        row.update({k: r.get(k) for k in ("crps", "winkler-80")})
        for level in (80, 95):
            n = int(r.get(f"coverage-{level}-n") or 0)
            cov = r.get(f"coverage-{level}")
            low, high = band(level / 100, n)
            row[f"coverage-{level}"] = cov
            row[f"coverage-{level}-n"] = n
            row[f"inside-{level}"] = cov is not None and low <= cov <= high
        row.update(seconds=round(seconds, 1), interval_note=note)
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "| spec | inputs | model | MASE | CRPS | Winkler-80 | cov-80 (n) | cov-95 (n) | inside band 80 / 95 |"
    lines = [head, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:

        def fmt(v: Any, digits: int = 3) -> str:
            return "–" if v is None else f"{v:.{digits}f}"

        cov = [f"{fmt(r[f'coverage-{lv}'])} ({r[f'coverage-{lv}-n']:,})" for lv in (80, 95)]
        inside = " / ".join("yes" if r[f"inside-{lv}"] else "no" for lv in (80, 95))
        lines.append(
            f"| {r['spec']} | {r['variant']} | {r['model']} | {fmt(r['mase'])} | {fmt(r['crps'])} | "
            f"{fmt(r['winkler-80'], 2)} | {cov[0]} | {cov[1]} | {inside} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default=",".join(SPECS), help="comma-separated spec names (experiments/specs)")
    parser.add_argument(
        "--calibration-score",
        choices=CALIBRATION_SCORES,
        default=None,
        help="score every spec with this calibration_score instead of its own",
    )
    args = parser.parse_args(argv)
    names = args.specs.split(",")
    rows: list[dict[str, Any]] = []
    for name in names:
        spec = load_spec(REPO / "experiments" / "specs" / f"{name}.toml")
        for variant, vspec in variants(spec).items():
            overall, seconds, note = score(vspec, args.calibration_score)
            used = args.calibration_score or forecast_settings(vspec).calibration_score
            rows += rows_of(name, variant, overall, seconds, note, used)
            print(f"{name} {variant}: {seconds:.1f} s", flush=True)
    kept = [r for r in _stored() if r.get("spec") not in names]
    order = {name: i for i, name in enumerate([*SPECS, *names])}
    merged = sorted(kept + rows, key=lambda r: order.get(r["spec"], len(order)))
    RESULTS.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(markdown(rows))


def _stored() -> list[dict[str, Any]]:
    """The rows already in the results file (none when it is missing or unreadable)."""
    try:
        rows = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return []
    return rows if isinstance(rows, list) else []


if __name__ == "__main__":
    main()
