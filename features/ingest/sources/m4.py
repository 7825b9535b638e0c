"""M4 Competition data (wide CSV, one series per row) as canonical long frames.

Format (``Hourly-train.csv``, ``Hourly-test.csv`` of the M4 repository): column ``V1`` holds the id (``H1``…),
``V2``… the values in time order; shorter series are padded at the end with ``NA``. The test file holds the
next values of each series (48 for Hourly).

Dates
    M4 Hourly publishes no timestamps. Every series gets a synthetic grid starting at 2000-01-01 00:00 UTC (for
    ``freq="1h"``; 2000-01-01 as a Date for ``"1d"``), one period per value; the test values continue that grid.
    The dates are placeholders: calendar features (holidays, day of week) mean nothing on them.

Split
    :func:`read_m4_split` returns the train and the test frames apart; :func:`read_m4` returns them appended in
    one frame (test rows after the train rows of each series), and :func:`split_last` splits such a frame again
    by taking the last ``h`` rows of each series as the test part.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from features.contract import DATE_DTYPE, DATETIME_DTYPE, DS, ID, ROW, Y
from features.errors import DataError
from features.ingest.io import collect, scan
from features.ingest.parse import fail_where

M4_START = datetime(2000, 1, 1)
"""First synthetic timestamp of every series (M4 Hourly has no dates)."""

M4_HOURLY_H = 48
"""The M4 Hourly forecast horizon."""

M4_HOURLY_M = 24
"""The M4 Hourly season length (also the MASE scale's lag)."""

_NA = ("NA", "")
_STEP = "_t"


def _read_wide(path: str | Path, *, padded: bool) -> pl.DataFrame:
    """Long ``unique_id``, ``_t`` (0-based position), ``y`` from an M4 wide CSV; trailing NA padding removed."""
    lf = scan(path, "csv")
    names = lf.collect_schema().names()
    if "V1" not in names:
        raise DataError(path, "missing id column", column="V1", expected="M4 wide CSV: V1 = id, V2… = values")
    value_cols = [c for c in names if c not in (ROW, "V1")]
    if not value_cols:
        raise DataError(path, "no value columns", expected="columns V2, V3, …")
    wide = collect(lf, path)
    fail_where(wide, pl.col("V1").is_null() | (pl.col("V1").str.strip_chars() == ""), path, "V1", "missing id", "an id")
    fail_where(wide, pl.col("V1").is_duplicated(), path, "V1", "duplicate id", "one row per series")
    long = (
        wide.rename({"V1": ID})
        .unpivot(index=[ROW, ID], on=value_cols, variable_name="_col", value_name="_raw")
        .with_columns(
            pl.col("_col").replace_strict({c: i for i, c in enumerate(value_cols)}, return_dtype=pl.Int64).alias(_STEP),
            pl.col("_raw").str.strip_chars().alias("_raw"),
        )
        .with_columns((pl.col("_raw").is_null() | pl.col("_raw").is_in(_NA)).alias("_na"))
        .with_columns(pl.col("_raw").cast(pl.Float64, strict=False).alias(Y))
        .sort(ROW, _STEP)
    )
    fail_where(long, ~pl.col("_na") & pl.col(Y).is_null(), path, "V2…", "non-numeric value", "a number or NA")
    fail_where(long, pl.col(Y).is_nan() | pl.col(Y).is_infinite(), path, "V2…", "NaN or infinite value", "a number")
    # padding must be trailing: once a row has an NA, everything after it is NA
    gap = pl.col("_na").cum_max().over(ROW) & ~pl.col("_na")
    fail_where(long, gap, path, "V2…", "value after NA padding", "NA only at the end of a row")
    if not padded:
        fail_where(long, pl.col("_na"), path, "V2…", "missing value", "a value in every column")
    fail_where(
        long.group_by(ROW).agg((~pl.col("_na")).sum().alias("_n")), pl.col("_n") == 0, path, "V2…", "no values", "data"
    )
    return long.filter(~pl.col("_na")).select(ID, _STEP, Y)


def _with_dates(long: pl.DataFrame, freq: str, offset: pl.Expr | int = 0) -> pl.DataFrame:
    step = pl.col(_STEP) + offset
    if freq == "1h":
        ds = (pl.lit(M4_START) + pl.duration(hours=step)).dt.replace_time_zone("UTC").cast(DATETIME_DTYPE)
    else:
        ds = (pl.lit(date(2000, 1, 1)) + pl.duration(days=step)).cast(DATE_DTYPE)
    return long.with_columns(ds.alias(DS)).select(pl.col(ID).cast(pl.String), DS, pl.col(Y).cast(pl.Float64))


def read_m4_split(
    train_path: str | Path, test_path: str | Path, *, freq: Literal["1h", "1d"] = "1h"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train and test frames (``unique_id``, ``ds``, ``y``), each sorted by (unique_id, ds).

    The test dates continue each series' train grid. Every test series must be in the train file and vice
    versa, and test rows must be complete (no NA).
    """
    train = _read_wide(train_path, padded=True)
    test = _read_wide(test_path, padded=False)
    train_ids = set(train.get_column(ID).unique().to_list())
    test_ids = set(test.get_column(ID).unique().to_list())
    if train_ids != test_ids:
        only = sorted(train_ids ^ test_ids)
        raise DataError(test_path, "ids differ from the train file", column="V1", values=only)
    lengths = train.group_by(ID).len("_n")
    test = test.join(lengths, on=ID, how="left")
    return (
        _with_dates(train, freq).sort(ID, DS),
        _with_dates(test, freq, pl.col("_n")).sort(ID, DS),
    )


def read_m4(
    train_path: str | Path, test_path: str | Path | None = None, *, freq: Literal["1h", "1d"] = "1h"
) -> pl.DataFrame:
    """One long frame ``unique_id, ds, y`` (sorted by unique_id, ds): the train values, then (with
    ``test_path``) the test values appended on the same grid. Use :func:`split_last` to split it again."""
    if test_path is None:
        return _with_dates(_read_wide(train_path, padded=True), freq).sort(ID, DS)
    train, test = read_m4_split(train_path, test_path, freq=freq)
    return pl.concat([train, test]).sort(ID, DS)


def split_last(frame: pl.DataFrame, h: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a long frame sorted by (unique_id, ds) into (all but the last ``h`` rows, the last ``h`` rows) per
    series: the M4 train/test split of :func:`read_m4`'s output when ``h`` is the data set's horizon."""
    if h < 1:
        raise ValueError(f"h: expected an integer >= 1, got {h}")
    pos = pl.int_range(pl.len()).over(ID) >= pl.len().over(ID) - h
    return frame.filter(~pos), frame.filter(pos)
