"""Parameters: one definition per parameter (type, default, range check, examples), validated by one function.

A :class:`Param` is declared once, in the op table of a kernel module (see :mod:`~features.indicators.kernels._ops`),
and reused by the indicator catalogue; :func:`resolve` is the only validation: the ``grouped_*`` entry points call
it on their arguments, spec validation (:mod:`features.indicators.definition`) on a spec table. Errors are
:class:`ParamError` (a ``ValueError``) naming the parameter, e.g. ``repair_rate: must be in [0, 1], got 3``.

Kinds: ``float`` (ints accepted, booleans never, non-finite rejected), ``int`` (integral floats accepted) and
``column`` (a non-empty column name; spec level only). A value of ``None`` means "not given": the default applies.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ParamKind = Literal["float", "int", "column"]
Check = Callable[[Any, Mapping[str, Any]], str | None]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a parameter that must be given."""


class ParamError(ValueError):
    """An invalid parameter value; ``name`` is the parameter, ``message`` says what is wrong."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


@dataclass(frozen=True)
class Derived:
    """A default computed from the parameters before it (e.g. ``min_periods`` defaults to ``window``)."""

    fn: Callable[[Mapping[str, Any]], Any]
    doc: str


@dataclass(frozen=True)
class Param:
    """One parameter.

    ``default``: a value, ``None`` (optional, unset means "none", e.g. no repair cap), a :class:`Derived` default, or
    :data:`REQUIRED`. ``check(value, params)`` returns a message such as ``"must be > 0"`` for an invalid (coerced)
    value, or ``None``; ``params`` holds every coerced parameter, so checks may relate parameters (it is skipped for
    ``None``). ``examples`` are valid values used by tests, warm-up and docs (required parameters need one).
    """

    name: str
    kind: ParamKind
    default: Any = REQUIRED
    check: Check | None = None
    doc: str = ""
    examples: tuple[Any, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def example(self) -> Any:
        """The first example, else the default (``None`` for a derived default)."""
        if self.examples:
            return self.examples[0]
        return None if isinstance(self.default, Derived) or self.required else self.default


def resolve(params: Sequence[Param], given: Mapping[str, Any], owner: str = "") -> dict[str, Any]:
    """Coerce the ``given`` values of ``params`` to their kinds, fill defaults, then run every check.

    Keys of ``given`` that are not in ``params`` are ignored (callers reject unknown keys themselves). Raises
    :class:`ParamError` at the first problem; ``owner`` (e.g. an indicator name) is named for a missing parameter.
    """
    values: dict[str, Any] = {}
    for p in params:
        value = given.get(p.name)
        if value is not None:
            values[p.name] = coerce(p.name, value, p.kind)
        elif p.required:
            raise ParamError(p.name, "missing required parameter" + (f" of {owner!r}" if owner else ""))
        elif isinstance(p.default, Derived):
            values[p.name] = p.default.fn(values)
        else:
            values[p.name] = p.default
    for p in params:
        value = values[p.name]
        problem = p.check(value, values) if p.check and value is not None else None
        if problem:
            raise ParamError(p.name, f"{problem}, got {given.get(p.name, value)!r}")
    return values


def coerce(name: str, value: Any, kind: ParamKind) -> Any:
    """``value`` as a ``float``, ``int`` or column name (``str``), or :class:`ParamError`."""
    if kind == "column":
        if not isinstance(value, str) or not value.strip():
            raise ParamError(name, f"expected a non-empty column name, got {_describe(value)}")
        return value
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ParamError(name, f"expected a number, got {_describe(value)}")
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        if not float(value).is_integer():
            raise ParamError(name, f"expected an integer, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise ParamError(name, f"must be a finite number, got {value!r}")
    return float(value)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


# --- checks: a message for a bad value, None when fine ------------------------------------------------------


def positive(value: float, _: Mapping[str, Any]) -> str | None:
    return None if value > 0 else "must be > 0"


def non_negative(value: float, _: Mapping[str, Any]) -> str | None:
    return None if value >= 0 else "must be >= 0"


def unit_interval(value: float, _: Mapping[str, Any]) -> str | None:
    return None if 0 <= value <= 1 else "must be in [0, 1]"


def alpha_interval(value: float, _: Mapping[str, Any]) -> str | None:
    return None if 0 < value <= 1 else "must be in (0, 1]"


def at_least_one(value: int, _: Mapping[str, Any]) -> str | None:
    return None if value >= 1 else "must be >= 1"


def min_periods_in_window(value: int, params: Mapping[str, Any]) -> str | None:
    if value < 1:
        return "must be >= 1"
    return None if value <= params["window"] else f"must be <= window ({params['window']})"


def not_above_base(value: float, params: Mapping[str, Any]) -> str | None:
    base = params["base"]
    return None if value <= base else f"must be <= base ({base})"


# --- parameters shared by several ops ------------------------------------------------------------------------

HDD_BASE_C = 18.0
HDD_THRESHOLD_C = 15.0

HDD_BASE = Param("base", "float", HDD_BASE_C, doc="HDD base temperature, °C", examples=(20.0,))
HDD_THRESHOLD = Param("threshold", "float", HDD_THRESHOLD_C, not_above_base, "heating threshold, °C; <= base", (12.0,))
HALF_LIFE = Param("half_life", "float", check=positive, doc="half-life, periods", examples=(7.0, 2.5))
WINDOW = Param("window", "int", check=at_least_one, doc="window length, periods", examples=(7, 3))
MIN_PERIODS_WINDOW = Param(
    "min_periods",
    "int",
    Derived(lambda p: p["window"], "window"),
    min_periods_in_window,
    "valid periods needed in the window for a result; 1..window",
    examples=(1, 2),
)
MIN_PERIODS_ONE = Param(
    "min_periods", "int", 1, min_periods_in_window, "valid periods needed in the window; 1..window", examples=(2,)
)
