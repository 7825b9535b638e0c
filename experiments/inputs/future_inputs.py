"""Future raw inputs a user supplies in a file (a weather forecast): the ``forecast`` path of a spec.

A spec names the file on the input's path, in ``[paths]`` or in a scenario::

    [scenarios.forecast_weather]
    temp_mean_c = { path = "forecast", file = "data/weather_forecast.csv", column = "temp_c" }

The file is a long table (CSV, Parquet, NDJSON or JSON) with ``ds`` (a date for daily specs, a timestamp for
hourly ones, naive = UTC), the value column (``column``, default the input's name) and optionally ``unique_id``:
with it, each series gets its own values; without, one set of values serves every series. Every value must be a
finite number and each ``(unique_id, ds)`` appear once; a bad file is a :class:`~features.errors.DataError` naming
the file, column and rows. Where the file gives no value (dates beyond it, series it lacks) the path's ``then``
continues the input. Relative file names are read from the working directory, like the spec's sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from features.contract import DS, ID, ROW
from features.errors import DataError
from features.ingest.io import scan
from features.ingest.parse import fail_where
from features.ingest.table import read_table
from forecast.scenarios.paths import InputPath, Supplied


def read_supplied(column: str, path: Supplied, freq: str) -> pl.DataFrame:
    """The values of raw input ``column`` in ``path.file``: ``ds``, ``column`` and ``unique_id`` when the file has
    one (module docstring)."""
    source = Path(path.file)
    value = path.column or column
    per_series = ID in scan(source).collect_schema().names()
    frame = read_table(source, freq=freq, values={column: value}, series_id=None if per_series else "*", naive_tz="UTC")
    fail_where(frame, ~pl.col(column).is_finite(), source, value, "not a finite number", "a number per row")
    dup = pl.struct(ID, DS).is_duplicated()
    fail_where(frame, dup, source, DS, "more than one row for a date", "one row per series and date", show=DS)
    out = frame.drop(ROW)
    return out if per_series else out.drop(ID)


def supplied_inputs(paths: Mapping[str, InputPath], freq: str) -> pl.DataFrame | None:
    """One table of every supplied input among ``paths`` (raw column → path), or None when none is supplied."""
    tables = [read_supplied(c, p, freq) for c, p in paths.items() if isinstance(p, Supplied)]
    if not tables:
        return None
    keyed = [ID in t.columns for t in tables]
    if any(keyed) and not all(keyed):
        files = ", ".join(p.file for p in paths.values() if isinstance(p, Supplied))
        raise DataError(files, f"some files have a {ID} column and some not", expected="the same layout in each")
    on = [ID, DS] if keyed[0] else [DS]
    out = tables[0]
    for table in tables[1:]:
        out = out.join(table, on=on, how="full", coalesce=True)
    return out.sort(on)
