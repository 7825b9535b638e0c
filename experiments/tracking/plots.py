"""PNG plots logged with runs: a fan chart per series and model, and error against horizon for all models.

A chart is first described by plain arrays (:class:`FanChart`, :class:`HorizonChart`, built from the job's frames),
then drawn. Drawing is the expensive part of tracking a job (a dozen charts), so it is made cheap twice over:

- :class:`Charts` keeps one Agg figure per chart kind and reuses its artists: each fan chart only replaces the
  lines' and bands' data and the title. Building a figure, its ticks and legend, and laying it out (``tight_layout``
  draws the whole figure once just to measure its labels) cost more than drawing a few lines. The layout is fixed,
  dates are labelled by matplotlib's concise formatter and PNGs are compressed at zlib level 1.
- :func:`start_rendering` draws the charts in a forked child process, so a job's other tracking work (MLflow
  requests, the model) goes on beside it on another core; when that work is done the job draws the remaining charts
  itself from the last one back until it meets the child (:meth:`Rendering.finish`), joins the child before
  uploading and fails loudly if it failed. The child uses only numpy and matplotlib: the frames are cut into arrays
  before the fork (a forked child must not use Polars, whose thread pool does not survive a fork). Without
  ``os.fork`` the charts are drawn in-process.

pyplot is never imported: no global figure state, no GUI backend.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from experiments.atomic import atomic_file, partial_path
from features.contract import DS, ID, MEAN, MODEL, Y, hi_col, lo_col

HISTORY_PERIODS = 90
SIZE = (8.0, 3.2)  # inches, at DPI: 800 × 320 pixels
DPI = 100
PNG_OPTIONS = {"compress_level": 1}  # zlib level 1: much faster than the default 6, files a little larger
RENDER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class FanChart:
    """History and a forecast's mean with its central intervals (widest first), for one series and model."""

    path: Path
    title: str
    past_ds: np.ndarray
    past_y: np.ndarray
    ds: np.ndarray
    mean: np.ndarray
    bands: tuple[tuple[int, np.ndarray, np.ndarray], ...]  # (level, lo, hi), widest first
    truth: np.ndarray | None  # a backtest's observed values over the horizon

    @classmethod
    def from_frames(
        cls, history: pl.DataFrame, forecast: pl.DataFrame, series: str, model: str, levels: Sequence[int], path: Path
    ) -> FanChart:
        """The last 90 periods of ``series`` in ``history`` and ``model``'s rows of ``forecast`` for it."""
        past = history.filter(pl.col(ID) == series).tail(HISTORY_PERIODS)
        fut = forecast.filter((pl.col(ID) == series) & (pl.col(MODEL) == model)).sort(DS)
        bands = tuple(
            (level, fut[lo_col(level)].to_numpy(), fut[hi_col(level)].to_numpy())
            for level in sorted(levels, reverse=True)
            if lo_col(level) in fut.columns
        )
        return cls(
            path=path,
            title=f"{series} — {model}",
            past_ds=past[DS].to_numpy(),
            past_y=past[Y].to_numpy(),
            ds=fut[DS].to_numpy(),
            mean=fut[MEAN].to_numpy(),
            bands=bands,
            truth=fut[Y].to_numpy() if Y in fut.columns else None,
        )


@dataclass(frozen=True)
class HorizonChart:
    """One line per model: a metric at each horizon step of the backtest."""

    path: Path
    metric: str
    lines: tuple[tuple[str, np.ndarray, np.ndarray], ...]  # (model, steps, values)

    @classmethod
    def from_frame(cls, per_step: pl.DataFrame, metric: str, path: Path) -> HorizonChart:
        """``metric`` by ``step`` for each model of an ``evaluate`` per-step frame."""
        parts = per_step.sort("step").group_by(MODEL, maintain_order=True)
        lines = tuple((str(m), part["step"].to_numpy(), part[metric].to_numpy()) for (m,), part in parts)
        return cls(path=path, metric=metric, lines=lines)


Chart = FanChart | HorizonChart


def _figure() -> tuple[Figure, Any, Any]:
    """A figure with fixed margins, one axes and a title line. The title is figure text, not the axes' title: an
    axes title is re-positioned against the axes' tick labels at every draw."""
    figure = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    figure.subplots_adjust(left=0.06, right=0.985, top=0.9, bottom=0.14)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    title = figure.text(0.06, 0.93, "", fontsize=10)
    return figure, ax, title


class Charts:
    """Draws charts on reused figures (one per chart kind). Not thread-safe: one instance per thread."""

    def __init__(self) -> None:
        self._fan: dict[str, Any] | None = None
        self._horizon: tuple[Figure, Any, Any] | None = None

    def draw(self, chart: Chart) -> Path:
        """Draw ``chart`` and write it to ``chart.path`` as PNG."""
        if isinstance(chart, FanChart):
            return self._draw_fan(chart)
        return self._draw_horizon(chart)

    def _fan_artists(self, chart: FanChart) -> dict[str, Any]:
        """The fan chart's figure and artists, built on first use and again if the bands or truth change."""
        key = (tuple(level for level, _, _ in chart.bands), chart.truth is not None)
        if self._fan is not None and self._fan["key"] == key:
            return self._fan
        figure, ax, title = _figure()
        observed = ax.plot(chart.past_ds, chart.past_y, color="black", lw=1, label="observed")[0]
        bands = [
            ax.fill_between(chart.ds, lo, hi, color="tab:blue", alpha=0.15 + 0.15 * i, lw=0, label=f"{level}% interval")
            for i, (level, lo, hi) in enumerate(chart.bands)
        ]
        mean = ax.plot(chart.ds, chart.mean, color="tab:blue", lw=1.5, label="forecast mean")[0]
        truth = None
        if chart.truth is not None:  # backtest: the truth over the horizon too
            truth = ax.plot(chart.ds, chart.truth, color="black", lw=1, ls=":", label="observed (horizon)")[0]
        _pin_legend(figure, ax)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        self._fan = {"key": key, "figure": figure, "ax": ax, "title": title, "observed": observed, "bands": bands}
        self._fan.update(mean=mean, truth=truth)
        return self._fan

    def _draw_fan(self, chart: FanChart) -> Path:
        art = self._fan_artists(chart)
        art["observed"].set_data(chart.past_ds, chart.past_y)
        art["mean"].set_data(chart.ds, chart.mean)
        if art["truth"] is not None:
            art["truth"].set_data(chart.ds, chart.truth)
        for band, (_, lo, hi) in zip(art["bands"], chart.bands, strict=True):
            band.set_data(chart.ds, lo, hi)
        ax = art["ax"]
        ax.relim()
        ax.autoscale_view()
        art["title"].set_text(chart.title)
        art["figure"].savefig(chart.path, format="png", pil_kwargs=PNG_OPTIONS)
        return chart.path

    def _draw_horizon(self, chart: HorizonChart) -> Path:
        if self._horizon is None:
            self._horizon = _figure()
        figure, ax, title = self._horizon
        for line in list(ax.lines):
            line.remove()
        ax.set_prop_cycle(None)  # the same colours for the same models in every chart
        for model, steps, values in chart.lines:
            ax.plot(steps, values, marker="o", ms=3, label=model)
        ax.relim()
        ax.autoscale_view()
        ax.set_xlabel("horizon step", fontsize=8)
        ax.set_ylabel(chart.metric.upper(), fontsize=8)
        title.set_text(f"{chart.metric.upper()} by horizon (backtest)")
        ax.legend(fontsize=7, loc="best")
        figure.savefig(chart.path, format="png", pil_kwargs=PNG_OPTIONS)
        return chart.path


def _pin_legend(figure: Figure, ax: Any) -> None:
    """Draw the axes' legend once, on a figure of its own, and show it as an image in the upper left corner of the
    axes: a legend lays out its boxes again at every draw (a third of a fan chart's time), and a fan chart's legend
    never changes."""
    handles, labels = ax.get_legend_handles_labels()
    scratch = Figure(dpi=figure.dpi)
    FigureCanvasAgg(scratch)
    scratch.patch.set_alpha(0.0)
    legend = scratch.legend(handles, labels, fontsize=7, loc="lower left", framealpha=1.0, borderaxespad=0.0)
    scratch.canvas.draw()
    box = legend.get_window_extent()
    pixels = np.asarray(scratch.canvas.buffer_rgba())
    top = pixels.shape[0] - int(np.ceil(box.y1))
    image = pixels[max(top, 0) : pixels.shape[0] - int(box.y0), int(box.x0) : int(np.ceil(box.x1))].copy()
    axes_box = ax.get_position()  # figure fraction
    pad = 0.5 * 7 * figure.dpi / 72  # matplotlib's default borderaxespad (0.5 font sizes), in pixels
    x0 = int(axes_box.x0 * figure.bbox.width + pad)
    y0 = int(axes_box.y1 * figure.bbox.height - pad) - image.shape[0]
    figure.figimage(image, xo=x0, yo=y0, origin="upper", zorder=5)


def render(charts: Sequence[Chart], *, until_drawn: bool = False) -> None:
    """Draw the charts in order, in this process; with ``until_drawn``, stop at the first one whose file exists
    (someone else drew it, from the other end)."""
    drawer = Charts()
    for chart in charts:
        if not until_drawn:
            drawer.draw(chart)
            continue
        if chart.path.exists():
            return
        _draw_atomically(drawer, chart)


def _draw_atomically(drawer: Charts, chart: Chart) -> None:
    """Draw into a hidden per-process file, then rename it over ``chart.path``: the file is either absent or whole,
    whichever of the two processes drawing from both ends gets there, and whenever the child is stopped."""
    with atomic_file(chart.path) as partial:
        drawer.draw(replace(chart, path=partial))


class Rendering:
    """Charts being drawn by a forked child process (``pid``; None once joined, or when they were drawn in-process).

    :meth:`finish` lends a hand: it draws the charts the child has not reached yet, from the last one back, then
    joins the child (which stops where the two meet) and raises if it failed.
    """

    def __init__(self, charts: Sequence[Chart] = (), pid: int | None = None, error_file: Path | None = None) -> None:
        self.charts = list(charts)
        self.pid = pid
        self.error_file = error_file

    def finish(self, timeout: float = RENDER_TIMEOUT_S) -> None:
        """Draw from the last chart back until one exists (the child got there), then :meth:`wait`."""
        if self.pid is not None:
            drawer = Charts()
            for chart in reversed(self.charts):
                if chart.path.exists():
                    break
                _draw_atomically(drawer, chart)
            else:  # every chart drawn here: the child has nothing left to give (it may even hang)
                child = self.pid
                pid, status = os.waitpid(child, os.WNOHANG)
                if pid:  # it has ended: report its failure, if any, as wait() does
                    self.pid = None
                    self._check(status)
                    return
                self.stop()
                for chart in self.charts:  # a chart it was drawing when stopped leaves a hidden partial file
                    partial_path(chart.path, child).unlink(missing_ok=True)
                return
        self.wait(timeout)

    def wait(self, timeout: float = RENDER_TIMEOUT_S) -> None:
        """Block until the child has drawn every chart; RuntimeError with its traceback's last line if it failed."""
        if self.pid is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"drawing the charts took longer than {timeout:.0f} s")
            time.sleep(0.005)
        self.pid = None
        self._check(status)

    def _check(self, status: int) -> None:
        """RuntimeError with the last line of the child's traceback unless it exited with 0."""
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            text = self.error_file.read_text().strip() if self.error_file and self.error_file.exists() else ""
            reason = text.splitlines()[-1] if text else f"exit status {code}"
            raise RuntimeError(f"drawing the charts failed: {reason}")

    def stop(self) -> None:
        """Kill the child if it still runs, and reap it (on the way out of an error)."""
        if self.pid is not None:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = None


@contextmanager
def start_rendering(charts: Sequence[Chart], *, background: bool = True) -> Iterator[Rendering]:
    """Draw ``charts`` in a forked child (``background`` and ``os.fork`` available) or here and now.

    The caller must call ``finish()`` (or ``wait()``) before using the files; leaving the block without it kills the
    child.
    """
    if not (background and charts and hasattr(os, "fork")):
        render(charts)
        yield Rendering(charts)
        return
    fd, name = tempfile.mkstemp(prefix="gridcast-charts-", suffix=".err")
    os.close(fd)
    error_file = Path(name)
    pid = os.fork()
    if pid == 0:  # the child: draw, report, and leave without running any of the parent's clean-up
        code = 1
        try:
            render(charts, until_drawn=True)
            code = 0
        except BaseException:
            error_file.write_text(traceback.format_exc())
        finally:
            os._exit(code)
    rendering = Rendering(charts, pid, error_file)
    try:
        yield rendering
    finally:
        rendering.stop()
        error_file.unlink(missing_ok=True)
