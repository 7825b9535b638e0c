"""Split-conformal intervals per horizon step from backtest residuals, for any model.

Method
    The *scores* are the absolute residuals ``s = |T(y) − T(mean)|`` of a backtest (``T`` the target transform of
    :mod:`forecast.output.bounds`, identity by default), grouped by model and horizon step ``h`` (the position of the
    row in its forecast: 1 for the first period after the cutoff) and pooled across windows and series. For a central
    ``level`` % interval, α = 1 − level/100 and the half-width at step h is the ``k``-th smallest of the ``n``
    scores of that step with ``k = ⌈(n + 1)(1 − α)⌉`` (the finite-sample split-conformal quantile): if the new
    residual is exchangeable with the calibration ones, ``P(|T(y) − T(mean)| ≤ q) ≥ 1 − α``. When ``k > n``
    (fewer than ``(1 − α)/α`` scores: 19 at 95 %, 4 at 80 %) the level cannot be calibrated and an error says so.
    The interval is ``[T⁻¹(T(mean) − q), T⁻¹(T(mean) + q)]``: the back-transform lands inside the bounds (clipping
    under ``"none"``), so conformal intervals never leave them either.

Quantiles and exceedance
    The same symmetric distribution gives the quantile columns (``q < 0.5`` is the lower bound of the
    ``100·(1 − 2q)`` % conformal interval, the median is ``mean``) and P(y > c) (see
    :func:`forecast.output.exceedance.empirical_exceedance`), so ``p_exceed`` at ``hi-80`` is about 0.1.

Validity needs the calibration windows to resemble the forecast ones (same model, horizon, season mix): calibrate on
a backtest of the model as it will be used, over a span covering the seasons (a year for outage hours).
:func:`conformal_backtest` scores the method honestly: each window is calibrated on earlier windows only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import polars as pl

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, SCENARIO, Bounds, Y, hi_col, lo_col
from forecast.output.bounds import TransformLike, make_transform
from forecast.output.exceedance import empirical_exceedance
from forecast.output.quantiles import (
    INTERVAL_NOTE,
    check_quantiles,
    check_thresholds,
    p_exceed_col,
    q_col,
    quantile_level,
)
from forecast.output.request import check_levels
from forecast.windows import WINDOW, earlier_windows

STEP = "step"
SCORE = "score"
_ORDER = "_cf_order"
_PREFIXES = ("lo-", "hi-", "q-", "p_exceed-")


def _group_keys(frame: pl.DataFrame) -> list[str]:
    return [MODEL, ID, *[c for c in (SCENARIO, CUTOFF) if c in frame.columns]]


def with_steps(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``step`` (1 = first period after the cutoff) within each forecast (model, series, scenario, cutoff)."""
    need = [c for c in (ID, DS, MODEL, MEAN) if c not in frame.columns]
    if need:
        raise ValueError(f"missing columns {', '.join(need)}")
    return frame.with_columns(pl.col(DS).rank("ordinal").over(_group_keys(frame)).cast(pl.Int64).alias(STEP))


def conformal_scores(
    backtest_df: pl.DataFrame, *, transform: TransformLike | None = "none", bounds: Bounds | None = None
) -> pl.DataFrame:
    """Calibration scores ``|T(y) − T(mean)|``: columns ``model, step, score``, rows where both values exist."""
    if Y not in backtest_df.columns:
        raise ValueError("backtest_df: missing column y (the truth)")
    tr = make_transform(transform, bounds)
    bt = with_steps(backtest_df).select(MODEL, STEP, pl.col(Y).cast(pl.Float64), pl.col(MEAN).cast(pl.Float64))
    bt = bt.filter(pl.col(Y).is_not_null() & pl.col(MEAN).is_not_null() & pl.col(Y).is_not_nan())
    score = np.abs(tr.forward(bt.get_column(Y).to_numpy()) - tr.forward(bt.get_column(MEAN).to_numpy()))
    return bt.select(MODEL, STEP).with_columns(pl.Series(SCORE, score, dtype=pl.Float64))


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal half-width: the ⌈(n + 1)·level/100⌉-th smallest score (an error if that exceeds n)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = s.size
    k = math.ceil((n + 1) * level / 100.0 - 1e-9)
    if n == 0 or k > n:
        need = math.ceil(level / (100.0 - level) - 1e-9)
        raise ValueError(f"{n} calibration residuals cannot calibrate a {level:g}% interval (need at least {need})")
    return float(s[k - 1])


def conformal_intervals(
    backtest_df: pl.DataFrame,
    forecast_df: pl.DataFrame,
    level: Sequence[int] = (80, 95),
    *,
    quantiles: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    bounds: Bounds | None = None,
    transform: TransformLike | None = "none",
    too_few: Literal["raise", "null"] = "raise",
) -> pl.DataFrame:
    """Replace the intervals of ``forecast_df`` by split-conformal ones calibrated on ``backtest_df``.

    ``backtest_df`` has ``unique_id, ds, cutoff, model, y, mean`` (a :func:`forecast.backtest.backtest` frame);
    ``forecast_df`` has ``unique_id, ds, model, mean`` (a forecast frame, or another backtest frame for a
    held-out check). Steps are counted per forecast; every model and step of ``forecast_df`` needs calibration
    scores. Existing ``lo-*``, ``hi-*``, ``q-*`` and ``p_exceed-*`` columns (and ``interval_note``, which no
    longer applies) are dropped; the conformal ``lo-<l>``, ``hi-<l>``, ``q-<q>`` and ``p_exceed-<c>`` columns
    follow ``mean``. Rows with a null ``mean`` get null values. A model and step with too few residuals for a
    level (truths missing from the calibration windows) is an error, or with ``too_few="null"`` gets null
    intervals at that level (and null exceedance without any residual).

    Kept in one piece on purpose: the per-step quantiles, the join onto the forecast rows and the
    back-transform of every column are one computation over the same keys.
    """
    levels = check_levels(level)
    qs = check_quantiles(quantiles)
    cs = check_thresholds(thresholds)
    tr = make_transform(transform, bounds)
    scores = conformal_scores(backtest_df, transform=tr)
    calib = {
        (m, st): np.sort(part.get_column(SCORE).to_numpy())
        for (m, st), part in scores.partition_by(MODEL, STEP, as_dict=True).items()
    }
    fc = with_steps(forecast_df).with_row_index(_ORDER)
    all_levels = sorted(set(levels) | {lv for q in qs if (lv := quantile_level(q)) is not None})
    lo_z: dict[int, list[pl.Series]] = {lv: [] for lv in all_levels}
    hi_z: dict[int, list[pl.Series]] = {lv: [] for lv in all_levels}
    p_ex: dict[float, list[pl.Series]] = {c: [] for c in cs}
    orders: list[pl.Series] = []
    for (m, st), part in fc.partition_by(MODEL, STEP, as_dict=True).items():
        s = calib.get((m, st))
        if s is None and too_few == "raise":
            raise ValueError(f"conformal: no calibration residuals for model {m!r} at step {st}")
        s = np.empty(0) if s is None else s
        center = tr.forward(part.get_column(MEAN).cast(pl.Float64).fill_nan(None).to_numpy())
        orders.append(part.get_column(_ORDER))
        for lv in all_levels:
            try:
                half = conformal_quantile(s, lv)
            except ValueError as exc:
                if too_few == "raise":
                    raise ValueError(f"conformal: model {m!r}, step {st}: {exc}") from None
                half = np.nan
            lo_z[lv].append(pl.Series(center - half))
            hi_z[lv].append(pl.Series(center + half))
        nothing = {c: np.full(center.shape, np.nan) for c in cs}
        for c, p in (empirical_exceedance(center, s, cs, tr) if s.size else nothing).items():
            p_ex[c].append(pl.Series(np.where(np.isnan(center), np.nan, p)))
    order = pl.concat(orders).arg_sort()

    def gather(parts: list[pl.Series]) -> np.ndarray:
        return pl.concat(parts).gather(order).to_numpy()

    lows = {lv: tr.inverse(gather(lo_z[lv])) for lv in all_levels}
    highs = {lv: tr.inverse(gather(hi_z[lv])) for lv in all_levels}
    mean = tr.clip(fc.get_column(MEAN).cast(pl.Float64).fill_nan(None).to_numpy())
    new: dict[str, np.ndarray] = {}
    for lv in levels:
        new[lo_col(lv)], new[hi_col(lv)] = lows[lv], highs[lv]
    for q in qs:
        lv = quantile_level(q)
        new[q_col(q)] = mean if lv is None else (lows[lv] if q < 0.5 else highs[lv])
    for c in cs:
        new[p_exceed_col(c)] = gather(p_ex[c])
    keep = [c for c in forecast_df.columns if not c.startswith(_PREFIXES) and c != INTERVAL_NOTE]
    at = keep.index(MEAN) + 1
    out = forecast_df.select(keep).with_columns(
        pl.Series(name, values, dtype=pl.Float64).fill_nan(None) for name, values in new.items()
    )
    return out.select(*keep[:at], *new, *keep[at:])


def conformal_backtest(
    backtest_df: pl.DataFrame,
    level: Sequence[int] = (80, 95),
    *,
    min_windows: int,
    max_windows: int | None = None,
    quantiles: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    bounds: Bounds | None = None,
    transform: TransformLike | None = "none",
    too_few: Literal["raise", "null"] = "raise",
) -> pl.DataFrame:
    """Honest conformal intervals for a backtest: window ``w`` is calibrated on earlier windows only.

    Windows are numbered per series by cutoff (0 = oldest). Window ``w ≥ min_windows`` is calibrated on the rows of
    windows ``max(0, w − max_windows) … w − 1`` (all earlier ones when ``max_windows`` is None) whose truth was
    known at window ``w``'s earliest cutoff (``ds ≤`` that cutoff; this matters when windows overlap). Windows
    before ``min_windows`` only calibrate and are left out of the result, which has the columns of
    :func:`conformal_intervals` plus ``window``.
    """
    if isinstance(min_windows, bool) or not isinstance(min_windows, int) or min_windows < 1:
        raise ValueError(f"min_windows: expected an integer >= 1, got {min_windows!r}")
    if max_windows is not None and (isinstance(max_windows, bool) or not isinstance(max_windows, int)):
        raise ValueError(f"max_windows: expected None or an integer >= 1, got {max_windows!r}")
    if max_windows is not None and max_windows < 1:
        raise ValueError(f"max_windows: expected None or an integer >= 1, got {max_windows!r}")
    parts = [
        conformal_intervals(
            calib,
            target,
            level,
            quantiles=quantiles,
            thresholds=thresholds,
            bounds=bounds,
            transform=transform,
            too_few=too_few,
        ).with_columns(pl.lit(w, dtype=pl.Int64).alias(WINDOW))
        for w, target, calib in earlier_windows(backtest_df, min_windows, max_windows)
    ]
    return pl.concat(parts, how="vertical")


def conformal_per_model(
    frame: pl.DataFrame,
    calibration: pl.DataFrame,
    transforms: Mapping[str, TransformLike],
    level: Sequence[int] = (80, 95),
    *,
    quantiles: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    bounds: Bounds | None = None,
    rows: pl.Expr | None = None,
    too_few: Literal["raise", "null"] = "raise",
) -> pl.DataFrame:
    """:func:`conformal_intervals` for the rows of each model named in ``transforms`` (and matching ``rows``, if
    given), calibrated on that model's backtest rows under its own transform; every other row is kept as it is, and
    the rows keep their order."""
    order = "_row"
    indexed = frame.with_row_index(order)
    selected = pl.col(MODEL).is_in(list(transforms))
    if rows is not None:
        selected = selected & rows
    kept = indexed.filter(~selected)
    parts = [kept] if kept.height else []
    for name, transform in transforms.items():
        part = indexed.filter(selected & (pl.col(MODEL) == name))
        if part.height:
            calib = calibration.filter(pl.col(MODEL) == name)
            parts.append(
                conformal_intervals(
                    calib,
                    part,
                    level,
                    quantiles=quantiles,
                    thresholds=thresholds,
                    bounds=bounds,
                    transform=transform,
                    too_few=too_few,
                )
            )
    return pl.concat(parts, how="diagonal_relaxed").sort(order).drop(order) if parts else frame
