"""The Schäfer–Strimmer shrinkage estimate of the forecast-error covariance ``W`` that MinT-shrink uses.

Given residuals ``e_t`` (``T`` observations of the ``n`` series of a hierarchy, NaN where unknown), for every pair
``(i, j)`` over the ``T_ij`` observations where both are known:

- centred residuals ``x_it = e_it − ē_i``, ``x_jt = e_jt − ē_j`` (means over those observations);
- the empirical covariance ``σ_ij = Σ_t x_it·x_jt / (T_ij − 1)``; ``W_ii = max(σ_ii, ridge)``;
- standardised products ``w_ijt = x_it·x_jt / ((s_i + ε)(s_j + ε))`` with ``s_i = √(Σ_t x_it² / T_ij)`` and
  ``ε = 2·10⁻⁸``; their mean ``w̄_ij``; the empirical correlation ``r_ij = T_ij/(T_ij − 1)·w̄_ij`` and its variance
  ``Var(r_ij) = T_ij/(T_ij − 1)³ · Σ_t (w_ijt − w̄_ij)²``.

The shrinkage intensity towards the diagonal target (Schäfer & Strimmer 2005, target "D": keep the variances,
shrink the correlations to zero) is

    λ = clip( Σ_{i>j} Var(r_ij) / (Σ_{i>j} r_ij² + ε), 0, 1 ),

and ``W_ij = (1 − λ)·σ_ij`` off the diagonal. Pairs with fewer than two common observations get ``W_ij = 0``.
Without missing values this is the estimator of hierarchicalforecast's ``MinTrace(method="mint_shrink")``
(its ``mint_shr_ridge`` is ``ridge``); with missing values it is the same pairwise estimator, up to where ``ε``
enters (a difference of the order of ``ε``).
"""

from __future__ import annotations

import numpy as np

EPS = 2e-8
DEFAULT_RIDGE = 2e-8


def shrunk_covariance(residuals: np.ndarray, ridge: float = DEFAULT_RIDGE) -> tuple[np.ndarray, float]:
    """``(W, λ)`` from ``residuals`` of shape ``(T, n)`` (observations × series; NaN = unknown).

    Memory and time are ``O(T·n)`` per series, ``O(T·n²)`` in all: meant for hierarchies of tens to a few hundred
    series. :class:`ValueError` when ``T < 2`` or a series has fewer than two known residuals.
    """
    e = np.asarray(residuals, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"residuals: expected a 2-d array (observations × series), got shape {e.shape}")
    t_obs, n = e.shape
    known = ~np.isnan(e)
    short = np.flatnonzero(known.sum(axis=0) < 2)
    if t_obs < 2 or short.size:
        raise ValueError(f"residuals: every series needs at least 2 known residuals (series {short.tolist()} do not)")
    w = np.zeros((n, n), dtype=np.float64)
    num = 0.0  # Σ_{i>j} Var(r_ij)
    den = 0.0  # Σ_{i>j} r_ij²
    for i in range(n):
        cols = slice(0, i + 1)
        both = known[:, i : i + 1] & known[:, cols]  # (T, i + 1): observations where i and j are known
        count = both.sum(axis=0).astype(np.float64)
        ok = count > 1
        safe = np.where(ok, count, 1.0)
        ei = np.where(both, e[:, i : i + 1], 0.0)
        ej = np.where(both, e[:, cols], 0.0)
        xi = np.where(both, ei - ei.sum(axis=0) / safe, 0.0)
        xj = np.where(both, ej - ej.sum(axis=0) / safe, 0.0)
        prod = xi * xj
        cov = prod.sum(axis=0) / np.where(ok, count - 1.0, 1.0)
        w[i, cols] = np.where(ok, cov, 0.0)
        # off-diagonal terms of the shrinkage intensity (j < i)
        si = np.sqrt((xi**2).sum(axis=0) / safe) + EPS
        sj = np.sqrt((xj**2).sum(axis=0) / safe) + EPS
        ws = prod / (si * sj)
        wbar = ws.sum(axis=0) / safe
        var_w = np.where(both, ws - wbar, 0.0) ** 2
        off = ok.copy()
        off[i] = False
        c = count[off]
        num += float(np.sum(c / (c - 1.0) ** 3 * var_w.sum(axis=0)[off]))
        den += float(np.sum((c / (c - 1.0) * wbar[off]) ** 2))
    lam = float(np.clip(num / (den + EPS), 0.0, 1.0))
    lower = np.tril(w, -1) * (1.0 - lam)
    out = lower + lower.T
    out[np.diag_indices(n)] = np.maximum(np.diag(w), ridge)
    return out, lam
