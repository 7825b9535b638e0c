"""Backtest windows as a rolling origin: number them, and walk them with the rows known before each.

A backtest frame (``forecast.backtest.backtest``) holds one forecast per series and cutoff. Window ``w`` of a series
is its ``w``-th cutoff (0 = oldest). :func:`earlier_windows` gives, for each window from ``min_windows`` on, that
window's rows and the rows of the ``max_windows`` windows before it whose truth was known at its earliest cutoff
(``ds ≤`` cutoff; this matters when windows overlap). Split-conformal scoring
(:func:`forecast.conformal.conformal_backtest`) and MinT reconciliation of a backtest
(:func:`forecast.hierarchy.reconcile_backtest`) both learn from exactly those earlier rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from features.contract import CUTOFF, DS, ID

WINDOW = "window"


def with_window(frame: pl.DataFrame, name: str = WINDOW) -> pl.DataFrame:
    """``frame`` with ``name``: each row's window number within its series (0 = the oldest cutoff)."""
    if CUTOFF not in frame.columns:
        raise ValueError("backtest_df: missing column cutoff")
    return frame.with_columns(pl.col(CUTOFF).rank("dense").over(ID).cast(pl.Int64).sub(1).alias(name))


def window_count(numbered: pl.DataFrame, name: str = WINDOW) -> int:
    """Windows in a frame numbered by :func:`with_window`."""
    return int(numbered.get_column(name).max() or 0) + 1


def earlier_windows(
    backtest_df: pl.DataFrame, min_windows: int, max_windows: int | None, *, purpose: str = "score"
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """``(w, window rows, earlier known rows)`` for every window ``w ≥ min_windows`` (module docstring); the frames
    without a window column. An error when ``min_windows`` leaves no window (``purpose`` says what for)."""
    numbered = with_window(backtest_df, "_w")
    n_windows = window_count(numbered, "_w")
    if n_windows <= min_windows:
        raise ValueError(f"min_windows: {min_windows} leaves no window to {purpose} out of {n_windows}")
    for w in range(min_windows, n_windows):
        target = numbered.filter(pl.col("_w") == w)
        first = max(0, w - max_windows) if max_windows is not None else 0
        known = target.get_column(CUTOFF).min()
        earlier = numbered.filter(pl.col("_w").is_between(first, w - 1) & (pl.col(DS) <= known))
        yield w, target.drop("_w"), earlier.drop("_w")
