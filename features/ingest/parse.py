"""Explicit, row-reporting parsers from raw text columns to typed columns.

Each function takes a frame holding a ``_row`` column (see :func:`features.ingest.io.scan`), parses one column and
raises :class:`~features.errors.DataError` naming the file, the column, the first offending rows and their raw
values when anything does not parse. Already-typed columns (Parquet, NDJSON) pass through with a cast.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import polars as pl

from features.contract import ROW, UTC
from features.errors import DataError, shorten

Source = str | Path


def require_columns(frame: pl.DataFrame | pl.LazyFrame, columns: Sequence[str], source: Source) -> None:
    """Raise when any of ``columns`` is missing, listing what the file has."""
    have = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [c for c in columns if c not in have]
    if missing:
        shown = column_list([c for c in have if c != ROW])
        raise DataError(
            source,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)}",
            column=missing[0],
            expected=f"the columns {', '.join(columns)} (file has: {shown})",
        )


def column_list(names: Sequence[str], limit: int = 20) -> str:
    """Column names for a message: at most ``limit``, each cut short (a broken header can be one huge name)."""
    shown = ", ".join(shorten(str(n), 40) for n in names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def fail_where(
    frame: pl.DataFrame,
    bad: pl.Expr,
    source: Source,
    column: str | None,
    problem: str,
    expected: str | None = None,
    show: str | None = None,
) -> None:
    """Raise a DataError listing the rows where the boolean expression ``bad`` is true (nulls count as false)."""
    hits = frame.filter(bad.fill_null(False))
    if hits.height:
        show_col = show if show is not None else column
        values = hits[show_col].head(5).to_list() if show_col in hits.columns else []
        raise DataError(
            source,
            problem,
            column=column,
            # a source row counted once, however many of its cells are bad (a wide row read as many long ones)
            rows=hits[ROW].unique(maintain_order=True).head(5).to_list() if ROW in hits.columns else [],
            n_bad=hits[ROW].n_unique() if ROW in hits.columns else hits.height,
            expected=expected,
            values=values,
        )


def stripped(column: str) -> pl.Expr:
    """A text column with surrounding white space removed and blank cells (empty or only spaces) as null, so a
    check for a missing value catches ``"  "`` too."""
    text = pl.col(column).str.strip_chars()
    return pl.when(text.str.len_chars() == 0).then(None).otherwise(text).alias(column)


def _blank(col: str) -> pl.Expr:
    """True where a text cell is empty or only white space."""
    return pl.col(col).str.strip_chars().str.len_chars() == 0


def _fail_unparsed(parsed: pl.DataFrame, out: str, source: Source, column: str, problem: str, expected: str) -> None:
    """Raise for rows whose raw text (kept in ``__raw``) is non-blank but did not parse into ``out``."""
    bad = pl.col(out).is_null() & pl.col("__raw").is_not_null() & ~_blank("__raw")
    fail_where(parsed, bad, source, column, problem, expected, show="__raw")


def to_float(
    frame: pl.DataFrame, column: str, source: Source, *, required: bool = False, out: str | None = None
) -> pl.DataFrame:
    """Parse ``column`` as Float64. Blank cells become null (an error when ``required``); text that is not a
    number is an error naming the rows."""
    out = out or column
    dtype = frame.schema[column]
    if dtype.is_numeric():
        parsed = frame.with_columns(pl.col(column).cast(pl.Float64).alias(out))
    elif dtype == pl.String:
        raw = frame.with_columns(pl.col(column).alias("__raw"))
        cleaned = pl.when(_blank("__raw")).then(None).otherwise(pl.col("__raw").str.strip_chars())
        parsed = raw.with_columns(cleaned.cast(pl.Float64, strict=False).alias(out))
        _fail_unparsed(parsed, out, source, column, "non-numeric value", "a number")
        parsed = parsed.drop("__raw")
    else:
        raise DataError(source, f"column has type {dtype}", column=column, expected="numbers")
    if required:
        fail_where(parsed, pl.col(out).is_null(), source, column, "missing value", "a number in every row")
    fail_where(
        parsed,
        pl.col(out).is_nan() | pl.col(out).is_infinite(),
        source,
        column,
        "NaN or infinite value",
        "a finite number",
    )
    return parsed


def to_date(
    frame: pl.DataFrame,
    column: str,
    source: Source,
    *,
    fmt: str = "%Y-%m-%d",
    out: str | None = None,
    required: bool = True,
) -> pl.DataFrame:
    """Parse a calendar-date column (``YYYY-MM-DD`` by default)."""
    out = out or column
    dtype = frame.schema[column]
    if dtype == pl.Date:
        parsed = frame.with_columns(pl.col(column).alias(out))
    elif dtype == pl.String:
        parsed = frame.with_columns(pl.col(column).alias("__raw")).with_columns(
            pl.col("__raw").str.strip_chars().str.to_date(fmt, strict=False).alias(out)
        )
        _fail_unparsed(parsed, out, source, column, "unparsable date", f"dates like {date(2025, 12, 5).strftime(fmt)}")
        parsed = parsed.drop("__raw")
    else:
        raise DataError(source, f"column has type {dtype}", column=column, expected="calendar dates")
    if required:
        fail_where(parsed, pl.col(out).is_null(), source, column, "missing date", "a date in every row")
    return parsed


_AWARE = r"(Z|[+-]\d{2}:?\d{2})$"


def to_datetime_utc(
    frame: pl.DataFrame,
    column: str,
    source: Source,
    *,
    naive_tz: str | None,
    out: str | None = None,
    required: bool = True,
) -> pl.DataFrame:
    """Parse ISO-8601 timestamps into Datetime("us", "UTC").

    Timestamps with an offset (``+00:00``, ``Z``) are converted to UTC. Naive timestamps are read as wall time in
    ``naive_tz`` (e.g. ``"UTC"`` or ``"Europe/Kyiv"``; DST gaps are errors, repeated hours take the earlier
    instant); with ``naive_tz=None`` they are an error. A column that mixes naive and aware values is an error.
    """
    out = out or column
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        parsed = _datetime_to_utc(frame, column, source, dtype, naive_tz, out)
    elif dtype == pl.String:
        parsed = _text_to_utc(frame, column, source, naive_tz, out)
    else:
        raise DataError(source, f"column has type {dtype}", column=column, expected="timestamps")
    if required:
        fail_where(parsed, pl.col(out).is_null(), source, column, "missing timestamp", "a timestamp in every row")
    return parsed


def _datetime_to_utc(
    frame: pl.DataFrame, column: str, source: Source, dtype: pl.Datetime, naive_tz: str | None, out: str
) -> pl.DataFrame:
    """A Datetime column to UTC: aware values converted, naive ones read in ``naive_tz`` (an error without)."""
    col = pl.col(column)
    if dtype.time_zone is None:
        if naive_tz is None:
            raise DataError(source, "timestamps have no time zone", column=column, expected="timestamps with an offset")
        col = col.dt.replace_time_zone(naive_tz, ambiguous="earliest", non_existent="null")
    return frame.with_columns(col.dt.convert_time_zone(UTC).dt.cast_time_unit("us").alias(out))


def _text_to_utc(frame: pl.DataFrame, column: str, source: Source, naive_tz: str | None, out: str) -> pl.DataFrame:
    """A text column to UTC: aware and naive values parsed apart, mixing and unparsable values reported by row."""
    norm = pl.col("__raw").str.strip_chars().str.replace(" ", "T").str.replace(r"Z$", "+00:00")
    # each kind is parsed on its own rows: Polars infers one format per call from the first value
    aware_text = pl.when(pl.col("__aware")).then(norm)
    naive_text = pl.when(~pl.col("__aware")).then(norm)
    parsed = (
        frame.with_columns(pl.col(column).alias("__raw"))
        .with_columns(pl.col("__raw").str.strip_chars().str.contains(_AWARE).alias("__aware"))
        .with_columns(
            aware_text.str.to_datetime(time_unit="us", time_zone=UTC, strict=False).alias("__as_aware"),
            naive_text.str.to_datetime(time_unit="us", strict=False).alias("__as_naive"),
        )
    )
    _fail_mixed(parsed, column, source)
    if naive_tz is None:
        fail_where(
            parsed,
            pl.col("__as_naive").is_not_null() & ~pl.col("__aware"),
            source,
            column,
            "timestamp without a time zone",
            "timestamps with an offset such as +00:00",
            show="__raw",
        )
        local = pl.lit(None, dtype=pl.Datetime("us", UTC))
    else:
        local = pl.col("__as_naive").dt.replace_time_zone(naive_tz, ambiguous="earliest", non_existent="null")
        local = local.dt.convert_time_zone(UTC)
    parsed = parsed.with_columns(pl.when(pl.col("__aware")).then("__as_aware").otherwise(local).alias(out))
    _fail_unparsed(
        parsed,
        out,
        source,
        column,
        "unparsable timestamp (or a local time that does not exist in a DST gap)",
        "ISO-8601 timestamps like 2025-12-05 18:00 or 2025-12-05T18:00:00+00:00",
    )
    return parsed.drop("__aware", "__raw", "__as_aware", "__as_naive")


def _fail_mixed(parsed: pl.DataFrame, column: str, source: Source) -> None:
    """Refuse a column mixing aware and naive values; judged on values that parse, so a garbled value is reported
    as unparsable, not as "mixed"."""
    readable = parsed.filter(pl.col("__as_aware").is_not_null() | pl.col("__as_naive").is_not_null())
    counts = readable["__aware"].value_counts()
    if counts.height == 2:
        minority = counts.sort("count")["__aware"][0]
        fail_where(
            readable,
            pl.col("__aware") == minority,
            source,
            column,
            "mixes timezone-aware and naive timestamps",
            "all timestamps with an offset, or all without",
            show="__raw",
        )


def check_range(
    frame: pl.DataFrame,
    column: str,
    source: Source,
    *,
    lower: float | None = None,
    upper: float | None = None,
    what: str = "value",
) -> None:
    """Raise when a numeric column leaves [lower, upper] (nulls are not checked here)."""
    bad = pl.lit(False)
    if lower is not None:
        bad = bad | (pl.col(column) < lower)
    if upper is not None:
        bad = bad | (pl.col(column) > upper)
    lo = "-inf" if lower is None else f"{lower:g}"
    hi = "inf" if upper is None else f"{upper:g}"
    problem = f"negative {what}" if lower == 0 and upper is None else f"{what} out of range"
    fail_where(frame, bad, source, column, problem, f"values in [{lo}, {hi}]")


def as_of_filter_check(frame: pl.DataFrame, column: str, source: Source, as_of: date | datetime | None) -> None:
    """Raise when any row lies after the as-of date: a job must never see data from its own future."""
    if as_of is None:
        return
    limit = pl.lit(as_of)
    fail_where(
        frame,
        pl.col(column) > limit,
        source,
        column,
        f"rows after the as-of date {as_of}",
        f"no {column} later than {as_of}",
    )
