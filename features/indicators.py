"""Indicator catalogue: named, parameter-validated definitions computed per series with the numba kernels.

A spec is a table such as a TOML ``[[features]]`` entry::

    [[features]]
    name = "hdd"                 # the indicator (registry key)
    input = "temp_mean_c"        # column parameters name frame columns
    base = 18.0                  # further parameters, typed and range-checked; omitted ones take their defaults
    output = "hdd_c"             # optional: the new column's name (each indicator has a default)

:func:`validate_indicator_specs` turns such tables into :class:`IndicatorSpec` objects or raises
:class:`IndicatorSpecError` naming the offending key (``features[1].half_life: must be > 0, got -3``; list
positions are 0-based). :func:`add_indicators` appends one Float64 column per spec to a canonical long frame
sorted by (``unique_id``, ``ds``), in spec order, so a later spec may read an earlier one's output.

Every indicator is causal: its value at t uses inputs at periods ≤ t of the same series only. Missing inputs
(null or NaN) follow the NaN rule of each kernel; NaN results are returned as nulls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import polars as pl

from features.contract import DS, ID
from features.errors import DataError
from features.grouped import GroupedArray, column_values, group_indptr
from features.kernels import HDD_BASE_C, HDD_THRESHOLD_C, ewm_alpha, grouped_ewm, grouped_hdd

ParamKind = Literal["float", "int", "column"]
Check = Callable[[Any, Mapping[str, Any]], str | None]
Compute = Callable[[Mapping[str, GroupedArray], Mapping[str, Any]], np.ndarray]

NAME_KEY = "name"
OUTPUT_KEY = "output"
_REQUIRED: Any = object()
_SOURCE = "add_indicators"


class IndicatorSpecError(ValueError):
    """An invalid indicator spec; ``key`` is the dotted path of the offending entry, e.g. ``features[1].half_life``."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Param:
    """One parameter of an indicator: its kind, default (``_REQUIRED`` if none) and an optional range check.

    ``check(value, params)`` returns a message such as ``"must be > 0"`` when the (coerced) value is invalid;
    ``params`` holds all coerced parameters of the spec, so checks may relate parameters.
    """

    name: str
    kind: ParamKind
    default: Any = _REQUIRED
    check: Check | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class IndicatorDef:
    """A catalogue entry. ``compute`` receives one GroupedArray per column parameter and the parameters.

    ``compute.__doc__`` carries the formula and units (see :attr:`doc`).
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
        return tuple(p.name for p in self.params if p.kind == "column")


@dataclass(frozen=True)
class IndicatorSpec:
    """A validated indicator request: registry ``name``, all parameters (defaults filled) and ``output`` column."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The spec as a flat table (``name``, parameters, ``output``), e.g. for logging or a resolved spec file."""
        return {NAME_KEY: self.name, **self.params, OUTPUT_KEY: self.output}


# --- the catalogue ------------------------------------------------------------------------------------------


def _positive(value: float, _: Mapping[str, Any]) -> str | None:
    return None if value > 0 else "must be > 0"


def _threshold_not_above_base(value: float, params: Mapping[str, Any]) -> str | None:
    base = params["base"]
    return None if value <= base else f"must be <= base ({base})"


def _compute_hdd(inputs: Mapping[str, GroupedArray], params: Mapping[str, Any]) -> np.ndarray:
    """Heating degree days, Eurostat rule.

    HDD_t = base − T_t  if T_t ≤ threshold, else 0   (defaults base = 18 °C, threshold = 15 °C)

    T_t: daily mean air temperature, °C (``input``). Units: °C·day per day (degree-days accumulated in period t).
    NaN: propagate (missing T_t gives a missing HDD_t).
    """
    ga = inputs["input"]
    return grouped_hdd(ga.values, ga.indptr, params["base"], params["threshold"])


def _compute_strike_ewm(inputs: Mapping[str, GroupedArray], params: Mapping[str, Any]) -> np.ndarray:
    """Exponentially weighted strike intensity (EWM, adjust=False).

    α = 1 − 0.5^(1 / half_life);  s_t = α·x_t + (1 − α)·s_{t−1};  s = x at the first valid value.

    x_t: strikes per period (``input``, e.g. launched per day); half_life in periods. Units: those of x (per period).
    NaN: skip (a missing x_t leaves the state unchanged and s_t is the carried state; missing before the first
    valid value).
    """
    ga = inputs["input"]
    return grouped_ewm(ga.values, ga.indptr, ewm_alpha(params["half_life"]))


def _number_label(value: float) -> str:
    """``7.0`` → ``"7"``, ``3.5`` → ``"3p5"``: a number fit for a column name."""
    return f"{value:g}".replace(".", "p").replace("-", "m")


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
    _INDICATORS[defn.name] = defn
    return defn


register_indicator(
    IndicatorDef(
        name="hdd",
        params=(
            Param("input", "column", doc="daily mean temperature, °C"),
            Param("base", "float", HDD_BASE_C, doc="base temperature, °C"),
            Param("threshold", "float", HDD_THRESHOLD_C, _threshold_not_above_base, "heating threshold, °C"),
        ),
        compute=_compute_hdd,
        default_output=lambda p: "hdd_c",
        units="°C·day per day",
    )
)
register_indicator(
    IndicatorDef(
        name="strike_ewm",
        params=(
            Param("input", "column", doc="strikes per period"),
            Param("half_life", "float", check=_positive, doc="half-life, periods"),
        ),
        compute=_compute_strike_ewm,
        default_output=lambda p: f"{p['input']}_ewm{_number_label(p['half_life'])}",
        units="input units per period",
    )
)


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
    params: dict[str, Any] = {}
    for p in defn.params:
        key = f"{where}.{p.name}"
        if p.name in table:
            params[p.name] = _coerce(table[p.name], p.kind, key)
        elif p.required:
            raise IndicatorSpecError(key, f"missing required parameter of {name!r}")
        else:
            params[p.name] = p.default
    for p in defn.params:
        problem = p.check(params[p.name], params) if p.check else None
        if problem:
            raise IndicatorSpecError(f"{where}.{p.name}", f"{problem}, got {table.get(p.name, p.default)!r}")
    output = table.get(OUTPUT_KEY)
    output = defn.default_output(params) if output is None else _coerce(output, "column", f"{where}.{OUTPUT_KEY}")
    return IndicatorSpec(name=name, params=params, output=output)


def _coerce(value: Any, kind: ParamKind, key: str) -> Any:
    if kind == "column":
        if not isinstance(value, str) or not value.strip():
            raise IndicatorSpecError(key, f"expected a non-empty column name, got {_describe(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IndicatorSpecError(key, f"expected a number, got {_describe(value)}")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise IndicatorSpecError(key, f"expected an integer, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise IndicatorSpecError(key, f"must be a finite number, got {value!r}")
    return float(value)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _known() -> str:
    return ", ".join(sorted(INDICATORS))


# --- computation --------------------------------------------------------------------------------------------


def add_indicators(
    frame: pl.DataFrame,
    specs: Sequence[IndicatorSpec | Mapping[str, Any]],
    *,
    id_col: str = ID,
    ds_col: str | None = DS,
) -> pl.DataFrame:
    """Append one Float64 column per spec to ``frame`` (same rows, same order), computed per series.

    ``frame`` is canonical long data sorted by (``id_col``, ``ds_col``): it is verified, not sorted (a
    :class:`~features.errors.DataError` names the first offending row). ``specs`` are tables or
    :class:`IndicatorSpec` (validated again either way; :class:`IndicatorSpecError` on a bad one). Specs run in
    order, so an input may be an earlier spec's output. Raises ``DataError`` when an input column is missing or not
    numeric, or when an output column already exists. NaN results come back as nulls. No look-ahead: the value at
    t depends on inputs at periods ≤ t of the same series only.
    """
    resolved = validate_indicator_specs(specs)
    if not resolved:
        return frame
    indptr = group_indptr(frame, id_col, ds_col=ds_col)
    out = frame
    for i, spec in enumerate(resolved):
        defn = INDICATORS[spec.name]
        label = f"features[{i}] ({spec.name})"
        if spec.output in out.columns:
            raise DataError(
                _SOURCE,
                f"{label}: output column already exists",
                column=spec.output,
                expected="a new column name (set output=...)",
            )
        inputs = {name: _input(out, spec.params[name], indptr, f"{label}.{name}") for name in defn.column_params}
        result = defn.compute(inputs, spec.params)
        out = out.with_columns(pl.Series(spec.output, result, nan_to_null=True).cast(pl.Float64))
    return out


def _input(frame: pl.DataFrame, column: str, indptr: np.ndarray, label: str) -> GroupedArray:
    if column not in frame.columns:
        raise DataError(_SOURCE, f"{label}: input column not found", column=column, expected=f"one of {frame.columns}")
    dtype = frame.schema[column]
    if not dtype.is_numeric():
        raise DataError(_SOURCE, f"{label}: input column has dtype {dtype}", column=column, expected="a numeric column")
    return GroupedArray(column_values(frame, column), indptr)
