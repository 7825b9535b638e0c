"""Feed freshness at the as-of and feeds that end early (experiments/inputs/freshness.py, issue #10 item 4).

The demo spec says: strikes at most 3 days old (``stale = "fail"``), weather at most 3 days old (a warning). The
small demo data end on 2025-01-31 for every source; here a feed is cut early and the spec edited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from experiments.inputs.dataset import load_dataset
from experiments.inputs.freshness import StaleFeedError, feed_status, format_age, nowcast_tails
from experiments.inputs.sources import parse_age
from experiments.inputs.spec import SpecError, load_spec, parse_spec
from forecast.scenarios.paths import Baseline

REPO = Path(__file__).resolve().parents[1]
STRIKES = Path("data/demo/strikes/missile_attacks_daily.csv")
WEATHER = Path("data/demo/weather/derived_daily_24_cities.csv")
STRIKE_POLICY = 'max_age = "3d"\nstale = "fail"'
WEATHER_LIMIT = 'nowcast by the temperature\'s path\nmax_age = "3d"\n'
AS_OF = date(2025, 1, 31)


def _edit(workdir: Path, old: str, new: str) -> None:
    text = (workdir / "spec.toml").read_text()
    assert text.count(old) == 1, f"the demo spec no longer has {old!r} once: update tests/test_freshness.py"
    (workdir / "spec.toml").write_text(text.replace(old, new))


def _cut_strikes(last: date) -> None:
    """Drop the strike reports whose attack window starts after ``last``."""
    rows = pl.read_csv(STRIKES, infer_schema=False)
    rows.filter(pl.col("time_start").str.slice(0, 10) <= str(last)).write_csv(STRIKES)


def _series(data_inputs: pl.DataFrame | None, column: str, uid: str = "kyiv") -> pl.DataFrame:
    assert data_inputs is not None
    return data_inputs.filter(pl.col("unique_id") == uid).select("ds", column)


def test_age_limits_parse_and_a_bad_one_names_its_key() -> None:
    assert parse_age("3d") == timedelta(days=3) and parse_age("36h") == timedelta(hours=36)
    assert parse_age("2w") == timedelta(weeks=2) and parse_age("1.5d") == timedelta(hours=36)
    assert format_age(timedelta(days=3)) == "3d" and format_age(timedelta(hours=36)) == "36h"
    base = load_spec(REPO / "experiments" / "specs" / "demo.toml").model_dump(mode="json")
    assert base["sources"]["strikes"]["max_age"] == "3d" and base["sources"]["strikes"]["stale"] == "fail"
    for key, bad, problem in (("max_age", "3 days", "such as"), ("stale", "later", "'warn' or 'fail'")):
        spec = {**base, "sources": {**base["sources"], "strikes": {**base["sources"]["strikes"], key: bad}}}
        with pytest.raises(SpecError, match=problem) as err:
            parse_spec(spec, "x.toml")
        assert err.value.key == f"sources.strikes.{key}"


def test_fresh_feeds_change_nothing(workdir: Path) -> None:
    data = load_dataset(load_spec("spec.toml"))
    assert {f.source: f.status for f in data.freshness} == {
        "outages": "no limit",
        "strikes": "fresh",
        "weather": "fresh",
    }
    assert all(f.last == AS_OF and f.age_days == 0 for f in data.freshness)
    assert data.warnings == [] and data.filled == {}
    _edit(workdir, STRIKE_POLICY, "")
    _edit(workdir, WEATHER_LIMIT, "nowcast by the temperature's path\n")
    plain = load_dataset(load_spec("spec.toml"))
    assert {f.status for f in plain.freshness} == {"no limit"} and plain.warnings == []
    assert plain.frame.equals(data.frame) and plain.inputs is not None and plain.inputs.equals(data.inputs)


def test_a_stale_feed_is_a_warning_naming_the_source_and_the_dates(workdir: Path) -> None:
    _cut_strikes(date(2025, 1, 2))
    _edit(workdir, STRIKE_POLICY, 'max_age = "3d"\nstale = "warn"')
    data = load_dataset(load_spec("spec.toml"))
    assert data.warnings[0] == "strikes: feed ends 2025-01-02, 29 days before the as-of 2025-01-31 (limit 3d)"
    status = next(f for f in data.freshness if f.source == "strikes")
    assert (status.last, status.age_days, status.status, status.policy) == (date(2025, 1, 2), 29.0, "stale", "warn")
    assert status.path == STRIKES and status.to_dict()["max_age"] == "3d"


def test_a_stale_feed_with_stale_fail_is_an_error_naming_the_file_and_the_limit(workdir: Path) -> None:
    # within the limit a cut feed is fresh (the demo has no reports on 28-29 Jan: cut there, it is 4 days old)
    _cut_strikes(date(2025, 1, 30))
    assert next(f for f in load_dataset(load_spec("spec.toml")).freshness if f.source == "strikes").status == "fresh"
    _cut_strikes(date(2025, 1, 2))
    with pytest.raises(StaleFeedError) as err:
        load_dataset(load_spec("spec.toml"))
    message = str(err.value)
    for part in (
        str(STRIKES),
        "sources.strikes",
        "last data 2025-01-02",
        "as-of 2025-01-31",
        "29 days old",
        "limit 3d",
    ):
        assert part in message
    assert [f.source for f in err.value.feeds] == ["strikes"] and err.value.as_of == AS_OF


def test_a_stale_complete_feed_is_not_read_as_zeros(workdir: Path) -> None:
    """``complete_through = "as_of"`` zero-fills after the last report only while the feed is fresh: a stale feed's
    missing days are a nowcast at its recent rate, so the damage stock does not decay as if attacks had stopped."""
    _cut_strikes(date(2025, 1, 2))
    _edit(workdir, STRIKE_POLICY, 'max_age = "60d"')  # the old reading: fresh, so no report means no attack
    zeros = load_dataset(load_spec("spec.toml"))
    assert zeros.filled == {} and zeros.warnings == []
    after = pl.col("ds") > date(2025, 1, 2)
    assert _series(zeros.inputs, "launched_uav").filter(after)["launched_uav"].sum() == 0
    _edit(workdir, 'max_age = "60d"', 'max_age = "3d"')
    data = load_dataset(load_spec("spec.toml"))
    assert data.filled == {"launched_uav": 29, "launched_missile": 29}
    assert "strikes: not read as zeros after its last report 2025-01-02: the feed is stale" in data.warnings
    for column, path in (("launched_uav", "tempo"), ("launched_missile", "baseline")):  # the spec's [paths]
        assert (
            f"strikes: {column} has no data after 2025-01-02; its 29 days to the as-of 2025-01-31 are a nowcast by "
            f"the {path} path"
        ) in data.warnings
    assert _series(data.inputs, "launched_uav").filter(after)["launched_uav"].min() > 0
    last = pl.col("ds") == AS_OF
    for col in ("launched_uav_damage", "launched_missile_damage"):
        nowcast, zero = data.frame.filter(last)[col], zeros.frame.filter(last)[col]
        assert (nowcast > zero * 1.5).all(), col
    # up to the last report both readings agree
    before = pl.col("ds") <= date(2025, 1, 2)
    assert data.frame.filter(before).equals(zeros.frame.filter(before))


def test_a_feed_that_ends_early_is_continued_by_its_path_not_frozen(workdir: Path) -> None:
    """Without ``complete_through`` (and without a limit) the missing tail is filled by the column's path from
    ``[paths]`` as if the last report day were the cutoff: exactly the baseline path's values."""
    _cut_strikes(date(2025, 1, 20))
    _edit(workdir, 'complete_through = "as_of"\n', "")
    _edit(workdir, STRIKE_POLICY, "")
    data = load_dataset(load_spec("spec.toml"))
    assert data.filled == {"launched_uav": 11, "launched_missile": 11}
    assert not any("feed ends" in w for w in data.warnings)  # no limit: not stale, but the fill is reported
    series = _series(data.inputs, "launched_uav")
    hist, tail = series.filter(pl.col("ds") <= date(2025, 1, 20)), series.filter(pl.col("ds") > date(2025, 1, 20))
    expected = Baseline().extend(
        hist["ds"].to_numpy(), hist["launched_uav"].to_numpy(), tail["ds"].to_numpy(), season_length=7
    )
    assert tail["launched_uav"].to_numpy() == pytest.approx(expected)
    damage = data.frame.filter(pl.col("unique_id") == "kyiv", pl.col("ds") > date(2025, 1, 20))["launched_uav_damage"]
    assert damage.n_unique() == damage.len()  # the indicator moves on; it is not frozen at its last value


def test_a_complete_feed_without_a_limit_is_not_read_as_zeros_either(workdir: Path) -> None:
    _cut_strikes(date(2025, 1, 20))
    _edit(workdir, STRIKE_POLICY, "")
    data = load_dataset(load_spec("spec.toml"))
    assert "strikes: not read as zeros after its last report 2025-01-20: the spec sets no max_age" in data.warnings
    assert data.filled == {"launched_uav": 11, "launched_missile": 11}


def test_weather_that_ends_early_warns_and_is_filled_in_every_city(workdir: Path) -> None:
    rows = pl.read_csv(WEATHER, infer_schema=False)
    rows.filter(pl.col("date") <= "2025-01-25").write_csv(WEATHER)
    data = load_dataset(load_spec("spec.toml"))
    assert data.warnings[0] == "weather: feed ends 2025-01-25, 6 days before the as-of 2025-01-31 (limit 3d)"
    assert data.filled == {"temp_mean_c": 6 * 24}
    assert data.warnings[1].startswith("weather: temp_mean_c has no data after 2025-01-25 in 24 series; its 144 values")
    assert data.frame["hdd_c"].null_count() == 0 and data.frame["ds"].max() == AS_OF


def test_feed_status_of_hourly_data_and_of_a_feed_without_data() -> None:
    hours = pl.datetime_range(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 30, 11, tzinfo=UTC), "1h", eager=True)
    frame = pl.DataFrame({"unique_id": "ua", "ds": hours, "price": 1.0})
    status = feed_status("dam", Path("dam.csv"), frame, AS_OF, "1h", max_age=timedelta(hours=36))
    assert status.age_days == pytest.approx(1.5) and status.status == "fresh"  # 12:00 on the 30th to the 31st's end
    assert feed_status("dam", Path("dam.csv"), frame, AS_OF, "1h", max_age=timedelta(hours=35)).status == "stale"
    empty = feed_status("dam", Path("dam.csv"), frame.clear(), AS_OF, "1h", max_age=timedelta(days=1), policy="fail")
    assert (empty.last, empty.status) == (None, "stale")
    assert empty.describe(AS_OF) == "dam: feed has no data on or before the as-of 2025-01-31 (limit 1d)"
    assert str(StaleFeedError([empty], AS_OF)).startswith("dam.csv: key 'sources.dam': stale feed: no data")


def test_nowcast_leaves_complete_frames_alone_and_fills_only_tails() -> None:
    days = pl.date_range(date(2025, 1, 1), date(2025, 1, 14), "1d", eager=True)
    x = np.arange(14, dtype=float)
    frame = pl.DataFrame({"unique_id": "a", "ds": days, "v": x}).with_columns(
        pl.when(pl.col("ds") == date(2025, 1, 5)).then(None).otherwise(pl.col("v")).alias("v")
    )
    same, fills = nowcast_tails(frame, ["v"], date(2025, 1, 14), "1d", {}, 7)
    assert same is frame and fills == []  # an inner gap is left to the indicators' NaN rules
    out, fills = nowcast_tails(frame.head(10), ["v"], date(2025, 1, 14), "1d", {"v": "last_value"}, 7)
    assert out["v"].to_list()[-5:] == [9.0, 9.0, 9.0, 9.0, 9.0] and out["v"][4] is None
    assert [(f.column, f.path, f.cells, f.series, f.after) for f in fills] == [
        ("v", "last_value", 4, 1, date(2025, 1, 10))
    ]
