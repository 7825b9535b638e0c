"""Ukrainian day-ahead market (OREE, via atsokol/ukraine-energy-data): hourly price and cleared volume.

The ``hour`` column is written as ``YYYY-MM-DDTHH:00:00Z`` but is **not** UTC: it is the delivery hour of the local
trading day labelled as if it were UTC. See docs/sources.md for the evidence and the DST handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from features.contract import DS, ID
from features.errors import DataError
from features.ingest.events import local_date, local_midnight_utc
from features.ingest.parse import check_range, fail_where, to_date, to_float
from features.ingest.sources._common import check_unique, log, read_csv, regular_grid, require_not_empty

# Regulatory DAM price caps (UAH/MWh) by year, as the yearly maxima in SOURCE.md show them.
DAM_PRICE_CAPS: Mapping[int, float] = {2022: 4000.0, 2023: 7500.0, 2024: 9000.0, 2025: 15000.0}
HOURLY_COLUMNS = ["price_uah_mwh", "volume_mwh", "price_eur_mwh", "uah_per_eur"]
DAILY_COLUMNS = ["price_uah_mwh_mean", "price_eur_mwh_mean", "volume_mwh_sum", "hours_at_cap", "n_hours"]

_LABEL = r"^(\d{4}-\d{2}-\d{2})T(\d{2}):00(?::00)?Z?$"


def _delivery_index(frame: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """Parse the ``hour`` label into ``__idx``, the 0-based delivery hour of the trading day, checking that the
    label's date is the row's ``date`` and that the index fits in that Kyiv day (23, 24 or 25 hours)."""
    groups = pl.col("hour").str.strip_chars().str.extract_groups(_LABEL)
    frame = frame.with_columns(
        groups.struct.field("1").str.to_date("%Y-%m-%d", strict=False).alias("__label_day"),
        groups.struct.field("2").cast(pl.Int64).alias("__idx"),
    )
    fail_where(
        frame,
        pl.col("__idx").is_null() | pl.col("__label_day").is_null(),
        source,
        "hour",
        "unparsable delivery hour",
        "labels like 2025-12-05T18:00:00Z",
    )
    fail_where(
        frame,
        pl.col("__label_day") != pl.col(DS),
        source,
        "hour",
        "delivery-hour label on another day than the date column",
        "the label's date equal to date",
    )
    n_hours = (local_midnight_utc(pl.col(DS).dt.offset_by("1d")) - local_midnight_utc(pl.col(DS))).dt.total_hours()
    fail_where(
        frame,
        pl.col("__idx") >= n_hours,
        source,
        "hour",
        "delivery hour beyond the length of the Kyiv day",
        "hours 0-22 on spring DST days, 0-23 otherwise (0-24 in autumn)",
    )
    return frame


def read_dam(path: str | Path, *, unique_id: str = "ua") -> pl.DataFrame:
    """Hourly DAM results from ``DAM_UA.csv``.

    The instant of each row is the start of the Kyiv trading day (``date``, local midnight → UTC) plus the hour of
    the label, read as the *n-th delivery hour of the day*: on the spring DST day the 23 rows labelled 00–22 fill
    the 23-hour day; on the autumn DST day the 24 rows fill the first 24 of its 25 hours and the last UTC hour is
    absent from the file: it becomes a null row and is logged (values are never invented).

    Returns ``unique_id`` (``"ua"``), ``ds`` (Datetime UTC, start of the delivery hour) and Float64
    ``price_uah_mwh`` (clearing price, UAH/MWh), ``volume_mwh`` (cleared volume, MWh in the hour),
    ``price_eur_mwh`` (EUR/MWh at the NBU rate) and ``uah_per_eur`` (the rate used).
    """
    frame = read_csv(path, ["hour", "date", "price_uah", "volume", "rate", "price_eur_mwh"])
    require_not_empty(frame, path)
    frame = to_date(frame, "date", path, out=DS)
    frame = _delivery_index(frame, path)
    check_unique(frame, [DS, "__idx"], path, "delivery hour")
    names = {"price_uah": "price_uah_mwh", "volume": "volume_mwh", "price_eur_mwh": "price_eur_mwh"}
    for raw, name in {**names, "rate": "uah_per_eur"}.items():
        frame = to_float(frame, raw, path, required=True, out=name)
    try:
        check_range(frame, "volume_mwh", path, lower=0, what="volume")
    except DataError as exc:  # name the file's column
        raise exc.with_column("volume") from None
    fail_where(frame, pl.col("uah_per_eur") <= 0, path, "rate", "non-positive exchange rate", "a rate > 0")
    frame = frame.with_columns(
        pl.lit(unique_id).alias(ID),
        (local_midnight_utc(pl.col(DS)) + pl.duration(hours=pl.col("__idx"))).alias("__instant"),
    )
    out = frame.select(ID, pl.col("__instant").alias(DS), *HOURLY_COLUMNS)
    return regular_grid(out, "1h", path, what="delivery hour").sort(ID, DS)


def missing_hours(hourly: pl.DataFrame, column: str = "price_uah_mwh") -> pl.DataFrame:
    """The rows of an hourly frame whose ``column`` is null (e.g. the autumn-DST hour absent from the DAM file)."""
    return hourly.filter(pl.col(column).is_null()).select(ID, DS)


def dam_daily(
    hourly: pl.DataFrame,
    *,
    caps: Mapping[int, float] = DAM_PRICE_CAPS,
    cap_tolerance: float = 0.0,
) -> pl.DataFrame:
    """Daily DAM aggregates per Kyiv trading day, from :func:`read_dam`.

    Returns ``unique_id``, ``ds`` (Date) and Float64 ``price_uah_mwh_mean`` and ``price_eur_mwh_mean`` (unweighted
    means over the day's hours, UAH/MWh and EUR/MWh), ``volume_mwh_sum`` (MWh cleared that day), ``hours_at_cap``
    (hours with price ≥ cap·(1 − ``cap_tolerance``), the cap being ``caps[year]``; null for a year without a cap)
    and ``n_hours`` (hours with a price: 23, 24, or 24 of 25 on the autumn day). Null hours are skipped.
    """
    cap_table = pl.DataFrame(
        {"__year": list(caps), "__cap": [float(v) for v in caps.values()]},
        schema={"__year": pl.Int32, "__cap": pl.Float64},
    )
    day = hourly.with_columns(local_date(pl.col(DS)).alias("__day")).with_columns(
        pl.col("__day").dt.year().cast(pl.Int32).alias("__year")
    )
    day = day.join(cap_table, on="__year", how="left")
    at_cap = (pl.col("price_uah_mwh") >= pl.col("__cap") * (1.0 - cap_tolerance)).cast(pl.Float64)
    daily = day.group_by(ID, "__day").agg(
        pl.col("price_uah_mwh").mean().alias("price_uah_mwh_mean"),
        pl.col("price_eur_mwh").mean().alias("price_eur_mwh_mean"),
        pl.col("volume_mwh").sum().alias("volume_mwh_sum"),
        pl.when(pl.col("__cap").first().is_not_null()).then(at_cap.sum()).alias("hours_at_cap"),
        pl.col("price_uah_mwh").count().cast(pl.Float64).alias("n_hours"),
    )
    above = day.filter(pl.col("price_uah_mwh") > pl.col("__cap"))
    if above.height:
        first = above[DS].min()
        log.warning("DAM: %d hour(s) priced above the cap table (first %s); check the caps", above.height, first)
    return daily.rename({"__day": DS}).select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in DAILY_COLUMNS]).sort(ID, DS)
