"""The per-model time limit (forecast/timeout.py): a model that hangs or raises on one series falls back there, with
its reason, and every other series gets exactly what a clean run gives; the alarm never outlives its call."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from experiments.inputs.settings import forecast_settings
from experiments.inputs.spec import SpecError, load_spec
from experiments.jobs.log import JobLog
from experiments.jobs.run import run_job
from forecast import timeout
from forecast.backtest import backtest
from forecast.core import forecast_frame, forecast_frame_paths
from forecast.models import SeasonalNaive, registry
from forecast.models.baselines import Naive
from forecast.settings import BacktestPlan, ForecastSettings
from forecast.timeout import ModelTimeout, call_with_time_limit

LIMIT = 0.2  # seconds: each hang below costs this much
SLEEP, SPIN, BOOM, LATE = 1001.0, 1002.0, 1003.0, 1004.0  # first values that make the toy misbehave


class Toy(Naive):
    """Naive, except on a series starting with a trigger value: there its fit sleeps for an hour (``SLEEP``),
    spins in a Python loop forever (``SPIN``) or raises (``BOOM``), or its prediction sleeps (``LATE``). It takes
    and ignores regressors, so ``forecast_frame_paths`` fits it once and predicts it under every future."""

    name: ClassVar[str] = "toy"
    tags: ClassVar[dict[str, bool]] = {**Naive.tags, "exogenous": True}
    late_predictions: ClassVar[list[int]] = []  # one entry per prediction begun on the LATE series

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self._first = float(y[0])
        if self._first == SLEEP:
            time.sleep(3600)
        if self._first == SPIN:
            while True:
                pass
        if self._first == BOOM:
            raise RuntimeError("boom on purpose")
        super()._fit(y, X)

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Any:
        if self._first == LATE:
            Toy.late_predictions.append(h)
            time.sleep(3600)
        return super()._predict(h, X_future, level)


class _Hangs(SeasonalNaive):
    """Seasonal naive whose fit sleeps for an hour on every series."""

    name: ClassVar[str] = "hangs"

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        time.sleep(3600)


def frame(ids: list[str], n: int = 30, exog: bool = False) -> pl.DataFrame:
    """Daily series of ``n`` periods; the series named after a trigger start with it."""
    first = {"sleep": SLEEP, "spin": SPIN, "boom": BOOM, "late": LATE}
    rows = []
    for uid in ids:
        k = ["a", "b", *first].index(uid)  # by name: a series is the same in every frame it is in
        y = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 7 + k) + np.arange(n) * 0.1 * (k + 1)
        y[0] = first.get(uid, y[0])
        for t in range(n):
            rows.append((uid, date(2025, 1, 1) + timedelta(days=t), float(y[t]), float(t % 5)))
    df = pl.DataFrame(rows, schema=["unique_id", "ds", "y", "x"], orient="row")
    return df if exog else df.drop("x")


def settings(limit: float | None = LIMIT, **kw: Any) -> ForecastSettings:
    """Default settings with the model time limit ``limit``."""
    return ForecastSettings(model_time_limit=limit, **kw)


def reasons(fc: pl.DataFrame) -> dict[str, set[str | None]]:
    """The distinct ``fallback_reason`` values of each series."""
    return {uid: set(part["fallback_reason"]) for (uid,), part in fc.partition_by("unique_id", as_dict=True).items()}


def assert_disarmed(handler: Any) -> None:
    """No real-time timer armed and ``handler`` back as the SIGALRM handler."""
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


def test_hanging_and_raising_series_fall_back_and_the_others_match_a_clean_run() -> None:
    handler = signal.getsignal(signal.SIGALRM)
    df = frame(["a", "sleep", "b", "spin", "boom"])
    fc = forecast_frame(df, {"toy": Toy()}, 5, settings())
    got = reasons(fc)
    timed_out = f"toy exceeded its {LIMIT:g} s time limit on this series; used seasonal_naive"
    assert got["sleep"] == {timed_out} and got["spin"] == {timed_out}
    assert got["boom"] == {"toy failed: RuntimeError: boom on purpose; used seasonal_naive"}
    assert got["a"] == {None} and got["b"] == {None}
    clean = forecast_frame(frame(["a", "b"]), {"toy": Toy()}, 5, settings(None))
    assert_frame_equal(fc.filter(pl.col("unique_id").is_in(["a", "b"])), clean)
    # the stand-in is the real fallback's forecast of that series
    for uid in ("sleep", "spin", "boom"):
        own = forecast_frame(df.filter(pl.col("unique_id") == uid), {"toy": SeasonalNaive(season_length=7)}, 5)
        assert fc.filter(pl.col("unique_id") == uid)["mean"].to_list() == own["mean"].to_list()
    assert_disarmed(handler)


def test_a_hang_in_a_backtest_falls_back_in_every_window_and_spares_the_other_series() -> None:
    plan = BacktestPlan(h=3, n_windows=2)
    bt = backtest(frame(["a", "sleep"]), {"toy": Toy()}, settings(backtest=plan))
    hung = bt.filter(pl.col("unique_id") == "sleep")
    assert hung["cutoff"].n_unique() == 2 and hung["mean"].null_count() == 0
    assert hung["fallback_reason"].str.contains(f"exceeded its {LIMIT:g} s time limit").all()
    clean = backtest(frame(["a"]), {"toy": Toy()}, settings(None, backtest=plan))
    assert_frame_equal(bt.filter(pl.col("unique_id") == "a"), clean)


def test_fit_and_predictions_share_one_limit_under_several_futures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Toy, "late_predictions", [])
    df = frame(["a", "sleep", "late"], exog=True)
    futures = []
    for shift in (0.0, 7.0):
        grid = pl.DataFrame(
            [
                (uid, date(2025, 1, 31) + timedelta(days=j), shift + j)
                for uid in ("a", "sleep", "late")
                for j in range(4)
            ],
            schema=["unique_id", "ds", "x"],
            orient="row",
        )
        futures.append(grid)
    fcs = forecast_frame_paths(df, {"toy": Toy()}, 4, settings(exog=("x",)), futures)
    clean = forecast_frame(
        df.filter(pl.col("unique_id") == "a"), {"toy": Toy()}, 4, settings(None, exog=("x",)), future_exog=futures[0]
    )
    for fc in fcs:
        got = reasons(fc)
        assert got["a"] == {None}
        for uid in ("sleep", "late"):
            (reason,) = got[uid]
            assert reason is not None and reason.startswith(f"toy exceeded its {LIMIT:g} s time limit")
        assert_frame_equal(fc.filter(pl.col("unique_id") == "a"), clean)
    # the late series' first prediction used up the model's time there: the second was never begun
    assert Toy.late_predictions == [4]


def test_a_real_statsmodels_fit_is_interrupted() -> None:
    """A seasonal SARIMAX on 900 days takes seconds here; 0.05 s stops it in statsmodels' own code."""
    rng = np.random.default_rng(0)
    y = 10 + np.sin(np.arange(900) * 2 * np.pi / 7) + rng.normal(0, 1, 900).cumsum() * 0.1
    df = pl.DataFrame({"unique_id": "a", "ds": [date(2022, 1, 1) + timedelta(days=t) for t in range(900)], "y": y})
    model = registry.make_model("sarimax", {"order": [2, 1, 2], "seasonal_order": [1, 0, 1, 7]})
    handler = signal.getsignal(signal.SIGALRM)
    fc = forecast_frame(df, {"sarimax": model}, 7, settings(0.05))
    assert set(fc["fallback_reason"]) == {"sarimax exceeded its 0.05 s time limit on this series; used seasonal_naive"}
    assert fc["mean"].null_count() == 0
    assert_disarmed(handler)


def test_the_alarm_is_disarmed_and_the_handler_restored_whatever_the_call_does() -> None:
    calls: list[int] = []

    def mine(signum: int, frame: Any) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        assert call_with_time_limit(lambda: 42, 5.0) == 42
        assert_disarmed(mine)
        with pytest.raises(ValueError, match="plain"):
            call_with_time_limit(lambda: (_ for _ in ()).throw(ValueError("plain")), 5.0)
        assert_disarmed(mine)
        with pytest.raises(ModelTimeout) as info:
            call_with_time_limit(lambda: time.sleep(3600), 0.05, limit=60)
        assert info.value.seconds == 60 and "60 s" in str(info.value)
        assert_disarmed(mine)
        with pytest.raises(ModelTimeout):  # no time left: raised before the call
            call_with_time_limit(lambda: calls.append(-1), 0.0)
        assert_disarmed(mine)
        assert calls == []  # our handler never ran: the timer was never left to fire into it
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_a_model_that_swallows_the_interrupt_is_interrupted_again() -> None:
    caught = []

    def stubborn() -> None:
        for _ in range(2):  # a retry loop with a bare except, trying a second candidate after the first
            try:
                time.sleep(3600)
            except BaseException as exc:  # the point of the test
                caught.append(type(exc).__name__)
        time.sleep(3600)

    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ModelTimeout):
        call_with_time_limit(stubborn, 0.05)
    assert caught == ["ModelTimeout", "ModelTimeout"]
    assert_disarmed(handler)


def test_a_model_that_hangs_again_while_unwinding_is_interrupted_again_and_the_alarm_disarmed() -> None:
    def hangs_in_its_cleanup() -> None:
        try:
            time.sleep(3600)
        finally:
            time.sleep(3600)  # a cleanup that hangs while the first interrupt propagates

    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ModelTimeout):
        call_with_time_limit(hangs_in_its_cleanup, 0.05)
    assert_disarmed(handler)


def test_a_fallback_that_hangs_too_leaves_null_rows_with_both_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._MODELS, "hangs", _Hangs)
    fc = forecast_frame(frame(["a", "sleep"]), {"toy": Toy()}, 3, settings(fallback="hangs"))
    hung = fc.filter(pl.col("unique_id") == "sleep")
    assert hung["mean"].null_count() == hung.height == 3
    assert set(hung["fallback_reason"]) == {
        f"toy exceeded its {LIMIT:g} s time limit on this series; "
        f"fallback hangs exceeded its {LIMIT:g} s time limit on this series"
    }
    assert set(fc.filter(pl.col("unique_id") == "a")["fallback_reason"]) == {None}


def test_no_limit_outside_the_main_thread_or_under_another_timer_and_it_is_said_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeout, "_said", set())
    out: list[object] = []

    def work() -> None:
        for _ in range(2):
            out.append(call_with_time_limit(lambda: time.sleep(0.15) or "done", 0.01))

    with caplog.at_level(logging.WARNING, logger="forecast.timeout"):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert out == ["done", "done"]  # ran to the end: no limit there
        # another timer armed in this process: left alone, ours not applied
        previous = signal.signal(signal.SIGALRM, lambda *_: None)
        try:
            signal.setitimer(signal.ITIMER_REAL, 100.0)
            assert call_with_time_limit(lambda: time.sleep(0.15) or "done", 0.01) == "done"
            assert signal.getitimer(signal.ITIMER_REAL)[0] > 90
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    said = [r.getMessage() for r in caplog.records if r.name == "forecast.timeout"]
    assert len(said) == 2, said
    assert "main thread" in said[0] and "another real-time timer" in said[1]


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, True, "60"])
def test_settings_refuse_a_bad_limit(bad: object) -> None:
    with pytest.raises(ValueError, match="model_time_limit"):
        ForecastSettings(model_time_limit=bad)  # type: ignore[arg-type]


def test_settings_keep_the_limit_through_a_round_trip_and_zero_means_none() -> None:
    s = ForecastSettings(model_time_limit=2.5)
    assert ForecastSettings.from_dict(s.to_dict()) == s and s.to_dict()["model_time_limit"] == 2.5
    assert ForecastSettings(model_time_limit=0).model_time_limit is None
    assert ForecastSettings().model_time_limit == 60.0
    assert (
        ForecastSettings.from_dict({k: v for k, v in s.to_dict().items() if k != "model_time_limit"}).model_time_limit
        == 60.0
    )


def test_the_spec_sets_the_limit(workdir: Path) -> None:
    spec_text = (workdir / "spec.toml").read_text()
    assert forecast_settings(load_spec("spec.toml")).model_time_limit == 60.0
    for value, expected in (("0", None), ("7.5", 7.5)):
        (workdir / "spec.toml").write_text(
            spec_text.replace('fallback = "seasonal_naive"', f'fallback = "seasonal_naive"\nmodel_time_limit = {value}')
        )
        assert forecast_settings(load_spec("spec.toml")).model_time_limit == expected
    (workdir / "spec.toml").write_text(
        spec_text.replace('fallback = "seasonal_naive"', 'fallback = "seasonal_naive"\nmodel_time_limit = -1')
    )
    with pytest.raises(SpecError, match="model_time_limit"):
        load_spec("spec.toml")


def test_a_job_records_the_timeout_and_keeps_the_other_model_as_a_clean_run(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec's limit reaches the backtest and the forecast of a job; the other model's outputs are unchanged.
    A job where the limit cannot apply (here: another alarm is armed) says so in its own log."""
    monkeypatch.setitem(registry._MODELS, "hangs", _Hangs)
    spec = (workdir / "spec.toml").read_text()
    start, end = spec.index("[models.sarimax]"), spec.index("[backtest]")
    clean_spec = spec[:start] + spec[end:]  # seasonal_naive alone: seconds, not minutes
    (workdir / "spec.toml").write_text(clean_spec)
    lines: list[str] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1000.0)
        run_job("spec.toml", kind="forecast", track=False, log=JobLog(lines.append))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    said = [line for line in lines if "model time limit not applied" in line]
    assert len(said) == 1 and "another real-time timer" in said[0]
    out = workdir / "out" / "demo" / "2025-01-31"
    clean = {name: pl.read_parquet(out / name) for name in ("backtest.parquet", "forecast.parquet")}
    hang = '[models.stuck]\nkind = "hangs"\nseason_length = 7\n\n'
    limited = clean_spec.replace('fallback = "seasonal_naive"', 'fallback = "seasonal_naive"\nmodel_time_limit = 0.02')
    (workdir / "spec.toml").write_text(limited.replace("[backtest]", hang + "[backtest]"))
    result = run_job("spec.toml", kind="forecast", track=False)
    assert result.failed_models == ["stuck"] and not result.all_failed
    for name, before in clean.items():
        after = pl.read_parquet(out / name)
        stuck = after.filter(pl.col("model") == "stuck")
        assert stuck.height == before.height and stuck["mean"].null_count() == 0
        assert stuck["fallback_reason"].str.contains("stuck exceeded its 0.02 s time limit on this series").all()
        assert_frame_equal(
            after.filter(pl.col("model") == "seasonal_naive"), before.filter(pl.col("model") == "seasonal_naive")
        )
