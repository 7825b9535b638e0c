"""The demo's future inputs (#9 item 3): how well each raw-input path forecasts what drives the hours off.

Run from the repository root (needs the demo data, ``make demo-data``; about 20 s a run)::

    .venv/bin/python -m benchmarks.demo_inputs                       # as of the data's last day
    .venv/bin/python -m benchmarks.demo_inputs --as-of 2024-12-31    # another scored year

A screen that needs no model fit: on the windows the demo spec's backtest scores (its ``[backtest]`` plan, the first
``[hierarchy] min_windows`` left out), every variant's paths continue the raw inputs after each cutoff and the
indicators are recomputed (:class:`~forecast.scenarios.InputPathProvider`, as the job does). Each row gives the mean
absolute error of the future heating degree days (°C·day) and of the drone and missile damage stocks (damage units)
against their true values, and a **proxy MASE**: the hours off the demo's own outage equation gives under those
inputs (docs/demo-data.md §4, with the regions' exposure w_r; ε left out)::

    Ĥ = 24 · logistic(a + b · w_r · (D̂_uav + D̂_missile) + c · HDD̂),   a = −4, b = 0.3, c = 0.12

against the observed hours, scaled per series by its seasonal-naive MAE (lag 7) over the history up to each cutoff
(the job's MASE), and averaged. With the true coefficients this is what a perfectly estimated model of the hours
scores under those input paths (docs/results.md): 0.757 with the shipped ones, where the job's fitted SARIMAX scores
0.760 on the same windows. ``mase_noise`` also carries the outage noise at the cutoff forward at its true AR(1) rate
(0.5 a day).

Variants: ``shipped`` (experiments/specs/demo.toml), ``previous`` (window climatology, baseline strikes),
``missile_tempo`` (shipped, missiles on their fitted tempo without trend or weekly pattern), ``process`` (the
generating process's own expected strikes and climatology: parameters no forecaster has, a ceiling for
expected-value paths), ``typical`` (shipped temperature; the process's expected strikes without its massed raids:
the median-like tempo of a fortnight that has no raid, which is most fortnights), ``oracle_strikes`` /
``oracle_temperature`` (shipped, one input at its true future values) and ``oracle`` (every input true).

Two more rows ask whether a median of the inputs' futures beats their expected path (MAE is minimised by the median,
and the damage stock's future is right-skewed): ``n`` futures of the strikes are drawn from the process itself
(:func:`sample_strikes`), each gives its damage stocks from the true stocks at the cutoff (the spec's
``damage_stock`` parameters) and its hours Ĥ under the shipped temperature path; ``sampled_mean_path`` scores Ĥ of
the mean of the draws, ``sampled_median`` the per-day median of the draws' Ĥ (the MAE-optimal point given the
process, up to ε and the temperature's spread). Results go to ``benchmarks/results/demo_inputs.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from experiments.demo.calendar import annual_cosine
from experiments.demo.params import DEFAULT_START, OUTAGE, STRIKE, WEATHER
from experiments.demo.regions import REGIONS
from experiments.inputs.dataset import Dataset, load_dataset
from experiments.inputs.spec import load_spec
from features.contract import DS, ID
from forecast.backtest import backtest_schedule
from forecast.scenarios import Baseline, Climatology, InputPath, InputPathProvider
from forecast.scenarios.paths import Tempo
from forecast.settings import BacktestPlan

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "experiments" / "specs" / "demo.toml"
RESULTS = REPO / "benchmarks" / "results" / "demo_inputs.json"
EXOG = ("hdd_c", "launched_uav_damage", "launched_missile_damage")
EXPOSURE = {r.name: r.exposure for r in REGIONS}


def _doy(ds: np.ndarray) -> np.ndarray:
    days = ds.astype("datetime64[D]")
    return (days - days.astype("datetime64[Y]")).astype(np.int64) + 1


@dataclass(frozen=True)
class ProcessStrikes(InputPath):
    """The generating process's expected launches per day (docs/demo-data.md §1): E[U_t] or E[M_t]."""

    name: ClassVar[str] = "process_strikes"
    missile: bool = False
    raids: bool = True  # false: without the massed raids (burst_t = 0), the typical tempo

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        p, days = STRIKE, future_ds.astype("datetime64[D]")
        season = np.exp(p.season_amp * annual_cosine(_doy(days), p.season_peak_doy))
        years = (days - np.datetime64(DEFAULT_START)).astype(np.int64) / 365.25
        weekday = np.array(p.weekly)[(days.astype(np.int64) + 3) % 7]  # 1970-01-01 was a Thursday
        attack = np.minimum(0.97, p.attack_p * np.sqrt(season))
        burst = np.minimum(1.0, p.burst_p * season) if self.raids else 0.0
        if self.missile:
            massed = sum(m for _, m in p.burst_missiles)
            tactical = sum(m for _, m in p.tactical)
            south = p.south_p * dict(p.south)["X-59/X-69"]
            return attack * (burst * massed + tactical * season) + south
        tempo = season * weekday * np.exp(p.trend_per_year * years)
        south = p.south_p * sum(m for name, m in p.south if name != "X-59/X-69")
        return attack * (1 + p.shahed_mean * tempo + burst * p.burst_uav) + south


@dataclass(frozen=True)
class ProcessTemperature(InputPath):
    """The process's climatology of the region (matched by its history) plus the anomaly decaying at φ = 0.8."""

    name: ClassVar[str] = "process_temperature"

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        w = WEATHER

        def clim(lat: float, d: np.ndarray) -> np.ndarray:
            mean = w.mean_at_48n - w.mean_lat_slope * (lat - 48)
            amp = w.amp_at_48n + w.amp_lat_slope * (lat - 48)
            return mean + amp * annual_cosine(_doy(d), w.warm_peak_doy)

        lat = min((r.lat for r in REGIONS), key=lambda la: float(np.nanmean((x - clim(la, ds)) ** 2)))
        last = x[-1] - clim(lat, ds[-1:])[0]
        return clim(lat, future_ds) + last * w.ar_phi ** np.arange(1, future_ds.size + 1)


def variants() -> dict[str, dict[str, Any]]:
    """Raw column → path for each variant; ``_oracle`` lists columns taken at their true future values."""
    shipped = {"temp_mean_c": Climatology(harmonics=1), "launched_uav": Tempo(), "launched_missile": Baseline()}
    return {
        "shipped": shipped,
        "previous": {"temp_mean_c": Climatology(), "launched_uav": Baseline(), "launched_missile": Baseline()},
        "missile_tempo": {**shipped, "launched_missile": Tempo(trend=False, pattern=False)},
        "process": {
            "temp_mean_c": ProcessTemperature(),
            "launched_uav": ProcessStrikes(),
            "launched_missile": ProcessStrikes(missile=True),
        },
        "typical": {
            **shipped,
            "launched_uav": ProcessStrikes(raids=False),
            "launched_missile": ProcessStrikes(missile=True, raids=False),
        },
        "oracle_strikes": {**shipped, "_oracle": ("launched_uav", "launched_missile")},
        "oracle_temperature": {**shipped, "_oracle": ("temp_mean_c",)},
        "oracle": {**shipped, "_oracle": ("temp_mean_c", "launched_uav", "launched_missile")},
    }


def hours(uav: np.ndarray, missile: np.ndarray, hdd: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """Hours off from the demo's outage equation without its noise ε (docs/demo-data.md §4)."""
    z = OUTAGE.a + OUTAGE.b * exposure * (uav + missile) + OUTAGE.c * hdd
    return 24.0 / (1.0 + np.exp(-z))


def _scales(frame: pl.DataFrame, ids: list[str], cutoff: date) -> dict[str, float]:
    """Per series, the MAE of the seasonal naive (lag 7) over its history up to ``cutoff``: the backtest's MASE
    scale, so the proxy MASE and the job's are the same measure."""
    scale = {}
    seen = frame.filter(pl.col(DS) <= cutoff)
    for uid in ids:
        y = seen.filter(pl.col(ID) == uid).get_column("y").cast(pl.Float64).fill_null(np.nan).to_numpy()
        scale[uid] = float(np.nanmean(np.abs(y[7:] - y[:-7])))
    return scale


def _noise_carried(h: np.ndarray, y_last: float, lin_last: float) -> np.ndarray:
    """``h`` with the outage noise at the cutoff carried forward: ε₀ = logit(y/24) − the equation's linear
    predictor at the cutoff (y clipped to the half-hour grid's inner range), decaying as 0.5ᵏ (the noise's AR(1),
    docs/demo-data.md §4)."""
    p = np.clip(y_last, 0.25, 23.75) / 24.0
    e0 = float(np.log(p / (1.0 - p)) - lin_last) if np.isfinite(y_last) else 0.0
    z = np.log(h / (24.0 - h)) + e0 * 0.5 ** np.arange(1, h.size + 1)
    return 24.0 / (1.0 + np.exp(-z))


def score(data: Dataset, paths: dict[str, Any], plan: BacktestPlan, skip: int) -> dict[str, float]:
    """MAE of the future HDD and damage stocks, the proxy hours' MAE and proxy MASE over the scored windows."""
    assert data.inputs is not None and data.features is not None
    paths = dict(paths)
    oracle = paths.pop("_oracle", ())
    provider = InputPathProvider(data.inputs, data.indicators, paths, season_length=7)
    frame, truth = data.frame, data.features.select(ID, DS, "y", *EXOG)
    ids = frame.get_column(ID).unique().sort().to_list()
    first = frame.filter(pl.col(ID) == ids[0]).get_column(DS)
    keys = ("hdd", "uav_stock", "missile_stock", "hours", "mase", "mase_noise")
    errors: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for window in backtest_schedule(first, plan)[skip:]:
        scale = _scales(frame, ids, window.cutoff)
        at = truth.filter(pl.col(DS) == window.cutoff)
        days = np.tile(np.array(window.test_ds, dtype="datetime64[D]"), len(ids))
        future = pl.DataFrame({ID: np.repeat(ids, plan.h), DS: days}).with_columns(pl.col(DS).cast(pl.Date))
        got = provider.future(frame.filter(pl.col(DS) <= window.cutoff), future, list(EXOG), oracle=oracle)
        j = got.join(truth, on=[ID, DS], suffix="_true").sort(ID, DS)
        col = {c: j.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in j.columns[2:]}
        exposure = np.array([EXPOSURE[u] for u in j.get_column(ID)])
        h = hours(col["launched_uav_damage"], col["launched_missile_damage"], col["hdd_c"], exposure)
        for key, c in (
            ("hdd", "hdd_c"),
            ("uav_stock", "launched_uav_damage"),
            ("missile_stock", "launched_missile_damage"),
        ):
            errors[key].append(np.abs(col[c] - col[f"{c}_true"]))
        errors["hours"].append(np.abs(h - col["y"]))
        errors["mase"].append(np.abs(h - col["y"]) / np.array([scale[u] for u in j.get_column(ID)]))
        carried = []
        for uid in ids:
            row = at.filter(pl.col(ID) == uid).row(0, named=True)
            lin = OUTAGE.a + OUTAGE.b * EXPOSURE[uid] * (row[EXOG[1]] + row[EXOG[2]]) + OUTAGE.c * row[EXOG[0]]
            rows = (j.get_column(ID) == uid).to_numpy()
            y_last = float("nan") if row["y"] is None else float(row["y"])
            carried.append(np.abs(_noise_carried(h[rows], y_last, lin) - col["y"][rows]) / scale[uid])
        errors["mase_noise"].append(np.concatenate(carried))
    return {k: float(np.nanmean(np.concatenate(v))) for k, v in errors.items()}


def sample_strikes(rng: np.random.Generator, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` futures of the drones and missiles launched per day at ``days`` (shape ``(n, h)`` each), drawn from the
    generating process (docs/demo-data.md §1: night attacks, Shahed NB, massed raids, tactical and southern
    launches)."""
    p, shape = STRIKE, (n, days.size)
    season = np.exp(p.season_amp * annual_cosine(_doy(days), p.season_peak_doy))
    years = (days - np.datetime64(DEFAULT_START)).astype(np.int64) / 365.25
    tempo = season * np.array(p.weekly)[(days.astype(np.int64) + 3) % 7] * np.exp(p.trend_per_year * years)
    attack = rng.random(shape) < np.minimum(0.97, p.attack_p * np.sqrt(season))
    burst = attack & (rng.random(shape) < np.minimum(1.0, p.burst_p * season))
    shahed = 1 + rng.poisson(rng.gamma(p.nb_shape, p.shahed_mean * tempo / p.nb_shape, shape))
    south = rng.random(shape) < p.south_p
    south_uav = sum(m for name, m in p.south if name != "X-59/X-69")
    uav = attack * (shahed + burst * rng.poisson(p.burst_uav, shape)) + south * rng.poisson(south_uav, shape)
    massed = sum(m for _, m in p.burst_missiles)
    tactical = sum(m for _, m in p.tactical)
    missile = burst * rng.poisson(massed, shape) + attack * rng.poisson(tactical * season, shape)
    missile = missile + south * rng.poisson(dict(p.south)["X-59/X-69"], shape)
    return uav.astype(np.float64), missile.astype(np.float64)


def _stock(start: float, s: np.ndarray, weight: float, rate: float, cap: float) -> np.ndarray:
    """The damage stock D_t = max(0, D_{t−1} + w·s_t − min(cap, r·D_{t−1})) along the last axis of ``s`` from
    ``start`` (DESIGN §4)."""
    out, d = np.empty_like(s), np.full(s.shape[:-1], start)
    for k in range(s.shape[-1]):
        d = np.maximum(0.0, d + weight * s[..., k] - np.minimum(cap, rate * d))
        out[..., k] = d
    return out


def score_sampled(data: Dataset, plan: BacktestPlan, skip: int, n: int = 400, seed: int = 0) -> dict[str, float]:
    """Proxy MASE of the mean path and of the per-day median of ``n`` process-drawn strike futures (module
    docstring), under the shipped temperature path and the spec's damage-stock parameters."""
    assert data.features is not None
    stocks = {
        s.params["input"]: (s.output, s.params["weight"], s.params["repair_rate"], s.params["cap"])
        for s in data.indicators
        if s.name == "damage_stock"
    }
    provider = InputPathProvider(data.inputs, data.indicators, variants()["shipped"], season_length=7)
    frame, truth = data.frame, data.features
    ids = frame.get_column(ID).unique().sort().to_list()
    rng = np.random.default_rng(seed)
    errors: dict[str, list[float]] = {"sampled_mean_path": [], "sampled_median": []}
    for window in backtest_schedule(frame.filter(pl.col(ID) == ids[0]).get_column(DS), plan)[skip:]:
        days = np.array(window.test_ds, dtype="datetime64[D]")
        draws = dict(zip(("launched_uav", "launched_missile"), sample_strikes(rng, days, n), strict=True))
        scale = _scales(frame, ids, window.cutoff)
        future = pl.DataFrame({ID: np.repeat(ids, plan.h), DS: np.tile(days, len(ids))})
        future = future.with_columns(pl.col(DS).cast(pl.Date))
        hdd = provider.future(frame.filter(pl.col(DS) <= window.cutoff), future, ["hdd_c"])
        at = truth.filter(pl.col(DS) == window.cutoff)
        for uid in ids:
            row = at.filter(pl.col(ID) == uid).row(0, named=True)
            sampled, mean = 0.0, 0.0
            for column, (out, w, r, cap) in stocks.items():
                sampled = sampled + _stock(row[out], draws[column], w, r, cap)
                mean = mean + _stock(row[out], draws[column].mean(axis=0), w, r, cap)
            h = hdd.filter(pl.col(ID) == uid).get_column("hdd_c").to_numpy()
            y = truth.filter((pl.col(ID) == uid) & pl.col(DS).is_in(list(window.test_ds))).get_column("y")
            y = y.cast(pl.Float64).fill_null(np.nan).to_numpy()
            median = np.median(hours(sampled, 0.0, h, EXPOSURE[uid]), axis=0)
            errors["sampled_median"] += list(np.abs(median - y) / scale[uid])
            errors["sampled_mean_path"] += list(np.abs(hours(mean, 0.0, h, EXPOSURE[uid]) - y) / scale[uid])
    return {k: float(np.nanmean(v)) for k, v in errors.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut the data here (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    spec = load_spec(SPEC)
    if args.as_of is not None:
        spec = spec.model_copy(update={"as_of": args.as_of})
    assert spec.backtest is not None
    b = spec.backtest
    plan = BacktestPlan(b.h, b.n_windows, b.step, b.input_size, b.refit_every)
    skip = spec.hierarchy.min_windows if spec.hierarchy is not None else 0
    data = load_dataset(spec)
    rows = []
    print("| variant | proxy MASE | + noise carried | hours MAE | HDD MAE | drone stock MAE | missile stock MAE |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, paths in variants().items():
        r = score(data, paths, plan, skip)
        rows.append({"as_of": str(data.as_of), "variant": name, **r})
        print(
            f"| {name} | {r['mase']:.3f} | {r['mase_noise']:.3f} | {r['hours']:.3f} | {r['hdd']:.3f} | "
            f"{r['uav_stock']:.3f} | "
            f"{r['missile_stock']:.3f} |",
            flush=True,
        )
    sampled = score_sampled(data, plan, skip)
    for name, mase in sampled.items():
        rows.append({"as_of": str(data.as_of), "variant": name, "mase": mase})
        print(f"| {name} | {mase:.3f} | | | | | |", flush=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    keep = [r for r in old if r.get("as_of") != str(data.as_of)]
    RESULTS.write_text(json.dumps(keep + rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
