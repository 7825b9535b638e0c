"""Cross-checks against Nixtla's coreforecast (a test dependency) where the semantics match, and guards on where
they don't.

Matches (``lag=0`` in coreforecast's terms, i.e. the window ends at t):

- rolling mean/std/min/max with ``min_samples`` on data without NaN (coreforecast ``skipna=False``), and with NaN
  only before the first valid value of a series (``skipna=True``);
- EWM: coreforecast ``ExponentiallyWeightedMean(skipna=True)`` carries the last mean over NaNs exactly as our
  skip rule does, NaNs anywhere;
- expanding mean (``skipna=True``) with ``min_periods=1``; lag.

Differs: with NaNs *inside* a series, coreforecast's ``skipna=True`` applies ``min_samples`` to the periods since the
first valid value, not to the valid values in the window: our ``[7, NaN, NaN]`` with ``min_periods=2`` is NaN,
coreforecast's is 7. With one value, coreforecast's std is inf, ours NaN (ddof = 1). (coreforecast has no
rolling sum.) Float32: coreforecast computes in float32, we in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from coreforecast import lag_transforms as cf
from coreforecast.grouped_array import GroupedArray as CoreGroupedArray

from features.indicators import kernels as K

SIZES = [0, 1, 2, 3, 0, 1500, 27, 400]


def _data(seed: int, dtype: type, leading_nan: bool = False, nan_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    indptr = np.zeros(len(SIZES) + 1, dtype=np.int64)
    np.cumsum(SIZES, out=indptr[1:])
    values = rng.normal(10.0, 5.0, indptr[-1])
    values[rng.random(values.size) < nan_share] = np.nan
    if leading_nan:
        for g, n in enumerate(SIZES):
            values[indptr[g] : indptr[g] + min(n, 4)] = np.nan
    return values.astype(dtype), indptr


def _core(values: np.ndarray, indptr: np.ndarray) -> CoreGroupedArray:
    return CoreGroupedArray(values, indptr.astype(np.int32))


def _tol(dtype: type, scale: float = 1.0) -> dict[str, float]:
    """float32: coreforecast accumulates in float32 (its rolling std of values ~10 is off by up to ~5e-4 where the
    std is small, measured against float64); ours accumulates in float64 and rounds once."""
    return {"rtol": 1e-9, "atol": 1e-9} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-4 * scale}


ROLLING = [
    ("mean", K.grouped_rolling_mean, cf.RollingMean),
    ("std", K.grouped_rolling_std, cf.RollingStd),
    ("min", K.grouped_rolling_min, cf.RollingMin),
    ("max", K.grouped_rolling_max, cf.RollingMax),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("window", "min_periods"), [(1, 1), (3, 2), (7, 7), (28, 1), (28, 28)])
@pytest.mark.parametrize(("stat", "ours", "theirs"), ROLLING, ids=[r[0] for r in ROLLING])
@pytest.mark.parametrize("leading_nan", [False, True], ids=["no_nan", "leading_nan"])
def test_rolling_matches_coreforecast(
    stat: str, ours, theirs, window: int, min_periods: int, dtype: type, leading_nan: bool
) -> None:
    if stat == "std" and min_periods < 2:
        pytest.skip("coreforecast returns inf for the std of one value (n - 1 = 0); ours is NaN (tested elsewhere)")
    values, indptr = _data(1, dtype, leading_nan=leading_nan)
    expected = theirs(0, window, min_periods, skipna=leading_nan).transform(_core(values, indptr))
    actual = ours(values, indptr, window, min_periods)
    np.testing.assert_allclose(actual, expected, **_tol(dtype, scale=10.0 if stat == "std" else 1.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("half_life", [0.5, 1.0, 7.0, 28.0])
def test_ewm_matches_coreforecast_skipna_with_nans_anywhere(dtype: type, half_life: float) -> None:
    values, indptr = _data(2, dtype, leading_nan=True, nan_share=0.2)
    alpha = K.ewm_alpha(half_life)
    expected = cf.ExponentiallyWeightedMean(0, alpha, skipna=True).transform(_core(values, indptr))
    np.testing.assert_allclose(K.grouped_ewm(values, indptr, alpha), expected, **_tol(dtype))


def test_ewm_matches_coreforecast_without_nans() -> None:
    values, indptr = _data(3, np.float64)
    expected = cf.ExponentiallyWeightedMean(0, 0.3).transform(_core(values, indptr))
    np.testing.assert_allclose(K.grouped_ewm(values, indptr, 0.3), expected, rtol=1e-12)


def test_expanding_mean_and_lag_match_coreforecast_with_nans() -> None:
    values, indptr = _data(4, np.float64, leading_nan=True, nan_share=0.2)
    ga = _core(values, indptr)
    expanding = cf.ExpandingMean(0, skipna=True).transform(ga)
    np.testing.assert_allclose(K.grouped_expanding_mean(values, indptr), expanding, rtol=1e-9, atol=1e-9)
    for k in (1, 3, 30):
        np.testing.assert_array_equal(K.grouped_lag(values, indptr, k), cf.Lag(k).transform(ga))


def test_min_periods_with_inner_nans_is_where_coreforecast_differs() -> None:
    """Documented difference (module docstring, docs/indicators.md): we count valid values in the window."""
    values = np.array([np.nan, 3.0, 7.0, np.nan, np.nan, 5.0, 6.0])
    indptr = np.array([0, values.size], dtype=np.int64)
    ours = K.grouped_rolling_mean(values, indptr, 3, 2)
    theirs = cf.RollingMean(0, 3, 2, skipna=True).transform(_core(values, indptr))
    np.testing.assert_array_equal(ours, [np.nan, np.nan, 5.0, 5.0, np.nan, np.nan, 5.5])
    assert theirs[4] == 7.0  # window [7, NaN, NaN]: one valid value, yet coreforecast reports it
    np.testing.assert_array_equal(ours[:4], theirs[:4])
