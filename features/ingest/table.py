"""A generic reader for target and input tables described by a column mapping (from the experiment spec).

The mapping names, for each canonical column, the source column that holds it, e.g.
``{"unique_id": "region", "ds": "date"}``; value columns are listed with their canonical names and optional
source names. Works on CSV, Parquet, NDJSON and JSON through :func:`features.ingest.io.scan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from features.contract import DAILY, DS, ID, ROW
from features.errors import DataError
from features.ingest.io import collect, scan
from features.ingest.parse import require_columns, to_date, to_datetime_utc, to_float


def read_table(
    path: str | Path,
    *,
    freq: str = DAILY,
    columns: Mapping[str, str] | None = None,
    values: Sequence[str] | Mapping[str, str] = (),
    series_id: str | None = None,
    fmt: str | None = None,
    date_format: str = "%Y-%m-%d",
    naive_tz: str | None = "UTC",
) -> pl.DataFrame:
    """Read a long table into canonical columns; every parse error names the file, column and rows.

    ``columns`` maps ``unique_id``/``ds`` to source column names (identity by default). ``values`` lists the
    value columns to keep, as names or as {canonical: source}. ``series_id`` sets a constant id for files that
    hold one series and have no id column. Daily ``ds`` are parsed as calendar dates with ``date_format``;
    hourly ``ds`` as timestamps, naive ones read as wall time in ``naive_tz``.
    The result keeps the ``_row`` column for later checks (see :func:`features.ingest.validate.validate_long`).
    """
    columns = dict(columns or {})
    value_map = dict(values) if isinstance(values, Mapping) else {v: v for v in values}
    lf = scan(path, fmt)
    id_src = columns.get(ID, ID)
    ds_src = columns.get(DS, DS)
    needed = [ds_src, *value_map.values()] + ([] if series_id is not None else [id_src])
    require_columns(lf, needed, path)
    select = [pl.col(ROW), pl.col(ds_src).alias(DS)]
    select.append(pl.lit(series_id).alias(ID) if series_id is not None else pl.col(id_src).cast(pl.String).alias(ID))
    select += [pl.col(src).alias(name) for name, src in value_map.items()]
    frame = collect(lf.select(select), path)
    if frame.height == 0:
        raise DataError(path, "no data rows", expected="a header followed by at least one row")
    # errors name the file's columns (``date``), not the canonical ones (``ds``) they are read into
    file_column = {DS: ds_src, ID: id_src, **value_map}
    try:
        if freq == DAILY:
            frame = to_date(frame, DS, path, fmt=date_format)
        else:
            frame = to_datetime_utc(frame, DS, path, naive_tz=naive_tz)
        for name in value_map:
            frame = to_float(frame, name, path)
    except DataError as exc:
        raise exc.with_column(file_column.get(exc.column or "", exc.column)) from None
    return frame.select(ROW, ID, DS, *value_map)
