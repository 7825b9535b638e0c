"""Kernels and drivers against independent references, Polars, causality properties and the Python fallback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import kernels
from features.kernels import ewm_alpha, grouped_ewm, grouped_hdd

REPO = Path(__file__).resolve().parents[1]
NAN = float("nan")
DTYPES = [np.float64, np.float32]


# --- references (written independently of the kernels) --------------------------------------------------------


def hdd_reference(values: np.ndarray, base: float = 18.0, threshold: float = 15.0) -> np.ndarray:
    t = values.astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = np.where(t <= threshold, base - t, 0.0)
    out[np.isnan(t)] = np.nan
    return out.astype(values.dtype)


def ewm_reference(values: np.ndarray, indptr: np.ndarray, alpha: float) -> np.ndarray:
    """Closed form of the NaN-skipping adjust=False EWM: with v_1..v_k the valid inputs up to t,
    s_t = (1-α)^(k-1)·v_1 + Σ_{i=2..k} α·(1-α)^(k-i)·v_i, and NaN when k = 0."""
    out = np.full(values.size, np.nan)
    for g in range(indptr.size - 1):
        series = values[indptr[g] : indptr[g + 1]].astype(np.float64)
        for t in range(series.size):
            seen = series[: t + 1]
            v = seen[~np.isnan(seen)]
            k = v.size
            if k == 0:
                continue
            weights = alpha * (1 - alpha) ** (k - 1 - np.arange(k))
            weights[0] = (1 - alpha) ** (k - 1)
            out[indptr[g] + t] = weights @ v
    return out


def polars_ewm(values: np.ndarray, indptr: np.ndarray, half_life: float) -> np.ndarray:
    """Polars' ewm_mean(adjust=False, ignore_nulls=True) is the same recursion over the valid values but returns
    null at a null input; forward-filling within the series gives the carried state of our skip semantics."""
    group = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    frame = pl.DataFrame({"g": group, "x": values.astype(np.float64)}).with_columns(pl.col("x").fill_nan(None))
    expr = pl.col("x").ewm_mean(half_life=half_life, adjust=False, ignore_nulls=True).forward_fill().over("g")
    return frame.select(expr).to_series().fill_null(np.nan).to_numpy()


def _layout(groups: list[list[float]], dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for g in groups for v in g], dtype=dtype)
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=indptr[1:])
    return values, indptr


def _random_groups(sizes: list[int], seed: int, nan_share: float = 0.2) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    groups = []
    for n in sizes:
        g = rng.normal(8.0, 10.0, n)
        g[rng.random(n) < nan_share] = np.nan
        groups.append(g.tolist())
    return groups


values_st = st.one_of(st.just(NAN), st.floats(-30.0, 40.0, allow_nan=False, width=32))
groups_st = st.lists(st.lists(values_st, max_size=25), min_size=1, max_size=6)
half_life_st = st.floats(0.2, 30.0)


# --- HDD ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_hdd_eurostat_rule_at_the_edges(dtype: type) -> None:
    values, indptr = _layout([[-5.0, 14.5, 15.0, 15.5, 18.0, 25.0, NAN]], dtype)
    out = grouped_hdd(values, indptr)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.array([23.0, 3.5, 3.0, 0.0, 0.0, 0.0, NAN], dtype=dtype))
    custom = grouped_hdd(values, indptr, base=20.0, threshold=18.0)
    np.testing.assert_array_equal(custom, np.array([25.0, 5.5, 5.0, 4.5, 2.0, 0.0, NAN], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_hdd_matches_reference_with_empty_short_and_long_groups(dtype: type) -> None:
    values, indptr = _layout(_random_groups([0, 1, 2, 0, 5000, 3], seed=1), dtype)
    np.testing.assert_array_equal(grouped_hdd(values, indptr, 18.0, 15.0), hdd_reference(values))


@given(groups_st, st.sampled_from(DTYPES))
def test_hdd_matches_reference_property(groups: list[list[float]], dtype: type) -> None:
    values, indptr = _layout(groups, dtype)
    np.testing.assert_array_equal(grouped_hdd(values, indptr), hdd_reference(values))


# --- EWM ------------------------------------------------------------------------------------------------------


def test_ewm_alpha_from_half_life() -> None:
    assert ewm_alpha(1.0) == pytest.approx(0.5)
    assert ewm_alpha(2.0) == pytest.approx(1 - 2**-0.5)
    for bad in (0.0, -3.0, float("inf"), NAN):
        with pytest.raises(ValueError, match="half_life"):
            ewm_alpha(bad)


@pytest.mark.parametrize("half_life", [1.0, 3.0, 7.0])
def test_ewm_impulse_halves_after_one_half_life(half_life: float) -> None:
    values, indptr = _layout([[1.0] + [0.0] * 30])
    out = grouped_ewm(values, indptr, ewm_alpha(half_life))
    assert out[0] == 1.0  # s_0 = x_0
    assert out[int(half_life)] == pytest.approx(0.5)  # s_h = (1 - α)^h = 0.5
    assert out[2 * int(half_life)] == pytest.approx(0.25)


def test_ewm_nan_skips_and_never_carries_across_groups() -> None:
    values, indptr = _layout([[NAN, 4.0, NAN, NAN, 0.0], [NAN, 2.0], [6.0]])
    out = grouped_ewm(values, indptr, 0.5)
    # group 0: NaN before the first valid value, carried state over NaNs, then 0.5·0 + 0.5·4
    np.testing.assert_array_equal(out[:5], [NAN, 4.0, 4.0, 4.0, 2.0])
    # group 1 starts fresh although group 0 ended with state 2.0
    np.testing.assert_array_equal(out[5:7], [NAN, 2.0])
    assert out[7] == 6.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_ewm_matches_closed_form_with_empty_and_tiny_groups(dtype: type) -> None:
    values, indptr = _layout(_random_groups([0, 1, 2, 0, 40, 3, 1], seed=2, nan_share=0.3), dtype)
    alpha = ewm_alpha(3.0)
    out = grouped_ewm(values, indptr, alpha)
    assert out.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out, ewm_reference(values, indptr, alpha), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("half_life", [0.5, 1.0, 7.0, 28.0])
def test_ewm_matches_polars_ignore_nulls_forward_filled_on_long_groups(dtype: type, half_life: float) -> None:
    values, indptr = _layout(_random_groups([3000, 0, 1, 2, 2500], seed=3), dtype)
    out = grouped_ewm(values, indptr, ewm_alpha(half_life))
    tol = 1e-10 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out, polars_ewm(values, indptr, half_life), rtol=tol, atol=tol)


def test_polars_ignore_nulls_false_is_not_our_semantics() -> None:
    """ignore_nulls=False weights by absolute position, so a gap shrinks the old state's weight: it differs from
    skipping right after a gap. Documented in docs/indicators.md; this guards that claim."""
    values, indptr = _layout([[10.0, NAN, NAN, 0.0]])
    ours = grouped_ewm(values, indptr, 0.5)
    decayed = pl.Series([10.0, None, None, 0.0]).ewm_mean(half_life=1.0, adjust=False, ignore_nulls=False)
    assert ours[3] == 5.0
    assert decayed[3] != pytest.approx(5.0)


@settings(deadline=None)
@given(groups_st, half_life_st, st.sampled_from(DTYPES))
def test_ewm_matches_closed_form_property(groups: list[list[float]], half_life: float, dtype: type) -> None:
    values, indptr = _layout(groups, dtype)
    alpha = ewm_alpha(half_life)
    tol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(
        grouped_ewm(values, indptr, alpha), ewm_reference(values, indptr, alpha), rtol=tol, atol=tol
    )


# --- causality and isolation (both kernels) -------------------------------------------------------------------


def _drivers(half_life: float) -> dict[str, object]:
    alpha = ewm_alpha(half_life)
    return {
        "hdd": lambda v, p: grouped_hdd(v, p),
        "ewm": lambda v, p: grouped_ewm(v, p, alpha),
    }


@settings(deadline=None)
@given(groups_st, half_life_st, st.data())
def test_no_look_ahead_and_no_cross_series_leak(
    groups: list[list[float]], half_life: float, data: st.DataObject
) -> None:
    g = data.draw(st.integers(0, len(groups) - 1), label="changed series")
    cut = data.draw(st.integers(0, len(groups[g])), label="first changed position")
    changed = [list(s) for s in groups]
    changed[g][cut:] = data.draw(st.lists(values_st, min_size=len(groups[g]) - cut, max_size=len(groups[g]) - cut))
    before, indptr = _layout(groups)
    after, _ = _layout(changed)
    for name, run in _drivers(half_life).items():
        out_before, out_after = run(before, indptr), run(after, indptr)
        start = indptr[g]
        # outputs before the change point of the changed series are untouched ...
        np.testing.assert_array_equal(out_after[start : start + cut], out_before[start : start + cut], err_msg=name)
        # ... and so is every other series, entirely
        others = np.ones(before.size, dtype=bool)
        others[indptr[g] : indptr[g + 1]] = False
        np.testing.assert_array_equal(out_after[others], out_before[others], err_msg=name)


# --- inputs, dtypes, validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_read_only_inputs_are_accepted_and_left_alone(dtype: type) -> None:
    values, indptr = _layout([[1.0, NAN, 20.0], [14.0]], dtype)
    expected = values.copy()
    values.flags.writeable = False
    grouped_hdd(values, indptr)
    grouped_ewm(values, indptr, 0.3)
    np.testing.assert_array_equal(values, expected)


def test_drivers_validate_their_arguments() -> None:
    values, indptr = _layout([[1.0, 2.0]])
    with pytest.raises(ValueError, match="alpha"):
        grouped_ewm(values, indptr, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        grouped_ewm(values, indptr, 1.5)
    with pytest.raises(ValueError, match="finite"):
        grouped_hdd(values, indptr, base=NAN)
    with pytest.raises(ValueError, match="indptr"):
        grouped_hdd(values, np.array([0, 3], dtype=np.int64))  # would read past the end in numba
    with pytest.raises(TypeError, match="float64 or float32"):
        grouped_ewm(values.astype(np.int64), indptr, 0.5)


def test_alpha_one_returns_the_last_valid_value() -> None:
    values, indptr = _layout([[3.0, NAN, 7.0, 1.0]])
    np.testing.assert_array_equal(grouped_ewm(values, indptr, 1.0), [3.0, 3.0, 7.0, 1.0])


# --- numba / fallback -----------------------------------------------------------------------------------------

_FALLBACK_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from features import kernels

    assert not kernels.NUMBA_ENABLED
    assert "numba" not in sys.modules, "fallback mode must not import numba"
    assert not hasattr(kernels._grouped_ewm, "py_func"), "drivers must be plain functions"
    data = np.load(sys.argv[1])
    out = {}
    for name in ("v64", "v32"):
        values, indptr = data[name], data["indptr"]
        out["hdd_" + name] = kernels.grouped_hdd(values, indptr, 18.0, 15.0)
        out["ewm_" + name] = kernels.grouped_ewm(values, indptr, kernels.ewm_alpha(5.0))
    np.savez(sys.argv[2], **out)
    """
)


@pytest.mark.slow
def test_pure_python_fallback_gives_the_same_numbers(tmp_path: Path) -> None:
    v64, indptr = _layout(_random_groups([0, 1, 2, 300, 0, 57], seed=4))
    v32 = v64.astype(np.float32)
    np.savez(tmp_path / "in.npz", v64=v64, v32=v32, indptr=indptr)
    script = tmp_path / "fallback.py"
    script.write_text(_FALLBACK_SCRIPT)
    env = {**os.environ, "GRIDCAST_NO_NUMBA": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    fallback = np.load(tmp_path / "out.npz")
    alpha = ewm_alpha(5.0)
    for name, values in (("v64", v64), ("v32", v32)):
        hdd, ewm = fallback["hdd_" + name], fallback["ewm_" + name]
        assert hdd.dtype == ewm.dtype == values.dtype
        np.testing.assert_array_equal(hdd, grouped_hdd(values, indptr, 18.0, 15.0))
        np.testing.assert_array_equal(ewm, grouped_ewm(values, indptr, alpha))


@pytest.mark.skipif(not kernels.NUMBA_ENABLED, reason="GRIDCAST_NO_NUMBA is set for this run")
def test_numba_is_active_and_warmup_compiles_every_driver_signature() -> None:
    assert hasattr(kernels._grouped_hdd, "py_func")
    assert kernels.warmup() == 8
    for driver in (kernels._grouped_hdd, kernels._grouped_ewm):
        kinds = {(sig[0].dtype.name, sig[0].mutable) for sig in driver.signatures}
        assert {("float64", True), ("float64", False), ("float32", True), ("float32", False)} <= kinds
