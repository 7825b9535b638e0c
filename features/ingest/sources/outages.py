"""Rolling-blackout schedules (hourly status per queue) → hourly and daily hours without power.

Two inputs give the same hourly frame:

* the replayed CSV ``dnipro_schedule_hourly_final.csv`` (``date``, ``queue``, ``hour_start``, ``status_final`` …),
  read by :func:`read_outage_schedule_hourly`;
* the raw scraper JSON ``fact.data[<day unix ts>][<queue>][<hour 1..24>]`` used by public outage-schedule
  scrapers (Dnipro, Kyiv, other regions), read by :func:`read_outage_schedule_json`.

:func:`daily_hours_off` turns either into hours off per queue per Kyiv day. See docs/sources.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC as _UTC
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl

from features.contract import DS, ID, KYIV_TZ, UTC
from features.errors import DataError
from features.ingest.events import local_date
from features.ingest.io import check_file, read_bytes
from features.ingest.parse import fail_where, to_date, to_float
from features.ingest.sources._common import check_unique, log, read_csv, regular_grid, require_not_empty

# Hours without power in one hourly slot, by status. "Possible outage" statuses (maybe/mfirst/msecond) are not a
# scheduled outage: they count 0 in off_hours and go to possible_off_hours instead.
OFF_HOURS: Mapping[str, float] = {
    "yes": 0.0,
    "no": 1.0,
    "first": 0.5,
    "second": 0.5,
    "maybe": 0.0,
    "mfirst": 0.0,
    "msecond": 0.0,
}
POSSIBLE_OFF_HOURS: Mapping[str, float] = {"maybe": 1.0, "mfirst": 0.5, "msecond": 0.5}
HOURLY_COLUMNS = ["off_hours", "possible_off_hours"]
DAILY_COLUMNS = ["hours_off", "possible_hours_off", "n_hours"]

FutureDays = Literal["redate", "drop", "error"]


def _status_values(status: pl.Expr) -> list[pl.Expr]:
    off = status.replace_strict(dict(OFF_HOURS), default=None, return_dtype=pl.Float64)
    possible = status.replace_strict(
        {**{s: 0.0 for s in OFF_HOURS}, **POSSIBLE_OFF_HOURS}, default=None, return_dtype=pl.Float64
    )
    return [off.alias("off_hours"), possible.alias("possible_off_hours")]


def _slots_to_hourly(slots: pl.DataFrame, region: str, source: str | Path) -> pl.DataFrame:
    """Local (date, hour_start) slots → UTC hours.

    The slot ``hour_start`` is a Kyiv wall-clock hour. On the spring-forward day the 03:00 slot never exists: it is
    dropped (and logged). On the fall-back day the 03:00 slot happens twice: it is written to both UTC hours, so
    that day has 25 hourly rows. Every other day has 24.
    """
    naive = pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour_start"))
    both = pl.concat_list(
        naive.dt.replace_time_zone(KYIV_TZ, ambiguous=amb, non_existent="null").dt.convert_time_zone(UTC)
        for amb in ("earliest", "latest")
    )
    hourly = slots.with_columns(both.list.unique().list.drop_nulls().alias(DS))
    gap = hourly.filter(pl.col(DS).list.len() == 0)
    if gap.height:
        shown = sorted({str(d) for d in gap["date"].to_list()})
        log.info("%s: %d slot(s) in the spring DST gap dropped (days %s)", source, gap.height, ", ".join(shown))
    hourly = hourly.explode(DS).drop_nulls(DS)
    return hourly.select(
        pl.concat_str(pl.lit(f"{region}/"), pl.col("queue")).alias(ID), DS, *_status_values(pl.col("status"))
    )


def _check_status(frame: pl.DataFrame, source: str | Path, column: str) -> None:
    fail_where(
        frame,
        pl.col("status").is_null() | ~pl.col("status").is_in(list(OFF_HOURS)),
        source,
        column,
        "unknown outage status",
        f"one of {', '.join(OFF_HOURS)}",
    )


def read_outage_schedule_hourly(
    path: str | Path, *, region: str = "dnipro", status_column: str = "status_final"
) -> pl.DataFrame:
    """Hourly schedule per queue from the replayed CSV (``dnipro_schedule_hourly_final.csv``).

    ``date`` is the Kyiv calendar date and ``hour_start`` (0–23) the Kyiv wall-clock hour; they are converted to
    the UTC hour with DST handled (see :func:`_slots_to_hourly`). ``status_column`` picks ``status_final``
    (default) or ``status_first_published``.

    Returns ``unique_id`` (``"<region>/<queue>"``, e.g. ``dnipro/GPV1.1``), ``ds`` (Datetime UTC, start of the hour)
    and Float64 ``off_hours`` (hours without power in that hour: ``no`` 1, ``first``/``second`` 0.5, ``yes`` 0;
    possible-outage statuses 0) and ``possible_off_hours`` (``maybe`` 1, ``mfirst``/``msecond`` 0.5, else 0).
    Hours missing inside a queue's span are null rows (logged).
    """
    frame = read_csv(path, ["date", "queue", "hour_start", status_column])
    require_not_empty(frame, path)
    frame = to_date(frame, "date", path)
    frame = to_float(frame, "hour_start", path, required=True)
    fail_where(
        frame,
        (pl.col("hour_start") < 0) | (pl.col("hour_start") > 23) | (pl.col("hour_start") % 1 != 0),
        path,
        "hour_start",
        "hour out of range",
        "a whole hour 0-23",
    )
    fail_where(frame, pl.col("queue").is_null(), path, "queue", "missing queue", "a queue id like GPV1.1")
    frame = frame.with_columns(
        pl.col("hour_start").cast(pl.Int64), pl.col(status_column).str.strip_chars().alias("status")
    )
    _check_status(frame, path, status_column)
    check_unique(frame, ["date", "queue", "hour_start"], path, "schedule slot")
    hourly = _slots_to_hourly(frame, region, path)
    return regular_grid(hourly, "1h", path, what="hour").sort(ID, DS)


def daily_hours_off(hourly: pl.DataFrame, *, tz: str = KYIV_TZ) -> pl.DataFrame:
    """Hours without power per series and local (Kyiv) day, from an hourly schedule frame.

    Returns ``unique_id``, ``ds`` (Date) and Float64 ``hours_off`` (sum of ``off_hours``; in [0, 24], up to 25 on the
    fall-back day), ``possible_hours_off`` (sum of ``possible_off_hours``) and ``n_hours`` (hourly rows that day:
    23, 24 or 25). A day with a null hour gets null sums: a partial day is not a day with fewer outages.
    """
    day = local_date(pl.col(DS), tz).alias("__day")

    def total(col: str) -> pl.Expr:
        return pl.when(pl.col(col).null_count() == 0).then(pl.col(col).sum()).otherwise(None)

    return (
        hourly.group_by(ID, day)
        .agg(
            total("off_hours").alias("hours_off"),
            total("possible_off_hours").alias("possible_hours_off"),
            pl.len().cast(pl.Float64).alias("n_hours"),
        )
        .rename({"__day": DS})
        .select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in DAILY_COLUMNS])
        .sort(ID, DS)
    )


# --- raw scraper JSON -------------------------------------------------------------------------------------------


def _load_json(path: str | Path) -> dict[str, Any]:
    p, _ = check_file(path, "json")
    try:
        doc = json.loads(read_bytes(p).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(p, f"invalid JSON: {exc}", expected="a schedule JSON document") from None
    except RecursionError:
        raise DataError(p, "invalid JSON: nested too deeply", expected="a schedule JSON document") from None
    fact = doc.get("fact") if isinstance(doc, dict) else None
    data = fact.get("data") if isinstance(fact, dict) else None
    if not isinstance(data, dict):
        raise DataError(p, "no 'fact.data' object", column="fact.data", expected="fact.data[<day>][<queue>][<hour>]")
    return doc


def _day_of_key(key: str, source: str | Path) -> tuple[date, str]:
    """Kyiv calendar date of a day key (unix seconds at UTC midnight or at Kyiv midnight) and its convention."""
    try:
        instant = datetime.fromtimestamp(int(key), tz=_UTC)
    except (ValueError, OverflowError, OSError):
        raise DataError(source, f"day key {key!r} is not a unix timestamp", column="fact.data", values=[key]) from None
    local = instant.astimezone(ZoneInfo(KYIV_TZ))
    if local.time() == datetime.min.time():
        return local.date(), "kyiv"
    if instant.time() == datetime.min.time():
        return instant.date(), "utc"
    raise DataError(
        source,
        f"day key {key} ({instant:%Y-%m-%d %H:%M} UTC) is neither UTC nor Kyiv midnight",
        column="fact.data",
        values=[key],
        expected="day keys at 00:00 UTC or 00:00 Europe/Kyiv",
    )


def _reference_day(doc: dict[str, Any], source: str | Path) -> date | None:
    """The snapshot's own "today" (Kyiv date): ``fact.today`` (unix s), else ``lastUpdated`` (ISO), else None."""
    today = doc["fact"].get("today")
    if isinstance(today, int | str) and str(today).isdigit():
        try:
            return datetime.fromtimestamp(int(today), tz=_UTC).astimezone(ZoneInfo(KYIV_TZ)).date()
        except (ValueError, OverflowError, OSError):
            raise DataError(source, "not a unix timestamp of a real day", column="fact.today", values=[today]) from None
    stamp = doc.get("lastUpdated")
    if isinstance(stamp, str):
        try:
            parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            return parsed.astimezone(ZoneInfo(KYIV_TZ)).date() if parsed.tzinfo else parsed.date()
        except (ValueError, OverflowError):
            return None
    return None


def _json_slots(data: dict[str, Any], source: str | Path) -> list[dict[str, Any]]:
    """Flatten ``fact.data`` into slot records, checking keys and statuses (errors name day key/queue/hour)."""
    rows: list[dict[str, Any]] = []
    for key, queues in data.items():
        day, convention = _day_of_key(key, source)
        where = f"fact.data[{key}]"
        if not isinstance(queues, dict):
            raise DataError(source, f"{where} is not an object", column=where, expected="{<queue>: {<hour>: status}}")
        if not queues:
            log.info("%s: day key %s (%s) has no queues; no rows", source, key, day)
        for queue, hours in queues.items():
            if not isinstance(hours, dict):
                raise DataError(source, f"{where}[{queue}] is not an object", column=f"{where}[{queue}]")
            for hour, status in hours.items():
                slot = f"{where}[{queue}][{hour}]"
                if not (str(hour).isdigit() and 1 <= int(hour) <= 24):
                    raise DataError(source, f"hour key {hour!r} out of range", column=slot, expected="hours 1-24")
                if status not in OFF_HOURS:
                    raise DataError(
                        source,
                        f"unknown outage status at day key {key}, queue {queue}, hour {hour}",
                        column=slot,
                        values=[status],
                        expected=f"one of {', '.join(OFF_HOURS)}",
                    )
                rows.append(
                    {
                        "key": key,
                        "convention": convention,
                        "date": day,
                        "queue": queue,
                        "hour_start": int(hour) - 1,
                        "status": status,
                    }
                )
    return rows


def _fix_future_days(
    slots: pl.DataFrame, ref: date | None, policy: FutureDays, max_days_ahead: int, source: str | Path
) -> pl.DataFrame:
    """Handle days dated after the snapshot's own date + ``max_days_ahead`` (the scraper's year-rollover bug: after
    1 January it re-read late-December posts and dated them in the new year).

    ``redate`` moves them one year back (an error if that still lies in the future); ``drop`` removes them;
    ``error`` raises. Each case is logged.
    """
    if ref is None or slots.is_empty():
        return slots
    try:
        limit = ref + timedelta(days=max_days_ahead)
    except OverflowError:  # a snapshot dated at the end of the calendar: no day lies after it
        return slots
    future = slots.filter(pl.col("date") > limit)
    if future.is_empty():
        return slots
    days = sorted({str(d) for d in future["date"].to_list()})
    if policy == "error":
        raise DataError(
            source,
            f"days after the snapshot date {ref} (+{max_days_ahead} d)",
            column="fact.data",
            values=days,
            expected="schedules for today and the next days only",
        )
    if policy == "drop":
        log.warning("%s: dropped %d future day(s) (year-rollover bug?): %s", source, len(days), ", ".join(days))
        return slots.filter(pl.col("date") <= limit)
    redated = slots.with_columns(pl.col("date").alias("__orig")).with_columns(
        pl.when(pl.col("date") > limit).then(pl.col("date").dt.offset_by("-1y")).otherwise("date").alias("date")
    )
    still = redated.filter(pl.col("date") > limit)
    if still.height:
        raise DataError(
            source,
            "future days remain after moving them one year back",
            column="fact.data",
            values=sorted({str(d) for d in still["date"].to_list()}),
        )
    log.warning(
        "%s: %d day(s) dated after %s moved one year back (year-rollover bug): %s",
        source,
        len(days),
        ref,
        ", ".join(days),
    )
    moved = pl.col("date") != pl.col("__orig")
    genuine = redated.filter(~moved)["date"].unique()
    clash = moved & pl.col("date").is_in(genuine.implode())
    n_clash = redated.select(clash.sum()).item()
    if n_clash:
        log.warning("%s: %d moved slot(s) fall on days the snapshot already has; those are kept", source, n_clash)
        redated = redated.filter(~clash)
    return redated.drop("__orig")


def _one_key_per_day(slots: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """Where a UTC-midnight key and a Kyiv-midnight key give the same date, keep the Kyiv-midnight one (the newer
    convention), logging it; a date given twice under one convention is an error."""
    keys = slots.select("date", "convention", "key").unique()
    dup = keys.filter(pl.struct("date", "convention").is_duplicated())
    if dup.height:
        raise DataError(source, "one day under two day keys", column="fact.data", values=dup["key"].to_list())
    both = keys.filter(pl.col("date").is_duplicated())
    if both.is_empty():
        return slots
    log.warning(
        "%s: days %s have both a UTC- and a Kyiv-midnight key; the Kyiv-midnight key is kept",
        source,
        sorted({str(d) for d in both["date"].to_list()}),
    )
    dropped = both.filter(pl.col("convention") == "utc").select("key")
    return slots.join(dropped, on="key", how="anti")


def read_outage_schedule_json(
    path: str | Path,
    region: str,
    *,
    future_days: FutureDays = "redate",
    max_days_ahead: int = 2,
) -> pl.DataFrame:
    """Hourly schedule per queue from a raw scraper snapshot (``fact.data[<day unix ts>][<queue>][<hour 1..24>]``).

    * Day keys are unix seconds at UTC midnight (older snapshots) or at Kyiv midnight (newer): both map to the Kyiv
      calendar date; if one date has both, the Kyiv-midnight key wins. Other keys are errors.
    * Hour ``n`` (1–24) is the local slot starting at ``n − 1`` o'clock; DST as in :func:`read_outage_schedule_hourly`.
    * Unknown status strings raise DataError naming the day key, queue and hour.
    * Days dated more than ``max_days_ahead`` after the snapshot's own date (``fact.today`` or ``lastUpdated``) are
      the scraper's year-rollover bug and handled by ``future_days`` (default: moved one year back, logged).
    * A day key with no queues yields no rows (logged).

    Returns the same shape as :func:`read_outage_schedule_hourly`: ``unique_id`` (``"<region>/<queue>"``), ``ds``
    (Datetime UTC), ``off_hours``, ``possible_off_hours`` (Float64).
    """
    doc = _load_json(path)
    rows = _json_slots(doc["fact"]["data"], path)
    schema = {
        "key": pl.String,
        "convention": pl.String,
        "date": pl.Date,
        "queue": pl.String,
        "hour_start": pl.Int64,
        "status": pl.String,
    }
    slots = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    slots = _one_key_per_day(slots, path)
    slots = _fix_future_days(slots, _reference_day(doc, path), future_days, max_days_ahead, path)
    hourly = _slots_to_hourly(slots, region, path)
    return regular_grid(hourly, "1h", path, what="hour").sort(ID, DS)
