"""The built-in demo dataset: deterministic synthetic data in the raw shapes of the real sources.

Not real data: it exists so that ``make forecast`` runs on a fresh machine, and for property tests. Its generating
process is documented in ``docs/demo-data.md``.
"""

from experiments.demo.calendar import kyiv_day_hours
from experiments.demo.generate import (
    GENERATOR,
    GENERATOR_VERSION,
    DemoFrames,
    DemoManifest,
    FileEntry,
    generate_demo,
    read_manifest,
    write_demo_data,
)
from experiments.demo.layout import (
    COMPLETE_MARKER,
    EVENT_COLUMNS,
    MANIFEST_FILE,
    OUTAGE_COLUMNS,
    OUTAGES_FILE,
    STRIKES_FILE,
    WEAPON_COLUMNS,
    WEAPONS_FILE,
    WEATHER_COLUMNS,
    WEATHER_FILE,
)
from experiments.demo.outages import damage_stock, outage_hours
from experiments.demo.params import (
    DAMAGE,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    INTERCEPT_P,
    MIN_SPAN_DAYS,
    N_MISSING_REGION_DAYS,
    OUTAGE,
    STRIKE,
    WEATHER,
    DamageParams,
    OutageParams,
    StrikeParams,
    WeatherParams,
)
from experiments.demo.regions import REGION_NAMES, REGIONS, Region
from experiments.demo.reports import CARRIERS, SHAHED_PLACES, TARGETED_OBLASTS, TOKEN_ALPHABET
from experiments.demo.strikes import simulate_strikes, strike_season
from experiments.demo.weapons import WEAPONS, weapons_frame
from experiments.demo.weather import heating_degree_days, simulate_weather

__all__ = [
    "CARRIERS",
    "COMPLETE_MARKER",
    "DAMAGE",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "EVENT_COLUMNS",
    "GENERATOR",
    "GENERATOR_VERSION",
    "INTERCEPT_P",
    "MANIFEST_FILE",
    "MIN_SPAN_DAYS",
    "N_MISSING_REGION_DAYS",
    "OUTAGE",
    "OUTAGES_FILE",
    "OUTAGE_COLUMNS",
    "REGIONS",
    "REGION_NAMES",
    "SHAHED_PLACES",
    "STRIKE",
    "STRIKES_FILE",
    "TARGETED_OBLASTS",
    "TOKEN_ALPHABET",
    "WEAPONS",
    "WEAPONS_FILE",
    "WEAPON_COLUMNS",
    "WEATHER",
    "WEATHER_COLUMNS",
    "WEATHER_FILE",
    "DamageParams",
    "DemoFrames",
    "DemoManifest",
    "FileEntry",
    "OutageParams",
    "Region",
    "StrikeParams",
    "WeatherParams",
    "damage_stock",
    "generate_demo",
    "heating_degree_days",
    "kyiv_day_hours",
    "outage_hours",
    "read_manifest",
    "simulate_strikes",
    "simulate_weather",
    "strike_season",
    "weapons_frame",
    "write_demo_data",
]
