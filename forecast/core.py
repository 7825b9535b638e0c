"""Frame-level orchestration: loop over series and models, fall back on failure, respect bounds.

Input is a canonical long frame (``unique_id``, ``ds``, ``y`` and Float64 exogenous columns) on a regular grid per
series; output is a forecast frame with columns ``unique_id, ds, model, mean, lo-80, hi-80, lo-95, hi-95,
fallback_reason`` (one ``lo``/``hi`` pair per requested level, ascending), plus ``q-<q>`` quantile and
``p_exceed-<c>`` exceedance columns when asked for.

Nulls in the history (``y``)
    Leading nulls are dropped. Models with the ``missing`` tag (SARIMAX) get the remaining gaps as NaN and
    handle them in their likelihood. For the others the gaps are filled *for fitting only*: interior gaps by
    linear interpolation between the neighbouring observations, trailing gaps (the last periods before the
    cutoff not yet observed) with the seasonal-naive value ``y[t−m]`` (the last observation when t−m precedes
    the series). The forecast always starts after the last period on the grid, observed or not.
    Exogenous columns are filled the same way for fitting (interpolation inside, nearest value at the edges);
    a column with no value at all fails the model on that series, which then falls back.

Dates
    Models with the ``dates`` tag (Prophet, and ensembles or MSTL holding it) get the series' real ``ds`` values
    (after the leading nulls are dropped) with ``y``, so calendar seasonalities and holidays fall on the right days.

Models without intervals
    A model whose ``intervals`` tag is false (``window_average``; an ensemble with such a member; MSTL with such a
    remainder) is asked for its mean alone: it forecasts the series itself, never replaced by the fallback for
    that. Its intervals, quantiles (but ``q-0.5``, the mean) and exceedance probabilities then come from
    split-conformal calibration when ``calibration`` (a backtest frame holding the model) is given: per step,
    under the model's transform (:mod:`forecast.conformal`). Without calibration they are null and a column
    ``interval_note`` names the model and the reason on exactly those rows (null elsewhere; the column exists only
    then), so a null interval is never silent; ``fallback_reason`` stays null, because nothing failed.

Failures
    If a model raises (or returns non-finite values) on a series, the named ``fallback`` model forecasts that
    series in its place and ``fallback_reason`` says why, e.g. ``"sarimax failed: LinAlgError: …"``. If the
    fallback fails too, the rows carry nulls and both reasons: never a silent NaN.

Bounds and transforms
    Each model runs on ``forward(y)`` of its :class:`~forecast.bounds.Transform` (``"none"``: identity, the
    default; ``"log1p"``; ``"logit"``) and its mean, intervals and quantiles are mapped back with ``inverse``,
    which lands inside ``bounds``. Under ``"none"`` that is clipping: monotone, so ``lo ≤ mean ≤ hi`` and the
    nesting of the intervals (80 % inside 95 %) survive it, and the probability mass beyond a bound is put on the
    bound. Under a transform, ``mean`` is the back-transformed point forecast, i.e. the median (see
    :mod:`forecast.bounds`). The fallback standing in for a model runs under that model's transform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl

from features.contract import DS, FALLBACK, ID, MEAN, MODEL, Bounds, Y, hi_col, lo_col
from features.errors import DataError
from forecast.bounds import Identity, Transform, TransformLike, resolve_transforms
from forecast.conformal import conformal_per_model
from forecast.exceedance import gaussian_exceedance, sigma_from_intervals
from forecast.models.base import Forecaster, Prediction, check_h, check_levels
from forecast.models.registry import make_model, model_class
from forecast.quantiles import (
    INTERVAL_NOTE,
    check_quantiles,
    check_thresholds,
    levels_for_quantiles,
    p_exceed_col,
    q_col,
    quantile_columns,
)

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
@dataclass(frozen=True)
class OutputRequest:
    """What a forecast reports besides ``mean``: interval ``levels``, ``quantiles`` and exceedance ``thresholds``."""

    levels: tuple[int, ...] = (80, 95)
    quantiles: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()

    @classmethod
    def make(
        cls, level: Sequence[int], quantiles: Sequence[float] | None = None, thresholds: Sequence[float] | None = None
    ) -> OutputRequest:
        """Validated request (levels and quantiles sorted and unique, thresholds sorted)."""
        return cls(check_levels(level), check_quantiles(quantiles), check_thresholds(thresholds))

    @property
    def model_levels(self) -> tuple[int, ...]:
        """Interval levels asked of the model: the requested ones, those the quantiles need, and 80 % when only
        exceedance probabilities are asked for (their Gaussian scale is read off the intervals)."""
        lv = set(self.levels) | set(levels_for_quantiles(self.quantiles))
        if self.thresholds and not lv:
            lv = {80}
        return tuple(sorted(lv))

    @property
    def columns(self) -> list[str]:
        """Output columns after ``mean``: ``lo``/``hi`` per level, then ``q-*``, then ``p_exceed-*``."""
        cols = [c for lv in self.levels for c in (lo_col(lv), hi_col(lv))]
        return cols + [q_col(q) for q in self.quantiles] + [p_exceed_col(c) for c in self.thresholds]


@dataclass
class SeriesForecast:
    """One model's forecast of one series (NaN arrays when even the fallback failed)."""

    model: str
    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    reason: str | None = None
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)
    exceed: dict[float, np.ndarray] = field(default_factory=dict)

    def column_values(self, request: OutputRequest) -> list[np.ndarray]:
        """The arrays of :attr:`OutputRequest.columns`, in that order."""
        out = [a for lv in request.levels for a in (self.lower[lv], self.upper[lv])]
        out += [self.quantiles[q] for q in request.quantiles]
        return out + [self.exceed[c] for c in request.thresholds]


def _nan_forecast(name: str, h: int, request: OutputRequest, reason: str) -> SeriesForecast:
    nan = np.full(h, np.nan)
    return SeriesForecast(
        name,
        nan,
        dict.fromkeys(request.levels, nan),
        dict.fromkeys(request.levels, nan),
        reason,
        dict.fromkeys(request.quantiles, nan),
        dict.fromkeys(request.thresholds, nan),
    )


def _reason(name: str, exc: BaseException) -> str:
    text = " ".join(f"{name} failed: {type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def back_transform(pred: Prediction, transform: Transform, request: OutputRequest) -> SeriesForecast:
    """Map a model-scale prediction to the target scale: mean, intervals, quantiles, exceedance probabilities.

    ``pred`` holds the intervals of ``request.model_levels``, or none at all (a model without intervals: only
    ``mean`` and the median ``q-0.5`` are filled, every other column is NaN). Every value lands inside the bounds.
    """
    inv = transform.inverse
    if request.model_levels and not pred.levels:
        res = _nan_forecast("", pred.h, request, None)
        res.mean = inv(pred.mean)
        res.quantiles.update({q: res.mean for q in request.quantiles if q == 0.5})
        return res
    lower = {lv: inv(pred.lower[lv]) for lv in request.levels}
    upper = {lv: inv(pred.upper[lv]) for lv in request.levels}
    quantiles = {q: inv(pred.quantile(q)) for q in request.quantiles}
    exceed: dict[float, np.ndarray] = {}
    if request.thresholds:
        sigma = sigma_from_intervals(pred.lower, pred.upper)
        exceed = gaussian_exceedance(pred.mean, sigma, request.thresholds, transform)
    return SeriesForecast("", inv(pred.mean), lower, upper, None, quantiles, exceed)


def _run_model(
    model: Forecaster,
    y: np.ndarray,
    X: np.ndarray | None,
    X_future: np.ndarray | None,
    exog: Sequence[str],
    h: int,
    request: OutputRequest,
    season_length: int,
    transform: Transform,
    *,
    ds: np.ndarray | None = None,
    update: bool = False,
) -> SeriesForecast:
    y_z = transform.forward(y)
    y_fit = y_z if model.get_tag("missing") else fill_gaps(y_z, season_length)
    use_x = model.get_tag("exogenous") and X is not None
    X_fit = fill_exog(X, exog) if use_x else None
    dates = ds if model.get_tag("dates") else None
    if update:
        model.update(y_fit, X_fit, ds=dates)
    else:
        model.fit(y_fit, X_fit, ds=dates)
    levels = request.model_levels if model.get_tag("intervals") else ()  # no intervals: the mean alone
    pred = model.predict(h, X_future if use_x else None, level=levels)
    return back_transform(pred, transform, request)


def forecast_arrays(
    y: np.ndarray,
    X: np.ndarray | None,
    X_future: np.ndarray | None,
    models: Mapping[str, Callable[[], Forecaster]],
    h: int,
    levels: tuple[int, ...] | OutputRequest,
    *,
    exog: Sequence[str] = (),
    fallback: Callable[[], Forecaster] | None = None,
    fallback_name: str | None = None,
    season_length: int = 7,
    transforms: Mapping[str, Transform] | None = None,
    state: dict[str, Forecaster] | None = None,
    refit: bool = True,
    ds: np.ndarray | None = None,
) -> list[SeriesForecast]:
    """Forecast one series (NaN = missing ``y``) with every model, falling back per model on failure.

    ``levels`` is a tuple of interval levels or a full :class:`OutputRequest`. ``transforms`` maps model names
    to :class:`~forecast.bounds.Transform` (default: no transform, no bounds); the fallback standing in for a model
    runs under that model's transform. ``state`` (name → fitted model) carries models between backtest windows:
    with ``refit=False`` a stored model is :meth:`~forecast.models.base.Forecaster.update`-d instead of refitted; a
    model that failed is dropped from it and refitted at the next window. ``ds`` (the dates of ``y``) goes to the
    models with the ``dates`` tag. A model without intervals gives its mean and NaN intervals (see
    :func:`back_transform`).
    """
    request = levels if isinstance(levels, OutputRequest) else OutputRequest(tuple(levels))
    y = np.asarray(y, dtype=np.float64)
    observed = np.flatnonzero(~np.isnan(y))
    start = int(observed[0]) if observed.size else y.size
    y, X = y[start:], (None if X is None else X[start:])
    ds = None if ds is None else ds[start:]
    identity = Identity()
    fb_cache: dict[int, SeriesForecast | str] = {}

    def run_fallback(transform: Transform) -> SeriesForecast | str:
        key = id(transform)
        if key not in fb_cache:
            if fallback is None:
                fb_cache[key] = "no fallback configured"
            else:
                try:
                    fb_cache[key] = _run_model(
                        fallback(), y, X, X_future, exog, h, request, season_length, transform, ds=ds
                    )
                except Exception as exc:
                    fb_cache[key] = "fallback " + _reason(str(fallback_name), exc)
        return fb_cache[key]

    out = []
    for name, factory in models.items():
        transform = identity if transforms is None else transforms[name]
        stored = None if (refit or state is None) else state.get(name)
        try:
            if y.size == 0:
                raise ValueError("no observed values in the history")
            model = stored if stored is not None else factory()
            res = _run_model(
                model, y, X, X_future, exog, h, request, season_length, transform, ds=ds, update=stored is not None
            )
            res.model = name
            if state is not None:
                state[name] = model
        except Exception as exc:
            if state is not None:
                state.pop(name, None)
            reason = _reason(name, exc)
            fb = run_fallback(transform)
            if isinstance(fb, str):
                res = _nan_forecast(name, h, request, f"{reason}; {fb}")
            else:
                res = SeriesForecast(
                    name, fb.mean, fb.lower, fb.upper, f"{reason}; used {fallback_name}", fb.quantiles, fb.exceed
                )
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


def apply_bounds(frame: pl.DataFrame, bounds: Bounds | None, levels: Sequence[int] = ()) -> pl.DataFrame:
    """Clip ``mean``, the interval columns of ``levels`` and every ``q-*`` column into ``bounds`` (monotone, so
    the ordering is kept)."""
    if bounds is None or (bounds.lower is None and bounds.upper is None):
        return frame
    cols = [MEAN, *[c for lv in levels for c in (lo_col(lv), hi_col(lv))], *quantile_columns(frame.columns).values()]
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
    quantiles: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    transform: TransformLike | Mapping[str, TransformLike] | None = "none",
    calibration: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Forecast the next ``h`` periods of every series with every model.

    ``models`` maps the output's ``model`` names to models (cloned per series) or factories. Exogenous models get
    the ``exog`` columns of ``df`` for fitting and those of ``future_exog`` (``unique_id``, ``ds``, ``exog``; one
    row per forecast period, no nulls) for forecasting; other models ignore them. ``fallback`` is a registry name
    (``season_length`` is passed to it when it takes one) or None.

    Bounded, probabilistic output: ``transform`` (``"none"``, ``"log1p"``, ``"logit"``, a
    :class:`~forecast.bounds.Transform`, or a mapping model name → one of these; see :mod:`forecast.bounds`) is
    applied to ``y`` around every model, with ``bounds``; nothing the frame reports leaves the bounds.
    ``quantiles`` (e.g. ``(0.1, 0.5, 0.9)``) adds ``q-0.1``… columns read off the model's intervals;
    ``thresholds`` (e.g. ``(12, 16)``) adds ``p_exceed-12``… columns, P(y > c) from the Gaussian predictive
    distribution on the model scale (see :mod:`forecast.exceedance`).

    Models without intervals of their own (``intervals`` tag false, e.g. ``window_average``) give their mean;
    ``calibration`` (a backtest frame with ``unique_id, ds, cutoff, model, y, mean`` holding those models) gives
    them split-conformal intervals, quantiles and exceedance probabilities per step (see the module docstring).

    Output columns: ``unique_id, ds, model, mean, lo-<l>, hi-<l>`` per level ascending, ``q-<q>`` ascending,
    ``p_exceed-<c>`` ascending, ``fallback_reason`` and, only when a model without intervals was asked for
    intervals without ``calibration``, ``interval_note``; rows in input series order, then model, then ds.
    """
    return forecast_frame_stateful(
        df,
        models,
        h,
        freq=freq,
        exog=exog,
        future_exog=future_exog,
        request=OutputRequest.make(level, quantiles, thresholds),
        bounds=bounds,
        fallback=fallback,
        season_length=season_length,
        transform=transform,
        calibration=calibration,
    )


def forecast_frame_stateful(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    *,
    freq: str,
    exog: Sequence[str],
    future_exog: pl.DataFrame | None,
    request: OutputRequest,
    bounds: Bounds | None,
    fallback: str | None,
    season_length: int,
    transform: TransformLike | Mapping[str, TransformLike] | None,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
    calibration: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """:func:`forecast_frame` with the backtest's hooks: ``state`` (series id → name → fitted model) and ``refit``."""
    h = check_h(h)
    exog = list(exog)
    factories = as_factories(models)
    transforms = resolve_transforms(transform, list(factories), bounds)
    fb = fallback_factory(fallback, season_length)
    check_frame(df, freq, exog)
    grid = future_grid(df, h, freq)
    probes = {name: f() for name, f in factories.items()}  # unfitted instances, for their tags
    fb_probe = None if fb is None else fb()
    if fb_probe is not None and request.model_levels and not fb_probe.get_tag("intervals"):
        raise ValueError(f"fallback: {fallback} gives no intervals; choose one that does, or ask for the mean only")
    uses_exog = bool(exog) and any(m.get_tag("exogenous") for m in probes.values())
    uses_dates = any(m.get_tag("dates") for m in [*probes.values(), fb_probe] if m is not None)
    fX = _future_X(future_exog, grid, exog) if uses_exog else None

    ids: list[str] = []
    names: list[str] = []
    reasons: list[str | None] = []
    means: list[np.ndarray] = []
    extra_cols = request.columns
    extras: list[list[np.ndarray]] = [[] for _ in extra_cols]
    fx_parts = fX.partition_by(ID, as_dict=True, maintain_order=True) if fX is not None else {}
    for (uid,), part in df.partition_by(ID, as_dict=True, maintain_order=True).items():
        y = part.get_column(Y).cast(pl.Float64).to_numpy()
        X = part.select(pl.col(c).cast(pl.Float64) for c in exog).to_numpy() if uses_exog else None
        Xf = fx_parts[(uid,)].select(exog).to_numpy() if uses_exog else None
        ds = part.get_column(DS).to_numpy() if uses_dates else None
        results = forecast_arrays(
            y,
            X,
            Xf,
            factories,
            h,
            request,
            exog=exog,
            fallback=fb,
            fallback_name=fallback,
            season_length=season_length,
            transforms=transforms,
            state=None if state is None else state.setdefault(uid, {}),
            refit=refit,
            ds=ds,
        )
        for res in results:
            ids.append(uid)
            names.append(res.model)
            reasons.append(res.reason)
            means.append(res.mean)
            for store, values in zip(extras, res.column_values(request), strict=True):
                store.append(values)

    n_models = len(factories)
    series_of_block = np.repeat(np.arange(len(ids) // n_models), n_models)  # grid block of each output block
    ds_rows = grid.get_column(DS).gather((series_of_block[:, None] * h + np.arange(h)).ravel())
    cols: dict[str, pl.Series] = {
        ID: pl.Series(ID, np.repeat(ids, h), dtype=pl.String),
        DS: ds_rows.alias(DS),
        MODEL: pl.Series(MODEL, np.repeat(names, h), dtype=pl.String),
        MEAN: pl.Series(MEAN, np.concatenate(means), dtype=pl.Float64),
    }
    for name, store in zip(extra_cols, extras, strict=True):
        cols[name] = pl.Series(name, np.concatenate(store), dtype=pl.Float64)
    cols[FALLBACK] = pl.Series(FALLBACK, [r for r in reasons for _ in range(h)], dtype=pl.String)
    out = apply_bounds(pl.DataFrame(cols).with_columns(pl.col(pl.Float64).fill_nan(None)), bounds, request.levels)
    lacking = [name for name, m in probes.items() if not m.get_tag("intervals")]
    if not (lacking and request.model_levels):
        return out
    return intervals_without_model(out, lacking, request, calibration, transforms, bounds)


def intervals_without_model(
    frame: pl.DataFrame,
    names: Sequence[str],
    request: OutputRequest,
    calibration: pl.DataFrame | None,
    transforms: Mapping[str, Transform],
    bounds: Bounds | None,
) -> pl.DataFrame:
    """Intervals for the rows of the models ``names`` (no intervals of their own) where they forecast themselves.

    With ``calibration`` (a backtest frame): split-conformal intervals, quantiles and exceedance probabilities from
    its residuals of each model, per step and under the model's transform. Without: the interval columns stay
    null and the column ``interval_note`` says why on those rows (null on every other row).
    """
    own = pl.col(MODEL).is_in(list(names)) & pl.col(FALLBACK).is_null()
    if calibration is None:
        note = pl.format(
            "{} gives no intervals of its own: interval, quantile (but q-0.5) and exceedance columns are null; "
            "pass a backtest as calibration for conformal intervals",
            pl.col(MODEL),
        )
        return frame.with_columns(pl.when(own).then(note).otherwise(None).alias(INTERVAL_NOTE))
    return conformal_per_model(
        frame,
        calibration,
        {name: transforms[name] for name in names},
        request.levels,
        quantiles=request.quantiles or None,
        thresholds=request.thresholds or None,
        bounds=bounds,
        rows=pl.col(FALLBACK).is_null(),
    )
