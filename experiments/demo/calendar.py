"""Kyiv calendar arithmetic for the demo: hours in a day (DST), day of the year, the annual cosine.

Dates are Europe/Kyiv calendar dates throughout; nothing here uses a time-zone database, because the DST rule
(last Sunday of March and of October) is fixed for the whole span the demo covers.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def kyiv_day_hours(day: date) -> int:
    """Hours in a Europe/Kyiv calendar day: 23 on the last Sunday of March, 25 on the last Sunday of October."""
    if day == _last_sunday(day.year, 3):
        return 23
    if day == _last_sunday(day.year, 10):
        return 25
    return 24


def day_of_year(dates: list[date]) -> np.ndarray:
    """Day of the year (1 … 366) of each date, as float64."""
    return np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)


def annual_cosine(doy: np.ndarray, peak: int) -> np.ndarray:
    """cos(2π(doy − peak)/365.25): 1 on day ``peak``, −1 half a year away."""
    return np.cos(2.0 * math.pi * (doy - peak) / 365.25)
