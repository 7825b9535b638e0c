"""PNG plots logged with runs: a fan chart per series and model, and error against horizon for all models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window (jobs run headless)
import matplotlib.pyplot as plt
import polars as pl

from features.contract import DS, ID, MEAN, MODEL, Y, hi_col, lo_col

HISTORY_PERIODS = 90


def fan_chart(
    history: pl.DataFrame, forecast: pl.DataFrame, series: str, model: str, levels: Sequence[int], path: Path
) -> Path:
    """History (last 90 periods) and the forecast's mean with its central intervals, widest first."""
    past = history.filter(pl.col(ID) == series).tail(HISTORY_PERIODS)
    fut = forecast.filter((pl.col(ID) == series) & (pl.col(MODEL) == model)).sort(DS)
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.plot(past[DS].to_list(), past[Y].to_list(), color="black", lw=1, label="observed")
    for i, level in enumerate(sorted(levels, reverse=True)):
        if lo_col(level) in fut.columns:
            ax.fill_between(
                fut[DS].to_list(),
                fut[lo_col(level)].to_list(),
                fut[hi_col(level)].to_list(),
                color="tab:blue",
                alpha=0.15 + 0.15 * i,
                lw=0,
                label=f"{level}% interval",
            )
    ax.plot(fut[DS].to_list(), fut[MEAN].to_list(), color="tab:blue", lw=1.5, label=f"{model} mean")
    if Y in fut.columns:  # backtest: show the truth over the horizon too
        ax.plot(fut[DS].to_list(), fut[Y].to_list(), color="black", lw=1, ls=":")
    ax.set_title(f"{series} — {model}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def error_by_horizon(per_step: pl.DataFrame, metric: str, path: Path) -> Path:
    """One line per model: ``metric`` at each horizon step of the backtest."""
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for (model,), part in per_step.sort("step").group_by(MODEL, maintain_order=True):
        ax.plot(part["step"].to_list(), part[metric].to_list(), marker="o", ms=3, label=str(model))
    ax.set_xlabel("horizon step")
    ax.set_ylabel(metric.upper())
    ax.set_title(f"{metric.upper()} by horizon (backtest)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
