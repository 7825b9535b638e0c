"""The numba switch: decorators for kernels and drivers, or identities under ``GRIDCAST_NO_NUMBA=1``.

``GRIDCAST_NO_NUMBA`` is read once, at import. When it is set to anything but ``""``/``"0"``, numba is not imported
at all and the very same kernel source runs as plain Python (slowly, with the same numbers).

- ``kernel``: ``njit(cache=True, nogil=True, inline="always")``. A 1-D kernel is inlined (at numba IR level) into the
  driver of its shape, so it is compiled once, as part of that driver, instead of once per caller and signature;
  on this project's 2-core machine that halves whole-set compile time (measured: 0.25 s per separately compiled
  kernel against about 0.12 s inlined). A kernel called directly from Python still works (it compiles alone).
- ``fast_path``: ``njit(cache=True, nogil=True)``, not inlined: the pair kernels and the NaN-free fast paths (see
  :mod:`~._ops`), each compiled once on its own and called by its driver or kernel. Measured on this machine,
  inlining them cost about 0.1 s more compile each for the same speed (they are larger than the kernels, and numba
  types an inlined body anew at each call site).
- ``driver``: ``njit(cache=True, nogil=True)``. One driver per shape; ``nogil`` lets
  :mod:`~._run` run chunks of groups in Python threads in parallel, which gives the speed-up of
  ``prange`` without ``parallel=True``'s compile cost (about 1 s extra per driver here) and threading-layer start-up.

Cache caveat (numba): the on-disk cache of a driver is invalidated when *its own source file* changes, not when a
function it calls from another file changes. Every shape module therefore holds its kernels and its driver together
and calls nothing jitted from elsewhere; the driver is generated from the module's op table but compiled as the
module's own code (see :mod:`~._ops`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

NUMBA_ENABLED: bool = os.environ.get("GRIDCAST_NO_NUMBA", "").strip() in ("", "0")

if NUMBA_ENABLED:
    from numba import njit

    kernel = njit(cache=True, nogil=True, inline="always")
    fast_path = driver = njit(cache=True, nogil=True)
else:  # pragma: no cover - exercised in a subprocess by tests/test_kernels_runtime.py

    def _identity(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    kernel = fast_path = driver = _identity
