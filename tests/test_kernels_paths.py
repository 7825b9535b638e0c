"""The kernels' faster paths give the general kernels' numbers, exactly (no timings asserted: speed lives in the
benchmark).

Series without NaN take faster code than series with NaN: pair kernels (two series of the same length in one loop)
for the running sums and recursions, NaN-free passes for the rolling std and min/max; large inputs run in chunks of
whole groups on threads. Each must give the very numbers (bit for bit, signed zeros included) that the general
kernel gives, whatever path a series takes: with a partner of its own length (a pair), alone (a partner of another
length), or sent to the general kernel by a NaN that comes after it; and whatever the threads.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from test_kernels import CASES, IDS, check, layout, random_values

from features.indicators import kernels as K
from features.indicators.kernels import _run

NAN = float("nan")


def assert_same(actual: np.ndarray, expected: np.ndarray, message: str = "") -> None:
    """The same missing values and bit-identical values elsewhere (so 0.0 and -0.0 differ)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, message
    missing = np.isnan(actual)
    np.testing.assert_array_equal(missing, np.isnan(expected), err_msg=message)
    bits = np.dtype(f"u{actual.dtype.itemsize}")
    np.testing.assert_array_equal(actual[~missing].view(bits), expected[~missing].view(bits), err_msg=message)


def clean(n: int, rng: np.random.Generator, spread: bool = True) -> list[float]:
    """Values without NaN: ties, zeros and integers half of the time (equal runs, thresholds), and with ``spread``
    magnitudes from 1e-6 to 1e6 in places (large values leaving a window: the rolling std's recomputation; the
    running sums' rounding then exceeds the reference tolerance, so only paths are compared on those)."""
    v = random_values(n, rng, nan_share=0.0)
    if spread:
        scaled = rng.random(n) < 0.05
        v[scaled] *= 10.0 ** rng.integers(-6, 7, int(scaled.sum()))
    return v.tolist()


def run(case: object, inputs: list[list[list[float]]], dtype: type = np.float64) -> np.ndarray:
    arrays = [layout(groups, dtype) for groups in inputs]
    return case.run(arrays[0][1], *(values for values, _ in arrays))  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_reference_without_nans(case: object, dtype: type) -> None:
    """No NaN, so every fast path runs: equal neighbours (pairs, and an odd one out), lengths 0 to 1,500, lengths
    that differ from the next group's."""
    rng = np.random.default_rng(11)
    sizes = [40, 40, 0, 0, 7, 7, 7, 1500, 1500, 3, 1, 1, 29, 28]
    groups = [[clean(n, rng, spread=False) for n in sizes] for _ in range(case.n_inputs)]  # type: ignore[attr-defined]
    check(case, groups, dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_path_gives_the_same_numbers(case: object) -> None:
    """A series without NaN, computed paired with a series of its length, alone (next to a longer one), and with a
    NaN appended (which sends it to the general kernel): the values before the NaN are identical."""
    rng = np.random.default_rng(12)
    n_inputs = case.n_inputs  # type: ignore[attr-defined]
    for n in (1, 2, 3, 5, 27, 28, 29, 300):
        series = [clean(n, rng) for _ in range(n_inputs)]
        partner = [clean(n, rng) for _ in range(n_inputs)]
        longer = [clean(n + 3, rng) for _ in range(n_inputs)]
        paired = run(case, [[s, p] for s, p in zip(series, partner, strict=True)])[:n]
        alone = run(case, [[s, p] for s, p in zip(series, longer, strict=True)])[:n]
        pairs = enumerate(zip(series, partner, strict=True))
        nan_after = [[[*s, NAN if i == 0 else 1.0], [*p, 1.0]] for i, (s, p) in pairs]
        general = run(case, nan_after)[:n]
        assert_same(paired, general, f"length {n}: paired vs general")
        assert_same(alone, general, f"length {n}: alone vs general")


def test_a_nan_in_one_series_of_a_pair_leaves_the_other_on_its_fast_path() -> None:
    """The pair kernel hands back only the series that met a NaN: its partner keeps the pair's numbers."""
    rng = np.random.default_rng(13)
    a, b = clean(50, rng), clean(50, rng)
    b_nan = [*b[:20], NAN, *b[21:]]
    for name in ("rolling_mean", "rolling_sum", "ewm", "damage_stock", "cold_spell_len"):
        table, op = K.OPS[name]
        assert table.pairs[table.codes[name]] is not None, name
        params = {p.name: p.example() for p in op.params if p.required}
        clean_pair = K.run_op(name, (layout([a, b])[0],), layout([a, b])[1], params)
        mixed = K.run_op(name, (layout([a, b_nan])[0],), layout([a, b_nan])[1], params)
        alone = K.run_op(name, (np.array(b_nan),), np.array([0, 50], dtype=np.int64), params)
        assert_same(mixed[:50], clean_pair[:50], name)
        assert_same(mixed[50:], alone, name)


def test_parallel_chunks_give_the_serial_numbers_on_uneven_groups() -> None:
    """Uneven groups (empty ones, runs of equal lengths, one group larger than a thread's share), series with and
    without NaN: 1, 2 and 3 threads give the same numbers for every op, float64 and float32."""
    rng = np.random.default_rng(14)
    sizes = [int(n) for n in rng.integers(0, 2500, 100)] + [0, 0] + [700] * 21 + [250_000, 0, 1, 2]
    a = np.concatenate([np.asarray(clean(n, rng)) if g % 3 else random_values(n, rng) for g, n in enumerate(sizes)])
    b = np.concatenate([np.asarray(clean(n, rng)) for n in sizes])
    indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    assert a.size > _run.PARALLEL_MIN_ROWS and max(sizes) > a.size / 3
    try:
        for dtype in (np.float64, np.float32):
            x, y = a.astype(dtype), b.astype(dtype)
            K.set_threads(1)
            serial = {c.name: c.run(indptr, x) if c.n_inputs == 1 else c.run(indptr, x, y) for c in CASES}
            for threads in (2, 3):
                K.set_threads(threads)
                for c in CASES:
                    out = c.run(indptr, x) if c.n_inputs == 1 else c.run(indptr, x, y)
                    assert_same(out, serial[c.name], f"{c.name}, {threads} threads, {dtype.__name__}")
    finally:
        K.set_threads(None)


@pytest.mark.parametrize("rows", [1.0, 100.0, 5_000.0, 1e9])
def test_chunks_cover_every_group_once_in_order_and_never_split_one(rows: float) -> None:
    sizes = np.array([0, 3, 0, 0, 5000, 1, 1, 2, 0, 700, 700, 700, 0])
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    chunks = _run._split(indptr, rows)
    assert chunks[0][0] == 0 and chunks[-1][1] == sizes.size
    assert all(g1 > g0 for g0, g1 in chunks)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(chunks))  # contiguous, in order
    for g0, g1 in chunks:  # a chunk is about `rows` long, a group longer than that alone excepted
        assert indptr[g1] - indptr[g0] <= rows + sizes[g0:g1].max()


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 17])
def test_every_chunk_runs_once_on_the_threads(n_chunks: int) -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(chunk: tuple[int, int]) -> None:
        with lock:
            seen.append(chunk)

    chunks = [(i, i + 1) for i in range(n_chunks)]
    _run._map(record, chunks, workers=3)
    assert sorted(seen) == chunks
