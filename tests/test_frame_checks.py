"""``check_frame`` finds the series whose dates are off the grid from neighbouring rows (no grouping by the ids):
the same series, in the same order, as the per-series differences a grouping gives, on any frame."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.errors import DataError
from forecast.frames import check_frame

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
