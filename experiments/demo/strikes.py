"""The national strike process: weapons launched per Kyiv date, and the event log that reports them.

Two streams: ``strikes`` draws every day's counts up front, vectorised (so branching never shifts the stream);
``events`` then draws, newest day first, each report's time format and its rows (:mod:`experiments.demo.reports`).
The process and its numbers are in docs/demo-data.md §1 and :class:`~experiments.demo.params.StrikeParams`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from experiments.demo.calendar import annual_cosine, day_of_year
from experiments.demo.params import STRIKE, StrikeParams
from experiments.demo.reports import Row, Tally, event_frame, night_rows, south_rows


@dataclass(frozen=True)
class _DailyDraws:
    """Per-day weapon counts by report; all drawn up front (vectorised) so branching never shifts the stream."""

    season: np.ndarray
    attack: np.ndarray
    burst: np.ndarray
    bundle: np.ndarray
    night: dict[str, np.ndarray]  # model -> launched on the night report (0 if none)
    south_report: np.ndarray
    south: dict[str, np.ndarray]


def strike_season(doy: np.ndarray, p: StrikeParams = STRIKE) -> np.ndarray:
    """Winter escalation factor season_t = exp(A_s·cos(2π(doy − peak)/365.25))."""
    return np.exp(p.season_amp * annual_cosine(doy, p.season_peak_doy))


def _draw_daily(rng: np.random.Generator, dates: list[date], p: StrikeParams) -> _DailyDraws:
    n = len(dates)
    doy = day_of_year(dates)
    years = np.arange(n) / 365.25
    season = strike_season(doy, p)
    weekly = np.array([p.weekly[d.weekday()] for d in dates])
    tempo = season * weekly * np.exp(p.trend_per_year * years)

    attack = rng.random(n) < np.minimum(0.97, p.attack_p * np.sqrt(season))
    burst = attack & (rng.random(n) < np.minimum(1.0, p.burst_p * season))
    bundle = rng.random(n) < p.bundle_p
    gamma = rng.gamma(p.nb_shape, p.shahed_mean * tempo / p.nb_shape)
    shahed = 1 + rng.poisson(gamma) + np.where(burst, rng.poisson(p.burst_uav, n), 0)

    night: dict[str, np.ndarray] = {"Shahed-136/131": np.where(attack, shahed, 0)}
    for model, mean in p.burst_missiles:
        night[model] = np.where(burst, rng.poisson(mean, n), 0)
    for model, mean in p.tactical:
        night[model] = night.get(model, np.zeros(n, dtype=np.int64)) + np.where(attack, rng.poisson(mean * season), 0)
    south_report = rng.random(n) < p.south_p
    south = {model: np.where(south_report, rng.poisson(mean, n), 0) for model, mean in p.south}
    return _DailyDraws(season, attack, burst, bundle, night, south_report, south)


def _night_models(draws: _DailyDraws, i: int) -> list[tuple[str, int]]:
    counts = {model: int(arr[i]) for model, arr in draws.night.items()}
    if draws.burst[i] and draws.bundle[i]:
        counts["X-101/X-555 and Kalibr"] = counts.pop("X-101/X-555") + counts.pop("Kalibr")
    return [(model, c) for model, c in counts.items() if c > 0]


def _daily_frame(dates: list[date], tally: Tally, burst: np.ndarray, p: StrikeParams) -> pl.DataFrame:
    units = (tally.launched_uav + p.missile_weight * tally.launched_missile) / p.unit_scale
    return pl.DataFrame(
        {
            "date": dates,
            "launched_uav": tally.launched_uav,
            "destroyed_uav": tally.destroyed_uav,
            "launched_missile": tally.launched_missile,
            "destroyed_missile": tally.destroyed_missile,
            "strike_units": units,
            "burst": burst,
        },
        schema={
            "date": pl.Date,
            "launched_uav": pl.Int64,
            "destroyed_uav": pl.Int64,
            "launched_missile": pl.Int64,
            "destroyed_missile": pl.Int64,
            "strike_units": pl.Float64,
            "burst": pl.Boolean,
        },
    )


def simulate_strikes(seeds: dict[str, np.random.SeedSequence], dates: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The event log (newest first) and the per-day truth.

    ``seeds`` are the named streams of :func:`~experiments.demo.streams.spawn_streams` (``strikes`` and ``events``
    are used); the truth is ``strikes_daily`` of :class:`~experiments.demo.generate.DemoFrames`.
    """
    p = STRIKE
    draws = _draw_daily(np.random.default_rng(seeds["strikes"]), dates, p)
    rng = np.random.default_rng(seeds["events"])
    n = len(dates)
    tally = Tally(n)
    rows: list[Row] = []
    for i in range(n - 1, -1, -1):  # newest first, like the real file
        day = dates[i]
        frac = i / max(n - 1, 1)
        hhmm = bool(rng.random() < p.hhmm_p_first + (p.hhmm_p_last - p.hhmm_p_first) * frac)
        night = _night_models(draws, i)
        if night:
            rows.extend(night_rows(rng, day, night, hhmm, tally, i))
        south = [(m, int(draws.south[m][i])) for m, _ in p.south if draws.south[m][i] > 0]
        if south:
            rows.extend(south_rows(rng, day, south, tally, i))
    return event_frame(rows), _daily_frame(dates, tally, draws.burst, p)
