"""Data assembly from a spec: indicators warmed up on the inputs' whole history, inputs cut at the as-of date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.dataset import load_dataset
from experiments.inputs.spec import SpecError, load_spec
from features.ingest.sources import read_strike_reports

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.realdata
def test_indicators_use_the_inputs_history_before_the_target_starts(shared_data: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    data = load_dataset(load_spec("experiments/specs/dnipro.toml"))
    strikes = read_strike_reports(
        shared_data / "missile-attacks-ua/missile_attacks_daily.csv",
        shared_data / "missile-attacks-ua/missiles_and_uavs.csv",
    ).filter(pl.col("ds") <= date(2025, 12, 31))
    expected = strikes.select(pl.col("ds"), pl.col("launched_total").ewm_mean(half_life=3, adjust=False).alias("e"))
    got = data.frame.filter(pl.col("unique_id") == "dnipro/GPV3.2").join(expected, on="ds")
    assert got.height == 27
    assert got["launched_total_ewm3"].to_list() == pytest.approx(got["e"].to_list(), rel=1e-9)
    # warmed up: on the first target day the decayed intensity already carries the days before
    first = got.row(0, named=True)
    assert first["ds"] == date(2025, 12, 5) and first["launched_total_ewm3"] != pytest.approx(706.0)
    # the broadcast national input is the same for every queue
    assert data.frame.group_by("ds").agg(pl.col("launched_total_ewm3").n_unique().alias("n"))["n"].max() == 1


def test_inputs_after_as_of_are_not_seen(workdir: Path) -> None:
    full = load_dataset(load_spec("spec.toml"))
    text = (workdir / "spec.toml").read_text().replace('freq = "1d"', 'freq = "1d"\nas_of = 2025-01-31', 1)
    (workdir / "spec.toml").write_text(text)
    assert load_dataset(load_spec("spec.toml")).frame.equals(full.frame)
    assert full.features["ds"].max() == date(2025, 1, 31)


def test_an_earlier_as_of_replays_the_past_from_the_full_files(workdir: Path) -> None:
    """An as-of inside the data cuts the target and every input there: the result is what the files said then."""
    full = load_dataset(load_spec("spec.toml"))
    text = (workdir / "spec.toml").read_text().replace('freq = "1d"', 'freq = "1d"\nas_of = 2025-01-20', 1)
    (workdir / "spec.toml").write_text(text)
    past = load_dataset(load_spec("spec.toml"))
    assert past.as_of == date(2025, 1, 20) and past.frame["ds"].max() == date(2025, 1, 20)
    assert past.inputs is not None and past.inputs["ds"].max() == date(2025, 1, 20)
    # the target and the raw inputs up to the as-of are those of the full files; indicators look only backwards
    assert past.frame.equals(full.frame.filter(pl.col("ds") <= date(2025, 1, 20)))


def test_use_column_must_exist(workdir: Path) -> None:
    text = (
        (workdir / "spec.toml")
        .read_text()
        .replace('reader = "openmeteo_daily"', 'reader = "openmeteo_daily"\nuse = ["snow_depth_cm"]')
    )
    (workdir / "spec.toml").write_text(text)
    with pytest.raises(SpecError, match=r"key 'sources.weather.use': 'snow_depth_cm' is not a column"):
        load_dataset(load_spec("spec.toml"))
