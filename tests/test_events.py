"""Event-log aggregation: point events per day, intervals cut at Kyiv midnights, calendar completion."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from features.contract import DATETIME_DTYPE, DS, ID
from features.ingest.events import (
    complete_days,
    interval_daily,
    local_date,
    local_midnight_utc,
    split_by_local_day,
    sum_by_day,
)


def utc(*args: int) -> datetime:
    return datetime(*args)


def intervals(rows: list[tuple[str, datetime, datetime, bool]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=[ID, "start", "end", "flag"], orient="row")
    return frame.with_columns(pl.col("start", "end").dt.replace_time_zone("UTC").cast(DATETIME_DTYPE))


def test_local_midnight_utc_follows_kyiv_offset() -> None:
    days = pl.DataFrame({"d": [date(2024, 1, 15), date(2024, 7, 15)]})
    out = days.select(local_midnight_utc(pl.col("d")).alias("m"))["m"].dt.replace_time_zone(None).to_list()
    assert out == [datetime(2024, 1, 14, 22), datetime(2024, 7, 14, 21)]


def test_local_date_of_late_utc_evening_is_next_kyiv_day() -> None:
    frame = intervals([("a", utc(2024, 7, 14, 21, 30), utc(2024, 7, 14, 22), False)])
    assert frame.select(local_date(pl.col("start")))["start"].to_list() == [date(2024, 7, 15)]


def test_sum_by_day_sums_and_counts_skipping_nulls() -> None:
    events = pl.DataFrame(
        {
            ID: ["x", "x", "x", "y"],
            "day": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 1)],
            "v": [1.0, None, 2.0, 5.0],
        }
    )
    out = sum_by_day(events, day="day", values=["v"], count="n")
    assert out.columns == [ID, DS, "v", "n"]
    assert out.rows() == [
        ("x", date(2024, 1, 1), 1.0, 2.0),
        ("x", date(2024, 1, 3), 2.0, 1.0),
        ("y", date(2024, 1, 1), 5.0, 1.0),
    ]


def test_interval_crossing_midnight_is_split_at_kyiv_midnight() -> None:
    # 21:30 UTC = 23:30 Kyiv (winter, UTC+2) → 00:30 UTC = 02:30 Kyiv next day.
    events = intervals([("a", utc(2024, 1, 10, 21, 30), utc(2024, 1, 11, 0, 30), True)])
    out = interval_daily(events, start="start", end="end", flag="flag")
    assert out.rows() == [
        ("a", date(2024, 1, 10), 30.0, 1.0, 1.0),
        ("a", date(2024, 1, 11), 150.0, 0.0, 1.0),
    ]


@pytest.mark.parametrize(
    ("day", "minutes"),
    [(date(2024, 3, 31), 23 * 60.0), (date(2024, 10, 27), 25 * 60.0), (date(2024, 6, 1), 24 * 60.0)],
)
def test_all_day_interval_covers_the_local_day_length(day: date, minutes: float) -> None:
    frame = pl.DataFrame({"d": [day]}).select(
        local_midnight_utc(pl.col("d")).alias("start"),
        local_midnight_utc(pl.col("d").dt.offset_by("1d")).alias("end"),
        pl.lit("a").alias(ID),
    )
    out = interval_daily(frame, start="start", end="end")
    assert out.rows() == [("a", day, minutes, 1.0)]


def test_zero_length_event_counts_as_started_and_midnight_end_does_not_touch_next_day() -> None:
    events = intervals(
        [
            ("a", utc(2024, 1, 10, 12), utc(2024, 1, 10, 12), False),
            ("a", utc(2024, 1, 10, 21), utc(2024, 1, 10, 22), False),  # ends at 00:00 Kyiv exactly
        ]
    )
    pieces = split_by_local_day(events, start="start", end="end", keep=[ID])
    assert pieces[DS].to_list() == [date(2024, 1, 10), date(2024, 1, 10)]
    out = interval_daily(events, start="start", end="end")
    assert out.rows() == [("a", date(2024, 1, 10), 60.0, 2.0)]


def test_multi_day_interval_fills_inner_days_fully() -> None:
    events = intervals([("a", utc(2024, 1, 9, 22), utc(2024, 1, 12, 22), False)])  # Kyiv 10th 00:00 → 13th 00:00
    out = interval_daily(events, start="start", end="end")
    assert out["minutes"].to_list() == [1440.0, 1440.0, 1440.0]
    assert out["n_started"].to_list() == [1.0, 0.0, 0.0]


def test_overlapping_intervals_are_added_not_merged() -> None:
    events = intervals(
        [
            ("a", utc(2024, 1, 10, 10), utc(2024, 1, 10, 11), False),
            ("a", utc(2024, 1, 10, 10, 30), utc(2024, 1, 10, 11), False),
        ]
    )
    assert interval_daily(events, start="start", end="end")["minutes"].to_list() == [90.0]


def test_complete_days_fills_only_added_days() -> None:
    frame = pl.DataFrame({ID: ["a", "a"], DS: [date(2024, 1, 2), date(2024, 1, 5)], "v": [3.0, None]})
    out = complete_days(frame, start=date(2024, 1, 1), end=date(2024, 1, 4), ids=["a", "b"])
    a = out.filter(pl.col(ID) == "a")
    assert a[DS].to_list() == [date(2024, 1, d) for d in (1, 2, 3, 4, 5)]
    assert a["v"].to_list() == [0.0, 3.0, 0.0, 0.0, None]  # existing null kept, row outside span kept
    assert out.filter(pl.col(ID) == "b")["v"].to_list() == [0.0] * 4


def test_complete_days_with_null_fill_marks_unknown_days() -> None:
    frame = pl.DataFrame({ID: ["a"], DS: [date(2024, 1, 2)], "v": [3.0]})
    out = complete_days(frame, start=date(2024, 1, 1), end=date(2024, 1, 2), fill=None)
    assert out["v"].to_list() == [None, 3.0]
