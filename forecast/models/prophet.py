"""Prophet with exogenous indicators as extra regressors and Ukrainian public holidays.

Time index
    Models get numpy arrays, but Prophet needs dates (its seasonalities and holidays are calendar-based): it has
    the ``dates`` tag, so ``fit(y, X, ds=...)`` keeps the dates of ``y`` and the frame layer
    (:mod:`forecast.core`) passes each series' real ``ds``. Without ``ds`` the dates are synthesised on the
    config's ``freq`` grid from ``start`` (default 2000-01-01), which keeps daily/weekly/yearly cycles right only
    relative to that start and makes holidays meaningless. The forecast periods continue the last step of ``ds``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, StrictBool, StrictInt

from features.contract import freq_step
from forecast.models.base import Forecaster, Prediction
from forecast.models.common import CONFIG, clamp_intervals, quiet

_QUIET_LOGGERS = ("cmdstanpy", "prophet", "prophet.plot")
Seasonality = StrictBool | Literal["auto"]


def _grid_step(freq: str) -> np.timedelta64:
    """The grid step of ``freq`` as a nanosecond timedelta64 (the unit of the dates handed to Prophet)."""
    return np.timedelta64(freq_step(freq)).astype("timedelta64[ns]")


def quiet_prophet_logs(level: int = logging.WARNING) -> None:
    """Silence cmdstanpy's and Prophet's INFO chatter (two lines per fit otherwise) and the plotly notice.

    cmdstanpy sets its logger to INFO the first time it builds it, so it is built here first, then turned down.
    """
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed": plots unused here
    import cmdstanpy.utils

    cmdstanpy.utils.get_logger()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.getLogger(name).level))


class ProphetConfig(BaseModel):
    """Parameters of :class:`Prophet` (Prophet's own names where they exist)."""

    model_config = CONFIG
    freq: Literal["1d", "1h"] = "1d"
    start: datetime = Field(default=datetime(2000, 1, 1), description="first date when fit gets no ds")
    country_holidays: str | None = Field(default="UA", description="add_country_holidays(country); None: none")
    growth: Literal["linear", "flat"] = "linear"
    seasonality_mode: Literal["additive", "multiplicative"] = "additive"
    yearly_seasonality: Seasonality = "auto"
    weekly_seasonality: Seasonality = "auto"
    daily_seasonality: Seasonality = "auto"
    changepoint_prior_scale: float = Field(default=0.05, gt=0)
    seasonality_prior_scale: float = Field(default=10.0, gt=0)
    holidays_prior_scale: float = Field(default=10.0, gt=0)
    n_changepoints: StrictInt = Field(default=25, ge=0)
    uncertainty_samples: StrictInt = Field(default=300, ge=50, description="posterior draws behind the intervals")
    seed: StrictInt = 0


class Prophet(Forecaster):
    """Prophet (additive trend + Fourier seasonalities + holidays + linear regressors), MAP fit by Stan.

    Each column of ``X`` becomes an extra regressor ``x0``, ``x1``… (standardised by Prophet); their future
    values come from ``X_future``. The point forecast is Prophet's ``yhat``; the intervals are quantiles of its
    ``uncertainty_samples`` predictive samples (trend-change and noise uncertainty), drawn with ``seed`` (the
    global numpy generator is restored afterwards). Logging of cmdstanpy/Prophet is turned down to WARNING.
    """

    name: ClassVar[str] = "prophet"
    tags: ClassVar[dict[str, bool]] = {
        "exogenous": True,
        "intervals": True,
        "seasonality": True,
        "missing": True,
        "dates": True,
    }
    config_cls = ProphetConfig
    config: ProphetConfig

    def _dates(self, n: int) -> np.ndarray:
        if self._ds is not None:
            return self._ds
        start = np.datetime64(self.config.start.replace(tzinfo=None), "ns")
        return start + np.arange(n) * _grid_step(self.config.freq)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        import pandas as pd

        quiet_prophet_logs()
        from prophet import Prophet as _Prophet

        cfg = self.config
        ds = self._dates(y.size)
        model = _Prophet(
            growth=cfg.growth,
            seasonality_mode=cfg.seasonality_mode,
            yearly_seasonality=cfg.yearly_seasonality,
            weekly_seasonality=cfg.weekly_seasonality,
            daily_seasonality=cfg.daily_seasonality,
            changepoint_prior_scale=cfg.changepoint_prior_scale,
            seasonality_prior_scale=cfg.seasonality_prior_scale,
            holidays_prior_scale=cfg.holidays_prior_scale,
            n_changepoints=cfg.n_changepoints,
            uncertainty_samples=cfg.uncertainty_samples,
        )
        if cfg.country_holidays:
            model.add_country_holidays(country_name=cfg.country_holidays)
        frame = pd.DataFrame({"ds": ds, "y": y})
        self._regressors = [f"x{j}" for j in range(0 if X is None else X.shape[1])]
        for j, col in enumerate(self._regressors):
            model.add_regressor(col)
            frame[col] = X[:, j]  # type: ignore[index]
        with quiet(self.fit_warnings_):
            model.fit(frame)
        self._model = model
        step = _grid_step(cfg.freq) if self._ds is None or ds.size < 2 else ds[-1] - ds[-2]
        self._last, self._step = ds[-1], step

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        import pandas as pd

        future = pd.DataFrame({"ds": self._last + np.arange(1, h + 1) * self._step})
        for j, col in enumerate(self._regressors):
            future[col] = X_future[:, j]  # type: ignore[index]
        model = self._model
        lower: dict[int, np.ndarray] = {}
        upper: dict[int, np.ndarray] = {}
        state = np.random.get_state()
        try:
            np.random.seed(self.config.seed)
            with quiet(self.fit_warnings_):
                model.uncertainty_samples = 0  # the point forecast alone; samples are drawn below, once
                mean = model.predict(future)["yhat"].to_numpy(dtype=np.float64)
                model.uncertainty_samples = self.config.uncertainty_samples
                if level:
                    samples = np.asarray(model.predictive_samples(future)["yhat"], dtype=np.float64)
                    for lv in level:
                        tail = (1.0 - lv / 100.0) / 2.0
                        lower[lv] = np.quantile(samples, tail, axis=1)
                        upper[lv] = np.quantile(samples, 1.0 - tail, axis=1)
        finally:
            np.random.set_state(state)
        lower, upper = clamp_intervals(mean, lower, upper)
        return Prediction(mean, lower, upper)
