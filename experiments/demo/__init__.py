"""The built-in demo dataset: deterministic synthetic data in the raw shapes of the real sources.

Not real data: it exists so that ``make forecast`` (``gridcast demo-data``) runs on a fresh machine, and for
property tests; real files stay in ``../shared/data``. The generating process, every parameter and the file
formats are documented in ``docs/demo-data.md``.

``generate_demo`` simulates a national strike log, regional weather and regional outage hours from a seeded,
documented process and returns them with the hidden truth; ``write_demo_data`` writes them as the files the real
readers parse:

- ``strikes/missile_attacks_daily.csv``: the 22 columns of the real Air Force event log, newest first;
- ``strikes/missiles_and_uavs.csv``: the 12 columns of the real weapon lookup, one row per model used;
- ``weather/derived_daily_24_cities.csv``: ``date, city, n_hours, t_mean, t_min, t_max`` (Kyiv dates);
- ``outages/outage_hours_daily.csv``: ``date, region, hours_off`` with a fixed number of region-days absent;
- ``manifest.json`` (generator, seed, span, per-file rows and sha256) and the ``.complete`` marker, last.

The same seed and span give byte-identical files. Every random component draws from its own child stream of
``SeedSequence(seed)``, so changing one component never shifts another.

Modules: ``params`` (the documented numbers), ``regions``, ``calendar`` (Kyiv DST days, day of year),
``streams`` (the random streams, AR(1)), ``strikes`` (the strike process), ``reports`` (event-log row shapes),
``weapons`` (the lookup), ``weather``, ``outages`` (damage stock, outage hours, gaps), ``generate`` (assembly),
``layout`` (file names, columns), ``manifest`` and ``writer`` (atomic, idempotent writing).
"""

from experiments.demo.calendar import kyiv_day_hours
from experiments.demo.generate import DemoFrames, generate_demo
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
from experiments.demo.manifest import GENERATOR, GENERATOR_VERSION, DemoManifest, FileEntry, read_manifest
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
from experiments.demo.writer import write_demo_data

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
