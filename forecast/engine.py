"""The per-series engine: fit every model on one series, fall back on failure, map back through the transform.

See :mod:`forecast.core` for the rules (nulls in the history, dates, models without intervals, failures, bounds);
this module implements them for one series at a time, on numpy arrays. Each model's fit and predictions on a
series run under one :class:`~forecast.timeout.Deadline` of ``time_limit`` seconds (the fallback under its own): a
model past it is interrupted and falls back on that series alone (:mod:`forecast.timeout`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.models.base import Forecaster
from forecast.models.registry import make_model, model_class
from forecast.output.bounds import Identity, Transform
from forecast.output.request import OutputRequest
from forecast.output.series import SeriesForecast, back_transform, nan_forecast
from forecast.timeout import Deadline, ModelTimeout

ModelLike = Forecaster | Callable[[], Forecaster]
"""A model instance (cloned per series) or a zero-argument factory of fresh models."""

MAX_REASON = 400


# -- history preparation ---------------------------------------------------------------------------------------
def fill_gaps(y: np.ndarray, season_length: int) -> np.ndarray:
    """Fill NaN for fitting models that cannot take them (see :mod:`forecast.core`); leading NaN not allowed."""
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


# -- models ----------------------------------------------------------------------------------------------------
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


def failure_reason(name: str, exc: BaseException) -> str:
    """``"<name> failed: <Error>: <message>"`` on one line, at most :data:`MAX_REASON` characters; a
    :class:`~forecast.timeout.ModelTimeout` reads ``"<name> exceeded its 60 s time limit on this series"``."""
    if isinstance(exc, ModelTimeout):
        return f"{name} {exc}"
    text = " ".join(f"{name} failed: {type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


# -- one series ------------------------------------------------------------------------------------------------
@dataclass
class SeriesInput:
    """One series: ``y`` (NaN = missing), regressors ``X`` and ``X_future`` (or None), dates ``ds`` (or None)."""

    y: np.ndarray
    X: np.ndarray | None = None
    X_future: np.ndarray | None = None
    ds: np.ndarray | None = None

    def trimmed(self) -> SeriesInput:
        """The series without its leading missing values."""
        y = np.asarray(self.y, dtype=np.float64)
        observed = np.flatnonzero(~np.isnan(y))
        start = int(observed[0]) if observed.size else y.size
        return SeriesInput(
            y[start:],
            None if self.X is None else self.X[start:],
            self.X_future,
            None if self.ds is None else self.ds[start:],
        )


@dataclass
class SeriesEngine:
    """Forecasts one series at a time with every model; built once per frame from the frame's settings.

    ``transforms`` maps model names to :class:`~forecast.output.bounds.Transform` (missing: identity); the
    fallback standing in for a model runs under that model's transform. ``time_limit`` (seconds, None: none) bounds
    each model's fit and predictions on one series (:mod:`forecast.timeout`).
    """

    factories: Mapping[str, Callable[[], Forecaster]]
    request: OutputRequest
    season_length: int = 7
    exog: Sequence[str] = ()
    fallback: Callable[[], Forecaster] | None = None
    fallback_name: str | None = None
    transforms: Mapping[str, Transform] = field(default_factory=dict)
    time_limit: float | None = None

    def __post_init__(self) -> None:
        self._identity = Identity()  # one instance, so models without a transform share one fallback forecast

    def run_model(
        self, model: Forecaster, s: SeriesInput, h: int, transform: Transform, *, update: bool = False
    ) -> SeriesForecast:
        """Fit (or update) ``model`` on the transformed series and forecast ``h`` steps on the target scale."""
        self.fit_model(model, s, transform, update=update)
        return self.predict_model(model, s, h, transform)

    def fit_model(self, model: Forecaster, s: SeriesInput, transform: Transform, *, update: bool = False) -> None:
        """Fit (or update) ``model`` on the transformed history of ``s``."""
        y_z = transform.forward(s.y)
        y_fit = y_z if model.get_tag("missing") else fill_gaps(y_z, self.season_length)
        X_fit = fill_exog(s.X, self.exog) if self.uses_x(model, s) else None
        dates = s.ds if model.get_tag("dates") else None
        if update:
            model.update(y_fit, X_fit, ds=dates)
        else:
            model.fit(y_fit, X_fit, ds=dates)

    def predict_model(self, model: Forecaster, s: SeriesInput, h: int, transform: Transform) -> SeriesForecast:
        """Forecast ``h`` steps of a fitted ``model`` under ``s.X_future``, on the target scale."""
        levels = self.request.model_levels if model.get_tag("intervals") else ()  # no intervals: the mean alone
        pred = model.predict(h, s.X_future if self.uses_x(model, s) else None, level=levels)
        return back_transform(pred, transform, self.request)

    @staticmethod
    def uses_x(model: Forecaster, s: SeriesInput) -> bool:
        """Whether ``model`` gets the regressors of ``s`` (an exogenous model on a series with regressors)."""
        return model.get_tag("exogenous") and s.X is not None

    def forecast(
        self, series: SeriesInput, h: int, *, state: dict[str, Forecaster] | None = None, refit: bool = True
    ) -> list[SeriesForecast]:
        """Forecast one series with every model, falling back per model on failure.

        ``state`` (name → fitted model) carries models between backtest windows: with ``refit=False`` a stored
        model is :meth:`~forecast.models.base.Forecaster.update`-d instead of refitted; a model that failed is
        dropped from it and refitted at the next window.
        """
        s = series.trimmed()
        fb_cache: dict[int, SeriesForecast | str] = {}
        out = []
        for name, factory in self.factories.items():
            transform = self.transforms.get(name, self._identity)
            stored = None if (refit or state is None) else state.get(name)
            try:
                if s.y.size == 0:
                    raise ValueError("no observed values in the history")
                model = stored if stored is not None else factory()
                limit = Deadline(self.time_limit)
                res = limit.run(self.run_model, model, s, h, transform, update=stored is not None)
                res.model = name
                if state is not None:
                    state[name] = model
            except (Exception, ModelTimeout) as exc:
                if state is not None:
                    state.pop(name, None)
                res = self._fall_back(name, failure_reason(name, exc), s, h, transform, fb_cache)
            out.append(res)
        return out

    def forecast_paths(
        self,
        series: SeriesInput,
        h: int,
        futures: Sequence[np.ndarray | None],
        *,
        state: dict[str, Forecaster] | None = None,
        refit: bool = True,
    ) -> list[list[SeriesForecast]]:
        """:meth:`forecast` under each of several future regressors (``[future][model]``), fitting every model once.

        Each model is fitted (or updated from ``state``) once and predicts under every ``futures[k]`` (one
        prediction when it uses no regressors); a failure of the fit, or of a prediction, falls back for those
        futures exactly as :meth:`forecast` would under that future alone. A model that failed under any future is
        dropped from ``state``.
        """
        s = series.trimmed()
        inputs = [replace(s, X_future=X) for X in futures]
        caches: list[dict[int, SeriesForecast | str]] = [{} for _ in futures]
        out: list[list[SeriesForecast]] = [[] for _ in futures]
        for name, factory in self.factories.items():
            transform = self.transforms.get(name, self._identity)
            stored = None if (refit or state is None) else state.get(name)
            model: Forecaster | None = None
            limit = Deadline(self.time_limit)  # the fit and every prediction of this model on this series
            try:
                if s.y.size == 0:
                    raise ValueError("no observed values in the history")
                model = stored if stored is not None else factory()
                limit.run(self.fit_model, model, s, transform, update=stored is not None)
            except (Exception, ModelTimeout) as exc:
                model, reason = None, failure_reason(name, exc)
            shared: SeriesForecast | str | None = None  # the one prediction of a model without regressors
            failed = model is None
            for k, sk in enumerate(inputs):
                res: SeriesForecast | str
                if model is None:
                    res = reason
                elif shared is not None:
                    res = shared
                else:
                    try:
                        res = limit.run(self.predict_model, model, sk, h, transform)
                        res.model = name
                    except (Exception, ModelTimeout) as exc:
                        res = failure_reason(name, exc)
                    if not self.uses_x(model, sk):
                        shared = res
                if isinstance(res, str):
                    failed = True
                    res = self._fall_back(name, res, sk, h, transform, caches[k])
                out[k].append(res)
            if state is not None:
                if failed:
                    state.pop(name, None)
                elif model is not None:
                    state[name] = model
        return out

    def _fall_back(
        self,
        name: str,
        reason: str,
        s: SeriesInput,
        h: int,
        transform: Transform,
        cache: dict[int, SeriesForecast | str],
    ) -> SeriesForecast:
        key = id(transform)
        if key not in cache:
            if self.fallback is None:
                cache[key] = "no fallback configured"
            else:
                try:
                    cache[key] = Deadline(self.time_limit).run(self.run_model, self.fallback(), s, h, transform)
                except (Exception, ModelTimeout) as exc:
                    cache[key] = "fallback " + failure_reason(str(self.fallback_name), exc)
        fb = cache[key]
        if isinstance(fb, str):
            return nan_forecast(name, h, self.request, f"{reason}; {fb}")
        return SeriesForecast(
            name, fb.mean, fb.lower, fb.upper, f"{reason}; used {self.fallback_name}", fb.quantiles, fb.exceed
        )
