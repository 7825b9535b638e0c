"""InputPathProvider: raw inputs extended by paths, indicators recomputed over history + path, nothing read after
the cutoff."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from features.contract import DS, ID
from features.indicators import validate_indicator_specs
from forecast.scenarios import InputPathProvider, Zero

N, CUT, H = 80, 60, 7
REPAIR, CAP, WEIGHT = 0.1, 1.5, 0.01


def _inputs() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    days = [date(2024, 11, 1) + timedelta(days=i) for i in range(N)]
    parts = []
    for uid, scale in (("a", 1.0), ("b", 3.0)):
        parts.append(
            pl.DataFrame(
                {
                    ID: [uid] * N,
                    DS: days,
                    "launched": rng.poisson(60 * scale, N).astype(float),
                    "temp": rng.normal(0.0, 4.0, N),
                }
            )
        )
    return pl.concat(parts)


INDICATORS = validate_indicator_specs(
    [
        {"name": "damage_stock", "input": "launched", "weight": WEIGHT, "repair_rate": REPAIR, "cap": CAP},
        {"name": "hdd", "input": "temp"},
    ]
)


def _history_and_future(inputs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ranked = inputs.with_columns(pl.int_range(pl.len()).over(ID).alias("_i"))
    history = ranked.filter(pl.col("_i") < CUT).select(ID, DS, pl.lit(0.0).alias("other"))
    future = ranked.filter((pl.col("_i") >= CUT) & (pl.col("_i") < CUT + H)).select(ID, DS)
    return history, future


def test_rows_after_the_cutoff_are_never_read() -> None:
    inputs = _inputs()
    history, future = _history_and_future(inputs)
    columns = ["launched_damage", "hdd_c", "launched"]
    clean = InputPathProvider(inputs, INDICATORS, {"temp": "climatology"}, season_length=7).future(
        history, future, columns
    )
    after = pl.int_range(pl.len()).over(ID) >= CUT
    poisoned = inputs.with_columns(
        pl.when(after).then(pl.col(c) * 1000 + 7).otherwise(pl.col(c)).alias(c) for c in ("launched", "temp")
    )
    again = InputPathProvider(poisoned, INDICATORS, {"temp": "climatology"}, season_length=7).future(
        history, future, columns
    )
    assert clean.equals(again)
    assert clean.height == 2 * H and clean.null_count().sum_horizontal().item() == 0


def test_indicators_follow_their_own_recursion_along_the_path() -> None:
    inputs = _inputs()
    history, future = _history_and_future(inputs)
    provider = InputPathProvider(inputs, INDICATORS, {"launched": Zero(), "temp": "last_value"}, season_length=7)
    got = provider.future(history, future, ["launched_damage", "hdd_c"])
    for uid in ("a", "b"):
        launched = inputs.filter(pl.col(ID) == uid).get_column("launched").to_numpy()[:CUT]
        stock = 0.0
        for s in launched:  # D_t = max(0, D_{t-1} + w s_t - min(cap, r D_{t-1}))
            stock = max(0.0, stock + WEIGHT * s - min(CAP, REPAIR * stock))
        expected = []
        for _ in range(H):  # no strikes on the path: repair only
            stock = max(0.0, stock - min(CAP, REPAIR * stock))
            expected.append(stock)
        mine = got.filter(pl.col(ID) == uid)
        np.testing.assert_allclose(mine.get_column("launched_damage").to_numpy(), expected, rtol=1e-12)
        t_last = inputs.filter(pl.col(ID) == uid).get_column("temp").to_numpy()[CUT - 1]
        hdd = 18.0 - t_last if t_last <= 15.0 else 0.0
        np.testing.assert_allclose(mine.get_column("hdd_c").to_numpy(), np.full(H, hdd))


def test_columns_it_cannot_derive_come_from_the_fallback() -> None:
    inputs = _inputs()
    history, future = _history_and_future(inputs)
    history = history.with_columns(pl.when(pl.col(ID) == "a").then(5.0).otherwise(9.0).alias("other"))
    got = InputPathProvider(inputs, INDICATORS, season_length=7).future(history, future, ["other", "hdd_c"])
    assert got.columns == [ID, DS, "other", "hdd_c"]
    assert got.filter(pl.col(ID) == "a").get_column("other").unique().to_list() == [5.0]
    assert got.filter(pl.col(ID) == "b").get_column("other").unique().to_list() == [9.0]


def test_a_path_for_a_column_that_is_not_a_raw_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"paths: 'launched_damage' is not a raw input column; they are: launched"):
        InputPathProvider(_inputs(), INDICATORS, {"launched_damage": "zero"})
