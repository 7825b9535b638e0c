"""Where the demo files go and their columns: the raw shapes of the real sources the readers parse.

Only names and orders live here; what fills the rows is in ``strikes``/``reports`` (event log), ``weapons``
(lookup), ``weather`` and ``outages``.
"""

from __future__ import annotations

STRIKES_FILE = "strikes/missile_attacks_daily.csv"
WEAPONS_FILE = "strikes/missiles_and_uavs.csv"
WEATHER_FILE = "weather/derived_daily_24_cities.csv"
OUTAGES_FILE = "outages/outage_hours_daily.csv"
MANIFEST_FILE = "manifest.json"
COMPLETE_MARKER = ".complete"

# Every name a demo dataset may hold, folders included; anything else makes ``out_dir`` someone else's folder.
DATA_FILES: tuple[str, ...] = (STRIKES_FILE, WEAPONS_FILE, WEATHER_FILE, OUTAGES_FILE, MANIFEST_FILE, COMPLETE_MARKER)

# The 22 columns of the real Air Force event log, names and order as in missile_attacks_daily.csv.
EVENT_COLUMNS: tuple[str, ...] = (
    "time_start",
    "time_end",
    "model",
    "launch_place",
    "target",
    "target_main",
    "launched",
    "destroyed",
    "not_reach_goal",
    "still_attacking",
    "border_crossing",
    "is_shahed",
    "num_hit_location",
    "num_fall_fragment_location",
    "carrier",
    "turbojet",
    "turbojet_destroyed",
    "affected region",
    "destroyed_details",
    "launched_details",
    "launch_place_details",
    "source",
)
# The 12 columns of the real weapon lookup missiles_and_uavs.csv (including the misspelt "in_sevice").
WEAPON_COLUMNS: tuple[str, ...] = (
    "model",
    "category",
    "national_origin",
    "type",
    "launch_platform",
    "name",
    "name_NATO",
    "in_sevice",
    "designer",
    "manufacturer",
    "guidance_system",
    "unit_cost",
)
# The first six columns of the real derived daily weather file.
WEATHER_COLUMNS: tuple[str, ...] = ("date", "city", "n_hours", "t_mean", "t_min", "t_max")
OUTAGE_COLUMNS: tuple[str, ...] = ("date", "region", "hours_off")
