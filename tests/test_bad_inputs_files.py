"""Bad data files through the CLI, one table per reader the demo spec uses (strike reports, weapon lookup, daily
weather, the outage table), and one for the other readers (alerts, day-ahead market, M4, outage schedules in CSV
and JSON, Kyiv temperature) added to the demo spec as an extra source: exit 2, the file, column and row named, the
offending value shown, nothing written.

The file-level cases (missing, empty, binary, links, line endings) are in tests/test_cli_bad_input.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from _bad_input import OUTAGES, STRIKES, WEAPONS, WEATHER, assert_refused, edit_csv, run, set_cell, spec_edit

from features.ingest import sources


def _cell(path: Path, row: int, column: str, value: str) -> Callable[[Path], None]:
    return lambda root: set_cell(root / path, row, column, value)


def _drop_column(path: Path, column: str) -> Callable[[Path], None]:
    def fn(root: Path) -> None:
        frame = pl.read_csv(root / path, infer_schema=False)
        frame.drop(column).write_csv(root / path)

    return fn


def _repeat_row(path: Path, row: int) -> Callable[[Path], None]:
    return lambda root: edit_csv(root / path, lambda ls: [*ls[: row + 1], ls[row], *ls[row + 1 :]])


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    # strike reports: Kyiv wall times of mixed formats, whole counts, destroyed ≤ launched
    "strike time unparsable": (
        _cell(STRIKES, 3, "time_start", "yesterday"),
        [str(STRIKES), "column 'time_start'", "unparsable time", "row 3", "'yesterday'"],
    ),
    "strike hour out of range": (
        _cell(STRIKES, 5, "time_start", "2025-01-10 25:00"),
        [str(STRIKES), "column 'time_start'", "time of day out of range", "row 5"],
    ),
    "strike time in the spring DST gap": (
        _cell(STRIKES, 6, "time_start", "2024-03-31 03:30"),
        [str(STRIKES), "column 'time_start'", "spring DST gap", "row 6"],
    ),
    "strike ends before it starts": (
        _cell(STRIKES, 2, "time_end", "2020-01-01"),
        [str(STRIKES), "column 'time_end'", "ends before it starts", "row 2"],
    ),
    "strike without a weapon model": (
        _cell(STRIKES, 8, "model", "  "),
        [str(STRIKES), "column 'model'", "missing weapon model", "row 8"],
    ),
    "strike count not whole": (
        _cell(STRIKES, 9, "launched", "2.5"),
        [str(STRIKES), "column 'launched'", "not a whole number", "row 9", "2.5"],
    ),
    "strike count not a number": (
        _cell(STRIKES, 10, "launched", "lots"),
        [str(STRIKES), "column 'launched'", "non-numeric value", "row 10", "'lots'"],
    ),
    "strike file without its destroyed column": (
        _drop_column(STRIKES, "destroyed"),
        [str(STRIKES), "column 'destroyed'", "missing column"],
    ),
    # weapon lookup: one category per model
    "weapon listed twice": (_repeat_row(WEAPONS, 2), [str(WEAPONS), "column 'model'", "duplicate weapon model"]),
    "weapon with a blank model": (
        _cell(WEAPONS, 3, "model", "   "),
        [str(WEAPONS), "column 'model'", "missing model", "row 3"],
    ),
    "weather city blank": (
        _cell(WEATHER, 21, "city", "  "),
        [str(WEATHER), "column 'city'", "missing city", "row 21"],
    ),
    "target series id blank": (
        _cell(OUTAGES, 22, "region", "   "),
        [str(OUTAGES), "column 'region'", "missing series id", "row 22"],
    ),
    "weapon without a category": (
        _cell(WEAPONS, 4, "category", ""),
        [str(WEAPONS), "column 'category'", "missing category", "row 4"],
    ),
    "weapon lookup without rows": (lambda r: edit_csv(r / WEAPONS, lambda ls: ls[:1]), [str(WEAPONS), "no data rows"]),
    # daily weather: t_min ≤ t_mean ≤ t_max, counts ≥ 0, one row per city and day
    "weather minimum above the mean": (
        _cell(WEATHER, 12, "t_min", "40.0"),
        [str(WEATHER), "column 't_min'", "daily minimum above the daily mean", "row 12"],
    ),
    "weather mean not a number": (
        _cell(WEATHER, 13, "t_mean", "hot"),
        [str(WEATHER), "column 't_mean'", "non-numeric value", "row 13", "'hot'"],
    ),
    "weather mean infinite": (
        _cell(WEATHER, 14, "t_mean", "inf"),
        [str(WEATHER), "column 't_mean'", "NaN or infinite", "row 14"],
    ),
    "weather negative hour count": (
        _cell(WEATHER, 15, "n_hours", "-24"),
        [str(WEATHER), "column 'n_hours'", "negative n_hours", "row 15"],
    ),
    "weather city-day twice": (_repeat_row(WEATHER, 16), [str(WEATHER), "duplicate city-day", "rows 16, 17"]),
    "weather row without a city": (
        _cell(WEATHER, 17, "city", ""),
        [str(WEATHER), "column 'city'", "missing city", "row 17"],
    ),
    "weather date in another format": (
        _cell(WEATHER, 18, "date", "05/11/2024"),
        [str(WEATHER), "column 'date'", "unparsable date", "row 18", "'05/11/2024'"],
    ),
    # the outage table (the target)
    "target value NaN": (
        _cell(OUTAGES, 19, "hours_off", "NaN"),
        [str(OUTAGES), "column 'hours_off'", "NaN or infinite", "row 19"],
    ),
    "target date with a time": (
        _cell(OUTAGES, 20, "date", "2024-11-05 10:00"),
        [str(OUTAGES), "column 'date'", "unparsable date", "row 20"],
    ),
    "target file in UTF-16": (
        lambda r: (r / OUTAGES).write_bytes((r / OUTAGES).read_text().encode("utf-16")),
        [str(OUTAGES), "binary content"],
    ),
    "target file is Parquet named .csv": (
        lambda r: pl.read_csv(r / OUTAGES).write_parquet(r / OUTAGES),
        [str(OUTAGES), "binary content in a file read as csv"],
    ),
    "target file of one blank line": (lambda r: (r / OUTAGES).write_text("\n\n"), [str(OUTAGES), "empty file"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_data_file_names_file_column_and_row(workdir: Path, case: str) -> None:
    breaker, expected = CASES[case]
    breaker(workdir)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, expected)


# --- the other readers, as an extra source of the demo spec (every source a spec names is read and checked) ------

KYIV_JAN_10 = "1736460000"  # 2025-01-10 00:00 in Kyiv
GOOD: dict[str, tuple[str, str]] = {  # reader → (file name, valid content)
    "alerts": (
        "alerts.csv",
        "region,started_at,finished_at,naive\nKyiv City,2025-01-10 10:00:00+00:00,2025-01-10 11:00:00+00:00,False\n",
    ),
    "dam_daily": (
        "dam.csv",
        "hour,date,price_uah,volume,rate,price_eur_mwh\n2025-01-10T00:00:00Z,2025-01-10,4000,1000,45,88.9\n"
        "2025-01-10T01:00:00Z,2025-01-10,4100,900,45,91.1\n",
    ),
    "m4": ("m4.csv", "V1,V2,V3,V4\nH1,1,2,3\nH2,4,5,NA\n"),
    "outage_schedule_json": (
        "schedule.json",
        '{"fact": {"data": {"'
        + KYIV_JAN_10
        + '": {"GPV1.1": {'
        + ", ".join(f'"{h}": "yes"' for h in range(1, 25))
        + "}}}}}",
    ),
    "outage_schedule_hourly": ("schedule.csv", "date,queue,hour_start,status_final\n2025-01-10,GPV1.1,0,yes\n"),
    "kyiv_temperature": (
        "kyiv.csv",
        "time,temperature_2m_mean,temperature_2m_min,temperature_2m_max\n2025-01-10,1.0,0.0,2.0\n",
    ),
}

OTHER: list[tuple[str, str, list[str]]] = [  # reader, bad content, fragments
    (
        "alerts",
        "region,started_at,finished_at,naive\nKyiv,2025-01-10 10:00Z,2025-01-10 11:00Z,maybe\n",
        ["'naive'", "row 1", "not a boolean"],
    ),
    (
        "alerts",
        "region,started_at,finished_at,naive\nKyiv,2025-01-10 10:00Z,2025-01-10 09:00Z,False\n",
        ["'finished_at'", "row 1", "ends before it starts"],
    ),
    (
        "alerts",
        "region,started_at,finished_at,naive\nKyiv,noon,2025-01-10 11:00Z,False\n",
        ["'started_at'", "row 1", "unparsable timestamp"],
    ),
    (
        "alerts",
        "region,started_at,finished_at,naive\n,2025-01-10 10:00Z,2025-01-10 11:00Z,False\n",
        ["'region'", "row 1", "missing region"],
    ),
    (
        "alerts",
        "oblast,raion,hromada,level,started_at,finished_at,source\nKyiv,,,city,2025-01-10 10:00Z,2025-01-10 11:00Z,x\n",
        ["'level'", "row 1", "unknown alert level"],
    ),
    ("alerts", "when,where\n1,2\n", ["not an air-raid alert file", "when, where"]),
    (
        "dam_daily",
        "hour,date,price_uah,volume,rate,price_eur_mwh\n2025-01-10T24:00:00Z,2025-01-10,1,1,45,1\n",
        ["'hour'", "row 1", "beyond the length of the Kyiv day"],
    ),
    (
        "dam_daily",
        "hour,date,price_uah,volume,rate,price_eur_mwh\n2025-01-11T00:00:00Z,2025-01-10,1,1,45,1\n",
        ["'hour'", "row 1", "on another day"],
    ),
    (
        "dam_daily",
        "hour,date,price_uah,volume,rate,price_eur_mwh\n2025-01-10T00:00:00Z,2025-01-10,1,1,0,1\n",
        ["'rate'", "row 1", "non-positive exchange rate"],
    ),
    (
        "dam_daily",
        "hour,date,price_uah,volume,rate,price_eur_mwh\n2025-01-10T00:00:00Z,2025-01-10,1,-5,45,1\n",
        ["'volume'", "row 1", "negative volume"],
    ),
    ("m4", "V1,V2,V3,V4\nH1,1,x,3\n", ["'V2…'", "row 1", "non-numeric value"]),
    ("m4", "V1,V2,V3,V4\nH1,NA,2,3\n", ["'V2…'", "row 1", "value after NA padding"]),
    ("m4", "V1,V2,V3,V4\nH1,1,2,3\nH1,4,5,6\n", ["'V1'", "rows 1, 2", "duplicate id"]),
    (
        "outage_schedule_json",
        '{"fact": {"data": {"' + KYIV_JAN_10 + '": {"GPV1.1": {"1": "dark"}}}}}',
        ["fact.data[" + KYIV_JAN_10 + "][GPV1.1][1]", "unknown outage status", "'dark'"],
    ),
    (
        "outage_schedule_json",
        '{"fact": {"data": {"' + KYIV_JAN_10 + '": {"GPV1.1": {"25": "yes"}}}}}',
        ["hour key '25' out of range"],
    ),
    ("outage_schedule_json", '{"fact": {"data": {"tomorrow": {}}}}', ["day key 'tomorrow' is not a unix timestamp"]),
    ("outage_schedule_json", '{"fact": {"today": 1}}', ["column 'fact.data'", "no 'fact.data' object"]),
    ("outage_schedule_json", '{"fact": ', ["invalid JSON"]),
    (
        "outage_schedule_hourly",
        "date,queue,hour_start,status_final\n2025-01-10,GPV1.1,24,yes\n",
        ["'hour_start'", "row 1", "hour out of range"],
    ),
    (
        "outage_schedule_hourly",
        "date,queue,hour_start,status_final\n2025-01-10,GPV1.1,0,dark\n",
        ["'status_final'", "row 1", "unknown outage status"],
    ),
    (
        "outage_schedule_hourly",
        "date,queue,hour_start,status_final\n2025-01-10,GPV1.1,0,yes\n2025-01-10,GPV1.1,0,no\n",
        ["'hour_start'", "rows 1, 2", "duplicate schedule slot"],
    ),
    (
        "kyiv_temperature",
        "time,temperature_2m_mean,temperature_2m_min,temperature_2m_max\n2025-01-10,1.0,3.0,4.0\n",
        ["'temperature_2m_min'", "row 1", "minimum above the daily mean"],
    ),
]


def _extra_source(root: Path, reader: str, content: str) -> str:
    name = GOOD[reader][0]
    (root / "data" / name).write_text(content)
    spec_edit("\n[target]\n", f'\n[sources.extra]\nreader = "{reader}"\npath = "data/{name}"\n\n[target]\n')(root)
    return f"data/{name}"


def test_the_other_readers_accept_their_valid_files(workdir: Path) -> None:
    """The positive control of the table below: each valid file, added as an extra source, validates."""
    # Kyiv temperature would clash with the demo's city temperatures (both give temp_mean_c): read it directly
    (workdir / "kyiv.csv").write_text(GOOD["kyiv_temperature"][1])
    assert sources.read_kyiv_temperature(workdir / "kyiv.csv").height == 1
    for reader, (_, content) in GOOD.items():
        if reader == "kyiv_temperature":
            continue
        spec = (workdir / "spec.toml").read_text()
        _extra_source(workdir, reader, content)
        result = run(["validate", "--config", "spec.toml"])
        assert result.exit_code == 0, (reader, result.output)
        (workdir / "spec.toml").write_text(spec)


@pytest.mark.parametrize(("reader", "content", "fragments"), OTHER, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(OTHER)])
def test_the_other_readers_name_file_column_and_row(
    workdir: Path, reader: str, content: str, fragments: list[str]
) -> None:
    path = _extra_source(workdir, reader, content)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, [path, *fragments])
