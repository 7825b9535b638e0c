"""`promote` knows each metric's direction and refuses to compare runs scored on different data unless told."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.jobs.run import run_job
from experiments.tracking.promotion import PromotionError, leaderboard, metric_loss, promote


@pytest.mark.parametrize(
    ("metric", "value", "loss"),
    [
        ("mase", 0.8, 0.8),
        ("winkler-80", 9.5, 9.5),
        ("coverage-80", 0.74, 0.06),
        ("coverage-80", 0.86, 0.06),
        ("coverage-95", 0.95, 0.0),
        ("bias", -0.4, 0.4),
    ],
)
def test_metric_loss_directions(metric: str, value: float, loss: float) -> None:
    assert metric_loss(metric, value) == pytest.approx(loss)


def test_an_unknown_metric_has_no_direction() -> None:
    with pytest.raises(PromotionError, match="'r2' has no known direction"):
        metric_loss("r2", 0.5)


def test_promote_ranks_coverage_by_distance_to_nominal_and_refuses_other_data(workdir: Path) -> None:
    first = run_job("spec.toml", kind="backtest")
    assert first.tracking_error is None, first.tracking_error
    uri = f"sqlite:///{workdir / 'mlruns.db'}"
    board = leaderboard(uri, "gridcast-demo", "coverage-80")
    closest = min(board.rows(named=True), key=lambda r: abs(r["coverage-80"] - 0.8))
    assert board.row(0, named=True)["model"] == closest["model"]
    chosen = promote(uri, "gridcast-demo", "coverage-80")
    assert chosen.alias == "champion" and chosen.value == pytest.approx(closest["coverage-80"])

    # new data (one outage value changed): the champion was scored on other data, so its numbers do not compare
    outages = workdir / "data" / "demo" / "outages" / "outage_hours_daily.csv"
    lines = outages.read_text().splitlines()
    date, region, hours = lines[1].split(",")
    lines[1] = f"{date},{region},{24.0 if float(hours) < 12 else 0.0}"
    outages.write_text("\n".join(lines) + "\n")
    second = run_job("spec.toml", kind="backtest")
    assert second.tracking_error is None, second.tracking_error
    with pytest.raises(PromotionError, match="scored on different data"):
        promote(uri, "gridcast-demo", "mase")
    forced = promote(uri, "gridcast-demo", "mase", allow_different=True)
    assert forced.alias in ("champion", "challenger") and forced.champion_value is not None
