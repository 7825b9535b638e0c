"""Scenario fan charts a forecast job writes into ``out/<spec>/<as-of>/plots/``: one PNG per series, one model.

Each chart shows, for the selected ``model``:

- the observed history (black) over the last ``history_days`` days before the first forecast period;
- per scenario its mean (a line) and its central ``level`` % band (shaded; the widest band in the frame when that
  level is absent, none when the model has no intervals). Scenarios keep the frame's order, the base scenario first,
  and each scenario name keeps one colour (``C0``, ``C1``, … in that order) in every chart of a call. A series whose
  band is null (a model without intervals, see ``interval_note``) still shows its mean;
- the target's bounds as thin grey lines and each threshold as a dashed red line labelled with its value right of
  the axes. Thresholds widen the y-range to show themselves; bounds do not (a far bound would squash the chart);
- the series id and model as the title, ``units`` on the y-axis, concise dates, the legend right of the axes.

**Most at risk** (``at_risk = k`` with a ``series`` list): the k series not already listed that score highest,
where a series' score is the largest mean over the horizon of any one scenario's ``mean`` (its worst scenario's
level: higher is worse, as for hours off or load shed). When ``thresholds`` are given and the frame has the
``p_exceed-<first threshold>`` column, the series are ranked first by the largest value of that probability over
every scenario and step, then by that score; ties go to the smaller series id.

Files are named by :func:`file_name`, written atomically (:func:`experiments.atomic.atomic_file`) from one reused
Agg figure (no pyplot) at zlib level 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.image import FigureImage
from matplotlib.patches import Patch

from experiments.atomic import atomic_file
from experiments.tracking.plots import PNG_OPTIONS
from features.contract import DS, ID, MEAN, MODEL, SCENARIO, Y, hi_col, lo_col
from forecast.output.quantiles import interval_levels, p_exceed_col

SIZE = (9.0, 3.6)  # inches, at DPI: 900 × 360 pixels
DPI = 100
AXES = (0.075, 0.14, 0.745, 0.88)  # left, bottom, right, top of the data area, figure fraction
BOUND_STYLE: dict[str, Any] = {"color": "0.45", "lw": 0.6}
THRESHOLD_STYLE: dict[str, Any] = {"color": "tab:red", "lw": 0.9, "ls": "--"}
LEGEND_X = 0.8  # the legend's left edge, figure fraction: right of the axes and of the threshold labels

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]  # x, mean, lo, hi


def file_name(series_id: str) -> str:
    """The chart's file name for ``series_id``: letters, digits, ``_``, ``.`` and ``-`` kept, ``/`` written ``~``,
    every other character (``~`` and ``%`` included, and a leading ``.``) written ``%XX`` per UTF-8 byte, then
    ``.png``. ``dnipro/GPV1.1`` → ``dnipro~GPV1.1.png``. Injective: the name decodes back to the id."""
    if not series_id:
        raise ValueError("a series id must not be empty")
    return "".join(_escape(c, first=i == 0) for i, c in enumerate(series_id)) + ".png"


def _escape(char: str, first: bool) -> str:
    if char.isascii() and (char.isalnum() or char in "_-" or (char == "." and not first)):
        return char
    return "~" if char == "/" else "".join(f"%{b:02X}" for b in char.encode())


def write_scenario_charts(
    folder: Path,
    forecast: pl.DataFrame,
    history: pl.DataFrame,
    *,
    model: str,
    units: str,
    bounds: tuple[float | None, float | None] = (None, None),
    thresholds: Sequence[float] = (),
    series: Sequence[str] | None = None,
    at_risk: int = 0,
    history_days: int = 56,
    level: int = 80,
) -> list[Path]:
    """Write one fan chart per selected series into ``folder`` (module docstring); return the paths in order:
    every series of ``model`` in the frame's order when ``series`` is None (``at_risk`` is then moot), else the
    listed ones, then the ``at_risk`` most at risk, worst first. ``ValueError`` for a model or listed series not in
    ``forecast``, or a missing column."""
    ids = select_series(forecast, model, series, at_risk, thresholds)
    chart = ScenarioFigure(forecast, history, model, units, bounds, tuple(thresholds), history_days, level)
    paths = []
    for sid in ids:
        path = Path(folder) / file_name(sid)
        with atomic_file(path) as partial:
            chart.draw(sid).savefig(partial, format="png", pil_kwargs=PNG_OPTIONS)
        paths.append(path)
    return paths


def select_series(
    forecast: pl.DataFrame, model: str, series: Sequence[str] | None, at_risk: int, thresholds: Sequence[float]
) -> list[str]:
    """The series to draw: all of ``model``'s (``series`` None), else ``series`` then the ``at_risk`` most at risk."""
    rows = _model_rows(forecast, model)
    ids = rows[ID].unique(maintain_order=True).to_list()
    if series is None:
        return ids
    if at_risk < 0:
        raise ValueError(f"at_risk: expected an integer >= 0, got {at_risk}")
    chosen = list(dict.fromkeys(series))
    if missing := [s for s in chosen if s not in set(ids)]:
        raise ValueError(f"series not in the forecast of {model!r}: {', '.join(missing)}")
    if at_risk == 0:
        return chosen
    worst = rows.group_by(ID, SCENARIO).agg(pl.col(MEAN).mean()).group_by(ID).agg(pl.col(MEAN).max().alias("_m"))
    keys, desc = ["_m", ID], [True, False]
    p_col = p_exceed_col(thresholds[0]) if thresholds else None
    if p_col in rows.columns:
        worst = worst.join(rows.group_by(ID).agg(pl.col(p_col).max().alias("_p")), on=ID)
        keys, desc = ["_p", *keys], [True, *desc]
    ranked = worst.filter(~pl.col(ID).is_in(chosen)).sort(keys, descending=desc, nulls_last=True)
    return chosen + ranked[ID].head(at_risk).to_list()


def _model_rows(forecast: pl.DataFrame, model: str) -> pl.DataFrame:
    if missing := [c for c in (ID, DS, MODEL, SCENARIO, MEAN) if c not in forecast.columns]:
        raise ValueError(f"the forecast frame lacks column(s) {', '.join(missing)}")
    rows = forecast.filter(pl.col(MODEL) == model)
    if rows.is_empty():
        known = ", ".join(map(str, forecast[MODEL].unique(maintain_order=True).to_list())) or "no model"
        raise ValueError(f"model {model!r} is not in the forecast; it has: {known}")
    return rows


class ScenarioFigure:
    """One Agg figure for ``model``'s rows of ``forecast`` (arguments as for :func:`write_scenario_charts`), its
    artists re-used for every series: :meth:`draw` only changes data, limits and title."""

    def __init__(
        self,
        forecast: pl.DataFrame,
        history: pl.DataFrame,
        model: str,
        units: str,
        bounds: tuple[float | None, float | None] = (None, None),
        thresholds: tuple[float, ...] = (),
        history_days: int = 56,
        level: int = 80,
    ) -> None:
        if missing := [c for c in (ID, DS, Y) if c not in history.columns]:
            raise ValueError(f"the history frame lacks column(s) {', '.join(missing)}")
        if history_days < 0:
            raise ValueError(f"history_days: expected an integer >= 0, got {history_days}")
        rows = _model_rows(forecast, model)
        levels = [lv for lv in interval_levels(rows.columns) if rows[lo_col(lv)].null_count() < rows.height]
        self.band = level if level in levels else (max(levels) if levels else None)
        self.parts = rows.sort(DS).partition_by(ID, SCENARIO, as_dict=True)
        past = history.select(ID, DS, Y).filter(pl.col(ID).is_in(rows[ID].unique().implode()))
        self.past = past.sort(ID, DS).partition_by(ID, as_dict=True)
        self.model, self.thresholds, self.history_days = model, thresholds, history_days
        self.scenarios: list[str] = rows[SCENARIO].unique(maintain_order=True).to_list()
        self.figure = figure = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        self.ax = ax = figure.add_axes((AXES[0], AXES[1], AXES[2] - AXES[0], AXES[3] - AXES[1]))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.xaxis.get_offset_text().set_fontsize(8)
        ax.set_ylabel(units, fontsize=8)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        self.title = figure.text(AXES[0], 0.93, "", fontsize=10)
        nothing = np.empty(0)
        self.history_line = ax.plot(nothing, nothing, color="black", lw=1)[0]
        colours = [f"C{i % 10}" for i in range(len(self.scenarios))]
        self.lines = [ax.plot(nothing, nothing, color=c, lw=1.5, zorder=3)[0] for c in colours]
        self.fills = [ax.fill_between(nothing, nothing, nothing, color=c, alpha=0.2, lw=0) for c in colours]
        bands = ((Patch(color=c, alpha=0.2, lw=0), line) for c, line in zip(colours, self.lines, strict=True))
        handles: list[Any] = [self.history_line, *bands]
        labels = ["observed", *self.scenarios]
        kept = [b for b in bounds if b is not None]
        for name, values, style in (("bounds", kept, BOUND_STYLE), ("threshold", thresholds, THRESHOLD_STYLE)):
            lines = [ax.axhline(v, **style) for v in values]
            handles += lines[:1]
            labels += [name][: len(lines)]
        for c in thresholds:
            ax.annotate(f"{c:g}", (1.0, c), xycoords=("axes fraction", "data"), xytext=(3, 0), fontsize=7,
                        textcoords="offset points", va="center", color="tab:red", annotation_clip=False)  # fmt: skip
        title = f"scenario (mean, {self.band}% band)" if self.band else "scenario (mean)"
        self.legend = _pin_legend(figure, handles, labels, title)

    def draw(self, sid: str) -> Figure:
        """The figure, set to series ``sid``'s chart (the same figure every time: save it before the next draw)."""
        arrays = [_arrays(self.parts.get((sid, s)), self.band) for s in self.scenarios]
        start = min((x[0] for x, *_ in arrays if len(x)), default=np.inf)
        past = self.past.get((sid,))
        px, py = np.empty(0), np.empty(0)
        if past is not None and not past.is_empty():
            x, y = date2num(past[DS].to_numpy()), past[Y].to_numpy().astype(float)
            end = start if np.isfinite(start) else np.nextafter(x.max(), np.inf)  # no forecast: all history counts
            keep = (x >= end - self.history_days) & (x < end)  # date numbers count days
            px, py = x[keep], y[keep]
        self.history_line.set_data(px, py)
        values = [py, np.asarray(self.thresholds, dtype=float)]
        for line, fill, (x, mean, lo, hi) in zip(self.lines, self.fills, arrays, strict=True):
            line.set_data(x, mean)
            fill.set_data(x, mean if lo is None else lo, mean if hi is None else hi)
            values += [mean] + [v for v in (lo, hi) if v is not None]
        xs = np.concatenate([px, *(a[0] for a in arrays)])
        if len(xs):
            self.ax.set_xlim(xs.min(), max(xs.max(), xs.min() + 1))
        self.ax.set_ylim(*_y_range(np.concatenate(values)))
        self.title.set_text(f"{sid} — {self.model}")
        return self.figure


def _pin_legend(figure: Figure, handles: list[Any], labels: list[str], title: str) -> FigureImage:
    """The legend drawn once on a scratch figure and shown as an image right of the axes, its top level with theirs:
    a legend lays its boxes out again at every draw (a quarter of a chart's time), and this one never changes."""
    scratch = Figure(dpi=figure.dpi)
    FigureCanvasAgg(scratch)
    scratch.patch.set_alpha(0.0)
    legend = scratch.legend(handles, labels, title=title, fontsize=7, title_fontsize=7, loc="lower left",
                            borderaxespad=0.0, framealpha=1.0)  # fmt: skip
    scratch.canvas.draw()
    box = legend.get_window_extent()
    pixels = np.asarray(scratch.canvas.buffer_rgba())
    rows = slice(pixels.shape[0] - int(np.ceil(box.y1)), pixels.shape[0] - int(box.y0))
    image = pixels[max(rows.start, 0) : rows.stop, int(box.x0) : int(np.ceil(box.x1))].copy()
    top = int(AXES[3] * figure.bbox.height)
    return figure.figimage(image, xo=int(LEGEND_X * figure.bbox.width), yo=top - image.shape[0], origin="upper")


def _arrays(part: pl.DataFrame | None, band: int | None) -> Arrays:
    """x (matplotlib date numbers), mean, lo, hi of one series and scenario (lo, hi None without a band)."""
    if part is None:
        return np.empty(0), np.empty(0), None, None
    x, mean = date2num(part[DS].to_numpy()), part[MEAN].to_numpy().astype(float)
    if band is None:
        return x, mean, None, None
    return x, mean, part[lo_col(band)].to_numpy().astype(float), part[hi_col(band)].to_numpy().astype(float)


def _y_range(values: np.ndarray) -> tuple[float, float]:
    """The finite values' span padded by 6 % (a unit when flat); (0, 1) when nothing is finite."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 0.5)
    return lo - pad, hi + pad
