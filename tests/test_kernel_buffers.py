"""The kernels' pool of large output buffers (features/indicators/kernels/_buffers.py): a buffer is reused only once
nothing (no array, view or Polars column) refers to it, within the budget, and never inside a forked child."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest

from features.indicators import add_indicators
from features.indicators.kernels import _buffers, grouped_ewm, grouped_rolling_mean

ROWS = 4_000  # 32 KB of float64: pooled once MIN_BYTES is lowered below


@pytest.fixture(autouse=True)
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pool results from 8 KB on, with a 1 MB budget, and start and end with an empty pool."""
    monkeypatch.setattr(_buffers, "MIN_BYTES", 8 << 10)
    monkeypatch.setattr(_buffers, "_OWNERS", [])  # blocks other tests may still hold are not this test's
    _buffers.set_budget(1 << 20)
    yield
    _buffers.set_budget(None)


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def series(seed: int = 0, rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    values = np.random.default_rng(seed).normal(size=rows)
    return values, np.array([0, rows // 3, rows], dtype=np.int64)


def test_a_dropped_result_is_reused_and_recomputed_in_full() -> None:
    values, indptr = series()
    first = grouped_rolling_mean(values, indptr, 7)
    where, expected = address(first), first.copy()
    del first
    again = grouped_rolling_mean(values, indptr, 7)
    assert address(again) == where  # the same block, handed out again
    np.testing.assert_array_equal(again, expected)  # fully rewritten: NaN warm-up rows included
    assert _buffers.pooled_bytes() == (values.nbytes, 0)


HOLDERS = {  # how a caller may keep a result: (make the holder from it, read its values, the rows it holds)
    "array": (lambda r: r, lambda h: h, slice(None)),
    "view": (lambda r: r[10:], lambda h: h, slice(10, None)),
    "view of a view": (lambda r: r[5:][::2], lambda h: h, slice(5, None, 2)),
    "polars series": (lambda r: pl.Series("x", r), lambda h: h.to_numpy(), slice(None)),
    "polars frame": (
        lambda r: pl.DataFrame({"k": range(r.size)}).with_columns(x=r),
        lambda h: h["x"].to_numpy(),
        slice(None),
    ),
}


@pytest.mark.parametrize("holder", HOLDERS)
def test_a_result_still_referred_to_is_never_handed_out(holder: str) -> None:
    make, read, rows = HOLDERS[holder]
    values, indptr = series()
    result = grouped_rolling_mean(values, indptr, 7)
    expected = result[rows].copy()
    held = make(result)
    del result
    other = grouped_ewm(-values, indptr, 0.3)  # same size: would take the block if it were free
    np.testing.assert_array_equal(read(held), expected)
    assert not np.shares_memory(other, read(held))
    assert _buffers.pooled_bytes() == (2 * values.nbytes, 0)  # both leased
    del held
    assert _buffers.pooled_bytes() == (2 * values.nbytes, values.nbytes)


def test_frames_from_add_indicators_reuse_blocks_once_dropped() -> None:
    frame = pl.DataFrame({"unique_id": np.repeat(["a", "b"], ROWS // 2), "ds": np.tile(np.arange(ROWS // 2), 2)})
    frame = frame.with_columns(x=pl.Series(series()[0]))
    specs = [{"name": "rolling_mean", "input": "x", "window": 7}, {"name": "strike_ewm", "input": "x", "half_life": 3}]
    _buffers.set_budget(0)
    expected = add_indicators(frame, specs)  # on plain arrays
    _buffers.set_budget(1 << 20)
    first = add_indicators(frame, specs)
    assert first.equals(expected)
    assert _buffers.pooled_bytes() == (2 * 8 * ROWS, 0)
    kept = first[first.columns[-2]]
    del first  # one column still held through ``kept``
    second = add_indicators(frame, specs)
    assert second.equals(expected)
    np.testing.assert_array_equal(kept.to_numpy(), expected[kept.name].to_numpy())
    assert _buffers.pooled_bytes() == (3 * 8 * ROWS, 0)  # one block reused, one new


def test_the_budget_bounds_the_pool_and_zero_turns_it_off() -> None:
    values, indptr = series()
    _buffers.set_budget(3 * values.nbytes)
    kept = [grouped_rolling_mean(values + k, indptr, 7) for k in range(5)]
    assert _buffers.pooled_bytes() == (3 * values.nbytes, 0)  # two beyond the budget are plain arrays
    assert len({address(a) for a in kept}) == 5
    for k, a in enumerate(kept):
        np.testing.assert_allclose(a, grouped_rolling_mean(values, indptr, 7) + k, equal_nan=True)
    del kept
    assert _buffers.release_buffers() == 3 * values.nbytes
    assert _buffers.pooled_bytes() == (0, 0)
    _buffers.set_budget(0)
    grouped_rolling_mean(values, indptr, 7)
    assert _buffers.pooled_bytes() == (0, 0)


def test_a_free_block_of_another_size_is_used_within_twice_the_request() -> None:
    small, large = np.zeros(ROWS), np.zeros(3 * ROWS)
    indptr = np.array([0, ROWS], dtype=np.int64)
    a = grouped_rolling_mean(small, indptr, 7)
    b = grouped_rolling_mean(large, np.array([0, 3 * ROWS], dtype=np.int64), 7)
    where_a, where_b = address(a), address(b)
    del a, b
    bigger = np.zeros(ROWS + ROWS // 2)  # 1.5 × the small block, half the large one
    c = grouped_rolling_mean(bigger, np.array([0, bigger.size], dtype=np.int64), 7)
    assert address(c) == where_b  # the small one is too small, the large one within 2 ×
    del c
    d = grouped_rolling_mean(small, indptr, 7)
    assert address(d) == where_a  # the smallest that fits


def test_float32_results_are_pooled_and_exact() -> None:
    values, indptr = series()
    expected = grouped_rolling_mean(values.astype(np.float32), indptr, 7)
    where = address(expected)
    expected = expected.copy()
    again = grouped_rolling_mean(values.astype(np.float32), indptr, 7)
    assert again.dtype == np.float32 and address(again) == where
    np.testing.assert_array_equal(again, expected)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_with_an_empty_pool() -> None:
    values, indptr = series()
    grouped_rolling_mean(values, indptr, 7)  # a free block in the parent
    assert _buffers.pooled_bytes() == (values.nbytes, values.nbytes)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the pool it inherited, then leave without running pytest's teardown
        try:
            os.write(write, repr(_buffers.pooled_bytes()).encode())
        finally:
            os._exit(0)
    os.close(write)
    reported = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert reported == "(0, 0)"
    assert _buffers.pooled_bytes() == (values.nbytes, values.nbytes)  # the parent keeps its own


def test_a_bad_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="budget"):
        _buffers.set_budget(-1)
    monkeypatch.setattr(_buffers, "_BUDGET", None)
    monkeypatch.setenv("GRIDCAST_BUFFER_POOL_MB", "lots")
    with pytest.raises(ValueError, match="GRIDCAST_BUFFER_POOL_MB"):
        _buffers.budget_bytes()
    monkeypatch.setenv("GRIDCAST_BUFFER_POOL_MB", "1.5")
    monkeypatch.setattr(_buffers, "_BUDGET", None)
    assert _buffers.budget_bytes() == int(1.5 * 2**20)
