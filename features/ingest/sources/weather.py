"""Open-Meteo weather: daily per city (24 regional centres), Kyiv daily temperature, hourly per city.

See docs/sources.md for the quirks of each file and how they are handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from features.contract import DS, ID, ROW
from features.ingest.events import local_midnight_utc
from features.ingest.parse import fail_where, stripped, to_date, to_datetime_utc, to_float
from features.ingest.sources._common import check_unique, log, read_csv, regular_grid, require_not_empty, scan_csv

# derived_daily_24_cities.csv column → canonical column (units in the name).
DAILY_CITY_COLUMNS: Mapping[str, str] = {
    "t_mean": "temp_mean_c",
    "t_min": "temp_min_c",
    "t_max": "temp_max_c",
    "apparent_t_mean": "apparent_temp_mean_c",
    "apparent_t_min": "apparent_temp_min_c",
    "precip_sum_mm": "precip_sum_mm",
    "rain_sum_mm": "rain_sum_mm",
    "rh_mean": "rh_mean_pct",
    "cloud_cover_mean": "cloud_cover_mean_pct",
    "wind_speed_100m_max_kmh": "wind_speed_100m_max_kmh",
    "surface_pressure_mean_hpa": "surface_pressure_mean_hpa",
    "n_hours": "n_hours",
}
# The temperature columns and the hour count are required; the other columns are read when the file has them.
DAILY_REQUIRED = ("t_mean", "t_min", "t_max", "n_hours")
KYIV_DAILY_COLUMNS: Mapping[str, str] = {
    "temperature_2m_mean": "temp_mean_c",
    "temperature_2m_min": "temp_min_c",
    "temperature_2m_max": "temp_max_c",
}
HOURLY_COLUMNS: Mapping[str, str] = {
    "temperature_2m": "temp_c",
    "relative_humidity_2m": "rh_pct",
    "apparent_temperature": "apparent_temp_c",
    "precipitation": "precip_mm",
    "rain": "rain_mm",
    "surface_pressure": "surface_pressure_hpa",
    "cloud_cover": "cloud_cover_pct",
    "wind_speed_100m": "wind_speed_100m_kmh",
    "wind_direction_100m": "wind_direction_100m_deg",
}
_NON_NEGATIVE = ("precip", "rain", "wind_speed", "n_hours")
_PERCENT = ("rh_", "cloud_cover")


def _parse_values(frame: pl.DataFrame, columns: Mapping[str, str], source: str | Path) -> pl.DataFrame:
    """Parse the source columns as Float64 under their canonical names and check physical ranges."""
    for raw, name in columns.items():
        frame = to_float(frame, raw, source, out=name)
        if name.startswith(_NON_NEGATIVE):
            fail_where(frame, pl.col(name) < 0, source, raw, f"negative {name}", "values ≥ 0")
        if name.startswith(_PERCENT):
            fail_where(
                frame, (pl.col(name) < 0) | (pl.col(name) > 100), source, raw, "percentage out of range", "0-100"
            )
    return frame


def check_temperature_order(
    frame: pl.DataFrame, source: str | Path, columns: Mapping[str, str] = DAILY_CITY_COLUMNS
) -> None:
    """Raise a DataError naming the rows where t_min > t_mean or t_mean > t_max (``frame`` holds canonical names
    and ``_row``; ``columns`` maps source names to canonical ones, for the message)."""
    src = {v: k for k, v in columns.items()}
    fail_where(
        frame,
        pl.col("temp_min_c") > pl.col("temp_mean_c"),
        source,
        src["temp_min_c"],
        "daily minimum above the daily mean",
        "t_min ≤ t_mean ≤ t_max",
    )
    fail_where(
        frame,
        pl.col("temp_mean_c") > pl.col("temp_max_c"),
        source,
        src["temp_max_c"],
        "daily maximum below the daily mean",
        "t_min ≤ t_mean ≤ t_max",
        show=src["temp_max_c"],
    )


def _hours_in_local_day(day: pl.Expr) -> pl.Expr:
    """Hours in the Kyiv calendar day (23, 24 or 25)."""
    return (local_midnight_utc(day.dt.offset_by("1d")) - local_midnight_utc(day)).dt.total_hours()


def _drop_partial_days(frame: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """Handle days built from fewer hours than the Kyiv day has (``n_hours`` below 23/24/25).

    Partial days before a city's first full day or after its last full day are dropped; a partial day between full
    days keeps its row with every value null, so the grid stays regular. Both are logged.
    """
    partial = pl.col("n_hours") < _hours_in_local_day(pl.col(DS))
    frame = frame.with_columns(partial.alias("__partial"))
    full_days = pl.when(~pl.col("__partial")).then(pl.col(DS))
    edge = pl.col("__partial") & ((pl.col(DS) < full_days.min().over(ID)) | (pl.col(DS) > full_days.max().over(ID)))
    frame = frame.with_columns(edge.alias("__edge"))
    dropped = frame.filter(pl.col("__edge"))
    if dropped.height:
        days = sorted({str(d) for d in dropped[DS].to_list()})
        log.warning("%s: dropped %d partial edge day(s) on %s", source, dropped.height, ", ".join(days))
    frame = frame.filter(~pl.col("__edge"))
    inner = frame.filter(pl.col("__partial"))
    if inner.height:
        log.warning(
            "%s: %d partial day(s) inside the span set to null; rows %s",
            source,
            inner.height,
            inner[ROW].head(5).to_list(),
        )
        values = [c for c in frame.columns if c not in (ID, DS, ROW) and not c.startswith("__")]
        frame = frame.with_columns(
            pl.when(pl.col("__partial")).then(None).otherwise(pl.col(c)).alias(c) for c in values
        )
    return frame.drop("__partial", "__edge")


def read_openmeteo_daily(path: str | Path) -> pl.DataFrame:
    """Daily weather per city from ``derived_daily_24_cities.csv`` (Open-Meteo hourly reanalysis aggregated to
    Kyiv calendar days).

    Returns ``unique_id`` (lower-case city, e.g. ``kyiv``, ``dnipro``), ``ds`` (Date, Kyiv day) and Float64
    ``temp_mean_c``, ``temp_min_c``, ``temp_max_c`` (2 m air temperature, °C), ``apparent_temp_mean_c``,
    ``apparent_temp_min_c`` (°C), ``precip_sum_mm``, ``rain_sum_mm`` (mm/day), ``rh_mean_pct`` (%),
    ``cloud_cover_mean_pct`` (%), ``wind_speed_100m_max_kmh`` (km/h), ``surface_pressure_mean_hpa`` (hPa) and
    ``n_hours`` (hours aggregated: 23/24/25); only the temperatures and ``n_hours`` are required, the other
    columns are returned when present. Days with fewer hours than the Kyiv day has are partial: at the edges
    of the span (2022-01-01: 22 h, 2024-01-31: 2 h) they are dropped, inside it their values are null; both logged.
    Raises DataError when t_min > t_mean or t_mean > t_max, and on duplicate (city, date).
    """
    present = set(scan_csv(path, ["date", "city", *DAILY_REQUIRED]).collect_schema().names())
    columns = {k: v for k, v in DAILY_CITY_COLUMNS.items() if k in DAILY_REQUIRED or k in present}
    frame = read_csv(path, ["date", "city", *columns])
    require_not_empty(frame, path)
    frame = to_date(frame, "date", path, out=DS)
    frame = frame.with_columns(stripped("city"))
    fail_where(frame, pl.col("city").is_null(), path, "city", "missing city", "a city name in every row")
    frame = frame.with_columns(pl.col("city").str.to_lowercase().alias(ID))
    check_unique(frame, [ID, DS], path, "city-day")
    frame = _parse_values(frame, columns, path)
    check_temperature_order(frame, path)
    frame = _drop_partial_days(frame, path)
    out = frame.select(ID, DS, *columns.values())
    return regular_grid(out, "1d", path, what="day").sort(ID, DS)


def read_kyiv_temperature(path: str | Path, *, unique_id: str = "kyiv") -> pl.DataFrame:
    """Kyiv daily 2 m temperature (``kyiv_temperature_daily_*.csv``; Open-Meteo, time zone Europe/Kyiv).

    Returns ``unique_id`` (``"kyiv"``), ``ds`` (Date, Kyiv day) and Float64 ``temp_mean_c``, ``temp_min_c``,
    ``temp_max_c`` (°C), the same names as :func:`read_openmeteo_daily`. Missing days inside the span become null
    rows (logged). Raises DataError on t_min > t_mean > t_max violations and duplicate dates.
    """
    frame = read_csv(path, ["time", *KYIV_DAILY_COLUMNS])
    require_not_empty(frame, path)
    frame = to_date(frame, "time", path, out=DS).with_columns(pl.lit(unique_id).alias(ID))
    check_unique(frame, [DS], path, "date")
    frame = _parse_values(frame, KYIV_DAILY_COLUMNS, path)
    check_temperature_order(frame, path, KYIV_DAILY_COLUMNS)
    out = frame.select(ID, DS, *KYIV_DAILY_COLUMNS.values())
    return regular_grid(out, "1d", path, what="day").sort(ID, DS)


def read_openmeteo_hourly(path: str | Path, city: str) -> pl.DataFrame:
    """Hourly weather for one city (``<city>_weather.csv`` / ``kyiv_hourly.csv``; timestamps are UTC without a
    zone, Open-Meteo's default).

    Returns ``unique_id`` (``city``), ``ds`` (Datetime UTC) and Float64 ``temp_c``, ``apparent_temp_c`` (°C),
    ``rh_pct``, ``cloud_cover_pct`` (%), ``precip_mm``, ``rain_mm`` (mm in the preceding hour),
    ``surface_pressure_hpa`` (hPa), ``wind_speed_100m_kmh`` (km/h), ``wind_direction_100m_deg`` (degrees). Values
    are taken as written (float32 noise such as ``2.6655`` is not rounded). Missing hours become null rows (logged).
    """
    frame = read_csv(path, ["date", *HOURLY_COLUMNS])
    require_not_empty(frame, path)
    frame = to_datetime_utc(frame, "date", path, naive_tz="UTC", out=DS).with_columns(pl.lit(city).alias(ID))
    check_unique(frame, [DS], path, "hour")
    frame = _parse_values(frame, HOURLY_COLUMNS, path)
    out = frame.select(ID, DS, *HOURLY_COLUMNS.values())
    return regular_grid(out, "1h", path, what="hour").sort(ID, DS)
