"""Frame-level orchestration: loop over series and models, fall back on failure, respect bounds.

Input is a canonical long frame (``unique_id``, ``ds``, ``y`` and Float64 exogenous columns) on a regular grid per
series; output is a forecast frame with columns ``unique_id, ds, model, mean, lo-80, hi-80, lo-95, hi-95,
fallback_reason`` (one ``lo``/``hi`` pair per requested level, ascending).

Nulls in the history (``y``)
    Leading nulls are dropped. Models with the ``missing`` tag (SARIMAX) get the remaining gaps as NaN and
    handle them in their likelihood. For the others the gaps are filled *for fitting only*: interior gaps by
    linear interpolation between the neighbouring observations, trailing gaps (the last periods before the
    cutoff not yet observed) with the seasonal-naive value ``y[t−m]`` (the last observation when t−m precedes
    the series). The forecast always starts after the last period on the grid, observed or not.
    Exogenous columns are filled the same way for fitting (interpolation inside, nearest value at the edges);
    a column with no value at all fails the model on that series, which then falls back.

Failures
    If a model raises (or returns non-finite values) on a series, the named ``fallback`` model forecasts that
    series in its place and ``fallback_reason`` says why, e.g. ``"sarimax failed: LinAlgError: …"``. If the
    fallback fails too, the rows carry nulls and both reasons: never a silent NaN.

Bounds
    With ``bounds``, the mean and every interval bound are clipped into [lower, upper]. Clipping is monotone, so
    ``lo ≤ mean ≤ hi`` and the nesting of the intervals (80 % inside 95 %) survive it. The probability mass
    beyond a bound is thereby put on the bound; a later issue adds transforms (log1p, bounded links).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from features.contract import DS, FALLBACK, ID, MEAN, MODEL, Bounds, Y, hi_col, lo_col
from features.errors import DataError
from forecast.base import Forecaster, check_h, check_levels
from forecast.registry import make_model, model_class

ModelLike = Forecaster | Callable[[], Forecaster]
"""A model instance (cloned per series) or a zero-argument factory of fresh models."""

FREQS: dict[str, timedelta] = {"1d": timedelta(days=1), "1h": timedelta(hours=1)}
MAX_REASON = 400
_SOURCE = "forecast input"


# -- input checks ----------------------------------------------------------------------------------------------
def check_frame(df: pl.DataFrame, freq: str, exog: Sequence[str] = (), *, source: str = _SOURCE) -> timedelta:
    """Validate a canonical long frame for forecasting; returns the grid step of ``freq``.

    Checks: the columns exist with usable types (``unique_id`` String, ``ds`` Date or Datetime, ``y`` and
    ``exog`` numeric), no null ids or dates, each series in one contiguous block, and ``ds`` ascending on a
    regular ``freq`` grid within each series (no duplicates, no missing periods: missing targets are null rows).
    """
    if freq not in FREQS:
        raise ValueError(f"freq: expected one of {', '.join(FREQS)}, got {freq!r}")
    missing = [c for c in (ID, DS, Y, *exog) if c not in df.columns]
    if missing:
        raise DataError(source, "missing columns", values=missing, expected=f"columns {ID}, {DS}, {Y}, exog")
    if df.height == 0:
        raise DataError(source, "no rows")
    schema = df.schema
    if schema[ID] != pl.String:
        raise DataError(source, f"type {schema[ID]}", column=ID, expected="String")
    ds_type = schema[DS]
    if ds_type == pl.Date:
        if freq != "1d":
            raise DataError(source, f"Date values with freq {freq!r}", column=DS, expected="Datetime for 1h")
    elif not isinstance(ds_type, pl.Datetime):
        raise DataError(source, f"type {ds_type}", column=DS, expected="Date or Datetime('us', 'UTC')")
    for c in (Y, *exog):
        if not schema[c].is_numeric():
            raise DataError(source, f"type {schema[c]}", column=c, expected="Float64")
    for c in (ID, DS):
        n_null = df[c].null_count()
        if n_null:
            raise DataError(source, f"{n_null} null values", column=c)
    blocks = df.select(pl.col(ID).rle_id().max() + 1).item()
    if blocks != df[ID].n_unique():
        raise DataError(source, "rows of a series are not contiguous", column=ID, expected="sorted by (unique_id, ds)")
    bad = (
        df.select(ID, pl.col(DS).diff().over(ID).alias("_d"))
        .filter(pl.col("_d").is_not_null() & (pl.col("_d") != FREQS[freq]))
        .get_column(ID)
        .unique(maintain_order=True)
        .to_list()
    )
    if bad:
        raise DataError(
            source,
            f"ds is not an ascending regular {freq} grid (unsorted, duplicate or missing periods) in {len(bad)} series",
            column=DS,
            values=bad,
            expected="one row per period per series, sorted by (unique_id, ds); missing targets as null y",
        )
    return FREQS[freq]


def future_grid(df: pl.DataFrame, h: int, freq: str) -> pl.DataFrame:
    """The next ``h`` periods after each series' last ``ds``: columns ``unique_id``, ``ds``, in series order."""
    last = df.group_by(ID, maintain_order=True).agg(pl.col(DS).last().alias("_last"))
    delta = pl.duration(days=pl.col("_step")) if freq == "1d" else pl.duration(hours=pl.col("_step"))
    return (
        last.with_columns(pl.int_range(1, h + 1, dtype=pl.Int64).implode().alias("_step"))
        .explode("_step")
        .with_columns((pl.col("_last") + delta).cast(df.schema[DS]).alias(DS))
        .select(ID, DS)
    )


def _future_X(future_exog: pl.DataFrame | None, grid: pl.DataFrame, exog: list[str]) -> pl.DataFrame:
    src = "future_exog"
    if future_exog is None:
        raise DataError(src, "missing", expected=f"future values of {', '.join(exog)} for the next h periods")
    missing = [c for c in (ID, DS, *exog) if c not in future_exog.columns]
    if missing:
        raise DataError(src, "missing columns", values=missing)
    if future_exog.schema[DS] != grid.schema[DS]:
        raise DataError(src, f"type {future_exog.schema[DS]}", column=DS, expected=str(grid.schema[DS]))
    fx = future_exog.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in exog])
    if fx.select(ID, DS).is_duplicated().any():
        raise DataError(src, "duplicate (unique_id, ds) rows")
    joined = grid.join(fx, on=[ID, DS], how="left", maintain_order="left")
    holes = joined.filter(pl.any_horizontal(pl.col(c).is_null() | pl.col(c).is_nan() for c in exog))
    if holes.height:
        ids = holes.get_column(ID).unique(maintain_order=True).to_list()
        raise DataError(src, "no value for some forecast periods", values=ids, expected="a value per column")
    return joined


# -- history preparation ---------------------------------------------------------------------------------------
def fill_gaps(y: np.ndarray, season_length: int) -> np.ndarray:
    """Fill NaN for fitting models that cannot take them (see the module docstring); leading NaN not allowed."""
    out = np.asarray(y, dtype=np.float64).copy()
    obs = np.flatnonzero(~np.isnan(out))
    if obs.size == 0:
        raise ValueError("no observed values")
    if obs[0] != 0:
        raise ValueError("leading missing values: trim them first")
    last = int(obs[-1])
    out[: last + 1] = np.interp(np.arange(last + 1), obs, out[obs])
    for t in range(last + 1, out.size):
        out[t] = out[t - season_length] if t - season_length >= 0 else out[last]
    return out


def fill_exog(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Fill NaN in each regressor column: linear inside, nearest observed value at either edge."""
    out = np.asarray(X, dtype=np.float64).copy()
    idx = np.arange(out.shape[0])
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = ~np.isnan(col)
        if not ok.any():
            raise ValueError(f"exogenous column {names[j]!r} has no values in the history")
        if not ok.all():
            out[:, j] = np.interp(idx, idx[ok], col[ok])  # np.interp holds the edge values
    return out


# -- per-series engine -----------------------------------------------------------------------------------------
@dataclass
class SeriesForecast:
    """One model's forecast of one series (NaN arrays when even the fallback failed)."""

    model: str
    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    reason: str | None = None


def _reason(name: str, exc: BaseException) -> str:
    text = " ".join(f"{name} failed: {type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _run_model(
    model: Forecaster,
    y: np.ndarray,
    X: np.ndarray | None,
    X_future: np.ndarray | None,
    exog: Sequence[str],
    h: int,
    levels: tuple[int, ...],
    season_length: int,
) -> SeriesForecast:
    y_fit = y if model.get_tag("missing") else fill_gaps(y, season_length)
    use_x = model.get_tag("exogenous") and X is not None
    X_fit = fill_exog(X, exog) if use_x else None
    model.fit(y_fit, X_fit)
    pred = model.predict(h, X_future if use_x else None, level=levels)
    return SeriesForecast("", pred.mean, pred.lower, pred.upper)


def forecast_arrays(
    y: np.ndarray,
    X: np.ndarray | None,
    X_future: np.ndarray | None,
    models: Mapping[str, Callable[[], Forecaster]],
    h: int,
    levels: tuple[int, ...],
    *,
    exog: Sequence[str] = (),
    fallback: Callable[[], Forecaster] | None = None,
    fallback_name: str | None = None,
    season_length: int = 7,
) -> list[SeriesForecast]:
    """Forecast one series (NaN = missing ``y``) with every model, falling back per model on failure."""
    y = np.asarray(y, dtype=np.float64)
    observed = np.flatnonzero(~np.isnan(y))
    start = int(observed[0]) if observed.size else y.size
    y, X = y[start:], (None if X is None else X[start:])
    fb_cache: list[SeriesForecast | str] = []

    def run_fallback() -> SeriesForecast | str:
        if not fb_cache:
            if fallback is None:
                fb_cache.append("no fallback configured")
            else:
                try:
                    fb_cache.append(_run_model(fallback(), y, X, X_future, exog, h, levels, season_length))
                except Exception as exc:
                    fb_cache.append("fallback " + _reason(str(fallback_name), exc))
        return fb_cache[0]

    out = []
    for name, factory in models.items():
        try:
            if y.size == 0:
                raise ValueError("no observed values in the history")
            res = _run_model(factory(), y, X, X_future, exog, h, levels, season_length)
            res.model = name
        except Exception as exc:
            reason = _reason(name, exc)
            fb = run_fallback()
            if isinstance(fb, str):
                nan = np.full(h, np.nan)
                res = SeriesForecast(name, nan, dict.fromkeys(levels, nan), dict.fromkeys(levels, nan))
                res.reason = f"{reason}; {fb}"
            else:
                res = SeriesForecast(name, fb.mean, fb.lower, fb.upper, f"{reason}; used {fallback_name}")
        out.append(res)
    return out


# -- frame API -------------------------------------------------------------------------------------------------
def as_factories(models: Mapping[str, ModelLike]) -> dict[str, Callable[[], Forecaster]]:
    """Normalize a mapping of names to models or factories into factories of fresh models."""
    if not models:
        raise ValueError("models: at least one model is needed")
    out: dict[str, Callable[[], Forecaster]] = {}
    for name, m in models.items():
        if isinstance(m, Forecaster):
            out[name] = m.clone
        elif callable(m):
            out[name] = m
        else:
            raise TypeError(f"models.{name}: expected a Forecaster or a factory, got {type(m).__name__}")
    return out


def fallback_factory(name: str | None, season_length: int) -> Callable[[], Forecaster] | None:
    """Factory of the fallback model ``name`` (``season_length`` passed when the model takes one)."""
    if name is None:
        return None
    cls = model_class(name, prefix="fallback")
    params = {"season_length": season_length} if "season_length" in cls.config_cls.model_fields else {}
    return make_model(name, params, prefix="fallback").clone


def apply_bounds(frame: pl.DataFrame, bounds: Bounds | None, levels: Sequence[int]) -> pl.DataFrame:
    """Clip ``mean`` and every interval column into ``bounds`` (monotone, so the ordering is kept)."""
    if bounds is None or (bounds.lower is None and bounds.upper is None):
        return frame
    cols = [MEAN, *[c for lv in levels for c in (lo_col(lv), hi_col(lv))]]
    return frame.with_columns(bounds.clip_expr(pl.col(c)).alias(c) for c in cols)


def forecast_frame(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    *,
    freq: str,
    exog: Sequence[str] = (),
    future_exog: pl.DataFrame | None = None,
    level: Sequence[int] = (80, 95),
    bounds: Bounds | None = None,
    fallback: str | None = "seasonal_naive",
    season_length: int = 7,
) -> pl.DataFrame:
    """Forecast the next ``h`` periods of every series with every model.

    ``models`` maps the output's ``model`` names to models (cloned per series) or factories. Exogenous models get
    the ``exog`` columns of ``df`` for fitting and those of ``future_exog`` (``unique_id``, ``ds``, ``exog``; one
    row per forecast period, no nulls) for forecasting; other models ignore them. ``fallback`` is a registry name
    (``season_length`` is passed to it when it takes one) or None. Output columns: ``unique_id, ds, model, mean,
    lo-<l>, hi-<l>`` per level ascending, ``fallback_reason``; rows in input series order, then model, then ds.
    """
    h = check_h(h)
    levels = check_levels(level)
    exog = list(exog)
    factories = as_factories(models)
    fb = fallback_factory(fallback, season_length)
    check_frame(df, freq, exog)
    grid = future_grid(df, h, freq)
    uses_exog = bool(exog) and any(f().get_tag("exogenous") for f in factories.values())
    fX = _future_X(future_exog, grid, exog) if uses_exog else None

    ids: list[str] = []
    names: list[str] = []
    reasons: list[str | None] = []
    means: list[np.ndarray] = []
    lows: dict[int, list[np.ndarray]] = {lv: [] for lv in levels}
    highs: dict[int, list[np.ndarray]] = {lv: [] for lv in levels}
    fx_parts = fX.partition_by(ID, as_dict=True, maintain_order=True) if fX is not None else {}
    for (uid,), part in df.partition_by(ID, as_dict=True, maintain_order=True).items():
        y = part.get_column(Y).cast(pl.Float64).to_numpy()
        X = part.select(pl.col(c).cast(pl.Float64) for c in exog).to_numpy() if uses_exog else None
        Xf = fx_parts[(uid,)].select(exog).to_numpy() if uses_exog else None
        results = forecast_arrays(
            y,
            X,
            Xf,
            factories,
            h,
            levels,
            exog=exog,
            fallback=fb,
            fallback_name=fallback,
            season_length=season_length,
        )
        for res in results:
            ids.append(uid)
            names.append(res.model)
            reasons.append(res.reason)
            means.append(res.mean)
            for lv in levels:
                lows[lv].append(res.lower[lv])
                highs[lv].append(res.upper[lv])

    n_models = len(factories)
    series_of_block = np.repeat(np.arange(len(ids) // n_models), n_models)  # grid block of each output block
    ds_rows = grid.get_column(DS).gather((series_of_block[:, None] * h + np.arange(h)).ravel())
    cols: dict[str, pl.Series] = {
        ID: pl.Series(ID, np.repeat(ids, h), dtype=pl.String),
        DS: ds_rows.alias(DS),
        MODEL: pl.Series(MODEL, np.repeat(names, h), dtype=pl.String),
        MEAN: pl.Series(MEAN, np.concatenate(means), dtype=pl.Float64),
    }
    for lv in levels:
        cols[lo_col(lv)] = pl.Series(lo_col(lv), np.concatenate(lows[lv]), dtype=pl.Float64)
        cols[hi_col(lv)] = pl.Series(hi_col(lv), np.concatenate(highs[lv]), dtype=pl.Float64)
    cols[FALLBACK] = pl.Series(FALLBACK, [r for r in reasons for _ in range(h)], dtype=pl.String)
    out = pl.DataFrame(cols).with_columns(pl.col(pl.Float64).fill_nan(None))
    return apply_bounds(out, bounds, levels)
