"""A scenario job over a hierarchy: every level backtested and forecast, reconciled, and calibrated level by level.

The job's functions of :mod:`forecast.scenarios.runner`, run once per *level part*: the ids of one level with the
same number ``n`` of bottom series (dnipro: the city, ``n = 12``; the 6 queue groups, ``n = 2``; the 12 queues,
``n = 1``). A part is modelled with its own bounds, ``n·[lower, upper]`` (a city's hours off lie in ``[0, 288]``),
and its exceedance thresholds applied to the sum, ``n·c`` (the column keeps the name ``p_exceed-<c>``: on an
aggregate it is the probability that its members' mean exceeds ``c``). Its intervals are calibrated on its own
residuals only: conformal scores pool series, so a city must not share quantiles with its queues.

Then, for every reconciliation ``method`` (:mod:`forecast.hierarchy`), the base means of every id are reconciled
(MinT-shrink's error covariance from the base backtest: in the backtest, from the windows before each reconciled
one only), and the reconciled models, named ``<model>/<method>``, get intervals calibrated per part on the
reconciled backtest, the way every model's are (:func:`forecast.calibration.calibrate_backtest`). The scored
backtest holds only the windows every method reconciled (MinT-shrink starts at ``min_windows``), so base and
reconciled models are compared on the same points.

A part's inputs come from the provider built on every level's inputs (:func:`forecast.hierarchy.aggregate`: means
of the members' raw inputs), so every level continues its inputs along the spec's paths. Sampled input paths are
not supported over a hierarchy (the spec refuses the combination).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from features.contract import CUTOFF, DS, ID, MODEL, Bounds
from forecast.calibration import calibrate_backtest, calibrate_forecast
from forecast.core import ModelLike
from forecast.exog import ExogProvider
from forecast.hierarchy import Hierarchy, reconcile, reconcile_backtest
from forecast.hierarchy.moved import moved_intervals, moved_note
from forecast.hierarchy.structure import LEVEL, SIZE
from forecast.models.base import Forecaster
from forecast.output.quantiles import INTERVAL_NOTE, p_exceed_col, with_interval_note
from forecast.scenarios.runner import (
    Calibration,
    calibrated_backtest,
    forecast_note,
    scenario_forecast,
    scenario_forecasts,
)
from forecast.settings import ForecastSettings


@dataclass(frozen=True)
class LevelPart:
    """The ids of one level with ``n_bottom`` bottom series each, and the settings they are modelled under."""

    level: str
    n_bottom: int
    ids: tuple[str, ...]
    settings: ForecastSettings

    def rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``frame`` of this part's ids."""
        return frame.filter(pl.col(ID).is_in(self.ids))


def for_members(settings: ForecastSettings, n: int) -> ForecastSettings:
    """``settings`` for a sum of ``n`` bottom series: bounds and thresholds times ``n``."""
    if n == 1:
        return settings
    b = settings.bounds
    bounds = None if b is None else Bounds(*(None if v is None else v * n for v in (b.lower, b.upper)))
    return settings.replace(bounds=bounds, thresholds=tuple(t * n for t in settings.thresholds))


def level_parts(hierarchy: Hierarchy, settings: ForecastSettings) -> list[LevelPart]:
    """The hierarchy's ids split by (level, number of bottom series), top level first."""
    frame = hierarchy.level_frame()
    return [
        LevelPart(str(level), int(n), tuple(part.get_column(ID)), for_members(settings, int(n)))
        for (level, n), part in frame.partition_by(LEVEL, SIZE, as_dict=True, maintain_order=True).items()
    ]


def reconciled_names(names: Sequence[str], method: str) -> list[str]:
    """The reconciled models' names: ``<model>/<method>``."""
    return [f"{name}/{method}" for name in names]


def _settings_for(settings: ForecastSettings, names: Sequence[str], method: str) -> ForecastSettings:
    """``settings`` whose per-model transforms also name the reconciled models (each its base model's)."""
    if not isinstance(settings.transform, Mapping):
        return settings
    mapping = dict(settings.transform)
    mapping.update({f"{n}/{method}": mapping[n] for n in names if n in mapping})
    return settings.replace(transform=mapping)


def _bottom_thresholds(frame: pl.DataFrame, part: LevelPart, settings: ForecastSettings) -> pl.DataFrame:
    """A part's ``p_exceed-<n·c>`` columns renamed ``p_exceed-<c>`` (module docstring)."""
    if part.n_bottom == 1:
        return frame
    names = {p_exceed_col(c * part.n_bottom): p_exceed_col(c) for c in settings.thresholds}
    return frame.rename({k: v for k, v in names.items() if k in frame.columns})


@dataclass(frozen=True)
class LevelCalibration:
    """What a hierarchy's backtest hands its forecasts: each part's :class:`Calibration`, the base backtest of every
    id (MinT's residuals), each method's reconciled backtest and the note of each (method, part) that could not be
    calibrated."""

    parts: list[LevelPart]
    base: dict[tuple[str, int], Calibration]
    raw: pl.DataFrame | None
    reconciled: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: dict[tuple[str, str, int], str | None] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The reconciliation methods, in the spec's order."""
        return list(self.reconciled)

    @property
    def note(self) -> str | None:
        """Why some level's intervals are not calibrated in the backtest (None: every level's are)."""
        return _joined([(p.level, self.base[_key(p)].note) for p in self.parts] + self._reconciled_notes())

    def forecast_note(self, h: int) -> str | None:
        """Why some level's forecast intervals of ``h`` periods are not calibrated (None: every level's are)."""
        found = [(p.level, forecast_note(p.settings, self.base[_key(p)], h)) for p in self.parts]
        return _joined(found + self._reconciled_notes())

    def _reconciled_notes(self) -> list[tuple[str, str | None]]:
        return [(f"{level} {method}", n and moved_note(n)) for (method, level, _), n in self.notes.items()]


def _joined(found: list[tuple[str, str | None]]) -> str | None:
    """``"<where>, <where>: <note>; …"`` over the distinct notes (None when there is none)."""
    by_note: dict[str, list[str]] = {}
    for where, note in found:
        if note is not None:
            by_note.setdefault(note, []).append(where)
    if len(by_note) == 1 and len(next(iter(by_note.values()))) == len(found):
        return next(iter(by_note))  # every level alike: the note as it is
    return "; ".join(f"{', '.join(w)}: {n}" for n, w in by_note.items()) or None


def _key(part: LevelPart) -> tuple[str, int]:
    return part.level, part.n_bottom


def _progress(progress: Callable[[int, int], None] | None, k: int, n_parts: int) -> Callable[[int, int], None] | None:
    """Part ``k`` of ``n_parts``' progress as a share of the whole backtest."""
    if progress is None:
        return None
    return lambda done, total: progress(k * total + done, n_parts * total)


def coherent_backtest(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    settings: ForecastSettings,
    provider: ExogProvider,
    hierarchy: Hierarchy,
    methods: Sequence[str],
    *,
    min_windows: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pl.DataFrame, LevelCalibration]:
    """The backtest of every id of ``hierarchy`` (``df`` holds every level's series: :func:`forecast.hierarchy.
    aggregate`), base and reconciled models calibrated per part and scored on the windows every method
    reconciled, and the :class:`LevelCalibration` the forecasts use (module docstring)."""
    names = list(models)
    parts = level_parts(hierarchy, settings)
    scored, base, own = [], {}, {}
    for k, part in enumerate(parts):
        frame, cal = calibrated_backtest(
            part.rows(df), models, part.settings, provider, progress=_progress(progress, k, len(parts))
        )
        own[_key(part)] = frame
        scored.append(_bottom_thresholds(frame, part, settings))
        base[_key(part)] = cal
    raw = pl.concat([c.raw for c in base.values() if c.raw is not None], how="diagonal_relaxed")
    reconciled, notes = {}, {}
    for method in methods:
        frame = reconcile_backtest(raw, hierarchy, method, min_windows=min_windows, bounds=settings.bounds)
        reconciled[method] = frame
        for part in parts:
            rows, note = _reconciled_intervals(
                part.rows(frame), own[_key(part)], part, names, method, [ID, DS, CUTOFF], None
            )
            notes[(method, *_key(part))] = note
            scored.append(_bottom_thresholds(rows, part, settings))
    common = set(raw.get_column(CUTOFF).unique().to_list())
    for frame in reconciled.values():
        common &= set(frame.get_column(CUTOFF).unique().to_list())
    out = pl.concat(scored, how="diagonal_relaxed").filter(pl.col(CUTOFF).is_in(sorted(common)))
    out = _ordered(out, hierarchy, names, methods, CUTOFF)
    return _note_last(out), LevelCalibration(parts, base, raw, reconciled, notes)


def coherent_forecast(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    provider: ExogProvider,
    calibration: LevelCalibration,
    hierarchy: Hierarchy,
    *,
    state: dict[str, dict[str, Forecaster]] | None = None,
    refit: bool = True,
) -> pl.DataFrame:
    """One scenario's forecast of every id of ``hierarchy``: each part's base forecast calibrated on its own
    backtest, then each method's reconciled forecast calibrated on its reconciled backtest (module docstring)."""
    own = {
        _key(part): scenario_forecast(
            part.rows(df), models, h, part.settings, provider, calibration.base[_key(part)], state=state, refit=refit
        )
        for part in calibration.parts
    }
    return _reconciled_forecast(own, list(models), h, settings, calibration, hierarchy)


def coherent_forecasts(
    df: pl.DataFrame,
    models: Mapping[str, ModelLike],
    h: int,
    settings: ForecastSettings,
    providers: Sequence[ExogProvider],
    calibration: LevelCalibration,
    hierarchy: Hierarchy,
) -> list[pl.DataFrame]:
    """:func:`coherent_forecast` under every provider (frames in their order), each model fitted once per series:
    every part's base forecasts run in chunks of series on the current executor (:func:`scenario_forecasts`),
    then each scenario is reconciled over the whole hierarchy in this process."""
    per_part = {
        _key(part): scenario_forecasts(part.rows(df), models, h, part.settings, providers, calibration.base[_key(part)])
        for part in calibration.parts
    }
    return [
        _reconciled_forecast({k: v[i] for k, v in per_part.items()}, list(models), h, settings, calibration, hierarchy)
        for i in range(len(providers))
    ]


def _reconciled_forecast(
    own: dict[tuple[str, int], pl.DataFrame],
    names: list[str],
    h: int,
    settings: ForecastSettings,
    calibration: LevelCalibration,
    hierarchy: Hierarchy,
) -> pl.DataFrame:
    """The parts' base forecasts (``own``) with each method's reconciled forecast, calibrated, in hierarchy order."""
    base = pl.concat(list(own.values()), how="diagonal_relaxed")
    out = [_bottom_thresholds(own[_key(p)], p, settings) for p in calibration.parts]
    for method in calibration.methods:
        residuals = calibration.raw if method != "bottom_up" else None
        frame = reconcile(base, hierarchy, method, residuals=residuals, bounds=settings.bounds)
        for part in calibration.parts:
            cal = calibration.base[_key(part)]
            why = calibration.notes.get((method, *_key(part))) or forecast_note(part.settings, cal, h)
            history = None if why is not None else part.rows(calibration.reconciled[method])
            rows, _ = _reconciled_intervals(
                part.rows(frame), own[_key(part)], part, names, method, [ID, DS], history, reason=why
            )
            out.append(_bottom_thresholds(rows, part, settings))
    return _note_last(_ordered(pl.concat(out, how="diagonal_relaxed"), hierarchy, names, calibration.methods))


def _reconciled_intervals(
    rows: pl.DataFrame,
    own: pl.DataFrame,
    part: LevelPart,
    names: Sequence[str],
    method: str,
    keys: list[str],
    history: pl.DataFrame | None,
    *,
    reason: str | None = None,
) -> tuple[pl.DataFrame, str | None]:
    """A part's reconciled rows with intervals: conformal, calibrated on the reconciled backtest (``history`` for a
    forecast; the rows themselves, window by window, for a backtest), else the base model's moved to the reconciled
    mean (:mod:`forecast.hierarchy.moved`), with the reason in ``interval_note``. Returns the rows and the reason
    the reconciled backtest could not calibrate (None when it could); ``reason`` says why a forecast's cannot."""
    settings = _settings_for(part.settings, names, method)
    rec_names = reconciled_names(names, method)
    why: str | None = "intervals = 'model'"
    if settings.intervals == "conformal":
        if history is not None:  # a forecast whose reconciled backtest calibrates
            return with_interval_note(calibrate_forecast(rows, history, settings, rec_names), None), None
        if CUTOFF in rows.columns:
            calibrated, why = calibrate_backtest(rows, settings, rec_names)
            if why is None:
                return calibrated, None
        else:
            why = reason
    moved = moved_intervals(rows, own, keys, bounds=settings.bounds, thresholds=settings.thresholds)
    return with_interval_note(moved, moved_note(why)), why


def _ordered(
    frame: pl.DataFrame, hierarchy: Hierarchy, names: Sequence[str], methods: Sequence[str], *by: str
) -> pl.DataFrame:
    """Rows by the hierarchy's id order, then base models and each method's reconciled models, then ``by`` and ds."""
    models = [*names, *(r for m in methods for r in reconciled_names(names, m))]
    rank = {ID: {v: i for i, v in enumerate(hierarchy.ids)}, MODEL: {v: i for i, v in enumerate(models)}}
    keys = [pl.col(c).replace_strict(r, return_dtype=pl.Int64) for c, r in rank.items()]
    return frame.sort([*keys, *by, DS])


def _note_last(frame: pl.DataFrame) -> pl.DataFrame:
    """``interval_note`` as the last column (as every job frame has it)."""
    if INTERVAL_NOTE not in frame.columns:
        return frame
    return frame.select(pl.exclude(INTERVAL_NOTE), pl.col(INTERVAL_NOTE))


def levels_table(hierarchy: Hierarchy) -> pl.DataFrame:
    """``unique_id, level, n_bottom, parent``: every id of the hierarchy (the output's ``levels`` table)."""
    parents = pl.DataFrame(
        {ID: list(hierarchy.parent), "parent": list(hierarchy.parent.values())},
        schema={ID: pl.String, "parent": pl.String},
    )
    return hierarchy.level_frame().join(parents, on=ID, how="left", maintain_order="left")


def level_scores(per_series: pl.DataFrame, hierarchy: Hierarchy, names: Sequence[str]) -> pl.DataFrame:
    """Whether reconciliation helped, per level: each (level, model, method)'s mean MASE and MAE over the level's
    series (from a per-series metrics frame), the base model's, and the relative change (negative: better)."""
    split = pl.col(MODEL).str.split_exact("/", 1)
    per = per_series.join(hierarchy.level_frame(), on=ID, how="inner").with_columns(
        split.struct.field("field_0").alias("base_model"),
        split.struct.field("field_1").fill_null("base").alias("method"),
    )
    metrics = [c for c in ("mase", "mae", "coverage-80", "coverage-95") if c in per.columns]
    table = per.group_by(LEVEL, "base_model", "method").agg(
        pl.len().alias("series"), *[pl.col(c).mean() for c in metrics]
    )
    ref = table.filter(pl.col("method") == "base").select(LEVEL, "base_model", pl.col("mase").alias("_base"))
    table = table.join(ref, on=[LEVEL, "base_model"], how="left").with_columns(
        (pl.col("mase") / pl.col("_base") - 1.0).alias("mase_change")
    )
    order = {LEVEL: hierarchy.levels, "base_model": list(names), "method": ["base", *_methods(table)]}
    keys = [
        pl.col(c).replace_strict({v: i for i, v in enumerate(vals)}, return_dtype=pl.Int64) for c, vals in order.items()
    ]
    return table.drop("_base").sort(keys).rename({"base_model": MODEL})


def _methods(table: pl.DataFrame) -> list[str]:
    return sorted(m for m in table.get_column("method").unique().to_list() if m != "base")


def helped_lines(table: pl.DataFrame) -> list[str]:
    """One line per (level, model) for the log: base MASE and each method's, with the change."""
    lines = []
    for (level, model), rows in table.partition_by(LEVEL, MODEL, as_dict=True, maintain_order=True).items():
        cells = []
        for r in rows.iter_rows(named=True):
            if r["method"] == "base":
                cells.insert(0, f"base {_fmt(r['mase'])}")
            else:
                change = r["mase_change"]
                sign = "" if change is None or math.isnan(change) else f" ({change:+.1%})"
                cells.append(f"{r['method']} {_fmt(r['mase'])}{sign}")
        lines.append(f"{level} ({rows['series'][0]} series), {model}: MASE " + ", ".join(cells))
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"
