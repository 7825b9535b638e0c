"""Regional damage stock, outage hours and the region-days cut from the outage file (docs/demo-data.md §2, §4).

The damage stock accumulates the national strike units by regional exposure and is repaired at a capped rate;
outage hours are a logistic of damage, heating demand and AR(1) noise (stream ``outage_noise``); a fixed number of
region-days is then made absent (stream ``gaps``).
"""

from __future__ import annotations

import numpy as np

from experiments.demo.params import DAMAGE, OUTAGE, DamageParams, OutageParams
from experiments.demo.regions import REGIONS
from experiments.demo.streams import ar1


def damage_stock(units: np.ndarray, exposure: np.ndarray, p: DamageParams = DAMAGE) -> np.ndarray:
    """D[t, r] = max(0, D[t−1, r] + w_r·s_t − min(cap, r·D[t−1, r])) with D[−1] = 0; shape (days, regions)."""
    out = np.empty((len(units), len(exposure)))
    stock = np.zeros(len(exposure))
    for t, s in enumerate(units):
        stock = np.maximum(0.0, stock + exposure * s - np.minimum(p.repair_cap, p.repair_rate * stock))
        out[t] = stock
    return out


def outage_noise(seed: np.random.SeedSequence, n_days: int, p: OutageParams = OUTAGE) -> np.ndarray:
    """ε (days × regions): independent AR(1) paths per region, stationary start, from the ``outage_noise`` stream."""
    return ar1(np.random.default_rng(seed), n_days, len(REGIONS), p.noise_phi, p.noise_sigma, 0.0)


def outage_hours(damage: np.ndarray, hdd: np.ndarray, noise: np.ndarray, p: OutageParams = OUTAGE) -> np.ndarray:
    """H = round to 0.5 h of 24·logistic(a + b·D + c·HDD + ε); always inside [0, 24]."""
    eta = p.a + p.b * damage + p.c * hdd + noise
    hours = 24.0 / (1.0 + np.exp(-eta))
    return np.clip(np.round(hours * 2.0) / 2.0, 0.0, 24.0) + 0.0


def gap_mask(seed: np.random.SeedSequence, n_days: int, p: OutageParams = OUTAGE) -> np.ndarray:
    """Boolean (days × regions), True where the outage row is absent: blocks in distinct regions + singles.

    Drawn from the ``gaps`` stream; exactly ``p.n_missing`` cells are True whatever the seed.
    """
    rng = np.random.default_rng(seed)
    missing = np.zeros((n_days, len(REGIONS)), dtype=bool)
    regions = rng.choice(len(REGIONS), size=len(p.gap_blocks), replace=False)
    for r, length in zip(regions, p.gap_blocks, strict=True):
        begin = int(rng.integers(0, n_days - length + 1))
        missing[begin : begin + length, r] = True
    free = np.flatnonzero(~missing.ravel())
    missing.ravel()[rng.choice(free, size=p.gap_singles, replace=False)] = True
    return missing
