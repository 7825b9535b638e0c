"""Turn a spec's data section into one canonical frame: target + aligned inputs + indicators.

Order of work (each step raises DataError naming the file, column and rows): read every source with its reader;
validate the target against the contract (bounds, duplicates, as-of, regular grid), subset its series, put it on
its regular grid and report missing periods (left as nulls); compute indicators on each input source over its full
history up to the as-of date (so decays are warmed up); attach the used input columns to the target grid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from experiments.spec import (
    AlertsSource,
    ExperimentSpec,
    MarketSource,
    OutageScheduleSource,
    SourceSpec,
    SpecError,
    StrikeReportsSource,
    TableSource,
    WeatherDailySource,
)
from features import sources
from features.align import attach
from features.contract import DS, ID, ROW, Y
from features.errors import DataError
from features.events import complete_days
from features.indicators import IndicatorSpec, add_indicators, validate_indicator_specs
from features.table import read_table
from features.validate import GapReport, gap_report, regularize, validate_long


@dataclass
class Dataset:
    """The modelling frame (unique_id, ds, y, exog...) and what went into it."""

    frame: pl.DataFrame
    exog: list[str]
    gaps: GapReport
    as_of: date
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """One digest over every input file's sha256 (for run tags and manifests)."""
        blob = "\n".join(f"{k}={v}" for k, v in sorted(self.digests.items()))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_files(src: SourceSpec) -> list[Path]:
    """The files a source reads."""
    return [src.path, src.weapons] if isinstance(src, StrikeReportsSource) else [src.path]


def read_source(src: SourceSpec, freq: str) -> pl.DataFrame:
    """Read one source into a canonical long frame with its reader."""
    if isinstance(src, TableSource):
        return read_table(
            src.path,
            freq=freq,
            columns=src.columns,
            values=src.values,
            series_id=src.series_id,
            fmt=src.format,
            date_format=src.date_format,
        )
    if isinstance(src, StrikeReportsSource):
        return sources.read_strike_reports(src.path, src.weapons)
    if isinstance(src, AlertsSource):
        return sources.read_alerts(src.path, max_duration_hours=src.max_duration_hours)
    if isinstance(src, OutageScheduleSource):
        if src.reader == "outage_schedule_json":
            hourly = sources.read_outage_schedule_json(src.path, region=src.region)
        else:
            hourly = sources.read_outage_schedule_hourly(src.path, region=src.region)
        return sources.daily_hours_off(hourly) if freq == "1d" else hourly
    if isinstance(src, WeatherDailySource):
        if src.reader == "kyiv_temperature":
            return sources.read_kyiv_temperature(src.path)
        return sources.read_openmeteo_daily(src.path)
    if isinstance(src, MarketSource):
        hourly = sources.read_dam(src.path)
        return sources.dam_daily(hourly) if src.reader == "dam_daily" else hourly
    raise TypeError(f"no reader for {type(src).__name__}")  # pragma: no cover - the spec's union is closed


def load_target(spec: ExperimentSpec, raw: pl.DataFrame) -> tuple[pl.DataFrame, date]:
    """Validate, subset and regularize the target; return it with the effective as-of date."""
    src = spec.sources[spec.target.source]
    path = src.path
    if spec.target.column not in raw.columns:
        raise SpecError(
            "spec",
            "target.column",
            f"{spec.target.column!r} is not produced by source "
            f"{spec.target.source!r} ({path}); it has: {', '.join(c for c in raw.columns if c not in (ID, DS, ROW))}",
        )
    keep = [c for c in (ROW,) if c in raw.columns]
    frame = raw.select(*keep, ID, DS, pl.col(spec.target.column).cast(pl.Float64).alias(Y))
    frame = validate_long(frame, path, freq=spec.freq, values=[Y], bounds={Y: spec.target.bounds}, as_of=spec.as_of)
    if spec.target.series:
        known = set(frame[ID].unique().to_list())
        unknown = [s for s in spec.target.series if s not in known]
        if unknown:
            raise DataError(
                path,
                f"series named in the spec key 'target.series' are not in the file: {', '.join(unknown[:5])}",
                column=ID,
                expected=f"ids such as {', '.join(sorted(known)[:5])}",
            )
        frame = frame.filter(pl.col(ID).is_in(spec.target.series))
    last = frame[DS].max()
    as_of = spec.as_of or (last.date() if isinstance(last, datetime) else last)
    # every series runs to the as-of date: a series whose last periods are missing gets null rows there (and is
    # forecast from the same origin as the others), never a forecast that starts early
    end = as_of if spec.freq == "1d" else frame[DS].max()
    return regularize(frame, spec.freq, end=end), as_of


def assign_indicators(spec: ExperimentSpec, raws: dict[str, pl.DataFrame]) -> dict[str, list[IndicatorSpec]]:
    """Give each indicator to the input source that holds its ``input`` column (or an earlier indicator's output
    on that source), keeping the spec's order so indicators can chain."""
    specs = validate_indicator_specs(spec.features)
    columns = {name: set(raw.columns) - {ID, DS, ROW} for name, raw in raws.items() if name != spec.target.source}
    mine: dict[str, list[IndicatorSpec]] = {name: [] for name in columns}
    for i, ind in enumerate(specs):
        owner = next((name for name, cols in columns.items() if ind.params.get("input") in cols), None)
        if owner is None:
            raise SpecError(
                spec.path,
                f"features[{i}].input",
                f"{ind.params.get('input')!r} is not a column of any "
                f"input source; inputs have: {', '.join(sorted(set().union(*columns.values())))}",
            )
        mine[owner].append(ind)
        columns[owner].add(ind.output)
    return mine


def load_dataset(spec: ExperimentSpec) -> Dataset:
    """Read, validate and align everything the spec names; no output is written here."""
    raws: dict[str, pl.DataFrame] = {}
    digests: dict[str, str] = {}
    for name, src in spec.sources.items():
        raws[name] = read_source(src, spec.freq)
        for f in source_files(src):
            digests[f"{name}:{Path(f).name}"] = file_digest(f)
    indicators = assign_indicators(spec, raws)
    target, as_of = load_target(spec, raws[spec.target.source])
    for name, src in spec.sources.items():
        if isinstance(src, StrikeReportsSource) and (src.complete_from or src.complete_through):
            first, last = raws[name][DS].min(), raws[name][DS].max()
            through = as_of if src.complete_through == "as_of" else src.complete_through
            start, end = min(first, src.complete_from or first), max(last, through or last)
            raws[name] = complete_days(raws[name], start=start, end=end, fill=0.0)
    frame = target
    produced: list[str] = []
    for name, src in spec.sources.items():
        if name == spec.target.source or not (src.use or indicators[name]):
            continue
        inputs = raws[name].drop(ROW, strict=False).filter(pl.col(DS) <= pl.lit(as_of))
        # indicators count periods, so the input goes on its regular grid first (missing periods as nulls)
        inputs = regularize(inputs, spec.freq)
        if indicators[name]:
            inputs = add_indicators(inputs, indicators[name])
        cols = list(src.use) + [ind.output for ind in indicators[name]]
        frame = attach(frame, inputs, cols, how=src.join, source=src.path, id_map=src.id_map)
        produced += cols
    missing = [c for c in spec.exog if c not in frame.columns]
    if missing:
        raise SpecError(
            spec.path,
            "exog",
            f"{missing[0]!r} is neither a source's `use` column nor an indicator "
            f"output; available: {', '.join(produced) or '(none)'}",
        )
    frame = frame.select(ID, DS, Y, *spec.exog)
    return Dataset(frame=frame, exog=list(spec.exog), gaps=gap_report(frame, Y), as_of=as_of, digests=digests)
