"""Numba kernels of the ETS state-space recursion (Hyndman et al. 2008), as statsmodels' ``ETSModel`` runs it.

Parameters travel in statsmodels' *internal* layout, one float64 vector ``full`` of length 6 + m:
``[α, β, γ, φ, ℓ₋₁, b₋₁, s₋₁, …, s₋ₘ]`` (a model without trend has β = 0, b₋₁ = 0, φ = 1; without season m = 1,
γ = 0, s₋₁ = 0; undamped φ = 1). With ``star_beta`` the β slot holds β* = β/α, with ``star_gamma`` the γ slot
holds γ* = γ/(1 − α) (the forms the optimiser's box bounds apply to); otherwise they are derived here as
statsmodels does. For each t (s_{t−m} the state one season back, additive trend only):

    ŷ_t = (ℓ_{t−1} + φ b_{t−1}) + s_{t−m}               ŷ_t = (ℓ_{t−1} + φ b_{t−1}) · s_{t−m}
    ℓ_t = α (y_t − s_{t−m}) + (1 − α)(ℓ_{t−1} + φ b_{t−1})    ℓ_t = α y_t / s_{t−m} + (1 − α)(ℓ_{t−1} + φ b_{t−1})
    b_t = β* (ℓ_t − ℓ_{t−1}) + (1 − β*) φ b_{t−1}         (same)
    s_t = γ* (y_t − ℓ_t) + (1 − γ*) s_{t−m}                s_t = γ* y_t / ℓ_t + (1 − γ*) s_{t−m}
          (additive season)                                    (multiplicative season)

The point recursion is the same for additive and multiplicative errors; the error type only changes the
residual: e_t = y_t − ŷ_t (A) or (y_t − ŷ_t)/ŷ_t (M). The Gaussian log-likelihood with σ² concentrated out is

    log L = −n/2 · (log(2π · mean(e²)) + 1) − [M error] Σ log|ŷ_t|

Each expression is written in statsmodels' operation order (its Cython ``_ets_smooth``), so for the same
parameters the fitted values agree bit for bit; the seasonal states live in a ring buffer (O(1) a step, where
statsmodels shifts m states). The logarithms and the two means are left to numpy (:mod:`~.ets_fit`), whose SIMD
``log`` and pairwise sums are what statsmodels uses: the kernels return e² and |ŷ| row by row.

Compiled with ``njit(cache=True, nogil=True)`` (on-disk cache next to this file or under ``NUMBA_CACHE_DIR``);
every jitted function lives in this one file, as numba invalidates a cached function only when its own file
changes. ``GRIDCAST_NO_NUMBA=1`` (read once, at import) leaves them plain Python, and :class:`~.smoothing.Ets`
then fits through statsmodels instead (:data:`NUMBA_ENABLED`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

NUMBA_ENABLED: bool = os.environ.get("GRIDCAST_NO_NUMBA", "").strip() in ("", "0")

if NUMBA_ENABLED:
    from numba import njit

    # error_model="numpy": x / 0 gives ±inf or nan, as statsmodels' Cython (cdivision), instead of raising
    jit: Callable[[Callable[..., Any]], Any] = njit(cache=True, nogil=True, error_model="numpy")
else:  # pragma: no cover - the statsmodels path runs instead

    def jit(fn: Callable[..., Any]) -> Any:
        return fn


SQRT_EPS = float(np.finfo(np.float64).eps ** 0.5)  # scipy's fallback step for '2-point' differences


@jit
def ets_rows(
    params: np.ndarray,
    star_beta: bool,
    star_gamma: bool,
    y: np.ndarray,
    m: int,
    mul_season: bool,
    mul_error: bool,
    sq: np.ndarray,
    absfit: np.ndarray,
    level: np.ndarray,
    trend: np.ndarray,
    season: np.ndarray,
) -> None:
    """Run the recursion over ``y`` (n,) for each row of ``params`` (r, 6 + m), the rows side by side (their
    independent chains overlap in the CPU's pipeline).

    Writes the squared residuals e_t² into ``sq`` (r, n) and, for a multiplicative error, |ŷ_t| into ``absfit``
    (r, n), ŷ_t = 0 counted as 1e-32 as statsmodels does; the final states into ``level`` (r,), ``trend`` (r,)
    and ``season`` (r, m), the last as a ring: ``season[:, t % m]`` holds s_t.
    """
    rows = params.shape[0]
    alpha, beta_star, gamma_star, phi = np.empty(rows), np.empty(rows), np.empty(rows), np.empty(rows)
    for r in range(rows):
        alpha[r], phi[r] = params[r, 0], params[r, 3]
        beta_star[r] = params[r, 1] if star_beta else params[r, 1] / params[r, 0]
        gamma_star[r] = params[r, 2] if star_gamma else params[r, 2] / (1 - params[r, 0])
        level[r], trend[r] = params[r, 4], params[r, 5]
        for j in range(m):  # params[r, 6 + j] is s_{-1-j}: the oldest, s_{-m}, is used first
            season[r, j] = params[r, 6 + m - 1 - j]
    for i in range(y.size):
        k = i % m
        for r in range(rows):
            a, b, g, p = alpha[r], beta_star[r], gamma_star[r], phi[r]
            lv, tr, s = level[r], trend[r], season[r, k]
            if mul_season:
                yhat = (lv + p * tr) * s
                new_level = a * (y[i] / s) + (1 - a) * (lv + p * tr)
            else:
                yhat = lv + p * tr + s
                new_level = a * (y[i] - s) + (1 - a) * (lv + p * tr)
            trend[r] = b * (new_level - lv) + (1 - b) * p * tr
            if mul_season:
                season[r, k] = g * (y[i] / new_level) + (1 - g) * s
            else:
                season[r, k] = g * (y[i] - new_level) + (1 - g) * s
            level[r] = new_level
            e = (y[i] - yhat) / yhat if mul_error else y[i] - yhat
            sq[r, i] = e * e
            if mul_error:
                absfit[r, i] = abs(yhat) if yhat != 0 else 1e-32


@jit
def forward_difference_rows(
    x: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    free: np.ndarray,
    full0: np.ndarray,
    star_beta: bool,
    star_gamma: bool,
    y: np.ndarray,
    m: int,
    mul_season: bool,
    mul_error: bool,
    sq: np.ndarray,
    absfit: np.ndarray,
    dx: np.ndarray,
) -> None:
    """The residual rows of a forward-difference gradient, with scipy's ``approx_derivative`` steps.

    Row 0 is at the free parameters ``x`` (k,), row i + 1 at x + h_i e_i: h_i = 1e-8, or √ε · sign(x_i) ·
    max(1, |x_i|) where x_i + 1e-8 rounds back to x_i, negated where x_i + h_i leaves [lb_i, ub_i] (the bounds
    are never narrower than 1e-8 here). ``dx[i] = (x_i + h_i) − x_i``, the step actually taken. ``free`` maps x
    into ``full0``, whose other entries are the fixed values; ``sq``/``absfit`` are (k + 1, n).
    """
    k = x.size
    params = np.empty((k + 1, full0.size))
    for r in range(k + 1):
        params[r] = full0
        for j in range(k):
            params[r, free[j]] = x[j]
    for i in range(k):
        h = 1e-8
        if (x[i] + h) - x[i] == 0:
            h = SQRT_EPS * (1.0 if x[i] >= 0 else -1.0) * max(1.0, abs(x[i]))
        lower, upper = x[i] - lb[i], ub[i] - x[i]
        moved = x[i] + h
        if (moved < lb[i] or moved > ub[i]) and abs(h) <= max(lower, upper):
            h = -h
        params[i + 1, free[i]] = x[i] + h
        dx[i] = (x[i] + h) - x[i]
    states = np.empty(k + 1)
    ets_rows(
        params,
        star_beta,
        star_gamma,
        y,
        m,
        mul_season,
        mul_error,
        sq,
        absfit,
        states,
        np.empty(k + 1),
        np.empty((k + 1, m)),
    )
