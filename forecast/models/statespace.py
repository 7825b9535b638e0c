"""State-space models on statsmodels with exogenous regressors: SARIMAX (optional AICc order search) and
UnobservedComponents. Both take missing ``y`` (the Kalman filter skips them) and give Gaussian intervals."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from forecast.models.base import Forecaster, Prediction
from forecast.models.common import CONFIG, quiet

_STATE_TAGS = {"exogenous": True, "intervals": True, "seasonality": True, "missing": True}


def _int_tuple(value: Any, n: int, what: str) -> tuple[int, ...]:
    ok = (
        isinstance(value, list | tuple)
        and len(value) == n
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    )
    if not ok:
        raise ValueError(f"expected {n} integers >= 0 {what}, got {value!r}")
    return tuple(value)


def _state_space_forecast(result: Any, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
    fc = result.get_forecast(steps=h, exog=X_future)
    mean = np.asarray(fc.predicted_mean, dtype=np.float64)
    lower, upper = {}, {}
    for lv in level:
        ci = np.asarray(fc.conf_int(alpha=1.0 - lv / 100.0), dtype=np.float64)
        lower[lv], upper[lv] = ci[:, 0], ci[:, 1]
    return Prediction(mean=mean, lower=lower, upper=upper)


def _params(model: Any, result: Any) -> dict[str, float]:
    return dict(zip(model.param_names, np.asarray(result.params, dtype=float).tolist(), strict=True))


# -- SARIMAX ---------------------------------------------------------------------------------------------------
Trend = Literal["n", "c", "t", "ct"]
_TREND_ORDER = {"n": -1, "c": 0, "t": 1, "ct": 0}  # lowest polynomial power in the trend


class SarimaxConfig(BaseModel):
    """Parameters of :class:`Sarimax` (statsmodels' names).

    ``trend=None`` picks ``"c"`` (an intercept) when the model has no differencing and ``"n"`` otherwise;
    statsmodels rejects trend terms of lower order than d + D, so that combination is refused here with the key.
    With ``auto_order`` the AR/MA orders (p, q, and P, Q when the model is seasonal) are searched stepwise by
    AICc up to ``max_p``, ``max_q``, ``max_P``, ``max_Q`` (Hyndman–Khandakar: the configured orders and four
    standard starting models, then ±1 steps from the best until none improves); d, D and s stay as given.
    """

    model_config = CONFIG
    order: tuple[int, int, int] = (1, 0, 0)
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    trend: Trend | None = None
    enforce_stationarity: StrictBool = True
    enforce_invertibility: StrictBool = True
    maxiter: StrictInt = Field(default=50, ge=1, description="optimizer iterations (statsmodels' default: 50)")
    scale: StrictBool = Field(default=True, description="fit y / scale_ (see Sarimax) and scale the forecast back")
    exact_ar1: StrictBool = Field(
        default=True,
        description="order (1, 0, 0), no seasonal part, trend 'c' or 'n': the exact MLE by profiling phi "
        "(forecast.models.ar1_regression) instead of statsmodels' optimiser; the same likelihood",
    )
    auto_order: StrictBool = False
    max_p: StrictInt = Field(default=3, ge=0)
    max_q: StrictInt = Field(default=3, ge=0)
    max_P: StrictInt = Field(default=1, ge=0)
    max_Q: StrictInt = Field(default=1, ge=0)

    @field_validator("order", mode="before")
    @classmethod
    def _check_order(cls, value: Any) -> tuple[int, ...]:
        return _int_tuple(value, 3, "(p, d, q)")

    @field_validator("seasonal_order", mode="before")
    @classmethod
    def _check_seasonal_order(cls, value: Any) -> tuple[int, ...]:
        p, d, q, s = _int_tuple(value, 4, "(P, D, Q, s)")
        if (p or d or q) and s < 2:
            raise ValueError(f"a seasonal model needs a period s >= 2, got {value!r}")
        return (p, d, q, s)

    @model_validator(mode="after")
    def _check_trend(self) -> SarimaxConfig:
        if self.trend is not None and _TREND_ORDER[self.trend] >= 0:
            n_diff = self.order[1] + self.seasonal_order[1]
            if _TREND_ORDER[self.trend] < n_diff:
                raise ValueError(
                    f"trend: {self.trend!r} has terms of lower order than the differencing d + D = {n_diff}; "
                    "they would be differenced away (use 'n' or 't')"
                )
        return self

    @property
    def resolved_trend(self) -> str:
        """The trend passed to statsmodels."""
        if self.trend is not None:
            return self.trend
        return "c" if self.order[1] + self.seasonal_order[1] == 0 else "n"


Orders = tuple[tuple[int, int, int], tuple[int, int, int, int]]


def y_scale(y: np.ndarray) -> float:
    """The scale SARIMAX divides ``y`` by: the standard deviation of the period-to-period changes of the observed
    values (1 when there are fewer than two changes or they are all equal).

    A spread, not a magnitude: a series far from 0 relative to its movement (a log-volume near 11.7 moving a few
    hundredths a day) keeps its movement at order 1 instead of being shrunk to near nothing, which made the fit
    worse; a series in the tens of thousands (M4 Hourly H9, H95, H103) is still brought down to a sane range.
    """
    obs = y[~np.isnan(y)]
    steps = np.diff(obs)
    spread = float(np.std(steps)) if steps.size > 1 else 0.0
    return spread if np.isfinite(spread) and spread > 0 else 1.0


def sarimax_ar1_names(X: np.ndarray | None, *, intercept: bool) -> list[str] | None:
    """statsmodels' parameter names of ``SARIMAX(y, exog=X, order=(1, 0, 0))`` without building the model (nor
    importing statsmodels, a second or two in a fresh worker) when every regressor varies: ``intercept``, ``x1``…,
    ``ar.L1``, ``sigma2``. None when a column is constant: statsmodels then names it ``const``, or refuses it beside
    an intercept, and only the model itself says which (``tests/test_ar1_regression.py``)."""
    regressors: list[str] = []
    if X is not None:
        x = np.asarray(X, dtype=np.float64).reshape(X.shape[0], -1)
        if x.shape[0] and not (x.max(axis=0) > x.min(axis=0)).all():
            return None
        regressors = [f"x{i}" for i in range(1, x.shape[1] + 1)]
    return [*(["intercept"] if intercept else []), *regressors, "ar.L1", "sigma2"]


def unscale_params(params: dict[str, float], scale: float) -> dict[str, float]:
    """SARIMAX parameters of ``y / scale`` → those of ``y``: AR and MA coefficients are scale-free, ``sigma2``
    scales with ``scale²``, and every other term (intercept, drift, trend, regressor coefficients) with ``scale``."""
    out = {}
    for name, value in params.items():
        factor = 1.0 if name.startswith(("ar.", "ma.")) else scale**2 if name.startswith("sigma2") else scale
        out[name] = value * factor
    return out


class Sarimax(Forecaster):
    """statsmodels SARIMAX with exogenous regressors, fitted by maximum likelihood (Kalman filter).

    Missing ``y`` are allowed (the filter skips them). Intervals are statsmodels' Gaussian prediction intervals
    ``get_forecast(h, exog=X_future).conf_int(alpha=1 − level/100)``. Fitting is quiet: warnings raised by
    statsmodels (convergence, start parameters…) are caught and kept in ``fit_warnings_``; ``params_`` maps
    parameter names (``intercept``, ``x1``…, ``ar.L1``, ``sigma2``) to estimates. ``order_`` and
    ``seasonal_order_`` are the orders used; with ``auto_order``, ``search_`` lists every tried pair of orders
    with its AICc (or the error it raised), in the order tried.

    Scaling (``scale=True``, the default): the model is fitted to ``y / scale_`` with ``scale_`` the standard
    deviation of the changes of the observed ``y`` (:func:`y_scale`), and the mean and interval bounds are
    multiplied back. SARIMAX is
    equivariant under scaling (every term is linear in y), so this changes only the numerics: on series in the
    tens of thousands the likelihood optimiser otherwise starts far from the optimum and, within ``maxiter``,
    can stop at parameters that forecast ±10⁸ (M4 Hourly H9, H95, H103). ``X`` is not scaled. ``params_`` are
    reported on the scale of ``y`` (:func:`unscale_params`); the AICc values of ``search_`` are those of
    ``y / scale_`` (a constant shift, so the ranking is the same). ``update`` keeps the fitted ``scale_``.
    """

    name: ClassVar[str] = "sarimax"
    tags: ClassVar[dict[str, bool]] = dict(_STATE_TAGS)
    config_cls = SarimaxConfig
    config: SarimaxConfig

    def _sarimax(self, y: np.ndarray, X: np.ndarray | None, orders: Orders) -> Any:
        from statsmodels.tsa.statespace.sarimax import SARIMAX  # slow import: only when used

        cfg = self.config
        with quiet(self.fit_warnings_):
            return SARIMAX(
                y,
                exog=X,
                order=orders[0],
                seasonal_order=orders[1],
                trend=cfg.resolved_trend,
                enforce_stationarity=cfg.enforce_stationarity,
                enforce_invertibility=cfg.enforce_invertibility,
            )

    def _fit_orders(self, y: np.ndarray, X: np.ndarray | None, orders: Orders) -> tuple[Any, Any]:
        model = self._sarimax(y, X, orders)
        with quiet(self.fit_warnings_):
            if self._exact_ar1(orders):  # a candidate of the order search
                from forecast.models.ar1_regression import fit_ar1_regression  # numba and scipy: only when used

                params = self._ar1_params(fit_ar1_regression(y, X, intercept=self.config.resolved_trend == "c"))
                return model, model.smooth(params, cov_type="none")
            return model, model.fit(disp=False, maxiter=self.config.maxiter)

    def _ar1_params(self, fit: Any) -> np.ndarray:
        """An :class:`~forecast.models.ar1_regression.Ar1Fit` as statsmodels' parameter vector."""
        const = [fit.intercept] if self.config.resolved_trend == "c" else []
        return np.array([*const, *fit.beta, fit.phi, fit.sigma2])

    def _fit_exact(self, ys: np.ndarray, X: np.ndarray | None, orders: Orders) -> None:
        """The exact AR(1) fit, its state kept for closed-form forecasts; statsmodels' results are built only when
        asked for (:attr:`_result`)."""
        from forecast.models.ar1_regression import Ar1State, fit_ar1_regression

        fit = fit_ar1_regression(ys, X, intercept=self.config.resolved_trend == "c")
        self.order_, self.seasonal_order_ = orders
        names = sarimax_ar1_names(X, intercept=self.config.resolved_trend == "c")
        if names is None:  # a constant regressor: statsmodels' own naming (or its refusal beside an intercept)
            names = self._sarimax(ys, X, orders).param_names
        self.params_ = unscale_params(dict(zip(names, self._ar1_params(fit).tolist(), strict=True)), self.scale_)
        self._sm_result = None
        self._history = (ys, X)
        self._ar1 = Ar1State.at_end(fit, ys, X)

    @property
    def _result(self) -> Any:
        """statsmodels' results of the fit; for the exact AR(1) path built on first use from its parameters and
        history (the same model, so the same forecasts as the closed form)."""
        if getattr(self, "_ar1", None) is None:
            return self.__dict__.get("_sm_result", self.__dict__.get("_result"))  # (a model pickled before)
        if self._sm_result is None:
            ys, X = self._history
            with quiet(self.fit_warnings_):
                model = self._sarimax(ys, X, (self.order_, self.seasonal_order_))
                self._sm_result = model.smooth(self._ar1_params(self._ar1.fit), cov_type="none")
        return self._sm_result

    @_result.setter
    def _result(self, value: Any) -> None:
        self._sm_result, self._ar1 = value, None

    def _exact_ar1(self, orders: Orders) -> bool:
        """Whether the exact AR(1)-regression MLE applies (:mod:`~forecast.models.ar1_regression`)."""
        cfg = self.config
        return (
            cfg.exact_ar1
            and cfg.enforce_stationarity
            and orders[0] == (1, 0, 0)
            and orders[1][:3] == (0, 0, 0)
            and cfg.resolved_trend in ("c", "n")
        )

    def _neighbours(self, orders: Orders) -> list[Orders]:
        cfg = self.config
        (p, d, q), (sp, sd, sq, s) = orders
        out = []
        steps = [(1, 0, 0, 0), (0, 1, 0, 0), (1, 1, 0, 0)]
        if s >= 2:
            steps += [(0, 0, 1, 0), (0, 0, 0, 1)]
        for dp, dq, dP, dQ in steps:
            for sign in (1, -1):
                np_, nq = p + sign * dp, q + sign * dq
                nP, nQ = sp + sign * dP, sq + sign * dQ
                if 0 <= np_ <= cfg.max_p and 0 <= nq <= cfg.max_q and 0 <= nP <= cfg.max_P and 0 <= nQ <= cfg.max_Q:
                    out.append(((np_, d, nq), (nP, sd, nQ, s)))
        return out

    def _starts(self, start: Orders) -> list[Orders]:
        """Hyndman–Khandakar's starting models (clipped to the maxima), after the configured orders."""
        cfg = self.config
        (_, d, _), (_, sd, _, s) = start
        seasonal = s >= 2
        out = [start]
        for p, q, sp, sq in [(2, 2, 1, 1), (0, 0, 0, 0), (1, 0, 1, 0), (0, 1, 0, 1)]:
            sp, sq = (min(sp, cfg.max_P), min(sq, cfg.max_Q)) if seasonal else (start[1][0], start[1][2])
            cand = ((min(p, cfg.max_p), d, min(q, cfg.max_q)), (sp, sd, sq, s))
            if cand not in out:
                out.append(cand)
        return out

    def _search(self, y: np.ndarray, X: np.ndarray | None) -> tuple[Orders, Any, Any]:
        start: Orders = (self.config.order, self.config.seasonal_order)
        self.search_: list[tuple[Orders, float | str]] = []
        tried: dict[Orders, float] = {}
        fits: dict[Orders, tuple[Any, Any]] = {}

        def score(orders: Orders) -> float:
            if orders not in tried:
                try:
                    fits[orders] = self._fit_orders(y, X, orders)
                    val = float(fits[orders][1].aicc)
                    self.search_.append((orders, val))
                    tried[orders] = val if np.isfinite(val) else np.inf
                except Exception as exc:
                    self.search_.append((orders, f"{type(exc).__name__}: {exc}"))
                    tried[orders] = np.inf
            return tried[orders]

        best, best_score = start, np.inf
        for cand in self._starts(start):
            if score(cand) < best_score:
                best, best_score = cand, tried[cand]
        improved = True
        while improved:
            improved = False
            for cand in self._neighbours(best):
                if score(cand) < best_score:
                    best, best_score, improved = cand, tried[cand], True
        if not np.isfinite(best_score):
            raise ValueError(f"SARIMAX order search: no order could be fitted ({self.search_[-1][1]})")
        return best, *fits[best]

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.scale_ = y_scale(y) if self.config.scale else 1.0
        ys = y / self.scale_
        start: Orders = (self.config.order, self.config.seasonal_order)
        if not self.config.auto_order and self._exact_ar1(start):
            self._fit_exact(ys, X, start)
            return
        if self.config.auto_order:
            orders, model, res = self._search(ys, X)
        else:
            orders = (self.config.order, self.config.seasonal_order)
            model, res = self._fit_orders(ys, X, orders)
        self.order_, self.seasonal_order_ = orders
        if not (getattr(res, "mle_retvals", None) or {}).get("converged", True):
            self.fit_warnings_.append("optimizer did not converge")
        self.params_ = unscale_params(_params(model, res), self.scale_)
        self._result = res

    def _update(self, y: np.ndarray, X: np.ndarray | None) -> None:
        """Re-run the Kalman filter on the new history with the fitted parameters (no re-estimation)."""
        if getattr(self, "_ar1", None) is not None:
            ys = y / self.scale_
            self._history, self._sm_result = (ys, X), None
            self._ar1 = type(self._ar1).at_end(self._ar1.fit, ys, X)
            return
        with quiet(self.fit_warnings_):
            self._result = self._result.apply(y / self.scale_, exog=X, refit=False)

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        self.predict_warnings_: list[str] = []
        if getattr(self, "_ar1", None) is not None:
            from scipy.special import ndtri  # statsmodels' conf_int: norm.ppf(1 − α/2), i.e. ndtri

            mean, sd = self._ar1.forecast(h, X_future)
            z = {lv: float(ndtri(1.0 - (1.0 - lv / 100.0) / 2.0)) for lv in level}
            pred = Prediction(mean, {lv: mean - z[lv] * sd for lv in level}, {lv: mean + z[lv] * sd for lv in level})
        else:
            with quiet(self.predict_warnings_):
                pred = _state_space_forecast(self._result, h, X_future, level)
        s = self.scale_
        return Prediction(
            pred.mean * s, {lv: v * s for lv, v in pred.lower.items()}, {lv: v * s for lv, v in pred.upper.items()}
        )


# -- UnobservedComponents --------------------------------------------------------------------------------------
Level = Literal[
    "fixed intercept",
    "random walk",
    "local level",
    "deterministic trend",
    "random walk with drift",
    "local linear deterministic trend",
    "local linear trend",
    "smooth trend",
]


class UnobservedComponentsConfig(BaseModel):
    """Parameters of :class:`UnobservedComponents` (statsmodels' names).

    ``season_length`` adds a seasonal component: dummy seasonals, or ``harmonics`` trigonometric pairs (much
    cheaper for long seasons such as 24 or 168). ``autoregressive`` adds an AR(p) cycle-like component.
    """

    model_config = CONFIG
    level: Level = "local level"
    season_length: StrictInt | None = Field(default=None, ge=2)
    harmonics: StrictInt | None = Field(default=None, ge=1)
    stochastic_seasonal: StrictBool = True
    autoregressive: StrictInt | None = Field(default=None, ge=1)
    maxiter: StrictInt = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _check_harmonics(self) -> UnobservedComponentsConfig:
        if self.harmonics is not None:
            if self.season_length is None:
                raise ValueError("harmonics: needs season_length")
            if 2 * self.harmonics > self.season_length:
                raise ValueError(f"harmonics: at most season_length / 2 = {self.season_length // 2}")
        return self


class UnobservedComponents(Forecaster):
    """statsmodels structural time-series model (level/trend + seasonal + AR) with exogenous regressors.

    The regressors enter as a linear term with fixed coefficients (``beta.x1``… in ``params_``), estimated by
    maximum likelihood with the variances. Missing ``y`` allowed; Gaussian intervals from the Kalman filter.
    """

    name: ClassVar[str] = "unobserved_components"
    tags: ClassVar[dict[str, bool]] = dict(_STATE_TAGS)
    config_cls = UnobservedComponentsConfig
    config: UnobservedComponentsConfig

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        from statsmodels.tsa.statespace.structural import UnobservedComponents as UC

        cfg = self.config
        kwargs: dict[str, Any] = {"level": cfg.level, "exog": X, "autoregressive": cfg.autoregressive}
        if cfg.season_length is not None and cfg.harmonics is not None:
            kwargs["freq_seasonal"] = [{"period": cfg.season_length, "harmonics": cfg.harmonics}]
            kwargs["stochastic_freq_seasonal"] = [cfg.stochastic_seasonal]
        elif cfg.season_length is not None:
            kwargs["seasonal"] = cfg.season_length
            kwargs["stochastic_seasonal"] = cfg.stochastic_seasonal
        with quiet(self.fit_warnings_):
            model = UC(y, **kwargs)
            res = model.fit(disp=False, maxiter=cfg.maxiter)
        if not (getattr(res, "mle_retvals", None) or {}).get("converged", True):
            self.fit_warnings_.append("optimizer did not converge")
        self.params_ = _params(model, res)
        self._result = res

    def _update(self, y: np.ndarray, X: np.ndarray | None) -> None:
        """Re-run the Kalman filter on the new history with the fitted parameters (no re-estimation)."""
        with quiet(self.fit_warnings_):
            self._result = self._result.apply(y, exog=X, refit=False)

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        self.predict_warnings_: list[str] = []
        with quiet(self.predict_warnings_):
            return _state_space_forecast(self._result, h, X_future, level)
