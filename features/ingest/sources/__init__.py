"""Readers for the real sources: each turns a raw file into canonical long Polars frames (see docs/sources.md).

Every reader returns ``unique_id`` (String), ``ds`` (Date for Kyiv calendar days, Datetime("us", "UTC") for hours)
and Float64 value columns with units in their names, sorted by (unique_id, ds); bad data raise
:class:`features.errors.DataError` naming the file, the column and the rows. Reports (dropped edge days, missing
hours, truncated alerts, re-dated schedule days) go to the ``features.ingest.sources`` logger.
"""

from features.ingest.sources.alerts import daily_alerts, read_alert_events, read_alerts
from features.ingest.sources.m4 import read_m4 as read_m4
from features.ingest.sources.m4 import read_m4_split as read_m4_split
from features.ingest.sources.m4 import split_last as split_last
from features.ingest.sources.market import DAM_PRICE_CAPS, dam_daily, missing_hours, read_dam
from features.ingest.sources.outages import (
    daily_hours_off,
    read_outage_schedule_hourly,
    read_outage_schedule_json,
)
from features.ingest.sources.strikes import (
    classify_models,
    daily_strikes,
    read_strike_events,
    read_strike_reports,
    read_weapon_lookup,
)
from features.ingest.sources.weather import read_kyiv_temperature, read_openmeteo_daily, read_openmeteo_hourly

__all__ = [
    "DAM_PRICE_CAPS",
    "classify_models",
    "daily_alerts",
    "daily_hours_off",
    "daily_strikes",
    "dam_daily",
    "missing_hours",
    "read_alert_events",
    "read_alerts",
    "read_dam",
    "read_kyiv_temperature",
    "read_openmeteo_daily",
    "read_openmeteo_hourly",
    "read_outage_schedule_hourly",
    "read_outage_schedule_json",
    "read_strike_events",
    "read_strike_reports",
    "read_weapon_lookup",
]
