"""Point-forecast accuracy: MAE, RMSE, bias, MASE; per series, per horizon step and overall.

Conventions
    * error ``e = forecast − truth``, so a positive ``bias`` means over-forecasting;
    * MASE scales absolute errors by the in-sample seasonal-naive MAE ``mean |y[t] − y[t−m]|`` of the series,
      computed on the training part *before each cutoff* (all history up to the cutoff, also when the backtest
      used a fixed input window); pairs with a missing value are skipped, a zero or undefined scale leaves the
      scaled errors of that window null;
    * per-series and per-step values average the scored points; the overall MAE, RMSE and bias pool every
      scored point, while the overall MASE is the mean of the per-series MASE, as in M4;
    * a point is scored when both the truth and the forecast exist: null truths are excluded and counted in
      ``n_missing_y``, null forecasts (a model and its fallback both failed) in ``n_missing_forecast``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from features.contract import CUTOFF, DS, ID, MEAN, MODEL, Y

STEP = "step"
_E, _AE, _SE, _SC, _SCALE, _M = "_e", "_ae", "_se", "_sc", "_scale", "_m"


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


def _summary() -> list[pl.Expr]:
    return [
        pl.col(_AE).is_not_null().sum().cast(pl.Int64).alias("n"),
        pl.col(Y).is_null().sum().cast(pl.Int64).alias("n_missing_y"),
        (pl.col(Y).is_not_null() & pl.col(MEAN).is_null()).sum().cast(pl.Int64).alias("n_missing_forecast"),
        pl.col(_AE).mean().alias("mae"),
        pl.col(_SE).mean().sqrt().alias("rmse"),
        pl.col(_E).mean().alias("bias"),
    ]


def evaluate(backtest_df: pl.DataFrame, train_df: pl.DataFrame, m: int | Mapping[str, int]) -> dict[str, pl.DataFrame]:
    """Score a backtest frame against the truth it carries.

    ``backtest_df`` has ``unique_id, ds, cutoff, model, y, mean`` (as :func:`forecast.backtest.backtest`
    returns); ``train_df`` has ``unique_id, ds, y``: the history the MASE scales come from (rows after a cutoff
    are ignored for that window); ``m`` is the season length, one for all series or per series.

    Returns ``{"per_series", "per_step", "overall"}`` frames keyed by ``model`` (plus ``unique_id`` or
    ``step``), each with ``n, n_missing_y, n_missing_forecast, mae, rmse, bias, mase``.
    """
    need = [ID, DS, CUTOFF, MODEL, Y, MEAN]
    missing = [c for c in need if c not in backtest_df.columns]
    if missing:
        raise ValueError(f"backtest_df: missing columns {', '.join(missing)}")
    bt = (
        backtest_df.select(ID, DS, CUTOFF, MODEL, *[pl.col(c).cast(pl.Float64).fill_nan(None) for c in (Y, MEAN)])
        .sort(MODEL, ID, CUTOFF, DS)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(MODEL, ID, CUTOFF).alias(STEP))
        .join(_scales(train_df, m), on=[ID, CUTOFF], how="left", maintain_order="left")
        .with_columns((pl.col(MEAN) - pl.col(Y)).alias(_E))
        .with_columns(pl.col(_E).abs().alias(_AE), (pl.col(_E) ** 2).alias(_SE))
        .with_columns((pl.col(_AE) / pl.col(_SCALE)).alias(_SC))
    )
    per_series = bt.group_by(MODEL, ID).agg(*_summary(), pl.col(_SC).mean().alias("mase")).sort(MODEL, ID)
    per_step = bt.group_by(MODEL, STEP).agg(*_summary(), pl.col(_SC).mean().alias("mase")).sort(MODEL, STEP)
    overall = (
        bt.group_by(MODEL)
        .agg(*_summary())
        .join(per_series.group_by(MODEL).agg(pl.col("mase").mean()), on=MODEL, how="left")
        .sort(MODEL)
    )
    return {"per_series": per_series, "per_step": per_step, "overall": overall}
