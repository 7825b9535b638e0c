"""Future paths of raw inputs, the provider that turns them into future indicator values, and forecasts that mix
over sampled paths (DESIGN §6)."""

from forecast.scenarios.paths import (
    PATHS,
    Baseline,
    Climatology,
    ColdSnap,
    InputPath,
    LastValue,
    Replay,
    Scaled,
    Supplied,
    Zero,
    make_path,
)
from forecast.scenarios.provider import BASELINE, InputPathProvider
from forecast.scenarios.sampled import SampledBacktest, sampled_backtest, sampled_forecast

__all__ = [
    "BASELINE",
    "PATHS",
    "Baseline",
    "Climatology",
    "ColdSnap",
    "InputPath",
    "InputPathProvider",
    "LastValue",
    "Replay",
    "SampledBacktest",
    "Scaled",
    "Supplied",
    "Zero",
    "make_path",
    "sampled_backtest",
    "sampled_forecast",
]
