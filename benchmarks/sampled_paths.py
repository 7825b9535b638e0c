"""Sampled strike paths on the demo (#10 item 1): do intervals that mix over sampled futures keep their promise?

Run from the repository root (needs the demo data, ``make demo-data``)::

    .venv/bin/python -m benchmarks.sampled_paths                 # every variant (about 20 minutes on 2 cores)
    .venv/bin/python -m benchmarks.sampled_paths --variants n50  # one

The demo spec's backtest (24 regions, 26 fortnightly windows, SARIMAX and seasonal naive, calibrated intervals)
where the future strikes are **not** known, scored honestly:

- ``deterministic``: today's job: the strikes continue on their baseline path, intervals conformal on the
  residuals of that backtest (``backtest`` + ``calibrate_backtest``);
- ``n<k>``: the strike paths sampled ``k`` times (``samples = k``, shared campaign multiplier), every model fitted
  once per window and predicting under each path, the mixture calibrated on the residuals given the true strikes
  (``forecast.scenarios.sampled_backtest``);
- ``no_campaign``: ``n50`` without the campaign multiplier (daily negative binomial draws only);
- ``own_campaigns``: ``n50`` with independent campaigns per column (different seeds);
- ``strikes_known``: the residuals given the true strikes, calibrated the same way: what the model could do if the
  strikes were known (a reference, not a forecast).

Each row: coverage at 80 / 95 % with the scored points and the 95 % Wilson band, MASE of ``mean`` and of the
mixture median ``q-0.5``, Winkler-80, CRPS and the wall time of the backtest (the sampled rows include the fits; the
ratio is to ``deterministic`` in the same run). Then the forecast at the as-of date under baseline, surge and
ceasefire, sampled and not: the mean 80 % width and the wall time. Results go to
``benchmarks/results/sampled_paths.json`` and a Markdown table to stdout (docs/forecasting.md §6c quotes it).
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

from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.settings import build_models, exog_provider, forecast_settings
from experiments.inputs.spec import ExperimentSpec, load_spec
from features.contract import MEAN, MODEL
from forecast.backtest import backtest
from forecast.calibration import calibrate_backtest, calibrate_forecast
from forecast.core import forecast_frame_with_state, future_grid
from forecast.metrics import evaluate
from forecast.scenarios import sampled_backtest, sampled_forecast

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sampled_paths.json"
STRIKES = ("launched_uav", "launched_missile")
VARIANTS = ("deterministic", "n20", "n50", "n100", "no_campaign", "own_campaigns")


def _sampled(path: Any, n: int, seed: int, campaign: bool) -> Any:
    """A strike path table with ``samples``; ``zero`` stays deterministic (a ceasefire has no uncertainty)."""
    if path == "zero":
        return path
    table = dict(path) if isinstance(path, dict) else {"path": path}
    return {**table, "samples": n, "seed": seed, "campaign": campaign}


def sampled_spec(spec: ExperimentSpec, n: int, *, campaign: bool = True, own: bool = False) -> ExperimentSpec:
    """The demo spec with its strike paths, and those of its scenarios, sampled ``n`` times (seed 7; ``own``: one
    seed per column, so each column has its own campaign)."""
    seeds = {c: 7 + (i if own else 0) for i, c in enumerate(STRIKES)}
    paths = {**spec.paths, **{c: _sampled(spec.paths.get(c, "baseline"), n, seeds[c], campaign) for c in STRIKES}}
    scenarios = {
        name: {c: _sampled(p, n, seeds[c], campaign) if c in STRIKES else p for c, p in table.items()}
        for name, table in spec.scenarios.items()
    }
    return spec.model_copy(update={"paths": paths, "scenarios": scenarios})


def _scores(frame: pl.DataFrame, data: Dataset, spec: ExperimentSpec) -> dict[str, dict[str, Any]]:
    overall = evaluate(frame, data.frame, spec.season_length)["overall"]
    at_median = frame.with_columns(pl.coalesce("q-0.5", MEAN).alias(MEAN))  # calibration windows: no q-0.5
    median = evaluate(at_median, data.frame, spec.season_length)["overall"]
    mase_median = dict(zip(median[MODEL], median["mase"], strict=True))
    out = {}
    for r in overall.iter_rows(named=True):
        row: dict[str, Any] = {k: r.get(k) for k in ("mase", "winkler-80", "crps")}
        row["mase_median"] = mase_median[r[MODEL]]
        for level in (80, 95):
            for suffix in ("", "-n", "-lo", "-hi"):
                row[f"coverage-{level}{suffix}"] = r.get(f"coverage-{level}{suffix}")
        out[r[MODEL]] = row
    return out


def run_backtests(
    spec: ExperimentSpec, data: Dataset, variants: list[str], kept: dict[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Every requested backtest variant (module docstring), each scored and timed; ``kept`` gets the deterministic
    raw backtest (``raw``) and the last sampled one's residuals given the true strikes (``conditioned``)."""
    settings = forecast_settings(spec)
    models = build_models(spec)
    names = list(models)
    rows: list[dict[str, Any]] = []
    base_seconds = None
    for variant in variants:
        started = time.perf_counter()
        if variant == "deterministic":
            raw = kept["raw"] = backtest(data.frame, models, settings, exog_provider=exog_provider(spec, data))
            frame, _ = calibrate_backtest(raw, settings, names)
            samples, extra = 0, None
        else:
            n = int(variant[1:]) if variant[1:].isdigit() else 50
            sspec = sampled_spec(spec, n, campaign=variant != "no_campaign", own=variant == "own_campaigns")
            result = sampled_backtest(data.frame, models, settings, exog_provider(sspec, data))
            frame, samples = result.frame, result.samples
            kept["conditioned"] = result.conditioned
            extra = calibrate_backtest(result.conditioned, settings, names)[0]
        seconds = time.perf_counter() - started
        base_seconds = seconds if variant == "deterministic" else base_seconds
        for label, scored in [(variant, frame), *([("strikes_known", extra)] if variant == "n50" else [])]:
            for model, row in _scores(scored, data, spec).items():
                ratio = seconds / base_seconds if base_seconds and label == variant else None
                rows.append(
                    {"variant": label, "samples": samples, "model": model, **row, "seconds": seconds, "ratio": ratio}
                )
        print(f"{variant}: {seconds:.1f} s", flush=True)
    return rows


def run_forecasts(
    spec: ExperimentSpec, data: Dataset, kept: dict[str, pl.DataFrame], n: int = 50
) -> list[dict[str, Any]]:
    """The as-of forecast under baseline, surge and ceasefire, without and with sampling: widths and time."""
    settings = forecast_settings(spec)
    models = build_models(spec)
    names = list(models)
    h = spec.forecast.h
    raw, conditioned = kept["raw"], kept["conditioned"]
    sspec = sampled_spec(spec, n)
    rows = []
    for label, use in (("deterministic", spec), (f"n{n}", sspec)):
        state: dict[str, Any] = {}
        for i, scenario in enumerate(["baseline", "surge", "ceasefire"]):
            provider = exog_provider(use, data, scenario=scenario)
            started = time.perf_counter()
            if label == "deterministic":
                future = provider.future(data.frame, future_grid(data.frame, h, spec.freq), data.exog)
                fc = forecast_frame_with_state(
                    data.frame, models, h, settings, future_exog=future, state=state, refit=i == 0
                )
                fc = calibrate_forecast(fc, raw, settings, names)
            else:
                provider.scenario = scenario
                fc = sampled_forecast(data.frame, models, h, settings, provider, conditioned, state=state, refit=i == 0)
            seconds = time.perf_counter() - started
            sar = fc.filter(pl.col(MODEL) == "sarimax")
            rows.append(
                {
                    "variant": label,
                    "scenario": scenario,
                    "seconds": seconds,
                    "mean": sar[MEAN].mean(),
                    "width-80": (sar["hi-80"] - sar["lo-80"]).mean(),
                    "width-95": (sar["hi-95"] - sar["lo-95"]).mean(),
                }
            )
            print(f"forecast {label} {scenario}: {seconds:.1f} s", flush=True)
    return rows


def markdown(rows: list[dict[str, Any]], forecasts: list[dict[str, Any]]) -> str:
    """The tables docs/forecasting.md §6c quotes."""

    def cov(r: dict[str, Any], lv: int) -> str:
        return f"{r[f'coverage-{lv}']:.3f} [{r[f'coverage-{lv}-lo']:.3f}, {r[f'coverage-{lv}-hi']:.3f}]"

    lines = [
        "| variant | n | coverage 80 [Wilson 95 %] | coverage 95 [Wilson 95 %] | MASE mean / median | Winkler-80 "
        "| CRPS | wall s (× det.) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if r["model"] != "sarimax":
            continue
        ratio = f" ({r['ratio']:.2f}×)" if r["ratio"] else ""
        lines.append(
            f"| {r['variant']} | {r['samples']} | {cov(r, 80)} | {cov(r, 95)} | {r['mase']:.3f} / "
            f"{r['mase_median']:.3f} | {r['winkler-80']:.2f} | {r['crps']:.3f} | {r['seconds']:.0f}{ratio} |"
        )
    lines += [
        "",
        "| forecast | scenario | mean h | 80 % width | 95 % width | wall s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in forecasts:
        lines.append(
            f"| {f['variant']} | {f['scenario']} | {f['mean']:.2f} | {f['width-80']:.2f} | {f['width-95']:.2f} "
            f"| {f['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-forecast", action="store_true", help="skip the scenario forecasts")
    args = parser.parse_args()
    spec = load_spec(REPO / "experiments" / "specs" / "demo.toml")
    data = load_dataset(spec)
    variants = ["deterministic", *[v for v in args.variants if v != "deterministic"]]  # the time reference first
    kept: dict[str, pl.DataFrame] = {}
    rows = run_backtests(spec, data, variants, kept)
    forecasts = [] if args.no_forecast or "conditioned" not in kept else run_forecasts(spec, data, kept)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"backtest": rows, "forecast": forecasts}, indent=2) + "\n", encoding="utf-8")
    print(markdown(rows, forecasts))


if __name__ == "__main__":
    main()
