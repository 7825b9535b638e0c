"""Frame checks and the future grid: what the frame layer asks of its input, and the periods it forecasts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import polars as pl

from features.contract import DAILY, DS, FREQ_STEPS, ID, Y
from features.errors import DataError

_SOURCE = "forecast input"


def check_frame(df: pl.DataFrame, freq: str, exog: Sequence[str] = (), *, source: str = _SOURCE) -> timedelta:
    """Validate a canonical long frame for forecasting; returns the grid step of ``freq``.

    Checks: the columns exist with usable types (``unique_id`` String, ``ds`` Date or Datetime, ``y`` and
    ``exog`` numeric), no null ids or dates, each series in one contiguous block, and ``ds`` ascending on a
    regular ``freq`` grid within each series (no duplicates, no missing periods: missing targets are null rows).
    """
    if freq not in FREQ_STEPS:
        raise ValueError(f"freq: expected one of {', '.join(FREQ_STEPS)}, got {freq!r}")
    _check_columns(df, freq, exog, source)
    step = FREQ_STEPS[freq]
    if not id_runs(df)[1]:
        raise DataError(source, "rows of a series are not contiguous", column=ID, expected="sorted by (unique_id, ds)")
    # series are contiguous blocks, so a row and the one before it belong to one series exactly when their ids are
    # equal: the step between them is checked with no grouping by the string ids (a hash table per call)
    bad = (
        df.filter((pl.col(ID) == pl.col(ID).shift()) & (pl.col(DS).diff() != step))
        .get_column(ID)
        .unique(maintain_order=True)
        .to_list()
    )
    if bad:
        raise DataError(
            source,
            f"ds is not an ascending regular {freq} grid (unsorted, duplicate or missing periods) in {len(bad)} series",
            column=DS,
            values=bad,
            expected="one row per period per series, sorted by (unique_id, ds); missing targets as null y",
        )
    return step


def id_runs(df: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """The runs of equal consecutive ids of ``df`` in frame order (``value``: the id, ``len``: its rows), and whether
    each series is one run (its rows one contiguous block, as :func:`check_frame` asks)."""
    runs = df.select(pl.col(ID).rle()).unnest(ID)
    return runs, runs.height == runs.get_column("value").n_unique()


def _check_columns(df: pl.DataFrame, freq: str, exog: Sequence[str], source: str) -> None:
    missing = [c for c in (ID, DS, Y, *exog) if c not in df.columns]
    if missing:
        raise DataError(source, "missing columns", values=missing, expected=f"columns {ID}, {DS}, {Y}, exog")
    if df.height == 0:
        raise DataError(source, "no rows")
    schema = df.schema
    if schema[ID] != pl.String:
        raise DataError(source, f"type {schema[ID]}", column=ID, expected="String")
    ds_type = schema[DS]
    if ds_type == pl.Date:
        if freq != DAILY:
            raise DataError(source, f"Date values with freq {freq!r}", column=DS, expected="Datetime for 1h")
    elif not isinstance(ds_type, pl.Datetime):
        raise DataError(source, f"type {ds_type}", column=DS, expected="Date or Datetime('us', 'UTC')")
    for c in (Y, *exog):
        if not schema[c].is_numeric():
            raise DataError(source, f"type {schema[c]}", column=c, expected="Float64")
    for c in (ID, DS):
        n_null = df[c].null_count()
        if n_null:
            raise DataError(source, f"{n_null} null values", column=c)


def future_grid(df: pl.DataFrame, h: int, freq: str) -> pl.DataFrame:
    """The next ``h`` periods after each series' last ``ds``: columns ``unique_id``, ``ds``, in series order."""
    delta = pl.duration(days=pl.col("_step")) if freq == DAILY else pl.duration(hours=pl.col("_step"))
    runs, contiguous = id_runs(df)
    if not contiguous:
        last = df.group_by(ID, maintain_order=True).agg(pl.col(DS).last().alias("_last"))
        steps = last.with_columns(pl.int_range(1, h + 1, dtype=pl.Int64).implode().alias("_step")).explode("_step")
    else:  # each series' last row ends its run: gathered, with no grouping by the ids (a chunk's fixed cost)
        block = np.repeat(np.arange(runs.height), h)
        last_row = np.cumsum(runs.get_column("len").to_numpy(), dtype=np.int64) - 1
        steps = pl.DataFrame(
            {
                ID: runs.get_column("value").gather(block),
                "_last": df.get_column(DS).gather(last_row[block]),
                "_step": np.tile(np.arange(1, h + 1, dtype=np.int64), runs.height),
            }
        )
    return steps.select(ID, (pl.col("_last") + delta).cast(df.schema[DS]).alias(DS))


def future_inputs(future_exog: pl.DataFrame | None, grid: pl.DataFrame, exog: list[str]) -> pl.DataFrame:
    """The ``exog`` values of ``future_exog`` on ``grid`` (one row per forecast period, no nulls), or a
    :class:`DataError` naming what is missing."""
    src = "future_exog"
    if future_exog is None:
        raise DataError(src, "missing", expected=f"future values of {', '.join(exog)} for the next h periods")
    missing = [c for c in (ID, DS, *exog) if c not in future_exog.columns]
    if missing:
        raise DataError(src, "missing columns", values=missing)
    if future_exog.schema[DS] != grid.schema[DS]:
        raise DataError(src, f"type {future_exog.schema[DS]}", column=DS, expected=str(grid.schema[DS]))
    fx = future_exog.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in exog])
    if fx.select(ID, DS).is_duplicated().any():
        raise DataError(src, "duplicate (unique_id, ds) rows")
    joined = grid.join(fx, on=[ID, DS], how="left", maintain_order="left")
    holes = joined.filter(pl.any_horizontal(pl.col(c).is_null() | pl.col(c).is_nan() for c in exog))
    if holes.height:
        ids = holes.get_column(ID).unique(maintain_order=True).to_list()
        raise DataError(src, "no value for some forecast periods", values=ids, expected="a value per column")
    return joined
