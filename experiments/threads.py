"""One BLAS thread per ``gridcast`` process, set before numpy loads (imported first by :mod:`experiments.cli`).

A job fits many small statsmodels models one after another; each optimiser step makes tiny BLAS calls, and
OpenBLAS hands every one of them to a second thread. On a 2-core machine shared with other work that made the
dnipro backtest job 2–6× slower (81 s → 40 s and 125 s → 22 s, alternating in one run with a load of 6–8; the
outputs byte-identical). Parallel work comes from processes over series, not BLAS threads. A value the user
set in the environment wins (``OPENBLAS_NUM_THREADS=2 gridcast …``). Importing :mod:`experiments` as a library
does not run this: a library leaves its host's threads alone.
"""

from __future__ import annotations

import os

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

for _var in BLAS_VARIABLES:
    os.environ.setdefault(_var, "1")
