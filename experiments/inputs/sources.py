"""The source table: each reader name a spec may write, with its spec class and its reader function.

A ``[sources.NAME]`` table in a spec is validated by the class its ``reader`` names, and read by that entry's
function into a canonical long frame. To add a source: write its reader in :mod:`features.ingest.sources`, then add
one spec class (its keys) and one :data:`READERS` entry here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import polars as pl
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

from features.contract import DAILY, DS, ID
from features.ingest import sources
from features.ingest.sources.outage_vintages import end_of_day, read_schedule_vintage
from features.ingest.table import read_table

FilePath = Annotated[Path, Strict(False)]
"""A file named in a spec: TOML text taken as a path (the spec is otherwise strict: no text read as a number)."""


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a date such as 2025-01-31, got {type(value).__name__} {value!r}")
    return value


LaxDate = Annotated[date, Strict(False), BeforeValidator(_not_a_number)]
"""A date: a TOML date, or ISO text such as a spec dumped to JSON and read back (never a number)."""

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([hdw])\s*")
_AGE_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_age(text: str) -> timedelta:
    """A feed age limit such as ``"3d"``, ``"36h"`` or ``"2w"`` (a number ≥ 0 and one unit: h, d or w)."""
    match = _AGE.fullmatch(text)
    if match is None:
        raise ValueError(f'expected a number and a unit h, d or w, such as "3d", "36h" or "2w"; got {text!r}')
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    daily_only: ClassVar[bool] = False  # a source of daily data only (needs freq = "1d")

    reader: str
    path: FilePath
    join: Literal["broadcast", "match"] = "match"
    id_map: dict[str, str] = Field(default_factory=dict)
    use: list[str] = Field(default_factory=list)
    # sum or average every series of the source into one (e.g. alert minutes over all oblasts → national)
    collapse: Literal["sum", "mean"] | None = None
    # freshness (experiments/inputs/freshness.py): the feed's last period with data may be at most this old at the
    # as-of ("3d", "36h", "2w"); older is a warning, or StaleFeedError (exit 6) with stale = "fail"
    max_age: str | None = None
    stale: Literal["warn", "fail"] = "warn"

    @field_validator("max_age")
    @classmethod
    def _age(cls, v: str | None) -> str | None:
        if v is not None:
            parse_age(v)
        return v

    @property
    def max_age_delta(self) -> timedelta | None:
        """``max_age`` as a timedelta (None: no limit)."""
        return None if self.max_age is None else parse_age(self.max_age)

    def files(self) -> list[Path]:
        """The files this source reads."""
        return [self.path]

    def file_keys(self) -> dict[str, Path]:
        """Each file this source names, by its key in the source's table (``path``, ``weapons``, ``test``)."""
        return {name: value for name, value in self if isinstance(value, Path)}

    def file_column(self, column: str) -> str:
        """The name a column this source produces has in the file (the same name unless a mapping renames it)."""
        return column


class TableSource(_Source):
    """A long table with a column mapping: ``columns = {unique_id = "region", ds = "date"}``."""

    columns: dict[Literal["unique_id", "ds"], str] = Field(default_factory=dict)
    values: list[str] | dict[str, str]
    series_id: str | None = None
    format: Literal["csv", "parquet", "ndjson", "json"] | None = None
    date_format: str = "%Y-%m-%d"

    def file_column(self, column: str) -> str:
        if column in (ID, DS):
            return self.columns.get(column, column)  # type: ignore[call-overload]
        return self.values.get(column, column) if isinstance(self.values, dict) else column


class StrikeReportsSource(_Source):
    """Air Force attack report lines + weapon lookup → national daily counts."""

    daily_only: ClassVar[bool] = True
    weapons: FilePath
    # The reports list attacks, so a day without a report inside the span the feed is known to cover is a day
    # with nothing launched. By default that span is [first report day, last report day]; these widen it
    # (``complete_through = "as_of"`` for a feed known to be current). The span is widened past the last report
    # only while the feed is fresh at the as-of (``max_age`` set and kept): a stale feed, or one without a limit,
    # is never read as zeros after its last report (see experiments/inputs/freshness.py).
    complete_from: LaxDate | None = None
    complete_through: LaxDate | Literal["as_of"] | None = None

    def files(self) -> list[Path]:
        return [self.path, self.weapons]


class AlertsSource(_Source):
    """Air-raid alerts per oblast → alert minutes and counts per Kyiv day."""

    daily_only: ClassVar[bool] = True
    max_duration_hours: float | None = Field(default=None, gt=0)


class OutageScheduleSource(_Source):
    """Hourly outage-schedule CSV or raw scraper JSON → hours off per queue per day.

    ``vintage`` (the replayed CSV only) picks the schedules' version: ``final`` (after every revision),
    ``first_published``, or ``as_of``: what was published by the end of the job's as-of day, from the first-published
    statuses and the ``revisions`` file (:mod:`features.ingest.sources.outage_vintages`)."""

    region: str = "dnipro"
    vintage: Literal["final", "first_published", "as_of"] = "final"
    revisions: FilePath | None = None

    @model_validator(mode="after")
    def _vintage(self) -> OutageScheduleSource:
        if self.vintage != "final" and self.reader != "outage_schedule_hourly":
            raise ValueError(f'vintage {self.vintage!r} needs reader = "outage_schedule_hourly" (the replayed CSV)')
        if self.vintage == "as_of" and self.revisions is None:
            raise ValueError('vintage "as_of" needs revisions = "<path of dnipro_schedule_revisions.csv>"')
        return self

    def files(self) -> list[Path]:
        return [self.path] if self.revisions is None else [self.path, self.revisions]


class WeatherDailySource(_Source):
    """Open-Meteo daily per city, or the Kyiv daily temperature file."""

    daily_only: ClassVar[bool] = True


class MarketSource(_Source):
    """Day-ahead market hourly price and volume (daily aggregate for daily specs)."""


class M4Source(_Source):
    """M4 competition wide CSV (train, optionally test appended on the same synthetic grid)."""

    test: FilePath | None = None

    def files(self) -> list[Path]:
        return [self.path] if self.test is None else [self.path, self.test]


def _daily(hourly: pl.DataFrame, freq: str) -> pl.DataFrame:
    return sources.daily_hours_off(hourly) if freq == DAILY else hourly


def _outage_csv(src: OutageScheduleSource, freq: str, as_of: date | None) -> pl.DataFrame:
    """The replayed schedule CSV in the source's ``vintage`` (``as_of``: what was published by that evening)."""
    if src.vintage == "as_of":
        at = None if as_of is None else end_of_day(as_of)
        return _daily(read_schedule_vintage(src.path, src.revisions, at, region=src.region), freq)
    status = "status_first_published" if src.vintage == "first_published" else "status_final"
    return _daily(sources.read_outage_schedule_hourly(src.path, region=src.region, status_column=status), freq)


@dataclass(frozen=True)
class Reader:
    """A reader name's spec class and the function reading such a source (``read(src, freq, as_of)``; ``as_of``
    matters only to a source with versions)."""

    spec: type[_Source]
    read: Callable[[Any, str, date | None], pl.DataFrame]


READERS: dict[str, Reader] = {
    "table": Reader(
        TableSource,
        lambda s, freq, as_of: read_table(
            s.path,
            freq=freq,
            columns=s.columns,
            values=s.values,
            series_id=s.series_id,
            fmt=s.format,
            date_format=s.date_format,
        ),
    ),
    "strike_reports": Reader(
        StrikeReportsSource, lambda s, freq, as_of: sources.read_strike_reports(s.path, s.weapons)
    ),
    "alerts": Reader(
        AlertsSource, lambda s, freq, as_of: sources.read_alerts(s.path, max_duration_hours=s.max_duration_hours)
    ),
    "outage_schedule_hourly": Reader(OutageScheduleSource, _outage_csv),
    "outage_schedule_json": Reader(
        OutageScheduleSource,
        lambda s, freq, as_of: _daily(sources.read_outage_schedule_json(s.path, region=s.region), freq),
    ),
    "openmeteo_daily": Reader(WeatherDailySource, lambda s, freq, as_of: sources.read_openmeteo_daily(s.path)),
    "kyiv_temperature": Reader(WeatherDailySource, lambda s, freq, as_of: sources.read_kyiv_temperature(s.path)),
    "dam": Reader(MarketSource, lambda s, freq, as_of: sources.read_dam(s.path)),
    "dam_daily": Reader(MarketSource, lambda s, freq, as_of: sources.dam_daily(sources.read_dam(s.path))),
    "m4": Reader(M4Source, lambda s, freq, as_of: sources.read_m4(s.path, s.test, freq=freq)),
}
"""Reader name → spec class and reader function: the one table of sources."""

_CLASSES = {entry.spec.__name__: entry.spec for entry in READERS.values()}


def _class_tag(value: Any) -> str | None:
    name = value.get("reader") if isinstance(value, dict) else getattr(value, "reader", None)
    entry = READERS.get(name) if isinstance(name, str) else None
    return None if entry is None else entry.spec.__name__


SourceSpec = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in _CLASSES.items())],  # type: ignore[valid-type]  # noqa: UP007
    Discriminator(
        _class_tag,
        custom_error_type="unknown_reader",
        custom_error_message=f"unknown or missing 'reader'; expected one of {', '.join(READERS)}",
    ),
]
"""A ``[sources.NAME]`` table, validated by the class its ``reader`` names."""

SOURCE_CLASS_TAGS = frozenset(_CLASSES)
"""The union's branch names (dropped from error keys: ``sources.x.path``, not ``sources.x.TableSource.path``)."""


def read_source(src: _Source, freq: str, as_of: date | None = None) -> pl.DataFrame:
    """Read one source into a canonical long frame with its reader (``as_of``: the day a vintaged source is read
    as of, None for its latest version)."""
    return READERS[src.reader].read(src, freq, as_of)
