"""Air-raid alerts per oblast (Vadimkin/ukrainian-air-raid-sirens-dataset) → alert minutes and counts per Kyiv day.

Reads either the volunteer file (``region, started_at, finished_at, naive``) or the official file (``oblast, raion,
hromada, level, started_at, finished_at, source``); the format is recognised from the header. See docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from features.contract import DS, ID, ROW
from features.errors import DataError
from features.ingest.events import complete_days, interval_daily, local_date
from features.ingest.io import collect, scan
from features.ingest.parse import column_list, fail_where, to_datetime_utc
from features.ingest.sources._common import log, require_not_empty

VOLUNTEER_COLUMNS = ["region", "started_at", "finished_at", "naive"]
OFFICIAL_COLUMNS = ["oblast", "raion", "hromada", "level", "started_at", "finished_at"]
LEVELS = ("oblast", "raion", "hromada")
DAILY_COLUMNS = ["alert_minutes", "alerts_started", "naive_alerts"]

# Regions whose siren became permanent and is left out of the data by design (SOURCE.md): from this Kyiv date on,
# a day without a row is *not* a quiet day, so completion leaves it null. Crimea (permanent since 2022-12-10) has
# no rows at all in these files, so it yields no series.
PERMANENT_SIRENS: Mapping[str, date] = {"Luhanska oblast": date(2022, 4, 4)}


def _read_volunteer(lf: pl.LazyFrame, source: str | Path) -> pl.DataFrame:
    frame = collect(lf.select(ROW, pl.col("region").alias(ID), "started_at", "finished_at", "naive"), source)
    flag = pl.col("naive").str.strip_chars().str.to_lowercase()
    fail_where(
        frame,
        flag.is_null() | ~flag.is_in(["true", "false"]),
        source,
        "naive",
        "not a boolean",
        "True or False",
    )
    return frame.with_columns((flag == "true").alias("naive"))


def _fix_swapped_names(frame: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """The official file has a row whose ``oblast`` holds a raion and ``raion`` holds the oblast: swap them back."""
    swapped = pl.col("oblast").str.ends_with(" raion") & pl.col("raion").str.ends_with(" oblast")
    n = frame.select(swapped.fill_null(False).sum()).item()
    if n:
        rows = frame.filter(swapped.fill_null(False))[ROW].head(5).to_list()
        log.warning("%s: %d row(s) with oblast and raion swapped, swapped back: rows %s", source, n, rows)
        frame = frame.with_columns(
            pl.when(swapped).then(pl.col("raion")).otherwise(pl.col("oblast")).alias("oblast"),
            pl.when(swapped).then(pl.col("oblast")).otherwise(pl.col("raion")).alias("raion"),
        )
    return frame


def _read_official(lf: pl.LazyFrame, source: str | Path, level: str) -> pl.DataFrame:
    frame = collect(lf.select(ROW, *OFFICIAL_COLUMNS), source)
    frame = _fix_swapped_names(frame, source)
    fail_where(
        frame,
        pl.col("level").is_null() | ~pl.col("level").is_in(LEVELS),
        source,
        "level",
        "unknown alert level",
        f"one of {', '.join(LEVELS)}",
    )
    frame = frame.filter(pl.col("level") == level)
    parts = {"oblast": ["oblast"], "raion": ["oblast", "raion"], "hromada": ["oblast", "raion", "hromada"]}[level]
    for col in parts:
        fail_where(frame, pl.col(col).is_null(), source, col, f"missing {col} on a {level}-level alert")
    return frame.select(
        ROW, pl.concat_str(parts, separator="/").alias(ID), "started_at", "finished_at", naive=pl.lit(False)
    )


def read_alert_events(
    path: str | Path, *, max_duration_hours: float | None = None, level: str = "oblast"
) -> pl.DataFrame:
    """Parsed alerts: ``_row``, ``unique_id`` (oblast as in the file), ``start``/``end`` (Datetime UTC), ``naive``.

    The volunteer and official formats are told apart by their header. Official files: only alerts of ``level``
    are kept (``"oblast"`` by default; ``"raion"``/``"hromada"`` give ``oblast/raion[/hromada]`` ids, so alerts of
    different levels are never added into one series). ``max_duration_hours`` truncates longer alerts (missed end
    messages; SOURCE.md suggests ~24 h) and logs how many were cut. An alert ending before it starts is an error.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    lf = scan(path, "csv")
    have = lf.collect_schema().names()
    if all(c in have for c in VOLUNTEER_COLUMNS):
        frame = _read_volunteer(lf, path)
    elif all(c in have for c in OFFICIAL_COLUMNS):
        frame = _read_official(lf, path, level)
    else:
        raise DataError(
            path,
            "not an air-raid alert file",
            expected=f"the volunteer columns {VOLUNTEER_COLUMNS} or the official columns {OFFICIAL_COLUMNS} "
            f"(file has: {column_list([c for c in have if c != ROW])})",
        )
    require_not_empty(frame, path)
    fail_where(frame, pl.col(ID).is_null(), path, "region", "missing region", "a region name in every row")
    frame = to_datetime_utc(frame, "started_at", path, naive_tz="UTC", out="start")
    frame = to_datetime_utc(frame, "finished_at", path, naive_tz="UTC", out="end")
    fail_where(
        frame,
        pl.col("end") < pl.col("start"),
        path,
        "finished_at",
        "alert ends before it starts",
        "finished_at ≥ started_at",
    )
    if max_duration_hours is not None:
        frame = _cap_duration(frame, max_duration_hours, path)
    return frame.select(ROW, ID, "start", "end", "naive").sort(ID, "start", ROW)


def _cap_duration(frame: pl.DataFrame, hours: float, source: str | Path) -> pl.DataFrame:
    """Cut alerts longer than ``hours`` to that length (end = start + cap), logging the count."""
    if hours <= 0:
        raise ValueError(f"max_duration_hours must be positive, got {hours}")
    limit = pl.col("start") + pl.lit(timedelta(hours=hours))
    n = frame.select((pl.col("end") > limit).sum()).item()
    if n:
        log.info("%s: %d alert(s) longer than %g h truncated to %g h", source, n, hours, hours)
    return frame.with_columns(pl.min_horizontal("end", limit).alias("end"))


def daily_alerts(
    events: pl.DataFrame,
    *,
    start: date | None = None,
    end: date | None = None,
    permanent_sirens: Mapping[str, date] = PERMANENT_SIRENS,
) -> pl.DataFrame:
    """Per region and Kyiv day: ``alert_minutes`` (minutes under alert, alerts cut at Kyiv midnights; an all-day
    siren gives 1440, or 1380/1500 on DST days), ``alerts_started`` (alerts that began that day) and
    ``naive_alerts`` (pieces of alerts without an end message that fall on that day).

    **Completion rule**: the alert log lists every siren, so inside [start, end] (default: the Kyiv dates of the
    first start and of the last minute under alert in the log) a region-day with no alert gets 0 in every column,
    for every region in the log. Exception: from the date a region's siren became permanent
    (``permanent_sirens``), days without a row stay null, because the source omits those sirens by design. The last
    day of a snapshot may be incomplete.
    """
    daily = interval_daily(
        events,
        start="start",
        end="end",
        flag="naive",
        minutes="alert_minutes",
        started="alerts_started",
        flagged="naive_alerts",
    )
    # the last instant under alert is just before ``end``: an alert ending at midnight does not touch the next day
    last_instant = pl.max_horizontal("start", pl.col("end") - pl.duration(microseconds=1))
    first = start or events.select(local_date(pl.col("start")).min()).item()
    last = end or events.select(local_date(last_instant).max()).item()
    present = daily.select(ID, DS).with_columns(pl.lit(True).alias("__had_row"))
    full = complete_days(daily, start=first, end=last, ids=events[ID].unique().sort().to_list(), fill=0.0)
    full = full.join(present, on=[ID, DS], how="left")
    permanent = pl.lit(False)
    for region, since in permanent_sirens.items():
        permanent = permanent | ((pl.col(ID) == region) & (pl.col(DS) >= since))
    blank = permanent & pl.col("__had_row").is_null()
    return full.select(ID, DS, *[pl.when(blank).then(None).otherwise(pl.col(c)).alias(c) for c in DAILY_COLUMNS]).sort(
        ID, DS
    )


def read_alerts(
    path: str | Path,
    *,
    max_duration_hours: float | None = None,
    level: str = "oblast",
    permanent_sirens: Mapping[str, date] = PERMANENT_SIRENS,
) -> pl.DataFrame:
    """Daily alert minutes and counts per oblast from a volunteer or official alert file.

    Returns ``unique_id`` (the oblast name as in the file, e.g. ``"Kyiv City"``, ``"Dnipropetrovska oblast"``),
    ``ds`` (Date, Kyiv calendar day) and Float64 ``alert_minutes`` (minutes), ``alerts_started`` (count) and
    ``naive_alerts`` (count; always 0 for the official file, which has no such flag). See
    :func:`read_alert_events` for the parsing options and :func:`daily_alerts` for the completion rule.
    """
    events = read_alert_events(path, max_duration_hours=max_duration_hours, level=level)
    return daily_alerts(events, permanent_sirens=permanent_sirens)
