"""Scan kernels: a state carried forward through one series, ``out[t] = f(state_{t−1}, inputs_t)``.

Each kernel handles one series (a group) and starts from a fresh state, so nothing crosses a group boundary.
Inputs and ``out`` are float64 (the runner widens float32 storage chunk-wise); the state is float64 too. NaN
semantics are stated per kernel: **skip** (the missing period leaves the state as it was, or as documented),
**reset** (the missing period ends the run) or **propagate**.
"""

from __future__ import annotations

import math

import numpy as np

from features.indicators.kernels._jit import driver, kernel

OP_EWM = 0
OP_EXPANDING_MEAN = 1
OP_COLD_EXPOSURE = 2
OP_DAMAGE_STOCK = 3
OP_DAYS_SINCE = 4
OP_COLD_SPELL_LEN = 5  # the two cold-spell ops share one run-length scan: keep them last and adjacent
OP_COLD_SPELL_STRIKES = 6


@kernel
def ewm_mean_1d(x: np.ndarray, alpha: float, out: np.ndarray) -> None:
    """Exponentially weighted mean, ``adjust=False``: ``s_t = α·x_t + (1 − α)·s_{t−1}``, ``s = x`` at the first
    valid value. NaN: skip (a missing ``x_t`` leaves the state unchanged and ``out[t]`` is the carried state; NaN
    before the first valid value). Units of ``x``."""
    state = np.nan
    for i in range(x.size):
        xi = x[i]
        if not math.isnan(xi):
            state = xi if math.isnan(state) else alpha * xi + (1.0 - alpha) * state
        out[i] = state


@kernel
def expanding_mean_1d(x: np.ndarray, min_periods: int, out: np.ndarray) -> None:
    """Mean of the valid values ``x_0 .. x_t``. NaN: skip (not counted); NaN while fewer than ``min_periods`` valid
    values have been seen. Units of ``x``."""
    total = 0.0
    count = 0
    for i in range(x.size):
        xi = x[i]
        if not math.isnan(xi):
            total += xi
            count += 1
        out[i] = total / count if count >= min_periods else np.nan


@kernel
def cold_exposure_1d(t: np.ndarray, base: float, threshold: float, decay: float, out: np.ndarray) -> None:
    """Decayed cumulative heating degree days: ``C_t = λ·C_{t−1} + HDD_t`` with ``C_{−1} = 0``, ``λ = decay`` and
    ``HDD_t = base − t_t`` if ``t_t ≤ threshold`` else 0. NaN: skip (a missing ``t_t`` leaves ``C`` unchanged and
    ``out[t] = C_{t−1}``; NaN before the first valid value). Units: °C·day."""
    state = np.nan
    for i in range(t.size):
        ti = t[i]
        if not math.isnan(ti):
            hdd = base - ti if ti <= threshold else 0.0
            state = hdd if math.isnan(state) else decay * state + hdd
        out[i] = state


@kernel
def cold_spell_len_1d(t: np.ndarray, threshold: float, out: np.ndarray) -> None:
    """Run length of consecutive periods with ``t < threshold``: ``R_t = R_{t−1} + 1`` if ``t_t < threshold`` else 0,
    ``R_{−1} = 0``. NaN: reset (``out[t]`` is NaN and the run restarts from 0 after it). Units: periods."""
    run = 0.0
    for i in range(t.size):
        ti = t[i]
        if math.isnan(ti):
            run = 0.0
            out[i] = np.nan
        else:
            run = run + 1.0 if ti < threshold else 0.0
            out[i] = run


@kernel
def damage_stock_1d(s: np.ndarray, weight: float, repair_rate: float, cap: float, out: np.ndarray) -> None:
    """Attrition stock: ``D_t = max(0, D_{t−1} + w·s_t − min(cap, r·D_{t−1}))`` with ``D_{−1} = 0``.

    Strikes add ``w`` damage units each; repair removes the share ``r`` of the stock, at most ``cap`` per period
    (``cap = inf``: no limit). NaN: skip as "no damage added" (repair goes on: ``D_t = max(0, D_{t−1} −
    min(cap, r·D_{t−1}))``); NaN before the first valid value. Units: damage units (``w`` × strikes).
    """
    stock = np.nan
    for i in range(s.size):
        si = s[i]
        if math.isnan(stock):
            if not math.isnan(si):
                stock = max(0.0, weight * si)
        else:
            added = 0.0 if math.isnan(si) else weight * si
            stock = max(0.0, stock + added - min(cap, repair_rate * stock))
        out[i] = stock


@kernel
def days_since_1d(s: np.ndarray, k: float, out: np.ndarray) -> None:
    """Periods since the last period with ``s ≥ k``: 0 at such a period, else the previous value + 1; NaN before the
    first such period. NaN: a missing ``s_t`` gives NaN at ``t`` but time still passes (the count goes on after it).
    Units: periods."""
    since = np.nan
    for i in range(s.size):
        si = s[i]
        since += 1.0  # NaN stays NaN until the first qualifying period
        if math.isnan(si):
            out[i] = np.nan
        else:
            if si >= k:
                since = 0.0
            out[i] = since


@kernel
def strikes_in_spell_1d(s: np.ndarray, min_len: float, out: np.ndarray) -> None:
    """Strikes during a cold spell, given the run lengths ``R`` already in ``out`` (:func:`cold_spell_len_1d` of the
    temperature): ``out_t = s_t`` if ``R_t ≥ min_len`` else 0. NaN: propagate (a missing ``s_t`` or ``R_t`` gives
    NaN). Units of ``s``. Elementwise over the run lengths, so the run-length scan is compiled once for both
    indicators."""
    for i in range(s.size):
        run = out[i]
        si = s[i]
        if math.isnan(run) or math.isnan(si):
            out[i] = np.nan
        else:
            out[i] = si if run >= min_len else 0.0


@driver
def scan_driver(
    op: int, x: np.ndarray, y: np.ndarray, indptr: np.ndarray, g0: int, g1: int, p: np.ndarray, out: np.ndarray
) -> None:
    """Run scan kernel ``op`` on every group ``g0 .. g1 − 1``, each from a fresh state (params in ``p``)."""
    for g in range(g0, g1):
        a, b = indptr[g], indptr[g + 1]
        xs, ys, outs = x[a:b], y[a:b], out[a:b]  # sliced once: slicing at every call site costs compile time
        if op == OP_EWM:
            ewm_mean_1d(xs, p[0], outs)
        elif op == OP_EXPANDING_MEAN:
            expanding_mean_1d(xs, int(p[0]), outs)
        elif op == OP_COLD_EXPOSURE:
            cold_exposure_1d(xs, p[0], p[1], p[2], outs)
        elif op >= OP_COLD_SPELL_LEN:
            # strikes in a cold spell: run lengths of the temperature (y) first, then masked strikes (x)
            cold_spell_len_1d(ys if op == OP_COLD_SPELL_STRIKES else xs, p[0], outs)
            if op == OP_COLD_SPELL_STRIKES:
                strikes_in_spell_1d(xs, p[1], outs)
        elif op == OP_DAMAGE_STOCK:
            damage_stock_1d(xs, p[0], p[1], p[2], outs)
        elif op == OP_DAYS_SINCE:
            days_since_1d(xs, p[0], outs)
