"""What a job writes into its output folder, and the summaries it prints: files, manifest, leaderboard, failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl

from experiments.inputs.dataset import Dataset
from experiments.inputs.spec import ExperimentSpec, spec_hash
from features.contract import DS, FALLBACK, ID, MODEL, SCENARIO
from forecast.exog import DEFAULT_SCENARIO
from forecast.output.nixtla import to_nixtla


@dataclass
class JobFrames:
    """The frames a job computed (None where its kind does not produce them)."""

    backtest: pl.DataFrame | None = None
    forecast: pl.DataFrame | None = None
    per_series: pl.DataFrame | None = None
    per_step: pl.DataFrame | None = None
    overall: pl.DataFrame | None = None
    interval_note: str | None = None  # set when calibrated intervals were asked for and could not be made
    regime: pl.DataFrame | None = None  # regime breaks of the target (forecast.regime): unique_id, kind, detail
    levels: pl.DataFrame | None = None  # with a [hierarchy]: unique_id, level, n_bottom, parent of every series
    reconciliation: pl.DataFrame | None = None  # with a [hierarchy]: per level, whether reconciliation helped
    history: pl.DataFrame | None = None  # with a [hierarchy]: every level's modelling frame (the fan charts' past)

    @property
    def rows(self) -> pl.DataFrame:
        """The rows that decide failure and plots: the forecast, else the backtest."""
        frame = self.forecast if self.forecast is not None else self.backtest
        assert frame is not None
        return frame

    @property
    def scenarios(self) -> list[str]:
        """The scenarios the job forecast under (the backtest's, for a backtest job), base first."""
        return _scenarios(self.files())

    def files(self) -> dict[str, pl.DataFrame | None]:
        """Output file name → frame."""
        return {
            "forecast.parquet": self.forecast,
            "backtest.parquet": self.backtest,
            "metrics_per_series.parquet": self.per_series,
            "metrics_per_step.parquet": self.per_step,
            "metrics_overall.parquet": self.overall,
            "levels.parquet": self.levels,
            "reconciliation.parquet": self.reconciliation,
        }


LEADERBOARD_METRICS = (
    "mase",
    "smape",
    "owa",
    "mae",
    "rmse",
    "bias",
    "crps",
    "winkler-80",
    "coverage-80",
    "coverage-95",
    "coverage-80-n",
)


def stable(frame: pl.DataFrame, digits: int = 12) -> pl.DataFrame:
    """Metrics rounded to ``digits`` significant digits: Polars' parallel group sums can differ in the last bit
    from run to run, and the same spec and as-of must give byte-identical outputs."""
    return frame.with_columns(pl.col(c).round_sig_figs(digits) for c, t in frame.schema.items() if t == pl.Float64)


def failures(frame: pl.DataFrame, names: list[str]) -> tuple[list[str], bool]:
    """Models that fell back on at least one series, and whether every model fell back on every series."""
    per = frame.group_by(MODEL).agg(
        pl.col(FALLBACK).is_not_null().any().alias("some"), pl.col(FALLBACK).is_not_null().all().alias("all")
    )
    some = sorted(per.filter("some")[MODEL].to_list())
    every = set(per.filter("all")[MODEL].to_list())
    return some, bool(names) and all(n in every for n in names)


def leaderboard(overall: pl.DataFrame | None, produced: pl.DataFrame) -> pl.DataFrame:
    """Models ranked by backtest MASE, with the other headline metrics and how many series fell back."""
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


def _scenarios(frames: dict[str, pl.DataFrame | None]) -> list[str]:
    """The scenarios in the forecast (else the backtest), in their order of appearance."""
    frame = frames.get("forecast.parquet")
    frame = frame if frame is not None else frames.get("backtest.parquet")
    if frame is None or SCENARIO not in frame.columns:
        return [DEFAULT_SCENARIO]
    return frame.get_column(SCENARIO).unique(maintain_order=True).to_list()


def write_outputs(
    folder: Path, spec: ExperimentSpec, data: Dataset, frames: dict[str, pl.DataFrame | None], board: pl.DataFrame
) -> dict[str, Path]:
    """Write ``frames`` (file name → frame; None skipped) as Parquet, the leaderboard and the resolved spec into
    ``folder``; returns file name → path. The manifest is written last, by :func:`write_manifest`."""
    files: dict[str, Path] = {}
    for name, frame in {**frames, **wide_frames(frames.get("forecast.parquet"))}.items():
        if frame is not None:
            frame.write_parquet(folder / name, statistics=False)
            files[name] = folder / name
    board.write_csv(folder / "leaderboard.csv")
    files["leaderboard.csv"] = folder / "leaderboard.csv"
    (folder / "spec.json").write_text(json.dumps(spec.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    files["spec.json"] = folder / "spec.json"
    return files


def wide_frames(forecast: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """The forecast in the Nixtla wide layout (:func:`forecast.output.nixtla.to_nixtla`), one file per scenario:
    ``forecast_wide.parquet`` for the base scenario, ``forecast_wide-<scenario>.parquet`` for each what-if;
    ``utilsforecast`` and ``statsforecast`` users read them as they are."""
    if forecast is None:
        return {}
    if SCENARIO not in forecast.columns:
        return {"forecast_wide.parquet": to_nixtla(forecast)}
    names = forecast.get_column(SCENARIO).unique(maintain_order=True).to_list()
    return {
        "forecast_wide.parquet" if i == 0 else f"forecast_wide-{name}.parquet": to_nixtla(forecast, scenario=name)
        for i, name in enumerate(names)
    }


VOLATILE = ("created", "run_id")
"""Manifest keys that differ between two runs of the same spec and as-of (everything else is byte-identical)."""


def write_manifest(
    folder: Path,
    spec: ExperimentSpec,
    data: Dataset,
    frames: dict[str, pl.DataFrame | None],
    job: dict[str, Any],
) -> Path:
    """``manifest.json``: what the folder holds and how it was made — spec and data digests, the selected model,
    h, levels, thresholds, scenarios, each file's rows, the forecast dates, plus ``job`` (kind, created, run id,
    notes). Keys are sorted so that two runs differ only in :data:`VOLATILE`."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "manifest.json")
    rows = {name: frame.height for name, frame in frames.items() if frame is not None}
    forecast = frames.get("forecast.parquet")
    manifest = {
        "spec": spec.name,
        "spec_hash": spec_hash(spec),
        "as_of": str(data.as_of),
        "inputs": data.digests,
        "data_digest": data.digest,
        "models": list(spec.models),
        "scenarios": _scenarios(frames),
        "h": spec.forecast.h,
        "levels": spec.forecast.level,
        "quantiles": spec.forecast.quantiles,
        "thresholds": spec.forecast.thresholds,
        "series": data.frame.get_column(ID).n_unique(),
        "rows": rows,
        "forecast_dates": None if forecast is None else _span(forecast),
        "gridcast_version": version("gridcast"),
        "files": [*files, "manifest.json"],
        **job,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path


def _span(frame: pl.DataFrame) -> list[str]:
    """The first and last forecast date."""
    ds = frame.get_column(DS)
    return [str(ds.min()), str(ds.max())]
