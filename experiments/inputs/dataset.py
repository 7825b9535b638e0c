"""Turn a spec's data section into one canonical frame: target + aligned inputs + indicators.

Order of work (each step raises DataError naming the file, column and rows): read every source with its reader;
validate the target against the contract (bounds, duplicates, as-of, regular grid), subset its series, put it on
its regular grid and report missing periods (left as nulls); check each source's freshness at the as-of (a stale
feed is a warning, or StaleFeedError with ``stale = "fail"``); fill the missing tail of an input that ends early
with a nowcast by its path (experiments/inputs/freshness.py); compute indicators on each input source over its full
history up to the as-of date (so decays are warmed up); attach the used input columns to the target grid.

The spec's data window is checked against the target's span before anything else is done with it: a ``start``
after the data, an ``end`` or ``as_of`` before it, an ``as_of`` more than ``forecast.h`` periods after the target's
last period, a ``target.series`` entry without rows in the window, and a backtest plan longer than the series are
each a SpecError naming the key, so a job stops in its data stage, before its lock or any output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from experiments.inputs.freshness import FeedStatus, describe_fills, feed_status, nowcast_tails, raise_if_stale
from experiments.inputs.sources import StrikeReportsSource, read_source
from experiments.inputs.spec import ExperimentSpec, SpecError
from features.contract import DAILY, DS, ID, ROW, Y, freq_step
from features.errors import DataError
from features.indicators import IndicatorSpec, add_indicators, validate_indicator_specs
from features.ingest.align import attach, check_coverage
from features.ingest.events import complete_days
from features.ingest.io import os_problem
from features.ingest.validate import GapReport, gap_report, regularize, validate_long
from forecast.settings import BacktestPlan


@dataclass
class Dataset:
    """The modelling frame (unique_id, ds, y, exog...) and what went into it."""

    frame: pl.DataFrame
    exog: list[str]
    gaps: GapReport
    as_of: date
    digests: dict[str, str] = field(default_factory=dict)
    features: pl.DataFrame | None = None  # the target with every input column and indicator, before selection
    # the raw input columns on each target series' grid over the inputs' whole history (before indicators), and the
    # indicators computed from them: what a future-path provider extends and recomputes
    inputs: pl.DataFrame | None = None
    indicators: list[IndicatorSpec] = field(default_factory=list)
    freshness: list[FeedStatus] = field(default_factory=list)  # every source's freshness at the as-of
    # one line per stale feed, strike feed not zero-filled and nowcast fill: for the job's log and manifest
    warnings: list[str] = field(default_factory=list)
    filled: dict[str, int] = field(default_factory=dict)  # input column → (series, period) values nowcast

    @property
    def digest(self) -> str:
        """One digest over every input file's sha256 (for run tags and manifests)."""
        blob = "\n".join(f"{k}={v}" for k, v in sorted(self.digests.items()))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (a DataError naming the file when it cannot be read)."""
    h = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise DataError(path, os_problem(exc)) from None
    return h.hexdigest()


def collapse(frame: pl.DataFrame, how: str | None) -> pl.DataFrame:
    """Sum or average every series into one called ``all`` (a period's value is null only if all series are)."""
    if how is None:
        return frame
    values = [c for c in frame.columns if c not in (ID, DS, ROW)]
    agg = [(pl.col(c).sum() if how == "sum" else pl.col(c).mean()).alias(c) for c in values]
    nulls = [pl.col(c).is_null().all().alias(f"__null_{c}") for c in values]
    out = frame.group_by(DS).agg(*agg, *nulls)
    out = out.with_columns(pl.when(pl.col(f"__null_{c}")).then(None).otherwise(pl.col(c)).alias(c) for c in values)
    return out.select(pl.lit("all").alias(ID), DS, *values).sort(DS)


def window(frame: pl.DataFrame, spec: ExperimentSpec) -> pl.DataFrame:
    """Cut a source to the spec's [start, end] data window and to its as-of date (inclusive).

    The as-of cut is what replays a past day from a full file: every source is read only up to the as-of (for
    hourly data, up to the end of that UTC day), so rows after it, good or bad, change nothing."""
    if spec.start is not None:
        frame = frame.filter(pl.col(DS) >= pl.lit(spec.start).cast(frame.schema[DS]))
    ends = [d for d in (spec.end, spec.as_of) if d is not None]
    if ends:
        end = min(ends)
        last = end if spec.freq == DAILY else datetime.combine(end, datetime.max.time(), tzinfo=UTC)
        frame = frame.filter(pl.col(DS) <= pl.lit(last).cast(frame.schema[DS]))
    return frame


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _empty_window(spec: ExperimentSpec, path: Path, full: pl.DataFrame) -> Exception:
    """Why the target has no rows in the spec's data window: the key that cuts everything away, or the file."""
    if full.height:
        first, last = _day(full[DS].min()), _day(full[DS].max())  # type: ignore[arg-type]
        span = f"the target's data ({path}) run from {first} to {last}"
        if spec.start is not None and spec.start > last:
            return SpecError(spec.path, "start", f"{spec.start} is after the data: {span}")
        if spec.end is not None and spec.end < first:
            return SpecError(spec.path, "end", f"{spec.end} is before the data: {span}")
        if spec.as_of is not None and spec.as_of < first:
            return SpecError(spec.path, "as_of", f"{spec.as_of} is before the data: {span}")
    when = f" on or before the as-of date {spec.as_of}" if spec.as_of else ""
    return DataError(path, f"no target rows{when}", column=DS, expected="at least one period to forecast from")


def _check_series(spec: ExperimentSpec, path: Path, frame: pl.DataFrame, full: pl.DataFrame) -> None:
    """Every series ``target.series`` names must have rows in the data window (and be in the file at all)."""
    known = set(frame[ID].unique().to_list())
    unknown = [s for s in spec.target.series if s not in known]
    if not unknown:
        return
    in_file = set(full[ID].unique().to_list()) if full.height else set()
    outside = [s for s in unknown if s in in_file]
    if outside:
        window = ", ".join(
            f"{k} {v}" for k, v in (("start", spec.start), ("end", spec.end), ("as_of", spec.as_of)) if v
        )
        raise SpecError(
            spec.path,
            "target.series",
            f"{', '.join(outside[:5])} ha{'ve' if len(outside) > 1 else 's'} no rows in the data window ({window}) "
            f"of {path}",
        )
    raise DataError(
        path,
        f"series named in the spec key 'target.series' are not in the file: {', '.join(unknown[:5])}",
        column=ID,
        expected=f"ids such as {', '.join(sorted(known)[:5])}",
    )


def _check_as_of(spec: ExperimentSpec, path: Path, last: date | datetime) -> None:
    """The as-of may lie at most ``forecast.h`` periods after the target's last period: beyond that, every period
    a forecast would cover lies after a stretch of missing target longer than the forecast itself."""
    if spec.as_of is None:
        return
    step = freq_step(spec.freq)
    end = datetime.combine(spec.as_of, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    start = last if isinstance(last, datetime) else datetime.combine(last, datetime.min.time(), tzinfo=UTC)
    gap = (end - start.replace(tzinfo=start.tzinfo or UTC) - step) // step
    if gap > spec.forecast.h:
        unit = "days" if spec.freq == DAILY else "hours"
        raise SpecError(
            spec.path,
            "as_of",
            f"{spec.as_of} is {gap} {unit} after the target's last period {last} ({path}); at most forecast.h = "
            f"{spec.forecast.h} {unit} (is the as-of date or the target file wrong?)",
        )


def load_target(spec: ExperimentSpec, raw: pl.DataFrame, full: pl.DataFrame | None = None) -> tuple[pl.DataFrame, date]:
    """Validate, subset and regularize the target; return it with the effective as-of date.

    ``raw``: the target source cut to the spec's data window; ``full``: the same before the cut (to say which key
    cut everything away). Errors name the file's column (``hours_off``, ``date``), not the canonical ``y``/``ds``."""
    src = spec.sources[spec.target.source]
    path, column = src.path, spec.target.column
    full = raw if full is None else full
    if column not in raw.columns or column in (ID, DS, ROW):
        have = ", ".join(c for c in raw.columns if c not in (ID, DS, ROW))
        raise SpecError(
            spec.path,
            "target.column",
            f"{column!r} is not produced by source {spec.target.source!r} ({path}); it has: {have}",
        )
    keep = [c for c in (ROW,) if c in raw.columns]
    frame = raw.select(*keep, ID, DS, pl.col(column).cast(pl.Float64))
    try:
        frame = validate_long(frame, path, freq=spec.freq, values=[column], bounds={column: spec.target.bounds})
    except DataError as exc:
        raise exc.with_column(src.file_column(exc.column) if exc.column else None) from None
    frame = frame.rename({column: Y})
    if frame.height == 0:
        raise _empty_window(spec, path, full)
    if spec.target.series:
        _check_series(spec, path, frame, full)
        frame = frame.filter(pl.col(ID).is_in(spec.target.series))
    last = frame[DS].max()
    _check_as_of(spec, path, last)  # type: ignore[arg-type]
    as_of = spec.as_of or _day(last)  # type: ignore[arg-type]
    # every series runs to the as-of date: a series whose last periods are missing gets null rows there (and is
    # forecast from the same origin as the others), never a forecast that starts early
    # (hourly series keep their own ends: M4-style collections end at different instants)
    return regularize(frame, spec.freq, end=as_of if spec.freq == DAILY else None), as_of


def check_plan(spec: ExperimentSpec, frame: pl.DataFrame) -> None:
    """Refuse a backtest plan the target's series are too short for, naming the spec key (before a job takes its
    lock or writes anything; the backtest itself checks the same: ``input_size`` periods, or ``season_length + 1``
    when expanding, before the first cutoff, plus every window's test periods)."""
    if spec.backtest is None or frame.height == 0:
        return
    b = spec.backtest
    plan = BacktestPlan(b.h, b.n_windows, b.step, b.input_size, b.refit_every)
    min_train = b.input_size if b.input_size is not None else spec.season_length + 1
    need = plan.required_length(min_train)
    lengths = frame.group_by(ID, maintain_order=True).len()
    short = lengths.filter(pl.col("len") < need).sort("len")
    if short.height:
        listed = ", ".join(f"{u} ({n})" for u, n in short.head(5).iter_rows())
        more = f" and {short.height - 5} more" if short.height > 5 else ""
        raise SpecError(
            spec.path,
            "backtest",
            f"{short.height} of {lengths.height} series too short for the plan (h={b.h}, n_windows={b.n_windows}, "
            f"step={plan.stride}, min training size={min_train}: need {need} periods, shortest: {listed}{more}); "
            "lower backtest.n_windows, step or h, or widen the data window",
        )


def referenced_columns(indicators: list[IndicatorSpec]) -> set[str]:
    """Every string parameter of the indicator specs: the input columns they read (other strings never match a
    column name, so they are harmless here)."""
    return {v for ind in indicators for k, v in ind.params.items() if isinstance(v, str) and k != "output"}


def _complete_strikes(
    spec: ExperimentSpec, raws: dict[str, pl.DataFrame], as_of: date, feeds: dict[str, FeedStatus]
) -> list[str]:
    """Widen a strike feed's zero-filled span where the spec says the feed is complete (see StrikeReportsSource):
    past its last report only while the feed is fresh. Returns a line per feed whose ``complete_through`` was not
    applied after its last report."""
    notes = []
    for name, src in spec.sources.items():
        if isinstance(src, StrikeReportsSource) and (src.complete_from or src.complete_through) and raws[name].height:
            first, last = raws[name][DS].min(), raws[name][DS].max()
            through = as_of if src.complete_through == "as_of" else src.complete_through
            if through is not None and through > last and feeds[name].status != "fresh":
                why = "the spec sets no max_age" if feeds[name].status == "no limit" else "the feed is stale"
                notes.append(f"{name}: not read as zeros after its last report {last}: {why}")
                through = None
            start, end = min(first, src.complete_from or first), max(last, through or last)
            raws[name] = complete_days(raws[name], start=start, end=end, fill=0.0)
    return notes


def _history_grid(
    target: pl.DataFrame, inputs: dict[str, pl.DataFrame], freq: str, end: date | datetime
) -> pl.DataFrame:
    """Each target series on one grid from the earliest period of any used input (or of the target) to ``end``:
    indicators are computed over the inputs' whole history so decays and windows are warmed up at the target's
    first period."""
    starts = [target[DS].min(), *(f[DS].min() for f in inputs.values())]
    span = pl.DataFrame({ID: target[ID].unique().sort()}).with_columns(
        pl.lit(min(starts)).cast(target.schema[DS]).alias("__s"), pl.lit(end).cast(target.schema[DS]).alias("__e")
    )
    rng = pl.date_ranges if freq == DAILY else pl.datetime_ranges
    return span.select(ID, rng("__s", "__e", interval=freq).alias(DS)).explode(DS)


def load_dataset(spec: ExperimentSpec) -> Dataset:
    """Read, validate and align everything the spec names; no output is written here.

    Inputs are cut at the as-of date and put on their regular grids; the used columns (a source's ``use`` list and
    every column an indicator reads) are joined onto the target series over the inputs' full history; indicators
    are computed there in the spec's order (so they may chain and combine columns of different sources); the
    result is cut to the target's periods, where every exogenous column must have a value.
    """
    raws: dict[str, pl.DataFrame] = {}
    digests: dict[str, str] = {}
    full_target = None
    for name, src in spec.sources.items():
        whole = collapse(read_source(src, spec.freq, spec.as_of), src.collapse)
        full_target = whole if name == spec.target.source else full_target
        raws[name] = window(whole, spec)
        for f in src.files():
            digests[f"{name}:{Path(f).name}"] = file_digest(f)
    indicators = validate_indicator_specs(spec.features)
    target, as_of = load_target(spec, raws[spec.target.source], full_target)
    feeds = {
        name: feed_status(name, src.path, raws[name], as_of, spec.freq, max_age=src.max_age_delta, policy=src.stale)
        for name, src in spec.sources.items()
    }
    raise_if_stale(list(feeds.values()), as_of)  # before anything else is done with the data
    warnings = [f.describe(as_of) for f in feeds.values() if f.status == "stale"]
    warnings += _complete_strikes(spec, raws, as_of, feeds)
    end = as_of if spec.freq == DAILY else target[DS].max()
    filled: dict[str, int] = {}
    wanted = referenced_columns(indicators)
    used: dict[str, pl.DataFrame] = {}
    origin: dict[str, Path] = {}  # column → the file it comes from, for coverage errors
    for name, src in spec.sources.items():
        if name == spec.target.source:
            continue
        cols = [c for c in raws[name].columns if c not in (ID, DS, ROW) and (c in src.use or c in wanted)]
        unknown = [c for c in src.use if c not in raws[name].columns]
        if unknown:
            raise SpecError(
                spec.path,
                f"sources.{name}.use",
                f"{unknown[0]!r} is not a column of this source; it has: "
                + ", ".join(c for c in raws[name].columns if c not in (ID, DS, ROW)),
            )
        if cols:
            frame = raws[name].select(ID, DS, *cols).filter(pl.col(DS) <= pl.lit(as_of))
            # indicators count periods: missing periods become nulls; a tail missing at the as-of is a nowcast
            frame, fills = nowcast_tails(
                regularize(frame, spec.freq), cols, end, spec.freq, spec.paths, spec.season_length
            )
            used[name] = frame
            warnings += describe_fills(name, fills, as_of, spec.freq)
            filled.update({f.column: f.cells for f in fills})
            origin.update({c: src.path for c in cols})
    history = _history_grid(target, used, spec.freq, end)
    for name, frame in used.items():
        src = spec.sources[name]
        cols = [c for c in frame.columns if c not in (ID, DS)]
        history = attach(history, frame, cols, how=src.join, source=src.path, id_map=src.id_map, check=False)
    inputs = history.sort(ID, DS)
    if indicators:
        history = add_indicators(inputs, indicators)
        for ind in indicators:
            sources_of = sorted({str(origin[c]) for c in referenced_columns([ind]) if c in origin})
            origin[ind.output] = Path(" + ".join(sources_of) or "indicator")
    available = [c for c in history.columns if c not in (ID, DS)]
    missing = [c for c in spec.exog if c not in available]
    if missing:
        raise SpecError(
            spec.path,
            "exog",
            f"{missing[0]!r} is neither a source's `use` column nor an indicator "
            f"output; available: {', '.join(available) or '(none)'}",
        )
    features = target.join(history, on=[ID, DS], how="left")
    for col in spec.exog:
        check_coverage(features, [col], origin[col])
    frame = features.select(ID, DS, Y, *spec.exog)
    check_plan(spec, frame)
    return Dataset(
        frame=frame,
        exog=list(spec.exog),
        gaps=gap_report(frame, Y),
        as_of=as_of,
        digests=digests,
        features=features,
        inputs=inputs,
        indicators=indicators,
        freshness=list(feeds.values()),
        warnings=warnings,
        filled=filled,
    )
