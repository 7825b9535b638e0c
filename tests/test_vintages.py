"""Versions of the Dnipro outage schedules on the real files: the view as of an instant (first published + the
revisions made by then), the job's as-of reading that view, and backtests scored against either version."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.spec import SpecError
from experiments.jobs.run import run_job
from features.errors import DataError
from features.ingest.sources import daily_hours_off, read_outage_schedule_hourly
from features.ingest.sources.outage_vintages import end_of_day, read_schedule_vintage

REPO = Path(__file__).resolve().parents[1]
FINAL = "dnipro_schedule_hourly_final.csv"
REVISIONS = "dnipro_schedule_revisions.csv"


@pytest.fixture
def schedules(shared_data: Path) -> Path:
    return shared_data / "dnipro-outage-schedules"


def test_every_revision_gives_the_final_schedule_and_none_the_first_published(schedules: Path) -> None:
    final, revisions = schedules / FINAL, schedules / REVISIONS
    assert read_schedule_vintage(final, revisions).equals(read_outage_schedule_hourly(final))
    first = read_outage_schedule_hourly(final, status_column="status_first_published")
    before_any = datetime(2025, 12, 5, 13, 0, tzinfo=UTC)  # after the first snapshot (12:45), before a revision
    early = read_schedule_vintage(final, revisions, before_any)
    assert 0 < early.height < first.height
    assert early.equals(early.select("unique_id", "ds").join(first, on=["unique_id", "ds"], maintain_order="left"))
    by_evening = read_schedule_vintage(final, revisions, end_of_day(date(2025, 12, 5)))
    assert by_evening["ds"].max() == datetime(2025, 12, 6, 21, tzinfo=UTC)  # the next day's schedule was out
    # by the end of 5 Dec that day's schedule had been cut from 6.6 to 3.6 hours off on average
    day = daily_hours_off(read_schedule_vintage(final, revisions, end_of_day(date(2025, 12, 5))))
    published = daily_hours_off(first).filter(pl.col("ds") == date(2025, 12, 5))["hours_off"].mean()
    assert day.filter(pl.col("ds") == date(2025, 12, 5))["hours_off"].mean() < published - 2  # type: ignore[operator]


def test_bad_revision_files_name_the_file_column_and_row(schedules: Path, tmp_path: Path) -> None:
    text = (schedules / REVISIONS).read_text().splitlines()
    bad = tmp_path / "revisions.csv"
    bad.write_text("\n".join([text[0], text[1], text[2].replace(",yes", ",kaput")]) + "\n")
    with pytest.raises(DataError, match=r"revisions\.csv.*new_status.*row 2"):
        read_schedule_vintage(schedules / FINAL, bad)
    bad.write_text("\n".join([text[0], text[1].replace("GPV1.1", "GPV9.9")]) + "\n")
    with pytest.raises(DataError, match=r"revisions\.csv.*slot the schedule file does not have.*row 1"):
        read_schedule_vintage(schedules / FINAL, bad)


def _spec(tmp_path: Path, schedules: Path, source: str, backtest: str = "", windows: int = 12) -> None:
    """The Dnipro spec reading the schedules of ``tmp_path`` (copies) with ``source`` lines, the seasonal naive."""
    for name in (FINAL, REVISIONS):
        shutil.copyfile(schedules / name, tmp_path / name)
    spec = (REPO / "experiments" / "specs" / "dnipro.toml").read_text()
    own = ("vintage =", "revisions =", "score_against =")  # the shipped spec's, replaced by the test's
    spec = "\n".join(line for line in spec.splitlines() if not line.startswith(own)) + "\n"
    old = f'path = "../shared/data/dnipro-outage-schedules/{FINAL}"'
    assert old in spec and "[models.sarimax]" in spec and "n_windows = 13\nstep = 1" in spec
    spec = spec.replace(old, f'path = "{tmp_path / FINAL}"\n{source}')
    spec = spec.replace('allow = ["../shared/data"]', f'allow = ["{REPO.parent / "shared" / "data"}", "{tmp_path}"]')
    spec = spec[: spec.index("[models.sarimax]")] + spec[spec.index("[backtest]") :]
    spec = spec.replace("n_windows = 13\nstep = 1", f"n_windows = {windows}\nstep = 1\n{backtest}")
    spec = spec[: spec.index("\n# the queues sum into")] + spec[spec.index("\n[tracking]") :]  # the queues alone
    (tmp_path / "spec.toml").write_text(spec)


def _backtest(tmp_path: Path, as_of: date | None = None) -> pl.DataFrame:
    result = run_job(tmp_path / "spec.toml", kind="backtest", track=False, out_root=tmp_path / "out", as_of=as_of)
    return pl.read_parquet(tmp_path / result.out_dir / "backtest.parquet")


def _daily(path: Path, status: str = "status_final") -> pl.DataFrame:
    return daily_hours_off(read_outage_schedule_hourly(path, status_column=status)).select(
        "unique_id", "ds", pl.col("hours_off").alias("truth")
    )


def test_a_job_as_of_a_day_reads_the_schedules_published_by_then(
    schedules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    _spec(tmp_path, schedules, f'vintage = "as_of"\nrevisions = "{tmp_path / REVISIONS}"', windows=4)
    as_of = date(2025, 12, 22)
    before = _backtest(tmp_path, as_of)
    # a revision made on 25 Dec of a slot of 16 Dec: invisible as of the 22nd, seen by a job without an as-of
    slot = pl.read_csv(tmp_path / FINAL).filter(
        (pl.col("date") == "2025-12-16") & (pl.col("queue") == "GPV1.1") & (pl.col("status_final") == "yes")
    )
    hour = slot["hour_start"][0]
    with (tmp_path / REVISIONS).open("a") as fh:
        fh.write(f"2025-12-25T10:00:00Z,2025-12-16,GPV1.1,{hour},yes,no\n")
    assert _backtest(tmp_path, as_of).equals(before)
    latest = _backtest(tmp_path, date(2025, 12, 25))
    y = pl.col("ds") == date(2025, 12, 16)
    key = (pl.col("unique_id") == "dnipro/GPV1.1") & y
    changed = latest.filter(key)["y"].unique().to_list()
    assert changed == [before.filter(key)["y"].unique().item() + 1.0]  # one more hour off
    assert (
        latest.filter(~key & y)
        .select("unique_id", "y")
        .unique()
        .sort("unique_id")
        .equals(before.filter(~key & y).select("unique_id", "y").unique().sort("unique_id"))
    )


def test_a_backtest_learns_from_one_version_and_scores_against_the_other(
    schedules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    _spec(tmp_path, schedules, 'vintage = "first_published"', 'score_against = "final"')
    scored = _backtest(tmp_path).join(_daily(tmp_path / FINAL), on=["unique_id", "ds"])
    assert scored.height > 0 and (scored["y"] == scored["truth"]).all()
    _spec(tmp_path, schedules, 'vintage = "first_published"')
    plain = _backtest(tmp_path).join(_daily(tmp_path / FINAL, "status_first_published"), on=["unique_id", "ds"])
    assert (plain["y"] == plain["truth"]).all()
    assert not plain["y"].equals(scored["y"])  # some scored days were revised after they were published


def test_score_against_needs_a_target_with_versions(workdir: Path) -> None:
    spec = (workdir / "spec.toml").read_text()
    (workdir / "spec.toml").write_text(spec.replace("[backtest]\n", '[backtest]\nscore_against = "final"\n', 1))
    with pytest.raises(SpecError, match=r"backtest\.score_against.*has no versions"):
        run_job("spec.toml", kind="backtest", track=False)
    assert not (workdir / "out").exists()
