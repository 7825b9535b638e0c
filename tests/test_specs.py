"""Every shipped spec loads; the real-data specs assemble their data from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from experiments.inputs.dataset import load_dataset
from experiments.inputs.spec import SpecError, load_spec, parse_spec

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "experiments" / "specs").glob("*.toml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_shipped_specs_validate(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem and spec.models


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "n_series", "first", "last"),
    [
        ("dnipro", 12, "2025-12-05", "2025-12-31"),
        ("ua-dam", 1, "2022-10-01", "2024-10-09"),
    ],
)
def test_real_specs_assemble(shared_data: Path, monkeypatch, name: str, n_series: int, first: str, last: str) -> None:
    monkeypatch.chdir(REPO)
    data = load_dataset(load_spec(f"experiments/specs/{name}.toml"))
    assert data.frame["unique_id"].n_unique() == n_series
    assert str(data.frame["ds"].min()) == first and str(data.frame["ds"].max()) == last
    assert data.frame.select(pl.col(data.exog).null_count()).sum_horizontal().item() == 0


@pytest.mark.realdata
def test_collapsed_alerts_are_the_sum_over_oblasts(shared_data: Path, monkeypatch) -> None:
    from features.ingest.sources import read_alerts

    monkeypatch.chdir(REPO)
    data = load_dataset(load_spec("experiments/specs/ua-dam.toml"))
    alerts = read_alerts(shared_data / "air-raid-alerts-ua/volunteer_data_en.csv")
    day = alerts.filter(pl.col("ds") == pl.date(2023, 1, 14))["alert_minutes"].sum()
    assert data.features.filter(pl.col("ds") == pl.date(2023, 1, 14))["alert_minutes"].item() == pytest.approx(day)


def test_window_must_be_ordered() -> None:
    base = load_spec(REPO / "experiments" / "specs" / "demo.toml").model_dump(mode="json")
    base.update(start="2024-01-02", end="2024-01-01")
    with pytest.raises(SpecError, match=r"start .* must be before end"):
        parse_spec(base, "x.toml")


def test_a_dumped_spec_reads_back_the_same() -> None:
    """Dates and paths come back from JSON text (the only text taken for another type); the hash is unchanged."""
    from experiments.inputs.spec import spec_hash

    spec = load_spec(REPO / "experiments" / "specs" / "dnipro.toml")
    again = parse_spec(spec.model_dump(mode="json"), spec.path)
    assert again == spec and spec_hash(again) == spec_hash(spec)
    assert spec.allow_paths == [Path("../shared/data")] and "allow" not in spec.paths


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"season_length": "7"}, "season_length", "got str '7'"),
        ({"season_length": True}, "season_length", "got bool True"),
        ({"forecast": {"h": 1001}}, "forecast.h", "1001 is above the limit: at most 1000"),
        ({"as_of": 1735689600}, "as_of", "expected a date"),
    ],
)
def test_types_are_strict_and_limits_named(change: dict, key: str, problem: str) -> None:
    base = load_spec(REPO / "experiments" / "specs" / "demo.toml").model_dump(mode="json")
    for k, v in change.items():
        base[k] = {**base[k], **v} if isinstance(v, dict) else v
    with pytest.raises(SpecError) as err:
        parse_spec(base, "x.toml")
    assert (err.value.key, problem in err.value.problem) == (key, True), str(err.value)


def test_a_spec_error_is_short_whatever_the_problem() -> None:
    err = SpecError("x.toml", "k", "y" * 100_000)
    assert len(str(err)) < 700 and "more characters" in str(err)
