"""Missile and drone strike reports (Air Force report lines, piterfm dataset) → events and daily national counts.

Source: ``missile-attacks-ua/missile_attacks_daily.csv`` (one weapon model, or a bundle of models, in one reported
attack window; despite its name not a daily file) and the weapon lookup ``missiles_and_uavs.csv``. See
docs/sources.md for every quirk and how it is handled.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from features.contract import DS, ID, KYIV_TZ, ROW, UTC
from features.ingest.events import complete_days, sum_by_day
from features.ingest.parse import check_range, fail_where, stripped, to_float
from features.ingest.sources._common import check_unique, read_csv, require_not_empty

NATIONAL = "national"
UAV, MISSILE, UNMAPPED = "uav", "missile", "unmapped"
BUNDLE_SEPARATOR = " and "

EVENT_COLUMNS = ["time_start", "time_end", "model", "launched", "destroyed"]
DAILY_COLUMNS = [
    "launched_total",
    "destroyed_total",
    "launched_uav",
    "destroyed_uav",
    "launched_missile",
    "destroyed_missile",
    "launched_unmapped",
    "n_reports",
    "n_launched_missing",
    "n_destroyed_missing",
]

# "2025-12-05 18:00", "2025-12-05", "2023-05-16 3:30", seconds optional; surrounding white space is stripped.
_TIME = r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"


def _parse_local_time(frame: pl.DataFrame, column: str, source: str | Path, *, end: bool) -> pl.DataFrame:
    """Parse a Kyiv wall-time column of mixed formats into ``<column>_utc``, ``<column>_date`` and
    ``<column>_has_time``.

    A bare date means the whole day: as a start it is local 00:00, as an end (``end=True``) the next local midnight.
    """
    raw = pl.col(column).str.strip_chars()
    parts = frame.with_columns(raw.str.extract_groups(_TIME).alias("__g"))
    parts = parts.with_columns(
        pl.col("__g").struct.field("1").alias("__d"),
        pl.col("__g").struct.field("2").cast(pl.Int64).alias("__h"),
        pl.col("__g").struct.field("3").cast(pl.Int64).alias("__m"),
        pl.col("__g").struct.field("4").cast(pl.Int64).fill_null(0).alias("__sec"),
    ).with_columns(pl.col("__d").str.to_date("%Y-%m-%d", strict=False).alias(f"{column}_date"))
    fail_where(
        parts,
        pl.col(column).is_null() | pl.col(f"{column}_date").is_null(),
        source,
        column,
        "missing or unparsable time",
        "local times like 2025-12-05 18:00 or a bare date 2025-12-05",
    )
    fail_where(
        parts,
        (pl.col("__h") > 23) | (pl.col("__m") > 59) | (pl.col("__sec") > 59),
        source,
        column,
        "time of day out of range",
        "hours 0-23 and minutes 0-59",
    )
    has_time = pl.col("__h").is_not_null()
    shift = pl.duration(hours=pl.col("__h").fill_null(0), minutes=pl.col("__m").fill_null(0), seconds="__sec")
    if end:
        shift = pl.when(has_time).then(shift).otherwise(pl.duration(days=1))
    naive = pl.col(f"{column}_date").cast(pl.Datetime("us")) + shift
    parts = parts.with_columns(
        has_time.alias(f"{column}_has_time"),
        naive.dt.replace_time_zone(KYIV_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone(UTC)
        .alias(f"{column}_utc"),
    )
    fail_where(
        parts,
        pl.col(f"{column}_utc").is_null(),
        source,
        column,
        "local time falls in the spring DST gap (it never existed in Kyiv)",
        "a Kyiv wall time that exists",
    )
    return parts.drop("__g", "__d", "__h", "__m", "__sec")


def read_weapon_lookup(path: str | Path) -> pl.DataFrame:
    """The weapon lookup (``missiles_and_uavs.csv``): ``model`` → ``category`` (text as in the file).

    Models must be unique and every model needs a category.
    """
    frame = read_csv(path, ["model", "category"]).with_columns(stripped("model"), stripped("category"))
    require_not_empty(frame, path)
    fail_where(frame, pl.col("model").is_null(), path, "model", "missing model", "a model name in every row")
    fail_where(frame, pl.col("category").is_null(), path, "category", "missing category", "a category", show="model")
    check_unique(frame, ["model"], path, "weapon model")
    return frame.select("model", "category")


def classify_models(models: pl.Series, lookup: pl.DataFrame) -> pl.DataFrame:
    """Map reported model strings to a coarse class and the lookup's category text.

    A model found verbatim in the lookup takes its category. Otherwise a combined value (``"X-101/X-555 and Kalibr
    and Iskander-M/KN-23"``) is split on ``" and "`` and each part is looked up: the bundle is a **missile** when any
    known part is not a UAV (guided bombs and surface-to-air missiles count as missiles, as in the source's derived
    file), a **uav** when every part is a known UAV, and **unmapped** otherwise (a part missing from the lookup and
    no missile part). Returns ``model``, ``category`` (uav/missile/unmapped) and ``lookup_category`` (the lookup's
    text; for split bundles the distinct part categories joined with " + "; null when unmapped).
    """
    uniq = pl.DataFrame({"model": models.unique()}).drop_nulls()
    exact = uniq.join(lookup, on="model", how="left")
    parts = (
        uniq.with_columns(pl.col("model").str.split(BUNDLE_SEPARATOR).alias("part"))
        .explode("part")
        .with_columns(pl.col("part").str.strip_chars())
        .join(lookup.rename({"model": "part"}), on="part", how="left")
        .group_by("model")
        .agg(
            ((pl.col("category") != "UAV") & pl.col("category").is_not_null()).any().alias("__any_missile"),
            pl.col("category").is_not_null().all().alias("__all_known"),
            pl.col("category").drop_nulls().unique(maintain_order=True).str.join(" + ").alias("__cats"),
        )
    )
    out = exact.join(parts, on="model", how="left")
    coarse = (
        pl.when(pl.col("category").is_not_null())
        .then(pl.when(pl.col("category") == "UAV").then(pl.lit(UAV)).otherwise(pl.lit(MISSILE)))
        .when(pl.col("__any_missile"))
        .then(pl.lit(MISSILE))
        .when(pl.col("__all_known"))
        .then(pl.lit(UAV))
        .otherwise(pl.lit(UNMAPPED))
    )
    fine = pl.coalesce(pl.col("category"), pl.when(pl.col("__all_known")).then(pl.col("__cats")))
    fine = pl.when(coarse == UNMAPPED).then(None).otherwise(fine)
    return out.select("model", coarse.alias("category"), fine.alias("lookup_category"))


def _parse_counts(frame: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """``launched``/``destroyed`` as Float64 (empty → null), non-negative whole numbers, destroyed ≤ launched."""
    for col in ("launched", "destroyed"):
        frame = to_float(frame, col, source)
        check_range(frame, col, source, lower=0, what="count")
        fail_where(
            frame,
            pl.col(col) != pl.col(col).round(0),
            source,
            col,
            "count is not a whole number",
            "whole numbers",
        )
    fail_where(
        frame,
        pl.col("destroyed") > pl.col("launched"),
        source,
        "destroyed",
        "more destroyed than launched",
        "destroyed ≤ launched in every row",
    )
    return frame


def read_strike_events(path: str | Path, weapons_path: str | Path) -> pl.DataFrame:
    """Parsed report lines, one row per line of ``missile_attacks_daily.csv``.

    Columns: ``_row`` (source row, 1-based), ``start``/``end`` (Datetime UTC; Kyiv wall times converted with DST;
    a bare date starts at local 00:00 and ends at the next local midnight), ``day`` (Date: the Kyiv calendar date
    of ``time_start``, the day the attack is counted on), ``start_has_time``/``end_has_time`` (Boolean: False where
    the file gave a bare date), ``model``, ``category`` (``uav``/``missile``/``unmapped``, see
    :func:`classify_models`), ``lookup_category``, ``launched``/``destroyed`` (Float64, counts of weapons; null
    where the cell is empty, i.e. unknown) and ``source`` (the Air Force post id). Sorted by (start, _row).

    Raises DataError for unparsable times, an end before its start, missing models, negative or fractional counts
    and ``destroyed > launched``.
    """
    frame = read_csv(path, [*EVENT_COLUMNS, "source"])
    require_not_empty(frame, path)
    frame = _parse_local_time(frame, "time_start", path, end=False)
    frame = _parse_local_time(frame, "time_end", path, end=True)
    fail_where(
        frame,
        pl.col("time_end_utc") < pl.col("time_start_utc"),
        path,
        "time_end",
        "attack window ends before it starts",
        "time_end ≥ time_start",
    )
    frame = frame.with_columns(stripped("model"))
    fail_where(frame, pl.col("model").is_null(), path, "model", "missing weapon model", "a model in every row")
    frame = _parse_counts(frame, path)
    classes = classify_models(frame["model"], read_weapon_lookup(weapons_path))
    return (
        frame.join(classes, on="model", how="left")
        .select(
            ROW,
            pl.col("time_start_utc").alias("start"),
            pl.col("time_end_utc").alias("end"),
            pl.col("time_start_date").alias("day"),
            pl.col("time_start_has_time").alias("start_has_time"),
            pl.col("time_end_has_time").alias("end_has_time"),
            "model",
            "category",
            "lookup_category",
            "launched",
            "destroyed",
            "source",
        )
        .sort("start", ROW)
    )


def daily_strikes(events: pl.DataFrame, *, unique_id: str = NATIONAL) -> pl.DataFrame:
    """Daily counts from :func:`read_strike_events`, zero-filled over the span of the events.

    A report line is counted on ``day``, the Kyiv date of the start of its attack window (an overnight attack
    counts toward the evening it started, like the source's derived file). Empty ``launched``/``destroyed`` cells
    add nothing to the sums (same as the derived file) and are counted in ``n_launched_missing`` /
    ``n_destroyed_missing`` so a user can tell "zero" from "unknown".

    **Completion rule**: the source lists attacks, so a day inside [first report day, last report day] without a
    report is a day with nothing reported launched: every column is 0 there. Days outside that span are not added.
    """
    is_uav, is_missile = pl.col("category") == UAV, pl.col("category") == MISSILE
    per_event = events.select(
        pl.lit(unique_id).alias(ID),
        "day",
        pl.col("launched").alias("launched_total"),
        pl.col("destroyed").alias("destroyed_total"),
        pl.when(is_uav).then(pl.col("launched")).alias("launched_uav"),
        pl.when(is_uav).then(pl.col("destroyed")).alias("destroyed_uav"),
        pl.when(is_missile).then(pl.col("launched")).alias("launched_missile"),
        pl.when(is_missile).then(pl.col("destroyed")).alias("destroyed_missile"),
        pl.when(pl.col("category") == UNMAPPED).then(pl.col("launched")).alias("launched_unmapped"),
        pl.col("launched").is_null().alias("n_launched_missing"),
        pl.col("destroyed").is_null().alias("n_destroyed_missing"),
    )
    values = [c for c in DAILY_COLUMNS if c != "n_reports"]
    daily = sum_by_day(per_event, day="day", values=values, count="n_reports")
    daily = complete_days(daily, start=events["day"].min(), end=events["day"].max(), fill=0.0)
    return daily.select(ID, DS, *DAILY_COLUMNS)


def read_strike_reports(path: str | Path, weapons_path: str | Path) -> pl.DataFrame:
    """Daily national strike counts from the report lines (see :func:`daily_strikes` for the rules).

    Returns ``unique_id`` (``"national"``), ``ds`` (Date, Kyiv calendar day of the attack window's start) and
    Float64 counts of weapons: ``launched_total``, ``destroyed_total``, ``launched_uav``, ``destroyed_uav``,
    ``launched_missile``, ``destroyed_missile`` (missiles of every kind and guided bombs), ``launched_unmapped``
    (models missing from the lookup), ``n_reports`` (report lines that day), ``n_launched_missing`` and
    ``n_destroyed_missing`` (lines whose count cell was empty). One row per day from the first to the last report
    day, sorted by ``ds``.
    """
    return daily_strikes(read_strike_events(path, weapons_path))
