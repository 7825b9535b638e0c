"""Checks that a frame meets the data contract, and the regular grid with its gap report.

A canonical frame has ``unique_id`` (String), ``ds`` (Date for daily data, Datetime("us", "UTC") for hourly) and
Float64 value columns; one row per series and period. :func:`validate_long` raises a
:class:`~features.errors.DataError` naming the file, column and rows for every breach, and
:func:`regularize` puts each series on its regular grid, leaving missing periods as nulls and reporting them
(they are never filled with zeros here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from features.contract import DAILY, DS, HOURLY, ID, ROW, UTC, Bounds, freq_step
from features.errors import DataError
from features.ingest.parse import fail_where, require_columns


@dataclass(frozen=True)
class GapReport:
    """Missing periods of one value column: ``missing`` holds (unique_id, ds) of every null on the grid."""

    column: str
    missing: pl.DataFrame
    n_periods: int

    @property
    def n_missing(self) -> int:
        """How many series-periods are null."""
        return self.missing.height

    def per_series(self) -> pl.DataFrame:
        """Missing-period counts per series (only series with gaps)."""
        return self.missing.group_by(ID).len("n_missing").sort(ID)

    def summary(self) -> str:
        """One line for logs: how many periods are missing, in how many series."""
        if not self.n_missing:
            return f"{self.column}: no missing periods in {self.n_periods}"
        return (
            f"{self.column}: {self.n_missing} of {self.n_periods} periods missing in "
            f"{self.missing[ID].n_unique()} series (left as nulls)"
        )


def _check_bounds(frame: pl.DataFrame, source: str | Path, col: str, b: Bounds) -> None:
    """Refuse values of ``col`` outside ``b``, naming the rows."""
    if b.lower is None and b.upper is None:
        return
    lo = "-inf" if b.lower is None else f"{b.lower:g}"
    hi = "inf" if b.upper is None else f"{b.upper:g}"
    outside = pl.lit(False)
    if b.lower is not None:
        outside = outside | (pl.col(col) < b.lower)
    if b.upper is not None:
        outside = outside | (pl.col(col) > b.upper)
    problem = f"negative {col}" if b.lower == 0 and b.upper is None else f"{col} outside its bounds"
    fail_where(frame, outside, source, col, problem, f"values in [{lo}, {hi}]")


def validate_long(
    frame: pl.DataFrame,
    source: str | Path,
    *,
    freq: str,
    values: Iterable[str] = (),
    bounds: Mapping[str, Bounds] | None = None,
    as_of: date | datetime | None = None,
) -> pl.DataFrame:
    """Validate a long frame against the contract and return it sorted by (unique_id, ds) without ``_row``.

    Raises DataError for: missing columns, a wrong ``ds`` type for ``freq``, null ids or dates, duplicate
    (unique_id, ds), rows after ``as_of``, steps that are not whole multiples of ``freq`` (mixed frequencies),
    non-numeric value columns and values outside ``bounds``.
    """
    step = freq_step(freq)
    values = list(values)
    require_columns(frame, [ID, DS, *values], source)
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW, offset=1)
    dtype = frame.schema[DS]
    if freq == DAILY and dtype != pl.Date:
        raise DataError(source, f"has type {dtype} for daily data", column=DS, expected="calendar dates (Date)")
    if freq == HOURLY and not (isinstance(dtype, pl.Datetime) and dtype.time_zone == UTC):
        raise DataError(source, f"has type {dtype} for hourly data", column=DS, expected="Datetime in UTC")
    frame = frame.with_columns(pl.col(ID).cast(pl.String))
    blank = pl.col(ID).is_null() | (pl.col(ID).str.strip_chars().str.len_chars() == 0)
    fail_where(frame, blank, source, ID, "missing series id", "a unique_id in every row")
    fail_where(frame, pl.col(DS).is_null(), source, DS, "missing period", "a ds in every row")
    fail_where(
        frame,
        pl.struct(ID, DS).is_duplicated(),
        source,
        DS,
        "duplicate (unique_id, ds)",
        "one row per series and period",
        show=DS,
    )
    if as_of is not None:
        limit = as_of if freq == HOURLY or not isinstance(as_of, datetime) else as_of.date()
        fail_where(
            frame,
            pl.col(DS) > pl.lit(limit),
            source,
            DS,
            f"rows after the as-of date {as_of}",
            f"no period later than {as_of}",
        )
    for col in values:
        if not frame.schema[col].is_numeric():
            raise DataError(source, f"has type {frame.schema[col]}", column=col, expected="numbers")
    frame = frame.sort(ID, DS)
    gap = pl.col(DS).diff().over(ID)
    step_us = int(step.total_seconds() * 1_000_000)
    irregular = (gap.dt.total_microseconds() % step_us) != 0
    fail_where(
        frame,
        irregular,
        source,
        DS,
        f"mixed frequencies within a series (a step that is not a multiple of {freq})",
        f"a regular {freq} grid per series",
        show=DS,
    )
    for col, b in (bounds or {}).items():
        _check_bounds(frame, source, col, b)
    return frame.drop(ROW).with_columns(pl.col(c).cast(pl.Float64) for c in values)


def regularize(frame: pl.DataFrame, freq: str, *, end: date | datetime | None = None) -> pl.DataFrame:
    """Put every series on its regular grid from its first period to its last (or to ``end``).

    Periods absent from the frame are inserted with nulls in every value column; nothing is filled.
    """
    step = freq_step(freq)
    span = frame.group_by(ID).agg(pl.col(DS).min().alias("__start"), pl.col(DS).max().alias("__end"))
    if end is not None:
        span = span.with_columns(pl.lit(end, dtype=frame.schema[DS]).alias("__end"))
    rng = pl.date_ranges if freq == DAILY else pl.datetime_ranges
    grid = span.select(ID, rng("__start", "__end", interval=step).alias(DS)).explode(DS)
    return grid.join(frame, on=[ID, DS], how="left").sort(ID, DS)


def gap_report(frame: pl.DataFrame, column: str) -> GapReport:
    """Report the nulls of ``column`` on an already regular frame."""
    return GapReport(column, frame.filter(pl.col(column).is_null()).select(ID, DS), frame.height)
