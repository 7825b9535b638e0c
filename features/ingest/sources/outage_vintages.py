"""Outage schedules as they stood at a moment: the first-published statuses with the revisions made by then.

The operator publishes each day's schedule (usually the evening before) and often revises it, after strikes
even for hours already past. The replayed Dnipro files keep every version: ``dnipro_schedule_hourly_final.csv``
has each slot's ``status_first_published`` and when its day was first seen (``first_seen_utc``), and
``dnipro_schedule_revisions.csv`` one row per change of a slot between two snapshots (``snapshot_utc``, ``date``,
``queue``, ``hour_start``, ``old_status``, ``new_status``). The view at instant ``at``::

    status(slot, at) = new_status of the slot's last revision with snapshot_utc <= at,
                       else its status_first_published                     (days first seen after ``at``: absent)

Applying every revision gives ``status_final`` (checked on the Dec 2025 files: all 7,776 slots). A forecast job as
of day ``D`` reads the view at the end of ``D``, Kyiv time (:func:`end_of_day`): what a planner could have seen
that evening; a backtest trained on that view can be scored against the final schedules.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from features.contract import DS, ID, KYIV_TZ, ROW
from features.errors import DataError
from features.ingest.parse import fail_where, to_date, to_datetime_utc, to_float
from features.ingest.sources._common import check_unique, read_csv, regular_grid, require_not_empty
from features.ingest.sources.outages import OFF_HOURS, _slots_to_hourly

SLOT = ["date", "queue", "hour_start"]
REVISION_COLUMNS = ["snapshot_utc", *SLOT, "old_status", "new_status"]


def end_of_day(day: date | datetime) -> datetime:
    """The instant a job as of ``day`` reads the schedules at: the end of that Kyiv day (an instant is kept)."""
    if isinstance(day, datetime):
        return day
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(KYIV_TZ))


def _slots(frame: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """``date`` as a date and ``hour_start`` as a whole hour 0-23, checked; rows without a queue refused."""
    frame = to_date(frame, "date", source)
    frame = to_float(frame, "hour_start", source, required=True)
    hour = pl.col("hour_start")
    fail_where(frame, (hour < 0) | (hour > 23) | (hour % 1 != 0), source, "hour_start", "hour out of range", "0-23")
    fail_where(frame, pl.col("queue").is_null(), source, "queue", "missing queue", "a queue id like GPV1.1")
    return frame.with_columns(hour.cast(pl.Int64))


def _check_statuses(frame: pl.DataFrame, source: str | Path, columns: list[str]) -> None:
    for column in columns:
        fail_where(
            frame,
            pl.col(column).is_null() | ~pl.col(column).str.strip_chars().is_in(list(OFF_HOURS)),
            source,
            column,
            "unknown outage status",
            f"one of {', '.join(OFF_HOURS)}",
        )


def read_schedule_vintage(
    path: str | Path, revisions: str | Path, at: datetime | None = None, *, region: str = "dnipro"
) -> pl.DataFrame:
    """The hourly schedule per queue as it stood at ``at`` (None: after every revision, the final schedule), in the
    frame of :func:`~features.ingest.sources.outages.read_outage_schedule_hourly` (module docstring)."""
    slots = read_csv(path, [*SLOT, "status_first_published", "first_seen_utc"])
    require_not_empty(slots, path)
    slots = to_datetime_utc(_slots(slots, path), "first_seen_utc", path, naive_tz="UTC")
    _check_statuses(slots, path, ["status_first_published"])
    check_unique(slots, SLOT, path, "schedule slot")
    changes = read_csv(revisions, REVISION_COLUMNS)
    changes = to_datetime_utc(_slots(changes, revisions), "snapshot_utc", revisions, naive_tz="UTC")
    _check_statuses(changes, revisions, ["old_status", "new_status"])
    known = changes.join(slots.select(SLOT), on=SLOT, how="anti")
    if known.height:
        raise DataError(
            revisions,
            "revision of a slot the schedule file does not have",
            column="date",
            rows=known[ROW].head(5).to_list(),
            n_bad=known.height,
            expected=f"slots of {Path(path).name}",
            values=known["date"].head(5).to_list(),
        )
    if at is not None:
        cut = pl.lit(at).dt.convert_time_zone("UTC")
        slots = slots.filter(pl.col("first_seen_utc") <= cut)
        changes = changes.filter(pl.col("snapshot_utc") <= cut)
    if slots.height == 0:
        raise DataError(path, f"no schedule published by {at}", column="first_seen_utc", expected="an earlier as-of")
    latest = (
        changes.sort("snapshot_utc", maintain_order=True)
        .group_by(SLOT, maintain_order=True)
        .agg(pl.col("new_status").last().str.strip_chars().alias("_revised"))
    )
    status = pl.coalesce("_revised", pl.col("status_first_published").str.strip_chars()).alias("status")
    frame = slots.join(latest, on=SLOT, how="left", maintain_order="left").with_columns(status)
    hourly = _slots_to_hourly(frame.select(*SLOT, "status"), region, path)
    return regular_grid(hourly, "1h", path, what="hour").sort(ID, DS)
