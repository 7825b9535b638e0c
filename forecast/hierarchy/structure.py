"""A hierarchy of series: bottom series, the aggregates above them, and the summing matrix.

Levels run from the top (e.g. ``city``) to the bottom (``queue``); every id belongs to exactly one level and every
id below the top has exactly one parent in the level above (a tree, or a forest when the top level has several
nodes; grouped structures, where a series sums into two crossing groupings, are not supported).

Summing matrix
    With the ids ordered aggregates first (level by level from the top) and then the ``m`` bottom series (the order
    hierarchicalforecast uses), ``S`` is the ``n × m`` 0/1 matrix with ``S[i, j] = 1`` when bottom series ``j`` lies
    under id ``i``: every series is the **sum** of its bottom members, ``y = S·b``. The last ``m`` rows are the
    identity; the first ``n − m`` rows are the aggregation matrix ``A`` (``S = [A; I]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np
import polars as pl

from features.contract import ID

LEVEL = "level"
SIZE = "n_bottom"


@dataclass(frozen=True)
class Hierarchy:
    """Levels (top → bottom), the ids of each level and the parent of every id below the top.

    Build it with :meth:`from_parents` or :meth:`from_levels` (or :func:`forecast.hierarchy.rules.from_rules`);
    the constructor checks that the levels are non-empty, the ids unique across levels, each parent one level up,
    and each aggregate has members. Errors are :class:`ValueError`.
    """

    levels: tuple[str, ...]
    nodes: tuple[tuple[str, ...], ...]
    parent: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "nodes", tuple(tuple(ids) for ids in self.nodes))
        object.__setattr__(self, "parent", dict(self.parent))
        _check_structure(self.levels, self.nodes, self.parent)

    def __hash__(self) -> int:
        return hash((self.levels, self.nodes, tuple(sorted(self.parent.items()))))

    @classmethod
    def from_parents(cls, chains: Mapping[str, Sequence[str]], levels: Sequence[str]) -> Hierarchy:
        """From each bottom id's chain of ancestors, nearest first: ``{"1.1": ["1", "city"], …}`` with
        ``levels = ["city", "group", "queue"]`` (top → bottom, so every chain has ``len(levels) − 1`` entries).

        Raises :class:`ValueError` for empty levels or chains, an id in two parents (the same aggregate under two
        different parents), a cycle (an id among its own ancestors) and an id on two levels.
        """
        levels = tuple(levels)
        if not levels or any(not isinstance(name, str) or not name for name in levels):
            raise ValueError(f"hierarchy: levels must be non-empty names, got {list(levels)!r}")
        if not chains:
            raise ValueError("hierarchy: no bottom series")
        depth = len(levels) - 1
        paths = {b: [b, *([c] if isinstance(c, str) else list(c))] for b, c in chains.items()}
        edges: dict[str, str] = {}
        for bottom, path in paths.items():
            if len(path) - 1 != depth:
                raise ValueError(
                    f"hierarchy: {bottom!r} has {len(path) - 1} ancestors {path[1:]!r}; levels {list(levels)} need "
                    f"{depth}"
                )
            if any(not isinstance(node, str) or not node for node in path):
                raise ValueError(f"hierarchy: empty or non-text id in the chain of {bottom!r}: {path[1:]!r}")
            if len(set(path)) != len(path):
                raise ValueError(f"hierarchy: cycle in the chain of {bottom!r}: {' → '.join(path)}")
            for child, parent in pairwise(path):
                if edges.setdefault(child, parent) != parent:
                    raise ValueError(f"hierarchy: {child!r} is in two parents, {edges[child]!r} and {parent!r}")
        _check_acyclic(edges)
        level_of: dict[str, int] = {}
        nodes: list[list[str]] = [[] for _ in levels]
        placed: set[str] = set()
        for path in paths.values():
            for k, node in enumerate(path):
                at = depth - k
                seen = level_of.setdefault(node, at)
                if seen != at:
                    raise ValueError(f"hierarchy: {node!r} is on two levels, {levels[seen]!r} and {levels[at]!r}")
                if node not in placed:
                    placed.add(node)
                    nodes[at].append(node)
        return cls(levels, tuple(tuple(ids) for ids in nodes), edges)

    @classmethod
    def from_levels(cls, tags: pl.DataFrame, levels: Sequence[Sequence[str]]) -> Hierarchy:
        """From a tags frame (one row per bottom series) and level definitions, top → bottom, each a list of
        columns: ``[["city"], ["group"], ["queue"]]``. A node's id is its row's values of the level's columns
        joined by ``/`` (one column: the value itself), the level's name its columns joined by ``/`` (as in
        hierarchicalforecast's ``aggregate``); the last level's ids are the bottom series and must be unique."""
        if not levels or any(not level for level in levels):
            raise ValueError(f"hierarchy: empty level definition in {[list(level) for level in levels]!r}")
        cols = [c for level in levels for c in level]
        missing = sorted({c for c in cols if c not in tags.columns})
        if missing:
            raise ValueError(f"hierarchy: tags frame has no column {', '.join(missing)}")
        if tags.height == 0:
            raise ValueError("hierarchy: the tags frame has no rows (no bottom series)")
        text = tags.select(pl.col(c).cast(pl.String) for c in dict.fromkeys(cols))
        if text.null_count().sum_horizontal().item():
            raise ValueError("hierarchy: null values in the tags frame")
        ids = [[("/".join(row[c] for c in level)) for level in levels] for row in text.iter_rows(named=True)]
        chains: dict[str, list[str]] = {}
        for path in ids:
            bottom = path[-1]
            if bottom in chains:
                raise ValueError(f"hierarchy: bottom series {bottom!r} appears in two rows of the tags frame")
            chains[bottom] = path[-2::-1]
        return cls.from_parents(chains, ["/".join(level) for level in levels])

    @property
    def bottom(self) -> tuple[str, ...]:
        """The bottom series, in order (the columns of ``S``)."""
        return self.nodes[-1]

    @property
    def aggregates(self) -> tuple[str, ...]:
        """The aggregate ids, top level first."""
        return tuple(node for ids in self.nodes[:-1] for node in ids)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id: the aggregates (top level first), then the bottom series (the rows of ``S``)."""
        return self.aggregates + self.bottom

    @cached_property
    def level_of(self) -> dict[str, str]:
        """The level name of each id."""
        return {node: name for name, ids in zip(self.levels, self.nodes, strict=True) for node in ids}

    @cached_property
    def members(self) -> dict[str, tuple[str, ...]]:
        """The bottom series under each id (a bottom series: itself), in bottom order."""
        out: dict[str, list[str]] = {node: [] for node in self.ids}
        for b in self.bottom:
            node: str | None = b
            while node is not None:
                out[node].append(b)
                node = self.parent.get(node)
        return {node: tuple(m) for node, m in out.items()}

    @cached_property
    def S(self) -> np.ndarray:
        """The ``n × m`` summing matrix (rows :attr:`ids`, columns :attr:`bottom`), float64."""
        col = {b: j for j, b in enumerate(self.bottom)}
        s = np.zeros((len(self.ids), len(self.bottom)), dtype=np.float64)
        for i, node in enumerate(self.ids):
            s[i, [col[b] for b in self.members[node]]] = 1.0
        s.setflags(write=False)
        return s

    @property
    def tags(self) -> dict[str, list[str]]:
        """Level name → its ids (hierarchicalforecast's ``tags``)."""
        return {name: list(ids) for name, ids in zip(self.levels, self.nodes, strict=True)}

    def level_frame(self) -> pl.DataFrame:
        """``unique_id, level, n_bottom``: each id's level and number of bottom members, in :attr:`ids` order."""
        return pl.DataFrame(
            {
                ID: list(self.ids),
                LEVEL: [self.level_of[i] for i in self.ids],
                SIZE: [len(self.members[i]) for i in self.ids],
            },
            schema={ID: pl.String, LEVEL: pl.String, SIZE: pl.Int64},
        )


def _check_acyclic(edges: Mapping[str, str]) -> None:
    """Follow each id's parents; a return to an id already on the path is a cycle."""
    done: set[str] = set()
    for start in edges:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in done:
            if node in path:
                loop = [*path[path.index(node) :], node]
                raise ValueError(f"hierarchy: cycle {' → '.join(loop)}")
            path.append(node)
            node = edges.get(node)
        done.update(path)


def _check_structure(levels: tuple[str, ...], nodes: tuple[tuple[str, ...], ...], parent: Mapping[str, str]) -> None:
    if not levels or len(levels) != len(nodes):
        raise ValueError(f"hierarchy: {len(levels)} level names for {len(nodes)} levels of ids")
    if len(set(levels)) != len(levels):
        raise ValueError(f"hierarchy: level names repeat in {list(levels)!r}")
    empty = [name for name, ids in zip(levels, nodes, strict=True) if not ids]
    if empty:
        raise ValueError(f"hierarchy: empty level {', '.join(map(repr, empty))}")
    at: dict[str, int] = {}
    for k, ids in enumerate(nodes):
        for node in ids:
            if not isinstance(node, str) or not node:
                raise ValueError(f"hierarchy: empty or non-text id {node!r} on level {levels[k]!r}")
            if node in at:
                raise ValueError(f"hierarchy: {node!r} is on two levels, {levels[at[node]]!r} and {levels[k]!r}")
            at[node] = k
    for node, k in at.items():
        p = parent.get(node)
        if k == 0 and p is not None:
            raise ValueError(f"hierarchy: top-level {node!r} has a parent {p!r}")
        if k > 0 and (p is None or at.get(p) != k - 1):
            raise ValueError(f"hierarchy: {node!r} on level {levels[k]!r} needs a parent on level {levels[k - 1]!r}")
    unknown = sorted(set(parent) - set(at))
    if unknown:
        raise ValueError(f"hierarchy: parents given for unknown ids {unknown!r}")
    childless = sorted(set(at) - set(nodes[-1]) - set(parent.values()))
    if childless:
        raise ValueError(f"hierarchy: aggregates without members {childless!r}")
