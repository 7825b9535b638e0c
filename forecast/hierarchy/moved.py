"""Intervals for reconciled rows when their own backtest is too short to calibrate: the base model's, moved.

A reconciled forecast ``ỹ`` replaces the base mean ``ŷ`` of the same model, id and date. When the reconciled
backtest has too few windows to calibrate intervals of its own (a month of data, one city), the rows get the base
model's predictive distribution moved by ``δ = ỹ − ŷ``:

    lo'ₗ = clip(loₗ + δ),  hi'ₗ = clip(hiₗ + δ),  q'_τ = clip(q_τ + δ)

clipped into the series' bounds. The widths are the base model's (calibrated where the base could be), so the
intervals say as much about the reconciled mean as the base intervals say about the base mean when reconciliation
moves the mean by little. The exceedance probabilities are read off the moved quantiles: a piecewise-linear
distribution function through ``(q'_τ, τ)``, with ``(lower, 0)`` and ``(upper, 1)`` added at the bounds,
``P(y > c) = 1 − F(c)``; without quantiles they are null. Rows whose base row has no interval (a calibration
window) get none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from features.contract import MEAN, MODEL, Bounds
from forecast.output.quantiles import p_exceed_col, quantile_columns

MOVED_PREFIXES = ("lo-", "hi-", "q-")
_BASE, _SHIFT = "_mv_base_model", "_mv_shift"


def moved_intervals(
    reconciled: pl.DataFrame,
    base: pl.DataFrame,
    keys: Sequence[str],
    *,
    bounds: Bounds | None = None,
    thresholds: Sequence[float] = (),
) -> pl.DataFrame:
    """``reconciled`` (models ``<model>/<method>``) with the interval and quantile columns of ``base`` (models
    ``<model>``) at the same ``keys`` (``unique_id, ds`` and ``cutoff``/``scenario`` where present) moved by the
    change of the mean, and exceedance columns for ``thresholds`` (module docstring)."""
    moved = [c for c in base.columns if c.startswith(MOVED_PREFIXES)]
    ref = base.select(*keys, pl.col(MODEL).alias(_BASE), pl.col(MEAN).alias("_mv_mean"), *moved)
    frame = reconciled.drop([c for c in reconciled.columns if c in moved or c.startswith("p_exceed-")])
    frame = frame.with_columns(pl.col(MODEL).str.split("/").list.first().alias(_BASE))
    joined = frame.join(ref, on=[*keys, _BASE], how="left", maintain_order="left")
    joined = joined.with_columns((pl.col(MEAN) - pl.col("_mv_mean")).alias(_SHIFT))
    lower = None if bounds is None else bounds.lower
    upper = None if bounds is None else bounds.upper
    joined = joined.with_columns((pl.col(c) + pl.col(_SHIFT)).clip(lower, upper).alias(c) for c in moved)
    joined = joined.with_columns(_exceedance(joined, thresholds, lower, upper))
    return joined.drop(_BASE, "_mv_mean", _SHIFT)


def _exceedance(
    frame: pl.DataFrame, thresholds: Sequence[float], lower: float | None, upper: float | None
) -> list[pl.Series]:
    """``p_exceed-<c>`` from the moved quantiles (null without quantiles or where a row has none)."""
    qcols = quantile_columns(frame.columns)
    n = frame.height
    if not thresholds:
        return []
    if not qcols:
        return [pl.Series(p_exceed_col(c), [None] * n, dtype=pl.Float64) for c in thresholds]
    taus = np.array(sorted(qcols))
    values = np.column_stack([frame.get_column(qcols[t]).cast(pl.Float64).fill_null(np.nan).to_numpy() for t in taus])
    values = np.sort(values, axis=1)  # quantiles moved and clipped stay ordered; sorting guards ties after the clip
    probs = taus
    if lower is not None:
        values = np.column_stack([np.full(n, lower), values])
        probs = np.concatenate([[0.0], probs])
    if upper is not None:
        values = np.column_stack([values, np.full(n, upper)])
        probs = np.concatenate([probs, [1.0]])
    out = []
    for c in thresholds:
        p = np.full(n, np.nan)
        for i in range(n):
            row = values[i]
            if not np.isnan(row).any():
                p[i] = 1.0 - float(np.interp(c, row, probs))
        out.append(pl.Series(p_exceed_col(c), p, dtype=pl.Float64, nan_to_null=True))
    return out


def moved_note(reason: str | None) -> str:
    """The ``interval_note`` of moved rows."""
    why = f" ({reason})" if reason else ""
    return f"reconciled: the base model's intervals moved to the reconciled mean, not calibrated on its own{why}"
