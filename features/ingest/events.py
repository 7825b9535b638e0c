"""Event logs → per-day aggregates (strike reports, air-raid alerts, any start/end log).

Two kinds of event are handled:

* **Point-dated events** (:func:`sum_by_day`): each event already carries the local calendar day it is counted on
  (for strike reports: the Kyiv date of the start of the attack window). Values are summed per series and day.
* **Interval events** (:func:`split_by_local_day`, :func:`interval_daily`): each event has a start and an end
  instant (UTC). Intervals are cut at local midnights (Europe/Kyiv by default, DST aware: local days have 23, 24
  or 25 hours), giving minutes covered per local day, the number of events that started on that day and,
  optionally, the number of flagged pieces per day.

Neither aggregation invents days without events. :func:`complete_days` does, and only when asked: it writes a
fill value (zero) for the days of a span that have no row. That is right **only** where the source states that a
missing row means nothing happened (a strike report lists every reported attack; the alert log lists every
siren), and only inside the span the source covers; every caller states that rule for its source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from features.contract import DS, ID, KYIV_TZ, UTC

_PIECE_START = "piece_start"
_PIECE_END = "piece_end"


def local_midnight_utc(day: pl.Expr, tz: str = KYIV_TZ) -> pl.Expr:
    """The UTC instant of local midnight at the start of a calendar ``day`` (a Date expression) in ``tz``.

    Midnight always exists in Europe/Kyiv (its DST shifts happen at 03:00/04:00 local), so this is unambiguous.
    """
    return (
        day.cast(pl.Datetime("us"))
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="raise")
        .dt.convert_time_zone(UTC)
    )


def local_date(instant: pl.Expr, tz: str = KYIV_TZ) -> pl.Expr:
    """The local calendar date (in ``tz``) of a UTC Datetime expression."""
    return instant.dt.convert_time_zone(tz).dt.date()


def sum_by_day(
    events: pl.DataFrame,
    *,
    day: str,
    values: Sequence[str],
    by: str = ID,
    count: str | None = "n_events",
) -> pl.DataFrame:
    """Sum point-dated events per series and day.

    ``day`` is a Date column holding the day each event is counted on (the caller decides which day: for strike
    reports, the local date of the attack window's start). Returns ``by``, ``ds`` (Date), the Float64 sums of
    ``values`` (nulls are skipped: a day whose values are all null sums to 0) and, when ``count`` is given, the
    number of events per day. Only days with at least one event appear; see :func:`complete_days`.
    """
    aggs = [pl.col(v).cast(pl.Float64).sum().alias(v) for v in values]
    if count is not None:
        aggs.append(pl.len().cast(pl.Float64).alias(count))
    return events.group_by(by, pl.col(day).alias(DS)).agg(aggs).sort(by, DS)


def split_by_local_day(
    events: pl.DataFrame, *, start: str, end: str, tz: str = KYIV_TZ, keep: Sequence[str] = ()
) -> pl.DataFrame:
    """Cut each interval [start, end) at local midnights into one piece per local day it touches.

    ``start`` and ``end`` are Datetime columns with a time zone (UTC in canonical frames) and ``end >= start``
    (the caller checks). Returns one row per piece with the ``keep`` columns, ``ds`` (the local Date),
    ``piece_start``/``piece_end`` (UTC), ``minutes`` (Float64, length of the piece in minutes, seconds kept as
    fractions) and ``starts_here`` (Boolean, the piece holding the event's start). A piece of zero length is kept
    only where the event starts (a zero-length event is still an event that started); an event ending exactly at
    midnight does not touch the next day.
    """
    first = local_date(pl.col(start), tz)
    last = local_date(pl.col(end), tz)
    pieces = (
        events.select(
            *keep, pl.col(start).alias("__s"), pl.col(end).alias("__e"), first.alias("__d0"), last.alias("__d1")
        )
        .with_columns(pl.date_ranges("__d0", "__d1", "1d").alias(DS))
        .explode(DS)
        .with_columns(local_midnight_utc(pl.col(DS), tz).alias("__lo"))
        .with_columns(local_midnight_utc(pl.col(DS).dt.offset_by("1d"), tz).alias("__hi"))
        .with_columns(
            pl.max_horizontal("__s", "__lo").alias(_PIECE_START),
            pl.min_horizontal("__e", "__hi").alias(_PIECE_END),
            (pl.col(DS) == pl.col("__d0")).alias("starts_here"),
        )
        .with_columns(((pl.col(_PIECE_END) - pl.col(_PIECE_START)).dt.total_microseconds() / 60e6).alias("minutes"))
    )
    return pieces.filter((pl.col("minutes") > 0) | pl.col("starts_here")).select(
        *keep, DS, _PIECE_START, _PIECE_END, "minutes", "starts_here"
    )


def interval_daily(
    events: pl.DataFrame,
    *,
    start: str,
    end: str,
    by: str = ID,
    flag: str | None = None,
    tz: str = KYIV_TZ,
    minutes: str = "minutes",
    started: str = "n_started",
    flagged: str = "n_flagged",
) -> pl.DataFrame:
    """Minutes covered and events started per series and local day, from interval events.

    Returns ``by``, ``ds`` (local Date) and Float64 columns ``minutes`` (minutes under an event that day; overlapping
    events of one series are added, not merged), ``started`` (events whose start falls on that day) and, when
    ``flag`` names a Boolean column, ``flagged`` (pieces of flagged events on that day). Only days touched by an
    event appear; see :func:`complete_days`.
    """
    keep = [by] if flag is None else [by, flag]
    pieces = split_by_local_day(events, start=start, end=end, tz=tz, keep=keep)
    aggs = [
        pl.col("minutes").sum().alias(minutes),
        pl.col("starts_here").sum().cast(pl.Float64).alias(started),
    ]
    if flag is not None:
        aggs.append(pl.col(flag).fill_null(False).sum().cast(pl.Float64).alias(flagged))
    return pieces.group_by(by, DS).agg(aggs).sort(by, DS)


def complete_days(
    frame: pl.DataFrame,
    *,
    start: date,
    end: date,
    ids: Sequence[str] | None = None,
    fill: float | None = 0.0,
    columns: Sequence[str] | None = None,
    by: str = ID,
) -> pl.DataFrame:
    """Add the missing days of [start, end] for every series and write ``fill`` into their value columns.

    **Rule**: call this only over a span where the source says that *no row means nothing happened* (e.g. the
    strike reports list every reported attack, so a day without a report had zero launches; the alert log lists
    every siren, so a region-day without a siren had zero alert minutes). Outside the source's span, or for
    sources where a missing row means "not observed", leave the gaps alone: missing targets stay null.

    ``ids`` defaults to the series present in ``frame``. ``columns`` (default: every column except ``by`` and
    ``ds``) receive ``fill`` on the added days only; existing rows are kept unchanged, including rows outside
    [start, end]. Returns the frame sorted by (``by``, ``ds``).
    """
    if ids is None:
        ids = frame[by].unique().sort().to_list()
    columns = [c for c in frame.columns if c not in (by, DS)] if columns is None else list(columns)
    days = pl.date_range(start, end, "1d", eager=True).alias(DS)
    grid = pl.DataFrame({by: pl.Series(by, list(ids), dtype=pl.String)}).join(days.to_frame(), how="cross")
    added = grid.join(frame.select(by, DS), on=[by, DS], how="anti").with_columns(
        pl.lit(fill, dtype=frame.schema[c]).alias(c) for c in columns
    )
    return pl.concat([frame, added], how="diagonal").sort(by, DS)
