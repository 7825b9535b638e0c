"""Forecast frames to and from Nixtla's wide layout (statsforecast, utilsforecast).

Our forecast frames are long: one row per series, [cutoff], model and period, with the values in ``mean``,
``lo-<l>``/``hi-<l>``, ``q-<q>`` and ``p_exceed-<c>`` (see :mod:`forecast.core`). Nixtla's layout is wide: one row
per series, [cutoff] and period, and one block of columns per model, as statsforecast's ``forecast`` and
``cross_validation`` return it and ``utilsforecast.evaluation.evaluate`` reads it::

    unique_id, ds, cutoff, y,
    naive, naive-lo-80, naive-lo-95, naive-hi-80, naive-hi-95,
    ets,   ets-lo-80,   ets-lo-95,   ets-hi-80,   ets-hi-95

``cutoff`` and ``y`` appear only when the long frame has them (a backtest). Within a block the order is the one
statsforecast 2.x writes: the point forecast, the lower bounds by level ascending, then the upper bounds ascending.

Columns left out of the wide frame
    ``utilsforecast.evaluation.evaluate`` takes every column but ``unique_id``, ``ds``, ``y``, ``cutoff`` and those
    containing ``-lo-<l>``/``-hi-<l>`` as a model; with ``level=`` it then asks for ``<column>-lo-<l>`` of each and
    fails when that is missing. So the wide frame holds only forecasts of ``y``:

    * ``p_exceed-<c>`` (probabilities, not forecasts of ``y``) and ``delta_mean`` (a difference between
      scenarios) are never written;
    * ``fallback_reason`` and ``interval_note`` are text, not forecasts;
    * ``q-<q>`` quantiles are written only with ``quantiles=True``, as ``<model>-q-<percent>``: the Nixtla client
      (TimeGPT) names quantile forecasts so (``q-0.1`` → ``naive-q-10``, ``q-0.975`` → ``naive-q-97.5``;
      utilsforecast itself has no quantile naming: its quantile losses read the ``-lo-``/``-hi-`` columns for
      ``level=``). Such a frame needs ``models=[...]`` in ``evaluate``.

:func:`from_nixtla` reads the layout back: ``<m>`` → ``mean``, ``<m>-lo-<l>`` → ``lo-<l>``, ``<m>-q-<p>`` →
``q-<p/100>``, with ``fallback_reason`` null, so ``from_nixtla(to_nixtla(f))`` equals ``f`` on the columns they share.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from features.contract import CUTOFF, DS, FALLBACK, ID, MEAN, MODEL, SCENARIO, Y, hi_col, lo_col
from forecast.output.quantiles import interval_levels, q_col, quantile_columns

__all__ = ["from_nixtla", "to_nixtla"]

_BOUND_RE = re.compile(r"^(?P<model>.+)-(?P<side>lo|hi)-(?P<level>\d+(?:\.\d+)?)$")
_Q_RE = re.compile(r"^(?P<model>.+)-q-(?P<pct>\d+(?:\.\d+)?)$")
_RESERVED = (ID, DS, CUTOFF, Y)


def nixtla_q_col(model: str, q: float) -> str:
    """The wide column of ``model``'s ``q`` quantile, in percent as the Nixtla client names it: ``naive-q-10``."""
    return f"{model}-q-{round(100.0 * q, 6):g}"


def to_nixtla(frame: pl.DataFrame, *, scenario: str | None = None, quantiles: bool = False) -> pl.DataFrame:
    """The long forecast or backtest ``frame`` in Nixtla's wide layout (see the module docstring).

    A frame holding several scenarios needs ``scenario`` to pick one. Models keep the frame's order; rows are
    sorted by ``unique_id``, [``cutoff``], ``ds``; ``unique_id`` is String, ``ds``/``cutoff`` keep their dtype and
    ``y`` and the model columns are Float64 (null where a model has no row for a period). ``quantiles=True`` adds the
    ``<model>-q-<percent>`` columns.
    """
    missing = [c for c in (ID, DS, MODEL, MEAN) if c not in frame.columns]
    if missing:
        raise ValueError(f"to_nixtla: not a forecast frame, missing columns {', '.join(missing)}")
    frame = _one_scenario(frame, scenario).with_columns(pl.col(ID).cast(pl.String))
    keys = [ID, CUTOFF, DS] if CUTOFF in frame.columns else [ID, DS]
    models = frame.get_column(MODEL).unique(maintain_order=True).to_list()
    bad = [m for m in models if m is None or m in _RESERVED]
    if bad:
        raise ValueError(f"to_nixtla: model names {bad} cannot be wide columns (null or one of {', '.join(_RESERVED)})")
    if frame.select(MODEL, *keys).is_duplicated().any():
        raise ValueError(f"to_nixtla: more than one row per model and ({', '.join(keys)})")

    index = [ID, DS, *[c for c in (CUTOFF, Y) if c in frame.columns]]
    out = frame.select(index).unique(maintain_order=True)
    if out.height != out.select(keys).n_unique():
        raise ValueError(f"to_nixtla: models disagree on y for the same ({', '.join(keys)})")
    if Y in out.columns:
        out = out.with_columns(pl.col(Y).cast(pl.Float64))
    out = out.sort(keys, maintain_order=True)

    levels = interval_levels(frame.columns)
    qs = quantile_columns(frame.columns) if quantiles else {}
    for m in models:
        values = {
            m: MEAN,
            **{f"{m}-lo-{lv}": lo_col(lv) for lv in levels},
            **{f"{m}-hi-{lv}": hi_col(lv) for lv in levels},
            **{nixtla_q_col(m, q): col for q, col in qs.items()},
        }
        block = frame.filter(pl.col(MODEL) == m).select(
            *keys, *[pl.col(src).cast(pl.Float64).alias(name) for name, src in values.items()]
        )
        out = out.join(block, on=keys, how="left", maintain_order="left")
    return out


def from_nixtla(
    wide: pl.DataFrame, *, models: Sequence[str] | None = None, scenario: str | None = None
) -> pl.DataFrame:
    """Nixtla's wide layout back to our long forecast frame.

    ``models`` default: every numeric column but ``unique_id``, ``ds``, ``cutoff``, ``y`` and the ``-lo-<l>``,
    ``-hi-<l>``, ``-q-<percent>`` columns. Output columns: ``unique_id, ds, [cutoff], model, [y], mean``,
    ``lo-<l>``/``hi-<l>`` per level ascending (a level where both bounds exist for some model; null for models
    without it), ``q-<q>`` ascending, ``fallback_reason`` (null) and, when given, ``scenario``. Rows by series (in
    order of first appearance), [cutoff], model (in ``models`` order), ds.
    """
    missing = [c for c in (ID, DS) if c not in wide.columns]
    if missing:
        raise ValueError(f"from_nixtla: not a Nixtla frame, missing columns {', '.join(missing)}")
    names = _model_columns(wide) if models is None else list(models)
    absent = [m for m in names if m not in wide.columns or m in _RESERVED]
    if absent:
        raise ValueError(f"from_nixtla: no model column {', '.join(map(repr, absent))} in the frame")
    if not names:
        raise ValueError("from_nixtla: the frame has no model columns")
    bounds, qs = _suffix_columns(wide.columns, names)
    levels = sorted({lv for (_, lv), cols in bounds.items() if len(cols) == 2})
    quants = sorted({q for _, q in qs})

    def column(name: str | None, alias: str) -> pl.Expr:
        expr = pl.lit(None) if name is None else pl.col(name)
        return expr.cast(pl.Float64).alias(alias)

    cutoff = [CUTOFF] if CUTOFF in wide.columns else []
    truth = [pl.col(Y).cast(pl.Float64)] if Y in wide.columns else []
    tag = [pl.lit(scenario, dtype=pl.String).alias(SCENARIO)] if scenario is not None else []
    rows = wide.with_row_index("_r").with_columns(pl.col("_r").min().over(ID).alias("_s"))  # series' first row
    parts = [
        rows.select(
            "_s",
            pl.lit(k).alias("_m"),
            pl.col(ID).cast(pl.String),
            DS,
            *cutoff,
            pl.lit(m, dtype=pl.String).alias(MODEL),
            *truth,
            column(m, MEAN),
            *[
                column(bounds.get((m, lv), {}).get(side), col(lv))
                for lv in levels
                for side, col in (("lo", lo_col), ("hi", hi_col))
            ],
            *[column(qs.get((m, q)), q_col(q)) for q in quants],
            pl.lit(None, dtype=pl.String).alias(FALLBACK),
            *tag,
        )
        for k, m in enumerate(names)
    ]
    return pl.concat(parts).sort("_s", *cutoff, "_m", DS, maintain_order=True).drop("_s", "_m")


def _one_scenario(frame: pl.DataFrame, scenario: str | None) -> pl.DataFrame:
    """The rows of one scenario, without the ``scenario`` column; ValueError when that is ambiguous or absent."""
    if SCENARIO not in frame.columns:
        if scenario is not None:
            raise ValueError(f"to_nixtla: scenario {scenario!r} asked for, but the frame has no scenario column")
        return frame
    names = frame.get_column(SCENARIO).unique(maintain_order=True).to_list()
    if scenario is None:
        if len(names) > 1:
            raise ValueError(
                f"to_nixtla: the frame holds {len(names)} scenarios ({', '.join(map(str, names))}); "
                "pass scenario= to pick one"
            )
        return frame.drop(SCENARIO)
    if scenario not in names:
        raise ValueError(f"to_nixtla: no scenario {scenario!r} in the frame (it has {', '.join(map(str, names))})")
    return frame.filter(pl.col(SCENARIO) == scenario).drop(SCENARIO)


def _model_columns(wide: pl.DataFrame) -> list[str]:
    """The point-forecast columns of a wide frame: numeric, not an index column, not a bound or quantile."""
    return [
        c
        for c, dtype in wide.schema.items()
        if c not in _RESERVED and dtype.is_numeric() and not _BOUND_RE.match(c) and not _Q_RE.match(c)
    ]


def _suffix_columns(
    columns: Sequence[str], models: Sequence[str]
) -> tuple[dict[tuple[str, int], dict[str, str]], dict[tuple[str, float], str]]:
    """``{(model, level): {"lo": col, "hi": col}}`` and ``{(model, q): col}`` of the given models' columns."""
    wanted = set(models)
    bounds: dict[tuple[str, int], dict[str, str]] = {}
    qs: dict[tuple[str, float], str] = {}
    for c in columns:
        if (b := _BOUND_RE.match(c)) and b["model"] in wanted:
            level = float(b["level"])
            if not level.is_integer() or not 0 < level < 100:
                raise ValueError(f"from_nixtla: column {c!r}: interval levels are whole percents in (0, 100)")
            bounds.setdefault((b["model"], int(level)), {})[b["side"]] = c
        elif (q := _Q_RE.match(c)) and q["model"] in wanted:
            prob = round(float(q["pct"]) / 100.0, 9)
            if not 0 < prob < 1:
                raise ValueError(f"from_nixtla: column {c!r}: quantiles are percents in (0, 100)")
            qs[(q["model"], prob)] = c
    return bounds, qs
