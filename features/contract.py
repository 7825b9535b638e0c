"""The data contract shared by every layer (see docs/data.md).

Canonical frames are long: ``unique_id`` (String), ``ds`` (Date for daily data in the local calendar, or
Datetime("us", "UTC") for hourly and finer), ``y`` (Float64, the target) and further Float64 columns for exogenous
inputs and indicators. Frames are sorted by (unique_id, ds) with one row per period on a regular grid per series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

ID = "unique_id"
DS = "ds"
Y = "y"
ROW = "_row"  # 1-based source row number, carried through ingestion for error messages

KYIV_TZ = "Europe/Kyiv"
UTC = "UTC"

DAILY = "1d"
HOURLY = "1h"
FREQ_STEPS: dict[str, timedelta] = {DAILY: timedelta(days=1), HOURLY: timedelta(hours=1)}
"""The supported frequencies and the grid step of each: the one home of this table."""


def freq_step(freq: str) -> timedelta:
    """The grid step of a supported frequency (``"1d"``, ``"1h"``); ``ValueError`` naming the choices otherwise."""
    try:
        return FREQ_STEPS[freq]
    except KeyError:
        raise ValueError(f"unsupported frequency {freq!r}; expected one of {', '.join(FREQ_STEPS)}") from None


DATE_DTYPE = pl.Date
DATETIME_DTYPE = pl.Datetime("us", UTC)

# Forecast frame columns (Nixtla naming).
MODEL = "model"
SCENARIO = "scenario"
CUTOFF = "cutoff"
MEAN = "mean"
FALLBACK = "fallback_reason"  # null unless the model failed on the series and a named fallback stood in


def lo_col(level: int) -> str:
    """Lower interval column for a central ``level`` % interval, e.g. ``lo-80``."""
    return f"lo-{level}"


def hi_col(level: int) -> str:
    """Upper interval column for a central ``level`` % interval, e.g. ``hi-80``."""
    return f"hi-{level}"


@dataclass(frozen=True)
class Bounds:
    """Closed physical bounds of a target, e.g. hours off per day in [0, 24], counts in [0, inf).

    ``None`` means unbounded on that side. Forecasts, intervals and quantiles must stay inside.
    """

    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"bounds: lower {self.lower} must be below upper {self.upper}")

    def contains(self, value: float) -> bool:
        """True when ``value`` lies inside the closed bounds."""
        return (self.lower is None or value >= self.lower) and (self.upper is None or value <= self.upper)

    def clip_expr(self, expr: pl.Expr) -> pl.Expr:
        """A Polars expression clipping ``expr`` into the bounds."""
        return expr.clip(self.lower, self.upper)


HOURS_PER_DAY = Bounds(0.0, 24.0)
NON_NEGATIVE = Bounds(0.0, None)
