"""Tests of the synthetic demo dataset (experiments/demo/, docs/demo-data.md)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from experiments import demo
from experiments.demo import (
    N_MISSING_REGION_DAYS,
    OUTAGES_FILE,
    REGION_NAMES,
    STRIKES_FILE,
    WEAPONS_FILE,
    WEATHER_FILE,
    DemoFrames,
    DemoManifest,
    damage_stock,
    generate_demo,
    kyiv_day_hours,
    read_manifest,
    write_demo_data,
)

SHARED_DATA = Path(__file__).parents[1].parent / "shared" / "data"
REAL_EVENTS = SHARED_DATA / "missile-attacks-ua" / "missile_attacks_daily.csv"
REAL_WEAPONS = SHARED_DATA / "missile-attacks-ua" / "missiles_and_uavs.csv"
REAL_WEATHER = SHARED_DATA / "ua-weather-openmeteo" / "derived_daily_24_cities.csv"
REAL_CATEGORIES = {
    "UAV",
    "cruise missile",
    "ballistic missile",
    "surface-to-air missile",
    "surface-to-air and ballistic",
    "guided bomb",
}
SHORT = {"seed": 7, "start": date(2023, 11, 1), "end": date(2024, 2, 29)}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _header(path: Path) -> list[str]:
    if not path.is_file():
        pytest.skip(f"real file {path} not available")
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


def _read_raw(root: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(root / name, infer_schema=False)


@pytest.fixture(scope="module")
def frames() -> DemoFrames:
    return generate_demo()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoManifest]:
    root = tmp_path_factory.mktemp("demo") / "data"
    return root, write_demo_data(root)


# ---- determinism ---------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path, written: tuple[Path, DemoManifest]) -> None:
    root, manifest = written
    again = write_demo_data(tmp_path / "other")
    assert again == manifest
    assert _digests(tmp_path / "other") == _digests(root)


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = write_demo_data(tmp_path / "a", **SHORT)
    b = write_demo_data(tmp_path / "b", **{**SHORT, "seed": SHORT["seed"] + 1})
    for name in (STRIKES_FILE, WEATHER_FILE, OUTAGES_FILE):
        assert a.files[name].sha256 != b.files[name].sha256, name
    assert a.files[WEAPONS_FILE] == b.files[WEAPONS_FILE]  # the lookup is fixed, not random


def test_manifest_records_rows_and_hashes(written: tuple[Path, DemoManifest]) -> None:
    root, manifest = written
    assert (manifest.seed, manifest.start, manifest.end) == (demo.DEFAULT_SEED, demo.DEFAULT_START, demo.DEFAULT_END)
    for name, entry in manifest.files.items():
        data = (root / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert data.count(b"\n") == entry.rows + 1  # header + one line per row (no embedded newlines)
    assert DemoManifest.from_json((root / "manifest.json").read_text()) == manifest
    assert (root / ".complete").is_file()


# ---- shapes match the real sources ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_event_log_header_equals_real(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    assert _header(root / STRIKES_FILE) == _header(REAL_EVENTS)
    assert list(demo.EVENT_COLUMNS) == _header(REAL_EVENTS)


@pytest.mark.realdata
def test_weapon_lookup_header_and_categories_equal_real(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    assert _header(root / WEAPONS_FILE) == _header(REAL_WEAPONS)
    weapons = _read_raw(root, WEAPONS_FILE)
    assert set(weapons["category"]) <= REAL_CATEGORIES
    events = _read_raw(root, STRIKES_FILE)
    assert set(events["model"]) <= set(weapons["model"])  # every model maps, nothing "unmapped"


@pytest.mark.realdata
def test_weather_columns_are_a_prefix_of_real_header(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    real = _header(REAL_WEATHER)
    ours = _header(root / WEATHER_FILE)
    assert ours == real[: len(ours)] == list(demo.WEATHER_COLUMNS)
    real_cities = set(pl.read_csv(REAL_WEATHER, columns=["city"])["city"])
    assert set(_read_raw(root, WEATHER_FILE)["city"]) == real_cities == set(REGION_NAMES)


def test_event_log_formats(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    events = _read_raw(root, STRIKES_FILE)
    hhmm = events["time_start"].str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
    bare = events["time_start"].str.contains(r"^\d{4}-\d{2}-\d{2}$")
    assert (hhmm | bare).all()
    assert hhmm.any() and bare.any()  # the two real formats are mixed
    assert events["time_end"].str.contains(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?$").all()
    assert events["launched"].str.contains(r"^\d+\.0$").all()
    assert events["destroyed"].str.contains(r"^\d+\.0$").all()
    assert events["source"].str.contains(r"^[A-Za-z]+/posts/pfbid0\w+$").all()
    assert (events["border_crossing"] == "{}").all()
    days = events["time_start"].str.slice(0, 10)
    assert days.to_list() == sorted(days.to_list(), reverse=True)  # newest first
    targets = events["target"].value_counts(sort=True)
    assert targets["target"][0] == "Ukraine"
    assert re.search(r" and ", " ".join(events["model"].unique().to_list()))  # bundled models occur


def test_csvs_parse_with_typed_schemas(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    weather = pl.read_csv(root / WEATHER_FILE, try_parse_dates=True)
    assert weather.schema["date"] == pl.Date
    assert weather.schema["n_hours"] == pl.Int64
    assert all(weather.schema[c] == pl.Float64 for c in ("t_mean", "t_min", "t_max"))
    outages = pl.read_csv(root / OUTAGES_FILE, try_parse_dates=True)
    assert outages.schema == pl.Schema({"date": pl.Date, "region": pl.String, "hours_off": pl.Float64})


# ---- bounds --------------------------------------------------------------------------------------------------


def test_outage_hours_bounded_and_half_hourly(frames: DemoFrames) -> None:
    hours = frames.truth["hours_off"].to_numpy()
    assert hours.min() >= 0.0 and hours.max() <= 24.0
    assert np.all(hours * 2 == np.round(hours * 2))
    assert frames.outages["hours_off"].null_count() == 0


def test_destroyed_never_exceeds_launched(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    events = _read_raw(root, STRIKES_FILE).with_columns(pl.col("launched", "destroyed").cast(pl.Float64))
    assert events["launched"].min() >= 1.0
    assert (events["destroyed"] <= events["launched"]).all()
    assert (events["destroyed"] >= 0).all()


def test_temperature_ordering_and_dst_hours(written: tuple[Path, DemoManifest]) -> None:
    root, _ = written
    weather = pl.read_csv(root / WEATHER_FILE, try_parse_dates=True)
    assert (weather["t_min"] <= weather["t_mean"]).all()
    assert (weather["t_mean"] <= weather["t_max"]).all()
    kyiv = weather.filter(pl.col("city") == "kyiv")
    odd = dict(kyiv.filter(pl.col("n_hours") != 24).select("date", "n_hours").iter_rows())
    assert odd[date(2022, 10, 30)] == 25 and odd[date(2023, 3, 26)] == 23 and odd[date(2025, 3, 30)] == 23
    assert len(odd) == 6  # Oct 22, Mar 23, Oct 23, Mar 24, Oct 24, Mar 25
    assert weather.group_by("city").len()["len"].unique().to_list() == [913]


def test_kyiv_day_hours_matches_real_dst_days() -> None:
    # real derived file: 23 h on 2022-03-27 and 2023-03-26, 25 h on 2022-10-30 and 2023-10-29
    assert [kyiv_day_hours(d) for d in (date(2022, 3, 27), date(2023, 3, 26))] == [23, 23]
    assert [kyiv_day_hours(d) for d in (date(2022, 10, 30), date(2023, 10, 29))] == [25, 25]
    assert kyiv_day_hours(date(2023, 10, 28)) == 24


# ---- the documented process holds ----------------------------------------------------------------------------


def test_truth_equals_what_a_reader_recomputes_from_the_files(
    written: tuple[Path, DemoManifest], frames: DemoFrames
) -> None:
    root, _ = written
    category = dict(_read_raw(root, WEAPONS_FILE).select("model", "category").iter_rows())
    events = _read_raw(root, STRIKES_FILE)
    daily = (
        events.with_columns(
            pl.col("time_start").str.slice(0, 10).str.to_date().alias("date"),
            pl.col("launched").cast(pl.Float64).cast(pl.Int64),
            (pl.col("model").replace_strict(category) == "UAV").alias("uav"),
        )
        .group_by("date")
        .agg(
            pl.col("launched").filter(pl.col("uav")).sum().alias("launched_uav"),
            pl.col("launched").filter(~pl.col("uav")).sum().alias("launched_missile"),
        )
    )
    truth = frames.strikes_daily.join(daily, on="date", how="left", suffix="_file").fill_null(0)
    assert (truth["launched_uav"] == truth["launched_uav_file"]).all()
    assert (truth["launched_missile"] == truth["launched_missile_file"]).all()
    units = (truth["launched_uav"] + 4.0 * truth["launched_missile"]) / 100.0
    assert np.allclose(units.to_numpy(), truth["strike_units"].to_numpy())


def test_damage_stock_follows_the_documented_recursion(frames: DemoFrames) -> None:
    kharkiv = frames.truth.filter(pl.col("region") == "kharkiv").sort("date")
    s = kharkiv["strike_units"].to_numpy()
    expected, stock = [], 0.0
    for x in s:
        stock = max(0.0, stock + 1.6 * x - min(1.5, 0.1 * stock))
        expected.append(stock)
    assert np.allclose(kharkiv["damage"].to_numpy(), expected)
    assert np.allclose(damage_stock(s, np.array([1.6]))[:, 0], expected)


def test_hdd_is_eurostat_rule_on_written_t_mean(frames: DemoFrames) -> None:
    t = frames.truth["t_mean"]
    expected = pl.when(t <= 15.0).then(18.0 - t).otherwise(0.0)
    assert frames.truth.select((pl.col("hdd") - expected).abs().max()).item() < 1e-12


@pytest.mark.parametrize("seed", [demo.DEFAULT_SEED, 1, 2])
def test_winter_has_more_strikes_than_summer(seed: int) -> None:
    daily = generate_demo(seed).strikes_daily.with_columns(
        (pl.col("launched_uav") + pl.col("launched_missile")).alias("n"), pl.col("date").dt.month().alias("m")
    )
    winter = daily.filter(pl.col("m").is_in([10, 11, 12, 1, 2, 3]))["n"].mean()
    summer = daily.filter(pl.col("m").is_in([4, 5, 6, 7, 8, 9]))["n"].mean()
    assert winter > 1.3 * summer
    assert daily["burst"].sum() >= 1
    assert daily["n"].max() >= 200  # massed attacks of hundreds of weapons occur


def test_exposure_orders_damage(frames: DemoFrames) -> None:
    mean = dict(frames.truth.group_by("region").agg(pl.col("damage").mean()).iter_rows())
    assert mean["kharkiv"] > mean["kyiv"] > mean["lviv"] > mean["uzhhorod"]


def test_outages_rise_with_damage_and_cold(frames: DemoFrames) -> None:
    truth = frames.truth
    assert truth.select(pl.corr("hours_off", "damage")).item() > 0.3
    assert truth.select(pl.corr("hours_off", "hdd")).item() > 0.3
    by_month = truth.group_by(pl.col("date").dt.month().alias("m")).agg(pl.col("hours_off").mean())
    hours = dict(by_month.iter_rows())
    assert hours[1] > hours[7]


def test_cold_snaps_are_shared_and_cold(frames: DemoFrames) -> None:
    assert frames.cold_snaps.height == 6  # 2 per winter × 3 winters in the default span
    snap = frames.cold_snaps.row(0, named=True)
    inside = frames.truth.filter(pl.col("date").is_between(snap["start"], snap["end"]))
    assert inside["t_mean"].mean() < frames.truth.filter(pl.col("date").dt.month() == 1)["t_mean"].mean()


def test_missing_region_days_match_documented_count(written: tuple[Path, DemoManifest], frames: DemoFrames) -> None:
    root, manifest = written
    n_days = (demo.DEFAULT_END - demo.DEFAULT_START).days + 1
    outages = pl.read_csv(root / OUTAGES_FILE, try_parse_dates=True)
    assert N_MISSING_REGION_DAYS == 40
    assert manifest.missing_region_days == N_MISSING_REGION_DAYS
    assert outages.height == n_days * len(REGION_NAMES) - N_MISSING_REGION_DAYS
    assert outages.select("date", "region").is_duplicated().sum() == 0
    absent = frames.truth.filter(~pl.col("observed")).select("date", "region")
    assert absent.height == N_MISSING_REGION_DAYS
    assert absent.join(outages, on=["date", "region"], how="inner").height == 0
    # the longest run is the documented 7-day block
    runs = absent.sort("region", "date").group_by("region").agg(pl.len())
    assert runs["len"].max() >= 7


# ---- atomic, idempotent writing ------------------------------------------------------------------------------


def test_second_call_is_a_noop(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    first = write_demo_data(root, **SHORT)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    second = write_demo_data(root, **SHORT)
    assert second == first
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == stamps


def test_stale_partial_temp_dir_is_swept(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    stale = tmp_path / ".demo.partial-999999999-0"  # pid beyond pid_max: never alive
    (stale / "strikes").mkdir(parents=True)
    (stale / "strikes" / "missile_attacks_daily.csv").write_text("time_start\n2022-")
    manifest = write_demo_data(root, **SHORT)
    assert read_manifest(root) == manifest
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_sweep_spares_live_writers_and_other_names(tmp_path: Path) -> None:
    dead_old = tmp_path / ".demo.old-999999999-0"  # a swapped-out dataset whose writer died before deleting it
    live = tmp_path / f".demo.partial-{os.getppid()}-0"  # a concurrent writer that is still running
    other = tmp_path / ".demo2.partial-999999999-0"  # another folder's leftovers: swept by a write to that folder
    for folder in (dead_old, live, other):
        folder.mkdir()
    write_demo_data(tmp_path / "demo", **SHORT)
    assert not dead_old.exists()
    assert live.is_dir() and other.is_dir()


def test_partial_or_corrupt_dataset_is_replaced(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    (root / "strikes").mkdir(parents=True)
    (root / STRIKES_FILE).write_text("half a file")  # interrupted copy, no manifest
    manifest = write_demo_data(root, **SHORT)
    assert read_manifest(root) == manifest
    (root / OUTAGES_FILE).write_text("date,region,hours_off\n")  # damaged after the fact
    assert read_manifest(root) is None
    assert write_demo_data(root, **SHORT) == manifest
    assert read_manifest(root) == manifest


def test_other_seed_replaces_dataset(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    write_demo_data(root, **SHORT)
    other = write_demo_data(root, **{**SHORT, "seed": 99})
    assert read_manifest(root) == other and other.seed == 99
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # the swapped-out dataset is gone too


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_demo_data(root, **SHORT)
    assert (root / "notes.txt").read_text() == "keep me"


def test_short_span_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_demo(1, date(2024, 1, 1), date(2024, 1, 10))


def test_full_span_is_fast(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    write_demo_data(tmp_path / "demo", seed=123)
    assert time.perf_counter() - t0 < 2.0
    assert os.listdir(tmp_path) == ["demo"]
