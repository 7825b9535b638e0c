"""Small helpers shared by the source readers (not part of the public API)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import polars as pl

from features.contract import DS, ID, ROW
from features.errors import DataError
from features.ingest.io import collect, scan
from features.ingest.parse import Source, fail_where, require_columns
from features.ingest.validate import regularize

log = logging.getLogger("features.ingest.sources")


def scan_csv(path: Source, columns: Sequence[str]) -> pl.LazyFrame:
    """Scan a CSV (all columns as text, plus ``_row``) and check that ``columns`` are present."""
    lf = scan(path, "csv")
    require_columns(lf, columns, path)
    return lf


def read_csv(path: Source, columns: Sequence[str]) -> pl.DataFrame:
    """Collect only ``columns`` (and ``_row``) of a CSV after checking they exist."""
    lf = scan_csv(path, columns)
    return collect(lf.select(ROW, *columns), path)


def check_unique(frame: pl.DataFrame, keys: Sequence[str], source: Source, what: str) -> None:
    """Raise a DataError naming the rows where the key ``keys`` repeats."""
    fail_where(
        frame,
        pl.struct(keys).is_duplicated(),
        source,
        keys[-1],
        f"duplicate {what}",
        f"one row per {', '.join(keys)}",
    )


def regular_grid(frame: pl.DataFrame, every: str, source: Source, *, what: str = "period") -> pl.DataFrame:
    """Insert null rows for the periods missing inside each series' [first, last] span, and log them.

    ``every`` is ``"1d"`` (``ds`` a Date) or ``"1h"`` (``ds`` a UTC Datetime). Values are never invented: the added
    rows hold nulls, as the data contract asks for missing periods.
    """
    if frame.is_empty():
        return frame
    grid = regularize(frame, every)
    missing = grid.join(frame.select(ID, DS), on=[ID, DS], how="anti")
    if not missing.is_empty():
        shown = ", ".join(f"{r[ID]} {r[DS]}" for r in missing.head(5).iter_rows(named=True))
        log.warning("%s: %d missing %s(s) kept as null rows: %s", source, missing.height, what, shown)
    return grid


def finish(frame: pl.DataFrame, values: Sequence[str]) -> pl.DataFrame:
    """Select ``unique_id``, ``ds`` and the Float64 ``values`` in the canonical order."""
    return frame.select(pl.col(ID).cast(pl.String), DS, *[pl.col(v).cast(pl.Float64) for v in values]).sort(ID, DS)


def require_not_empty(frame: pl.DataFrame, source: Source) -> None:
    """A file with a header but no data rows is an error."""
    if frame.is_empty():
        raise DataError(source, "no data rows", expected="at least one data row")
