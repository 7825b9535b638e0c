"""Backtest and forecast jobs: spec → data → models → outputs in ``out/<spec>/<as-of>/`` → MLflow.

Order matters for honest failure: the spec and every input are validated before anything is written, so bad input
leaves no output folder and no tracking store behind (exit 2). Outputs are written into a temporary sibling folder
and renamed into place, so a killed job leaves nothing half-written. Tracking runs after the outputs exist; if the
store is unavailable the outputs are kept and the job reports it (exit 3).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import polars as pl

from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.spec import ExperimentSpec, load_spec, spec_hash
from experiments.text import table
from features.contract import FALLBACK, ID, MODEL, SCENARIO
from forecast.backtest import backtest
from forecast.conformal import conformal_per_model
from forecast.core import forecast_frame, future_grid
from forecast.exog import make_provider
from forecast.metrics import evaluate
from forecast.models.base import Forecaster
from forecast.models.registry import model_factory

Kind = Literal["backtest", "forecast"]
SCENARIO_NAME = "last_value"  # future inputs carried forward; named scenarios arrive with DESIGN §6
LEADERBOARD_METRICS = ("mase", "smape", "owa", "mae", "rmse", "bias", "crps", "coverage-80", "coverage-95")


@dataclass
class JobResult:
    """What a job produced: where, how the models ranked, which failed, and the tracking outcome."""

    kind: Kind
    spec: str
    as_of: str
    out_dir: Path
    leaderboard: pl.DataFrame
    gaps: str
    failed_models: list[str] = field(default_factory=list)
    all_failed: bool = False
    run_id: str | None = None
    tracking_uri: str | None = None
    tracking_error: str | None = None
    n_requests: int = 0  # requests made through the tracker (the pyfunc model's own requests not included)
    tracking_s: float = 0.0  # wall time spent logging to MLflow

    def report(self) -> str:
        """A short human-readable summary with the leaderboard (best first)."""
        lines = [f"{self.kind} {self.spec} as of {self.as_of}: outputs in {self.out_dir}", f"data: {self.gaps}"]
        if self.leaderboard.height:
            lines.append("leaderboard (backtest, best first):")
            lines.append(table(self.leaderboard))
        if self.failed_models:
            lines.append(f"fell back on some series: {', '.join(self.failed_models)}")
        if self.run_id:
            lines.append(f"MLflow run {self.run_id} in {self.tracking_uri} ({self.n_requests} requests)")
        return "\n".join(lines)


def build_models(spec: ExperimentSpec) -> dict[str, Callable[[], Forecaster]]:
    """Model factories by display name (``[models.NAME]``; ``kind`` picks the class, default NAME)."""
    out = {}
    for name in spec.models:
        kind, _, params = split_params(spec, name)
        out[name] = model_factory(kind, params)
    return out


def split_params(spec: ExperimentSpec, name: str) -> tuple[str, str, dict]:
    """(registry kind, transform, model params) of ``[models.NAME]``."""
    params = dict(spec.models[name])
    kind = params.pop("kind", name)
    transform = params.pop("transform", None) or spec.target.transform
    return kind, transform, params


def model_config(spec: ExperimentSpec, name: str, exog: list[str]) -> dict:
    """Everything a logged model needs to forecast again (see experiments.tracking.pyfunc)."""
    kind, transform, params = split_params(spec, name)
    b = spec.target.bounds
    return {
        "name": name,
        "kind": kind,
        "params": params,
        "transform": transform,
        "freq": spec.freq,
        "exog": exog,
        "bounds": [b.lower, b.upper],
        "fallback": spec.fallback,
        "season_length": spec.season_length,
        "h": spec.forecast.h,
        "level": list(spec.forecast.level),
        "quantiles": list(spec.forecast.quantiles),
        "thresholds": list(spec.forecast.thresholds),
        "exog_providers": dict(spec.exog_providers),
    }


def run_job(config: str | Path, *, kind: Kind, out_root: str | Path = "out", track: bool = True) -> JobResult:
    """Run a backtest or forecast job from a spec file; see the module docstring for the order of work."""
    spec = load_spec(config)
    data = load_dataset(spec)  # every DataError surfaces here, before anything is written
    models = build_models(spec)
    as_of = str(data.as_of)
    final = Path(out_root) / spec.name / as_of
    tmp = final.parent / f".{as_of}.tmp-{os.getpid()}"
    common = dict(
        freq=spec.freq,
        exog=data.exog,
        bounds=spec.target.bounds,
        fallback=spec.fallback,
        season_length=spec.season_length,
        level=spec.forecast.level,
        quantiles=spec.forecast.quantiles or None,
        thresholds=spec.forecast.thresholds or None,
        transform={name: split_params(spec, name)[1] for name in spec.models},
    )

    bt = per_series = per_step = overall = None
    if spec.backtest is not None:
        b = spec.backtest
        provider = make_provider(dict(spec.exog_providers), oracle_exog=b.oracle_exog, full=data.frame)
        bt = backtest(
            data.frame,
            models,
            b.h,
            b.n_windows,
            b.step,
            exog_provider=provider,
            input_size=b.input_size,
            refit_every=b.refit_every,
            **common,
        ).with_columns(pl.lit(SCENARIO_NAME).alias(SCENARIO))
        scores = evaluate(bt, data.frame, spec.season_length, naive2=_naive2(spec))
        per_series, per_step, overall = (stable(scores[k]) for k in ("per_series", "per_step", "overall"))
    fc = None
    if kind == "forecast":
        grid = future_grid(data.frame, spec.forecast.h, spec.freq)
        future = make_provider(dict(spec.exog_providers)).future(data.frame, grid, data.exog)
        # a backtest covering the horizon calibrates the intervals of models without their own (window_average)
        covers = bt is not None and spec.backtest is not None and spec.backtest.h >= spec.forecast.h
        calibration = bt if covers else None
        fc = forecast_frame(data.frame, models, spec.forecast.h, future_exog=future, calibration=calibration, **common)
        if spec.forecast.conformal and bt is not None:
            fc = _conformal(spec, bt, fc)
        fc = fc.with_columns(pl.lit(SCENARIO_NAME).alias(SCENARIO))
    produced = fc if fc is not None else bt
    failed, all_failed = _failures(produced, list(models))
    leaderboard = _leaderboard(overall, produced)

    tmp.mkdir(parents=True, exist_ok=True)
    try:
        _write_outputs(tmp, spec, data, bt, fc, per_series, per_step, overall, leaderboard)
        result = JobResult(kind, spec.name, as_of, final, leaderboard, data.gaps.summary(), failed, all_failed)
        if track:
            from experiments.tracking.job_log import JobOutputs, track_job

            outputs = JobOutputs(tmp, bt, fc, per_series, per_step, overall)
            track_job(result, spec, data, outputs)
        _publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _conformal(spec: ExperimentSpec, bt: pl.DataFrame, fc: pl.DataFrame) -> pl.DataFrame:
    """Every model's forecast intervals replaced by conformal ones from its backtest, under the model's own
    transform (``[models.NAME] transform``, else the target's)."""
    return conformal_per_model(
        fc,
        bt,
        {name: split_params(spec, name)[1] for name in spec.models},
        spec.forecast.level,
        quantiles=spec.forecast.quantiles or None,
        thresholds=spec.forecast.thresholds or None,
        bounds=spec.target.bounds,
    )


def stable(frame: pl.DataFrame, digits: int = 12) -> pl.DataFrame:
    """Metrics rounded to ``digits`` significant digits: Polars' parallel group sums can differ in the last bit
    from run to run, and the same spec and as-of must give byte-identical outputs."""
    return frame.with_columns(pl.col(c).round_sig_figs(digits) for c, t in frame.schema.items() if t == pl.Float64)


def _naive2(spec: ExperimentSpec) -> str | None:
    """The spec's Naive2 model (the OWA reference), if it has one."""
    return next((n for n in spec.models if split_params(spec, n)[0] == "naive2"), None)


def _failures(frame: pl.DataFrame, names: list[str]) -> tuple[list[str], bool]:
    """Models that fell back on at least one series, and whether every model fell back on every series."""
    per = frame.group_by(MODEL).agg(
        pl.col(FALLBACK).is_not_null().any().alias("some"), pl.col(FALLBACK).is_not_null().all().alias("all")
    )
    some = sorted(per.filter("some")[MODEL].to_list())
    every = set(per.filter("all")[MODEL].to_list())
    return some, bool(names) and all(n in every for n in names)


def _leaderboard(overall: pl.DataFrame | None, produced: pl.DataFrame) -> pl.DataFrame:
    fallbacks = produced.group_by(MODEL).agg(
        pl.col(ID).filter(pl.col(FALLBACK).is_not_null()).n_unique().alias("series_fallen_back")
    )
    if overall is None:
        return fallbacks.sort(MODEL)
    return (
        overall.select(MODEL, *[c for c in LEADERBOARD_METRICS if c in overall.columns])
        .join(fallbacks, on=MODEL, how="left")
        .sort("mase", nulls_last=True)
    )


def _write_outputs(
    tmp: Path, spec: ExperimentSpec, data: Dataset, bt, fc, per_series, per_step, overall, leaderboard: pl.DataFrame
) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def put(name: str, frame: pl.DataFrame | None) -> None:
        if frame is not None:
            path = tmp / name
            frame.write_parquet(path, statistics=False)
            files[name] = path

    put("forecast.parquet", fc)
    put("backtest.parquet", bt)
    put("metrics_per_series.parquet", per_series)
    put("metrics_per_step.parquet", per_step)
    put("metrics_overall.parquet", overall)
    leaderboard.write_csv(tmp / "leaderboard.csv")
    files["leaderboard.csv"] = tmp / "leaderboard.csv"
    (tmp / "spec.json").write_text(json.dumps(spec.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    files["spec.json"] = tmp / "spec.json"
    manifest = {
        "spec": spec.name,
        "spec_hash": spec_hash(spec),
        "as_of": str(data.as_of),
        "inputs": data.digests,
        "data_digest": data.digest,
        "models": list(spec.models),
        "scenario": SCENARIO_NAME,
        "gridcast_version": version("gridcast"),
        "files": sorted(files),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return files


def _publish(tmp: Path, final: Path) -> None:
    """Swap the finished folder into place (an older one for the same spec and as-of is replaced)."""
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
