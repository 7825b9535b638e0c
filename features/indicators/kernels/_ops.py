"""Op tables: each kernel module declares its operations in one table, and the rest derives from it.

An :class:`Op` is one operation callable from Python: its name (entry point ``grouped_<name>``), its array inputs,
its parameters (:class:`~.params.Param`: type, default, check, examples), how the validated parameters are packed
into the driver's float64 vector ``p``, and its **call**: the statement(s) that run it on one group, written over
the group's slices ``x``, ``y`` (``y`` is ``x`` for one-input ops), ``out`` and the vector ``p``, e.g.
``"rolling_std_1d(x, int(p[0]), int(p[1]), out)"``. Ops with the same call share one branch and differ by a flag
in ``p`` (rolling min/max, burst/freeze–thaw counts, the two cold-spell ops): one kernel body, compiled once.

An op whose kernel is one long dependency chain per period (a running sum, a recursion) may also declare a **pair**
call: an expression over two groups of the same length at once (``x``, ``y``, ``out`` and ``x2``, ``y2``,
``out2``) that assumes no NaN and returns a bit mask of the groups it could not finish (bit 0: the first, bit 1:
the second; a NaN met). The driver walks such an op's groups in order, pairs each with the next when both have the
same length (series on one calendar grid), runs the op's call on every group left alone or named by the mask, so
the results are the call's, exactly. Two independent chains in one loop overlap in the CPU: about twice the
throughput of one, measured.

From a module's :class:`OpTable` derive:

- the op codes: the position of each distinct call in the table (``table.codes``);
- the driver (:meth:`OpTable.compile_driver`): generated source, one loop over pairs of groups per op with a pair
  call, then a plain chain ``if op == 0: <call 0> elif op == 1: <call 1> …`` inside the group loop for the other
  ops, i.e. what a hand-written driver would be, compiled once with the one signature
  of :mod:`~._run`. Its code object names the module's own file, so numba's disk cache is keyed to that file's
  content (kernels and table together), and a digest of the generated source is part of its qualified name, so a
  change to this generator recompiles too. Every name a call uses must be a module-level name (checked at import);
- the entry points, ``run_op`` and the warm-up calls (:mod:`~features.indicators.kernels.api`).

Why source and not functions: a kernel passed to one generic driver as a first-class function argument is typed by
identity and misses the disk cache in every new process (numba 0.68); and a call wrapped in a small inlined function
per op costs another inlining level (measured: +0.3 s to compile the window driver, +11 % for the set).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from features.indicators.kernels._jit import driver
from features.indicators.kernels.params import Param

_GROUP_NAMES = frozenset({"x", "y", "p", "out", "x2", "y2", "out2"})
_BLOCK = 4096
"""Rows per block of an elementwise driver."""
_COUNT_NAN = """\
{indent}if nans == 0:
{indent}    done = out_all[a:{stop}]
{indent}    for i in range(done.size):
{indent}        nans += np.int64(done[i] != done[i])
"""
"""After each group, pair or block, while its output is in cache: count the NaN written, until the first (a
vectorised pass: a slice and an explicit int64, 3x faster than a bool sum over ``out_all``; 1–2 ms per 10M rows).
The driver returns whether it wrote none, so the result can go to Polars without another scan of it for NaN
(:func:`~._run.nan_free`: about 6 ms per 10M rows saved). Called with ``~op`` (negative) it counts nothing and
returns ``False``: callers that need no report skip the pass."""


@dataclass(frozen=True)
class Op:
    """One operation of a kernel module (see the module docstring).

    ``pack(**params)`` gives the driver's parameter vector from the validated parameters (default: their values in
    order, as floats); at most :data:`~._run.N_PARAMS` numbers. ``doc`` is the entry point's docstring. ``pair``:
    the optional two-group fast path (an expression returning the bit mask of groups left to ``call``).
    """

    name: str
    call: str
    params: tuple[Param, ...] = ()
    inputs: tuple[str, ...] = ("values",)
    pack: Callable[..., Sequence[float]] | None = None
    doc: str = ""
    pair: str | None = None

    @cached_property
    def param_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params)

    def packed(self, values: Mapping[str, Any]) -> tuple[float, ...]:
        """The driver's parameters for validated ``values`` (parameter name → value)."""
        if self.pack is None:
            return tuple(float(values[p.name]) for p in self.params)
        return tuple(float(v) for v in self.pack(**values))


class OpTable:
    """The ops of one kernel module (``module``: its ``__name__``), in order; ``per_group=False`` for elementwise
    ops, whose driver runs over the groups' whole row range in blocks of :data:`_BLOCK` rows, not group by group."""

    def __init__(self, module: str, ops: Sequence[Op], *, per_group: bool = True) -> None:
        self.module = module
        self.shape = module.rsplit(".", 1)[-1]
        self.per_group = per_group
        self.ops: dict[str, Op] = {}
        for op in ops:
            if op.name in self.ops:
                raise ValueError(f"{module}: op {op.name!r} declared twice")
            self.ops[op.name] = op
        keys = [(textwrap.dedent(op.call).strip(), op.pair and op.pair.strip()) for op in ops]
        distinct = list(dict.fromkeys(keys))
        self.calls: tuple[str, ...] = tuple(call for call, _ in distinct)
        self.pairs: tuple[str | None, ...] = tuple(pair for _, pair in distinct)
        """Per op code: its call, and its pair call (or ``None``)."""
        self.codes: dict[str, int] = {op.name: distinct.index(key) for op, key in zip(ops, keys, strict=True)}
        """The driver's op code of each op: the position of its (call, pair call) among the table's distinct ones."""
        if not per_group and any(self.pairs):
            raise ValueError(f"{module}: pair calls need per-group drivers")
        self.driver: Callable[..., bool] = _not_compiled

    def code(self, name: str) -> int:
        """The driver's op code of ``name`` (see :attr:`codes`)."""
        return self.codes[name]

    def source(self) -> str:
        """The driver's source: per op with a pair call, a loop over pairs of groups (the pair call, then the op's
        call on each group it leaves); then the group loop (sliced once per group) with one ``if op == code`` branch
        per other call. After each group, pair or block, the NaN written are counted (:data:`_COUNT_NAN`)."""
        lines = [f"def {self.shape}_driver(op, x_all, y_all, indptr, g0, g1, p, out_all):"]
        for code, (call, pair) in enumerate(zip(self.calls, self.pairs, strict=True)):
            if pair is None:
                continue
            lines += [
                f"    if op == {code}:",
                "        g = g0",
                "        while g < g1:",
                "            a, b = indptr[g], indptr[g + 1]",
                "            c = indptr[g + 2] if g + 2 <= g1 else -1",
                "            x, y, out = x_all[a:b], y_all[a:b], out_all[a:b]",
                "            x2, y2, out2 = x_all[b:c], y_all[b:c], out_all[b:c]",
                "            left = 1",
                "            g += 1",
                "            e = b",
                "            if c - b == b - a:",
                f"                left = {pair}",
                "                g += 1",
                "                e = c",
                "            for k in range(2):",
                "                if left >> k & 1:",
                "                    if k == 1:",
                "                        x, y, out = x2, y2, out2",
                *(f"                    {line}" for line in call.splitlines()),
                *_COUNT_NAN.format(indent=" " * 12, stop="e").splitlines(),
                "        return nans == 0",
            ]
        if self.per_group:
            lines += ["    for g in range(g0, g1):", "        a, b = indptr[g], indptr[g + 1]"]
            indent = " " * 8
        else:  # elementwise: the groups' whole row range, in blocks (each checked for NaN while in cache)
            lines += [
                f"    for a in range(indptr[g0], indptr[g1], {_BLOCK}):",
                f"        b = min(a + {_BLOCK}, indptr[g1])",
            ]
            indent = " " * 8
        lines.append(f"{indent}x, y, out = x_all[a:b], y_all[a:b], out_all[a:b]")
        single = [(code, call) for code, call in enumerate(self.calls) if self.pairs[code] is None]
        for i, (code, call) in enumerate(single):
            lines.append(f"{indent}{'if' if i == 0 else 'elif'} op == {code}:")
            lines += [f"{indent}    {line}" for line in call.splitlines()]
        lines += [*_COUNT_NAN.format(indent=indent, stop="b").splitlines(), "    return nans == 0"]
        lines[1:1] = ["    nans = 0 if op >= 0 else 1  # ~op: no NaN count wanted", "    op = op if op >= 0 else ~op"]
        return "\n".join(lines) + "\n"

    def compile_driver(self) -> Callable[..., bool]:
        """Define the driver in the module (from :meth:`source`) and decorate it (numba, or plain Python)."""
        namespace = sys.modules[self.module].__dict__
        for name, op in self.ops.items():
            for node in ast.walk(ast.parse(textwrap.dedent(op.call) + "\n" + (op.pair or "").strip())):
                if isinstance(node, ast.Name) and not (
                    node.id in _GROUP_NAMES or node.id in namespace or hasattr(builtins, node.id)
                ):
                    raise ValueError(f"{self.module}: the call of op {name!r} uses {node.id!r}, not a module name")
        source = self.source()
        exec(compile(source, namespace["__file__"], "exec"), namespace)  # source built above from the table
        fn = namespace.pop(f"{self.shape}_driver")
        fn.__qualname__ = f"{fn.__name__}_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
        codes = "; ".join(f"{code}: {name}" for name, code in self.codes.items())
        fn.__doc__ = f"Run {self.shape} op ``op`` on groups ``g0 .. g1 − 1`` (generated from the op table; {codes})."
        self.driver = driver(fn)
        return self.driver


def _not_compiled(*args: Any) -> bool:
    raise RuntimeError("the op table's driver is not compiled yet (OpTable.compile_driver)")
