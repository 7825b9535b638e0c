"""The output request: which interval levels, quantiles and exceedance thresholds a forecast reports.

Columns after ``mean`` (Nixtla naming): ``lo-<l>``/``hi-<l>`` per level ascending, then ``q-<q>`` ascending, then
``p_exceed-<c>`` ascending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.contract import hi_col, lo_col
from forecast.output.quantiles import check_quantiles, check_thresholds, levels_for_quantiles, p_exceed_col, q_col


def check_levels(level: Sequence[int] | int) -> tuple[int, ...]:
    """Validate interval levels: integers strictly between 0 and 100, returned sorted and unique."""
    if isinstance(level, int | float):
        level = (level,)
    out = []
    for lv in level:
        if isinstance(lv, bool) or not isinstance(lv, int | np.integer):
            raise ValueError(f"level: expected integers in (0, 100), got {lv!r}")
        if not 0 < lv < 100:
            raise ValueError(f"level: {lv} is outside (0, 100)")
        out.append(int(lv))
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class OutputRequest:
    """What a forecast reports besides ``mean``: interval ``levels``, ``quantiles`` and exceedance ``thresholds``."""

    levels: tuple[int, ...] = (80, 95)
    quantiles: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()

    @classmethod
    def make(
        cls, level: Sequence[int], quantiles: Sequence[float] | None = None, thresholds: Sequence[float] | None = None
    ) -> OutputRequest:
        """Validated request (levels and quantiles sorted and unique, thresholds sorted)."""
        return cls(check_levels(level), check_quantiles(quantiles), check_thresholds(thresholds))

    @property
    def model_levels(self) -> tuple[int, ...]:
        """Interval levels asked of the model: the requested ones, those the quantiles need, and 80 % when only
        exceedance probabilities are asked for (their Gaussian scale is read off the intervals)."""
        lv = set(self.levels) | set(levels_for_quantiles(self.quantiles))
        if self.thresholds and not lv:
            lv = {80}
        return tuple(sorted(lv))

    @property
    def columns(self) -> list[str]:
        """Output columns after ``mean``: ``lo``/``hi`` per level, then ``q-*``, then ``p_exceed-*``."""
        cols = [c for lv in self.levels for c in (lo_col(lv), hi_col(lv))]
        return cols + [q_col(q) for q in self.quantiles] + [p_exceed_col(c) for c in self.thresholds]
