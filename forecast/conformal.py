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

Normalised scores (``spread = l``)
    The absolute scores above need the calibration residuals of each step to be exchangeable with the new one
    across series and windows, and at least ``(1 − α)/α`` of them per step. With ``spread`` the score is
    studentised by a spread known at the forecast's cutoff, the model's own ``l`` % half-width on the score scale
    ``m = ½·(T(hi-l) − T(lo-l))`` of that row (the side no bound cut, :func:`half_widths`), and then by a step
    factor ``σ_h``, the mean of ``s/m`` over the calibration rows of step ``h``::

        u = |T(y) − T(mean)| / (m · σ_h),   half-width at a row = q · m · σ_h,

    with ``q`` the split-conformal quantile above of the ``u`` of every step pooled. ``m`` carries what the model
    knows about each series' scale and regime at the cutoff; ``σ_h`` corrects the model's horizon shape (a model
    that treats provider-filled inputs as known has intervals growing too slowly). Pooling the steps gives ``h``
    times more scores per window, so the 95 % half-width of one series is a quantile rather than the largest of its
    19 residuals at that step (Papadopoulos et al. 2008, normalised nonconformity; Lei et al. 2018, locally
    weighted split conformal). A model is scored so only where every calibration row and every forecast row of it
    carries a positive, finite model interval; otherwise (no intervals of its own, a reconciled model, a
    degenerate interval) its absolute scores per step are used. Exceedance reads the pooled distribution scaled to
    the row: ``d = (forward(c) − T(mean)) / (m·σ_h)``.

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
from forecast.output.bounds import Transform, TransformLike, make_transform
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
WIDTH = "width"
_TINY = 1e-12
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


def half_widths(frame: pl.DataFrame, level: int, transform: Transform) -> np.ndarray:
    """The model's own half-width per row on the score scale (NaN where missing): ``½·(T(hi-l) − T(lo-l))``, or the
    side the bounds did not cut, ``T(hi) − T(mean)`` when ``lo`` sits on the lower bound (``T(mean) − T(lo)`` when
    ``hi`` sits on the upper one): a clipped side says nothing of the spread (a raw-scale Gaussian cut at 0 would
    look almost infinitely wide on the log1p scale)."""
    if lo_col(level) not in frame.columns or hi_col(level) not in frame.columns:
        return np.full(frame.height, np.nan)
    lo, hi, mean = (
        frame.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (lo_col(level), hi_col(level), MEAN)
    )
    with np.errstate(invalid="ignore"):
        up, down = transform.forward(hi) - transform.forward(mean), transform.forward(mean) - transform.forward(lo)
        low_cut, high_cut = lo <= transform.lower, hi >= transform.upper
    return np.where(low_cut & ~high_cut, up, np.where(high_cut & ~low_cut, down, 0.5 * (up + down)))


def conformal_scores(
    backtest_df: pl.DataFrame,
    *,
    transform: TransformLike | None = "none",
    bounds: Bounds | None = None,
    spread: int | None = None,
) -> pl.DataFrame:
    """Calibration scores ``|T(y) − T(mean)|``: columns ``model, step, score``, rows where both values exist; with
    ``spread`` (a level) also ``width``, the model's own half-width of that level (:func:`half_widths`)."""
    if Y not in backtest_df.columns:
        raise ValueError("backtest_df: missing column y (the truth)")
    tr = make_transform(transform, bounds)
    bt = with_steps(backtest_df)
    bt = bt.filter(pl.col(Y).is_not_null() & pl.col(MEAN).is_not_null() & pl.col(Y).cast(pl.Float64).is_not_nan())
    y, mean = (bt.get_column(c).cast(pl.Float64).to_numpy() for c in (Y, MEAN))
    out = bt.select(MODEL, STEP).with_columns(pl.Series(SCORE, np.abs(tr.forward(y) - tr.forward(mean))))
    return out if spread is None else out.with_columns(pl.Series(WIDTH, half_widths(bt, spread, tr)))


def _positive(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values) & (values > 0)))


def _calibration_sets(
    scores: pl.DataFrame, target: pl.DataFrame, target_width: np.ndarray | None
) -> tuple[dict[tuple[str, int | None], np.ndarray], dict[tuple[str, int], float]]:
    """Sorted calibration scores per (model, step), or per (model, None) for a model scored normalised, and the
    step factors ``σ_h`` of those (module docstring, "Normalised scores")."""
    calib: dict[tuple[str, int | None], np.ndarray] = {}
    factors: dict[tuple[str, int], float] = {}
    for (m,), part in scores.partition_by(MODEL, as_dict=True).items():
        rows = target.get_column(MODEL) == m
        usable = (
            target_width is not None
            and _positive(part.get_column(WIDTH).to_numpy())
            and _positive(target_width[(rows & target.get_column(MEAN).cast(pl.Float64).is_finite()).to_numpy()])
        )
        if not usable:
            for (st,), sp in part.partition_by(STEP, as_dict=True).items():
                calib[(m, st)] = np.sort(sp.get_column(SCORE).to_numpy())
            continue
        ratio = part.with_columns((pl.col(SCORE) / pl.col(WIDTH)).alias(SCORE))
        sigma = ratio.group_by(STEP).agg(pl.col(SCORE).mean())
        for st, value in sigma.iter_rows():
            factors[(m, st)] = max(float(value), _TINY)  # all-zero residuals at a step: a point interval there
        steps = ratio.get_column(STEP).to_numpy()
        u = ratio.get_column(SCORE).to_numpy() / np.array([factors[(m, int(st))] for st in steps])
        calib[(m, None)] = np.sort(u)
    return calib, factors


def _exceedance(
    center: np.ndarray, scale: np.ndarray | None, scores: np.ndarray, thresholds: Sequence[float], tr: Transform
) -> dict[float, np.ndarray]:
    """:func:`empirical_exceedance` of ``z = center + scale·e``: for each threshold ``c`` the distance
    ``forward(c) − center`` is divided by ``scale`` by moving the center to ``forward(c) − (forward(c) − center)/scale``
    (bounds as there)."""
    if scale is None:
        return empirical_exceedance(center, scores, thresholds, tr)
    out: dict[float, np.ndarray] = {}
    for c in thresholds:
        moved = center
        if tr.lower <= c < tr.upper:
            zc = float(tr.forward(np.array([c]))[0])
            moved = zc - (zc - center) / scale
        out.update(empirical_exceedance(moved, scores, [c], tr))
    return out


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
    spread: int | None = None,
) -> pl.DataFrame:
    """Replace the intervals of ``forecast_df`` by split-conformal ones calibrated on ``backtest_df``.

    ``backtest_df`` has ``unique_id, ds, cutoff, model, y, mean`` (a :func:`forecast.backtest.backtest` frame);
    ``forecast_df`` has ``unique_id, ds, model, mean`` (a forecast frame, or another backtest frame for a
    held-out check). Steps are counted per forecast; every model and step of ``forecast_df`` needs calibration
    scores. Existing ``lo-*``, ``hi-*``, ``q-*`` and ``p_exceed-*`` columns (and ``interval_note``, which no
    longer applies) are dropped; the conformal ``lo-<l>``, ``hi-<l>``, ``q-<q>`` and ``p_exceed-<c>`` columns
    follow ``mean``. Rows with a null ``mean`` get null values. A model and step with too few residuals for a
    level (truths missing from the calibration windows) is an error, or with ``too_few="null"`` gets null
    intervals at that level (and null exceedance without any residual). ``spread`` (a level of the model's own
    intervals in both frames) scores each model normalised where it can (module docstring).

    Kept in one piece on purpose: the per-step quantiles, the join onto the forecast rows and the
    back-transform of every column are one computation over the same keys.
    """
    levels = check_levels(level)
    qs = check_quantiles(quantiles)
    cs = check_thresholds(thresholds)
    tr = make_transform(transform, bounds)
    scores = conformal_scores(backtest_df, transform=tr, spread=spread)
    fc = with_steps(forecast_df).with_row_index(_ORDER)
    widths = None if spread is None else half_widths(fc, spread, tr)
    calib, factors = _calibration_sets(scores, fc, widths)
    all_levels = sorted(set(levels) | {lv for q in qs if (lv := quantile_level(q)) is not None})
    # numpy throughout the loop: one (model, step) group per pass, scattered back by row position
    n = fc.height
    centers = tr.forward(fc.get_column(MEAN).cast(pl.Float64).fill_nan(None).to_numpy())
    lo_z = {lv: np.full(n, np.nan) for lv in all_levels}
    hi_z = {lv: np.full(n, np.nan) for lv in all_levels}
    p_ex = {c: np.full(n, np.nan) for c in cs}
    for m, st, rows in fc.group_by(MODEL, STEP, maintain_order=True).agg(pl.col(_ORDER)).iter_rows():
        idx = np.asarray(rows, dtype=np.int64)
        pooled = (m, None) in calib
        s = calib.get((m, None) if pooled else (m, st))
        if pooled and (m, st) not in factors:
            s = None  # no residual of this step to set its factor
        if s is None and too_few == "raise":
            raise ValueError(f"conformal: no calibration residuals for model {m!r} at step {st}")
        s = np.empty(0) if s is None else s
        center = centers[idx]
        scale = None
        if pooled and widths is not None and s.size:
            scale = widths[idx] * factors[(m, st)]
        for lv in all_levels:
            try:
                half = conformal_quantile(s, lv) * (1.0 if scale is None else scale)
            except ValueError as exc:
                if too_few == "raise":
                    raise ValueError(f"conformal: model {m!r}, step {st}: {exc}") from None
                half = np.nan
            lo_z[lv][idx] = center - half
            hi_z[lv][idx] = center + half
        if s.size:
            for c, p in _exceedance(center, scale, s, cs, tr).items():
                p_ex[c][idx] = np.where(np.isnan(center), np.nan, p)

    lows = {lv: tr.inverse(lo_z[lv]) for lv in all_levels}
    highs = {lv: tr.inverse(hi_z[lv]) for lv in all_levels}
    mean = tr.clip(fc.get_column(MEAN).cast(pl.Float64).fill_nan(None).to_numpy())
    new: dict[str, np.ndarray] = {}
    for lv in levels:
        new[lo_col(lv)], new[hi_col(lv)] = lows[lv], highs[lv]
    for q in qs:
        lv = quantile_level(q)
        new[q_col(q)] = mean if lv is None else (lows[lv] if q < 0.5 else highs[lv])
    for c in cs:
        new[p_exceed_col(c)] = p_ex[c]
    keep = [c for c in forecast_df.columns if not c.startswith(_PREFIXES) and c != INTERVAL_NOTE]
    at = keep.index(MEAN) + 1
    out = forecast_df.select(keep).with_columns(
        pl.Series(name, values, dtype=pl.Float64, nan_to_null=True) for name, values in new.items()
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
    spread: int | None = None,
) -> pl.DataFrame:
    """Honest conformal intervals for a backtest: window ``w`` is calibrated on earlier windows only.

    Windows are numbered per series by cutoff (0 = oldest). Window ``w ≥ min_windows`` is calibrated on the rows of
    windows ``max(0, w − max_windows) … w − 1`` (all earlier ones when ``max_windows`` is None) whose truth was
    known at window ``w``'s earliest cutoff (``ds ≤`` that cutoff; this matters when windows overlap). Windows
    before ``min_windows`` only calibrate and are left out of the result, which has the columns of
    :func:`conformal_intervals` plus ``window``. ``spread``: normalised scores (module docstring); the model's own
    intervals of window ``w`` are known at its cutoff, so the normalisation keeps the scoring honest.
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
            spread=spread,
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
    spread: int | None = None,
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
                    spread=spread,
                )
            )
    return pl.concat(parts, how="diagonal_relaxed").sort(order).drop(order) if parts else frame
