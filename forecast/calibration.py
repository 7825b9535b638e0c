"""Calibrated intervals for jobs: every model's intervals from its own backtest residuals, scored honestly.

A job's backtest ranks the models and calibrates them. :func:`calibrate_backtest` replaces each model's backtest
intervals by split-conformal ones where window ``w`` is calibrated only on the ``calibration_windows`` windows
before it (:func:`forecast.conformal.conformal_backtest`), so the coverage and interval scores of the leaderboard
are those of the intervals the forecast will carry. The first windows only calibrate: their rows keep the point
forecast, get null intervals and ``interval_note = "calibration window"``, and are left out of the interval scores
(point scores use every window). :func:`calibrate_forecast` gives the forecast the intervals calibrated on the last
``calibration_windows`` windows of the same backtest.

Windows needed: a ``L`` % interval needs ``⌈L / (100 − L)⌉`` residuals per horizon step (19 at 95 %); with ``S``
series a window gives ``S`` per step, so the first ``⌈19 / S⌉`` windows only calibrate, and the calibration span is
widened to that many windows when ``calibration_windows`` is smaller. When windows overlap (stride < h) a window's
truth is complete only ``⌈h / stride⌉ − 1`` windows later, and that many more windows are added to both. A
backtest that is too short for this keeps the models' own intervals and says so in the
``interval_note`` of :func:`too_short_note` (and the job's log).

Score scale (``calibration_scale``): residuals are compared on a scale where they are about exchangeable across
seasons and series. ``"auto"`` is ``log1p`` for a target bounded below by 0 or more (outage hours, volumes: the
spread grows with the level) and ``none`` otherwise; ``"model"`` uses each model's own transform. On the demo
(24 regions, 26 fortnightly windows, 4 calibration windows) log1p gave coverage 0.817 / 0.944 at 80 / 95 %, the
logit 0.787 / 0.928 and the raw scale 0.778 / 0.929 (docs/results.md).

Score (``calibration_score``): ``"absolute"`` (the default) calibrates each horizon step on its own residuals.
``"normalised"`` divides each residual by the model's own interval half-width on that row (the narrowest level, a
spread known at the cutoff) and by a step factor, and pools the steps (:mod:`forecast.conformal`, "Normalised
scores"); the windows that only calibrate and the calibration span are the same. It is meant for few series with
uneven spread: on the day-ahead market (one series, 76 scored weekly windows of 14 days) SARIMAX covered
0.832 / 0.966 with absolute scores (outside the 95 % binomial band: a step's 95 % width is the largest of its 19
residuals) and 0.809 / 0.955 with normalised ones (inside; Winkler-80 44,700 → 35,800 MWh). On the demo (24 regions,
96 residuals per step) the absolute ones are better (0.806 / 0.939 against 0.783 / 0.918), so they stay the default.
Models without intervals of their own (and reconciled ones) are calibrated on absolute scores whatever the setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

from features.contract import ID, MEAN, MODEL
from forecast.conformal import conformal_backtest, conformal_per_model
from forecast.output.bounds import TransformLike
from forecast.output.quantiles import INTERVAL_NOTE
from forecast.settings import ForecastSettings
from forecast.windows import WINDOW, window_count, with_window

CALIBRATION_NOTE = "calibration window"
FEW_NOTE = "no interval: too few calibration residuals at this step (truths missing from the calibration windows)"
_PREFIXES = ("lo-", "hi-", "q-", "p_exceed-")


def residuals_needed(levels: Sequence[int]) -> int:
    """Residuals per step the widest level needs: ``⌈L / (100 − L)⌉`` (19 at 95 %, 4 at 80 %)."""
    return max((math.ceil(lv / (100 - lv) - 1e-9) for lv in levels), default=1)


def windows_needed(n_series: int, levels: Sequence[int]) -> int:
    """Calibration windows before the first scored one: enough residuals per step for every level."""
    return max(1, math.ceil(residuals_needed(levels) / max(1, n_series)))


def score_transforms(settings: ForecastSettings, names: Sequence[str]) -> dict[str, TransformLike]:
    """The scale each model's residuals are calibrated on (see the module docstring)."""
    scale = settings.calibration_scale
    if scale == "model":
        return dict(settings.transforms(names))
    if scale == "auto":
        lower = settings.bounds.lower if settings.bounds is not None else None
        scale = "log1p" if lower is not None and lower >= 0 else "none"
    return dict.fromkeys(names, scale)


def score_spread(settings: ForecastSettings) -> int | None:
    """The level whose model interval normalises the scores: the narrowest one under ``calibration_score =
    "normalised"``, None for absolute scores."""
    return min(settings.levels) if settings.calibration_score == "normalised" and settings.levels else None


def _overlap(settings: ForecastSettings) -> int:
    """Windows whose truth is not yet complete at a cutoff when windows overlap (stride < h): ``⌈h / stride⌉ − 1``."""
    plan = settings.backtest
    return 0 if plan is None else math.ceil(plan.h / plan.stride) - 1


def _span(n_series: int, settings: ForecastSettings) -> int:
    """Complete windows each calibration uses: ``calibration_windows``, at least what the levels need."""
    return max(windows_needed(n_series, settings.levels), settings.calibration_windows or 0)


def too_short_note(n_windows: int, needed: int) -> str | None:
    """The ``interval_note`` of a backtest too short to calibrate (None when it is long enough)."""
    if n_windows > needed:
        return None
    return (
        f"model intervals, not calibrated: the backtest has {n_windows} window(s) and calibration needs more than "
        f"{needed}"
    )


def calibrate_backtest(
    backtest_df: pl.DataFrame, settings: ForecastSettings, names: Sequence[str]
) -> tuple[pl.DataFrame, str | None]:
    """Honest conformal intervals for every model's backtest rows (module docstring); returns the frame (same rows
    and order) and the note when the backtest is too short (then the frame is returned as it is)."""
    n_series = backtest_df.get_column(ID).n_unique()
    lag = _overlap(settings)
    needed = windows_needed(n_series, settings.levels) + lag
    framed = with_window(backtest_df)
    n_windows = window_count(framed)
    note = too_short_note(n_windows, needed)
    if note is not None:
        return backtest_df, note
    span = _span(n_series, settings) + lag
    scales = score_transforms(settings, names)
    request = dict(quantiles=settings.quantiles or None, thresholds=settings.thresholds or None)
    order = "_row"
    indexed = framed.with_row_index(order)
    parts = []
    for name in names:
        rows = indexed.filter(pl.col(MODEL) == name)
        if rows.height == 0:
            continue
        scored = conformal_backtest(
            rows.drop(WINDOW),
            settings.levels,
            min_windows=needed,
            max_windows=span,
            bounds=settings.bounds,
            transform=scales[name],
            too_few="null",
            spread=score_spread(settings),
            **request,
        )
        early = rows.filter(pl.col(WINDOW) < needed).drop(WINDOW)
        early = early.select(c for c in early.columns if not c.startswith(_PREFIXES) and c != INTERVAL_NOTE)
        parts += [scored.drop(WINDOW), early.with_columns(pl.lit(CALIBRATION_NOTE).alias(INTERVAL_NOTE))]
    out = with_few_note(pl.concat(parts, how="diagonal_relaxed").sort(order).drop(order), settings)
    columns = [c for c in out.columns if c != INTERVAL_NOTE] + [INTERVAL_NOTE]
    return out.select(columns), None


def with_few_note(frame: pl.DataFrame, settings: ForecastSettings) -> pl.DataFrame:
    """Rows left without an interval because their calibration windows missed too many truths (a series with gaps)
    say so in ``interval_note``."""
    widest = f"hi-{max(settings.levels)}"
    if widest not in frame.columns:
        return frame
    note = pl.col(INTERVAL_NOTE) if INTERVAL_NOTE in frame.columns else pl.lit(None, dtype=pl.String)
    missing = note.is_null() & pl.col(widest).is_null() & pl.col(MEAN).is_not_null()
    return frame.with_columns(pl.when(missing).then(pl.lit(FEW_NOTE)).otherwise(note).alias(INTERVAL_NOTE))


def calibrate_forecast(
    forecast_df: pl.DataFrame, backtest_df: pl.DataFrame, settings: ForecastSettings, names: Sequence[str]
) -> pl.DataFrame:
    """Replace every named model's forecast intervals by conformal ones calibrated on its last windows (under
    ``calibration_score = "normalised"`` the forecast's intervals must still be the models' own)."""
    span = _span(backtest_df.get_column(ID).n_unique(), settings)
    framed = with_window(backtest_df)
    last = framed.get_column(WINDOW).max() or 0
    recent = framed.filter(pl.col(WINDOW) > int(last) - span).drop(WINDOW)
    transforms: Mapping[str, TransformLike] = score_transforms(settings, names)
    out = conformal_per_model(
        forecast_df,
        recent,
        transforms,
        settings.levels,
        quantiles=settings.quantiles or None,
        thresholds=settings.thresholds or None,
        bounds=settings.bounds,
        too_few="null",
        spread=score_spread(settings),
    )
    return with_few_note(out, settings) if out.select(pl.col(MODEL).is_in(list(names)).any()).item() else out
