"""The ingestion seams: file checks and lazy scans of every format, row-reporting parsers, contract validation,
regular grid with gap report, and alignment of national and regional inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from features.contract import HOURS_PER_DAY, Bounds
from features.errors import DataError
from features.ingest.align import attach, broadcast
from features.ingest.io import scan
from features.ingest.parse import to_datetime_utc, to_float
from features.ingest.table import read_table
from features.ingest.validate import gap_report, regularize, validate_long

ROWS = {"region": ["kyiv", "kyiv", "lviv"], "date": ["2025-01-01", "2025-01-02", "2025-01-01"], "h": [1.5, 2, 0]}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".ndjson", ".json"])
def test_read_table_reads_every_format_the_same(tmp_path, suffix: str) -> None:
    frame = pl.DataFrame(ROWS)
    path = tmp_path / f"t{suffix}"
    {
        ".csv": frame.write_csv,
        ".parquet": frame.write_parquet,
        ".ndjson": frame.write_ndjson,
        ".json": frame.write_json,
    }[suffix](path)
    got = read_table(path, columns={"unique_id": "region", "ds": "date"}, values={"y": "h"})
    assert got.columns == ["_row", "unique_id", "ds", "y"]
    assert got["ds"].to_list() == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 1)]
    assert got["y"].to_list() == [1.5, 2.0, 0.0] and got["_row"].to_list() == [1, 2, 3]


def test_scan_is_lazy_and_checks_the_file(tmp_path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n")
    assert isinstance(scan(path), pl.LazyFrame)
    (tmp_path / "b.parquet").write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match=r"b\.parquet: not a Parquet file"):
        scan(tmp_path / "b.parquet")
    (tmp_path / "c.csv").write_bytes(b"x,y\n\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="binary content"):
        scan(tmp_path / "c.csv")
    (tmp_path / "d.json").write_text("{not json")
    with pytest.raises(DataError, match=r"d\.json: invalid JSON"):
        scan(tmp_path / "d.json")


def test_parsers_name_rows_and_values() -> None:
    frame = pl.DataFrame({"_row": [1, 2, 3, 4], "v": ["1", " 2.5 ", "", "1,5"]})
    with pytest.raises(DataError) as err:
        to_float(frame, "v", "f.csv")
    assert str(err.value) == "f.csv: column 'v': non-numeric value; row 4; found '1,5'; expected a number"
    ok = to_float(frame.head(3), "v", "f.csv")
    assert ok["v"].to_list() == [1.0, 2.5, None]
    with pytest.raises(DataError, match="row 3"):
        to_float(frame.head(3), "v", "f.csv", required=True)


def test_local_times_convert_to_utc_across_dst() -> None:
    frame = pl.DataFrame({"_row": [1, 2, 3], "t": ["2025-03-30 02:00", "2025-03-30 04:00", "2025-10-26 03:30"]})
    got = to_datetime_utc(frame, "t", "f", naive_tz="Europe/Kyiv")["t"].to_list()
    utc = UTC
    # 02:00 EET = 00:00 UTC; 04:00 EEST = 01:00 UTC (one hour later: the clock skipped 03:00); autumn repeat → earlier
    assert got == [
        datetime(2025, 3, 30, 0, tzinfo=utc),
        datetime(2025, 3, 30, 1, tzinfo=utc),
        datetime(2025, 10, 26, 0, 30, tzinfo=utc),
    ]
    gap = pl.DataFrame({"_row": [1], "t": ["2025-03-30 03:30"]})
    with pytest.raises(DataError, match="DST gap"):
        to_datetime_utc(gap, "t", "f", naive_tz="Europe/Kyiv")
    mixed = pl.DataFrame({"_row": [1, 2, 3], "t": ["2025-01-01T00:00Z", "2025-01-01T01:00Z", "2025-01-01 02:00"]})
    with pytest.raises(DataError, match="mixes timezone-aware and naive timestamps; row 3"):
        to_datetime_utc(mixed, "t", "f", naive_tz="UTC")


def _long(ids, days, ys) -> pl.DataFrame:
    return pl.DataFrame({"unique_id": ids, "ds": days, "y": ys}, schema_overrides={"y": pl.Float64})


def test_validate_long_sorts_and_rejects_contract_breaches() -> None:
    d = [date(2025, 1, 3), date(2025, 1, 1), date(2025, 1, 1)]
    ok = validate_long(_long(["a", "a", "b"], d, [1, 2, 3]), "f", freq="1d", values=["y"], bounds={"y": HOURS_PER_DAY})
    assert ok["ds"].to_list() == [date(2025, 1, 1), date(2025, 1, 3), date(2025, 1, 1)]
    assert "_row" not in ok.columns
    with pytest.raises(DataError, match=r"outside its bounds; row 2; found 30\.0; expected values in \[0, 24\]"):
        validate_long(_long(["a", "a"], d[:2], [1, 30]), "f", freq="1d", values=["y"], bounds={"y": HOURS_PER_DAY})
    with pytest.raises(DataError, match="negative y"):
        validate_long(_long(["a"], d[:1], [-1]), "f", freq="1d", values=["y"], bounds={"y": Bounds(0, None)})
    with pytest.raises(DataError, match="after the as-of date 2025-01-02; row 1"):
        validate_long(_long(["a", "a"], d[:2], [1, 2]), "f", freq="1d", values=["y"], as_of=date(2025, 1, 2))
    with pytest.raises(DataError, match="for hourly data"):
        validate_long(_long(["a"], d[:1], [1]), "f", freq="1h", values=["y"])


def test_hourly_mixed_frequencies_are_rejected() -> None:
    t = [datetime(2025, 1, 1, h, m, tzinfo=UTC) for h, m in [(0, 0), (1, 0), (1, 30)]]
    frame = pl.DataFrame({"unique_id": ["a"] * 3, "ds": t, "y": [1.0, 2.0, 3.0]}).with_columns(
        pl.col("ds").dt.cast_time_unit("us")
    )
    with pytest.raises(DataError, match=r"mixed frequencies within a series.*row 3"):
        validate_long(frame, "f", freq="1h", values=["y"])
    assert validate_long(frame.head(2), "f", freq="1h", values=["y"]).height == 2


def test_regularize_leaves_gaps_null_and_reports_them() -> None:
    frame = _long(["a", "a", "b"], [date(2025, 1, 1), date(2025, 1, 4), date(2025, 1, 2)], [1, 4, 2])
    grid = regularize(frame, "1d", end=date(2025, 1, 4))
    assert grid.filter(pl.col("unique_id") == "a")["y"].to_list() == [1.0, None, None, 4.0]
    assert grid.filter(pl.col("unique_id") == "b")["y"].to_list() == [2.0, None, None]
    report = gap_report(grid, "y")
    assert report.n_missing == 4 and report.per_series()["n_missing"].to_list() == [2, 2]
    assert report.summary() == "y: 4 of 7 periods missing in 2 series (left as nulls)"


def test_broadcast_and_match_inputs_with_coverage_check() -> None:
    days = [date(2025, 1, 1), date(2025, 1, 2)]
    target = _long(["a", "a", "b", "b"], days * 2, [1, 2, 3, 4])
    national = pl.DataFrame({"unique_id": ["national"] * 2, "ds": days, "launched": [10.0, 0.0]})
    assert broadcast(national, ["a", "b"])["launched"].to_list() == [10.0, 0.0, 10.0, 0.0]
    joined = attach(target, national, ["launched"], how="broadcast", source="s.csv")
    assert joined["launched"].to_list() == [10.0, 0.0, 10.0, 0.0]
    regional = pl.DataFrame({"unique_id": ["x", "x", "b", "b"], "ds": days * 2, "t": [-1.0, -2.0, 5.0, 6.0]})
    joined = attach(target, regional, ["t"], how="match", source="w.csv", id_map={"a": "x"})
    assert joined["t"].to_list() == [-1.0, -2.0, 5.0, 6.0]
    with pytest.raises(DataError, match=r"w\.csv: column 't': input does not cover 2 target periods; found 'a 2025"):
        attach(target, regional, ["t"], how="match", source="w.csv")
    with pytest.raises(DataError, match="broadcasting needs exactly one"):
        attach(target, regional, ["t"], how="broadcast", source="w.csv")


def test_unbounded_targets_skip_the_bounds_check() -> None:
    frame = _long(["a", "a"], [date(2025, 1, 1), date(2025, 1, 2)], [-1e9, 1e9])
    assert validate_long(frame, "f", freq="1d", values=["y"], bounds={"y": Bounds(None, None)}).height == 2
