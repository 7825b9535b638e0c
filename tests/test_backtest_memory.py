"""What keeps a backtest's memory in proportion to its series (#11): the input is checked in blocks of whole series
with the outcome of one check, chunks of contiguous series are slices, and no fitted model is kept when no window
reads it; the numbers are those of the one-pass path."""

from __future__ import annotations

import datetime as dt
import importlib

import numpy as np
import polars as pl
import pytest

from features.contract import DS, ID, Y
from features.errors import DataError
from forecast.backtest import _Walk, backtest
from forecast.frames import check_frame
from forecast.models import SeasonalNaive
from forecast.parallel import by_series, make_executor, use_executor
from forecast.settings import BacktestPlan, ForecastSettings

START = dt.date(2024, 1, 1)
BT = importlib.import_module("forecast.backtest")  # the module (the package exports the function under its name)


def frame(ids: tuple[str, ...] = ("a", "b", "c", "d", "e"), n: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    parts = [
        pl.DataFrame(
            {ID: [uid] * n, DS: [START + dt.timedelta(days=i) for i in range(n)], Y: 10 + rng.normal(size=n)},
            schema_overrides={DS: pl.Date},
        )
        for uid in ids
    ]
    return pl.concat(parts)


SETTINGS = ForecastSettings(freq="1d", backtest=BacktestPlan(h=3, n_windows=3, step=2))
MODELS = {"snaive": SeasonalNaive(7)}


def _whole_frame_error(df: pl.DataFrame) -> str:
    with pytest.raises(DataError) as info:
        check_frame(df, "1d", source="backtest input")
    return str(info.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.filter(~((pl.col(ID).is_in(["b", "e"])) & (pl.col(DS) == START + dt.timedelta(days=5)))),
        lambda d: pl.concat([d.slice(0, 50), d.slice(90, 110), d.slice(50, 40)]),  # series b in two blocks
        lambda d: d.with_columns(pl.when(pl.col(ID) == "d").then(None).otherwise(pl.col(DS)).alias(DS)),
    ],
)
def test_a_bad_input_raises_the_whole_frame_error_when_checked_in_blocks(monkeypatch, mutate) -> None:
    monkeypatch.setattr(BT, "CHECK_ROWS", 50)  # five blocks of whole series
    bad = mutate(frame())
    with pytest.raises(DataError) as info:
        backtest(bad, MODELS, SETTINGS)
    assert str(info.value) == _whole_frame_error(bad)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_blocks_and_slices_give_the_numbers_of_one_pass(monkeypatch, chunk_size) -> None:
    df = frame()
    one_pass = backtest(df, MODELS, SETTINGS)
    monkeypatch.setattr(BT, "CHECK_ROWS", 50)
    with make_executor("serial") as ex, use_executor(ex, chunk_size=chunk_size):
        chunked = backtest(df, MODELS, SETTINGS)
    assert chunked.equals(one_pass)


def _part(part: pl.DataFrame, *, progress: object = None) -> pl.DataFrame:
    return part


def test_chunks_of_contiguous_series_are_the_rows_of_their_series() -> None:
    df = frame()
    with make_executor("serial") as ex, use_executor(ex, chunk_size=2):
        parts = by_series(df, _part, stage="backtest")
    assert [p.get_column(ID).unique(maintain_order=True).to_list() for p in parts] == [["a", "b"], ["c", "d"], ["e"]]
    assert pl.concat(parts).equals(df)


def test_series_in_several_blocks_are_gathered_in_frame_order() -> None:
    df = frame(("a", "b", "c"), n=4)
    shuffled = pl.concat([df.slice(0, 2), df.slice(4, 8), df.slice(2, 2)])  # a, b, c, a
    seen: list[tuple[int, int]] = []
    with make_executor("serial") as ex, use_executor(ex, chunk_size=2):
        parts = by_series(shuffled, _part, stage="backtest", progress=lambda done, n: seen.append((done, n)))
    expected = shuffled.filter(pl.col(ID).is_in(["a", "b"]))
    assert parts[0].equals(expected) and parts[1].equals(shuffled.filter(pl.col(ID) == "c"))
    assert seen[-1] == (3, 3)


@pytest.mark.parametrize(("refit_every", "n_windows", "kept"), [(1, 3, False), (2, 1, False), (2, 3, True)])
def test_fitted_models_are_kept_only_when_a_window_updates_them(refit_every, n_windows, kept) -> None:
    plan = BacktestPlan(h=3, n_windows=n_windows, step=2, refit_every=refit_every)
    walk = _Walk.start(frame(), ForecastSettings(freq="1d", backtest=plan))
    assert (walk.new_state() is not None) == kept
