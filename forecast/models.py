"""Numpy-level models: one series in, one :class:`~forecast.base.Prediction` out.

Each model takes its parameters as keyword arguments validated by a frozen pydantic config
(``extra="forbid"``), so a typo in a spec is an error, not a silently ignored key.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from forecast.base import Forecaster, Prediction, gaussian_intervals

_CONFIG = ConfigDict(extra="forbid", frozen=True)


# -- SeasonalNaive ---------------------------------------------------------------------------------------------
class SeasonalNaiveConfig(BaseModel):
    """Parameters of :class:`SeasonalNaive`."""

    model_config = _CONFIG
    season_length: StrictInt = Field(ge=1, description="m: periods per season (7 for daily data, 24 hourly)")


class SeasonalNaive(Forecaster):
    """Repeat the last observed season: ŷ[T+j] = y[T+j−m·(⌊(j−1)/m⌋+1)].

    Intervals follow statsforecast: σ² is the mean square of the in-sample seasonal-naive residuals
    ``y[t] − y[t−m]`` (n − m of them), the step-j standard error is σ·√k with k = ⌊(j−1)/m⌋ + 1 the number of
    seasons the forecast reaches across, and the bounds are mean ± z·σ·√k with normal quantiles z.
    Needs more than ``season_length`` observations (at least one residual) and no NaN.
    """

    name: ClassVar[str] = "seasonal_naive"
    tags: ClassVar[dict[str, bool]] = {
        "exogenous": False,
        "intervals": True,
        "seasonality": True,
        "missing": False,
    }
    config_cls = SeasonalNaiveConfig
    config: SeasonalNaiveConfig

    def __init__(self, season_length: int, **params: Any) -> None:
        super().__init__(season_length=season_length, **params)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        m = self.config.season_length
        if y.shape[0] <= m:
            raise ValueError(f"SeasonalNaive(season_length={m}) needs more than {m} observations, got {y.shape[0]}")
        resid = y[m:] - y[:-m]
        self.residuals_ = resid
        self.sigma_ = float(np.sqrt(np.mean(resid**2)))
        self._last_season = y[-m:].copy()

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        m = self.config.season_length
        steps = np.arange(h)
        mean = self._last_season[steps % m]
        sigma_h = self.sigma_ * np.sqrt(steps // m + 1)
        lower, upper = gaussian_intervals(mean, sigma_h, level)
        return Prediction(mean=mean, lower=lower, upper=upper)


# -- SARIMAX ---------------------------------------------------------------------------------------------------
def _int_tuple(value: Any, n: int, what: str) -> tuple[int, ...]:
    ok = (
        isinstance(value, list | tuple)
        and len(value) == n
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    )
    if not ok:
        raise ValueError(f"expected {n} integers >= 0 {what}, got {value!r}")
    return tuple(value)


Trend = Literal["n", "c", "t", "ct"]
_TREND_ORDER = {"n": -1, "c": 0, "t": 1, "ct": 0}  # lowest polynomial power in the trend


class SarimaxConfig(BaseModel):
    """Parameters of :class:`Sarimax` (statsmodels' names).

    ``trend=None`` picks ``"c"`` (an intercept) when the model has no differencing and ``"n"`` otherwise;
    statsmodels rejects trend terms of lower order than d + D, so that combination is refused here with the key.
    """

    model_config = _CONFIG
    order: tuple[int, int, int] = (1, 0, 0)
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    trend: Trend | None = None
    enforce_stationarity: StrictBool = True
    enforce_invertibility: StrictBool = True
    maxiter: StrictInt = Field(default=50, ge=1, description="optimizer iterations (statsmodels' default: 50)")

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


class Sarimax(Forecaster):
    """statsmodels SARIMAX with exogenous regressors, fitted by maximum likelihood (Kalman filter).

    Missing ``y`` are allowed (the filter skips them). Intervals are statsmodels' Gaussian prediction intervals
    ``get_forecast(h, exog=X_future).conf_int(alpha=1 − level/100)``. Fitting is quiet: warnings raised by
    statsmodels (convergence, start parameters…) are caught and kept in ``fit_warnings_``; ``params_`` maps
    parameter names (``intercept``, ``x1``…, ``ar.L1``, ``sigma2``) to estimates.
    """

    name: ClassVar[str] = "sarimax"
    tags: ClassVar[dict[str, bool]] = {
        "exogenous": True,
        "intervals": True,
        "seasonality": True,
        "missing": True,
    }
    config_cls = SarimaxConfig
    config: SarimaxConfig

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        from statsmodels.tsa.statespace.sarimax import SARIMAX  # slow import: only when used

        cfg = self.config
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = SARIMAX(
                y,
                exog=X,
                order=cfg.order,
                seasonal_order=cfg.seasonal_order,
                trend=cfg.resolved_trend,
                enforce_stationarity=cfg.enforce_stationarity,
                enforce_invertibility=cfg.enforce_invertibility,
            )
            res = model.fit(disp=False, maxiter=cfg.maxiter)
        self.fit_warnings_ = _messages(caught)
        if not res.mle_retvals.get("converged", True):
            self.fit_warnings_.append("optimizer did not converge")
        self.params_ = dict(zip(model.param_names, np.asarray(res.params, dtype=float).tolist(), strict=True))
        self._result = res

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fc = self._result.get_forecast(steps=h, exog=X_future)
            mean = np.asarray(fc.predicted_mean, dtype=np.float64)
            lower, upper = {}, {}
            for lv in level:
                ci = np.asarray(fc.conf_int(alpha=1.0 - lv / 100.0), dtype=np.float64)
                lower[lv], upper[lv] = ci[:, 0], ci[:, 1]
        self.predict_warnings_ = _messages(caught)
        return Prediction(mean=mean, lower=lower, upper=upper)


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: dict[str, None] = {}
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return list(seen)
