"""``check_frame`` finds the series whose dates are off the grid, and ``future_grid`` each series' last date, from
neighbouring rows and id runs (no grouping by the ids): the same as a grouping gives, on any frame."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.errors import DataError
from forecast.frames import check_frame, future_grid

START = dt.date(2025, 11, 1)
STEPS = st.sampled_from([1, 1, 1, 1, 0, 2, -1, 3])  # days from a row to the next: mostly on the grid


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    """Contiguous series with ids that share prefixes and dates that now and then repeat, skip or go back."""
    ids = draw(
        st.lists(
            st.sampled_from(["a", "ab", "b", "ba", "kyiv", "kyiv-1", "x" * 30]), min_size=1, max_size=5, unique=True
        )
    )
    rows: list[tuple[str, dt.date]] = []
    for uid in ids:
        day = START + dt.timedelta(days=draw(st.integers(-5, 5)))
        for step in [0, *draw(st.lists(STEPS, max_size=7))]:
            day += dt.timedelta(days=step)
            rows.append((uid, day))
    return pl.DataFrame(rows, schema={"unique_id": pl.String, "ds": pl.Date}, orient="row").with_columns(y=pl.lit(1.0))


def off_grid_by_grouping(df: pl.DataFrame) -> list[str]:
    """The reference: series with a step other than one day between consecutive rows, by grouping on the id."""
    steps = df.select("unique_id", pl.col("ds").diff().over("unique_id").alias("step"))
    bad = steps.filter(pl.col("step").is_not_null() & (pl.col("step") != dt.timedelta(days=1)))
    return bad.get_column("unique_id").unique(maintain_order=True).to_list()


@given(frames())
def test_the_series_off_the_grid_are_those_a_grouping_finds(df: pl.DataFrame) -> None:
    expected = off_grid_by_grouping(df)
    if not expected:
        assert check_frame(df, "1d") == dt.timedelta(days=1)
        return
    with pytest.raises(DataError, match="not an ascending regular 1d grid") as info:
        check_frame(df, "1d")
    assert info.value.values == expected


def test_a_series_split_in_two_blocks_is_not_contiguous_even_when_its_dates_follow_on() -> None:
    days = [START + dt.timedelta(days=i) for i in range(4)]
    df = pl.DataFrame({"unique_id": ["a", "a", "b", "a"], "ds": [days[0], days[1], days[0], days[2]], "y": 1.0})
    with pytest.raises(DataError, match="not contiguous"):
        check_frame(df, "1d")


def grid_by_grouping(df: pl.DataFrame, h: int, step: dt.timedelta) -> pl.DataFrame:
    """The reference: the ``h`` periods after each series' last row, series in order of first appearance."""
    last = df.group_by("unique_id", maintain_order=True).agg(pl.col("ds").last())
    rows = [(uid, day + k * step) for uid, day in last.iter_rows() for k in range(1, h + 1)]
    return pl.DataFrame(rows, schema={"unique_id": pl.String, "ds": df.schema["ds"]}, orient="row")


@given(frames(), st.integers(1, 5), st.booleans(), st.booleans())
def test_the_future_grid_follows_each_series_last_row(df: pl.DataFrame, h: int, hourly: bool, shuffled: bool) -> None:
    if hourly:  # the contract's hourly stamps: Datetime in UTC
        df = df.with_columns(pl.col("ds").cast(pl.Datetime("us", "UTC")) + pl.duration(hours=pl.int_range(pl.len())))
    if shuffled:  # series no longer contiguous: the grouping path
        df = df.sample(fraction=1.0, shuffle=True, seed=3)
    step = dt.timedelta(hours=1) if hourly else dt.timedelta(days=1)
    got = future_grid(df, h, "1h" if hourly else "1d")
    assert got.equals(grid_by_grouping(df, h, step))
    assert got.schema["ds"] == df.schema["ds"]
