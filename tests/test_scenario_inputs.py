"""The `replay` strike path and the `forecast` path (future inputs from a user's file, e.g. a weather forecast):
what they continue, how the provider and the job use them, and their errors."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from experiments.jobs.run import run_job
from features.contract import DS, ID
from features.errors import DataError
from features.indicators import validate_indicator_specs
from forecast.scenarios import Climatology, InputPathProvider, Replay, Supplied, make_path


def _days(start: str, n: int) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(start) + n)


# -- replay --------------------------------------------------------------------------------------------------------
def test_replay_plays_the_period_from_start_again_times_the_factor() -> None:
    ds = _days("2024-01-01", 60)
    x = np.arange(60.0) ** 1.5
    fut = _days("2024-03-01", 7)
    got = make_path({"path": "replay", "start": date(2024, 1, 10), "factor": 2.0}).extend(ds, x, fut, 7)
    np.testing.assert_allclose(got, 2.0 * x[9:16])
    # hourly data: the same hours of the replayed day
    hours = np.arange(
        np.datetime64("2024-01-01T00", "us"), np.datetime64("2024-01-05T00", "us"), np.timedelta64(1, "h")
    )
    fut_h = hours[-1] + np.arange(1, 4) * np.timedelta64(1, "h")
    got_h = Replay(start="2024-01-02").extend(hours, np.arange(hours.size, dtype=float), fut_h, 24)
    np.testing.assert_array_equal(got_h, [24.0, 25.0, 26.0])


def test_a_gap_in_the_replayed_period_takes_the_baseline_and_a_period_outside_the_history_is_refused() -> None:
    ds = _days("2024-01-01", 60)
    x = np.full(60, 10.0)
    x[12] = np.nan
    got = Replay(start="2024-01-10").extend(ds, x, _days("2024-03-01", 7), 1)
    np.testing.assert_allclose(got, 10.0)  # the baseline of a flat series is its level
    with pytest.raises(ValueError, match=r"replay: 2024-02-25 to 2024-03-02 is not inside the history"):
        Replay(start="2024-02-25").extend(ds, x, _days("2024-03-01", 7), 1)
    with pytest.raises(ValueError, match="give the first day to replay"):
        make_path({"path": "replay"}, key="scenarios.jan.launched_uav")
    with pytest.raises(ValueError, match=r"scenarios\.jan\.launched_uav: replay start: expected a date"):
        make_path({"path": "replay", "start": "soon"}, key="scenarios.jan.launched_uav")


# -- supplied future inputs ----------------------------------------------------------------------------------------
N, CUT, H = 400, 380, 10
INDICATORS = validate_indicator_specs([{"name": "hdd", "input": "temp"}])


def _inputs() -> pl.DataFrame:
    rng = np.random.default_rng(4)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(N)]
    return pl.concat(
        pl.DataFrame({ID: [uid] * N, DS: days, "temp": 5 + 10 * np.sin(np.arange(N) / 58) + rng.normal(0, 2, N)})
        for uid in ("a", "b")
    )


def _split(inputs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ranked = inputs.with_columns(pl.int_range(pl.len()).over(ID).alias("_i"))
    history = ranked.filter(pl.col("_i") < CUT).select(ID, DS)
    future = ranked.filter((pl.col("_i") >= CUT) & (pl.col("_i") < CUT + H)).select(ID, DS)
    return history, future


def test_supplied_values_replace_the_path_where_given_and_the_indicators_follow() -> None:
    inputs = _inputs()
    history, future = _split(inputs)
    first = future.get_column(DS).min()
    given = pl.DataFrame({DS: [first + timedelta(days=i) for i in range(4)], "temp": [-10.0, -12.0, -8.0, -5.0]})
    path = Supplied(file="unused.csv")
    plain = InputPathProvider(inputs, INDICATORS, {"temp": "climatology"}).future(history, future, ["temp", "hdd_c"])
    fed = InputPathProvider(inputs, INDICATORS, {"temp": path}, supplied=given).future(
        history, future, ["temp", "hdd_c"]
    )
    for uid in ("a", "b"):  # one table without unique_id serves every series
        mine, theirs = fed.filter(pl.col(ID) == uid), plain.filter(pl.col(ID) == uid)
        np.testing.assert_array_equal(mine["temp"][:4], given["temp"])
        np.testing.assert_allclose(mine["temp"][4:], theirs["temp"][4:])  # then: the climatology
        np.testing.assert_allclose(mine["hdd_c"][:4], 18.0 - given["temp"])  # HDD at base 18 °C, recomputed
    # per series: only the named series gets the values
    per = given.with_columns(pl.lit("b").alias(ID))
    only_b = InputPathProvider(inputs, INDICATORS, {"temp": path}, supplied=per).future(history, future, ["temp"])
    assert only_b.filter(pl.col(ID) == "a")["temp"].equals(plain.filter(pl.col(ID) == "a")["temp"])
    np.testing.assert_array_equal(only_b.filter(pl.col(ID) == "b")["temp"][:4], given["temp"])
    # the path alone (no values handed over) is its `then`
    ds, x = _days("2024-01-01", N), inputs.filter(pl.col(ID) == "a")["temp"].to_numpy()
    fut = ds[-1] + np.arange(1, 8)
    np.testing.assert_allclose(path.extend(ds, x, fut, 7), Climatology().extend(ds, x, fut, 7))
    with pytest.raises(ValueError, match="forecast then"):
        Supplied(file="f.csv", then="forecast")
    with pytest.raises(ValueError, match="'rain' is not a raw input column"):
        InputPathProvider(inputs, INDICATORS, {"temp": path}, supplied=given.rename({"temp": "rain"}))


WEATHER_SCENARIO = """
[scenarios.weather_forecast]
temp_mean_c = { path = "forecast", file = "forecast.csv", column = "t2m" }
"""


def _spec_with_forecast_file(workdir: Path, rows: list[tuple[str, float]]) -> None:
    spec = (workdir / "spec.toml").read_text()
    (workdir / "spec.toml").write_text(spec.replace("\n[sources.outages]", WEATHER_SCENARIO + "\n[sources.outages]", 1))
    (workdir / "forecast.csv").write_text("ds,t2m\n" + "".join(f"{d},{t}\n" for d, t in rows))


def test_a_weather_forecast_file_drives_a_scenario_of_the_job(workdir: Path) -> None:
    first = date(2025, 2, 1)  # the small demo data end on 2025-01-31
    _spec_with_forecast_file(workdir, [(str(first + timedelta(days=i)), -25.0) for i in range(5)])
    result = run_job("spec.toml", kind="forecast", track=False, scenarios=["weather_forecast"])
    both = pl.read_parquet(workdir / result.out_dir / "forecast.parquet").filter(pl.col("model") == "sarimax")
    assert both.get_column(DS).min() == first
    cold = both.filter(pl.col("scenario") == "weather_forecast")
    early = cold.filter(pl.col(DS) < first + timedelta(days=5))
    assert early["delta_mean"].min() > 0  # far colder than the climatology: more hours off, on every series
    assert early["delta_mean"].mean() > cold.filter(pl.col(DS) >= first + timedelta(days=5))["delta_mean"].mean()


def test_a_bad_forecast_file_names_the_file_column_and_row(workdir: Path) -> None:
    _spec_with_forecast_file(workdir, [("2025-02-01", -5.0), ("2025-02-02", float("inf"))])
    with pytest.raises(DataError, match=r"forecast\.csv.*t2m.*row 2") as info:
        run_job("spec.toml", kind="forecast", track=False, scenarios=["weather_forecast"])
    assert len(str(info.value)) < 2000
    assert not (workdir / "out").exists()
    (workdir / "forecast.csv").write_text("ds,temperature\n2025-02-01,-5\n")
    with pytest.raises(DataError, match=r"forecast\.csv.*t2m"):
        run_job("spec.toml", kind="forecast", track=False, scenarios=["weather_forecast"])


REPLAYS = """
[scenarios.ceasefire]
launched_uav = "zero"
launched_missile = "zero"

[scenarios.quiet_replay]
launched_uav = { path = "replay", start = 2024-12-01, factor = 0.0 }
launched_missile = { path = "replay", start = 2024-12-01, factor = 0.0 }

[scenarios.like_december]
launched_uav = { path = "replay", start = 2024-12-01 }
launched_missile = { path = "replay", start = 2024-12-01 }
"""


def _with(workdir: Path, tables: str) -> None:
    spec = (workdir / "spec.toml").read_text()
    (workdir / "spec.toml").write_text(spec.replace("\n[sources.outages]", tables + "\n[sources.outages]", 1))


def test_a_replayed_period_drives_a_scenario_and_a_replay_of_nothing_is_the_ceasefire(workdir: Path) -> None:
    _with(workdir, REPLAYS)
    result = run_job("spec.toml", kind="forecast", track=False)
    fc = pl.read_parquet(workdir / result.out_dir / "forecast.parquet").filter(pl.col("model") == "sarimax")
    mean = {s: fc.filter(pl.col("scenario") == s).drop("scenario") for s in ("ceasefire", "quiet_replay")}
    assert mean["quiet_replay"].equals(mean["ceasefire"])
    by = fc.group_by("scenario").agg(pl.col("mean").mean()).sort("scenario")
    level = dict(by.iter_rows())
    assert level["like_december"] > level["ceasefire"] + 0.5  # December's strikes again: more damage than none


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            '\n[scenarios.late]\nlaunched_uav = { path = "replay", start = 2025-01-25 }\n',
            r"scenarios\.late.*launched_uav: replay of 2025-01-25 to 2025-02-07 \(h = 14\) is not inside",
        ),
        ('\n[scenarios.late]\nlaunched_uav = { path = "replay" }\n', r"scenarios\.late.*give the first day"),
    ],
)
def test_bad_replays_are_spec_errors_naming_the_scenario(workdir: Path, tables: str, message: str) -> None:
    from experiments.inputs.spec import SpecError

    _with(workdir, tables)
    with pytest.raises(SpecError, match=message):
        run_job("spec.toml", kind="forecast", track=False)
    assert not (workdir / "out").exists()


def test_a_replay_in_the_base_paths_is_refused(workdir: Path) -> None:
    from experiments.inputs.spec import SpecError

    spec = (workdir / "spec.toml").read_text()
    assert 'launched_uav = "tempo"' in spec
    (workdir / "spec.toml").write_text(
        spec.replace('launched_uav = "tempo"', 'launched_uav = { path = "replay", start = 2024-12-01 }', 1)
    )
    with pytest.raises(SpecError, match=r"key 'paths'.*replay is a what-if"):
        run_job("spec.toml", kind="forecast", track=False)
