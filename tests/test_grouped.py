"""GroupedArray: layout built from sorted long frames, checks on sortedness, zero-copy values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.errors import DataError
from features.indicators.grouped import GroupedArray, check_layout, column_values, group_indptr, to_series


def _frame(sizes: list[int], values: list[float | None] | None = None) -> pl.DataFrame:
    """Sorted long frame with series s0, s1, ... of the given lengths, daily ds from 2024-01-01."""
    ids, ds = [], []
    for g, n in enumerate(sizes):
        ids += [f"s{g}"] * n
        ds += [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(n)]
    n_total = sum(sizes)
    vals = values if values is not None else [float(k) for k in range(n_total)]
    return pl.DataFrame({"unique_id": ids, "ds": ds, "x": vals}, schema_overrides={"x": pl.Float64})


def test_from_frame_offsets_and_group_views() -> None:
    ga = GroupedArray.from_frame(_frame([3, 1, 2]), "x")
    assert ga.indptr.dtype == np.int64
    assert ga.indptr.tolist() == [0, 3, 4, 6]
    assert len(ga) == ga.n_groups == 3
    assert ga.sizes.tolist() == [3, 1, 2]
    assert ga[0].tolist() == [0.0, 1.0, 2.0]
    assert ga[1].tolist() == [3.0]
    assert ga[-1].tolist() == [4.0, 5.0]
    assert np.shares_memory(ga[2], ga.values)
    assert [g.tolist() for g in ga] == [[0.0, 1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(IndexError):
        ga[3]
    with pytest.raises(IndexError):
        ga[-4]


def test_ids_need_not_be_in_ascending_order_only_contiguous() -> None:
    frame = _frame([2, 2]).with_columns(pl.Series("unique_id", ["z", "z", "a", "a"]))
    assert GroupedArray.from_frame(frame, "x").indptr.tolist() == [0, 2, 4]


def test_non_contiguous_ids_are_rejected_with_the_row() -> None:
    frame = pl.DataFrame(
        {"unique_id": ["a", "b", "a"], "ds": [dt.date(2024, 1, k) for k in (1, 1, 2)], "x": [1.0, 2.0, 3.0]}
    )
    with pytest.raises(DataError, match=r"series id 'a' is not contiguous.*row 3") as info:
        GroupedArray.from_frame(frame, "x")
    assert isinstance(info.value, ValueError)


def test_periods_must_increase_within_a_series_but_may_restart_across_series() -> None:
    ok = _frame([3, 3])  # both series start at 2024-01-01: not an ordering problem
    assert GroupedArray.from_frame(ok, "x").n_groups == 2
    swapped = ok.with_columns(pl.Series("ds", [dt.date(2024, 1, d) for d in (1, 3, 2, 1, 2, 3)]))
    with pytest.raises(DataError, match=r"not strictly increasing.*row 3"):
        GroupedArray.from_frame(swapped, "x")
    duplicated = ok.with_columns(pl.Series("ds", [dt.date(2024, 1, d) for d in (1, 2, 3, 1, 1, 2)]))
    with pytest.raises(DataError, match=r"row 5"):
        GroupedArray.from_frame(duplicated, "x")
    assert GroupedArray.from_frame(swapped, "x", ds_col=None).n_groups == 2


def test_null_ids_and_null_periods_are_rejected() -> None:
    frame = _frame([2, 1])
    with pytest.raises(DataError, match="null series id"):
        GroupedArray.from_frame(frame.with_columns(pl.Series("unique_id", ["a", None, "b"])), "x")
    with pytest.raises(DataError, match="null period"):
        GroupedArray.from_frame(frame.with_columns(pl.Series("ds", [dt.date(2024, 1, 1), None, None])), "x")


def test_missing_and_non_numeric_columns_are_rejected() -> None:
    frame = _frame([2]).with_columns(label=pl.lit("a"))
    with pytest.raises(DataError, match=r"column 'nope'.*not found"):
        GroupedArray.from_frame(frame, "nope")
    with pytest.raises(DataError, match=r"column 'label'.*numeric"):
        GroupedArray.from_frame(frame, "label")
    with pytest.raises(DataError, match="column 'ds'"):
        GroupedArray.from_frame(frame.drop("ds"), "x")


def test_nulls_become_nan_and_dtypes() -> None:
    frame = _frame([3], [1.0, None, 3.0]).with_columns(
        i=pl.Series([1, None, 3], dtype=pl.Int32), f32=pl.Series([1.5, None, 2.5], dtype=pl.Float32)
    )
    x = GroupedArray.from_frame(frame, "x").values
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [1.0, np.nan, 3.0])
    i = GroupedArray.from_frame(frame, "i").values
    assert i.dtype == np.float64
    np.testing.assert_array_equal(i, [1.0, np.nan, 3.0])
    f32 = GroupedArray.from_frame(frame, "f32").values
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, np.array([1.5, np.nan, 2.5], dtype=np.float32))


def test_float_column_without_nulls_is_not_copied() -> None:
    frame = _frame([4, 2])
    values = column_values(frame, "x")
    # A read-only array is Polars' own buffer exposed as a view; a copy would be writable.
    assert not values.flags.writeable
    assert np.shares_memory(values, column_values(frame, "x"))


def test_empty_frame_gives_no_groups() -> None:
    ga = GroupedArray.from_frame(_frame([]), "x")
    assert ga.n_groups == 0
    assert ga.indptr.tolist() == [0]
    assert ga.values.size == 0


def test_with_values_shares_grouping_and_checks_length() -> None:
    ga = GroupedArray.from_frame(_frame([2, 3]), "x")
    doubled = ga.with_values(ga.values * 2)
    assert doubled.indptr is ga.indptr
    assert doubled[1].tolist() == [4.0, 6.0, 8.0]
    with pytest.raises(ValueError, match="shape"):
        ga.with_values(np.zeros(4))


@pytest.mark.parametrize(
    ("values", "indptr", "error"),
    [
        (np.zeros(3), np.array([0, 3], dtype=np.int32), TypeError),
        (np.zeros(3, dtype=np.int64), np.array([0, 3], dtype=np.int64), TypeError),
        (np.zeros((3, 1)), np.array([0, 3], dtype=np.int64), TypeError),
        (np.zeros(3), np.array([1, 3], dtype=np.int64), ValueError),
        (np.zeros(3), np.array([0, 2], dtype=np.int64), ValueError),
        (np.zeros(3), np.array([0, 2, 1, 3], dtype=np.int64), ValueError),
        (np.zeros(3), np.array([], dtype=np.int64), ValueError),
    ],
)
def test_invalid_layouts_are_rejected(values: np.ndarray, indptr: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_layout(values, indptr)
    with pytest.raises(error):
        GroupedArray(values, indptr)


@given(st.lists(st.integers(min_value=1, max_value=6), max_size=8))
def test_indptr_is_the_cumulative_run_lengths(sizes: list[int]) -> None:
    frame = _frame(sizes)
    indptr = group_indptr(frame)
    assert indptr.tolist() == [0, *np.cumsum(sizes).tolist()]
    ga = GroupedArray(column_values(frame, "x"), indptr)
    for g, n in enumerate(sizes):
        assert ga[g].size == n
        assert ga[g][0] == float(sum(sizes[:g]))


def test_to_series_turns_nan_into_null_without_copying_the_values() -> None:
    values = np.array([1.0, np.nan, 3.0])
    series = to_series("out", values)
    assert series.name == "out"
    assert series.dtype == pl.Float64
    assert series.to_list() == [1.0, None, 3.0]
    assert series.to_arrow().buffers()[1].address == values.ctypes.data  # Polars holds our buffer
    widened = to_series("f32", values.astype(np.float32))
    assert widened.dtype == pl.Float64
    assert widened.to_list() == [1.0, None, 3.0]


def test_indptr_of_many_series_with_repeated_values_nearby() -> None:
    """Run starts are where the id changes: neighbouring ids that share prefixes or lengths are kept apart."""
    ids = ["a", "a", "ab", "b", "b", "b", "ba", "a0"]
    frame = pl.DataFrame({"unique_id": ids, "x": np.arange(8.0)})
    assert group_indptr(frame, ds_col=None).tolist() == [0, 2, 3, 6, 7, 8]
