"""The model interface: validate in public methods, compute in private ones.

Every model is a :class:`Forecaster` working on numpy arrays of one series (frames are the business of
:mod:`forecast.core`). The public :meth:`Forecaster.fit` and :meth:`Forecaster.predict` check their inputs and the
model's output; subclasses implement only ``_fit`` and ``_predict``, which may assume clean inputs.

Missing values in the history
    ``y`` may contain NaN only when the model's ``missing`` tag is true (e.g. SARIMAX, whose Kalman filter skips
    missing observations). Other models raise :class:`ValueError` naming the first positions; the frame layer
    fills gaps for them before fitting (see :mod:`forecast.core`). ``inf`` is never accepted, and neither are NaN
    in ``X`` or ``X_future``.

Calendar dates
    ``fit``/``update`` take an optional ``ds`` (the dates of ``y``, one per value, strictly increasing). Models with
    the ``dates`` tag (Prophet: calendar seasonalities and holidays) read it as ``self._ds``; the others check and
    ignore it. The frame layer passes the series' real ``ds`` to every model with the tag.

Exogenous regressors
    Models whose ``exogenous`` tag is false accept and ignore ``X``/``X_future`` (after a shape check), so one
    loop can pass the same arrays to every model. A model fitted with ``X`` needs ``X_future`` of shape
    ``(h, k)``; an exogenous model fitted without ``X`` refuses ``X_future`` (it would be silently unused).

Output
    :meth:`predict` guarantees a finite ``mean`` of shape ``(h,)`` and, for each requested level, finite bounds
    with ``lower <= mean <= upper``; anything else raises :class:`ForecastError` so the caller can fall back.
    With ``quantiles=(0.1, 0.5, 0.9)`` it also fills :attr:`Prediction.quantiles`, read off the model's central
    intervals (``q`` is the bound of the ``100·|1 − 2q|`` % interval, the median is ``mean``; see
    :mod:`forecast.output.quantiles`); models implement only intervals.

Updating without refitting
    :meth:`update` conditions a fitted model on a longer (or shifted) history, keeping the estimated parameters
    where the model supports it: rolling-origin backtests with ``refit_every = k`` call it between refits. The
    default ``_update`` refits; a model overrides it when it can do better (statsmodels state-space results:
    ``results.apply(y, exog=X, refit=False)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from pydantic import BaseModel

from forecast.output.quantiles import check_quantiles, levels_for_quantiles, normal_quantile, quantiles_from_intervals
from forecast.output.request import check_levels

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)

DEFAULT_TAGS: Mapping[str, bool] = {
    "exogenous": False,  # uses X / X_future
    "intervals": False,  # gives prediction intervals of its own
    "seasonality": False,  # models a seasonal pattern
    "missing": False,  # accepts NaN in y
    "dates": False,  # uses the calendar dates of y (``fit(..., ds=...)``)
}


class ForecastError(RuntimeError):
    """A model could not produce a valid forecast (non-finite output, crossed bounds…)."""


class NotFittedError(RuntimeError):
    """``predict`` was called before ``fit``."""


@dataclass(frozen=True)
class Prediction:
    """A forecast of ``h`` steps: point ``mean``, central intervals ``lower[level]``, ``upper[level]`` and
    optional ``quantiles[q]`` (filled by :meth:`Forecaster.predict` when asked for, or by a model that has its
    own quantiles)."""

    mean: np.ndarray
    lower: dict[int, np.ndarray] = field(default_factory=dict)
    upper: dict[int, np.ndarray] = field(default_factory=dict)
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile: an explicit one if present, else the matching interval bound (0.5 → ``mean``)."""
        (qq,) = check_quantiles(q)
        if qq in self.quantiles:
            return self.quantiles[qq]
        return quantiles_from_intervals(self.mean, self.lower, self.upper, (qq,))[qq]

    @property
    def h(self) -> int:
        """Number of forecast steps."""
        return int(self.mean.shape[0])

    @property
    def levels(self) -> tuple[int, ...]:
        """The interval levels present, ascending."""
        return tuple(sorted(self.lower))


def check_h(h: int) -> int:
    """Validate a horizon: an integer ≥ 1."""
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
        raise ValueError(f"h: expected an integer >= 1, got {h!r}")
    return int(h)


def _first_positions(mask: np.ndarray, k: int = 5) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:k])
    return shown + (f" … ({idx.size} in all)" if idx.size > k else "")


def _check_y(y: Any, allow_missing: bool, name: str) -> np.ndarray:
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"y: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("y: empty series")
    if np.isinf(arr).any():
        raise ValueError(f"y: infinite values at positions {_first_positions(np.isinf(arr))}")
    nan = np.isnan(arr)
    if nan.all():
        raise ValueError("y: every value is missing")
    if nan.any() and not allow_missing:
        raise ValueError(
            f"y: missing values at positions {_first_positions(nan)}; {name} does not accept NaN "
            "(fill or trim the history first)"
        )
    return arr


def _check_ds(ds: Any, n: int) -> np.ndarray:
    arr = np.asarray(ds, dtype="datetime64[ns]")
    if arr.shape != (n,):
        raise ValueError(f"ds: expected {n} dates (one per y), got shape {arr.shape}")
    if np.isnat(arr).any():
        raise ValueError(f"ds: missing dates at positions {_first_positions(np.isnat(arr))}")
    if arr.size > 1 and not (np.diff(arr) > np.timedelta64(0, "ns")).all():
        raise ValueError("ds: dates must be strictly increasing")
    return arr


def _check_X(X: Any, n_rows: int, what: str, n_cols: int | None = None) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array (rows, regressors), got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{what}: expected {n_rows} rows, got {arr.shape[0]}")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{what}: expected {n_cols} columns (as in fit), got {arr.shape[1]}")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = bad.any(axis=1)
        raise ValueError(f"{what}: missing or infinite values in rows {_first_positions(rows)}")
    return arr


class Forecaster(ABC):
    """Base class of every model.

    Subclasses set ``name``, ``tags`` (merged over :data:`DEFAULT_TAGS`) and ``config_cls`` (a pydantic model
    validating the constructor's keyword arguments), and implement ``_fit`` and ``_predict``. A model whose
    capabilities depend on its parameters (an ensemble of members, MSTL's remainder model) overrides
    ``_instance_tags``; :meth:`get_tag` answers for the instance, :meth:`get_class_tag` for the class.
    """

    name: ClassVar[str] = "forecaster"
    tags: ClassVar[Mapping[str, bool]] = DEFAULT_TAGS
    config_cls: ClassVar[type[BaseModel]]
    nested: ClassVar[tuple[str, ...]] = ()
    """Config fields holding other models (an ensemble's ``members``, MSTL's ``remainder``): the registry builds
    them from ``{name, params}`` specs before the model is made."""

    def __init__(self, **params: Any) -> None:
        self.config = self.config_cls(**params)
        self._tags_dynamic: dict[str, bool] = dict(self._instance_tags())
        self._ds: np.ndarray | None = None
        self._fitted = False
        self._n_exog: int | None = None
        self.n_obs_: int = 0
        self.fit_warnings_: list[str] = []

    # -- introspection ---------------------------------------------------------------------------------------
    @classmethod
    def get_class_tag(cls, tag: str) -> bool:
        """A capability tag of the class (``exogenous``, ``intervals``, ``seasonality``, ``missing``, ``dates``)."""
        if tag not in DEFAULT_TAGS:
            raise KeyError(f"unknown tag {tag!r}; known: {', '.join(DEFAULT_TAGS)}")
        return bool({**DEFAULT_TAGS, **cls.tags}[tag])

    def get_tag(self, tag: str) -> bool:
        """A capability tag of this model: the class's, unless its parameters decide (see ``_instance_tags``)."""
        value = self.get_class_tag(tag)
        return bool(self._tags_dynamic.get(tag, value))

    def _instance_tags(self) -> Mapping[str, bool]:
        """Tags that depend on the parameters (called once, after the config is validated); none by default."""
        return {}

    def get_params(self) -> dict[str, Any]:
        """The validated constructor parameters (JSON-friendly)."""
        return self.config.model_dump(mode="json")

    def clone(self) -> Self:
        """A fresh, unfitted model with the same parameters."""
        params = {k: _fresh(getattr(self.config, k)) for k in type(self.config).model_fields}
        return type(self)(**params)

    @property
    def is_fitted(self) -> bool:
        """True once :meth:`fit` has succeeded."""
        return self._fitted

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({args})"

    # -- public API ------------------------------------------------------------------------------------------
    def fit(self, y: np.ndarray, X: np.ndarray | None = None, ds: Any = None) -> Self:
        """Fit to one series ``y`` (n,) with optional regressors ``X`` (n, k) and dates ``ds`` (n,); returns
        ``self``. ``ds`` is used by models with the ``dates`` tag only (checked either way)."""
        arr = _check_y(y, self.get_tag("missing"), type(self).__name__)
        Xa = None if X is None else _check_X(X, arr.shape[0], "X")
        if not self.get_tag("exogenous"):
            Xa = None
        self._set_ds(ds, arr.shape[0])
        self._fitted = False
        self.fit_warnings_ = []
        self._fit(arr, Xa)
        self.n_obs_ = int(arr.shape[0])
        self._n_exog = None if Xa is None else int(Xa.shape[1])
        self._fitted = True
        return self

    def predict(
        self,
        h: int,
        X_future: np.ndarray | None = None,
        level: Sequence[int] = DEFAULT_LEVELS,
        quantiles: Sequence[float] | None = None,
    ) -> Prediction:
        """Forecast ``h`` steps ahead with central intervals at each ``level`` (percent) and the ``quantiles``.

        Quantiles are probabilities in (0, 1) at whole-percent levels (0.1 is the lower bound of the 80 %
        interval); asking for any but the median needs a model with intervals.
        """
        if not self._fitted:
            raise NotFittedError(f"{type(self).__name__}: call fit before predict")
        h = check_h(h)
        levels = check_levels(level)
        qs = check_quantiles(quantiles)
        needed = tuple(sorted(set(levels) | set(levels_for_quantiles(qs))))
        Xf = None
        if self.get_tag("exogenous"):
            if self._n_exog is not None:
                if X_future is None:
                    raise ValueError(f"X_future: the model was fitted with {self._n_exog} regressors; pass (h, k)")
                Xf = _check_X(X_future, h, "X_future", self._n_exog)
            elif X_future is not None:
                raise ValueError("X_future: the model was fitted without X; it cannot use future regressors")
        elif X_future is not None:
            _check_X(X_future, h, "X_future")  # shape check only; the model ignores it
        if needed and not self.get_tag("intervals"):
            raise ValueError(f"{type(self).__name__} gives no intervals; pass level=() and only the median quantile")
        pred = _check_prediction(self._predict(h, Xf, needed), h, needed, type(self).__name__)
        if not qs and needed == levels:
            return pred
        own = [q for q in qs if q in pred.quantiles]  # a model's own quantiles win over interval-derived ones
        q_values = quantiles_from_intervals(pred.mean, pred.lower, pred.upper, [q for q in qs if q not in own])
        q_values = {q: pred.quantiles[q] if q in own else q_values[q] for q in qs}
        return Prediction(
            mean=pred.mean,
            lower={lv: pred.lower[lv] for lv in levels},
            upper={lv: pred.upper[lv] for lv in levels},
            quantiles=q_values,
        )

    def update(self, y: np.ndarray, X: np.ndarray | None = None, ds: Any = None) -> Self:
        """Condition the fitted model on the history ``y`` (n,) (all of it, up to a later cutoff), ``X`` and ``ds``.

        Keeps the estimated parameters where the model implements ``_update`` (e.g. re-running a Kalman filter
        with fixed parameters); the default refits. Inputs are validated as in :meth:`fit`, and the regressors
        must be those of the fit. Returns ``self``.
        """
        if not self._fitted:
            raise NotFittedError(f"{type(self).__name__}: call fit before update")
        arr = _check_y(y, self.get_tag("missing"), type(self).__name__)
        Xa = None
        if self.get_tag("exogenous"):
            if self._n_exog is not None:
                if X is None:
                    raise ValueError(f"X: the model was fitted with {self._n_exog} regressors; pass (n, k)")
                Xa = _check_X(X, arr.shape[0], "X", self._n_exog)
            elif X is not None:
                raise ValueError("X: the model was fitted without X; refit it to use regressors")
        elif X is not None:
            _check_X(X, arr.shape[0], "X")
        self._set_ds(ds, arr.shape[0])
        self._fitted = False
        self._update(arr, Xa)
        self.n_obs_ = int(arr.shape[0])
        self._fitted = True
        return self

    def _set_ds(self, ds: Any, n: int) -> None:
        checked = None if ds is None else _check_ds(ds, n)
        self._ds = checked if self.get_tag("dates") else None

    # -- to implement ----------------------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        """Compute the fit; ``y`` is 1-D float (NaN only if the ``missing`` tag is set), ``X`` finite or None."""

    @abstractmethod
    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        """Compute the forecast for validated arguments."""

    def _update(self, y: np.ndarray, X: np.ndarray | None) -> None:
        """Re-condition on a new history; override to keep parameters (the default refits with ``_fit``)."""
        self.fit_warnings_ = []
        self._fit(y, X)


def _fresh(value: Any) -> Any:
    """A config value for a clone: nested models cloned (unfitted), everything else as is."""
    if isinstance(value, Forecaster):
        return value.clone()
    if isinstance(value, list) and any(isinstance(v, Forecaster) for v in value):
        return [v.clone() if isinstance(v, Forecaster) else v for v in value]
    return value


def _check_prediction(pred: Prediction, h: int, levels: tuple[int, ...], name: str) -> Prediction:
    mean = np.asarray(pred.mean, dtype=np.float64).reshape(-1)
    if mean.shape != (h,):
        raise ForecastError(f"{name}: mean has shape {mean.shape}, expected ({h},)")
    if not np.isfinite(mean).all():
        raise ForecastError(f"{name}: non-finite point forecast")
    lower: dict[int, np.ndarray] = {}
    upper: dict[int, np.ndarray] = {}
    for lv in levels:
        if lv not in pred.lower or lv not in pred.upper:
            raise ForecastError(f"{name}: no interval for level {lv}")
        lo = np.asarray(pred.lower[lv], dtype=np.float64).reshape(-1)
        hi = np.asarray(pred.upper[lv], dtype=np.float64).reshape(-1)
        if lo.shape != (h,) or hi.shape != (h,):
            raise ForecastError(f"{name}: interval {lv} has the wrong shape")
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise ForecastError(f"{name}: non-finite {lv}% interval")
        tol = 1e-9 * np.maximum(1.0, np.abs(mean))
        if (lo > mean + tol).any() or (hi < mean - tol).any():
            raise ForecastError(f"{name}: {lv}% interval does not contain the point forecast")
        lower[lv] = np.minimum(lo, mean)
        upper[lv] = np.maximum(hi, mean)
    quantiles: dict[float, np.ndarray] = {}
    for q, values in pred.quantiles.items():
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.shape != (h,) or not np.isfinite(arr).all():
            raise ForecastError(f"{name}: quantile {q} is not {h} finite values")
        quantiles[float(q)] = arr
    return Prediction(mean=mean, lower=lower, upper=upper, quantiles=quantiles)


def gaussian_intervals(
    mean: np.ndarray, sigma_h: np.ndarray, levels: Sequence[int]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Normal intervals ``mean ± z(level)·sigma_h`` for each level (statsforecast's construction)."""
    lower, upper = {}, {}
    for lv in levels:
        z = normal_quantile(lv)
        lower[lv] = mean - z * sigma_h
        upper[lv] = mean + z * sigma_h
    return lower, upper
