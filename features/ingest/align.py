"""Align exogenous inputs onto the target's grid: national series broadcast to every target series, regional
series matched by id (optionally through an id map).

Inputs must cover every target period: an input that is missing where the target has a period is an error naming
the input's file, column and the first uncovered (series, period) pairs, never a silent null or zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import polars as pl

from features.contract import DS, ID
from features.errors import DataError

JoinHow = Literal["broadcast", "match"]


def broadcast(frame: pl.DataFrame, ids: Sequence[str], source: str | Path = "<input>") -> pl.DataFrame:
    """Copy a single-series frame (e.g. national strike counts) to each id in ``ids``."""
    targets = pl.DataFrame({ID: list(ids)}, schema={ID: pl.String})
    return targets.join(_one(frame, source), how="cross").sort(ID, DS)


def attach(
    target: pl.DataFrame,
    inputs: pl.DataFrame,
    columns: Sequence[str],
    *,
    how: JoinHow,
    source: str | Path = "<input>",
    id_map: Mapping[str, str] | None = None,
    check: bool = True,
) -> pl.DataFrame:
    """Left-join ``columns`` of ``inputs`` onto ``target`` by (unique_id, ds); with ``check``, require full coverage
    (see :func:`check_coverage`).

    ``how="broadcast"``: ``inputs`` is one series applied to every target series. ``how="match"``: input series
    are matched to target series by id, after mapping target ids through ``id_map`` where given.
    """
    missing = [c for c in columns if c not in inputs.columns]
    if missing:
        raise DataError(
            source,
            "input column not produced by this source",
            column=missing[0],
            expected=f"one of {', '.join(c for c in inputs.columns if c not in (ID, DS))}",
        )
    clash = [c for c in columns if c in target.columns]
    if clash:
        raise DataError(
            source,
            "input column already present from another source",
            column=clash[0],
            expected="each input column produced by one source",
        )
    part = inputs.select(ID, DS, *columns)
    if how == "broadcast":
        joined = target.join(_one(part, source), on=DS, how="left")
    elif how == "match":
        key = pl.col(ID).replace(dict(id_map)) if id_map else pl.col(ID)
        joined = (
            target.with_columns(key.alias("__input_id"))
            .join(part.rename({ID: "__input_id"}), on=["__input_id", DS], how="left")
            .drop("__input_id")
        )
    else:  # pragma: no cover - guarded by the spec's Literal type
        raise ValueError(f"unknown join {how!r}")
    if check:
        check_coverage(joined, columns, source)
    return joined.sort(ID, DS)


def check_coverage(frame: pl.DataFrame, columns: Sequence[str], source: str | Path) -> None:
    """Raise a DataError naming the first (series, period) pairs where an input column is null."""
    for col in columns:
        holes = frame.filter(pl.col(col).is_null())
        if holes.height:
            first = holes.head(5)
            pairs = [f"{i} {d}" for i, d in zip(first[ID].to_list(), first[DS].to_list(), strict=True)]
            raise DataError(
                source,
                f"input does not cover {holes.height} target periods",
                column=col,
                values=pairs,
                expected="a value for every target series and period",
            )


def _one(part: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """The single series of a broadcast input, without its id."""
    found = part[ID].unique().to_list()
    if len(found) != 1:
        raise DataError(
            source,
            f"holds {len(found)} series; broadcasting needs exactly one",
            column=ID,
            values=sorted(found)[:5],
            expected="one national series",
        )
    return part.drop(ID)
