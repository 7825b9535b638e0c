"""The truth a backtest scores against when the target has versions (``[backtest] score_against``).

Outage schedules are revised after they are published (:mod:`features.ingest.sources.outage_vintages`). A job
may learn from what was published by its as-of (``vintage = "as_of"`` on the source) and score its backtest
against the final schedules, or against the first-published ones: the models and their calibration see one
version, the scores compare the forecasts with the other.
"""

from __future__ import annotations

import polars as pl

from experiments.inputs.dataset import collapse, load_target, window
from experiments.inputs.sources import OutageScheduleSource, read_source
from experiments.inputs.spec import ExperimentSpec, SpecError
from features.contract import DS, ID, Y


def scoring_truth(spec: ExperimentSpec) -> pl.DataFrame | None:
    """``unique_id, ds, y`` of the target in the version ``[backtest] score_against`` names (None: not set)."""
    vintage = spec.backtest.score_against if spec.backtest is not None else None
    if vintage is None:
        return None
    src = spec.sources[spec.target.source]
    if not isinstance(src, OutageScheduleSource) or src.reader != "outage_schedule_hourly":
        raise SpecError(
            spec.path,
            "backtest.score_against",
            f"the target source {spec.target.source!r} has no versions; it needs reader = "
            '"outage_schedule_hourly" (replayed schedules with first-published and final statuses)',
        )
    other = src.model_copy(update={"vintage": vintage})
    whole = collapse(read_source(other, spec.freq, spec.as_of), other.collapse)
    target, _ = load_target(spec, window(whole, spec), whole)
    return target.select(ID, DS, Y)


def rescored(backtest: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """The backtest rows with ``y`` from ``truth`` (the same rows and columns; ``y`` null where it has none)."""
    joined = backtest.drop(Y).join(truth, on=[ID, DS], how="left", maintain_order="left")
    return joined.select(backtest.columns)
