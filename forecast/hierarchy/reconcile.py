"""Coherent forecasts on the project's long frames: bottom-up and MinT-shrink, non-negative and bounded.

One reconciliation per ``(model, scenario, cutoff, ds)`` (whichever of ``scenario`` and ``cutoff`` the frame has):
the base ``mean`` of every id of the hierarchy at that key is the vector ``ŷ``, and (:mod:`~.projection`)

    b̃ = clip(P·ŷ, lower, upper),   ỹ = S·b̃.

**Bounded** because of the clip: the bottom-level results are projected into the target's bounds (hours off per
queue in [0, 24]) and the aggregates are then *re-summed* from the clipped bottom, so an aggregate of ``k``
members lies in ``[k·lower, k·upper]`` and the sums hold exactly (to rounding, well inside 1e-9). Bottom-up of
bounded base forecasts never needs the clip; MinT can move a bottom series below 0 (or above its upper bound), and
the clip then takes it off the MinT optimum (a constrained MinT, hierarchicalforecast's ``nonnegative=True``,
solves a quadratic programme instead). Without clipping the numbers are hierarchicalforecast's.

Only point forecasts are reconciled. The interval, quantile and exceedance columns (``lo-*``, ``hi-*``, ``q-*``,
``p_exceed-*``, ``interval_note``) are dropped: a reconciled forecast needs intervals of its own, which the jobs
get conformally (:mod:`forecast.conformal`) from the reconciled backtest (:func:`reconcile_backtest`). Other
columns (``y``, ``cutoff``, ``scenario``, ``fallback_reason`` of the base forecast) are kept; the ``model`` column
becomes ``<model>/<method>`` unless ``rename=False``.

MinT's ``W`` comes from ``residuals``: a frame of errors ``y − mean`` of the same model (a backtest frame, or
in-sample fits) over the same ids; one observation vector per ``(cutoff, ds)``, errors of every forecast step
pooled. The truth of what is reconciled must not be in it: :func:`reconcile_backtest` reconciles each window with
the errors known at its cutoff only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, SCENARIO, Bounds, Y
from forecast.hierarchy.aggregate import check_ids, few_ids
from forecast.hierarchy.covariance import DEFAULT_RIDGE, shrunk_covariance
from forecast.hierarchy.projection import bottom_up_matrix, mint_matrix
from forecast.hierarchy.structure import Hierarchy
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.windows import earlier_windows

METHODS = ("bottom_up", "mint_shrink")
DROPPED_PREFIXES = ("lo-", "hi-", "q-", "p_exceed-")
_ORDER, _NEW = "_rc_order", "_rc_mean"


def reconcile(
    forecasts: pl.DataFrame,
    hierarchy: Hierarchy,
    method: str,
    *,
    residuals: pl.DataFrame | None = None,
    bounds: Bounds | None = None,
    ridge: float = DEFAULT_RIDGE,
    rename: bool = True,
) -> pl.DataFrame:
    """Reconcile the ``mean`` of ``forecasts`` (``unique_id, ds, model, mean`` and optionally ``scenario``,
    ``cutoff``, ``y``, …) over ``hierarchy`` with ``method`` (``"bottom_up"`` or ``"mint_shrink"``).

    Every id of the hierarchy needs a non-null ``mean`` at every key; ``residuals`` (``unique_id, ds, model, y,
    mean``, optionally ``cutoff``) are required for ``"mint_shrink"`` and unused by ``"bottom_up"``; ``bounds``
    are the bottom series' bounds (None: no clipping); ``ridge`` floors the diagonal of ``W``. The rows keep their
    order. See the module docstring for the formulas and the columns.
    """
    if method not in METHODS:
        raise ValueError(f"reconcile: unknown method {method!r}; expected one of {', '.join(METHODS)}")
    need = [c for c in (ID, DS, MODEL, MEAN) if c not in forecasts.columns]
    if need:
        raise ValueError(f"reconcile: forecasts miss columns {', '.join(need)}")
    if method == "mint_shrink" and residuals is None:
        raise ValueError("reconcile: mint_shrink needs residuals (y and mean of earlier forecasts of the same model)")
    check_ids(forecasts.get_column(ID).unique().to_list(), hierarchy, source="reconcile", expect=hierarchy.ids)
    keep = [c for c in forecasts.columns if not c.startswith(DROPPED_PREFIXES) and c != INTERVAL_NOTE]
    frame = forecasts.select(keep).with_row_index(_ORDER)
    keys = [c for c in (SCENARIO, CUTOFF) if c in frame.columns] + [DS]
    lo = -np.inf if bounds is None or bounds.lower is None else float(bounds.lower)
    hi = np.inf if bounds is None or bounds.upper is None else float(bounds.upper)
    s = hierarchy.S
    parts = []
    for (model,), part in frame.partition_by(MODEL, as_dict=True, maintain_order=True).items():
        if method == "bottom_up":
            p = bottom_up_matrix(s)
        else:
            assert residuals is not None
            w, _ = shrunk_covariance(residual_matrix(residuals, hierarchy, str(model)), ridge)
            p = mint_matrix(s, w)
        wide = _wide(part, hierarchy, keys, str(model))
        base = wide.select(hierarchy.ids).to_numpy().astype(np.float64)
        bottom = np.clip(base @ p.T, lo, hi)
        coherent = bottom @ s.T
        new = wide.select(keys).with_columns(
            pl.Series(node, coherent[:, k], dtype=pl.Float64) for k, node in enumerate(hierarchy.ids)
        )
        long = new.unpivot(index=keys, on=list(hierarchy.ids), variable_name=ID, value_name=_NEW)
        part = part.join(long, on=[*keys, ID], how="left").with_columns(pl.col(_NEW).alias(MEAN)).drop(_NEW)
        parts.append(part)
    out = pl.concat(parts, how="vertical").sort(_ORDER).drop(_ORDER).select(keep)
    if rename:
        out = out.with_columns((pl.col(MODEL) + f"/{method}").alias(MODEL))
    return out


def _wide(part: pl.DataFrame, hierarchy: Hierarchy, keys: list[str], model: str) -> pl.DataFrame:
    """One row per key, one ``mean`` column per id; errors for duplicates and missing or null means."""
    if part.select(*keys, ID).is_duplicated().any():
        raise ValueError(f"reconcile: model {model!r} has more than one row for a ({', '.join(keys)}, unique_id)")
    wide = part.pivot(on=ID, index=keys, values=MEAN, aggregate_function=None, maintain_order=True)
    wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(i) for i in hierarchy.ids if i not in wide.columns)
    values = wide.select(pl.col(i).cast(pl.Float64) for i in hierarchy.ids)
    bad = values.select(pl.any_horizontal(pl.all().is_null() | pl.all().is_nan()).alias("bad")).get_column("bad")
    if bad.any():
        row = wide.filter(bad).row(0, named=True)
        ids = [i for i in hierarchy.ids if row[i] is None or np.isnan(row[i])]
        at = ", ".join(f"{k}={row[k]}" for k in keys)
        raise ValueError(
            f"reconcile: model {model!r} has no base mean for {few_ids(ids)} at {at} ({int(bad.sum())} keys incomplete)"
        )
    return wide


def residual_matrix(residuals: pl.DataFrame, hierarchy: Hierarchy, model: str) -> np.ndarray:
    """The errors ``y − mean`` of ``model`` as a ``(T, n)`` array: one row per ``(scenario, cutoff, ds)`` present,
    columns in the hierarchy's id order, NaN where unknown (rows unknown for every id are dropped)."""
    need = [c for c in (ID, DS, MODEL, Y, MEAN) if c not in residuals.columns]
    if need:
        raise ValueError(f"reconcile: residuals miss columns {', '.join(need)}")
    part = residuals.filter(pl.col(MODEL) == model)
    if part.height == 0:
        raise ValueError(f"reconcile: no residuals for model {model!r}")
    check_ids(part.get_column(ID).unique().to_list(), hierarchy, source="reconcile residuals", expect=())
    keys = [c for c in (SCENARIO, CUTOFF) if c in part.columns] + [DS]
    err = part.select(*keys, ID, (pl.col(Y).cast(pl.Float64) - pl.col(MEAN).cast(pl.Float64)).fill_nan(None).alias("e"))
    if err.select(*keys, ID).is_duplicated().any():
        raise ValueError(f"reconcile: residuals of {model!r} have more than one row for a ({', '.join(keys)}, id)")
    wide = err.pivot(on=ID, index=keys, values="e", aggregate_function=None, sort_columns=False)
    wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(i) for i in hierarchy.ids if i not in wide.columns)
    e = wide.select(pl.col(i).cast(pl.Float64) for i in hierarchy.ids).to_numpy().astype(np.float64)
    return e[~np.isnan(e).all(axis=1)]


def reconcile_backtest(
    backtest_df: pl.DataFrame,
    hierarchy: Hierarchy,
    method: str,
    *,
    min_windows: int = 1,
    max_windows: int | None = None,
    bounds: Bounds | None = None,
    ridge: float = DEFAULT_RIDGE,
    rename: bool = True,
) -> pl.DataFrame:
    """Reconcile a :func:`forecast.backtest.backtest` frame of every id of ``hierarchy`` without look-ahead.

    ``"bottom_up"`` needs no residuals and reconciles every window. ``"mint_shrink"`` reconciles window ``w ≥
    min_windows`` (windows numbered per series by cutoff, 0 = oldest: :func:`forecast.windows.earlier_windows`)
    with the residuals of windows ``max(0, w − max_windows) … w − 1`` whose truth was
    known at window ``w``'s earliest cutoff (``ds ≤`` it); the earlier windows only give residuals and are left
    out. The result has the columns of :func:`reconcile`.
    """
    for name, value in (("min_windows", min_windows), ("max_windows", max_windows)):
        bad = isinstance(value, bool) or not isinstance(value, int) or value < 1
        if bad and not (name == "max_windows" and value is None):
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    if CUTOFF not in backtest_df.columns or Y not in backtest_df.columns:
        raise ValueError("reconcile_backtest: backtest_df needs columns cutoff and y")
    if method == "bottom_up":
        return reconcile(backtest_df, hierarchy, method, bounds=bounds, rename=rename)
    parts = [
        reconcile(
            target,
            hierarchy,
            method,
            residuals=calib,
            bounds=bounds,
            ridge=ridge,
            rename=rename,
        )
        for _, target, calib in earlier_windows(backtest_df, min_windows, max_windows, purpose="reconcile")
    ]
    return pl.concat(parts, how="vertical")


def coherence_gap(frame: pl.DataFrame, hierarchy: Hierarchy, keys: Sequence[str] | None = None) -> float:
    """The largest ``|mean_i − Σ_{j ∈ M(i)} mean_j|`` over the aggregates ``i`` and keys of a reconciled frame
    (0 for a coherent one); ``keys`` default to the frame's ``model``, ``scenario``, ``cutoff``, ``ds``."""
    keys = list(keys) if keys is not None else [c for c in (MODEL, SCENARIO, CUTOFF, DS) if c in frame.columns]
    pairs = [(node, b) for node in hierarchy.aggregates for b in hierarchy.members[node]]
    if not pairs:
        return 0.0
    members = pl.DataFrame(pairs, schema={"_node": pl.String, ID: pl.String}, orient="row")
    sums = frame.join(members, on=ID).group_by(*keys, "_node").agg(pl.col(MEAN).sum().alias("_sum"))
    gap = sums.join(frame.select(*keys, pl.col(ID).alias("_node"), MEAN), on=[*keys, "_node"])
    value = gap.select((pl.col(MEAN) - pl.col("_sum")).abs().max()).item()
    return float(value) if value is not None else 0.0
