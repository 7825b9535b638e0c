"""Forecast accuracy: point, interval and quantile metrics; per series, per horizon step and overall.

Definitions (``y`` truth, ``f`` point forecast ``mean``, ``e = f − y``; means over the scored points)
    * MAE ``mean |e|``; RMSE ``sqrt(mean e²)``; bias ``mean e`` (positive = over-forecasting);
    * MASE ``mean |e| / scale``, scale the in-sample seasonal-naive MAE ``mean |y[t] − y[t−m]|`` (below);
    * sMAPE exactly as M4: ``mean of 200·|y − f| / (|y| + |f|)`` in percent (0 when y = f = 0, where M4, whose data
      are positive, is silent; utilsforecast uses the same rule);
    * WAPE ``Σ|e| / Σ|y|`` (pooled, not a mean of ratios; null when Σ|y| = 0);
    * pinball (quantile) loss of a quantile forecast ``f_q``: ``mean max(q·(y − f_q), (q − 1)·(y − f_q))``; the
      ``pinball`` column averages it over the ``q-*`` columns of the frame;
    * CRPS from quantiles: ``2 × pinball`` averaged over the quantile grid, the discretisation of
      CRPS = 2∫₀¹ pinball_q dq; it approximates the CRPS well only on a dense, evenly spread grid (e.g.
      q = 0.05, 0.10, … 0.95, :data:`CRPS_QUANTILES`), and is reported only when the frame has ``q-*`` columns;
    * coverage-l ``mean 1{lo ≤ y ≤ hi}`` of the ``l`` % interval; winkler-l ``mean (hi − lo) + (2/α)(lo − y)·1{y < lo}
      + (2/α)(y − hi)·1{y > hi}`` with α = 1 − l/100 (Winkler 1972; lower is better);
    * brier-c ``mean (p − 1{y > c})²`` of an exceedance column ``p_exceed-c`` (lower is better);
    * OWA relative to Naive2, as M4: ``½ (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2)`` from the *overall* means of
      each model (and, per step, from the per-step means), never averaged per series.

Conventions
    * error ``e = forecast − truth``, so a positive ``bias`` means over-forecasting;
    * MASE scales absolute errors by the in-sample seasonal-naive MAE ``mean |y[t] − y[t−m]|`` of the series,
      computed on the training part *before each cutoff* (all history up to the cutoff, also when the backtest
      used a fixed input window); pairs with a missing value are skipped, a zero or undefined scale leaves the
      scaled errors of that window null;
    * per-series and per-step values average the scored points; the overall MAE, RMSE, bias, WAPE, coverage,
      Winkler, pinball and CRPS pool every scored point, while the overall MASE and sMAPE are the means of the
      per-series values, as in M4;
    * interval and quantile metrics score the points where the truth and those bounds exist;
    * a point is scored when both the truth and the forecast exist: null truths are excluded and counted in
      ``n_missing_y``, null forecasts (a model and its fallback both failed) in ``n_missing_forecast``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Y, hi_col, lo_col
from forecast.output.quantiles import exceed_columns, interval_levels, quantile_columns

STEP = "step"
_E, _AE, _SE, _SC, _SCALE, _M = "_e", "_ae", "_se", "_sc", "_scale", "_m"
_APE, _AY, _PB = "_ape", "_ay", "_pb"
CRPS_QUANTILES: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""An evenly spread quantile grid for CRPS: 0.05, 0.10, … 0.95 (all at whole-percent levels)."""


# -- numpy-level -----------------------------------------------------------------------------------------------
def _pairs(y: np.ndarray, y_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    y_hat = np.asarray(y_hat, dtype=np.float64)
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat differ in shape: {y.shape} vs {y_hat.shape}")
    ok = ~(np.isnan(y) | np.isnan(y_hat))
    return y[ok], y_hat[ok]


def mae(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Mean absolute error over the pairs where both values exist (NaN if none)."""
    a, f = _pairs(y, y_hat)
    return float(np.mean(np.abs(f - a))) if a.size else float("nan")


def rmse(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Root mean squared error over the pairs where both values exist (NaN if none)."""
    a, f = _pairs(y, y_hat)
    return float(np.sqrt(np.mean((f - a) ** 2))) if a.size else float("nan")


def bias(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Mean error ``forecast − truth`` (positive = over-forecast) over pairs where both exist."""
    a, f = _pairs(y, y_hat)
    return float(np.mean(f - a)) if a.size else float("nan")


def smape(y: np.ndarray, y_hat: np.ndarray) -> float:
    """sMAPE as M4, in percent: mean of ``200·|y − f| / (|y| + |f|)`` (0 where both are 0; NaN if no pair)."""
    a, f = _pairs(y, y_hat)
    if not a.size:
        return float("nan")
    den = np.abs(a) + np.abs(f)
    terms = np.divide(200.0 * np.abs(a - f), den, out=np.zeros_like(den), where=den > 0)
    return float(np.mean(terms))


def wape(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Weighted absolute percentage error ``Σ|f − y| / Σ|y|`` as a fraction (NaN if Σ|y| = 0 or no pair)."""
    a, f = _pairs(y, y_hat)
    total = float(np.sum(np.abs(a)))
    return float(np.sum(np.abs(f - a)) / total) if a.size and total > 0 else float("nan")


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    """Pinball (quantile) loss of the ``q`` quantile forecast ``q_pred``: mean ``max(q·d, (q − 1)·d)``, d = y − f."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q: expected a probability in (0, 1), got {q}")
    a, f = _pairs(y, q_pred)
    d = a - f
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d))) if a.size else float("nan")


def crps_from_quantiles(y: np.ndarray, q_preds: np.ndarray, quantiles: np.ndarray) -> float:
    """CRPS approximated from quantile forecasts: ``2 × mean over the grid of the pinball losses``.

    ``q_preds`` is (n, K), column k the ``quantiles[k]`` forecast; points with any missing value are skipped.
    """
    Q = np.asarray(q_preds, dtype=np.float64)
    qs = np.asarray(quantiles, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    if Q.ndim != 2 or Q.shape != (yy.shape[0], qs.shape[0]):
        raise ValueError(f"q_preds: expected shape ({yy.shape[0]}, {qs.shape[0]}), got {Q.shape}")
    ok = ~(np.isnan(yy) | np.isnan(Q).any(axis=1))
    if not ok.any():
        return float("nan")
    d = yy[ok, None] - Q[ok]
    return float(2.0 * np.mean(np.maximum(qs * d, (qs - 1.0) * d)))


def _interval_triples(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrs = [np.asarray(a, dtype=np.float64) for a in (y, lo, hi)]
    if not arrs[0].shape == arrs[1].shape == arrs[2].shape:
        raise ValueError("y, lo and hi differ in shape")
    ok = ~(np.isnan(arrs[0]) | np.isnan(arrs[1]) | np.isnan(arrs[2]))
    return arrs[0][ok], arrs[1][ok], arrs[2][ok]


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of points with ``lo ≤ y ≤ hi`` (NaN if none scored)."""
    a, lo_, hi_ = _interval_triples(y, lo, hi)
    return float(np.mean((a >= lo_) & (a <= hi_))) if a.size else float("nan")


def winkler(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> float:
    """Mean Winkler score of the central ``level`` % interval: width plus ``2/α`` times the miss distance."""
    if not 0 < level < 100:
        raise ValueError(f"level: expected a number in (0, 100), got {level}")
    alpha = 1.0 - level / 100.0
    a, lo_, hi_ = _interval_triples(y, lo, hi)
    if not a.size:
        return float("nan")
    score = (hi_ - lo_) + (2.0 / alpha) * (np.maximum(lo_ - a, 0.0) + np.maximum(a - hi_, 0.0))
    return float(np.mean(score))


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average ``½ (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2)`` of overall means."""
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)


def seasonal_naive_scale(y_train: np.ndarray, m: int) -> float:
    """In-sample seasonal-naive MAE ``mean |y[t] − y[t−m]|`` over pairs where both exist (NaN if none)."""
    if m < 1:
        raise ValueError(f"m: expected an integer >= 1, got {m}")
    y = np.asarray(y_train, dtype=np.float64)
    if y.size <= m:
        return float("nan")
    d = np.abs(y[m:] - y[:-m])
    d = d[~np.isnan(d)]
    return float(np.mean(d)) if d.size else float("nan")


def mase(y: np.ndarray, y_hat: np.ndarray, y_train: np.ndarray, m: int) -> float:
    """Mean absolute scaled error: MAE divided by :func:`seasonal_naive_scale` of ``y_train`` (NaN if 0)."""
    scale = seasonal_naive_scale(y_train, m)
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return mae(y, y_hat) / scale


# -- frame-level -----------------------------------------------------------------------------------------------
def _scales(train_df: pl.DataFrame, m: int | Mapping[str, int]) -> pl.DataFrame:
    """Seasonal-naive scale at every (unique_id, ds) of the history, using rows up to and including ds."""
    tr = train_df.select(ID, DS, pl.col(Y).cast(pl.Float64).fill_nan(None)).sort(ID, DS)
    if isinstance(m, Mapping):
        missing = sorted(set(tr.get_column(ID).unique().to_list()) - set(m))
        if missing:
            raise ValueError(f"m: no season length for series {', '.join(missing)}")
        tr = tr.with_columns(pl.col(ID).replace_strict(dict(m), return_dtype=pl.Int64).alias(_M))
    else:
        tr = tr.with_columns(pl.lit(int(m), dtype=pl.Int64).alias(_M))
    parts = []
    for (mv,), part in tr.partition_by(_M, as_dict=True).items():
        if mv < 1:
            raise ValueError(f"m: expected integers >= 1, got {mv}")
        d = (pl.col(Y) - pl.col(Y).shift(int(mv)).over(ID)).abs()
        parts.append(
            part.with_columns(d.alias("_d")).select(
                ID,
                pl.col(DS).alias(CUTOFF),
                (
                    pl.col("_d").fill_null(0.0).cum_sum().over(ID)
                    / pl.col("_d").is_not_null().cum_sum().over(ID).cast(pl.Float64)
                ).alias(_SCALE),
            )
        )
    scales = pl.concat(parts)
    bad = pl.col(_SCALE).is_nan() | pl.col(_SCALE).is_infinite() | (pl.col(_SCALE) == 0)
    return scales.with_columns(pl.when(bad).then(None).otherwise(pl.col(_SCALE)).alias(_SCALE))


def _wilson(hit: pl.Expr, name: str, z: float = 1.959963984540054) -> list[pl.Expr]:
    """``<name>-n`` (scored points), and ``<name>-lo``/``-hi``: the 95 % Wilson score interval of the observed
    share ``p`` of ``n`` hits, ``(p + z²/2n ± z·√(p(1 − p)/n + z²/4n²)) / (1 + z²/n)``. It treats the points as
    independent; errors of one window and of neighbouring steps are correlated, so the true uncertainty is wider."""
    n = hit.is_not_null().sum().cast(pl.Float64)
    p = hit.mean()
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt() / (1 + z * z / n)
    band = [(centre - half).alias(f"{name}-lo"), (centre + half).alias(f"{name}-hi")]
    return [n.cast(pl.Int64).alias(f"{name}-n"), *band]


def _summary(levels: tuple[int, ...], has_quantiles: bool, thresholds: Sequence[float] = ()) -> list[pl.Expr]:
    exprs = [
        pl.col(_AE).is_not_null().sum().cast(pl.Int64).alias("n"),
        pl.col(Y).is_null().sum().cast(pl.Int64).alias("n_missing_y"),
        (pl.col(Y).is_not_null() & pl.col(MEAN).is_null()).sum().cast(pl.Int64).alias("n_missing_forecast"),
        pl.col(_AE).mean().alias("mae"),
        pl.col(_SE).mean().sqrt().alias("rmse"),
        pl.col(_E).mean().alias("bias"),
        (pl.col(_AE).sum() / pl.col(_AY).filter(pl.col(_AE).is_not_null()).sum()).alias("wape"),
    ]
    for lv in levels:
        exprs += [
            pl.col(f"_cov{lv}").mean().alias(f"coverage-{lv}"),
            *_wilson(pl.col(f"_cov{lv}"), f"coverage-{lv}"),
            pl.col(f"_wink{lv}").mean().alias(f"winkler-{lv}"),
        ]
    if has_quantiles:
        exprs += [pl.col(_PB).mean().alias("pinball"), (2.0 * pl.col(_PB).mean()).alias("crps")]
    exprs += [pl.col(f"_brier{c:g}").mean().alias(f"brier-{c:g}") for c in thresholds]
    return exprs


def _score_columns(
    levels: tuple[int, ...], quantiles: dict[float, str], exceed: Mapping[float, str] | None = None
) -> list[pl.Expr]:
    """Per-row terms of sMAPE, WAPE, coverage, Winkler and the grid-mean pinball loss (null where not scored)."""
    y, f = pl.col(Y), pl.col(MEAN)
    den = y.abs() + f.abs()
    exprs = [
        pl.when(den > 0).then(200.0 * (y - f).abs() / den).when(den == 0).then(0.0).alias(_APE),
        y.abs().alias(_AY),
    ]
    for lv in levels:
        lo, hi = pl.col(lo_col(lv)), pl.col(hi_col(lv))
        alpha = 1.0 - lv / 100.0
        miss = (lo - y).clip(lower_bound=0.0) + (y - hi).clip(lower_bound=0.0)
        exprs += [
            ((y >= lo) & (y <= hi)).cast(pl.Float64).alias(f"_cov{lv}"),
            (hi - lo + (2.0 / alpha) * miss).alias(f"_wink{lv}"),
        ]
    for c, col in (exceed or {}).items():
        exprs.append(((pl.col(col) - (y > c).cast(pl.Float64)) ** 2).alias(f"_brier{c:g}"))
    if quantiles:
        terms = [pl.max_horizontal(q * (y - pl.col(c)), (q - 1.0) * (y - pl.col(c))) for q, c in quantiles.items()]
        # mean over the grid; null when the truth or any quantile is missing
        exprs.append(
            pl.when(pl.all_horizontal(t.is_not_null() for t in terms))
            .then(pl.sum_horizontal(terms) / len(terms))
            .alias(_PB)
        )
    return exprs


def _add_owa(frame: pl.DataFrame, naive2: str, on: list[str]) -> pl.DataFrame:
    ref = frame.filter(pl.col(MODEL) == naive2).select(*on, pl.col("smape").alias("_s2"), pl.col("mase").alias("_m2"))
    joined = frame.join(ref, on=on, how="left", maintain_order="left") if on else frame.join(ref, how="cross")
    return joined.with_columns(
        (0.5 * (pl.col("smape") / pl.col("_s2") + pl.col("mase") / pl.col("_m2"))).alias("owa")
    ).drop("_s2", "_m2")


def evaluate(
    backtest_df: pl.DataFrame, train_df: pl.DataFrame, m: int | Mapping[str, int], *, naive2: str | None = None
) -> dict[str, pl.DataFrame]:
    """Score a backtest frame against the truth it carries.

    ``backtest_df`` has ``unique_id, ds, cutoff, model, y, mean`` (as :func:`forecast.backtest.backtest`
    returns) and optionally ``lo-<l>``/``hi-<l>`` and ``q-<q>`` columns; ``train_df`` has ``unique_id, ds, y``:
    the history the MASE scales come from (rows after a cutoff are ignored for that window); ``m`` is the season
    length, one for all series or per series; ``naive2`` names the model (in ``backtest_df``) OWA is relative to.

    Returns ``{"per_series", "per_step", "overall"}`` frames keyed by ``model`` (plus ``unique_id`` or
    ``step``), each with ``n, n_missing_y, n_missing_forecast, mae, rmse, bias, mase, smape, wape``, then
    ``coverage-<l>`` with its scored points ``coverage-<l>-n`` and 95 % Wilson band ``coverage-<l>-lo``/``-hi``, and
    ``winkler-<l>`` per interval level present (rows with null intervals, e.g. calibration windows, are not
    scored), ``pinball, crps`` when quantile columns are present,
    ``brier-<c>`` per exceedance column ``p_exceed-<c>``, and ``owa`` (per step and overall) when ``naive2`` is given.
    """
    need = [ID, DS, CUTOFF, MODEL, Y, MEAN]
    missing = [c for c in need if c not in backtest_df.columns]
    if missing:
        raise ValueError(f"backtest_df: missing columns {', '.join(missing)}")
    if naive2 is not None and naive2 not in set(backtest_df.get_column(MODEL).unique().to_list()):
        raise ValueError(f"naive2: no model {naive2!r} in the backtest frame (OWA is relative to it)")
    levels = interval_levels(backtest_df.columns)
    quantiles = quantile_columns(backtest_df.columns)
    exceed = exceed_columns(backtest_df.columns)
    extra = [*[c for lv in levels for c in (lo_col(lv), hi_col(lv))], *quantiles.values(), *exceed.values()]
    bt = (
        backtest_df.select(
            ID, DS, CUTOFF, MODEL, *[pl.col(c).cast(pl.Float64).fill_nan(None) for c in (Y, MEAN, *extra)]
        )
        .sort(MODEL, ID, CUTOFF, DS)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(MODEL, ID, CUTOFF).alias(STEP))
        .join(_scales(train_df, m), on=[ID, CUTOFF], how="left", maintain_order="left")
        .with_columns((pl.col(MEAN) - pl.col(Y)).alias(_E), *_score_columns(levels, quantiles, exceed))
        .with_columns(pl.col(_E).abs().alias(_AE), (pl.col(_E) ** 2).alias(_SE))
        .with_columns((pl.col(_AE) / pl.col(_SCALE)).alias(_SC))
    )
    summary = _summary(levels, bool(quantiles), tuple(exceed))
    point = [pl.col(_SC).mean().alias("mase"), pl.col(_APE).mean().alias("smape")]
    order = ["n", "n_missing_y", "n_missing_forecast", "mae", "rmse", "bias", "mase", "smape", "wape"]

    def arrange(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        return frame.select(*keys, *order, *[c for c in frame.columns if c not in {*keys, *order}])

    per_series = arrange(bt.group_by(MODEL, ID).agg(*summary, *point).sort(MODEL, ID), [MODEL, ID])
    per_step = arrange(bt.group_by(MODEL, STEP).agg(*summary, *point).sort(MODEL, STEP), [MODEL, STEP])
    means = per_series.group_by(MODEL).agg(pl.col("mase").mean(), pl.col("smape").mean())
    overall = arrange(bt.group_by(MODEL).agg(*summary).join(means, on=MODEL, how="left").sort(MODEL), [MODEL])
    if naive2 is not None:
        per_step = _add_owa(per_step, naive2, [STEP])
        overall = _add_owa(overall, naive2, [])
    return {"per_series": per_series, "per_step": per_step, "overall": overall}
