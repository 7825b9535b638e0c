"""Raw-input paths (forecast.scenarios.paths): what each continues after a cutoff, and their parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.scenarios import Baseline, Climatology, LastValue, Scaled, Zero, make_path


def _days(start: str, n: int) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(start) + n)


def _future(ds: np.ndarray, h: int) -> np.ndarray:
    return np.arange(ds[-1] + 1, ds[-1] + 1 + h)


def test_baseline_continues_the_recent_level_with_the_weekly_pattern_in_phase() -> None:
    pattern = np.array([1.0, 1.2, 0.8, 1.0, 1.5, 0.5, 1.0])
    n = 100  # not a multiple of 7: the phase must follow the index, not restart at the cutoff
    x = 10.0 * pattern[np.arange(n) % 7]
    ds = _days("2024-01-01", n)
    got = Baseline(window=28, pattern_window=84).extend(ds, x, _future(ds, 14), 7)
    np.testing.assert_allclose(got, 10.0 * pattern[np.arange(n, n + 14) % 7])


def test_baseline_level_is_the_mean_of_the_last_window_ignoring_missing_values() -> None:
    x = np.r_[np.full(50, 100.0), np.full(28, 4.0)]
    x[-3] = np.nan
    ds = _days("2024-01-01", x.size)
    got = Baseline(window=28).extend(ds, x, _future(ds, 5), 1)
    np.testing.assert_allclose(got, 4.0)


def test_scaled_zero_and_last_value() -> None:
    rng = np.random.default_rng(3)
    x = rng.poisson(20, 120).astype(float)
    ds = _days("2024-01-01", x.size)
    fut = _future(ds, 10)
    base = Baseline().extend(ds, x, fut, 7)
    np.testing.assert_allclose(Scaled(factor=2.0).extend(ds, x, fut, 7), 2.0 * base)
    np.testing.assert_array_equal(Zero().extend(ds, x, fut, 7), np.zeros(10))
    x[-1] = np.nan
    np.testing.assert_array_equal(LastValue().extend(ds, x, fut, 7), np.full(10, x[-2]))


def test_climatology_follows_the_annual_cycle_and_decays_the_last_anomaly() -> None:
    n = 3 * 365 + 100
    ds = _days("2021-01-01", n)
    doy = (ds - ds.astype("datetime64[Y]")).astype(int) + 1
    cycle = 5.0 + 12.0 * np.cos(2 * np.pi * (doy - 200) / 365.25)
    rng = np.random.default_rng(7)
    anomaly = np.zeros(n)
    for t in range(1, n):
        anomaly[t] = 0.8 * anomaly[t - 1] + rng.normal(0, 0.3)
    x = cycle + anomaly
    fut = _future(ds, 10)
    fdoy = (fut - fut.astype("datetime64[Y]")).astype(int) + 1
    truth_cycle = 5.0 + 12.0 * np.cos(2 * np.pi * (fdoy - 200) / 365.25)
    flat = Climatology(persist=False).extend(ds, x, fut, 7)
    # the mean of three earlier years of a ±7-day window: the cycle, up to the anomalies' noise (sd 0.5)
    assert np.max(np.abs(flat - truth_cycle)) < 1.0
    kept = Climatology().extend(ds, x, fut, 7)
    gap = kept - flat
    # the anomaly at the cutoff decays geometrically towards the climatology
    assert np.all(np.sign(gap) == np.sign(gap[0])) and abs(gap[-1]) < abs(gap[0])
    ratios = gap[1:] / gap[:-1]
    np.testing.assert_allclose(ratios, ratios[0])
    assert 0.5 < ratios[0] < 0.95


def test_climatology_without_a_year_of_history_falls_back_to_the_baseline() -> None:
    x = np.linspace(0.0, 10.0, 200)
    ds = _days("2024-01-01", x.size)
    fut = _future(ds, 7)
    np.testing.assert_allclose(Climatology().extend(ds, x, fut, 7), Baseline().extend(ds, x, fut, 7))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("surge", "unknown path 'surge'"),
        ({"factor": 2}, 'needs `path = "<name>"`'),
        ({"path": "scaled", "factor": -1}, "factor: expected a number >= 0"),
        ({"path": "scaled", "factr": 2}, "no parameter 'factr'"),
        ({"path": "baseline", "window": 0}, "window: expected an integer >= 1"),
        (3, "expected a path name or a table"),
    ],
)
def test_make_path_rejects_bad_specs_naming_the_key(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=r"paths\.launched_uav") as err:
        make_path(spec, key="paths.launched_uav")  # type: ignore[arg-type]
    assert message in str(err.value)


def test_make_path_builds_named_paths_with_parameters() -> None:
    assert make_path("zero") == Zero()
    assert make_path({"path": "scaled", "factor": 2}) == Scaled(factor=2)
    assert make_path({"path": "climatology", "window_days": 3}) == Climatology(window_days=3)
