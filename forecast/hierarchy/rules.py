"""A hierarchy from the bottom series' ids and one naming rule per level above them (the spec's shape).

A rule maps a **bottom** id to the id of the node it belongs to on that level, so every level is named directly
and the parent chain of a bottom id is read off the rules top to bottom. The spec's ``[hierarchy]`` table
(``docs/hierarchy.md``) gives the rules as small tables, turned into callables by :func:`make_rule`:

``{ name = "dnipro" }``
    every bottom series belongs to the one node ``dnipro`` (a city, the country);
``{ before_last = "." }``
    the bottom id up to its last ``.``: ``"dnipro/GPV1.2"`` → ``"dnipro/GPV1"`` (the queue group);
``{ map = { "dnipro/GPV1.1" = "g1", … } }``
    an explicit table; a bottom id missing from it is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from forecast.hierarchy.structure import Hierarchy

LevelRule = Callable[[str], str]
RULE_KEYS = ("name", "before_last", "map")


def make_rule(spec: str | Mapping[str, Any] | LevelRule, *, key: str = "rule") -> LevelRule:
    """A rule from its spec form: a table with one of ``name``, ``before_last``, ``map``; a plain string is a
    ``name``; a callable is returned as is. Errors are :class:`ValueError` starting with ``key``."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in RULE_KEYS:
        raise ValueError(f"{key}: expected a table with one of {', '.join(RULE_KEYS)}, got {spec!r}")
    (kind, value), *_ = spec.items()
    if kind == "name":
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}.name: expected a non-empty id, got {value!r}")
        return lambda _bottom: value
    if kind == "before_last":
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}.before_last: expected a non-empty separator, got {value!r}")
        return lambda bottom: _before_last(bottom, value, key)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{key}.map: expected a table of bottom id = node id, got {value!r}")
    table = dict(value)

    def lookup(bottom: str) -> str:
        try:
            return table[bottom]
        except KeyError:
            raise ValueError(f"{key}.map: no entry for bottom series {bottom!r}") from None

    return lookup


def _before_last(bottom: str, sep: str, key: str) -> str:
    head, found, _ = bottom.rpartition(sep)
    if not found or not head:
        raise ValueError(f"{key}.before_last: bottom series {bottom!r} has no {sep!r} to cut at")
    return head


def from_rules(
    bottom_ids: Iterable[str],
    levels: Sequence[str],
    rules: Mapping[str, str | Mapping[str, Any] | LevelRule],
) -> Hierarchy:
    """The hierarchy of ``bottom_ids`` (e.g. the target's ``unique_id`` values) with ``levels`` top → bottom and a
    rule for every level but the bottom one: ``from_rules(ids, ["city", "group", "queue"], {"city": {"name":
    "dnipro"}, "group": {"before_last": "."}})``. Structural errors come from :meth:`Hierarchy.from_parents`."""
    levels = list(levels)
    above = levels[:-1]
    missing = [name for name in above if name not in rules]
    extra = sorted(set(rules) - set(above))
    if missing or extra:
        raise ValueError(
            f"hierarchy: rules needed for levels {above!r} (the bottom level {levels[-1:]!r} is the data's series); "
            f"missing {missing!r}, unexpected {extra!r}"
        )
    made = {name: make_rule(rules[name], key=f"hierarchy.{name}") for name in above}
    bottoms = list(dict.fromkeys(bottom_ids))
    chains = {b: [made[name](b) for name in reversed(above)] for b in bottoms}
    return Hierarchy.from_parents(chains, levels)
