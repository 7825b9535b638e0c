"""The Air Force report-line shapes: how one night report or one southern summary becomes event-log rows.

A report is one post (one random ``source`` id) with one row per weapon model. The row functions draw
``destroyed`` and the optional fields from the ``events`` stream in a fixed order, and add every row to a
:class:`Tally`, so the daily truth equals what a reader recomputes from the file. Which fields are filled, and
from when, is described in docs/demo-data.md ("How the files mimic the real sources").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from experiments.demo.layout import EVENT_COLUMNS
from experiments.demo.params import INTERCEPT_P
from experiments.demo.weapons import is_uav

Row = dict[str, str | None]

SHAHED_PLACES = (
    "Kursk oblast and Bryansk oblast",
    "Primorsko-Akhtarsk and Kursk oblast",
    "Primorsko-Akhtarsk and Chauda, Crimea",
    "Kursk oblast and Oryol oblast and Millerovo",
)
CARRIERS = {"X-101/X-555": "Tu-95MS", "Kalibr": "Navi", "X-47 Kinzhal": "MiG-31K", "X-59/X-69": "Su-34"}
TARGETED_OBLASTS = ("Kharkiv oblast", "Odesa oblast and Mykolaiv oblast", "Dnipropetrovsk oblast", "Sumy oblast")
TOKEN_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
RECENT_FIELDS_FROM = date(2024, 6, 1)  # night rows fill not_reach_goal, still_attacking, num_hit_location from here
IS_SHAHED_FROM_YEAR = 2025  # Shahed rows fill is_shahed from this year


@dataclass
class Tally:
    """Daily totals accumulated while the rows are written, so the truth equals what a reader recomputes."""

    n: int
    launched_uav: np.ndarray = field(init=False)
    destroyed_uav: np.ndarray = field(init=False)
    launched_missile: np.ndarray = field(init=False)
    destroyed_missile: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        for name in ("launched_uav", "destroyed_uav", "launched_missile", "destroyed_missile"):
            setattr(self, name, np.zeros(self.n, dtype=np.int64))

    def add(self, i: int, model: str, launched: int, destroyed: int) -> None:
        """Count one row of ``model`` on day index ``i`` as UAV or missile, by its lookup category."""
        if is_uav(model):
            self.launched_uav[i] += launched
            self.destroyed_uav[i] += destroyed
        else:
            self.launched_missile[i] += launched
            self.destroyed_missile[i] += destroyed


def _token(rng: np.random.Generator, length: int = 52) -> str:
    return "".join(TOKEN_ALPHABET[rng.integers(0, len(TOKEN_ALPHABET), length)])


def _fmt_count(value: int | None) -> str | None:
    return None if value is None else f"{float(value):.1f}"


def night_rows(
    rng: np.random.Generator, day: date, models: list[tuple[str, int]], hhmm: bool, tally: Tally, i: int
) -> list[Row]:
    """The rows of one national night report (``kpszsu``) on ``day``: one per (model, launched) of ``models``.

    ``hhmm`` picks the full ``YYYY-MM-DD HH:MM`` evening→morning times over bare dates; ``i`` is the day's index
    in the span, for the tally.
    """
    start_min = 18 * 60 + 30 * int(rng.integers(0, 12))
    end_min = 6 * 60 + 30 * int(rng.integers(0, 10))
    if hhmm:
        t0 = f"{day.isoformat()} {start_min // 60:02d}:{start_min % 60:02d}"
        t1 = f"{(day + timedelta(days=1)).isoformat()} {end_min // 60:02d}:{end_min % 60:02d}"
    else:
        t0 = t1 = day.isoformat()
    source = f"kpszsu/posts/pfbid0{_token(rng)}"
    recent = day >= RECENT_FIELDS_FROM
    rows = []
    for model, launched in models:
        destroyed = int(rng.binomial(launched, INTERCEPT_P[model]))
        tally.add(i, model, launched, destroyed)
        shahed = model == "Shahed-136/131"
        lost = (int(rng.binomial(launched - destroyed, 0.6)) if shahed else 0) if recent else None
        place = SHAHED_PLACES[int(rng.integers(0, len(SHAHED_PLACES)))] if shahed and hhmm else None
        target = TARGETED_OBLASTS[int(rng.integers(0, 4))] if model == "C-300" else "Ukraine"
        rows.append(
            {
                "time_start": t0,
                "time_end": t1,
                "model": model,
                "launch_place": place,
                "target": target,
                "launched": _fmt_count(launched),
                "destroyed": _fmt_count(destroyed),
                "not_reach_goal": _fmt_count(lost),
                "still_attacking": _fmt_count(0) if recent else None,
                "border_crossing": "{}",
                "is_shahed": _fmt_count(round(0.6 * launched)) if shahed and day.year >= IS_SHAHED_FROM_YEAR else None,
                "num_hit_location": _fmt_count(int(rng.poisson(3))) if recent else None,
                "carrier": CARRIERS.get(model),
                "source": source,
            }
        )
    return rows


def south_rows(rng: np.random.Generator, day: date, models: list[tuple[str, int]], tally: Tally, i: int) -> list[Row]:
    """The rows of one southern command daily summary (``PvKPivden``, bare dates, ``target`` = ``south``)."""
    source = f"PvKPivden/posts/pfbid02{_token(rng)}"
    rows = []
    for model, launched in models:
        destroyed = int(rng.binomial(launched, INTERCEPT_P[model]))
        tally.add(i, model, launched, destroyed)
        rows.append(
            {
                "time_start": day.isoformat(),
                "time_end": day.isoformat(),
                "model": model,
                "target": "south",
                "launched": _fmt_count(launched),
                "destroyed": _fmt_count(destroyed),
                "border_crossing": "{}",
                "source": source,
            }
        )
    return rows


def event_frame(rows: list[Row]) -> pl.DataFrame:
    """The event log frame: the 22 real columns as String, in order, absent fields as nulls (empty cells)."""
    columns = {c: [row.get(c) for row in rows] for c in EVENT_COLUMNS}
    return pl.DataFrame(columns, schema={c: pl.String for c in EVENT_COLUMNS})
