"""The documented numbers of the demo's generating process (docs/demo-data.md, "Generating process").

Defaults of the span and seed, the four parameter sets and the intercept probabilities. Each value is quoted in
the doc; change ``GENERATOR_VERSION`` (``experiments.demo.manifest``) whenever any value here changes, so old
datasets are regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_SEED = 20221010
DEFAULT_START = date(2022, 10, 1)
DEFAULT_END = date(2025, 3, 31)
MIN_SPAN_DAYS = 28


@dataclass(frozen=True)
class StrikeParams:
    """National strike process (counts of weapons launched per Kyiv date of ``time_start``)."""

    season_amp: float = 0.5  # A_s in season_t = exp(A_s·cos(2π(doy−15)/365.25)), peak mid-January
    season_peak_doy: int = 15
    trend_per_year: float = 0.3  # g in trend_t = exp(g·years since start)
    weekly: tuple[float, ...] = (1.0, 1.05, 1.0, 1.1, 1.15, 1.0, 0.7)  # Monday..Sunday
    attack_p: float = 0.72  # π0: P(night attack) = min(0.97, π0·sqrt(season_t))
    shahed_mean: float = 20.0  # μ_S: Shahed count on an attack night ~ 1 + NB(mean μ_S·m_t, shape k)
    nb_shape: float = 1.2  # k
    burst_p: float = 0.025  # p_b: P(massed burst | attack night) = min(1, p_b·season_t)
    burst_uav: float = 250.0  # extra Shahed in a burst ~ Poisson
    burst_missiles: tuple[tuple[str, float], ...] = (
        ("X-101/X-555", 28.0),
        ("Kalibr", 10.0),
        ("Iskander-M/KN-23", 6.0),
        ("X-47 Kinzhal", 4.0),
    )
    bundle_p: float = 0.3  # P(a burst's and Kalibr are reported as one bundled row)
    tactical: tuple[tuple[str, float], ...] = (("Iskander-M/KN-23", 0.6), ("C-300", 0.4))  # per night, × season
    south_p: float = 0.3  # P(a southern command daily summary)
    south: tuple[tuple[str, float], ...] = (
        ("Unknown UAV", 5.0),
        ("Lancet", 1.5),
        ("Orlan-10", 1.2),
        ("X-59/X-69", 0.5),
    )
    missile_weight: float = 4.0  # κ in s_t = (U_t + κ·M_t) / scale
    unit_scale: float = 100.0
    hhmm_p_first: float = 0.3  # P(HH:MM time format) for a night report at the span start, rising linearly
    hhmm_p_last: float = 0.95  # … to this at the span end (bare YYYY-MM-DD otherwise)


# Probability that a launched weapon of the model is reported destroyed (destroyed ~ Binomial(launched, p)).
INTERCEPT_P: dict[str, float] = {
    "Shahed-136/131": 0.85,
    "Unknown UAV": 0.95,
    "Lancet": 0.5,
    "Orlan-10": 0.9,
    "X-101/X-555": 0.85,
    "Kalibr": 0.8,
    "X-101/X-555 and Kalibr": 0.83,
    "X-59/X-69": 0.6,
    "Iskander-M/KN-23": 0.25,
    "X-47 Kinzhal": 0.3,
    "C-300": 0.0,
}


@dataclass(frozen=True)
class DamageParams:
    """Regional damage stock D_t = max(0, D_{t−1} + w_r·s_t − min(cap, r·D_{t−1})), D_{−1} = 0."""

    repair_rate: float = 0.1  # r
    repair_cap: float = 1.5  # cap, strike units per day


@dataclass(frozen=True)
class WeatherParams:
    """Daily mean temperature: climatology by latitude + shared/idiosyncratic AR(1) + cold snaps."""

    mean_at_48n: float = 10.5  # T0 in μ_r = T0 − γ·(lat − 48)
    mean_lat_slope: float = 0.7  # γ
    amp_at_48n: float = 11.0  # A0 in amp_r = A0 + α·(lat − 48)
    amp_lat_slope: float = 0.4  # α
    warm_peak_doy: int = 200
    ar_phi: float = 0.8  # φ
    ar_sigma: float = 2.0  # σ of the AR(1) innovation
    ar_common: float = 0.8  # ρ: weight of the innovation shared by all regions
    snaps_per_winter: int = 2
    snap_window: tuple[tuple[int, int], tuple[int, int]] = ((12, 1), (2, 20))  # start between 1 Dec and 20 Feb
    snap_days: tuple[int, int] = (4, 9)  # duration, inclusive
    snap_depth: tuple[float, float] = (6.0, 12.0)  # °C, uniform
    dtr_mean: float = 7.5  # diurnal range DTR_t = dtr_mean + dtr_amp·cos(2π(doy − warm_peak)/365.25)
    dtr_amp: float = 2.5
    dtr_jitter: tuple[float, float] = (0.6, 1.4)  # t_min = t_mean − ½·DTR·u1, t_max = t_mean + ½·DTR·u2
    hdd_base: float = 18.0  # Eurostat HDD = base − T_mean when T_mean ≤ threshold, else 0
    hdd_threshold: float = 15.0


@dataclass(frozen=True)
class OutageParams:
    """Outage hours H = round_½(24·logistic(a + b·D_t + c·HDD_t + ε_t)), ε AR(1)."""

    a: float = -4.0
    b: float = 0.3
    c: float = 0.12
    noise_phi: float = 0.5
    noise_sigma: float = 0.4
    gap_blocks: tuple[int, ...] = (7, 5, 3)  # contiguous missing runs, each in a different region
    gap_singles: int = 25  # isolated missing region-days

    @property
    def n_missing(self) -> int:
        """Region-day rows absent from the outage file."""
        return sum(self.gap_blocks) + self.gap_singles


STRIKE = StrikeParams()
DAMAGE = DamageParams()
WEATHER = WeatherParams()
OUTAGE = OutageParams()
N_MISSING_REGION_DAYS = OUTAGE.n_missing
