"""Every kernel against an independent plain-Python/numpy reference, plus the documented NaN semantics and edges.

References are written from the formulas (explicit windows, closed forms, backward searches), not from the kernels'
running-state algorithms. Each kernel is checked on random data with NaNs, with groups of length 0, 1, 2 and long,
for float64 and float32 storage, and by hypothesis on small random groups.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.indicators import IndicatorSpecError, validate_indicator_specs
from features.indicators import kernels as K
from features.indicators.kernels import _run

NAN = float("nan")
DTYPES = [np.float64, np.float32]
LAMBDA7 = 0.5 ** (1 / 7)


# --- helpers --------------------------------------------------------------------------------------------------


def layout(groups: list[list[float]], dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for g in groups for v in g], dtype=dtype)
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=indptr[1:])
    return values, indptr


def random_values(n: int, rng: np.random.Generator, nan_share: float = 0.2) -> np.ndarray:
    """Temperatures/strike-like values: integers 0..12 half of the time (ties, zeros, thresholds), normals else."""
    v = np.where(rng.random(n) < 0.5, rng.integers(0, 13, n).astype(float), rng.normal(2.0, 8.0, n))
    v[rng.random(n) < nan_share] = np.nan
    return v


def per_group(fn: Callable[..., np.ndarray], indptr: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    """Apply a one-series reference to every group (inputs as float64) and concatenate."""
    out = np.full(arrays[0].size, np.nan)
    for g in range(indptr.size - 1):
        a, b = indptr[g], indptr[g + 1]
        out[a:b] = fn(*(x[a:b].astype(np.float64) for x in arrays))
    return out


def windows(x: np.ndarray, w: int) -> list[np.ndarray]:
    return [x[max(0, t - w + 1) : t + 1] for t in range(x.size)]


# --- references, one series each ------------------------------------------------------------------------------


def ref_hdd(t: np.ndarray, base: float = 18.0, threshold: float = 15.0) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        out = np.where(t <= threshold, base - t, 0.0)
    out[np.isnan(t)] = np.nan
    return out


def ref_ewm(x: np.ndarray, alpha: float) -> np.ndarray:
    """Closed form over the valid values v_1..v_k so far: (1−α)^(k−1)·v_1 + Σ_{i≥2} α(1−α)^(k−i)·v_i."""
    out = np.full(x.size, np.nan)
    for t in range(x.size):
        v = x[: t + 1][~np.isnan(x[: t + 1])]
        if v.size:
            weights = alpha * (1 - alpha) ** (v.size - 1 - np.arange(v.size))
            weights[0] = (1 - alpha) ** (v.size - 1)
            out[t] = weights @ v
    return out


def ref_expanding_mean(x: np.ndarray, min_periods: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for t in range(x.size):
        v = x[: t + 1][~np.isnan(x[: t + 1])]
        if v.size >= min_periods:
            out[t] = v.mean()
    return out


def ref_cold_exposure(t: np.ndarray, half_life: float, base: float = 18.0, threshold: float = 15.0) -> np.ndarray:
    """C_t = Σ_j λ^(k−j)·HDD_j over the valid periods j = 1..k so far (a missing period does not decay C)."""
    lam, hdd = 0.5 ** (1 / half_life), ref_hdd(t, base, threshold)
    out = np.full(t.size, np.nan)
    for i in range(t.size):
        h = hdd[: i + 1][~np.isnan(hdd[: i + 1])]
        if h.size:
            out[i] = np.sum(lam ** np.arange(h.size - 1, -1, -1) * h)
    return out


def ref_cold_spell_len(t: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Count back from t over observed periods below the threshold; a NaN ends the spell."""
    out = np.full(t.size, np.nan)
    for i in range(t.size):
        if np.isnan(t[i]):
            continue
        n = 0
        while i - n >= 0 and not np.isnan(t[i - n]) and t[i - n] < threshold:
            n += 1
        out[i] = n
    return out


def ref_damage(s: np.ndarray, weight: float, rate: float, cap: float) -> np.ndarray:
    out = np.full(s.size, np.nan)
    stock = None
    for i, si in enumerate(s):
        if stock is None and np.isnan(si):
            continue
        prev = 0.0 if stock is None else stock
        added = 0.0 if np.isnan(si) else weight * si
        stock = max(0.0, prev + added - min(cap, rate * prev))
        out[i] = stock
    return out


def ref_days_since(s: np.ndarray, k: float) -> np.ndarray:
    out = np.full(s.size, np.nan)
    for i in range(s.size):
        if np.isnan(s[i]):
            continue
        hits = np.flatnonzero(s[: i + 1] >= k)  # NaN >= k is False
        if hits.size:
            out[i] = i - hits[-1]
    return out


def ref_cold_spell_strikes(s: np.ndarray, t: np.ndarray, threshold: float, min_len: int) -> np.ndarray:
    run = ref_cold_spell_len(t, threshold)
    out = np.where(run >= min_len, s, 0.0)
    out[np.isnan(s) | np.isnan(t)] = np.nan
    return out


def ref_lag(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    out[k:] = x[: max(0, x.size - k)]
    return out


def ref_rolling(x: np.ndarray, w: int, m: int, stat: str) -> np.ndarray:
    fns = {"sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max}
    out = np.full(x.size, np.nan)
    for t, win in enumerate(windows(x, w)):
        v = win[~np.isnan(win)]
        if v.size >= m:
            if stat == "std":
                out[t] = np.std(v, ddof=1) if v.size >= 2 else np.nan
            else:
                out[t] = fns[stat](v)
    return out


def ref_burst(s: np.ndarray, w: int, level: float, m: int) -> np.ndarray:
    out = np.full(s.size, np.nan)
    for t, win in enumerate(windows(s, w)):
        v = win[~np.isnan(win)]
        if v.size >= m:
            out[t] = np.sum(v > level)
    return out


def ref_freeze_thaw(lo: np.ndarray, hi: np.ndarray, w: int, m: int) -> np.ndarray:
    out = np.full(lo.size, np.nan)
    for t in range(lo.size):
        a, b = lo[max(0, t - w + 1) : t + 1], hi[max(0, t - w + 1) : t + 1]
        ok = ~(np.isnan(a) | np.isnan(b))
        if ok.sum() >= m:
            out[t] = np.sum((a[ok] < 0) & (b[ok] > 0))
    return out


@dataclass(frozen=True)
class Case:
    """A kernel call (on grouped arrays) and its per-series reference."""

    name: str
    run: Callable[..., np.ndarray]  # (indptr, *values) -> out
    ref: Callable[..., np.ndarray]  # (*series) -> out
    n_inputs: int = 1


CASES = [
    Case("hdd", lambda p, x: K.grouped_hdd(x, p), ref_hdd),
    Case("hdd_custom", lambda p, x: K.grouped_hdd(x, p, 20.0, 2.0), lambda x: ref_hdd(x, 20.0, 2.0)),
    Case("product", lambda p, a, b: K.grouped_product(a, b, p), lambda a, b: a * b, 2),
    Case("ewm", lambda p, x: K.grouped_ewm(x, p, K.ewm_alpha(3.0)), lambda x: ref_ewm(x, K.ewm_alpha(3.0))),
    Case("ewm_alpha1", lambda p, x: K.grouped_ewm(x, p, 1.0), lambda x: ref_ewm(x, 1.0)),
    Case("expanding_mean", lambda p, x: K.grouped_expanding_mean(x, p), lambda x: ref_expanding_mean(x, 1)),
    Case("expanding_mean_3", lambda p, x: K.grouped_expanding_mean(x, p, 3), lambda x: ref_expanding_mean(x, 3)),
    Case("cold_exposure", lambda p, x: K.grouped_cold_exposure(x, p, 7.0), lambda x: ref_cold_exposure(x, 7.0)),
    Case(
        "cold_exposure_custom",
        lambda p, x: K.grouped_cold_exposure(x, p, 1.5, 10.0, 4.0),
        lambda x: ref_cold_exposure(x, 1.5, 10.0, 4.0),
    ),
    Case("cold_spell_len", lambda p, x: K.grouped_cold_spell_len(x, p, 3.0), lambda x: ref_cold_spell_len(x, 3.0)),
    Case(
        "damage_stock_capped",
        lambda p, x: K.grouped_damage_stock(x, p, 1.5, 0.3, 2.0),
        lambda x: ref_damage(x, 1.5, 0.3, 2.0),
    ),
    Case(
        "damage_stock_uncapped",
        lambda p, x: K.grouped_damage_stock(x, p, 1.0, 0.1),
        lambda x: ref_damage(x, 1.0, 0.1, math.inf),
    ),
    Case("days_since", lambda p, x: K.grouped_days_since(x, p, 5.0), lambda x: ref_days_since(x, 5.0)),
    Case(
        "cold_spell_strikes",
        lambda p, s, t: K.grouped_cold_spell_strikes(s, t, p, 4.0, 2),
        lambda s, t: ref_cold_spell_strikes(s, t, 4.0, 2),
        2,
    ),
    Case("lag_1", lambda p, x: K.grouped_lag(x, p, 1), lambda x: ref_lag(x, 1)),
    Case("lag_3", lambda p, x: K.grouped_lag(x, p, 3), lambda x: ref_lag(x, 3)),
    *(
        Case(
            f"rolling_{stat}_{w}_{m}",
            lambda p, x, fn=fn, w=w, m=m: fn(x, p, w, m),
            lambda x, stat=stat, w=w, m=m: ref_rolling(x, w, m, stat),
        )
        for stat, fn in [
            ("sum", K.grouped_rolling_sum),
            ("mean", K.grouped_rolling_mean),
            ("std", K.grouped_rolling_std),
            ("min", K.grouped_rolling_min),
            ("max", K.grouped_rolling_max),
        ]
        for w, m in [(1, 1), (3, 1), (4, 2), (7, 7)]
    ),
    Case("burst_count", lambda p, x: K.grouped_burst_count(x, p, 5, 6.0, 2), lambda x: ref_burst(x, 5, 6.0, 2)),
    Case(
        "freeze_thaw",
        lambda p, lo, hi: K.grouped_freeze_thaw(lo - 4.0, hi, p, 4, 2),
        lambda lo, hi: ref_freeze_thaw(lo - 4.0, hi, 4, 2),
        2,
    ),
]
IDS = [c.name for c in CASES]


def test_every_op_has_a_reference_case() -> None:
    """A new op of the kernel modules' tables needs a case here (named after the op) with an independent reference."""
    missing = [op for op in K.OPS if not any(c.name == op or c.name.startswith(f"{op}_") for c in CASES)]
    assert not missing, f"ops without a reference case in tests/test_kernels.py: {missing}"


def check(case: Case, groups: list[list[list[float]]], dtype: type) -> None:
    """Run ``case`` on the grouped inputs (one list of groups per input) and compare with the reference."""
    inputs = [layout(g, dtype) for g in groups]
    indptr = inputs[0][1]
    values = [v for v, _ in inputs]
    out = case.run(indptr, *values)
    assert out.dtype == dtype
    assert out.shape == values[0].shape
    expected = per_group(case.ref, indptr, *values)
    if dtype == np.float64:
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9, err_msg=case.name)
    else:  # computed in float64 from the float32 inputs, rounded once on store
        np.testing.assert_allclose(out, expected.astype(np.float32), rtol=2e-6, atol=2e-5, err_msg=case.name)


SIZES = [0, 1, 2, 0, 1500, 3, 2, 1, 40]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_reference_with_nans_and_groups_of_length_0_1_2_and_long(case: Case, dtype: type) -> None:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    groups = [[random_values(n, rng).tolist() for n in SIZES] for _ in range(case.n_inputs)]
    check(case, groups, dtype)


value_st = st.one_of(st.just(NAN), st.integers(-3, 12).map(float), st.floats(-30.0, 40.0, width=32))


@st.composite
def grouped_inputs(draw: st.DrawFn, n_inputs: int) -> list[list[list[float]]]:
    sizes = draw(st.lists(st.integers(0, 12), min_size=1, max_size=5))
    return [[draw(st.lists(value_st, min_size=n, max_size=n)) for n in sizes] for _ in range(n_inputs)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_matches_reference_property(case: Case, data: st.DataObject) -> None:
    check(case, data.draw(grouped_inputs(case.n_inputs)), data.draw(st.sampled_from(DTYPES)))


# Cases hypothesis found once, checked on every run (an ``@example`` cannot feed ``st.data()``): case name, one list
# of groups per input.
FOUND = [
    # large values leave the window, tiny ones remain: the running sums had lost the tiny values' digits (0.26 % off)
    ("rolling_std_4_2", [[[0.0, 5.0, NAN, NAN, 0.0, 7.738440785942657e-07]]]),
    ("rolling_std_4_2", [[[0.0227, 1.0, NAN, NAN, 0.0, 1.2e-23]]]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "groups"), FOUND, ids=[f"{name}-{i}" for i, (name, _) in enumerate(FOUND)])
def test_matches_reference_on_cases_hypothesis_found(name: str, groups: list[list[list[float]]], dtype: type) -> None:
    check(next(c for c in CASES if c.name == name), groups, dtype)


@pytest.mark.parametrize("window", [2, 3, 5, 28])
def test_rolling_std_keeps_small_values_after_large_ones_leave(window: int) -> None:
    """Magnitudes from 1e-12 to 1e6 in random runs, so a window's spread often falls by many orders of magnitude as
    large values leave it: every result within 1e-9 (relative) of the two-pass reference."""
    rng = np.random.default_rng(window)
    exponents = np.repeat(rng.integers(-12, 7, 400), rng.integers(1, 2 * window, 400))
    x = rng.normal(0.0, 1.0, exponents.size) * 10.0**exponents
    x[rng.random(x.size) < 0.1] = np.nan
    out = K.grouped_rolling_std(*layout([x.tolist()]), window, 1)
    np.testing.assert_allclose(out, ref_rolling(x, window, 1, "std"), rtol=1e-9, atol=0)


# --- documented semantics on small worked examples ------------------------------------------------------------


def one(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return layout([values])


@pytest.mark.parametrize("dtype", DTYPES)
def test_hdd_eurostat_rule_at_the_edges(dtype: type) -> None:
    values, indptr = layout([[-5.0, 14.5, 15.0, 15.5, 18.0, 25.0, NAN]], dtype)
    out = K.grouped_hdd(values, indptr)
    np.testing.assert_array_equal(out, np.array([23.0, 3.5, 3.0, 0.0, 0.0, 0.0, NAN], dtype=dtype))
    custom = K.grouped_hdd(values, indptr, base=20.0, threshold=18.0)
    np.testing.assert_array_equal(custom, np.array([25.0, 5.5, 5.0, 4.5, 2.0, 0.0, NAN], dtype=dtype))


@pytest.mark.parametrize("half_life", [1.0, 3.0, 7.0])
def test_ewm_impulse_halves_after_one_half_life(half_life: float) -> None:
    out = K.grouped_ewm(*one([1.0] + [0.0] * 30), K.ewm_alpha(half_life))
    assert out[0] == 1.0
    assert out[int(half_life)] == pytest.approx(0.5)
    assert out[2 * int(half_life)] == pytest.approx(0.25)


def test_ewm_skips_nan_and_never_carries_across_groups() -> None:
    values, indptr = layout([[NAN, 4.0, NAN, NAN, 0.0], [NAN, 2.0], [6.0]])
    out = K.grouped_ewm(values, indptr, 0.5)
    np.testing.assert_array_equal(out, [NAN, 4.0, 4.0, 4.0, 2.0, NAN, 2.0, 6.0])


def test_cold_exposure_decays_by_half_per_half_life_and_skips_nan() -> None:
    # T = 8 °C → HDD 10 once, then warm days (HDD 0): 10, 10λ, 10λ², ...; a NaN day neither adds nor decays
    out = K.grouped_cold_exposure(*one([NAN, 8.0, 20.0, NAN, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0]), 7.0)
    assert np.isnan(out[0])
    assert out[1] == 10.0
    assert out[2] == pytest.approx(10 * LAMBDA7)
    assert out[3] == out[2]
    assert out[9] == pytest.approx(10 * LAMBDA7**7) == pytest.approx(5.0)


def test_cold_spell_len_counts_strictly_below_and_resets_on_warm_and_missing_days() -> None:
    out = K.grouped_cold_spell_len(*one([-1.0, -2.0, 0.0, -1.0, NAN, -5.0, -6.0]), threshold=0.0)
    np.testing.assert_array_equal(out, [1, 2, 0, 1, NAN, 1, 2])


def test_damage_stock_worked_example_and_limits() -> None:
    strikes = [10.0, 0.0, 0.0, NAN, 5.0]
    # D: 10; 10 − min(3, 5) = 7; 7 − 3 = 4; NaN adds nothing, repair goes on: 4 − min(3, 2) = 2; 2 + 5 − 1 = 6
    np.testing.assert_array_equal(K.grouped_damage_stock(*one(strikes), 1.0, 0.5, 3.0), [10, 7, 4, 2, 6])
    # no repair: the weighted cumulative sum; full repair: just this period's damage
    np.testing.assert_array_equal(K.grouped_damage_stock(*one([1.0, 2.0, 3.0]), 2.0, 0.0), [2, 6, 12])
    np.testing.assert_array_equal(K.grouped_damage_stock(*one([1.0, 2.0, 3.0]), 2.0, 1.0), [2, 4, 6])
    # cap 0 means no repair at all; leading NaN stays NaN; the stock never goes negative
    np.testing.assert_array_equal(K.grouped_damage_stock(*one([NAN, 1.0, 0.0]), 1.0, 0.5, 0.0), [NAN, 1, 1])
    assert K.grouped_damage_stock(*one([-5.0, 1.0]), 1.0, 0.5).tolist() == [0.0, 1.0]


def test_days_since_strike_counts_periods_and_time_passes_over_missing_days() -> None:
    out = K.grouped_days_since(*one([0.0, 2.0, 0.0, NAN, 0.0, 1.0, 0.5]), k=1.0)
    np.testing.assert_array_equal(out, [NAN, 0, 1, NAN, 3, 0, 1])


def test_burst_count_is_strictly_above_level_and_skips_missing_periods() -> None:
    out = K.grouped_burst_count(*one([5.0, 6.0, NAN, 7.0, 0.0]), window=3, level=5.0)
    np.testing.assert_array_equal(out, [0, 1, 1, 2, 1])
    only_nan = K.grouped_burst_count(*one([NAN, NAN, 9.0]), window=2, level=0.0, min_periods=1)
    np.testing.assert_array_equal(only_nan, [NAN, NAN, 1])


def test_freeze_thaw_needs_min_below_zero_and_max_above_zero() -> None:
    t_min, indptr = one([-1.0, -2.0, 0.0, -1.0, NAN, -5.0])
    t_max, _ = one([1.0, -1.0, 5.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(K.grouped_freeze_thaw(t_min, t_max, indptr, 3), [1, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(K.grouped_freeze_thaw(t_min, t_max, indptr, 2, 2), [NAN, 1, 0, 1, NAN, NAN])


def test_cold_spell_strikes_count_only_after_min_len_cold_periods() -> None:
    strikes, indptr = one([3.0, 4.0, 5.0, NAN, 7.0, 8.0])
    temp, _ = one([-1.0, -1.0, -1.0, -1.0, 2.0, NAN])
    out = K.grouped_cold_spell_strikes(strikes, temp, indptr, threshold=0.0, min_len=2)
    np.testing.assert_array_equal(out, [0, 4, 5, NAN, 0, NAN])


def test_lag_propagates_nan_and_longer_than_the_series_is_all_missing() -> None:
    values, indptr = layout([[1.0, NAN, 3.0], [4.0]])
    np.testing.assert_array_equal(K.grouped_lag(values, indptr, 1), [NAN, 1, NAN, NAN])
    np.testing.assert_array_equal(K.grouped_lag(values, indptr, 5), [NAN] * 4)


def test_rolling_min_periods_counts_valid_values_and_std_needs_two() -> None:
    x = [1.0, NAN, 3.0, NAN, NAN, 6.0]
    np.testing.assert_array_equal(K.grouped_rolling_mean(*one(x), 3, 2), [NAN, NAN, 2, NAN, NAN, NAN])
    np.testing.assert_array_equal(K.grouped_rolling_sum(*one(x), 3, 1), [1, 1, 4, 3, 3, 6])
    np.testing.assert_array_equal(K.grouped_rolling_max(*one(x), 3, 1), [1, 1, 3, 3, 3, 6])
    np.testing.assert_array_equal(K.grouped_rolling_min(*one(x), 3, 1), [1, 1, 1, 3, 3, 6])
    std = K.grouped_rolling_std(*one(x), 3, 1)
    np.testing.assert_array_equal(np.isnan(std), [True, True, False, True, True, True])
    assert std[2] == pytest.approx(np.sqrt(2.0))
    # min_periods defaults to the window
    np.testing.assert_array_equal(K.grouped_rolling_sum(*one([1.0, 2.0, 3.0]), 2), [NAN, 3, 5])


def test_rolling_std_is_stable_far_from_zero_and_exact_zero_for_constants() -> None:
    x = 1e8 + np.array([0.0, 1.0, 2.0, 3.0, 4.0] * 200)
    out = K.grouped_rolling_std(x, np.array([0, x.size]), 5)
    np.testing.assert_allclose(out[4:], np.std([0, 1, 2, 3, 4], ddof=1), rtol=1e-9)
    const = K.grouped_rolling_std(np.full(50, 7.25), np.array([0, 50]), 4, 2)
    assert np.all(const[1:] == 0.0)
    # a series drifting by 1e3 per period with unit noise: the window's own spread sets the error, not the history
    rng = np.random.default_rng(0)
    trend = np.arange(5000) * 1e3 + rng.normal(0, 1, 5000)
    out = K.grouped_rolling_std(trend, np.array([0, trend.size]), 28)
    reference = [np.std(trend[i - 27 : i + 1], ddof=1) for i in range(27, trend.size)]
    np.testing.assert_allclose(out[27:], reference, rtol=1e-9)


def test_expanding_mean_skips_nan() -> None:
    out = K.grouped_expanding_mean(*one([NAN, 2.0, NAN, 4.0]))
    np.testing.assert_array_equal(out, [NAN, 2, 2, 3])
    np.testing.assert_array_equal(K.grouped_expanding_mean(*one([NAN, 2.0, NAN, 4.0]), 2), [NAN, NAN, NAN, 3])


# --- inputs, dtypes, threads, validation -------------------------------------------------------------------


def _all_calls() -> list[tuple[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]]]:
    return [(c.name, (lambda p, a, b, c=c: c.run(p, a) if c.n_inputs == 1 else c.run(p, a, b))) for c in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
def test_read_only_inputs_are_accepted_and_never_written(dtype: type) -> None:
    rng = np.random.default_rng(5)
    a, indptr = layout([random_values(30, rng).tolist(), random_values(4, rng).tolist()], dtype)
    b = a[::-1].copy()
    a_copy, b_copy = a.copy(), b.copy()
    for writeable in (True, False):
        a.flags.writeable = b.flags.writeable = writeable
        for name, call in _all_calls():
            call(indptr, a, b)
            np.testing.assert_array_equal(a, a_copy, err_msg=name)
            np.testing.assert_array_equal(b, b_copy, err_msg=name)


def test_threads_and_float32_chunks_give_the_same_numbers_as_one_float64_pass() -> None:
    """Large inputs run in chunks of whole groups on threads, and float32 in widened chunks: exactly the numbers of
    one single-threaded float64 pass (rounded to float32 for float32 input). Covers a group longer than a chunk."""
    rng = np.random.default_rng(6)
    sizes = [int(n) for n in rng.integers(0, 3000, 120)] + [_run.CHUNK_ROWS + 777, 0, 5]
    a = random_values(sum(sizes), rng)
    b = random_values(a.size, rng)
    indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    assert a.size > _run.PARALLEL_MIN_ROWS
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    try:
        K.set_threads(1)
        single = {name: call(indptr, a, b) for name, call in _all_calls()}
        single32 = {name: call(indptr, a32.astype(np.float64), b32.astype(np.float64)) for name, call in _all_calls()}
        K.set_threads(3)
        for name, call in _all_calls():
            np.testing.assert_array_equal(call(indptr, a, b), single[name], err_msg=name)
            np.testing.assert_array_equal(call(indptr, a32, b32), single32[name].astype(np.float32), err_msg=name)
    finally:
        K.set_threads(None)


def test_mixed_float32_and_float64_inputs_compute_in_float64() -> None:
    a, indptr = layout([[1.0, 2.0, NAN]])
    out = K.grouped_product(a.astype(np.float32), a, indptr)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1, 4, NAN])


def test_empty_input_and_only_empty_groups() -> None:
    for indptr in (np.array([0], dtype=np.int64), np.array([0, 0, 0], dtype=np.int64)):
        for name, call in _all_calls():
            out = call(indptr, np.empty(0), np.empty(0))
            assert out.shape == (0,), name


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x, p: K.grouped_ewm(x, p, 0.0), ValueError, "alpha"),
        (lambda x, p: K.grouped_ewm(x, p, 1.5), ValueError, "alpha"),
        (lambda x, p: K.grouped_hdd(x, p, base=NAN), ValueError, "finite"),
        (lambda x, p: K.grouped_hdd(x, np.array([0, 3], dtype=np.int64)), ValueError, "indptr"),
        (lambda x, p: K.grouped_ewm(x.astype(np.int64), p, 0.5), TypeError, "float64 or float32"),
        (lambda x, p: K.grouped_rolling_mean(x, p, 0), ValueError, "window: must be >= 1, got 0"),
        (lambda x, p: K.grouped_rolling_mean(x, p, 2.5), ValueError, "window: expected an integer, got 2.5"),
        (lambda x, p: K.grouped_rolling_mean(x, p, 3, 4), ValueError, r"min_periods: must be <= window \(3\), got 4"),
        (lambda x, p: K.grouped_rolling_std(x, p, 3, 0), ValueError, "min_periods"),
        (lambda x, p: K.grouped_lag(x, p, 0), ValueError, "k: must be >= 1"),
        (lambda x, p: K.grouped_expanding_mean(x, p, True), ValueError, "min_periods"),
        (lambda x, p: K.grouped_cold_exposure(x, p, 0.0), ValueError, "half_life"),
        (lambda x, p: K.grouped_damage_stock(x, p, 1.0, 3.0), ValueError, r"repair_rate: must be in \[0, 1\], got 3.0"),
        (lambda x, p: K.grouped_damage_stock(x, p, -1.0, 0.1), ValueError, "weight: must be >= 0"),
        (lambda x, p: K.grouped_damage_stock(x, p, 1.0, 0.1, -2.0), ValueError, "cap: must be >= 0"),
        (lambda x, p: K.grouped_damage_stock(x, p, 1.0, 0.1, NAN), ValueError, "cap"),
        (lambda x, p: K.grouped_days_since(x, p, math.inf), ValueError, "k: must be a finite number"),
        (lambda x, p: K.grouped_days_since(x, p, 0.0), ValueError, "k: must be > 0"),
        (lambda x, p: K.grouped_rolling_sum(x, p), TypeError, "window"),
        (lambda x, p: K.grouped_lag(x, p, k=1, window=2), TypeError, "window"),
        (lambda x, p: K.run_op("rolling_median", [x], p), ValueError, "unknown op 'rolling_median'"),
        (lambda x, p: K.run_op("lag", [x], p, {"window": 2}), TypeError, r"unknown parameter\(s\) \['window'\]"),
        (lambda x, p: K.run_op("product", [x], p), TypeError, r"takes 2 input array\(s\) \(a, b\), got 1"),
        (lambda x, p: K.grouped_burst_count(x, p, 3, NAN), ValueError, "level"),
        (lambda x, p: K.grouped_cold_spell_strikes(x, x, p, 0.0, 0), ValueError, "min_len"),
        (lambda x, p: K.grouped_product(x, x[:1], p), ValueError, "indptr must end"),
        (lambda x, p: K.grouped_freeze_thaw(x, x, p, 2, 3), ValueError, "min_periods"),
    ],
)
def test_entry_points_validate_their_arguments(call: Callable, error: type[Exception], message: str) -> None:
    values, indptr = layout([[1.0, 2.0]])
    with pytest.raises(error, match=message):
        call(values, indptr)


@pytest.mark.parametrize(
    ("op", "indicator", "bad"),
    [
        ("damage_stock", "damage_stock", {"repair_rate": 3}),
        ("damage_stock", "damage_stock", {"repair_rate": 0.1, "cap": -1}),
        ("rolling_mean", "rolling_mean", {"window": 3, "min_periods": 9}),
        ("hdd", "hdd", {"threshold": 20}),
        ("burst_count", "burst_w", {"window": 2.5}),
        ("cold_exposure", "cold_exposure", {"half_life": 0}),
    ],
)
def test_entry_points_and_specs_share_one_validation(op: str, indicator: str, bad: dict) -> None:
    """One rule per parameter: a bad value gets the same message from a ``grouped_*`` call and from a spec."""
    values, indptr = layout([[1.0, 2.0]])
    with pytest.raises(ValueError) as from_op:
        K.run_op(op, [values], indptr, bad)
    with pytest.raises(IndicatorSpecError) as from_spec:
        validate_indicator_specs([{"name": indicator, "input": "x", **bad}])
    assert str(from_spec.value) == f"features[0].{from_op.value}"


def test_decay_and_alpha_from_half_life() -> None:
    assert K.ewm_alpha(1.0) == pytest.approx(0.5)
    assert K.decay_factor(7.0) ** 7 == pytest.approx(0.5)
    assert K.ewm_alpha(2.0) + K.decay_factor(2.0) == pytest.approx(1.0)
    for bad in (0.0, -3.0, math.inf, NAN):
        with pytest.raises(ValueError, match="half_life"):
            K.ewm_alpha(bad)


def test_set_threads_validates() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            K.set_threads(bad)  # type: ignore[arg-type]
    K.set_threads(2)
    assert K.threads() == 2
    K.set_threads(None)
    assert K.threads() >= 1
