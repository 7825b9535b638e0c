"""Backfill: the forecast job over a range of as-of dates, as if it had run on each of those days.

Each date is an ordinary forecast job with that as-of (:func:`experiments.jobs.run.run_job`), so a backfilled
folder is byte for byte the folder a single run on that date writes (but the manifest's creation time and run id).
A date whose folder already holds a manifest is skipped unless ``force``: a backfill that was interrupted is
resumed by running it again. A date with bad input is reported and the others still run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from experiments.inputs.executor import ExecutorChoice
from experiments.inputs.spec import SpecError, load_spec
from experiments.jobs.log import JobLog
from experiments.jobs.run import JobResult, run_job
from features.errors import DataError

_EVERY = re.compile(r"^(?P<n>[1-9][0-9]*)(?P<unit>[dw])$")


def parse_every(text: str) -> timedelta:
    """``"7d"`` or ``"2w"`` → a timedelta (whole days or weeks, at least one day)."""
    match = _EVERY.match(text.strip())
    if match is None:
        raise SpecError("--every", "--every", f"expected a number of days or weeks such as 1d, 7d or 2w, got {text!r}")
    n = int(match["n"])
    return timedelta(days=n * (7 if match["unit"] == "w" else 1))


def as_of_dates(start: date, end: date, every: timedelta) -> list[date]:
    """``start``, ``start + every``, … up to ``end`` inclusive."""
    if end < start:
        raise SpecError("--to", "--to", f"{end} is before --from {start}")
    return list(_steps(start, end, every))


def _steps(start: date, end: date, every: timedelta) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += every


@dataclass
class BackfillDate:
    """What happened on one as-of date: ``done``, ``skipped`` (already there) or ``failed`` (with the error)."""

    as_of: date
    status: str
    detail: str = ""
    result: JobResult | None = None


def backfill(
    config: str | Path,
    dates: list[date],
    *,
    out_root: str | Path = "out",
    track: bool = True,
    scenarios: list[str] | None = None,
    force: bool = False,
    log: JobLog | None = None,
    executor: ExecutorChoice | None = None,
) -> list[BackfillDate]:
    """Run the forecast job for every date of ``dates`` (module docstring); one log line per date. ``executor``
    as in :func:`~experiments.jobs.run.run_job`."""
    log = log or JobLog()
    name = load_spec(config).name
    outcomes = []
    for i, day in enumerate(dates, start=1):
        folder = Path(out_root) / name / day.isoformat()
        where = f"{day} ({i}/{len(dates)})"
        if not force and (folder / "manifest.json").is_file():
            outcomes.append(BackfillDate(day, "skipped", f"{folder} exists"))
            log.line(f"{where}: skipped, {folder} exists (--force to redo)")
            continue
        try:
            result = run_job(
                config,
                kind="forecast",
                out_root=out_root,
                track=track,
                scenarios=scenarios,
                as_of=day,
                executor=executor,
            )
        except (DataError, SpecError) as exc:
            outcomes.append(BackfillDate(day, "failed", str(exc)))
            log.line(f"{where}: failed: {exc}")
            continue
        best = f"selected {result.selected}"
        outcomes.append(BackfillDate(day, "done", best, result))
        log.line(f"{where}: done, {best}, outputs in {result.out_dir}")
    return outcomes
