"""Rolling-origin backtests: a schedule of windows first, then one forecast per window.

Window ``w`` of ``n_windows`` (oldest first) on a series of ``n`` periods has its cutoff (the last period the
model may see) at row ``n − h − step·(n_windows − 1 − w) − 1``, so the last window's test ends at the series'
last period (statsforecast's convention). Windows overlap when ``step < h``. Each series is scheduled on its own
grid, so series that end on different dates get different cutoffs; the ``cutoff`` column says which.

No look-ahead is structural: each window forecasts from the rows with ``ds <= cutoff`` only (as
:func:`forecast.core.forecast_frame` does), and the future exogenous values come from an
:class:`~forecast.exog.ExogProvider` given that same history (default :class:`~forecast.exog.LastValueProvider`);
the truth after the cutoff is only joined to the output afterwards, as column ``y``.

Refitting every k windows
    With ``refit_every = k`` the models are fitted at windows 0, k, 2k, … and, in the windows between, the model
    fitted last is :meth:`~forecast.models.base.Forecaster.update`-d with the history up to the new cutoff (parameters
    kept where the model implements ``_update``, e.g. a Kalman filter re-run; refitted otherwise). A model that
    failed on a series (and fell back) is refitted at the next window. The fallback model is always refitted.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from features.contract import CUTOFF, DS, ID, MODEL, Y
from forecast.core import ModelLike, forecast_frame_paths, forecast_frame_with_state
from forecast.exog import ExogProvider, LastValueProvider
from forecast.frames import check_frame, id_runs
from forecast.models.base import Forecaster
from forecast.parallel.by_series import by_series
from forecast.settings import BacktestPlan, ForecastSettings

_SOURCE = "backtest input"
CHECK_ROWS = 1 << 18
"""Rows of input checked at once (in whole series; see :func:`_check_frame`)."""


class BacktestPlanError(ValueError):
    """The backtest plan does not fit the data (e.g. series too short); ``ids`` lists the series concerned."""

    def __init__(self, message: str, ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.ids = list(ids)


@dataclass(frozen=True)
class Window:
    """One backtest event: fit on rows ``[train_start, train_end)``, forecast ``test_ds``.

    ``cutoff`` is the ds of row ``train_end − 1``, the last period the model may see; ``refit`` is False when the
    window re-uses the parameters of an earlier fit (``refit_every > 1``).
    """

    window: int
    cutoff: date | datetime
    train_start: int
    train_end: int
    test_ds: tuple[Any, ...]
    refit: bool = True


def backtest_schedule(ds_values: Sequence[Any] | pl.Series, plan: BacktestPlan, *, min_train: int = 1) -> list[Window]:
    """The windows of the rolling-origin ``plan`` on one series' grid ``ds_values`` (ascending), oldest first.

    ``plan.input_size`` None means an expanding window from the first row; an integer keeps the last
    ``input_size`` rows up to each cutoff, and then also sets the minimum training length. Window ``w`` refits when
    ``w % plan.refit_every == 0``. Raises :class:`BacktestPlanError` when the series is too short.
    """
    h, n_windows, step, input_size = plan.h, plan.n_windows, plan.stride, plan.input_size
    values = list(ds_values)
    n = len(values)
    need = plan.required_length(input_size if input_size is not None else max(1, min_train))
    if n < need:
        raise BacktestPlanError(f"series too short for the plan: {n} periods, need {need}")
    windows = []
    for w in range(n_windows):
        end = n - h - step * (n_windows - 1 - w)  # rows [.., end) are history
        start = 0 if input_size is None else end - input_size
        refit = w % plan.refit_every == 0
        windows.append(Window(w, values[end - 1], start, end, tuple(values[end : end + h]), refit))
    return windows


def backtest(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    *,
    exog_provider: ExogProvider | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Rolling-origin backtest of every model on every series, on the plan ``settings.backtest``.

    Returns the columns of :func:`forecast.core.forecast_frame` plus ``cutoff`` (after ``ds``) and ``y`` (the
    truth, after ``model``; null where the target is missing): ``unique_id, ds, cutoff, model, y, mean, lo-*,
    hi-*, q-*, p_exceed-*, fallback_reason``, sorted by series, cutoff, model (in mapping order) and ds. The future
    exogenous values of each window come from ``exog_provider`` (default: the last value); ``refit_every`` is
    explained in the module docstring. ``progress(done, total)`` is called after each window.

    Every series needs ``input_size`` (or, when expanding, ``season_length + 1``, what the seasonal-naive
    fallback needs) periods before its first cutoff plus the test periods; otherwise one
    :class:`BacktestPlanError` lists all the short series.
    """
    provider = exog_provider if exog_provider is not None else LastValueProvider()
    _Walk.start(df, settings)  # the frame and the plan are checked on every series here, before any work is shipped
    parts = by_series(df, _backtest_part, models, settings, provider, stage="backtest", progress=progress)
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical").rechunk()


def _backtest_part(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    provider: ExogProvider,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """:func:`backtest` of the series of ``df`` in one pass (one chunk of :mod:`forecast.parallel`)."""
    exog = list(settings.exog)
    walk = _Walk.start(df, settings, checked=True)
    parts = []
    state = walk.new_state()
    for train, test, cutoffs, refit in walk.windows():
        future_exog = provider.future(train.select(ID, DS, *exog), test.select(ID, DS), exog) if exog else None
        fc = forecast_frame_with_state(
            train, models, walk.plan.h, settings, future_exog=future_exog, state=state, refit=refit
        )
        parts.append(walk.joined(fc, cutoffs, test))
        if progress is not None:
            progress(len(parts), walk.plan.n_windows)
    return walk.ordered(parts)


FuturesOf = Callable[[pl.DataFrame, pl.DataFrame], Sequence[pl.DataFrame]]
"""``futures(history, test)``: future exogenous frames of a window from its history (``unique_id, ds, exog`` up
to the cutoff) and its test rows (``unique_id, ds``); the same number at every window."""


def backtest_paths(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    futures: FuturesOf,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[pl.DataFrame]:
    """:func:`backtest` under several futures per window with every model fitted once per window
    (:func:`forecast.core.forecast_frame_paths`): frame ``k`` is the backtest whose window inputs are the ``k``-th
    frame of ``futures(history, test)``. The frames have the same rows, in the same order, as :func:`backtest`;
    ``progress`` as there."""
    _Walk.start(df, settings)
    chunks = by_series(df, _paths_part, models, settings, futures, stage="backtest", progress=progress)
    if len(chunks) == 1:
        return chunks[0]
    return [pl.concat([c[k] for c in chunks], how="vertical").rechunk() for k in range(len(chunks[0]))]


def _paths_part(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    futures: FuturesOf,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[pl.DataFrame]:
    """:func:`backtest_paths` of the series of ``df`` in one pass (one chunk of :mod:`forecast.parallel`)."""
    exog = list(settings.exog)
    walk = _Walk.start(df, settings, checked=True)
    parts: list[list[pl.DataFrame]] = []
    state = walk.new_state()
    for train, test, cutoffs, refit in walk.windows():
        fx = list(futures(train.select(ID, DS, *exog), test.select(ID, DS))) if exog else [None]
        if parts and len(fx) != len(parts):
            raise ValueError(f"futures: {len(fx)} frames at cutoff {cutoffs[CUTOFF].max()}, {len(parts)} before")
        fcs = forecast_frame_paths(train, models, walk.plan.h, settings, fx, state=state, refit=refit)
        if not parts:
            parts = [[] for _ in fcs]
        for k, fc in enumerate(fcs):
            parts[k].append(walk.joined(fc, cutoffs, test))
        if progress is not None:
            progress(len(parts[0]), walk.plan.n_windows)
    return [walk.ordered(p) for p in parts]


@dataclass(frozen=True)
class _Walk:
    """The rolling origin over a frame: each window's training rows, test rows and cutoffs (module docstring).

    The rows of a series are one contiguous block (:func:`~forecast.frames.check_frame`), so a window's rows are
    found from each block's offset and length alone, with no grouping by the string ids (whose hash tables hold
    tens of bytes per row of the frame while they are built).
    """

    frame: pl.DataFrame  # the input's columns the walk uses, rows as given
    lengths: pl.DataFrame  # unique_id, len: one row per series, in frame order
    plan: BacktestPlan

    @classmethod
    def start(cls, df: pl.DataFrame, settings: ForecastSettings, *, checked: bool = False) -> _Walk:
        """The walk over ``df``; the frame and the plan are checked unless ``checked`` (a part of a checked frame)."""
        plan = settings.backtest
        if plan is None:
            raise ValueError("backtest: settings.backtest is None; give a BacktestPlan")
        exog = list(settings.exog)
        # contiguous blocks (checked): the run lengths of the ids are the series and their lengths
        runs = id_runs(df)[0] if checked else _check_frame(df, settings.freq, exog)
        lengths = runs.select(pl.col("value").alias(ID), pl.col("len"))
        if not checked:
            min_train = plan.input_size if plan.input_size is not None else settings.season_length + 1
            _check_lengths(lengths, plan, min_train, plan.required_length(min_train))
        return cls(df.select(ID, DS, Y, *exog), lengths, plan)

    def new_state(self) -> dict[str, dict[str, Forecaster]] | None:
        """A store for the fitted models (series → model name → model fitted at the last refit), or ``None`` when
        every window refits: a store nothing reads would hold every fitted model of the part until its end."""
        plan = self.plan
        return {} if plan.refit_every > 1 and plan.n_windows > 1 else None

    def windows(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, bool]]:
        """``(train, test, cutoffs, refit)`` of every window, oldest first."""
        h, n_windows, step, input_size = self.plan.h, self.plan.n_windows, self.plan.stride, self.plan.input_size
        n = self.lengths.get_column("len").to_numpy().astype(np.int64)
        first = np.cumsum(n) - n  # each series' first row in the frame
        ids = self.lengths.get_column(ID)
        for w in range(n_windows):
            end = n - h - step * (n_windows - 1 - w)  # rows [.., end) of each series are history (as the schedule)
            start = np.zeros_like(end) if input_size is None else np.maximum(end - input_size, 0)
            train = self.frame.filter(_rows(n, start, end))
            test = self.frame.filter(_rows(n, end, end + h)).select(ID, DS, Y)
            cutoffs = pl.DataFrame([ids, self.frame.get_column(DS).gather(first + end - 1).alias(CUTOFF)])
            yield train, test, cutoffs, w % self.plan.refit_every == 0

    @staticmethod
    def joined(fc: pl.DataFrame, cutoffs: pl.DataFrame, test: pl.DataFrame) -> pl.DataFrame:
        """A window's forecast with its ``cutoff`` and the truth ``y``."""
        return fc.join(cutoffs, on=ID, how="left", maintain_order="left").join(
            test, on=[ID, DS], how="left", maintain_order="left"
        )

    def ordered(self, parts: list[pl.DataFrame]) -> pl.DataFrame:
        """The windows' frames as one backtest frame: columns and row order of :func:`backtest`."""
        out = pl.concat(parts, how="vertical")
        order = [ID, DS, CUTOFF, MODEL, Y]
        out = out.select(*order, *[c for c in out.columns if c not in order])
        series_rank = self.lengths.select(ID, pl.int_range(pl.len()).alias("_s"))
        return (
            out.join(series_rank, on=ID, how="left", maintain_order="left")
            .sort("_s", CUTOFF, maintain_order=True)
            .drop("_s")
        )


def _check_frame(df: pl.DataFrame, freq: str, exog: list[str]) -> pl.DataFrame:
    """:func:`~forecast.frames.check_frame` of the backtest input; returns its id runs (:func:`~.frames.id_runs`).

    Checked in blocks of whole series of about :data:`CHECK_ROWS` rows when the series are contiguous blocks: its
    checks build per-row temporaries (the ids shifted by a row, the steps, masks; about 27 B per row checked at once,
    4 B in blocks, on 3.9M rows), so the whole frame at once would be the peak of a large backtest. The outcome is
    that of one call: the checks are per series, and on any failure the whole frame is checked again to raise the
    error ``check_frame`` raises (naming every offending series)."""
    runs = None
    with contextlib.suppress(ValueError, pl.exceptions.PolarsError):  # any doubt: the whole frame below
        runs, contiguous = id_runs(df)
        if contiguous and df.height > CHECK_ROWS:  # not contiguous: check_frame below says so
            n = runs.get_column("len").to_numpy().astype(np.int64)
            first = np.cumsum(n) - n
            cuts = first[np.flatnonzero(np.diff(first // CHECK_ROWS)) + 1].tolist()
            for a, b in itertools.pairwise([0, *cuts, df.height]):
                check_frame(df.slice(a, b - a), freq, exog, source=_SOURCE)
            return runs
    check_frame(df, freq, exog, source=_SOURCE)
    return runs if runs is not None else id_runs(df)[0]


def _rows(n: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> pl.Series:
    """A row mask of a frame of contiguous series of lengths ``n``: rows ``[lo, hi)`` of each series (0 ≤ lo ≤ hi
    ≤ n), as one byte per row built by ``np.repeat`` (no per-row index columns)."""
    counts = np.column_stack([lo, hi - lo, n - hi]).ravel()
    return pl.Series(np.repeat(np.tile(np.array([False, True, False]), n.size), counts))


def _check_lengths(lengths: pl.DataFrame, plan: BacktestPlan, min_train: int, need: int) -> None:
    short = lengths.filter(pl.col("len") < need)
    if short.height:
        listed = ", ".join(f"{u} ({n})" for u, n in short.iter_rows())
        raise BacktestPlanError(
            f"{short.height} series too short for the backtest plan (h={plan.h}, n_windows={plan.n_windows}, "
            f"step={plan.stride}, min training size={min_train}: need {need} periods): {listed}",
            ids=short.get_column(ID).to_list(),
        )
