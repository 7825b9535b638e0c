"""Assembly of the demo dataset: ``generate_demo`` runs each component on its own stream and lays out the frames.

The components are :mod:`~experiments.demo.strikes` (national strike log), :mod:`~experiments.demo.weather`
(regional temperature) and :mod:`~experiments.demo.outages` (damage stock, outage hours, absent rows); the streams
are spawned by :func:`~experiments.demo.streams.spawn_streams`. Pure, no I/O: writing is
:mod:`~experiments.demo.writer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from experiments.demo.calendar import kyiv_day_hours
from experiments.demo.layout import WEATHER_COLUMNS
from experiments.demo.outages import damage_stock, gap_mask, outage_hours, outage_noise
from experiments.demo.params import DEFAULT_END, DEFAULT_SEED, DEFAULT_START, MIN_SPAN_DAYS
from experiments.demo.regions import REGION_NAMES, REGIONS
from experiments.demo.streams import spawn_streams
from experiments.demo.strikes import simulate_strikes
from experiments.demo.weapons import weapons_frame
from experiments.demo.weather import Snap, heating_degree_days, simulate_weather


@dataclass(frozen=True)
class DemoFrames:
    """Everything ``generate_demo`` produces: the four raw tables as written plus the hidden truth.

    - ``events``: the strike event log, 22 String columns in the real order (nulls are empty cells), newest first;
    - ``weapons``: the weapon lookup, 12 String columns;
    - ``weather``: ``date`` (Date), ``city``, ``n_hours`` (Int64), ``t_mean``/``t_min``/``t_max`` (Float64, °C);
    - ``outages``: ``date`` (Date), ``region``, ``hours_off`` (Float64) — observed rows only;
    - ``strikes_daily``: per date, ``launched_uav``, ``destroyed_uav``, ``launched_missile``,
      ``destroyed_missile`` (Int64), ``strike_units`` s_t (Float64), ``burst`` (Boolean);
    - ``truth``: per (region, date), ``strike_units``, ``damage`` D_t, ``t_mean``, ``hdd``, ``hours_off``
      (complete, before gaps) and ``observed`` (False for the absent rows);
    - ``cold_snaps``: ``start``, ``end`` (Date, inclusive), ``depth_c``.
    """

    events: pl.DataFrame
    weapons: pl.DataFrame
    weather: pl.DataFrame
    outages: pl.DataFrame
    strikes_daily: pl.DataFrame
    truth: pl.DataFrame
    cold_snaps: pl.DataFrame


def _long(dates: list[date], values: dict[str, np.ndarray]) -> pl.DataFrame:
    """Region-major long frame (sorted by region, date) from (days × regions) arrays."""
    n, k = len(dates), len(REGIONS)
    cols: dict[str, Any] = {
        "region": np.repeat(np.array(REGION_NAMES), n),
        "date": pl.Series("date", dates * k, dtype=pl.Date),
    }
    cols.update({name: arr.T.ravel() for name, arr in values.items()})
    return pl.DataFrame(cols)


def _check_span(seed: int, start: date, end: date) -> list[date]:
    """The span's dates, after checking the seed is a non-negative int and the span at least the minimum."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"demo seed must be a non-negative int, got {seed!r}")
    n = (end - start).days + 1
    if n < MIN_SPAN_DAYS:
        raise ValueError(f"demo span {start}..{end} has {n} days; need at least {MIN_SPAN_DAYS}")
    return [start + timedelta(days=i) for i in range(n)]


def _weather_frame(dates: list[date], t_mean: np.ndarray, t_min: np.ndarray, t_max: np.ndarray) -> pl.DataFrame:
    """The weather file's rows: (city, date) order, Kyiv day length in ``n_hours``."""
    n_hours = np.array([kyiv_day_hours(d) for d in dates])[:, None].repeat(len(REGIONS), axis=1)
    weather = _long(dates, {"n_hours": n_hours, "t_mean": t_mean, "t_min": t_min, "t_max": t_max})
    return weather.rename({"region": "city"}).select(WEATHER_COLUMNS).with_columns(pl.col("n_hours").cast(pl.Int64))


def _snap_frame(snaps: list[Snap]) -> pl.DataFrame:
    return pl.DataFrame(
        {"start": [s[0] for s in snaps], "end": [s[1] for s in snaps], "depth_c": [s[2] for s in snaps]},
        schema={"start": pl.Date, "end": pl.Date, "depth_c": pl.Float64},
    )


def generate_demo(seed: int = DEFAULT_SEED, start: date = DEFAULT_START, end: date = DEFAULT_END) -> DemoFrames:
    """Simulate the demo dataset for Kyiv dates ``start``..``end`` (inclusive); pure, no I/O, deterministic."""
    dates = _check_span(seed, start, end)
    seeds = spawn_streams(seed)
    events, strikes_daily = simulate_strikes(seeds, dates)

    units = strikes_daily["strike_units"].to_numpy()
    damage = damage_stock(units, np.array([r.exposure for r in REGIONS]))
    t_mean, t_min, t_max, snaps = simulate_weather(seeds, dates)
    hdd = heating_degree_days(t_mean)
    hours = outage_hours(damage, hdd, outage_noise(seeds["outage_noise"], len(dates)))
    missing = gap_mask(seeds["gaps"], len(dates))

    truth = _long(
        dates,
        {
            "strike_units": np.repeat(units[:, None], len(REGIONS), axis=1),
            "damage": damage,
            "t_mean": t_mean,
            "hdd": hdd,
            "hours_off": hours,
            "observed": ~missing,
        },
    )
    outages = (
        truth.filter(pl.col("observed"))
        .select("date", "region", "hours_off")
        .sort("date", "region", maintain_order=True)
    )
    weather = _weather_frame(dates, t_mean, t_min, t_max)
    return DemoFrames(events, weapons_frame(), weather, outages, strikes_daily, truth, _snap_frame(snaps))
