"""Models, frame-level forecasts, backtests and metrics (numpy models apart from frame orchestration).

This package never imports MLflow: tracking lives in :mod:`experiments`.
"""

from forecast.backtest import BacktestPlanError, Window, backtest, backtest_schedule
from forecast.core import forecast_frame
from forecast.exog import ExogProvider, LastValueProvider, OracleProvider
from forecast.metrics import bias, evaluate, mae, mase, rmse
from forecast.models import Sarimax, SeasonalNaive
from forecast.models.base import Forecaster, ForecastError, NotFittedError, Prediction
from forecast.models.registry import ModelSpecError, available_models, make_model, model_factory
from forecast.settings import BacktestPlan, ForecastSettings

__all__ = [
    "BacktestPlan",
    "BacktestPlanError",
    "ExogProvider",
    "ForecastError",
    "ForecastSettings",
    "Forecaster",
    "LastValueProvider",
    "ModelSpecError",
    "NotFittedError",
    "OracleProvider",
    "Prediction",
    "Sarimax",
    "SeasonalNaive",
    "Window",
    "available_models",
    "backtest",
    "backtest_schedule",
    "bias",
    "evaluate",
    "forecast_frame",
    "mae",
    "make_model",
    "mase",
    "model_factory",
    "rmse",
]
