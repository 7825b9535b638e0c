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

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from features.contract import CUTOFF, DS, ID, MODEL, Y
from forecast.core import ModelLike, forecast_frame_paths, forecast_frame_with_state
from forecast.exog import ExogProvider, LastValueProvider
from forecast.frames import check_frame
from forecast.models.base import Forecaster
from forecast.parallel.by_series import by_series
from forecast.settings import BacktestPlan, ForecastSettings

_ROW, _LEN = "_bt_row", "_bt_len"


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
    _Walk.start(df, settings)  # the plan is checked on every series here, before any work is shipped
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
    walk = _Walk.start(df, settings)
    parts = []
    state: dict[str, dict[str, Forecaster]] = {}  # series → model name → model fitted at the last refit
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
    walk = _Walk.start(df, settings)
    parts: list[list[pl.DataFrame]] = []
    state: dict[str, dict[str, Forecaster]] = {}
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
    """The rolling origin over a frame: each window's training rows, test rows and cutoffs (module docstring)."""

    indexed: pl.DataFrame
    lengths: pl.DataFrame
    plan: BacktestPlan
    cols: list[str]

    @classmethod
    def start(cls, df: pl.DataFrame, settings: ForecastSettings) -> _Walk:
        plan = settings.backtest
        if plan is None:
            raise ValueError("backtest: settings.backtest is None; give a BacktestPlan")
        exog = list(settings.exog)
        check_frame(df, settings.freq, exog, source="backtest input")
        min_train = plan.input_size if plan.input_size is not None else settings.season_length + 1
        need = plan.required_length(min_train)
        lengths = df.group_by(ID, maintain_order=True).len()
        _check_lengths(lengths, plan, min_train, need)
        cols = [ID, DS, Y, *exog]
        indexed = df.select(cols).with_columns(
            pl.int_range(pl.len()).over(ID).alias(_ROW), pl.len().over(ID).alias(_LEN)
        )
        return cls(indexed, lengths, plan, cols)

    def windows(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, bool]]:
        """``(train, test, cutoffs, refit)`` of every window, oldest first."""
        h, n_windows, step, input_size = self.plan.h, self.plan.n_windows, self.plan.stride, self.plan.input_size
        for w in range(n_windows):
            end = pl.col(_LEN) - h - step * (n_windows - 1 - w)  # same arithmetic as backtest_schedule
            in_train = pl.col(_ROW) < end
            if input_size is not None:
                in_train = in_train & (pl.col(_ROW) >= end - input_size)
            train = self.indexed.filter(in_train).select(self.cols)
            test = self.indexed.filter((pl.col(_ROW) >= end) & (pl.col(_ROW) < end + h)).select(ID, DS, Y)
            cutoffs = train.group_by(ID).agg(pl.col(DS).last().alias(CUTOFF))
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


def _check_lengths(lengths: pl.DataFrame, plan: BacktestPlan, min_train: int, need: int) -> None:
    short = lengths.filter(pl.col("len") < need)
    if short.height:
        listed = ", ".join(f"{u} ({n})" for u, n in short.iter_rows())
        raise BacktestPlanError(
            f"{short.height} series too short for the backtest plan (h={plan.h}, n_windows={plan.n_windows}, "
            f"step={plan.stride}, min training size={min_train}: need {need} periods): {listed}",
            ids=short.get_column(ID).to_list(),
        )
