"""The spec's ``[hierarchy]``: how the target's series sum into higher levels, and every level's dataset.

```toml
[hierarchy]
levels = ["city", "group", "queue"]       # top to bottom; the bottom level is the target's series
methods = ["bottom_up", "mint_shrink"]    # each adds models "<model>/<method>" beside the base ones
min_windows = 4                           # backtest windows that only give MinT-shrink its first residuals

[hierarchy.rules]                         # one rule per level above the bottom: the node of each bottom series
city = { name = "dnipro" }                # one node holding every series
group = { before_last = "." }             # "dnipro/GPV1.2" -> "dnipro/GPV1"
# or an explicit table: group = { map = { "dnipro/GPV1.1" = "dnipro/GPV1", ... } }
```

A job with a hierarchy models every level (:func:`every_level`: sums of the target, means of the inputs) and
reconciles them (:mod:`forecast.scenarios.coherent`; ``docs/hierarchy.md``). Rules are checked when the spec is
read; whether they fit the data (a ``before_last`` separator missing from an id, a ``map`` without an entry, an id
under two parents) is checked once the data are read, still before anything is written, as a spec error naming
``hierarchy``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.contract import DS, ID, Y
from forecast.hierarchy import METHODS, Hierarchy, aggregate, from_rules, make_rule

MAX_LEVELS = 10


class HierarchySpec(BaseModel):
    """``[hierarchy]`` (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    levels: list[str] = Field(min_length=2, max_length=MAX_LEVELS)
    rules: dict[str, str | dict[str, Any]]
    methods: list[Literal["bottom_up", "mint_shrink"]] = Field(default_factory=lambda: list(METHODS), min_length=1)
    min_windows: int = Field(default=4, gt=0, le=500)

    @model_validator(mode="after")
    def _rules_per_level(self) -> HierarchySpec:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels: each level once, got {self.levels}")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods: each method once, got {self.methods}")
        above = self.levels[:-1]
        missing = [lv for lv in above if lv not in self.rules]
        extra = [k for k in self.rules if k not in above]
        if missing or extra:
            raise ValueError(
                f"rules: one rule per level above the bottom one ({', '.join(above)}); "
                + (f"missing {', '.join(missing)}" if missing else f"{', '.join(extra)} is not such a level")
            )
        for level in above:
            make_rule(self.rules[level], key=f"rules.{level}")
        return self


def build_hierarchy(spec: HierarchySpec, frame: pl.DataFrame) -> Hierarchy:
    """The hierarchy of the target's series in ``frame``; a rule that does not fit them is a :class:`ValueError`
    whose message names the level's key (``hierarchy.group.before_last: …``)."""
    bottom = frame.get_column(ID).unique(maintain_order=True).to_list()
    return from_rules(bottom, spec.levels, spec.rules)


def every_level(data: Any, hierarchy: Hierarchy) -> Any:
    """``data`` (a :class:`~experiments.inputs.dataset.Dataset`) with the series of every level: the target summed
    and the inputs averaged over each node's members, in the frame and in the raw inputs a path provider extends."""
    frame = aggregate(data.frame, hierarchy, exog=data.exog)
    inputs = None
    if data.inputs is not None:
        raw = [c for c in data.inputs.columns if c not in (ID, DS, Y)]
        inputs = aggregate(data.inputs.with_columns(pl.lit(0.0).alias(Y)), hierarchy, exog=raw).drop(Y)
    return dataclasses.replace(data, frame=frame, inputs=inputs)


def every_level_truth(truth: pl.DataFrame | None, hierarchy: Hierarchy) -> pl.DataFrame | None:
    """The scoring truth (``unique_id, ds, y`` of the bottom series) summed over every level."""
    return None if truth is None else aggregate(truth.select(ID, DS, Y), hierarchy, exog=[])
