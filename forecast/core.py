"""Frame-level orchestration: loop over series and models, fall back on failure, respect bounds.

The frame API is :func:`forecast_frame`; the input checks and the future grid are in :mod:`forecast.frames`, the
per-series engine in :mod:`forecast.engine`, what the output reports in :mod:`forecast.output`, and every
setting in one :class:`~forecast.settings.ForecastSettings`.

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
    series in its place and ``fallback_reason`` says why, e.g. ``"sarimax failed: LinAlgError: …"``. A model still
    fitting or predicting a series after ``settings.model_time_limit`` seconds (default 60) is interrupted and falls
    back the same way: ``"sarimax exceeded its 60 s time limit on this series; used seasonal_naive"``
    (:mod:`forecast.timeout`). If the fallback fails too, the rows carry nulls and both reasons: never a silent NaN.

Bounds and transforms
    Each model runs on ``forward(y)`` of its :class:`~forecast.output.bounds.Transform` (``"none"``: identity, the
    default; ``"log1p"``; ``"logit"``) and its mean, intervals and quantiles are mapped back with ``inverse``,
    which lands inside ``bounds``. Under ``"none"`` that is clipping: monotone, so ``lo ≤ mean ≤ hi`` and the
    nesting of the intervals (80 % inside 95 %) survive it, and the probability mass beyond a bound is put on the
    bound. Under a transform, ``mean`` is the back-transformed point forecast, i.e. the median (see
    :mod:`forecast.output.bounds`). The fallback standing in for a model runs under that model's transform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import DS, FALLBACK, ID, MEAN, MODEL, Y
from forecast.conformal import conformal_per_model
from forecast.engine import ModelLike, SeriesEngine, SeriesInput, as_factories, fallback_factory
from forecast.frames import check_frame, future_grid, future_inputs
from forecast.models.base import Forecaster, check_h
from forecast.output.bounds import Transform, apply_bounds
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.output.request import OutputRequest
from forecast.output.series import SeriesForecast
from forecast.settings import ForecastSettings

__all__ = ["ModelLike", "forecast_frame", "forecast_frame_paths", "forecast_frame_with_state", "future_grid"]


def forecast_frame(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings | None = None,
    *,
    future_exog: pl.DataFrame | None = None,
    calibration: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Forecast the next ``h`` periods of every series with every model.

    ``models`` maps the output's ``model`` names to models (cloned per series) or factories. ``settings`` (default
    :class:`~forecast.settings.ForecastSettings()`) gives the grid, bounds, transforms, fallback, the exogenous
    columns and what the output reports. Exogenous models get the ``settings.exog`` columns of ``df`` for fitting
    and those of ``future_exog`` (``unique_id``, ``ds``, exog; one row per forecast period, no nulls) for
    forecasting; other models ignore them.

    Bounded, probabilistic output: ``settings.transform`` is applied to ``y`` around every model, with
    ``settings.bounds``; nothing the frame reports leaves the bounds. ``settings.quantiles`` adds ``q-0.1``…
    columns read off the model's intervals; ``settings.thresholds`` adds ``p_exceed-12``… columns, P(y > c) from
    the Gaussian predictive distribution on the model scale (see :mod:`forecast.output.exceedance`).

    Models without intervals of their own (``intervals`` tag false, e.g. ``window_average``) give their mean;
    ``calibration`` (a backtest frame with ``unique_id, ds, cutoff, model, y, mean`` holding those models) gives
    them split-conformal intervals, quantiles and exceedance probabilities per step (see the module docstring).

    Output columns: ``unique_id, ds, model, mean, lo-<l>, hi-<l>`` per level ascending, ``q-<q>`` ascending,
    ``p_exceed-<c>`` ascending, ``fallback_reason`` and, only when a model without intervals was asked for
    intervals without ``calibration``, ``interval_note``; rows in input series order, then model, then ds.
    """
    return forecast_frame_with_state(
        df, models, h, settings or ForecastSettings(), future_exog=future_exog, calibration=calibration
    )


def forecast_frame_with_state(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    *,
    future_exog: pl.DataFrame | None = None,
    calibration: pl.DataFrame | None = None,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
) -> pl.DataFrame:
    """:func:`forecast_frame` with the backtest's hooks: ``state`` (series id → name → fitted model) and ``refit``."""
    run = _Run.prepare(df, models, h, settings)
    fx_parts = run.future_parts(future_exog)
    results: list[tuple[str, SeriesForecast]] = []
    for (uid,), part in df.partition_by(ID, as_dict=True, maintain_order=True).items():
        series = run.series(part, fx_parts[(uid,)] if run.uses_exog else None)
        state_of = None if state is None else state.setdefault(uid, {})
        results.extend((uid, res) for res in run.engine.forecast(series, run.h, state=state_of, refit=refit))
    return run.finish(results, calibration)


def forecast_frame_paths(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    futures: Sequence[pl.DataFrame | None],
    *,
    calibration: pl.DataFrame | None = None,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
) -> list[pl.DataFrame]:
    """Fit once, predict many: ``[forecast_frame(df, models, h, settings, future_exog=f) for f in futures]``,
    with every model fitted once per series (and ``state``/``refit`` as in :func:`forecast_frame_with_state`).

    Frame ``k`` equals :func:`forecast_frame` under ``futures[k]`` alone: the same columns, rows, fallbacks and
    bounds (the fits are the same; each exogenous model predicts under every future, a model without regressors
    once). Predicting a fitted state-space model under other regressors costs a few milliseconds, a fit seconds.
    """
    if not futures:
        raise ValueError("futures: at least one future-exogenous frame is needed")
    run = _Run.prepare(df, models, h, settings)
    if not run.uses_exog:  # the futures change nothing: one forecast serves them all
        one = forecast_frame_with_state(df, models, h, settings, calibration=calibration, state=state, refit=refit)
        return [one] * len(futures)
    parts = [run.future_parts(f) for f in futures]
    results: list[list[tuple[str, SeriesForecast]]] = [[] for _ in futures]
    for (uid,), part in df.partition_by(ID, as_dict=True, maintain_order=True).items():
        series = run.series(part, None)
        X_futures = [run.future_array(p[(uid,)]) for p in parts]
        state_of = None if state is None else state.setdefault(uid, {})
        per_future = run.engine.forecast_paths(series, run.h, X_futures, state=state_of, refit=refit)
        for k, forecasts in enumerate(per_future):
            results[k].extend((uid, res) for res in forecasts)
    return [run.finish(r, calibration) for r in results]


@dataclass
class _Run:
    """What a frame forecast sets up once: the engine, the future grid and the tags of the models."""

    h: int
    settings: ForecastSettings
    engine: SeriesEngine
    grid: pl.DataFrame
    probes: dict[str, Forecaster]
    uses_exog: bool
    uses_dates: bool
    transforms: dict[str, Transform]

    @classmethod
    def prepare(cls, df: pl.DataFrame, models: Mapping[str, ModelLike], h: int, settings: ForecastSettings) -> _Run:
        h = check_h(h)
        exog = list(settings.exog)
        factories = as_factories(models)
        request = settings.request
        transforms = settings.transforms(list(factories))
        engine = SeriesEngine(
            factories,
            request,
            settings.season_length,
            exog,
            fallback_factory(settings.fallback, settings.season_length),
            settings.fallback,
            transforms,
            settings.model_time_limit,
        )
        check_frame(df, settings.freq, exog)
        grid = future_grid(df, h, settings.freq)
        probes = {name: f() for name, f in factories.items()}  # unfitted instances, for their tags
        fb_probe = None if engine.fallback is None else engine.fallback()
        if fb_probe is not None and request.model_levels and not fb_probe.get_tag("intervals"):
            raise ValueError(
                f"fallback: {settings.fallback} gives no intervals; choose one that does, or ask for the mean only"
            )
        uses_exog = bool(exog) and any(m.get_tag("exogenous") for m in probes.values())
        uses_dates = any(m.get_tag("dates") for m in [*probes.values(), fb_probe] if m is not None)
        return cls(h, settings, engine, grid, probes, uses_exog, uses_dates, transforms)

    def future_parts(self, future_exog: pl.DataFrame | None) -> dict[tuple[object, ...], pl.DataFrame]:
        """The checked future regressors by series (empty when no model uses them)."""
        if not self.uses_exog:
            return {}
        fX = future_inputs(future_exog, self.grid, list(self.settings.exog))
        return fX.partition_by(ID, as_dict=True, maintain_order=True)

    def future_array(self, part: pl.DataFrame) -> np.ndarray:
        return part.select(self.settings.exog).to_numpy()

    def series(self, part: pl.DataFrame, future_part: pl.DataFrame | None) -> SeriesInput:
        """One series' history (and future regressors, when given) as the engine takes it."""
        exog = list(self.settings.exog)
        return SeriesInput(
            part.get_column(Y).cast(pl.Float64).to_numpy(),
            part.select(pl.col(c).cast(pl.Float64) for c in exog).to_numpy() if self.uses_exog else None,
            self.future_array(future_part) if self.uses_exog and future_part is not None else None,
            part.get_column(DS).to_numpy() if self.uses_dates else None,
        )

    def finish(self, results: list[tuple[str, SeriesForecast]], calibration: pl.DataFrame | None) -> pl.DataFrame:
        """The forecast frame of the per-series results, inside the bounds, with intervals for models without."""
        request = self.settings.request
        out = _assemble(results, len(self.probes), self.grid, self.h, request)
        out = apply_bounds(out, self.settings.bounds, request.levels)
        lacking = [name for name, m in self.probes.items() if not m.get_tag("intervals")]
        if not (lacking and request.model_levels):
            return out
        return intervals_without_model(out, lacking, request, calibration, self.transforms, self.settings)


def _assemble(
    results: list[tuple[str, SeriesForecast]], n_models: int, grid: pl.DataFrame, h: int, request: OutputRequest
) -> pl.DataFrame:
    """The forecast frame from per-series results (series in grid order, models in mapping order)."""
    ids = [uid for uid, _ in results]
    series_of_block = np.repeat(np.arange(len(ids) // n_models), n_models)  # grid block of each output block
    ds_rows = grid.get_column(DS).gather((series_of_block[:, None] * h + np.arange(h)).ravel())
    cols: dict[str, pl.Series] = {
        ID: pl.Series(ID, np.repeat(ids, h), dtype=pl.String),
        DS: ds_rows.alias(DS),
        MODEL: pl.Series(MODEL, np.repeat([r.model for _, r in results], h), dtype=pl.String),
        MEAN: pl.Series(MEAN, np.concatenate([r.mean for _, r in results]), dtype=pl.Float64),
    }
    extra = [r.column_values(request) for _, r in results]
    for j, name in enumerate(request.columns):
        cols[name] = pl.Series(name, np.concatenate([values[j] for values in extra]), dtype=pl.Float64)
    cols[FALLBACK] = pl.Series(FALLBACK, [r.reason for _, r in results for _ in range(h)], dtype=pl.String)
    return pl.DataFrame(cols).with_columns(pl.col(pl.Float64).fill_nan(None))


def intervals_without_model(
    frame: pl.DataFrame,
    names: Sequence[str],
    request: OutputRequest,
    calibration: pl.DataFrame | None,
    transforms: Mapping[str, Transform],
    settings: ForecastSettings,
) -> pl.DataFrame:
    """Intervals for the rows of the models ``names`` (no intervals of their own) where they forecast themselves.

    With ``calibration`` (a backtest frame): split-conformal intervals, quantiles and exceedance probabilities from
    its residuals of each model, per step and under the model's transform. Without: the interval columns stay
    null and the column ``interval_note`` says why on those rows (null elsewhere).
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
        bounds=settings.bounds,
        rows=pl.col(FALLBACK).is_null(),
    )
