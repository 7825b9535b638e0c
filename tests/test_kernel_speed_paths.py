"""What the speed work of issue #11 added around the kernels, checked for results (no timings asserted: speed lives
in the benchmark):

- the drivers report whether they wrote a NaN (:func:`~features.indicators.kernels.nan_free`), and a result said to
  be NaN-free goes to Polars without its NaN scan: the report must be right for every op, on every path (pairs,
  NaN-free fast paths, general kernels, float32 chunks, threads), and ``add_indicators`` must give the same frame;
- ``group_indptr`` compares the ids in pieces on the kernels' threads for a large frame: the same offsets;
- ``parallel_map`` keeps the order of its items.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_kernels import CASES, IDS, layout, random_values

from features.indicators import add_indicators
from features.indicators import kernels as K
from features.indicators.grouped import group_indptr, to_series
from features.indicators.kernels import _run

REPO = Path(__file__).resolve().parents[1]


def _groups(rng: np.random.Generator, nan_share: float, sizes: list[int]) -> list[list[float]]:
    return [random_values(n, rng, nan_share).tolist() for n in sizes]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_free_tells_whether_the_result_holds_a_nan(case: object, dtype: type) -> None:
    rng = np.random.default_rng(5)
    sizes = [30, 30, 0, 5, 5, 200, 1, 17]
    for nan_share in (0.0, 0.0, 0.01, 0.3):
        groups = [_groups(rng, nan_share, sizes) for _ in range(case.n_inputs)]  # type: ignore[attr-defined]
        arrays = [layout(g, dtype) for g in groups]
        with K.counting_nan():
            out = case.run(arrays[0][1], *(v for v, _ in arrays))  # type: ignore[attr-defined]
        assert K.nan_free(out) == (not np.isnan(out).any()), (case.name, nan_share)  # type: ignore[attr-defined]
        assert not K.nan_free(case.run(arrays[0][1], *(v for v, _ in arrays)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_free_on_large_inputs_run_in_chunks_on_threads(case: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(_run, "MIN_TASK_ROWS", 64)
    monkeypatch.setattr(_run, "CHUNK_ROWS", 256)
    rng = np.random.default_rng(9)
    sizes = [100] * 40 + [37] * 5
    for nan_share, dtype in ((0.0, np.float64), (0.0, np.float32), (0.001, np.float64), (0.001, np.float32)):
        groups = [_groups(rng, nan_share, sizes) for _ in range(case.n_inputs)]  # type: ignore[attr-defined]
        arrays = [layout(g, dtype) for g in groups]
        with K.counting_nan():
            out = case.run(arrays[0][1], *(v for v, _ in arrays))  # type: ignore[attr-defined]
        assert K.nan_free(out) == (not np.isnan(out).any()), (case.name, nan_share, dtype)  # type: ignore[attr-defined]


def test_nan_free_is_about_the_last_result_counted_in_this_thread_only() -> None:
    x, indptr = layout([[1.0, 2.0, 3.0], [4.0, 5.0]])
    with K.counting_nan():
        first = K.grouped_ewm(x, indptr, 0.5)
        assert K.nan_free(first)
        second = K.grouped_lag(x, indptr, 1)  # NaN at each series start
        assert not K.nan_free(second)
        assert not K.nan_free(first)  # no longer the last result: unknown, so False
        assert not K.nan_free(first.copy())
        assert not K.nan_free(K.grouped_ewm(np.empty(0), np.zeros(1, dtype=np.int64), 0.5))  # nothing ran
        with K.counting_nan():
            pass
        assert K.nan_free(K.grouped_ewm(x, indptr, 0.5))  # still counting after a nested block
    assert not K.nan_free(K.grouped_ewm(x, indptr, 0.5))  # not counted: unknown


def test_to_series_with_nan_free_hands_the_array_over() -> None:
    values = np.array([1.0, 2.0, -0.0])
    series = to_series("out", values, nan_free=True)
    assert series.dtype == pl.Float64 and series.null_count() == 0
    assert series.to_arrow().buffers()[1].address == values.ctypes.data
    assert to_series("out", values).equals(series)
    widened = to_series("f32", values.astype(np.float32), nan_free=True)
    assert widened.dtype == pl.Float64 and widened.to_list() == [1.0, 2.0, -0.0]


@pytest.mark.parametrize("parallel", [False, True])
def test_add_indicators_same_frame_whatever_the_nan_report(parallel: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the NaN report used or ignored (every result scanned by Polars), in turn or on threads: the same frame."""
    if parallel:
        monkeypatch.setattr(_run, "PARALLEL_MIN_ROWS", 1)
    rng = np.random.default_rng(3)
    n_series, n_days = 12, 50
    temp = rng.normal(2.0, 6.0, n_series * n_days)
    temp[rng.random(temp.size) < 0.02] = np.nan
    frame = pl.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_series)], n_days),
            "ds": np.tile(np.arange(n_days), n_series),
            "temp": temp,
            "strikes": rng.poisson(5.0, temp.size).astype(float),
        }
    )
    specs = [
        {"name": "hdd", "input": "temp"},
        {"name": "rolling_mean", "input": "strikes", "window": 7},
        {"name": "strike_ewm", "input": "strikes", "half_life": 7.0},
        {"name": "cold_exposure", "input": "temp", "half_life": 3.0},
        {"name": "expanding_mean", "input": "temp"},
    ]
    out = add_indicators(frame, specs)
    monkeypatch.setattr("features.indicators.compute.nan_free", lambda values: False)
    assert out.equals(add_indicators(frame, specs), null_equal=True)
    for name in out.columns[frame.width :]:
        assert not out[name].is_nan().any()  # NaN became null, whichever way


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 100, 1001])
def test_group_indptr_in_pieces_matches_one_piece(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(n)
    runs = np.repeat(np.arange(n), rng.integers(1, 4, n))[:n]
    frame = pl.DataFrame({"unique_id": [f"id{r:04d}" for r in runs]}, schema={"unique_id": pl.String})
    whole = group_indptr(frame, ds_col=None)
    expected = [0] + [k for k in range(1, n) if runs[k] != runs[k - 1]] + ([n] if n else [])
    assert whole.tolist() == expected
    monkeypatch.setattr(_run, "PARALLEL_MIN_ROWS", 0)  # pieces on threads even for a tiny frame
    pieces = group_indptr(frame, ds_col=None)
    assert pieces.dtype == np.int64 and pieces.tolist() == whole.tolist()


def test_parallel_map_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run, "PARALLEL_MIN_ROWS", 1)
    items = list(range(37))
    assert K.parallel_map(lambda i: i * i, items, rows=10) == [i * i for i in items]
    assert K.parallel_map(lambda i: -i, items, rows=0) == [-i for i in items]
    assert K.parallel_map(lambda i: i, [], rows=10) == []
