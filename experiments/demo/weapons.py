"""The demo's weapon lookup (``strikes/missiles_and_uavs.csv``): one row per model the event log uses.

The rows were written for this generator, in the real lookup's 12 columns and category names, so every model
in the log maps and none is "unmapped". The category also splits launches into UAV and missile counts.
"""

from __future__ import annotations

import polars as pl

from experiments.demo.layout import WEAPON_COLUMNS

# model -> (category, national_origin, type, launch_platform); categories from the real lookup's set.
WEAPONS: dict[str, tuple[str, str, str, str]] = {
    "Shahed-136/131": ("UAV", "iran", "loitering munition", ""),
    "Unknown UAV": ("UAV", "", "", ""),
    "Lancet": ("UAV", "russia", "loitering munition", ""),
    "Orlan-10": ("UAV", "russia", "reconnaissance", ""),
    "X-101/X-555": ("cruise missile", "russia", "air-launched", "Tu-95MS, Tu-160"),
    "Kalibr": ("cruise missile", "russia", "sea-launched", "naval ships, submarines"),
    "X-101/X-555 and Kalibr": ("cruise missile", "russia", "", ""),
    "X-59/X-69": ("cruise missile", "russia", "air-launched", "Su-34, Su-35"),
    "Iskander-M/KN-23": ("ballistic missile", "russia/north korea", "", ""),
    "X-47 Kinzhal": ("ballistic missile", "russia", "air-launched", "MiG-31K"),
    "C-300": ("surface-to-air missile", "russia", "anti-aircraft used against ground targets", ""),
}


def is_uav(model: str) -> bool:
    """True when the lookup files ``model`` under category ``UAV`` (every other category counts as missile)."""
    return WEAPONS[model][0] == "UAV"


def weapons_frame() -> pl.DataFrame:
    """The weapon lookup rows for every model the generator uses (12 String columns, real names and order)."""
    rows = [
        {"model": m, "category": c, "national_origin": o or None, "type": t or None, "launch_platform": lp or None}
        for m, (c, o, t, lp) in sorted(WEAPONS.items(), key=lambda kv: (kv[1][0] != "UAV", kv[1][0], kv[0]))
    ]
    columns = {c: [row.get(c) for row in rows] for c in WEAPON_COLUMNS}
    return pl.DataFrame(columns, schema={c: pl.String for c in WEAPON_COLUMNS})
