"""Data and reference implementations for ``benchmarks.bench_features``: the same indicator set three ways.

- :data:`SPECS`: the full catalogue as ``add_indicators`` specs (17 indicators, realistic parameters);
- :func:`polars_indicators`: the same set in Polars expressions (``.over("unique_id")``), one lazy query;
- :func:`pandas_indicators`: the same set with pandas groupby transforms.

Polars and pandas have no expression for the damage stock (a recursion with a ``max``/``min`` in it), so both run
:func:`damage_stock_py`, a plain Python loop, once per series: Polars through ``map_batches(...).over(id)``, pandas
through ``groupby.transform``. The benchmark reports that indicator's share separately. The decayed cold exposure
is written as an ``adjust=True`` EWM times its weight sum: ``C_t = ewm_t · (1 − λ^(t+1)) / (1 − λ)``.

The data are synthetic and seeded, without nulls (strike counts are zero-filled and the weather complete, as the
data contract makes them), so every reference computes exactly our semantics and results are compared.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import pandas as pd

ID = "unique_id"
HALF_LIFE = 7.0
LAMBDA = 0.5 ** (1 / HALF_LIFE)
WINDOW = 28

SPECS: list[dict[str, Any]] = [
    {"name": "hdd", "input": "temp_mean_c"},
    {"name": "cold_exposure", "input": "temp_mean_c", "half_life": HALF_LIFE},
    {"name": "cold_spell_len", "input": "temp_mean_c", "threshold": 0.0},
    {"name": "freeze_thaw_w", "t_min": "t_min_c", "t_max": "t_max_c", "window": 7},
    {"name": "strike_ewm", "input": "launched", "half_life": HALF_LIFE},
    {"name": "damage_stock", "input": "launched", "weight": 1.0, "repair_rate": 0.1, "cap": 50.0},
    {"name": "days_since_strike", "input": "launched", "k": 10.0},
    {"name": "burst_w", "input": "launched", "window": 7, "level": 20.0},
    {"name": "cold_spell_strikes", "input": "launched", "temp": "temp_mean_c", "threshold": 0.0, "min_len": 3},
    {"name": "damage_hdd", "damage": "launched_damage", "hdd": "hdd_c"},
    {"name": "lag", "input": "launched", "k": 1},
    {"name": "rolling_sum", "input": "launched", "window": WINDOW},
    {"name": "rolling_mean", "input": "launched", "window": WINDOW},
    {"name": "rolling_std", "input": "temp_mean_c", "window": WINDOW},
    {"name": "rolling_min", "input": "temp_mean_c", "window": WINDOW},
    {"name": "rolling_max", "input": "temp_mean_c", "window": WINDOW},
    {"name": "expanding_mean", "input": "launched"},
]
INPUTS = ["temp_mean_c", "t_min_c", "t_max_c", "launched"]


def synthetic_frame(n_series: int, n_days: int, seed: int = 0) -> pl.DataFrame:
    """Canonical long frame sorted by (unique_id, ds): seasonal temperatures (mean, min, max, °C) and strike counts
    (Poisson with 5 % burst days), float64, no nulls."""
    rng = np.random.default_rng(seed)
    n = n_series * n_days
    day = np.tile(np.arange(n_days), n_series)
    offset = np.repeat(rng.uniform(-4, 4, n_series), n_days)  # regional climate
    temp = 4.0 + offset - 11.0 * np.cos(2 * np.pi * day / 365.25) + rng.normal(0, 4.0, n)
    rate = np.where(rng.random(n) < 0.05, 60.0, 6.0)
    ids = pl.Series(ID, [f"s{i:05d}" for i in range(n_series)]).gather(np.repeat(np.arange(n_series), n_days))
    start = dt.date(2022, 10, 1).toordinal() - dt.date(1970, 1, 1).toordinal()
    return pl.DataFrame(
        {
            ID: ids,
            "ds": pl.Series(day + start, dtype=pl.Int32).cast(pl.Date),
            "temp_mean_c": temp,
            "t_min_c": temp - rng.uniform(1, 8, n),
            "t_max_c": temp + rng.uniform(1, 8, n),
            "launched": rng.poisson(rate).astype(np.float64),
        }
    )


def damage_stock_py(strikes: Any, weight: float = 1.0, rate: float = 0.1, cap: float = 50.0) -> list[float]:
    """``D_t = max(0, D_{t−1} + w·s_t − min(cap, r·D_{t−1}))`` in plain Python (inputs without nulls)."""
    out, stock = [], 0.0
    for s in strikes:
        stock = max(0.0, stock + weight * s - min(cap, rate * stock))
        out.append(stock)
    return out


# --- Polars ---------------------------------------------------------------------------------------------------


def _damage_series(s: pl.Series) -> pl.Series:
    return pl.Series(s.name, damage_stock_py(s.to_list()), dtype=pl.Float64)


def polars_indicators(frame: pl.DataFrame, damage: bool = True) -> pl.DataFrame:
    """The :data:`SPECS` set in Polars expressions; ``damage=False`` leaves out the damage stock and its product."""
    temp, lo, hi, s = pl.col("temp_mean_c"), pl.col("t_min_c"), pl.col("t_max_c"), pl.col("launched")
    pos = pl.col("_pos")
    lf = frame.lazy().with_columns(
        hdd_c=pl.when(temp <= 15.0).then(18.0 - temp).otherwise(0.0),
        _cold=temp < 0.0,
        _pos=pl.int_range(pl.len()).over(ID),
    )
    lf = lf.with_columns(_run=(pl.col("_cold") != pl.col("_cold").shift(1)).fill_null(True).cum_sum().over(ID))
    first = {
        "cold_exposure_hl7": pl.col("hdd_c").ewm_mean(alpha=1 - LAMBDA, adjust=True).over(ID)
        * (1 - pl.lit(LAMBDA).pow(pos + 1))
        / (1 - LAMBDA),
        "cold_spell_len_lt0": pl.col("_cold").cast(pl.Float64).cum_sum().over([ID, "_run"]),
        "freeze_thaw_7": ((lo < 0) & (hi > 0)).cast(pl.Float64).rolling_sum(7, min_samples=1).over(ID),
        "launched_ewm7": s.ewm_mean(half_life=HALF_LIFE, adjust=False).over(ID),
        "launched_days_since_ge10": (pos - pl.when(s >= 10).then(pos).forward_fill().over(ID)).cast(pl.Float64),
        "launched_burst7_gt20": (s > 20).cast(pl.Float64).rolling_sum(7, min_samples=1).over(ID),
        "launched_lag1": s.shift(1).over(ID),
        "launched_rolling_sum28": s.rolling_sum(WINDOW).over(ID),
        "launched_rolling_mean28": s.rolling_mean(WINDOW).over(ID),
        "temp_mean_c_rolling_std28": temp.rolling_std(WINDOW).over(ID),
        "temp_mean_c_rolling_min28": temp.rolling_min(WINDOW).over(ID),
        "temp_mean_c_rolling_max28": temp.rolling_max(WINDOW).over(ID),
        "launched_expanding_mean": s.cum_sum().over(ID) / (pos + 1),
    }
    if damage:
        first["launched_damage"] = s.map_batches(_damage_series, return_dtype=pl.Float64).over(ID)
    lf = lf.with_columns(**first)
    second = {"launched_cold_spell_lt0": pl.when(pl.col("cold_spell_len_lt0") >= 3).then(s).otherwise(0.0)}
    if damage:
        second["launched_damage_x_hdd_c"] = pl.col("launched_damage") * pl.col("hdd_c")
    return lf.with_columns(**second).drop("_cold", "_pos", "_run").collect()


def polars_damage_only(frame: pl.DataFrame) -> pl.DataFrame:
    """Just the damage stock through ``map_batches(...).over(id)`` (to report its share of the Polars time)."""
    expr = pl.col("launched").map_batches(_damage_series, return_dtype=pl.Float64).over(ID)
    return frame.select(launched_damage=expr)


# --- pandas ---------------------------------------------------------------------------------------------------


def pandas_indicators(df: pd.DataFrame) -> pd.DataFrame:
    """The :data:`SPECS` set with pandas groupby (``df`` sorted by id then ds, default RangeIndex)."""
    import pandas as pd  # here, so that importing this module (for SPECS and the data) stays cheap

    ids = df[ID]
    temp, s = df["temp_mean_c"], df["launched"]
    by = df.groupby(ID, sort=False)
    pos = by.cumcount()

    def rolled(x: pd.Series, window: int, stat: str, min_periods: int | None = None) -> pd.Series:
        r = getattr(x.groupby(ids, sort=False).rolling(window, min_periods=min_periods), stat)()
        return r.reset_index(level=0, drop=True).reindex(df.index)

    out = pd.DataFrame(index=df.index)
    hdd = pd.Series(np.where(temp <= 15.0, 18.0 - temp, 0.0), index=df.index)
    out["hdd_c"] = hdd
    ewm_adj = hdd.groupby(ids, sort=False).ewm(alpha=1 - LAMBDA, adjust=True).mean()
    ewm_adj = ewm_adj.reset_index(level=0, drop=True).reindex(df.index)
    out["cold_exposure_hl7"] = ewm_adj * (1 - LAMBDA ** (pos + 1)) / (1 - LAMBDA)
    cold = temp < 0.0
    run = (cold != cold.groupby(ids, sort=False).shift(1)).groupby(ids, sort=False).cumsum()
    spell = cold.astype(float).groupby([ids, run], sort=False).cumsum()
    out["cold_spell_len_lt0"] = spell
    flag = ((df["t_min_c"] < 0) & (df["t_max_c"] > 0)).astype(float)
    out["freeze_thaw_7"] = rolled(flag, 7, "sum", 1)
    ewm = s.groupby(ids, sort=False).ewm(halflife=HALF_LIFE, adjust=False).mean()
    out["launched_ewm7"] = ewm.reset_index(level=0, drop=True).reindex(df.index)
    out["launched_damage"] = s.groupby(ids, sort=False).transform(lambda x: damage_stock_py(x.to_numpy().tolist()))
    last = pos.where(s >= 10).groupby(ids, sort=False).ffill()
    out["launched_days_since_ge10"] = (pos - last).astype(float)
    out["launched_burst7_gt20"] = rolled((s > 20).astype(float), 7, "sum", 1)
    out["launched_cold_spell_lt0"] = np.where(spell >= 3, s, 0.0)
    out["launched_damage_x_hdd_c"] = out["launched_damage"] * hdd
    out["launched_lag1"] = by["launched"].shift(1)
    out["launched_rolling_sum28"] = rolled(s, WINDOW, "sum")
    out["launched_rolling_mean28"] = rolled(s, WINDOW, "mean")
    out["temp_mean_c_rolling_std28"] = rolled(temp, WINDOW, "std")
    out["temp_mean_c_rolling_min28"] = rolled(temp, WINDOW, "min")
    out["temp_mean_c_rolling_max28"] = rolled(temp, WINDOW, "max")
    out["launched_expanding_mean"] = by["launched"].cumsum() / (pos + 1)
    return out
