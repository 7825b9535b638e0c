"""Future values of exogenous inputs: the seam for named scenarios (DESIGN §6).

A provider sees the history of the exogenous columns up to a cutoff and the future ``(unique_id, ds)`` rows to
fill, and returns those rows with the columns added. A backtest calls it once per window, so a provider that
looks only at ``history`` cannot leak the truth after the cutoff; :class:`OracleProvider` does so on purpose and
is meant only for specs that set ``oracle_exog = true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import polars as pl

from features.contract import DS, ID


@runtime_checkable
class ExogProvider(Protocol):
    """Anything that turns exogenous history into future exogenous values."""

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Return ``future`` (``unique_id``, ``ds``) with Float64 ``columns`` added, one row per input row.

        ``history`` holds ``unique_id``, ``ds`` and ``columns`` for rows at or before each series' cutoff.
        Values the provider cannot supply are null; the caller rejects them with a clear error.
        """
        ...


class LastValueProvider:
    """Carry the last observed (non-null) value of each column forward, per series."""

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Fill every future row of a series with that series' last non-null value of each column."""
        cols = list(columns)
        if not cols:
            return future.select(ID, DS)
        last = history.sort(ID, DS).group_by(ID).agg([pl.col(c).drop_nulls().last().cast(pl.Float64) for c in cols])
        return _attach(future, last, [ID])


class OracleProvider:
    """Take the true future values from the full frame (perfect foresight of the inputs).

    Only for specs with ``oracle_exog = true``: it measures how good a model would be with known inputs, not how
    good a forecast made at the cutoff is.
    """

    def __init__(self, full: pl.DataFrame) -> None:
        self.full = full

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Look the future rows up in the full frame."""
        cols = list(columns)
        if not cols:
            return future.select(ID, DS)
        truth = self.full.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in cols])
        return _attach(future, truth, [ID, DS])


def _attach(future: pl.DataFrame, values: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    base = future.select(ID, DS).with_row_index("_order")
    return base.join(values, on=on, how="left").sort("_order").drop("_order")
