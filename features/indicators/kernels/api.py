"""Entry points, derived from the op tables of the kernel modules: :func:`run_op` and one ``grouped_<name>`` per op.

``grouped_<name>(*inputs, indptr, *params)`` (e.g. ``grouped_rolling_std(values, indptr, window, min_periods=None)``)
is generated from its :class:`~._ops.Op`: the signature lists the op's inputs, ``indptr`` and its parameters with
their defaults (``None`` for a default derived from other parameters, or for "none"), and the docstring is the op's.
Each checks the layout (``TypeError``/``ValueError``) and validates its parameters with
:func:`~.params.resolve` (a :class:`~.params.ParamError` naming the parameter), then runs the op's driver on every
series. Results are new arrays of the inputs' dtype (float64 when two inputs differ); inputs are never written to
(read-only views are fine). Windows, lags and half-lives count periods (rows), not calendar time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from features.indicators.grouped import check_layout
from features.indicators.kernels import elementwise, scan, window
from features.indicators.kernels._ops import Op, OpTable
from features.indicators.kernels._run import run
from features.indicators.kernels.params import HALF_LIFE, HDD_BASE_C, HDD_THRESHOLD_C, Derived, Param, resolve

__all__ = ["HDD_BASE_C", "HDD_THRESHOLD_C", "OPS", "TABLES", "decay_factor", "ewm_alpha", "run_op"]

TABLES: tuple[OpTable, ...] = (elementwise.OPS, scan.OPS, window.OPS)
"""The op table of every kernel module, one per driver."""


def _all_ops() -> dict[str, tuple[OpTable, Op]]:
    ops: dict[str, tuple[OpTable, Op]] = {}
    for table in TABLES:
        for name, op in table.ops.items():
            if name in ops:
                raise ValueError(f"op {name!r} is declared in {ops[name][0].module} and in {table.module}")
            ops[name] = (table, op)
    return ops


OPS: Mapping[str, tuple[OpTable, Op]] = MappingProxyType(_all_ops())
"""Every op by name: its table (driver) and its declaration."""


def run_op(
    name: str, inputs: Sequence[np.ndarray], indptr: np.ndarray, params: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Run op ``name`` on the grouped ``inputs`` (the op's inputs in order, each aligned with ``indptr``).

    ``params`` by name; omitted ones (or ``None``) take their defaults. Raises ``TypeError``/``ValueError`` for a bad
    layout, an unknown op or parameter, and :class:`~.params.ParamError` (a ``ValueError``) for a bad value.
    """
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}")
    table, op = OPS[name]
    if len(inputs) != len(op.inputs):
        raise TypeError(f"{name} takes {len(op.inputs)} input array(s) ({', '.join(op.inputs)}), got {len(inputs)}")
    for values in inputs:
        check_layout(values, indptr)
    given = params or {}
    if not given.keys() <= op.param_names:
        unknown = sorted(set(given) - op.param_names)
        raise TypeError(f"{name}: unknown parameter(s) {unknown}; allowed: {[p.name for p in op.params]}")
    packed = op.packed(resolve(op.params, given))
    y = inputs[1] if len(inputs) > 1 else None
    return run(table.driver, table.codes[name], inputs[0], y, indptr, packed)


def ewm_alpha(half_life: float) -> float:
    """Smoothing factor for a half-life in periods: ``α = 1 − 0.5^(1 / half_life)`` (as Polars/pandas)."""
    return 1.0 - decay_factor(half_life)


def decay_factor(half_life: float) -> float:
    """Per-period decay for a half-life in periods: ``λ = 0.5^(1 / half_life)``, so ``λ^half_life = 0.5``."""
    return 0.5 ** (1.0 / resolve((HALF_LIFE,), {HALF_LIFE.name: half_life})[HALF_LIFE.name])


# --- generated entry points ---------------------------------------------------------------------------------


def _entry_point(name: str) -> Callable[..., np.ndarray]:
    """``grouped_<name>``: positional or keyword arguments as in the signature, then :func:`run_op`."""
    op = OPS[name][1]
    arrays = [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=np.ndarray) for a in op.inputs]
    arrays.append(inspect.Parameter("indptr", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=np.ndarray))
    params = [_signature_param(p) for p in op.params]
    signature = inspect.Signature([*arrays, *params], return_annotation=np.ndarray)
    names = tuple(signature.parameters)
    required = len(arrays) + sum(p.required for p in op.params)  # required parameters come first

    def entry(*args: Any, **kwargs: Any) -> np.ndarray:
        if kwargs or not required <= len(args) <= len(names):
            bound = signature.bind(*args, **kwargs).arguments  # Python's own binding and errors
        else:
            bound = dict(zip(names, args, strict=False))  # positional: the common case, 2 µs faster
        given = {p.name: bound[p.name] for p in op.params if p.name in bound}
        return run_op(name, [bound[a] for a in op.inputs], bound["indptr"], given)

    entry.__name__ = entry.__qualname__ = f"grouped_{name}"
    entry.__module__ = __name__
    entry.__doc__ = op.doc
    entry.__signature__ = signature  # type: ignore[attr-defined]
    entry.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {"return": np.ndarray}
    return entry


def _signature_param(p: Param) -> inspect.Parameter:
    kind = {"float": float, "int": int}.get(p.kind, str)
    if p.required:
        return inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind)
    default = None if isinstance(p.default, Derived) else p.default
    annotation = kind | None if default is None else kind
    return inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


ENTRY_POINTS: Mapping[str, Callable[..., np.ndarray]] = MappingProxyType(
    {f"grouped_{name}": _entry_point(name) for name in OPS}
)
"""``grouped_<name>`` → entry point, for every op (also module attributes here and in the package)."""

globals().update(ENTRY_POINTS)
__all__ += ["ENTRY_POINTS", *ENTRY_POINTS]
