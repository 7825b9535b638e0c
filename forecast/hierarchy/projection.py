"""Reconciliation as a linear map: base forecasts of every id → bottom series, then summed up.

With ``ŷ`` the base forecasts of all ``n`` ids (aggregates first, the ``m`` bottom series last; ``S = [A; I]``)
every method here gives a bottom-level ``b̃ = P·ŷ`` and the coherent ``ỹ = S·b̃``.

Bottom-up
    ``P = [0 | I_m]``: the bottom forecasts, summed. Aggregates' base forecasts are ignored.
MinT (Wickramasuriya, Athanasopoulos & Hyndman 2019)
    ``P = (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹``, the unbiased ``P`` minimising the trace of the reconciled error covariance
    ``S P W Pᵀ Sᵀ`` for the base error covariance ``W``. Computed without inverting ``W``: with
    ``Uᵀ = [I_{n−m} | −A]`` (so ``Uᵀ y = 0`` exactly for coherent ``y``),

        S·P = I − W U (Uᵀ W U)⁻¹ Uᵀ,

    a projection onto the coherent subspace along ``W``; ``P`` is its last ``m`` rows. ``W`` is the shrinkage
    estimate of :mod:`forecast.hierarchy.covariance` for MinT-shrink.
"""

from __future__ import annotations

import numpy as np


def split_S(S: np.ndarray) -> tuple[np.ndarray, int]:
    """``(A, m)``: the aggregation block and the number of bottom series of a summing matrix ``S = [A; I_m]``."""
    s = np.asarray(S, dtype=np.float64)
    n, m = s.shape
    if n < m or not np.array_equal(s[n - m :], np.eye(m)):
        raise ValueError(f"S: expected the aggregation rows above an identity of the {m} bottom series")
    return s[: n - m], m


def bottom_up_matrix(S: np.ndarray) -> np.ndarray:
    """``P = [0 | I_m]`` (``m × n``)."""
    a, m = split_S(S)
    return np.hstack([np.zeros((m, a.shape[0])), np.eye(m)])


def mint_matrix(S: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``P = (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹`` (``m × n``) for the error covariance ``W`` (``n × n``), as the last ``m`` rows
    of ``I − W U (Uᵀ W U)⁻¹ Uᵀ``. :class:`ValueError` when ``Uᵀ W U`` is singular."""
    a, m = split_S(S)
    n_agg = a.shape[0]
    w = np.asarray(W, dtype=np.float64)
    n = n_agg + m
    if w.shape != (n, n):
        raise ValueError(f"W: expected shape {(n, n)}, got {w.shape}")
    if n_agg == 0:
        return np.eye(m)
    ut = np.hstack([np.eye(n_agg), -a])  # (n_agg, n)
    wu = w @ ut.T  # (n, n_agg)
    try:
        k = np.linalg.solve(ut @ wu, ut)  # (Uᵀ W U)⁻¹ Uᵀ
    except np.linalg.LinAlgError:
        raise ValueError("MinT: Uᵀ W U is singular; raise the ridge or use bottom_up") from None
    full = np.eye(n) - wu @ k
    return full[n_agg:]
