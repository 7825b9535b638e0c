"""Numpy-level models: one series in, one :class:`~forecast.models.base.Prediction` out.

Each model takes its parameters as keyword arguments validated by a frozen pydantic config
(``extra="forbid"``), so a typo in a spec is an error, not a silently ignored key. The models live in small
modules by family; this package gathers them (``from forecast.models import SeasonalNaive, Sarimax`` works), with
the interface in :mod:`~forecast.models.base` and names → classes in :mod:`~forecast.models.registry`:

* :mod:`forecast.models.baselines`: Naive, SeasonalNaive, Drift, HistoricAverage, WindowAverage, Naive2 (M4);
* :mod:`forecast.models.smoothing`: Ets (statsmodels ETSModel, AICc selection), Theta (M4 deseasonalisation);
* :mod:`forecast.models.statespace`: Sarimax (optional AICc order search), UnobservedComponents;
* :mod:`forecast.models.mstl`: Mstl (multiple seasonalities + a model on the adjusted series);
* :mod:`forecast.models.prophet`: Prophet (extra regressors, Ukrainian holidays);
* :mod:`forecast.models.ensemble`: Ensemble (mean or median of members).

statsmodels and Prophet are imported when a model is first fitted, not at import time.
"""

from forecast.models.baselines import Drift, HistoricAverage, Naive, Naive2, SeasonalNaive, WindowAverage
from forecast.models.common import ModelSpec, m4_deseasonalize, seasonality_test
from forecast.models.ensemble import Ensemble
from forecast.models.mstl import Mstl
from forecast.models.prophet import Prophet
from forecast.models.registry import ModelSpecError, available_models, make_model, model_factory, register_model
from forecast.models.smoothing import Ets, Theta
from forecast.models.statespace import Sarimax, UnobservedComponents

__all__ = [
    "Drift",
    "Ensemble",
    "Ets",
    "HistoricAverage",
    "ModelSpec",
    "ModelSpecError",
    "Mstl",
    "Naive",
    "Naive2",
    "Prophet",
    "Sarimax",
    "SeasonalNaive",
    "Theta",
    "UnobservedComponents",
    "WindowAverage",
    "available_models",
    "m4_deseasonalize",
    "make_model",
    "model_factory",
    "register_model",
    "seasonality_test",
]
