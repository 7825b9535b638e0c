"""Feed freshness at the as-of, and what a forecast does with an input that ends early.

**Freshness.** A source's *last period with data* is the latest ``ds`` (over all its series, after the as-of cut)
where at least one value column is not null; for strike reports that is the last report day, before any
zero-filling. Its *age* at the as-of is the time from the end of that period to the end of the as-of day (daily
data: ``as_of − last`` in days, 0 when the feed has the as-of day; hourly data: in hours, reported as fractional
days). With ``max_age`` set on the source the feed is ``fresh`` when ``age ≤ max_age`` and ``stale`` otherwise (also
when it has no data at all up to the as-of); without it the status is ``no limit``. A stale feed is a warning line
(``stale = "warn"``, the default) or a :class:`StaleFeedError` (``stale = "fail"``), which a job maps to exit 6
before writing anything.

**Ends early ≠ zeros.** Strike reports are zero-filled after the last report (``complete_through``) only while the
feed is fresh; otherwise the days after the last report are missing, like those of any other feed that ends early.

**Nowcast.** A used input column whose series ends before the as-of (its *tail* is missing) is filled, before the
indicators are computed, by that column's path from the spec's ``[paths]`` (default ``baseline``;
:mod:`forecast.scenarios.paths`) as if the series' last period with data were the cutoff: the recent strike rate
with its weekly pattern, the temperature's climatology plus the decaying last anomaly, and so on. Gaps inside the
history are left as they are (the indicators' NaN rules apply there). Every fill is reported: one warning line per
group of columns and the number of (series, period) cells filled per column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from features.contract import DAILY, DS, ID, ROW, freq_step
from forecast.scenarios.paths import make_path

Status = Literal["fresh", "stale", "no limit"]
DAY = timedelta(days=1)


def format_age(age: timedelta) -> str:
    """A compact duration: ``3d``, ``36h``, ``90m``."""
    seconds = age.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds / 86400:g}d"


def _days(value: float) -> str:
    n = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{n} day" if n == "1" else f"{n} days"


@dataclass(frozen=True)
class FeedStatus:
    """One source's freshness at the as-of (see the module docstring).

    ``last``: its last period with data (a Date, or a UTC Datetime for hourly data; None: no data up to the as-of);
    ``age_days``: the age of that period at the as-of in days; ``max_age``: the spec's limit (None: no limit);
    ``policy``: the spec's ``stale`` key."""

    source: str
    path: Path
    last: date | datetime | None
    age_days: float | None
    max_age: timedelta | None
    status: Status
    policy: Literal["warn", "fail"]

    def describe(self, as_of: date) -> str:
        """One line for the log and the manifest: ``strikes: feed ends 2025-01-02, 29 days before the as-of
        2025-01-31 (limit 3d)``."""
        limit = f"limit {format_age(self.max_age)}" if self.max_age is not None else "no limit"
        if self.last is None or self.age_days is None:
            return f"{self.source}: feed has no data on or before the as-of {as_of} ({limit})"
        return f"{self.source}: feed ends {self.last}, {_days(self.age_days)} before the as-of {as_of} ({limit})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for a manifest)."""
        return {
            "source": self.source,
            "path": str(self.path),
            "last": None if self.last is None else str(self.last),
            "age_days": self.age_days,
            "max_age": None if self.max_age is None else format_age(self.max_age),
            "status": self.status,
            "policy": self.policy,
        }


class StaleFeedError(RuntimeError):
    """Sources older than their ``max_age`` at the as-of whose spec says ``stale = "fail"`` (a job exits 6).

    The message names, per feed, the file, the source key, its last period with data, the as-of and the age
    against the limit."""

    def __init__(self, feeds: Sequence[FeedStatus], as_of: date) -> None:
        self.feeds, self.as_of = list(feeds), as_of
        parts = []
        for f in self.feeds:
            limit = format_age(f.max_age) if f.max_age is not None else "none"
            last = f"last data {f.last}" if f.last is not None else "no data"
            age = f"{_days(f.age_days)} old" if f.age_days is not None else "no data at all"
            parts.append(
                f"{f.path}: key 'sources.{f.source}': stale feed: {last}, as-of {as_of}: {age}, limit {limit} "
                f'(stale = "fail")'
            )
        super().__init__("; ".join(parts))


def last_with_data(frame: pl.DataFrame) -> date | datetime | None:
    """The latest ``ds`` where any value column is not null (None when there is none)."""
    values = [c for c in frame.columns if c not in (ID, DS, ROW)]
    rows = frame.filter(pl.any_horizontal(pl.col(values).is_not_null())) if values else frame
    return rows[DS].max() if rows.height else None  # type: ignore[return-value]


def feed_status(
    source: str,
    path: Path,
    frame: pl.DataFrame,
    as_of: date,
    freq: str,
    *,
    max_age: timedelta | None,
    policy: Literal["warn", "fail"] = "warn",
) -> FeedStatus:
    """The freshness of one source's frame (already cut at the as-of) at ``as_of``."""
    last = last_with_data(frame)
    age: float | None = None
    if last is not None:
        end_of_day = datetime.combine(as_of + DAY, time(), tzinfo=UTC)
        if isinstance(last, datetime):
            stamp = last if last.tzinfo is not None else last.replace(tzinfo=UTC)
            age = (end_of_day - (stamp + freq_step(freq))).total_seconds() / 86400
        else:
            age = float((as_of - last).days)
    if max_age is None:
        status: Status = "no limit"
    elif age is None or age * 86400 > max_age.total_seconds():
        status = "stale"
    else:
        status = "fresh"
    return FeedStatus(source, Path(path), last, age, max_age, status, policy)


def raise_if_stale(feeds: Sequence[FeedStatus], as_of: date) -> None:
    """Raise :class:`StaleFeedError` for the stale feeds whose policy is ``fail``."""
    failing = [f for f in feeds if f.status == "stale" and f.policy == "fail"]
    if failing:
        raise StaleFeedError(failing, as_of)


@dataclass(frozen=True)
class TailFill:
    """A column's missing tail filled by its path: ``cells`` (series, period) values in ``series`` series, after the
    earliest last period with data ``after``."""

    column: str
    path: str
    cells: int
    series: int
    after: date | datetime


def _grid_to(ds: pl.Series, end: date | datetime, freq: str) -> pl.Series:
    """The periods after the last of ``ds`` up to ``end`` (empty when ``ds`` reaches it)."""
    last = ds[-1]
    if last >= end:
        return ds.clear()
    rng = pl.date_range if freq == DAILY else pl.datetime_range
    return rng(last + freq_step(freq), end, interval=freq, eager=True).cast(ds.dtype).alias(DS)


def nowcast_tails(
    frame: pl.DataFrame,
    columns: Sequence[str],
    end: date | datetime,
    freq: str,
    paths: Mapping[str, str | Mapping[str, Any]],
    season_length: int,
) -> tuple[pl.DataFrame, list[TailFill]]:
    """Fill the missing tail of each column up to ``end`` by its path (see the module docstring).

    ``frame``: ``unique_id, ds`` and the columns, each series on its regular grid (sorted). A series ending before
    ``end`` gets the missing periods added; a column's values after its last non-null period are the path's
    extension of its history up to that period. A column with no value at all in a series is left null. The frame
    is returned unchanged (the same object) when no tail is missing."""
    parts = frame.partition_by(ID, maintain_order=True)
    fills: dict[str, list[tuple[int, date | datetime]]] = {c: [] for c in columns}
    changed = False
    out = []
    for part in parts:
        more = _grid_to(part[DS], end, freq)
        if more.len():
            part = pl.concat([part, pl.DataFrame({ID: [part[ID][0]] * more.len(), DS: more})], how="diagonal")
        ds = part[DS].to_numpy()
        for col in columns:
            valid = np.flatnonzero(part[col].is_not_null().to_numpy())
            if valid.size == 0 or valid[-1] == part.height - 1:
                continue
            cut = int(valid[-1]) + 1
            x = part[col].cast(pl.Float64).fill_null(np.nan).to_numpy()
            path = make_path(paths.get(col, "baseline"), key=f"paths.{col}")
            tail = path.extend(ds[:cut], x[:cut], ds[cut:], season_length)
            kept = part[col].cast(pl.Float64).head(cut)  # nulls in the history stay nulls
            part = part.with_columns(pl.concat([kept, pl.Series(col, tail, dtype=pl.Float64)]).alias(col))
            fills[col].append((part.height - cut, part[DS][cut - 1]))
            changed = True
        out.append(part)
    if not changed:
        return frame, []
    report = [
        TailFill(col, make_path(paths.get(col, "baseline")).name, sum(n for n, _ in f), len(f), min(a for _, a in f))
        for col, f in fills.items()
        if f
    ]
    return pl.concat(out, how="vertical_relaxed").sort(ID, DS), report


def describe_fills(source: str, fills: Sequence[TailFill], as_of: date, freq: str) -> list[str]:
    """Warning lines for a source's tail fills, columns with the same gap and path on one line: ``strikes:
    launched_uav, launched_missile have no data after 2025-01-02; their 29 days to the as-of 2025-01-31 are a nowcast
    by the baseline path``."""
    unit = "days" if freq == DAILY else "hours"
    groups: dict[tuple[Any, ...], list[str]] = {}
    for f in fills:
        groups.setdefault((f.after, f.cells, f.series, f.path), []).append(f.column)
    lines = []
    for (after, cells, series, path), cols in groups.items():
        many = len(cols) > 1
        where, what = (f" in {series} series", "values") if series > 1 else ("", unit)
        lines.append(
            f"{source}: {', '.join(cols)} {'have' if many else 'has'} no data after {after}{where}; "
            f"{'their' if many else 'its'} {cells} {what} to the as-of {as_of} are a nowcast by the {path} path"
        )
    return lines
