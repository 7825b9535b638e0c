"""Elementwise kernels: ``out[t]`` depends on the inputs at ``t`` only (so groups do not matter).

Kernels read float64 inputs ``x`` (and ``y``) and write float64 ``out`` of the same length. NaN semantics:
**propagate** (a missing input gives a missing output at the same period, nothing else is affected).

Adding an op here: a ``*_1d`` kernel and a row of :data:`OPS` (its call, inputs and parameters) (see
:mod:`~features.indicators.kernels._ops`); the driver, entry point and warm-up follow from the row.
"""

from __future__ import annotations

import math

import numpy as np

from features.indicators.kernels._jit import kernel
from features.indicators.kernels._ops import Op, OpTable
from features.indicators.kernels.params import HDD_BASE, HDD_THRESHOLD


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


# --- the op table: calls over one group's x, y, out and the parameters p (see _ops) -------------------------

OPS = OpTable(
    __name__,
    (
        Op(
            "hdd",
            "hdd_1d(x, p[0], p[1], out)",
            (HDD_BASE, HDD_THRESHOLD),
            doc="Heating degree days (Eurostat rule): ``base − T`` if ``T ≤ threshold`` else 0, NaN → NaN.\n\n"
            "``values``: daily mean temperatures, °C. Result: °C·day per day.",
        ),
        Op(
            "product",
            "product_1d(x, y, out)",
            inputs=("a", "b"),
            doc="Elementwise ``a · b`` of two aligned inputs (e.g. damage stock × HDD); NaN in either → NaN.",
        ),
    ),
    per_group=False,
)
elementwise_driver = OPS.compile_driver()
