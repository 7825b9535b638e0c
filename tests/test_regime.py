"""Regime checks on a target's last periods (forecast/regime.py): each rule on series whose answer is known, no
alarms on ordinary seasonal noise, and the real Dnipro jump of 7 Dec 2025."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forecast.regime import FLATLINE, LEVEL_SHIFT, ZERO_RUN, RegimeRules, check_regime, check_series

REPO = Path(__file__).resolve().parents[1]


def _kinds(x: np.ndarray | list[float], rules: RegimeRules | None = None) -> list[str]:
    return [kind for kind, _ in check_series(np.asarray(x, dtype=float), rules)]


def _weekly(rng: np.random.Generator, n: int, *, level: float, sd: float, phi: float = 0.5) -> np.ndarray:
    """Daily hours-off-like values: level + weekly sine + AR(1) noise, rounded to half hours, clipped to [0, 24]."""
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    shocks = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + shocks[i]
    y = level + 3.0 * np.sin(2 * np.pi * np.arange(n) / 7 + rng.uniform(0, 2 * np.pi)) + e
    return np.clip(np.round(y * 2) / 2, 0, 24)


def test_a_level_shift_up_and_down_is_flagged_with_its_size() -> None:
    rng = np.random.default_rng(1)
    before, after = 4 + rng.normal(0, 1, 28), 14 + rng.normal(0, 1, 7)
    (kind, detail), *rest = check_series(np.concatenate([before, after]))
    assert kind == LEVEL_SHIFT and not rest
    assert detail.startswith("level shift: median 1") and "over the last 7 days vs" in detail
    assert "over the 28 before (+" in detail and "robust sd; means" in detail
    assert check_series(np.concatenate([after, before[:7]]))[0][1].split("(")[1].startswith("-")


def test_no_shift_without_a_change_and_a_flat_reference_does_not_divide_by_zero() -> None:
    rng = np.random.default_rng(2)
    assert _kinds(10 + rng.normal(0, 1, 35)) == []
    flat = np.full(28, 5.0)
    # the floor: a flat reference's robust sd is 10 % of the level, so 5 → 8 is a shift (z = 3.75), 5 → 5.5 is not
    assert _kinds(np.concatenate([flat, np.full(7, 8.0) + rng.uniform(-0.1, 0.1, 7)])) == [LEVEL_SHIFT]
    assert _kinds(np.concatenate([flat, np.full(7, 5.5) + rng.uniform(-0.1, 0.1, 7)])) == []
    assert _kinds(np.zeros(40)) == []  # all zeros: no level shift, and zeros were never rare


def test_one_extreme_day_is_not_a_level_shift() -> None:
    rng = np.random.default_rng(3)
    x = 4 + rng.normal(0, 1, 35)
    x[-3] = 24.0
    assert _kinds(x) == []


def test_a_young_series_keeps_two_reference_periods_and_a_very_short_one_is_not_checked() -> None:
    young = [3.5, 4.5, 14.0, 13.0, 15.0, 14.5]  # a jump on day 3 of 6: reference 2, recent window 4
    (kind, detail), *_ = check_series(np.array(young))
    assert kind == LEVEL_SHIFT and "over the last 4 days vs 4.0 over the 2 before" in detail
    assert _kinds([3.5, 4.5, 14.0, 13.0]) == []  # a recent window of 2 is under min_window = 3


def test_a_run_of_zeros_at_the_end_is_flagged_when_zeros_were_rare() -> None:
    rng = np.random.default_rng(4)
    busy = 10 + rng.normal(0, 1, 30)
    kinds = check_series(np.concatenate([busy, np.zeros(3)]))
    assert kinds == [(ZERO_RUN, "zero run: the last 3 days are 0 (zeros were 0% of the 28 days before)")]
    assert _kinds(np.concatenate([busy, np.zeros(2)])) == []  # shorter than zero_run
    # a week of zeros is also a level shift, and is not reported again as a flatline
    assert _kinds(np.concatenate([busy, np.zeros(7)])) == [LEVEL_SHIFT, ZERO_RUN]
    # an intermittent series (zeros common before) is not flagged
    intermittent = np.where(rng.uniform(size=30) < 0.5, 0.0, 5.0)
    assert ZERO_RUN not in _kinds(np.concatenate([intermittent, np.zeros(4)]))


def test_a_flatline_is_flagged_when_the_series_used_to_move() -> None:
    rng = np.random.default_rng(5)
    moving = 12 + rng.normal(0, 2, 28)
    flagged = check_series(np.concatenate([moving, np.full(7, 11.5)]))
    assert [k for k, _ in flagged] == [FLATLINE]
    assert flagged[0][1].startswith("flatline: the last 7 days are all 11.5 (the 28 days before changed on 100%")
    assert _kinds(np.concatenate([moving, np.full(6, 11.5)])) == []  # shorter than flat_run
    assert _kinds(np.full(40, 11.5)) == []  # never moved: nothing broke


def test_missing_values_are_skipped() -> None:
    rng = np.random.default_rng(6)
    x = np.concatenate([4 + rng.normal(0, 1, 28), 14 + rng.normal(0, 1, 7)])
    holed = np.insert(x, [5, 30, 33], np.nan)
    assert check_series(holed) == check_series(x)
    assert check_series(np.full(5, np.nan)) == []


@pytest.mark.parametrize(("level", "sd"), [(12.0, 2.0), (4.0, 1.5)])
def test_seasonal_noise_is_not_flagged(level: float, sd: float) -> None:
    """False alarms: 500 seeded series of 35-120 days (weekly pattern, AR(1) noise with φ = 0.5, half-hour
    rounding); the share with any flag stays below 1 %."""
    rng = np.random.default_rng(20251207)
    n_flagged = sum(
        bool(check_series(_weekly(rng, int(rng.integers(35, 121)), level=level, sd=sd))) for _ in range(500)
    )
    assert n_flagged / 500 < 0.01


def test_rules_scale_with_the_season_and_reject_nonsense() -> None:
    assert RegimeRules.for_season(7) == RegimeRules()
    hourly = RegimeRules.for_season(24)
    assert (hourly.window, hourly.reference, hourly.zero_run, hourly.flat_run) == (24, 96, 12, 24)
    assert RegimeRules.for_season(1) == RegimeRules()
    with pytest.raises(ValueError, match="window"):
        RegimeRules(window=0)
    with pytest.raises(ValueError, match="k > 0"):
        RegimeRules(k=0)


def test_check_regime_returns_a_frame_per_series() -> None:
    rng = np.random.default_rng(7)
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(35)]
    shifted = np.concatenate([4 + rng.normal(0, 1, 28), 14 + rng.normal(0, 1, 7)])
    frame = pl.DataFrame(
        {
            "unique_id": ["a"] * 35 + ["b"] * 35,
            "ds": days * 2,
            "y": [*shifted, *(10 + rng.normal(0, 1, 35))],
        }
    ).sample(fraction=1.0, shuffle=True, seed=1)  # order does not matter
    out = check_regime(frame)
    assert out.columns == ["unique_id", "kind", "detail"] and out["unique_id"].to_list() == ["a"]
    assert out["kind"].to_list() == [LEVEL_SHIFT] and "days" in out["detail"][0]
    empty = check_regime(frame.filter(pl.col("unique_id") == "b"))
    assert empty.height == 0 and empty.schema == out.schema
    hourly = frame.with_columns(pl.col("ds").cast(pl.Datetime("us", "UTC")))
    assert "hours" in check_regime(hourly)["detail"][0]


@pytest.mark.realdata
def test_the_dnipro_jump_of_7_december_is_a_level_shift_only_while_it_is_recent(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hours off per queue jumped from about 4 to about 13 on 7 Dec 2025 (the schedules start on 5 Dec): at an as-of
    of 10 Dec that is a level shift for most queues (the others have a noisy two-day reference such as 1 h and 7 h);
    by 31 Dec it is the level itself and nothing is flagged."""
    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.spec import load_spec

    monkeypatch.chdir(REPO)
    spec = load_spec("experiments/specs/dnipro.toml").model_copy(update={"backtest": None})  # 6 days: too few
    rules = RegimeRules.for_season(spec.season_length)
    early = load_dataset(spec.model_copy(update={"as_of": date(2025, 12, 10)}))
    flags = check_regime(early.frame, rules)
    assert set(flags["kind"]) == {LEVEL_SHIFT} and flags.height >= 6  # 7 of the 12 queues
    assert all("(+" in d and "over the last 4 days" in d for d in flags["detail"])
    late = load_dataset(spec.model_copy(update={"as_of": date(2025, 12, 31)}))
    assert check_regime(late.frame, rules).height == 0
