"""Future paths of raw inputs and the provider that turns them into future indicator values (DESIGN §6)."""

from forecast.scenarios.paths import (
    PATHS,
    Baseline,
    Climatology,
    ColdSnap,
    InputPath,
    LastValue,
    Scaled,
    Zero,
    make_path,
)
from forecast.scenarios.provider import InputPathProvider

BASELINE = "baseline"
"""The scenario of a spec's own ``[paths]``; named scenarios override some of them (``[scenarios.<name>]``)."""

__all__ = [
    "BASELINE",
    "PATHS",
    "Baseline",
    "Climatology",
    "ColdSnap",
    "InputPath",
    "InputPathProvider",
    "LastValue",
    "Scaled",
    "Zero",
    "make_path",
]
