"""Indicator specs: parameter definitions, the registry, and validation with errors that name the offending key.

A spec is a table such as a TOML ``[[features]]`` entry::

    [[features]]
    name = "damage_stock"        # the indicator (registry key)
    input = "launched_total"     # column parameters name frame columns
    repair_rate = 0.1            # further parameters, typed and range-checked; omitted ones take their defaults
    cap = 50
    output = "damage"            # optional: the new column's name (each indicator has a default)

:func:`validate_indicator_specs` turns such tables into :class:`IndicatorSpec` objects or raises
:class:`IndicatorSpecError` naming the offending key (``features[2].repair_rate: must be in [0, 1], got 3``; list
positions are 0-based). :func:`column_params` / :func:`input_columns` say which parameters of a spec name columns.
The catalogue itself is in :mod:`features.indicators.catalogue`.

Parameters (:class:`Param`, :class:`Derived`) and their validation (:func:`~features.indicators.kernels.params.resolve`)
are those of the kernels' op tables (:mod:`features.indicators.kernels.params`): the catalogue reuses the ops'
parameters, so each rule is written once and a spec is checked by the same code as a ``grouped_*`` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from features.indicators.grouped import GroupedArray
from features.indicators.kernels.params import (
    REQUIRED,
    Check,
    Derived,
    Param,
    ParamError,
    ParamKind,
    coerce,
    resolve,
)

__all__ = [
    "INDICATORS",
    "REQUIRED",
    "Check",
    "Compute",
    "Derived",
    "IndicatorDef",
    "IndicatorSpec",
    "IndicatorSpecError",
    "Param",
    "ParamKind",
    "column_params",
    "input_columns",
    "register_indicator",
    "validate_indicator_specs",
]

Compute = Callable[[Mapping[str, GroupedArray], Mapping[str, Any]], np.ndarray]

NAME_KEY = "name"
OUTPUT_KEY = "output"


class IndicatorSpecError(ValueError):
    """An invalid indicator spec; ``key`` is the dotted path of the offending entry, e.g. ``features[1].half_life``."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class IndicatorDef:
    """A catalogue entry. ``compute`` receives one GroupedArray per column parameter and the parameters.

    ``compute.__doc__`` carries the formula, units and NaN semantics (see :attr:`doc`).
    """

    name: str
    params: tuple[Param, ...]
    compute: Compute
    default_output: Callable[[Mapping[str, Any]], str]
    units: str

    @property
    def doc(self) -> str:
        return (self.compute.__doc__ or "").strip()

    @property
    def column_params(self) -> tuple[str, ...]:
        """Names of the parameters that name input columns, in declaration order."""
        return tuple(p.name for p in self.params if p.kind == "column")

    def example(self) -> dict[str, Any]:
        """A valid spec table for this indicator: first example of required parameters, column params as named."""
        table: dict[str, Any] = {NAME_KEY: self.name}
        for p in self.params:
            if p.kind == "column":
                table[p.name] = p.examples[0] if p.examples else p.name
            elif p.required:
                table[p.name] = p.examples[0]
        return table


@dataclass(frozen=True)
class IndicatorSpec:
    """A validated indicator request: registry ``name``, all parameters (defaults filled) and ``output`` column."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The spec as a flat table (``name``, parameters, ``output``), e.g. for logging or a resolved spec file."""
        return {NAME_KEY: self.name, **self.params, OUTPUT_KEY: self.output}

    @property
    def input_columns(self) -> list[str]:
        """The frame columns this spec reads (values of its column parameters, in declaration order)."""
        return [self.params[name] for name in INDICATORS[self.name].column_params]


_INDICATORS: dict[str, IndicatorDef] = {}
INDICATORS: Mapping[str, IndicatorDef] = MappingProxyType(_INDICATORS)
"""Read-only view of the registry: name → definition."""


def register_indicator(defn: IndicatorDef) -> IndicatorDef:
    """Add ``defn`` to the catalogue (names are unique; ``name`` and ``output`` are reserved parameter names)."""
    if defn.name in _INDICATORS:
        raise ValueError(f"indicator {defn.name!r} is already registered")
    reserved = {NAME_KEY, OUTPUT_KEY} & {p.name for p in defn.params}
    if reserved:
        raise ValueError(f"indicator {defn.name!r}: reserved parameter name(s) {sorted(reserved)}")
    missing = [p.name for p in defn.params if p.required and p.kind != "column" and not p.examples]
    if missing:
        raise ValueError(f"indicator {defn.name!r}: required parameter(s) {missing} need examples")
    _INDICATORS[defn.name] = defn
    return defn


def column_params(spec: IndicatorSpec | Mapping[str, Any] | str) -> list[str]:
    """Names of the parameters of ``spec`` that are input columns, e.g. ``["t_min", "t_max"]`` for ``freeze_thaw_w``.

    ``spec``: a validated :class:`IndicatorSpec`, a spec table (only its ``name`` is read) or an indicator name.
    Raises :class:`IndicatorSpecError` for an unknown name. The frame columns themselves are
    :func:`input_columns`.
    """
    name = spec if isinstance(spec, str) else spec.name if isinstance(spec, IndicatorSpec) else spec.get(NAME_KEY)
    if not isinstance(name, str) or name not in INDICATORS:
        raise IndicatorSpecError(NAME_KEY, f"unknown indicator {name!r}; known indicators: {_known()}")
    return list(INDICATORS[name].column_params)


def input_columns(spec: IndicatorSpec | Mapping[str, Any]) -> list[str]:
    """The frame columns ``spec`` reads, in parameter order (validates a table first)."""
    resolved = spec if isinstance(spec, IndicatorSpec) else _validate_one(spec, "spec")
    return resolved.input_columns


# --- validation ---------------------------------------------------------------------------------------------


def validate_indicator_specs(specs: Sequence[Mapping[str, Any]], path: str = "features") -> list[IndicatorSpec]:
    """Validate indicator tables and resolve defaults and output names.

    Raises :class:`IndicatorSpecError` (a ``ValueError``) at the first problem, keyed ``<path>[i].<key>``:
    missing or unknown ``name`` (the known names are listed), unknown parameter, missing required parameter,
    wrong type (ints are accepted for floats, bools never for numbers), out-of-range value, duplicate output.
    """
    if isinstance(specs, str | bytes | Mapping) or not isinstance(specs, Sequence):
        raise IndicatorSpecError(path, f"must be a list of tables, got {type(specs).__name__}")
    resolved: list[IndicatorSpec] = []
    outputs: dict[str, int] = {}
    for i, table in enumerate(specs):
        where = f"{path}[{i}]"
        spec = _validate_one(table, where)
        if spec.output in outputs:
            raise IndicatorSpecError(
                f"{where}.{OUTPUT_KEY}",
                f"duplicate output column {spec.output!r} (also {path}[{outputs[spec.output]}]); set output=...",
            )
        outputs[spec.output] = i
        resolved.append(spec)
    return resolved


def _validate_one(table: Any, where: str) -> IndicatorSpec:
    if isinstance(table, IndicatorSpec):
        table = table.to_dict()
    if not isinstance(table, Mapping):
        raise IndicatorSpecError(where, f"must be a table, got {type(table).__name__}")
    if NAME_KEY not in table:
        raise IndicatorSpecError(f"{where}.{NAME_KEY}", f"missing; known indicators: {_known()}")
    name = table[NAME_KEY]
    if not isinstance(name, str):
        raise IndicatorSpecError(f"{where}.{NAME_KEY}", f"expected a string, got {_describe(name)}")
    if name not in INDICATORS:
        raise IndicatorSpecError(f"{where}.{NAME_KEY}", f"unknown indicator {name!r}; known indicators: {_known()}")
    defn = INDICATORS[name]
    allowed = [NAME_KEY, *(p.name for p in defn.params), OUTPUT_KEY]
    for key in table:
        if key not in allowed:
            raise IndicatorSpecError(f"{where}.{key}", f"unknown parameter for {name!r}; allowed: {', '.join(allowed)}")
    try:
        params = resolve(defn.params, table, owner=name)
        output = table.get(OUTPUT_KEY)
        output = defn.default_output(params) if output is None else coerce(OUTPUT_KEY, output, "column")
    except ParamError as error:
        raise IndicatorSpecError(f"{where}.{error.name}", error.message) from None
    return IndicatorSpec(name=name, params=params, output=output)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _known() -> str:
    return ", ".join(sorted(INDICATORS))
