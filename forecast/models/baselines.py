"""Simple benchmark models: Naive, SeasonalNaive, Drift, HistoricAverage, WindowAverage and M4's Naive2.

Point forecasts and intervals follow statsforecast's definitions (σ from the in-sample one-step residuals, normal
quantiles), so each can be checked against it; Naive2 follows the M4 Competition exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field, StrictInt

from forecast.models.base import Forecaster, Prediction, gaussian_intervals
from forecast.models.common import CONFIG, Deseasonalized, m4_deseasonalize

_BASE_TAGS = {"exogenous": False, "intervals": True, "seasonality": False, "missing": False}


class NoParams(BaseModel):
    """Models without parameters."""

    model_config = CONFIG


def _need(y: np.ndarray, n: int, who: str) -> None:
    if y.shape[0] < n:
        raise ValueError(f"{who} needs at least {n} observations, got {y.shape[0]}")


def _rms(resid: np.ndarray, dof: int) -> float:
    return float(np.sqrt(np.sum(resid**2) / dof)) if dof > 0 else 0.0


# -- Naive -----------------------------------------------------------------------------------------------------
class Naive(Forecaster):
    """Random walk: ŷ[T+j] = y[T] (M4's Naive1).

    σ² = Σ(y[t] − y[t−1])² / (n − 1) over the n − 1 one-step residuals; step-j bounds ``mean ± z·σ·√j``.
    Needs 2 observations.
    """

    name: ClassVar[str] = "naive"
    tags: ClassVar[dict[str, bool]] = dict(_BASE_TAGS)
    config_cls = NoParams

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        _need(y, 2, "Naive")
        resid = np.diff(y)
        self.residuals_ = resid
        self.sigma_ = _rms(resid, resid.size)
        self._last = float(y[-1])

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        mean = np.full(h, self._last)
        lower, upper = gaussian_intervals(mean, self.sigma_ * np.sqrt(np.arange(1, h + 1)), level)
        return Prediction(mean, lower, upper)


# -- SeasonalNaive ---------------------------------------------------------------------------------------------
class SeasonalNaiveConfig(BaseModel):
    """Parameters of :class:`SeasonalNaive`."""

    model_config = CONFIG
    season_length: StrictInt = Field(ge=1, description="m: periods per season (7 for daily data, 24 hourly)")


class SeasonalNaive(Forecaster):
    """Repeat the last observed season: ŷ[T+j] = y[T+j−m·(⌊(j−1)/m⌋+1)].

    Intervals follow statsforecast: σ² is the mean square of the in-sample seasonal-naive residuals
    ``y[t] − y[t−m]`` (n − m of them), the step-j standard error is σ·√k with k = ⌊(j−1)/m⌋ + 1 the number of
    seasons the forecast reaches across, and the bounds are mean ± z·σ·√k with normal quantiles z.
    Needs more than ``season_length`` observations (at least one residual) and no NaN.
    """

    name: ClassVar[str] = "seasonal_naive"
    tags: ClassVar[dict[str, bool]] = {**_BASE_TAGS, "seasonality": True}
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


# -- Drift -----------------------------------------------------------------------------------------------------
class Drift(Forecaster):
    """Random walk with drift: ŷ[T+j] = y[T] + j·b with b = (y[T] − y[1]) / (n − 1).

    σ² = Σ(y[t] − y[t−1] − b)² / (n − 1) (statsforecast's RandomWalkWithDrift); step-j standard error
    ``σ·sqrt(j·(1 + j/(n − 1)))``, which adds the uncertainty of the estimated slope. Needs 2 observations.
    """

    name: ClassVar[str] = "drift"
    tags: ClassVar[dict[str, bool]] = dict(_BASE_TAGS)
    config_cls = NoParams

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        _need(y, 2, "Drift")
        n = y.shape[0]
        self.slope_ = float((y[-1] - y[0]) / (n - 1))
        resid = np.diff(y) - self.slope_
        self.residuals_ = resid
        self.sigma_ = _rms(resid, resid.size)
        self._last, self._n = float(y[-1]), n

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        steps = np.arange(1, h + 1, dtype=np.float64)
        mean = self._last + self.slope_ * steps
        sigma_h = self.sigma_ * np.sqrt(steps * (1.0 + steps / (self._n - 1)))
        lower, upper = gaussian_intervals(mean, sigma_h, level)
        return Prediction(mean, lower, upper)


# -- HistoricAverage -------------------------------------------------------------------------------------------
class HistoricAverage(Forecaster):
    """The mean of the whole history: ŷ[T+j] = ȳ.

    σ² = Σ(y[t] − ȳ)² / (n − 1); bounds ``ȳ ± z·σ·sqrt(1 + 1/n)`` at every step (statsforecast's
    HistoricAverage). Needs 2 observations (for σ).
    """

    name: ClassVar[str] = "historic_average"
    tags: ClassVar[dict[str, bool]] = dict(_BASE_TAGS)
    config_cls = NoParams

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        _need(y, 2, "HistoricAverage")
        self.mean_ = float(np.mean(y))
        resid = y - self.mean_
        self.residuals_ = resid
        self.sigma_ = _rms(resid, y.size - 1)
        self._n = y.size

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        mean = np.full(h, self.mean_)
        lower, upper = gaussian_intervals(mean, np.full(h, self.sigma_ * np.sqrt(1 + 1 / self._n)), level)
        return Prediction(mean, lower, upper)


# -- WindowAverage ---------------------------------------------------------------------------------------------
class WindowAverageConfig(BaseModel):
    """Parameters of :class:`WindowAverage`."""

    model_config = CONFIG
    window: StrictInt = Field(ge=1, description="number of most recent observations averaged")


class WindowAverage(Forecaster):
    """The mean of the last ``window`` observations, flat over the horizon.

    No intervals of its own (the ``intervals`` tag is false, as in statsforecast, which offers only conformal
    intervals for it); use the conformal intervals of the backtest layer. Needs ``window`` observations.
    """

    name: ClassVar[str] = "window_average"
    tags: ClassVar[dict[str, bool]] = {**_BASE_TAGS, "intervals": False}
    config_cls = WindowAverageConfig
    config: WindowAverageConfig

    def __init__(self, window: int, **params: Any) -> None:
        super().__init__(window=window, **params)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        _need(y, self.config.window, f"WindowAverage(window={self.config.window})")
        self.mean_ = float(np.mean(y[-self.config.window :]))

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        return Prediction(np.full(h, self.mean_))


# -- Naive2 ----------------------------------------------------------------------------------------------------
class Naive2Config(BaseModel):
    """Parameters of :class:`Naive2`."""

    model_config = CONFIG
    season_length: StrictInt = Field(ge=1, description="m: the lag of the seasonality test (24 for hourly M4)")


class Naive2(Forecaster):
    """M4's Naive2: Naive on the seasonally adjusted series, re-seasonalised.

    1. Seasonality test at lag m with the 90 % ACF criterion ``|r_m| > 1.645·sqrt((1 + 2·Σ_{k<m} r_k²)/n)``
       (not seasonal when n < 3m or m = 1);
    2. if seasonal: classical multiplicative decomposition (2×m centred moving average for even m; mean ratio
       y/trend per position counted from the first observation; indices normalised to mean 1) and the series
       divided by its indices;
    3. Naive on the adjusted series, multiplied by the indices continued over the horizon.

    Intervals (not part of M4): Naive's intervals on the adjusted series, multiplied by the indices.
    A seasonal series whose moving-average trend is not positive cannot be decomposed multiplicatively: the fit
    raises (the frame layer then falls back).
    """

    name: ClassVar[str] = "naive2"
    tags: ClassVar[dict[str, bool]] = {**_BASE_TAGS, "seasonality": True}
    config_cls = Naive2Config
    config: Naive2Config

    def __init__(self, season_length: int, **params: Any) -> None:
        super().__init__(season_length=season_length, **params)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        _need(y, 2, "Naive2")
        self.decomposition_: Deseasonalized = m4_deseasonalize(y, self.config.season_length)
        adj = self.decomposition_.adjusted
        self.sigma_ = _rms(np.diff(adj), adj.size - 1)
        self._last, self._n = float(adj[-1]), y.size

    @property
    def seasonal_(self) -> bool:
        """Whether the seasonality test found the series seasonal."""
        return self.decomposition_.seasonal

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        back = self.decomposition_.reseasonalize
        mean_adj = np.full(h, self._last)
        lo, hi = gaussian_intervals(mean_adj, self.sigma_ * np.sqrt(np.arange(1, h + 1)), level)
        n = self._n
        return Prediction(
            back(mean_adj, n), {k: back(v, n) for k, v in lo.items()}, {k: back(v, n) for k, v in hi.items()}
        )
