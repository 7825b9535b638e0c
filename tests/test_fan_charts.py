"""Scenario fan charts of a forecast job: one whole PNG per selected series under an injective file name, the
series most at risk picked by the documented rule, the legend off the data, clear errors for a wrong model."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from experiments.jobs import fan_charts
from experiments.jobs.fan_charts import SIZE, ScenarioFigure, file_name, select_series, write_scenario_charts
from features.contract import DS, ID, MEAN, MODEL, SCENARIO, Y
from forecast.core import forecast_frame
from forecast.models import SeasonalNaive, WindowAverage
from forecast.output.quantiles import p_exceed_col
from forecast.settings import ForecastSettings

IDS = ("dnipro/GPV1.1", "dnipro/GPV1.2", "kyiv", "odesa city")
SCENARIOS = {"baseline": 0.0, "surge": 3.0, "ceasefire": -2.0}
N, H = 80, 7
PIXELS = (round(SIZE[1] * fan_charts.DPI), round(SIZE[0] * fan_charts.DPI))  # rows, columns
UNITS = "hours off per day"


def history(ids: tuple[str, ...] = IDS) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    start = dt.date(2024, 1, 1)
    parts = []
    for k, uid in enumerate(ids):
        y = np.clip(10 + 4 * np.sin(2 * np.pi * np.arange(N) / 7 + k) + rng.normal(0, 1, N), 0, 24)
        ds = [start + dt.timedelta(days=i) for i in range(N)]
        parts.append(pl.DataFrame({ID: uid, DS: ds, Y: y}, schema_overrides={DS: pl.Date}))
    return pl.concat(parts)


def with_scenarios(fc: pl.DataFrame, shifts: dict[str, float] = SCENARIOS) -> pl.DataFrame:
    """``fc`` once per scenario, its mean and band shifted by the scenario's amount, with ``delta_mean``."""
    moved = [c for c in fc.columns if c == MEAN or re.match(r"^(lo|hi)-\d+$", c)]
    parts = [
        fc.with_columns(
            *(pl.col(c) + shift for c in moved), pl.lit(name).alias(SCENARIO), pl.lit(shift).alias("delta_mean")
        )
        for name, shift in shifts.items()
    ]
    return pl.concat(parts)


@pytest.fixture(scope="module")
def forecast() -> pl.DataFrame:
    """A real forecast frame: seasonal naive with intervals, window average without (null bands, noted)."""
    settings = ForecastSettings(freq="1d", levels=(80, 95), thresholds=(12.0,))
    return with_scenarios(forecast_frame(history(), {"snaive": SeasonalNaive(7), "wa": WindowAverage(5)}, H, settings))


def handmade(levels: dict[str, dict[str, float]], p: dict[str, float] | None = None) -> pl.DataFrame:
    """A forecast with a flat mean per series and scenario (``levels[scenario][series]``), bands ±1 around it and,
    when given, ``p_exceed-12`` per series."""
    rows = []
    for scenario, by_series in levels.items():
        for uid, level in by_series.items():
            for step in range(H):
                day = dt.date(2024, 1, 1) + dt.timedelta(days=N + step)
                row = {ID: uid, DS: day, MODEL: "m", SCENARIO: scenario, MEAN: level, "lo-80": level - 1.0}
                rows.append(row | {"hi-80": level + 1.0} | ({p_exceed_col(12): p[uid]} if p else {}))
    return pl.DataFrame(rows)


def assert_whole_pngs(folder: Path, paths: list[Path]) -> None:
    assert sorted(folder.iterdir()) == sorted(paths)  # no hidden partial files beside them
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(path).shape == (*PIXELS, 4)


def test_every_series_gets_one_whole_png_when_none_are_listed(tmp_path: Path, forecast: pl.DataFrame) -> None:
    folder = tmp_path / "plots"
    paths = write_scenario_charts(folder, forecast, history(), model="snaive", units=UNITS, bounds=(0, 24))
    assert paths == [folder / file_name(uid) for uid in IDS]
    assert [p.name for p in paths[:2]] == ["dnipro~GPV1.1.png", "dnipro~GPV1.2.png"]
    assert_whole_pngs(folder, paths)


def test_listed_series_come_first_then_the_most_at_risk_by_their_worst_scenario(tmp_path: Path) -> None:
    # averaged over scenarios "b" (15) beats "a" (12.5); by the worst scenario "a" (20) does
    levels = {
        "baseline": {"a": 5.0, "b": 15.0, "c": 10.0, "d": 1.0},
        "surge": {"a": 20.0, "b": 15.0, "c": 11.0, "d": 2.0},
    }
    fc = handmade(levels)
    assert select_series(fc, "m", ["d"], 2, ()) == ["d", "a", "b"]
    assert select_series(fc, "m", ["a", "d"], 1, ()) == ["a", "d", "b"]  # listed ones are not counted again
    assert select_series(fc, "m", [], 9, ()) == ["a", "b", "c", "d"]
    assert select_series(fc, "m", None, 1, ()) == ["a", "b", "c", "d"]  # None: all, in the frame's order
    paths = write_scenario_charts(
        tmp_path, fc, history(("a", "b", "c", "d")), model="m", units=UNITS, series=["d"], at_risk=2
    )
    assert [p.name for p in paths] == ["d.png", "a.png", "b.png"]
    assert_whole_pngs(tmp_path, paths)


def test_with_thresholds_the_exceedance_probability_ranks_first(tmp_path: Path) -> None:
    levels = {"baseline": {"a": 20.0, "b": 15.0, "c": 10.0, "d": 1.0}}
    fc = handmade(levels, p={"a": 0.5, "b": 0.5, "c": 0.9, "d": 0.0})
    assert select_series(fc, "m", [], 3, (12.0,)) == ["c", "a", "b"]  # a ties b on p, wins on the mean
    assert select_series(fc, "m", [], 3, (11.0,)) == ["a", "b", "c"]  # no p_exceed-11 column: by the mean
    assert select_series(fc, "m", [], 3, ()) == ["a", "b", "c"]


def decode(name: str) -> str:
    """The inverse of file_name, to show the mapping is injective."""
    stem = name.removesuffix(".png").replace("~", "%2F")
    return re.sub(r"(%[0-9A-F]{2})+", lambda m: bytes.fromhex(m[0].replace("%", "")).decode(), stem)


def test_file_names_are_safe_readable_and_injective() -> None:
    ids = ["dnipro/GPV1.1", "dnipro~GPV1.1", "dnipro%2FGPV1.1", "dnipro_GPV1.1", "dnipro GPV1.1", "a/b/c", ".", "..",
           ".hidden", "%2E", "Київ", "a\\b", "a:b", "x" * 60]  # fmt: skip
    names = [file_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_.~%-]+\.png", n) and not n.startswith(".") for n in names)
    assert [decode(n) for n in names] == ids
    assert file_name("dnipro/GPV1.1") == "dnipro~GPV1.1.png"
    assert file_name("kyiv_city") == "kyiv_city.png"
    with pytest.raises(ValueError, match="must not be empty"):
        file_name("")


def test_the_legend_sits_right_of_the_data_area(forecast: pl.DataFrame) -> None:
    chart = ScenarioFigure(forecast, history(), "snaive", UNITS, (0, 24), (12.0,))
    figure = chart.draw("dnipro/GPV1.1")
    assert isinstance(figure, Figure)
    figure.canvas.draw()
    data = chart.ax.get_window_extent()
    left, right, bottom, top = chart.legend.get_extent()
    assert left > data.x1  # right of the axes: never over the data
    assert right <= figure.bbox.width and bottom >= 0 and top <= figure.bbox.height  # and inside the figure
    labels = [t.get_window_extent() for t in chart.ax.texts]  # the threshold's value label
    assert labels and all(data.x1 <= t.x0 and t.x1 < left for t in labels)
    assert chart.title.get_text() == "dnipro/GPV1.1 — snaive"
    assert chart.ax.get_ylabel() == UNITS
    assert [line.get_color() for line in chart.lines] == ["C0", "C1", "C2"]  # baseline first
    x = chart.history_line.get_xdata()
    assert len(x) == 56 and x.max() < chart.lines[0].get_xdata().min()  # the last 56 days before the forecast


def test_a_wrong_model_or_series_is_refused_by_name(tmp_path: Path, forecast: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"model 'sarimax' is not in the forecast; it has: snaive, wa"):
        write_scenario_charts(tmp_path, forecast, history(), model="sarimax", units=UNITS)
    with pytest.raises(ValueError, match=r"series not in the forecast of 'snaive': lviv"):
        write_scenario_charts(tmp_path, forecast, history(), model="snaive", units=UNITS, series=["kyiv", "lviv"])
    assert list(tmp_path.iterdir()) == []


def test_one_scenario_and_null_bands_still_draw_the_mean(tmp_path: Path, forecast: pl.DataFrame) -> None:
    base = forecast.filter(pl.col(SCENARIO) == "baseline")
    assert base.filter(pl.col(MODEL) == "wa")["lo-80"].null_count() == len(IDS) * H  # no intervals of its own
    paths = write_scenario_charts(tmp_path, base, history(), model="wa", units=UNITS, thresholds=(12.0,))
    assert_whole_pngs(tmp_path, paths)
    pixels = imread(paths[0])[:, : int(fan_charts.LEGEND_X * PIXELS[1]), :3]  # left of the legend
    c0 = np.array([0x1F, 0x77, 0xB4]) / 255  # the base scenario's colour: its mean line is there
    assert (np.abs(pixels - c0).max(axis=-1) < 0.05).sum() > 50


def test_a_missing_level_falls_back_to_the_widest_band(forecast: pl.DataFrame) -> None:
    assert ScenarioFigure(forecast, history(), "snaive", UNITS, level=90).band == 95
    assert ScenarioFigure(forecast, history(), "snaive", UNITS).band == 80
    no_bands = forecast.drop(pl.selectors.matches(r"^(lo|hi)-"))
    assert ScenarioFigure(no_bands, history(), "snaive", UNITS).band is None
    assert ScenarioFigure(forecast, history(), "wa", UNITS).band is None  # its band columns are all null


def test_hourly_history_is_cut_by_days(tmp_path: Path) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    hours = [start + dt.timedelta(hours=i) for i in range(24 * 10 + H)]
    past = pl.DataFrame({ID: "a", DS: hours[: 24 * 10], Y: 1.0})
    fc = pl.DataFrame({ID: "a", DS: hours[24 * 10 :], MODEL: "m", SCENARIO: "baseline", MEAN: 2.0})
    chart = ScenarioFigure(fc, past, "m", "MW", history_days=2)
    chart.draw("a")
    assert len(chart.history_line.get_xdata()) == 48
    assert_whole_pngs(tmp_path, write_scenario_charts(tmp_path, fc, past, model="m", units="MW"))


def test_a_failure_half_way_leaves_the_finished_charts_and_no_partial_file(
    tmp_path: Path, forecast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = Figure.savefig

    def failing(self: Figure, fname: Path, **kwargs: object) -> None:
        calls.append(fname)
        real(self, fname, **kwargs)
        if len(calls) == 2:  # killed after writing part of the second chart
            raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", failing)
    with pytest.raises(KeyboardInterrupt):
        write_scenario_charts(tmp_path, forecast, history(), model="snaive", units=UNITS)
    assert Path(calls[1]).name.startswith(".")  # drawn under a hidden partial name, then renamed
    assert_whole_pngs(tmp_path, [tmp_path / file_name(IDS[0])])
