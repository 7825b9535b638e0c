"""Future paths of raw inputs and the provider that turns them into future indicator values (DESIGN §6)."""

from forecast.scenarios.paths import PATHS, Baseline, Climatology, InputPath, LastValue, Scaled, Zero, make_path
from forecast.scenarios.provider import InputPathProvider

__all__ = [
    "PATHS",
    "Baseline",
    "Climatology",
    "InputPath",
    "InputPathProvider",
    "LastValue",
    "Scaled",
    "Zero",
    "make_path",
]
