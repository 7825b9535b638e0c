"""Every level's series from the bottom series' long frame, so base models can be fitted at every level.

For an id ``i`` with bottom members ``M(i)`` and a period ``t``:

- target: ``y_i,t = Σ_{j ∈ M(i)} y_j,t`` — the sum, **null** when any member's value is null or its row missing at
  ``t`` (a partial sum would undercount; the data contract keeps missing targets as nulls, never zeros);
- every other column (exogenous inputs, indicators): ``x_i,t = mean_{j ∈ M(i)} x_j,t`` over the members' non-null
  values. A national input broadcast to every member stays what it is; a regional one (temperature per city)
  becomes the members' average. Inputs of aggregates are means, not sums: a model of the national hours off sees
  the average heating degree days, not 24 times them.

Bottom series are returned with their own values. Each series covers the union of its members' periods.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from features.contract import DS, ID, Y
from forecast.hierarchy.structure import Hierarchy

_NODE, _N, _RANK = "_h_node", "_h_n", "_h_rank"


def check_ids(present: Sequence[str], hierarchy: Hierarchy, *, source: str, expect: Sequence[str]) -> None:
    """:class:`ValueError` naming the ids of ``expect`` missing from ``present`` and the ids of ``present`` the
    hierarchy does not know (a few of each)."""
    have = set(present)
    missing = [i for i in expect if i not in have]
    unknown = sorted(have - set(hierarchy.ids))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"{len(missing)} series of the hierarchy missing ({few_ids(missing)})")
        if unknown:
            parts.append(f"{len(unknown)} series not in the hierarchy ({few_ids(unknown)})")
        raise ValueError(f"{source}: {'; '.join(parts)}")


def few_ids(ids: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(map(repr, ids[:k]))
    return shown + (f", … {len(ids) - k} more" if len(ids) > k else "")


def aggregate(df: pl.DataFrame, hierarchy: Hierarchy, *, exog: Sequence[str] | None = None) -> pl.DataFrame:
    """The long frame of every id of ``hierarchy`` from the bottom series' frame ``df`` (``unique_id, ds, y`` and
    inputs): sums of ``y``, means of the inputs (``exog``: which input columns to keep, default every column
    besides ``unique_id, ds, y``), nulls where a member is missing (module docstring).

    Rows are sorted by the hierarchy's id order (aggregates first, top level first, then the bottom series) and
    ``ds``; each series is one contiguous block, as :func:`forecast.frames.check_frame` asks. ``df`` must hold
    exactly the hierarchy's bottom series: a missing bottom series or an id the hierarchy does not know is a
    :class:`ValueError`.
    """
    missing_cols = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing_cols:
        raise ValueError(f"aggregate: missing columns {', '.join(missing_cols)}")
    inputs = [c for c in df.columns if c not in (ID, DS, Y)] if exog is None else list(exog)
    absent = [c for c in inputs if c not in df.columns]
    if absent:
        raise ValueError(f"aggregate: exog columns not in the frame: {', '.join(absent)}")
    ids = df.get_column(ID).unique(maintain_order=True).to_list()
    check_ids(ids, hierarchy, source="aggregate", expect=hierarchy.bottom)
    if any(i in hierarchy.aggregates for i in ids):
        raise ValueError("aggregate: the frame already holds aggregate series; give the bottom series only")
    membership = pl.DataFrame(
        [
            (node, b, len(hierarchy.members[node]), rank)
            for rank, node in enumerate(hierarchy.ids)
            for b in hierarchy.members[node]
        ],
        schema={_NODE: pl.String, ID: pl.String, _N: pl.Int64, _RANK: pl.Int64},
        orient="row",
    )
    rows = df.select(ID, DS, pl.col(Y).cast(pl.Float64), *inputs).join(membership, on=ID, how="inner")
    complete = (pl.len() == pl.first(_N)) & (pl.col(Y).null_count() == 0)
    out = (
        rows.group_by(_NODE, DS)
        .agg(
            pl.first(_RANK),
            pl.when(complete).then(pl.col(Y).sum()).otherwise(None).alias(Y),
            *[pl.col(c).mean().alias(c) for c in inputs],
        )
        .sort(_RANK, DS)
        .drop(_RANK)
        .rename({_NODE: ID})
    )
    return out.select(ID, DS, Y, *[pl.col(c).cast(df.schema[c]) if df.schema[c].is_float() else c for c in inputs])
