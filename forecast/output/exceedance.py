"""Exceedance probabilities P(y > c) per series and step, from a predictive distribution on the model scale.

Two distributions, both on the model (transformed) scale ``z`` of :mod:`forecast.output.bounds`:

Gaussian (model intervals)
    ``z ~ N(mean_z, σ_z²)`` with σ_z read off the model's central intervals on the z scale,
    ``σ_z = mean over levels of (hi_z − lo_z) / (2·Φ⁻¹(½ + level/200))`` (exact for Gaussian intervals, the
    average width-implied scale otherwise). Then ``P(y > c) = 1 − Φ((forward(c) − mean_z)/σ_z)``.
Symmetric empirical (conformal)
    ``z = center_z + e`` with ``e`` symmetric and ``|e|`` distributed as the calibration scores ``s_1..s_n``:
    for ``d = forward(c) − center_z ≥ 0``, ``P = ½·#{s_i > d}/n``; for ``d < 0``, ``P = 1 − ½·#{s_i ≥ −d}/n``.
    This is the distribution whose central quantiles are the conformal intervals.

Both are then made exact at the bounds: ``P(y > c) = 0`` for ``c ≥ upper`` (nothing exceeds the upper bound; the
mass beyond it sits on it) and ``1`` for ``c < lower``. Between the bounds ``forward`` is increasing, so P is
non-increasing in ``c`` and in [0, 1]; a zero σ_z gives the step ``1{mean_z > forward(c)}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from forecast.output.bounds import Transform
from forecast.output.quantiles import normal_quantile


def sigma_from_intervals(lower_z: Mapping[int, np.ndarray], upper_z: Mapping[int, np.ndarray]) -> np.ndarray:
    """Gaussian scale implied by central intervals on the model scale, averaged over the levels given."""
    if not lower_z:
        raise ValueError("exceedance needs at least one interval level")
    parts = [(np.asarray(upper_z[lv]) - np.asarray(lower_z[lv])) / (2.0 * normal_quantile(lv)) for lv in lower_z]
    return np.maximum(np.mean(parts, axis=0), 0.0)


def _at_bounds(p: np.ndarray, c: float, transform: Transform) -> np.ndarray:
    if c >= transform.upper:
        return np.zeros_like(p)
    if c < transform.lower:
        return np.ones_like(p)
    return np.clip(p, 0.0, 1.0)


def gaussian_exceedance(
    mean_z: np.ndarray, sigma_z: np.ndarray, thresholds: Sequence[float], transform: Transform
) -> dict[float, np.ndarray]:
    """P(y > c) for each threshold under ``z ~ N(mean_z, sigma_z²)`` (see the module docstring)."""
    mean_z = np.asarray(mean_z, dtype=np.float64)
    sigma_z = np.asarray(sigma_z, dtype=np.float64)
    out: dict[float, np.ndarray] = {}
    for c in thresholds:
        if c >= transform.upper or c < transform.lower:
            out[c] = _at_bounds(np.zeros_like(mean_z), c, transform)
            continue
        zc = float(transform.forward(np.array([c]))[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 1.0 - ndtr((zc - mean_z) / sigma_z)
        step = (mean_z > zc).astype(np.float64)
        p = np.where(sigma_z > 0, p, step)
        out[c] = _at_bounds(p, c, transform)
    return out


def empirical_exceedance(
    center_z: np.ndarray, scores: np.ndarray, thresholds: Sequence[float], transform: Transform
) -> dict[float, np.ndarray]:
    """P(y > c) for each threshold under the symmetric distribution of calibration ``scores`` (sorted or not)."""
    center_z = np.asarray(center_z, dtype=np.float64)
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ValueError("empirical exceedance needs calibration scores")
    n = s.size
    out: dict[float, np.ndarray] = {}
    for c in thresholds:
        if c >= transform.upper or c < transform.lower:
            out[c] = _at_bounds(np.zeros_like(center_z), c, transform)
            continue
        d = float(transform.forward(np.array([c]))[0]) - center_z
        above = n - np.searchsorted(s, d, side="right")  # #{s > d}
        at_least = n - np.searchsorted(s, -d, side="left")  # #{s >= -d}
        p = np.where(d >= 0, 0.5 * above / n, 1.0 - 0.5 * at_least / n)
        out[c] = _at_bounds(p, c, transform)
    return out
