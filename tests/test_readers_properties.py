"""Property tests of the readers (features/ingest/sources/*, the table reader): whatever the bytes of a file, and
whatever the cells of a small table under the right header, a reader returns a frame or raises the project's
DataError, naming the file, with a message of at most 2,000 characters. Nothing else escapes (no Polars error, no
TypeError, no panic).

Example counts are modest (the whole file runs in seconds); with ``CI`` set the examples are the same every run
(tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from features.errors import MAX_MESSAGE, DataError  # noqa: E402
from features.ingest import sources  # noqa: E402
from features.ingest.table import read_table  # noqa: E402

WEAPONS = "model,category\nShahed-136/131,UAV\nKalibr,cruise missile\n"


def _strikes(path: Path) -> pl.DataFrame:
    weapons = path.with_name("weapons.csv")
    weapons.write_text(WEAPONS)
    return sources.read_strike_reports(path, weapons)


Reader = Callable[[Path], object]
# name → (file suffix, header of a well-formed file, the reader)
READERS: dict[str, tuple[str, list[str], Reader]] = {
    "strike_reports": (
        ".csv",
        ["time_start", "time_end", "model", "launched", "destroyed", "source"],
        _strikes,
    ),
    "weapon_lookup": (".csv", ["model", "category"], sources.read_weapon_lookup),
    "alerts_volunteer": (".csv", ["region", "started_at", "finished_at", "naive"], sources.read_alerts),
    "alerts_official": (
        ".csv",
        ["oblast", "raion", "hromada", "level", "started_at", "finished_at", "source"],
        sources.read_alerts,
    ),
    "outage_hourly": (
        ".csv",
        ["date", "queue", "hour_start", "status_final"],
        lambda p: sources.daily_hours_off(sources.read_outage_schedule_hourly(p)),
    ),
    "openmeteo_daily": (".csv", ["date", "city", "n_hours", "t_mean", "t_min", "t_max"], sources.read_openmeteo_daily),
    "kyiv_temperature": (
        ".csv",
        ["time", "temperature_2m_mean", "temperature_2m_min", "temperature_2m_max"],
        sources.read_kyiv_temperature,
    ),
    "openmeteo_hourly": (
        ".csv",
        ["date", *sources.weather.HOURLY_COLUMNS],
        lambda p: sources.read_openmeteo_hourly(p, "kyiv"),
    ),
    "dam": (
        ".csv",
        ["hour", "date", "price_uah", "volume", "rate", "price_eur_mwh"],
        lambda p: sources.dam_daily(sources.read_dam(p)),
    ),
    "m4": (".csv", ["V1", "V2", "V3", "V4"], sources.read_m4),
    "table_daily": (
        ".csv",
        ["region", "date", "y"],
        lambda p: read_table(p, columns={"unique_id": "region", "ds": "date"}, values=["y"]),
    ),
    "table_hourly": (".csv", ["unique_id", "ds", "y"], lambda p: read_table(p, freq="1h", values=["y"])),
}

# cells that reach deep into the parsers (dates, times, numbers, statuses), mixed with arbitrary text
PLAUSIBLE = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "2.5",
    "1e308",
    "NaN",
    "inf",
    "NA",
    "2024-03-31",
    "2024-10-27",
    "2025-01-01",
    "2024-03-31 03:30",
    "2025-01-01 12:00",
    "2025-01-01T23:00:00Z",
    "2025-01-01T10:00:00+02:00",
    "True",
    "false",
    "yes",
    "no",
    "first",
    "maybe",
    "oblast",
    "raion",
    "kyiv",
    "Kyiv City",
    "UAV",
    "Shahed-136/131",
    "Kalibr and Lancet",
    '"',
    "24",
    "23",
]
CELL = st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=10))
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_outcome(read: Reader, path: Path) -> None:
    """The reader returns, or raises a bounded DataError naming one of the files it was given."""
    try:
        read(path)
    except DataError as exc:
        message = str(exc)
        assert len(message) <= MAX_MESSAGE, len(message)
        assert exc.source.startswith(str(path.parent)), exc.source


def _write_and_check(name: str, content: bytes) -> None:
    suffix, _, read = READERS[name]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        check_outcome(read, path)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("name", list(READERS))
@SETTINGS
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_a_data_error(name: str, content: bytes) -> None:
    _write_and_check(name, content)


@pytest.mark.parametrize("name", list(READERS))
@SETTINGS
@given(tail=st.binary(max_size=200))
def test_a_good_header_then_arbitrary_bytes(name: str, tail: bytes) -> None:
    _, header, _ = READERS[name]
    _write_and_check(name, (",".join(header) + "\n").encode() + tail)


@pytest.mark.parametrize("name", list(READERS))
@SETTINGS
@given(data=st.data())
def test_arbitrary_small_tables_under_the_right_header(name: str, data: st.DataObject) -> None:
    _, header, _ = READERS[name]
    rows = data.draw(st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)), max_size=6))
    _write_and_check(name, _csv(header, rows))


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)
DAY_KEYS = st.sampled_from(["1735682400", "1735689600", "0", "x", "99999999999999"])
SLOTS = st.dictionaries(
    DAY_KEYS,
    st.dictionaries(
        st.sampled_from(["GPV1.1", "GPV2.1", ""]),
        st.dictionaries(st.sampled_from(["1", "2", "24", "25", "0", "a"]), st.sampled_from(["yes", "no", "x", 1])),
        max_size=2,
    ),
    max_size=3,
)


@SETTINGS
@example(doc={"fact": {"data": {}, "today": 253402300800}})  # found by hypothesis: a "today" after year 9999
@example(doc={"fact": {"data": {}, "today": 253402293600}})  # the last day of year 9999: no day after it
@example(doc={"fact": [1]})  # "fact" not an object
@given(doc=st.one_of(JSON_VALUE, st.builds(lambda d, t: {"fact": {"data": d, "today": t}}, SLOTS, st.integers())))
def test_outage_json_documents_of_any_shape(doc: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "snapshot.json"
        path.write_text(json.dumps(doc))
        check_outcome(lambda p: sources.read_outage_schedule_json(p, "dnipro"), path)


COLUMN = st.sampled_from(["region", "date", "y", "ds", "unique_id"])
VALUES = st.one_of(
    st.lists(st.integers(), min_size=1, max_size=4),
    st.lists(st.floats(), min_size=1, max_size=4),
    st.lists(st.text(max_size=6), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=1, max_size=4),
    st.lists(st.dates(), min_size=1, max_size=4),
)


@SETTINGS
@given(
    columns=st.dictionaries(COLUMN, VALUES, min_size=1, max_size=4),
    fmt=st.sampled_from(["parquet", "ndjson", "json", "csv"]),
    freq=st.sampled_from(["1d", "1h"]),
)
def test_table_reader_on_arbitrary_small_frames_in_every_format(
    columns: dict[str, list[object]], fmt: str, freq: str
) -> None:
    """Frames of any column types (ints, floats, text, flags, dates), ragged lengths cut to the shortest."""
    n = min(len(v) for v in columns.values())
    frame = pl.DataFrame({k: v[:n] for k, v in columns.items()}, strict=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table.{fmt}"
        getattr(frame, f"write_{fmt}")(path)
        check_outcome(
            lambda p: read_table(p, freq=freq, columns={"unique_id": "region", "ds": "date"}, values=["y"]), path
        )


@pytest.mark.parametrize("text", ["[" * 100_000, '{"fact": ' * 50_000])
def test_json_nested_too_deeply(tmp_path: Path, text: str) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(text)
    check_outcome(lambda p: sources.read_outage_schedule_json(p, "dnipro"), path)
    path = tmp_path / "table.json"
    path.write_text(text)
    check_outcome(lambda p: read_table(p, values=["y"]), path)
