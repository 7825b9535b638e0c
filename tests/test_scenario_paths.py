"""Raw-input paths (forecast.scenarios.paths): what each continues after a cutoff, and their parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.scenarios import Baseline, Climatology, LastValue, Scaled, Zero, make_path
from forecast.scenarios.paths import Tempo


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


def _doy(ds: np.ndarray) -> np.ndarray:
    return (ds - ds.astype("datetime64[Y]")).astype(int) + 1


def test_harmonic_climatology_recovers_the_annual_cycle_where_the_window_mean_keeps_the_weather() -> None:
    n = 2 * 365 + 120
    ds = _days("2022-10-01", n)
    cycle = lambda d: 7.0 + 11.0 * np.cos(2 * np.pi * (_doy(d) - 200) / 365.25)  # noqa: E731
    rng = np.random.default_rng(11)
    anomaly = np.zeros(n)
    for t in range(1, n):  # AR(1), φ = 0.8, sd 3.3 °C: the demo's temperature anomaly
        anomaly[t] = 0.8 * anomaly[t - 1] + 2.0 * rng.normal()
    x = cycle(ds) + anomaly
    fut = _future(ds, 14)
    fitted = Climatology(harmonics=1, persist=False).extend(ds, x, fut, 7)
    window = Climatology(persist=False).extend(ds, x, fut, 7)
    assert np.max(np.abs(fitted - cycle(fut))) < 1.0
    assert np.mean(np.abs(fitted - cycle(fut))) < np.mean(np.abs(window - cycle(fut)))
    # the last anomaly decays at φ estimated from the whole history's anomalies
    gap = Climatology(harmonics=1).extend(ds, x, fut, 7) - fitted
    ratios = gap[1:] / gap[:-1]
    np.testing.assert_allclose(ratios, ratios[0])
    assert 0.7 < ratios[0] < 0.9


def test_harmonic_climatology_fits_each_hour_and_needs_a_year() -> None:
    ds = np.arange(np.datetime64("2023-01-01T00"), np.datetime64("2024-06-01T00"), np.timedelta64(1, "h"))
    hour = (ds.astype("datetime64[h]") - ds.astype("datetime64[D]")).astype(int)
    x = 5.0 + 10.0 * np.cos(2 * np.pi * (_doy(ds.astype("datetime64[D]")) - 200) / 365.25) + (hour >= 12) * 4.0
    fut = ds[-1] + np.arange(1, 25) * np.timedelta64(1, "h")
    got = Climatology(harmonics=1, persist=False).extend(ds, x, fut, 24)
    fhour = (fut.astype("datetime64[h]") - fut.astype("datetime64[D]")).astype(int)
    expected = 5.0 + 10.0 * np.cos(2 * np.pi * (_doy(fut.astype("datetime64[D]")) - 200) / 365.25) + (fhour >= 12) * 4
    np.testing.assert_allclose(got, expected, atol=1e-6)
    short = _days("2024-01-01", 300)
    y = np.linspace(0.0, 10.0, short.size)
    np.testing.assert_allclose(
        Climatology(harmonics=1).extend(short, y, _future(short, 7), 7),
        Baseline().extend(short, y, _future(short, 7), 7),
    )


def _tempo(ds: np.ndarray, weekly: np.ndarray) -> np.ndarray:
    """A strike tempo like the demo's: winter peak in mid-January, +0.3 a year, a weekly pattern (by index)."""
    years = (ds - ds[0]).astype(int) / 365.25
    season = 0.75 * np.cos(2 * np.pi * (_doy(ds) - 15) / 365.25)
    return 25.0 * np.exp(season + 0.3 * years) * weekly[np.arange(ds.size) % 7]


def test_tempo_recovers_the_seasonal_escalating_weekly_tempo_of_overdispersed_counts() -> None:
    weekly = np.array([1.0, 1.05, 1.0, 1.1, 1.15, 1.0, 0.7])
    n = 2 * 365 + 150  # not a multiple of 7: the weekly phase follows the index, as for the baseline
    ds = _days("2022-10-01", n + 28)
    mu = _tempo(ds, weekly)
    rng = np.random.default_rng(5)
    x = rng.poisson(rng.gamma(1.2, mu / 1.2)).astype(float)  # negative binomial, shape 1.2
    x[rng.random(x.size) < 0.0004 * mu] += 250.0  # massed raids, likelier at a high tempo: their share (0.1·μ) is tempo
    x[100:110] = np.nan  # missing days are left out
    hist, fut = ds[:n], ds[n:]
    got = Tempo().extend(hist, x[:n], fut, 7)
    truth = 1.1 * mu[n:]
    assert abs(got.sum() / truth.sum() - 1) < 0.2 and np.mean(np.abs(got / truth - 1)) < 0.2  # ~95th pct of seeds
    # the recent 28-day level lags the season: in early winter it is below the tempo ahead
    base = Baseline().extend(hist, x[:n], fut, 7)
    assert np.mean(np.abs(got - truth)) < np.mean(np.abs(base - truth))
    np.testing.assert_allclose(Tempo(factor=2.0).extend(hist, x[:n], fut, 7), 2.0 * got)
    flat = Tempo(harmonics=0, trend=False, pattern=False).extend(hist, x[:n], fut, 7)
    np.testing.assert_allclose(flat, np.nanmean(x[:n]))  # the Poisson MLE of a constant mean


def test_tempo_without_a_year_falls_back_to_the_baseline_and_zero_counts_stay_zero() -> None:
    ds = _days("2024-01-01", 200)
    x = np.random.default_rng(2).poisson(20, ds.size).astype(float)
    fut = _future(ds, 10)
    np.testing.assert_allclose(Tempo(factor=1.5).extend(ds, x, fut, 7), 1.5 * Baseline().extend(ds, x, fut, 7))
    long = _days("2022-01-01", 800)
    np.testing.assert_array_equal(Tempo().extend(long, np.zeros(long.size), _future(long, 10), 7), np.zeros(10))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("surge", "unknown path 'surge'"),
        ({"factor": 2}, 'needs `path = "<name>"`'),
        ({"path": "scaled", "factor": -1}, "factor: expected a number >= 0"),
        ({"path": "scaled", "factr": 2}, "no parameter 'factr'"),
        ({"path": "baseline", "window": 0}, "window: expected an integer >= 1"),
        (3, "expected a path name or a table"),
        ({"path": "tempo", "harmonics": -1}, "tempo harmonics: expected an integer >= 0"),
        ({"path": "tempo", "trend": "yes"}, "tempo trend: expected true or false"),
        ({"path": "tempo", "factor": float("nan")}, "tempo factor: expected a number >= 0"),
        ({"path": "climatology", "harmonics": 1.5}, "climatology harmonics: expected an integer >= 0"),
        ({"path": "cold_snap", "delta": -2}, "cold_snap delta: expected degrees >= 0"),
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
    assert make_path({"path": "tempo", "trend": False, "pattern": False}) == Tempo(trend=False, pattern=False)
    assert make_path({"path": "climatology", "harmonics": 1}) == Climatology(harmonics=1)
