"""The job's log: one timestamped line per stage, throttled progress lines, a Rich bar on a terminal only."""

from __future__ import annotations

import re

import pytest

from experiments.jobs import log as job_log
from experiments.jobs.log import JobLog

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_one_line_per_stage_with_its_summary_and_time() -> None:
    lines: list[str] = []
    log = JobLog(lines.append, "demo")
    with log.stage("backtest") as stage:
        stage.summary = "26 cutoffs"
    assert len(lines) == 1 and re.fullmatch(rf"{STAMP} demo backtest: 26 cutoffs in \d+\.\d s", lines[0])


def test_progress_lines_are_throttled_and_never_for_the_last_step(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    log = JobLog(lines.append, "demo")
    with log.stage("backtest") as stage:
        for done in range(1, 5):
            stage.progress(done, 4)  # the default throttle: nothing within 10 s
    assert len(lines) == 1
    monkeypatch.setattr(job_log, "PROGRESS_EVERY_S", 0.0)
    lines.clear()
    with log.stage("backtest") as stage:
        for done in range(1, 5):
            stage.progress(done, 4)
    assert [line.split(" ", 2)[2] for line in lines[:-1]] == [f"backtest: {d}/4 after 0 s" for d in (1, 2, 3)]
    assert lines[-1].split(" ", 2)[2].startswith("backtest: in ")


def test_a_bar_replaces_the_progress_lines_and_is_gone_after_the_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_log, "PROGRESS_EVERY_S", 0.0)
    lines: list[str] = []
    log = JobLog(lines.append, "demo", bar=True)
    with log.stage("backtest") as stage:
        for done in range(1, 5):
            stage.progress(done, 4)
        assert stage._progress is not None and stage._progress.tasks[0].completed == 4
    assert stage._progress is None and len(lines) == 1  # only the stage's own line


def test_the_backtest_reports_each_window_to_the_stage() -> None:
    from datetime import date, timedelta

    import polars as pl

    from forecast import BacktestPlan, ForecastSettings, backtest
    from forecast.models import SeasonalNaive

    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(60)]
    frame = pl.DataFrame({"unique_id": ["a"] * 60, "ds": days, "y": [float(i % 7) for i in range(60)]})
    calls: list[tuple[int, int]] = []
    settings = ForecastSettings(freq="1d", backtest=BacktestPlan(h=7, n_windows=4))
    backtest(frame, {"snaive": SeasonalNaive(season_length=7)}, settings, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
