"""Regional daily temperature and heating demand (docs/demo-data.md §3).

t_mean is a latitude climatology plus a shared/own AR(1) anomaly plus cold snaps shared by every region; t_min and
t_max spread it by a jittered diurnal range. Two streams: ``weather`` (AR(1) shocks, then the t_min and t_max
jitter, in that order) and ``snaps`` (the cold snaps).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from experiments.demo.calendar import annual_cosine, day_of_year
from experiments.demo.params import WEATHER, WeatherParams
from experiments.demo.regions import REGIONS
from experiments.demo.streams import ar1

Snap = tuple[date, date, float]  # first day, last day (inclusive), depth in °C


def _cold_snaps(rng: np.random.Generator, dates: list[date], p: WeatherParams) -> list[Snap]:
    """Cold snaps that touch the span, drawn for every winter from the one before it to the one after."""
    (m0, d0), (m1, d1) = p.snap_window
    snaps = []
    for year in range(dates[0].year - 1, dates[-1].year + 1):
        first, last = date(year, m0, d0), date(year + 1, m1, d1)
        width = (last - first).days + 1
        for _ in range(p.snaps_per_winter):
            begin = first + timedelta(days=int(rng.integers(0, width)))
            length = int(rng.integers(p.snap_days[0], p.snap_days[1] + 1))
            depth = round(float(rng.uniform(*p.snap_depth)), 1)
            end = begin + timedelta(days=length - 1)
            if end >= dates[0] and begin <= dates[-1]:
                snaps.append((begin, end, depth))
    return sorted(snaps)


def _snap_anomaly(dates: list[date], snaps: list[Snap]) -> np.ndarray:
    """Shared cold anomaly (°C, ≤ 0): full depth inside a snap, half depth on its first and last day."""
    index = {d: i for i, d in enumerate(dates)}
    out = np.zeros(len(dates))
    for begin, end, depth in snaps:
        length = (end - begin).days + 1
        for k in range(length):
            i = index.get(begin + timedelta(days=k))
            if i is not None:
                out[i] -= depth * (0.5 if k in (0, length - 1) else 1.0)
    return out


def _round2(x: np.ndarray) -> np.ndarray:
    return np.round(x, 2) + 0.0  # + 0.0 turns -0.0 into 0.0 so the CSV never shows "-0.00"


def simulate_weather(
    seeds: dict[str, np.random.SeedSequence], dates: list[date]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Snap]]:
    """t_mean, t_min, t_max (days × regions, °C, rounded to 0.01) and the cold snaps."""
    p = WEATHER
    rng = np.random.default_rng(seeds["weather"])
    lat = np.array([r.lat for r in REGIONS])
    doy = day_of_year(dates)[:, None]
    seasonal = annual_cosine(doy, p.warm_peak_doy)
    clim = (p.mean_at_48n - p.mean_lat_slope * (lat - 48.0)) + (
        p.amp_at_48n + p.amp_lat_slope * (lat - 48.0)
    ) * seasonal
    noise = ar1(rng, len(dates), len(REGIONS), p.ar_phi, p.ar_sigma, p.ar_common)
    snaps = _cold_snaps(np.random.default_rng(seeds["snaps"]), dates, p)
    t_mean = _round2(clim + noise + _snap_anomaly(dates, snaps)[:, None])
    half_range = 0.5 * (p.dtr_mean + p.dtr_amp * seasonal)
    t_min = _round2(t_mean - half_range * rng.uniform(*p.dtr_jitter, t_mean.shape))
    t_max = _round2(t_mean + half_range * rng.uniform(*p.dtr_jitter, t_mean.shape))
    return t_mean, t_min, t_max, snaps


def heating_degree_days(t_mean: np.ndarray, p: WeatherParams = WEATHER) -> np.ndarray:
    """Eurostat HDD: base − T_mean when T_mean ≤ threshold, else 0 (°C·day)."""
    return np.where(t_mean <= p.hdd_threshold, p.hdd_base - t_mean, 0.0)
