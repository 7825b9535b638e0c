"""Elementwise kernels: ``out[t]`` depends on the inputs at ``t`` only (so groups do not matter).

Kernels read float64 inputs ``x`` (and ``y``) and write float64 ``out`` of the same length. NaN semantics:
**propagate** (a missing input gives a missing output at the same period, nothing else is affected).
"""

from __future__ import annotations

import math

import numpy as np

from features.indicators.kernels._jit import driver, kernel

OP_HDD = 0
OP_PRODUCT = 1


@kernel
def hdd_1d(t: np.ndarray, base: float, threshold: float, out: np.ndarray) -> None:
    """Heating degree days (Eurostat rule): ``out = base − t`` where ``t ≤ threshold``, else 0; NaN → NaN.

    Units: °C·day per day when ``t`` is the daily mean temperature in °C.
    """
    for i in range(t.size):
        ti = t[i]
        if math.isnan(ti):
            out[i] = np.nan
        elif ti <= threshold:
            out[i] = base - ti
        else:
            out[i] = 0.0


@kernel
def product_1d(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out = a · b`` (an interaction of two inputs); NaN in either → NaN. Units: product of the inputs' units."""
    for i in range(a.size):
        out[i] = a[i] * b[i]


@driver
def elementwise_driver(
    op: int, x: np.ndarray, y: np.ndarray, indptr: np.ndarray, g0: int, g1: int, p: np.ndarray, out: np.ndarray
) -> None:
    """Run elementwise kernel ``op`` over the rows of groups ``g0 .. g1 − 1`` (one contiguous row range)."""
    start, stop = indptr[g0], indptr[g1]
    xs, ys, outs = x[start:stop], y[start:stop], out[start:stop]
    if op == OP_HDD:
        hdd_1d(xs, p[0], p[1], outs)
    elif op == OP_PRODUCT:
        product_1d(xs, ys, outs)
