"""Source readers: the real files in ../shared/data (row counts, known values, derived-file comparisons, DST) and
small synthetic files for every kind of bad input."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from features.contract import DATETIME_DTYPE, DS, ID
from features.errors import DataError
from features.ingest.events import local_date
from features.ingest.sources import (
    classify_models,
    daily_hours_off,
    dam_daily,
    missing_hours,
    read_alert_events,
    read_alerts,
    read_dam,
    read_kyiv_temperature,
    read_openmeteo_daily,
    read_openmeteo_hourly,
    read_outage_schedule_hourly,
    read_outage_schedule_json,
    read_strike_events,
    read_strike_reports,
)

realdata = pytest.mark.realdata


def assert_canonical(frame: pl.DataFrame, *, hourly: bool) -> None:
    """unique_id String, ds Date/Datetime UTC, Float64 values, sorted, one row per (unique_id, ds)."""
    assert frame.columns[:2] == [ID, DS]
    assert frame.schema[ID] == pl.String
    assert frame.schema[DS] == (DATETIME_DTYPE if hourly else pl.Date)
    assert all(frame.schema[c] == pl.Float64 for c in frame.columns[2:])
    assert frame.equals(frame.sort(ID, DS))
    assert not frame.select(pl.struct(ID, DS).is_duplicated().any()).item()


def assert_regular(frame: pl.DataFrame, every: str) -> None:
    step = frame.group_by(ID).agg(pl.col(DS).diff().drop_nulls().unique().alias("d"))
    want = pl.duration(days=1) if every == "1d" else pl.duration(hours=1)
    assert step.select(pl.col("d").list.len().max()).item() == 1
    assert step.select((pl.col("d").list.first() == want).all()).item()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def kyiv_day(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    return frame.filter(local_date(pl.col(DS)) == day)


# --- strikes ---------------------------------------------------------------------------------------------------

STRIKE_HEADER = "time_start,time_end,model,launched,destroyed,source\n"
LOOKUP = "model,category\nShahed-136/131,UAV\nLancet,UAV\nKalibr,cruise missile\nKAB,guided bomb\n"


@pytest.fixture(scope="module")
def strikes_dir(shared_data: Path) -> Path:
    return shared_data / "missile-attacks-ua"


@pytest.fixture(scope="module")
def strike_events(strikes_dir: Path) -> pl.DataFrame:
    return read_strike_events(strikes_dir / "missile_attacks_daily.csv", strikes_dir / "missiles_and_uavs.csv")


@pytest.fixture(scope="module")
def strikes(strikes_dir: Path) -> pl.DataFrame:
    return read_strike_reports(strikes_dir / "missile_attacks_daily.csv", strikes_dir / "missiles_and_uavs.csv")


@realdata
def test_strike_events_parse_every_row(strike_events: pl.DataFrame) -> None:
    assert strike_events.height == 3585
    assert strike_events.schema["start"] == DATETIME_DTYPE
    assert strike_events["category"].value_counts().sort("category").rows() == [
        ("missile", 1261),
        ("uav", 2320),
        ("unmapped", 4),
    ]
    unmapped = set(strike_events.filter(pl.col("category") == "unmapped")["model"])
    assert unmapped == {"Aerial Bomb", "Картограф", "Привет-82", "Фенікс"}
    assert strike_events["launched"].null_count() == 3
    assert strike_events["destroyed"].null_count() == 6
    assert (strike_events["end"] >= strike_events["start"]).all()
    # "2023-05-16 3:30" is 03:30 Kyiv summer time = 00:30 UTC.
    irregular = strike_events.filter(pl.col("day") == date(2023, 5, 16), pl.col("model") == "Kalibr")
    assert irregular["start"].dt.replace_time_zone(None).to_list() == [datetime(2023, 5, 16, 0, 30)]


@realdata
def test_strike_daily_matches_derived_totals_every_day(strikes: pl.DataFrame, strikes_dir: Path) -> None:
    assert_canonical(strikes, hourly=False)
    assert_regular(strikes, "1d")
    ref = pl.read_csv(strikes_dir / "derived_daily_totals.csv", try_parse_dates=True).fill_null(0)
    assert strikes.height == ref.height == 1285
    joined = ref.join(strikes, left_on="date", right_on=DS, how="inner")
    assert joined.height == 1285
    pairs = {
        "n_records": "n_reports",
        "launched_total": "launched_total",
        "destroyed_total": "destroyed_total",
        "launched_uav": "launched_uav",
        "destroyed_uav": "destroyed_uav",
        "launched_missile_or_bomb": "launched_missile",
        "destroyed_missile_or_bomb": "destroyed_missile",
        "launched_unmapped": "launched_unmapped",
    }
    suffixed = {k: (v if k != v else f"{v}_right") for k, v in pairs.items()}
    for ref_col, col in suffixed.items():
        assert (joined[ref_col].cast(pl.Float64) == joined[col]).all(), ref_col
    assert strikes.filter(pl.col("n_reports") > 0).height == 1060


@realdata
@pytest.mark.parametrize(
    ("day", "launched"),
    [(date(2025, 12, 5), 706), (date(2025, 9, 6), 832), (date(2025, 7, 8), 811), (date(2026, 3, 24), 773)],
)
def test_strike_largest_days(strikes: pl.DataFrame, day: date, launched: int) -> None:
    assert strikes.filter(pl.col(DS) == day)["launched_total"].item() == launched


@realdata
def test_strike_spot_check_2022_10_10(strikes: pl.DataFrame) -> None:
    row = strikes.filter(pl.col(DS) == date(2022, 10, 10)).row(0, named=True)
    assert (row["launched_missile"], row["launched_uav"]) == (84.0, 24.0)


def test_classify_bundles_any_missile_part_makes_a_missile() -> None:
    lookup = pl.read_csv(LOOKUP.encode())
    models = pl.Series(["Shahed-136/131 and Lancet", "Lancet and Kalibr", "Lancet and Foo", "KAB", "Foo"])
    out = classify_models(models, lookup).sort("model")
    assert dict(out.select("model", "category").iter_rows()) == {
        "Shahed-136/131 and Lancet": "uav",
        "Lancet and Kalibr": "missile",
        "Lancet and Foo": "unmapped",
        "KAB": "missile",
        "Foo": "unmapped",
    }


def _strike_files(tmp_path: Path, body: str) -> tuple[Path, Path]:
    return write(tmp_path, "attacks.csv", STRIKE_HEADER + body), write(tmp_path, "lookup.csv", LOOKUP)


def test_strike_mixed_formats_and_empty_days(tmp_path: Path) -> None:
    body = (
        "2024-01-01 18:00 ,2024-01-02 07:00,Shahed-136/131,10.0,8.0,p1\n"
        "2024-01-03,2024-01-03,Kalibr,4.0,,p2\n"
        "2024-01-03 3:30,2024-01-03 9:05,Lancet and Kalibr,,0.0,p3\n"
    )
    events = read_strike_events(*_strike_files(tmp_path, body))
    bare = events.filter(pl.col("source") == "p2").row(0, named=True)
    assert not bare["start_has_time"] and not bare["end_has_time"]
    assert (bare["end"] - bare["start"]).total_seconds() == 24 * 3600  # a bare date is the whole local day
    daily = read_strike_reports(*_strike_files(tmp_path, body))
    assert daily[DS].to_list() == [date(2024, 1, d) for d in (1, 2, 3)]
    assert daily["launched_total"].to_list() == [10.0, 0.0, 4.0]  # 2 Jan has no report: zero
    assert daily.filter(pl.col(DS) == date(2024, 1, 3)).select(
        "launched_missile", "n_launched_missing", "n_destroyed_missing", "n_reports"
    ).row(0) == (4.0, 1.0, 1.0, 2.0)


def test_strike_unparsable_time_names_column_and_row(tmp_path: Path) -> None:
    body = "2024-01-01 18:00,2024-01-02 07:00,Kalibr,1,1,p\n2024-01-0x 18:00,2024-01-02 07:00,Kalibr,1,1,p\n"
    with pytest.raises(DataError, match=r"attacks.csv: column 'time_start'.*row 2; found '2024-01-0x 18:00'"):
        read_strike_events(*_strike_files(tmp_path, body))


def test_strike_destroyed_above_launched(tmp_path: Path) -> None:
    body = "2024-01-01 18:00,2024-01-02 07:00,Kalibr,3,4,p\n"
    with pytest.raises(DataError, match=r"column 'destroyed': more destroyed than launched; row 1"):
        read_strike_events(*_strike_files(tmp_path, body))


def test_strike_time_in_dst_gap_and_end_before_start(tmp_path: Path) -> None:
    gap = "2024-03-31 03:30,2024-03-31 07:00,Kalibr,1,1,p\n"
    with pytest.raises(DataError, match="DST gap"):
        read_strike_events(*_strike_files(tmp_path, gap))
    backwards = "2024-01-02 18:00,2024-01-02 07:00,Kalibr,1,1,p\n"
    with pytest.raises(DataError, match="column 'time_end': attack window ends before it starts"):
        read_strike_events(*_strike_files(tmp_path, backwards))


# --- air-raid alerts -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alerts_dir(shared_data: Path) -> Path:
    return shared_data / "air-raid-alerts-ua"


@pytest.fixture(scope="module")
def volunteer(alerts_dir: Path) -> pl.DataFrame:
    return read_alerts(alerts_dir / "volunteer_data_en.csv")


@realdata
def test_alerts_match_derived_daily_volunteer_every_row(volunteer: pl.DataFrame, alerts_dir: Path) -> None:
    assert_canonical(volunteer, hourly=False)
    assert_regular(volunteer, "1d")
    assert volunteer[ID].n_unique() == 25
    assert volunteer.height == 25 * (date(2024, 10, 10) - date(2022, 2, 25)).days + 25
    ref = pl.read_csv(alerts_dir / "derived_daily_region_volunteer.csv", try_parse_dates=True)
    assert ref.height == 16821
    joined = ref.join(volunteer, left_on=["region", "date"], right_on=[ID, DS], how="left", suffix="_m")
    assert joined.height == 16821
    assert ((joined["alert_minutes"] - joined["alert_minutes_m"]).abs() <= 0.05 + 1e-9).all()
    assert (joined["alerts_started"] == joined["alerts_started_m"]).all()
    assert (joined["naive_alerts"] == joined["naive_alerts_m"]).all()
    # every other region-day is a quiet day (0), except Luhansk under its permanent siren (null)
    extra = volunteer.join(ref, left_on=[ID, DS], right_on=["region", "date"], how="anti")
    assert extra.filter(pl.col("alert_minutes") != 0).is_empty()
    unknown = extra.filter(pl.col("alert_minutes").is_null())
    assert set(unknown[ID]) == {"Luhanska oblast"}
    assert unknown[DS].min() == date(2022, 4, 5)


@realdata
def test_alert_events_volunteer_and_official_counts(alerts_dir: Path) -> None:
    vol = read_alert_events(alerts_dir / "volunteer_data_en.csv")
    assert vol.height == 54514
    assert vol["naive"].sum() == 2395
    official = read_alert_events(alerts_dir / "official_data_en.csv")
    assert official.height == 36537  # oblast-level rows only
    assert official["naive"].sum() == 0
    hromada = read_alert_events(alerts_dir / "official_data_en.csv", level="hromada")
    assert hromada.height == 5597
    assert hromada[ID].str.starts_with("Poltavska oblast/Lubenskyi raion/").any()  # the swapped row, fixed


@realdata
def test_official_alerts_with_duration_cap(alerts_dir: Path) -> None:
    raw = read_alerts(alerts_dir / "official_data_en.csv")
    capped = read_alerts(alerts_dir / "official_data_en.csv", max_duration_hours=24)
    assert_canonical(capped, hourly=False)
    assert capped[ID].n_unique() == 25
    assert capped["alert_minutes"].sum() < raw["alert_minutes"].sum()
    assert capped["alert_minutes"].max() <= 1500


ALERT_HEADER = "region,started_at,finished_at,naive\n"


def test_alerts_dst_days_and_naive_pieces(tmp_path: Path) -> None:
    body = (
        "A,2024-10-26 21:00:00+00:00,2024-10-27 22:00:00+00:00,False\n"  # the whole 25-hour day
        "B,2024-03-30 22:00:00+00:00,2024-03-31 21:00:00+00:00,False\n"  # the whole 23-hour day
        "B,2024-04-02 20:30:00.5+00:00,2024-04-02 21:30:00+00:00,True\n"  # crosses Kyiv midnight (21:00 UTC)
    )
    out = read_alerts(write(tmp_path, "alerts.csv", ALERT_HEADER + body), permanent_sirens={})
    assert out.filter(pl.col(ID) == "A", pl.col(DS) == date(2024, 10, 27))["alert_minutes"].item() == 1500
    b = out.filter(pl.col(ID) == "B")
    assert b.filter(pl.col(DS) == date(2024, 3, 31))["alert_minutes"].item() == 1380
    split = b.filter(pl.col(DS).is_in([date(2024, 4, 2), date(2024, 4, 3)]))
    assert split["alert_minutes"].to_list() == pytest.approx([30.0 - 0.5 / 60, 30.0])  # 20:30:00.5 → 21:00
    assert split.select("alerts_started", "naive_alerts").rows() == [(1.0, 1.0), (0.0, 1.0)]
    assert out.height == 2 * ((date(2024, 10, 27) - date(2024, 3, 31)).days + 1)  # zeros over the span


def test_alert_end_before_start_and_bad_timestamp(tmp_path: Path) -> None:
    backwards = ALERT_HEADER + "A,2024-01-01 10:00:00+00:00,2024-01-01 09:00:00+00:00,False\n"
    with pytest.raises(DataError, match="column 'finished_at': alert ends before it starts; row 1"):
        read_alerts(write(tmp_path, "a.csv", backwards))
    good = "A,2024-01-01 10:00:00+00:00,2024-01-01 11:00:00+00:00,False\n"
    garbled = ALERT_HEADER + good + "A,2024-01-0x 10:00:00+00:00,2024-01-01 11:00:00+00:00,False\n"
    with pytest.raises(DataError, match=r"column 'started_at': unparsable timestamp.*row 2; found '2024-01-0x"):
        read_alerts(write(tmp_path, "b.csv", garbled))


def test_alert_cap_truncates_long_sirens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = ALERT_HEADER + "A,2024-01-01 00:00:00+00:00,2024-01-04 00:00:00+00:00,False\n"
    with caplog.at_level(logging.INFO, logger="features.ingest.sources"):
        out = read_alerts(write(tmp_path, "a.csv", body), max_duration_hours=24, permanent_sirens={})
    assert out["alert_minutes"].sum() == 1440
    assert "truncated" in caplog.text


# --- Dnipro outage schedules -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outage_dir(shared_data: Path) -> Path:
    return shared_data / "dnipro-outage-schedules"


@pytest.fixture(scope="module")
def schedule(outage_dir: Path) -> pl.DataFrame:
    return read_outage_schedule_hourly(outage_dir / "dnipro_schedule_hourly_final.csv")


@realdata
def test_outage_hourly_shape(schedule: pl.DataFrame) -> None:
    assert_canonical(schedule, hourly=True)
    assert_regular(schedule, "1h")
    assert schedule.height == 7776
    assert schedule[ID].n_unique() == 12
    assert "dnipro/GPV1.1" in set(schedule[ID])
    # 2025-12-05 00:00 Kyiv (UTC+2) is 2025-12-04 22:00 UTC
    assert schedule[DS].min().replace(tzinfo=None) == datetime(2025, 12, 4, 22)


@realdata
@pytest.mark.parametrize(
    ("status_column", "ref_column"),
    [("status_final", "hours_off_final"), ("status_first_published", "hours_off_first_published")],
)
def test_outage_daily_matches_derived_all_324_rows(outage_dir: Path, status_column: str, ref_column: str) -> None:
    hourly = read_outage_schedule_hourly(outage_dir / "dnipro_schedule_hourly_final.csv", status_column=status_column)
    daily = daily_hours_off(hourly)
    assert_canonical(daily, hourly=False)
    ref = pl.read_csv(outage_dir / "dnipro_outage_hours_daily.csv", try_parse_dates=True)
    ref = ref.with_columns(("dnipro/" + pl.col("queue")).alias(ID))
    joined = ref.join(daily, left_on=[ID, "date"], right_on=[ID, DS], how="inner")
    assert joined.height == daily.height == 324
    assert (joined["hours_off"] == joined[ref_column]).all()
    assert (joined["n_hours_right"] == 24).all()
    if status_column == "status_final":  # SOURCE.md: the range over all queue-days is 1-17 h
        assert (daily["hours_off"].min(), daily["hours_off"].max()) == (1.0, 17.0)


@realdata
def test_outage_json_snapshot_agrees_with_final_csv(outage_dir: Path, schedule: pl.DataFrame) -> None:
    path = outage_dir / "dnipro_last_snapshot_raw.json"
    snap = read_outage_schedule_json(path, "dnipro")
    assert_canonical(snap, hourly=True)
    # the year-rollover days 2026-12-28..31 are moved back to 2025; the empty 2026-01-09 key gives no rows
    assert snap.height == 4 * 12 * 24
    assert snap.select(local_date(pl.col(DS)).alias("d"))["d"].unique().sort().to_list() == [
        date(2025, 12, d) for d in (28, 29, 30, 31)
    ]
    joined = snap.join(schedule, on=[ID, DS], how="left", suffix="_csv")
    assert joined["off_hours_csv"].null_count() == 0
    assert (joined["off_hours"] == joined["off_hours_csv"]).all()  # all 1152 slots equal
    # taken literally (no re-dating) the snapshot shares no date with the CSV
    literal = read_outage_schedule_json(path, "dnipro", max_days_ahead=400)
    assert literal.join(schedule, on=[ID, DS], how="semi").is_empty()
    assert read_outage_schedule_json(path, "dnipro", future_days="drop").is_empty()
    with pytest.raises(DataError, match="days after the snapshot date 2026-01-09"):
        read_outage_schedule_json(path, "dnipro", future_days="error")


def _day_slots(statuses: dict[int, str]) -> dict[str, str]:
    return {str(h): statuses.get(h, "yes") for h in range(1, 25)}


def test_outage_json_both_day_key_conventions(tmp_path: Path) -> None:
    utc_midnight = int(datetime(2025, 12, 10, tzinfo=UTC).timestamp())
    kyiv_midnight = 1765404000  # 2025-12-10 22:00 UTC = 2025-12-11 00:00 Kyiv
    doc = {
        "fact": {
            "data": {
                str(utc_midnight): {"GPV1.1": _day_slots({1: "no", 2: "first"})},
                str(kyiv_midnight): {"GPV1.1": _day_slots({24: "mfirst", 23: "maybe"})},
            }
        }
    }
    out = read_outage_schedule_json(write(tmp_path, "k.json", json.dumps(doc)), "kyiv")
    daily = daily_hours_off(out)
    assert daily.rows() == [
        ("kyiv/GPV1.1", date(2025, 12, 10), 1.5, 0.0, 24.0),
        ("kyiv/GPV1.1", date(2025, 12, 11), 0.0, 1.5, 24.0),
    ]
    first = out.row(0, named=True)
    assert first[DS].replace(tzinfo=None) == datetime(2025, 12, 9, 22)  # hour 1 = 00:00 Kyiv
    assert first["off_hours"] == 1.0


def test_outage_json_rollover_never_overwrites_a_genuine_day(tmp_path: Path) -> None:
    kyiv = 1767132000  # 2025-12-31 00:00 Kyiv
    doc = {
        "fact": {
            "today": 1767564000,  # 2026-01-05 00:00 Kyiv
            "data": {
                str(kyiv): {"GPV1.1": _day_slots({1: "no"})},
                str(kyiv + 365 * 86400): {"GPV1.1": _day_slots({})},  # 2026-12-31: the rollover copy
            },
        }
    }
    out = read_outage_schedule_json(write(tmp_path, "r.json", json.dumps(doc)), "dnipro")
    assert daily_hours_off(out).select(DS, "hours_off").rows() == [(date(2025, 12, 31), 1.0)]


def test_outage_json_unknown_status_names_key_queue_hour(tmp_path: Path) -> None:
    doc = {"fact": {"data": {"1765404000": {"GPV3.2": _day_slots({7: "off?"})}}}}
    with pytest.raises(DataError, match=r"day key 1765404000, queue GPV3.2, hour 7.*found 'off\?'"):
        read_outage_schedule_json(write(tmp_path, "bad.json", json.dumps(doc)), "dnipro")
    odd_key = {"fact": {"data": {"1765400000": {"GPV1.1": _day_slots({})}}}}
    with pytest.raises(DataError, match="neither UTC nor Kyiv midnight"):
        read_outage_schedule_json(write(tmp_path, "odd.json", json.dumps(odd_key)), "dnipro")


@pytest.mark.parametrize(("day", "n_hours", "hours_off"), [(date(2025, 3, 30), 23, 1.0), (date(2025, 10, 26), 25, 3.0)])
def test_outage_csv_dst_days_have_23_and_25_hours(tmp_path: Path, day: date, n_hours: int, hours_off: float) -> None:
    lines = ["date,queue,hour_start,status_final"]
    lines += [f"{day},GPV1.1,{h},{'no' if h in (2, 3) else 'yes'}" for h in range(24)]
    hourly = read_outage_schedule_hourly(write(tmp_path, "dst.csv", "\n".join(lines) + "\n"))
    assert kyiv_day(hourly, day).height == hourly.height == n_hours
    assert_regular(hourly, "1h")
    # spring: the 03:00 slot never happens (1 h off); autumn: 03:00 happens twice (3 h off)
    assert daily_hours_off(hourly).select("hours_off", "n_hours").rows() == [(hours_off, float(n_hours))]


def test_outage_csv_unknown_status_and_missing_hour(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = "date,queue,hour_start,status_final\n2025-12-01,GPV1.1,0,yes\n2025-12-01,GPV1.1,1,ja\n"
    with pytest.raises(DataError, match="column 'status_final': unknown outage status; row 2; found 'ja'"):
        read_outage_schedule_hourly(write(tmp_path, "bad.csv", bad))
    lines = ["date,queue,hour_start,status_final"] + [f"2025-12-01,GPV1.1,{h},no" for h in range(24) if h != 5]
    with caplog.at_level(logging.WARNING, logger="features.ingest.sources"):
        hourly = read_outage_schedule_hourly(write(tmp_path, "gap.csv", "\n".join(lines) + "\n"))
    assert "1 missing hour(s) kept as null rows" in caplog.text
    assert hourly.height == 24 and hourly["off_hours"].null_count() == 1
    assert daily_hours_off(hourly)["hours_off"].to_list() == [None]  # a partial day is not a light day


# --- weather ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weather_dir(shared_data: Path) -> Path:
    return shared_data / "ua-weather-openmeteo"


@pytest.fixture(scope="module")
def kyiv_hourly(weather_dir: Path) -> pl.DataFrame:
    return read_openmeteo_hourly(weather_dir / "kyiv_hourly.csv", "kyiv")


@realdata
def test_openmeteo_daily_drops_edge_days(weather_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="features.ingest.sources"):
        daily = read_openmeteo_daily(weather_dir / "derived_daily_24_cities.csv")
    assert "dropped 48 partial edge day(s) on 2022-01-01, 2024-01-31" in caplog.text
    assert_canonical(daily, hourly=False)
    assert_regular(daily, "1d")
    assert daily.height == 18264 - 48 and daily[ID].n_unique() == 24
    assert {"kyiv", "dnipro", "kharkiv", "odesa"} <= set(daily[ID])
    assert {"temp_mean_c", "temp_min_c", "temp_max_c", "precip_sum_mm", "wind_speed_100m_max_kmh"} <= set(daily.columns)
    kyiv = daily.filter(pl.col(ID) == "kyiv")
    assert (kyiv[DS].min(), kyiv[DS].max()) == (date(2022, 1, 2), date(2024, 1, 30))
    assert kyiv["temp_mean_c"].min() == -13.36 and kyiv["temp_mean_c"].max() == 27.96
    assert round(kyiv["temp_mean_c"].mean(), 1) == 9.4
    assert sorted(daily["n_hours"].unique().to_list()) == [23.0, 24.0, 25.0]


@realdata
def test_openmeteo_hourly_utc_and_agrees_with_daily(weather_dir: Path, kyiv_hourly: pl.DataFrame) -> None:
    assert_canonical(kyiv_hourly, hourly=True)
    assert_regular(kyiv_hourly, "1h")
    assert kyiv_hourly.height == 18240
    assert kyiv_hourly[DS].min().replace(tzinfo=None) == datetime(2022, 1, 1)
    assert kyiv_hourly["temp_c"][0] == 2.6655
    # spring-forward and fall-back Kyiv days have 23 and 25 UTC hours
    assert kyiv_day(kyiv_hourly, date(2023, 3, 26)).height == 23
    assert kyiv_day(kyiv_hourly, date(2023, 10, 29)).height == 25
    mine = kyiv_hourly.group_by(local_date(pl.col(DS)).alias(DS)).agg(
        pl.col("temp_c").mean().alias("m"), pl.len().alias("n")
    )
    daily = read_openmeteo_daily(weather_dir / "derived_daily_24_cities.csv").filter(pl.col(ID) == "kyiv")
    joined = daily.join(mine, on=DS)
    assert joined.height == 759
    assert (joined["n_hours"] == joined["n"]).all()
    assert ((joined["temp_mean_c"] - joined["m"]).abs() < 0.006).all()


@realdata
def test_kyiv_temperature(shared_data: Path, weather_dir: Path) -> None:
    path = shared_data / "kyiv-temperature-daily" / "kyiv_temperature_daily_2022-05-19_2025-12-31.csv"
    temp = read_kyiv_temperature(path)
    assert_canonical(temp, hourly=False)
    assert_regular(temp, "1d")
    assert temp.height == 1323 and temp.columns == [ID, DS, "temp_mean_c", "temp_min_c", "temp_max_c"]
    assert temp.filter(pl.col(DS) == date(2024, 1, 8))["temp_mean_c"].item() == -13.1
    assert temp.filter(pl.col(DS) == date(2025, 12, 24))["temp_mean_c"].item() == -7.2
    cities = read_openmeteo_daily(weather_dir / "derived_daily_24_cities.csv").filter(pl.col(ID) == "kyiv")
    diff = temp.join(cities, on=[ID, DS]).select((pl.col("temp_mean_c") - pl.col("temp_mean_c_right")).abs())
    assert diff.height == 622
    assert diff.mean().item() < 0.15 and diff.max().item() < 0.65


def test_weather_temperature_order_names_rows(tmp_path: Path) -> None:
    text = "time,temperature_2m_mean,temperature_2m_max,temperature_2m_min\n2024-01-01,1,2,0\n2024-01-02,1,2,3\n"
    with pytest.raises(DataError, match="column 'temperature_2m_min': daily minimum above the daily mean; row 2"):
        read_kyiv_temperature(write(tmp_path, "t.csv", text))
    text = "time,temperature_2m_mean,temperature_2m_max,temperature_2m_min\n2024-01-01,5,2,0\n"
    with pytest.raises(DataError, match=r"column 'temperature_2m_max'.*row 1"):
        read_kyiv_temperature(write(tmp_path, "t2.csv", text))


def test_weather_daily_partial_inner_day_becomes_null(tmp_path: Path) -> None:
    header = "date,city,n_hours," + ",".join(
        [
            "t_mean,t_min,t_max,apparent_t_mean,apparent_t_min,precip_sum_mm,rain_sum_mm,rh_mean",
            "cloud_cover_mean,wind_speed_100m_max_kmh,surface_pressure_mean_hpa",
        ]
    )
    vals = "1,0,2,0,-1,0,0,80,50,10,1000"
    rows = [f"2024-01-0{d},Kyiv,{n},{vals}" for d, n in ((1, 3), (2, 24), (3, 20), (4, 24), (5, 1))]
    daily = read_openmeteo_daily(write(tmp_path, "w.csv", "\n".join([header, *rows]) + "\n"))
    assert daily[DS].to_list() == [date(2024, 1, d) for d in (2, 3, 4)]
    assert daily["temp_mean_c"].to_list() == [1.0, None, 1.0]
    assert daily[ID].unique().to_list() == ["kyiv"]


def test_weather_hourly_bad_value_names_row(tmp_path: Path) -> None:
    header = "date,temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,rain,"
    header += "surface_pressure,cloud_cover,wind_speed_100m,wind_direction_100m\n"
    text = header + "2022-01-01 00:00:00,1,90,0,0,0,990,100,10,200\n2022-01-01 01:00:00,warm,90,0,0,0,990,100,10,200\n"
    with pytest.raises(DataError, match="column 'temperature_2m': non-numeric value; row 2; found 'warm'"):
        read_openmeteo_hourly(write(tmp_path, "h.csv", text), "kyiv")


# --- day-ahead market ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dam(shared_data: Path) -> pl.DataFrame:
    return read_dam(shared_data / "ua-dam-prices" / "DAM_UA.csv")


@realdata
def test_dam_hours_and_dst(dam: pl.DataFrame) -> None:
    assert_canonical(dam, hourly=True)
    assert_regular(dam, "1h")
    assert dam.height == 35060 + 4  # 4 autumn-DST hours absent from the file, kept as null rows
    assert dam.columns == [ID, DS, "price_uah_mwh", "volume_mwh", "price_eur_mwh", "uah_per_eur"]
    missing = missing_hours(dam)[DS].dt.replace_time_zone(None).to_list()
    assert missing == [datetime(y, 10, d, 21) for y, d in ((2022, 30), (2023, 29), (2024, 27), (2025, 26))]
    for spring, autumn in (((2024, 3, 31), (2024, 10, 27)), ((2025, 3, 30), (2025, 10, 26))):
        assert kyiv_day(dam, date(*spring)).height == 23
        assert kyiv_day(dam, date(*autumn)).height == 25
        assert kyiv_day(dam, date(*autumn))["price_uah_mwh"].null_count() == 1
    # the "Z" label is the local delivery hour: 2022-01-01T00:00:00Z is 00:00 Kyiv = 2021-12-31 22:00 UTC
    assert dam[DS].min().replace(tzinfo=None) == datetime(2021, 12, 31, 22)
    assert dam["price_uah_mwh"][0] == 1700.0
    assert (dam["price_uah_mwh"].min(), dam["price_uah_mwh"].max()) == (10.0, 15000.0)
    maxima = dam.group_by(local_date(pl.col(DS)).dt.year().alias("y")).agg(pl.col("price_uah_mwh").max())
    assert dict(maxima.iter_rows()) == {2022: 4000.0, 2023: 7500.0, 2024: 9000.0, 2025: 15000.0}


@realdata
def test_dam_daily(dam: pl.DataFrame) -> None:
    daily = dam_daily(dam)
    assert_canonical(daily, hourly=False)
    assert_regular(daily, "1d")
    assert daily.height == 1461
    assert daily["n_hours"].value_counts().sort("n_hours").rows() == [(23.0, 4), (24.0, 1457)]
    assert daily["hours_at_cap"].min() == 0 and daily["hours_at_cap"].max() <= 24
    relaxed = dam_daily(dam, cap_tolerance=0.01)
    assert relaxed["hours_at_cap"].sum() > daily["hours_at_cap"].sum()
    no_caps = dam_daily(dam, caps={})
    assert no_caps["hours_at_cap"].null_count() == 1461


DAM_HEADER = "country,hour,date,price_uah,volume,rate,price_eur_mwh\n"


def test_dam_bad_labels(tmp_path: Path) -> None:
    spring = DAM_HEADER + "".join(f"UA,2025-03-30T{h:02d}:00:00Z,2025-03-30,100,1,40,2.5\n" for h in range(24))
    with pytest.raises(DataError, match="delivery hour beyond the length of the Kyiv day; row 24"):
        read_dam(write(tmp_path, "s.csv", spring))
    shifted = DAM_HEADER + "UA,2025-03-29T00:00:00Z,2025-03-30,100,1,40,2.5\n"
    with pytest.raises(DataError, match="column 'hour': delivery-hour label on another day"):
        read_dam(write(tmp_path, "x.csv", shifted))
    garbled = DAM_HEADER + "UA,2025-03-29 noon,2025-03-29,100,1,40,2.5\n"
    with pytest.raises(DataError, match="column 'hour': unparsable delivery hour; row 1"):
        read_dam(write(tmp_path, "g.csv", garbled))
    dup = DAM_HEADER + "UA,2025-03-29T05:00:00Z,2025-03-29,100,1,40,2.5\n" * 2
    with pytest.raises(DataError, match="duplicate delivery hour; rows 1, 2"):
        read_dam(write(tmp_path, "d.csv", dup))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_dam(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="missing column 'volume'"):
        read_dam(write(tmp_path, "m.csv", "country,hour,date,price_uah,rate,price_eur_mwh\n"))
