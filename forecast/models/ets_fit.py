"""Maximum-likelihood ETS on the numba kernels of :mod:`~.ets_kernels`: statsmodels' ``ETSModel.fit``, faster.

The problem is set up exactly as ``ETSModel.fit`` sets it up (statsmodels 0.14–0.15), so the result is the same
to the last bit on the same data:

- **parameters** in statsmodels' internal layout ``[α, β, γ, φ, ℓ₋₁, b₋₁, s₋₁ … s₋ₘ]``; the optimiser sees
  β* = β/α and γ* = γ/(1 − α) in the places of β and γ, so the usual region is a box:
  1e-4 ≤ α, β*, γ* ≤ 1 − 1e-4, 0.8 ≤ φ ≤ 0.98, initial states free, s₋ₘ fixed at 0 (additive season) or 1
  (multiplicative) so the seasonal states are identified; absent components are fixed (β = γ = 0, φ = 1);
  with ``initialization="heuristic"`` every initial state is fixed at statsmodels' heuristic;
- **start values** α = 0.1, β = 0.01, γ = 0.01, φ = 0.98 and statsmodels' heuristic initial states (its
  ``_initialization_heuristic``, or ``_initialization_simple`` below 10 + 2⌊m/2⌋ observations), the seasonal
  ones normalised by the last and placed in statsmodels' order (see :func:`start_params`);
- **objective** −log L / n (see :mod:`~.ets_kernels`) minimised by scipy's L-BFGS-B (m = 10, factr = 1e7,
  pgtol = 1e-5, ``maxiter``) with a forward-difference gradient whose steps are scipy's ``approx_derivative``
  steps; statsmodels lets scipy take them one Python call at a time (k + 1 likelihoods in Python and Cython
  per gradient), here one kernel call computes the k + 1 rows and numpy reduces them, once per L-BFGS-B step,
  and scipy's compiled L-BFGS-B step is driven without its Python wrappers (:func:`minimize_lbfgsb`). The
  evaluation budget is scipy's 15,000 function calls as scipy counts them under ``approx_grad``,
  ⌊15000/(k + 1)⌋ value-and-gradient calls.

:func:`fit_ets` returns the parameters in statsmodels' external order (``ETSModel.param_names``), so
``ETSModel(...).smooth(params)`` rebuilds the statsmodels results (used for prediction intervals), the
log-likelihood ``ETSModel.loglike`` gives at them and the final states.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from forecast.models import ets_kernels as kern

_SMOOTHING = ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")
_START = {"smoothing_level": 0.1, "smoothing_trend": 0.01, "smoothing_seasonal": 0.01, "damping_trend": 0.98}


@dataclass(frozen=True)
class EtsStructure:
    """One ETS model in statsmodels' terms (additive or no trend: the structures :class:`~.smoothing.Ets` tries)."""

    error: str  # "add" | "mul"
    trend: str | None  # "add" | None
    damped: bool
    seasonal: str | None  # "add" | "mul" | None
    m: int  # season length (1 without season)
    estimated: bool  # initial states estimated (else statsmodels' heuristic, fixed)

    @property
    def param_names(self) -> list[str]:
        """``ETSModel.param_names``: smoothing parameters, then the initial states when estimated."""
        names = ["smoothing_level"]
        names += ["smoothing_trend"] if self.trend else []
        names += ["smoothing_seasonal"] if self.seasonal else []
        names += ["damping_trend"] if self.damped else []
        if self.estimated:
            names += ["initial_level"] + (["initial_trend"] if self.trend else [])
            names += [f"initial_seasonal.{i}" for i in range(self.m)] if self.seasonal else []
        return names

    @property
    def internal_index(self) -> dict[str, int]:
        """Position of each statsmodels parameter name in the internal vector."""
        names = [*_SMOOTHING, "initial_level", "initial_trend"] + [f"initial_seasonal.{i}" for i in range(self.m)]
        return {name: i for i, name in enumerate(names)}


@dataclass
class EtsFit:
    """A fitted structure: external parameters, log-likelihood there, final states, optimiser report."""

    params: np.ndarray
    loglike: float
    level: float
    trend: float
    season: np.ndarray | None  # the last m seasonal states, oldest first
    converged: bool
    message: str
    nit: int
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)  # to re-raise where it is used


@dataclass(frozen=True)
class InitialStates:
    """statsmodels' heuristic initial states of a series (start values, or fixed under ``heuristic``)."""

    level: float
    trend: float
    season: np.ndarray  # heuristic order (first season position first); [0.0] without season


def initial_states(y: np.ndarray, st: EtsStructure) -> InitialStates:
    """statsmodels' heuristic initial states (raises as ``ETSModel`` does when the series is too short)."""
    from statsmodels.tsa.exponential_smoothing.initialization import (
        _initialization_heuristic,
        _initialization_simple,
    )

    fn = _initialization_heuristic
    if st.estimated and y.size < 10 + 2 * (st.m // 2):
        fn = _initialization_simple
    level, trend, season = fn(y, trend=st.trend, seasonal=st.seasonal, seasonal_periods=st.m)
    return InitialStates(
        level, trend if st.trend else 0.0, np.asarray(season, dtype=np.float64) if st.seasonal else np.zeros(1)
    )


def internal_params(params: np.ndarray, st: EtsStructure, init: InitialStates) -> np.ndarray:
    """External parameters → the internal vector (``ETSModel._internal_params``)."""
    out = np.zeros(6 + st.m)
    idx = st.internal_index
    for i, name in enumerate(st.param_names):
        out[idx[name]] = params[i]
    if not st.damped:
        out[3] = 1.0
    if not st.estimated:
        out[4], out[5] = init.level, init.trend
        out[6:] = init.season[::-1] if st.seasonal else 0.0
    return out


def start_params(st: EtsStructure, init: InitialStates) -> np.ndarray:
    """The start values ``ETSModel.fit`` uses: default smoothing values, the heuristic initial states with the
    seasonal ones normalised by the last (s − s[−1], or s / s[−1]), the level as it is.

    (``ETSModel._start_params`` would also shift the level by s[−1], but ``fit`` evaluates the property twice —
    ``hasattr`` in ``start_params``, then the return — and the first call has normalised the seasonal starts in
    place, so the shift it applies is by 0 or × 1. We reproduce what it does.)
    """
    names = st.param_names
    params = [_START[p] for p in _SMOOTHING if p in names]
    if st.estimated:
        params.append(init.level)
        params += [init.trend] if st.trend else []
        if st.seasonal:
            season = init.season.copy()
            season = season / season[-1] if st.seasonal == "mul" else season - season[-1]
            params += season.tolist()
    return np.array(params)


def _bounds(st: EtsStructure, internal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ETSModel._setup_bounds`` after ``_convert_and_bound_start_params``: absent parameters fixed at their
    start values, the last seasonal state fixed when the initial states are estimated."""
    k = internal.size
    lb, ub = np.full(k, 1e-4), np.full(k, 1 - 1e-4)
    lb[3], ub[3] = 0.8, 0.98
    if st.estimated:
        lb[4:-1], ub[4:-1] = -np.inf, np.inf
        lb[-1] = ub[-1] = 1.0 if st.seasonal == "mul" else 0.0
    present = set(st.param_names)
    for name, i in st.internal_index.items():
        if name not in present:
            lb[i] = ub[i] = internal[i]
    return lb, ub


def loglike(y: np.ndarray, full: np.ndarray, st: EtsStructure) -> tuple[float, float, float, np.ndarray]:
    """log L at the internal parameters ``full`` (``ETSModel.loglike``, numpy doing the reductions) and the final
    states ℓ_T, b_T and the last m seasonal states, oldest first (``ETSModel.smooth``)."""
    n, m = y.size, st.m
    sq, absfit = np.empty((1, n)), np.ones((1, n))
    level, trend, season = np.empty(1), np.empty(1), np.empty((1, m))
    mul_season, mul_error = st.seasonal == "mul", st.error == "mul"
    kern.ets_rows(full[None, :], False, False, y, m, mul_season, mul_error, sq, absfit, level, trend, season)
    last = season[0, (n + np.arange(m)) % m]
    return float(_loglike_rows(sq, absfit, n, mul_error)[0]), float(level[0]), float(trend[0]), last


def _loglike_rows(sq: np.ndarray, absfit: np.ndarray, n: int, mul_error: bool) -> np.ndarray:
    """log L of each row: −n/2 (log(2π mean(e²)) + 1) − [M] Σ log|ŷ| (statsmodels' expression, op for op;
    ``np.add.reduce`` along a row is what ``np.mean``/``np.sum`` run, pairwise summation, minus their wrappers)."""
    out = -n / 2 * (np.log(2 * np.pi * (np.add.reduce(sq, axis=1) / n)) + 1)
    if mul_error:
        out -= np.add.reduce(np.log(absfit), axis=1)
    return out


def fit_ets(y: np.ndarray, st: EtsStructure, maxiter: int = 1000) -> EtsFit:
    """Maximum likelihood for one structure; raises ``ValueError`` where ``ETSModel`` would."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    init = initial_states(y, st)
    internal0 = internal_params(start_params(st, init), st, init)
    lb, ub = _bounds(st, internal0)
    fixed = lb == ub
    internal0[fixed] = lb[fixed]  # statsmodels' fixed values; scipy clips the free ones into their box
    star = ("smoothing_trend" in st.param_names, "smoothing_seasonal" in st.param_names)
    if star[0]:
        internal0[1] /= internal0[0]
    if star[1]:
        internal0[2] /= 1 - internal0[0]
    free = np.flatnonzero(~fixed)
    n, k = y.size, free.size
    mul_season, mul_error = st.seasonal == "mul", st.error == "mul"
    sq, absfit, dx = np.empty((k + 1, n)), np.ones((k + 1, n)), np.empty(k)
    args = (lb[free], ub[free], free, internal0, *star, y, st.m, mul_season, mul_error, sq, absfit, dx)

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        kern.forward_difference_rows(np.ascontiguousarray(x), *args)
        f = -_loglike_rows(sq, absfit, n, mul_error) / n
        return f[0], (f[1:] - f[0]) / dx

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, info = minimize_lbfgsb(value_and_gradient, internal0[free], lb[free], ub[free], maxiter, 15000 // (k + 1))
    fitted = internal0.copy()
    fitted[free] = x
    if star[0]:
        fitted[1] *= fitted[0]
    if star[1]:
        fitted[2] *= 1 - fitted[0]
    idx = st.internal_index
    params = np.array([fitted[idx[name]] for name in st.param_names])
    return _finish(y, st, init, params, info, [(w.category, str(w.message)) for w in caught])


def _finish(
    y: np.ndarray, st: EtsStructure, init: InitialStates, params: np.ndarray, info: dict, notes: list
) -> EtsFit:
    """Log-likelihood and final states at the external parameters, as ``ETSModel.loglike``/``smooth`` give."""
    ll, level, trend, season = loglike(y, internal_params(params, st, init), st)
    converged = info["warnflag"] == 0
    if not converged:  # statsmodels' warning
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        notes = [*notes, (ConvergenceWarning, "Maximum Likelihood optimization failed to converge. Check mle_retvals")]
    last = season if st.seasonal else None
    return EtsFit(params, ll, level, trend, last, converged, str(info["task"]), int(info["nit"]), notes)


# -- L-BFGS-B ----------------------------------------------------------------------------------------------------
_SETULB = "setulb(m,x,l,u,nbd,f,g,factr,pgtol,wa,iwa,task,lsave,isave,dsave,maxls,ln_task)"  # scipy 1.15-1.17


@cache
def direct_lbfgsb() -> bool:
    """Whether scipy's compiled ``setulb`` has the interface :func:`_setulb_loop` drives (scipy ≥ 1.15)."""
    try:
        from scipy.optimize import _lbfgsb
    except ImportError:  # pragma: no cover - a scipy without it
        return False
    return (getattr(_lbfgsb.setulb, "__doc__", None) or "").startswith(_SETULB)


def minimize_lbfgsb(
    fg: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    maxiter: int,
    maxfun: int,
    *,
    direct: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """L-BFGS-B (m = 10, factr = 1e7, pgtol = 1e-5, maxls = 20) on ``fg`` (x ↦ (f, ∇f)) within [lb, ub].

    ``direct`` runs scipy's own loop around its compiled ``setulb`` — the iterates and stopping rules of
    ``fmin_l_bfgs_b`` without its Python wrappers (``ScalarFunction``, ``MemoizeJac``: about 40 % of a fit
    here) — when that private interface is the one known (:func:`direct_lbfgsb`), else ``fmin_l_bfgs_b``. Both
    give the same iterates (``tests/test_ets_kernels.py``). Returns x and ``{"warnflag", "task", "nit"}``.
    """
    if direct and direct_lbfgsb():
        return _setulb_loop(fg, x0, lb, ub, maxiter, maxfun)
    from scipy.optimize import fmin_l_bfgs_b

    x, _, info = fmin_l_bfgs_b(fg, x0, bounds=list(zip(lb, ub, strict=True)), maxfun=maxfun, maxiter=maxiter)
    return x, info


def _setulb_loop(
    fg: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    maxiter: int,
    maxfun: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``scipy.optimize._lbfgsb_py._minimize_lbfgsb``'s loop (scipy 1.15–1.17), function evaluations counted and
    cached as its ``ScalarFunction`` does (a repeated x is not evaluated again)."""
    from scipy.optimize import _lbfgsb

    m, n = 10, x0.size
    x = np.clip(np.array(x0, dtype=np.float64), lb, ub)
    finite_lb, finite_ub = np.isfinite(lb), np.isfinite(ub)
    nbd = np.where(finite_lb, np.where(finite_ub, 2, 1), np.where(finite_ub, 3, 0)).astype(np.int32)
    low, up = np.where(finite_lb, lb, 0.0), np.where(finite_ub, ub, 0.0)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m)
    iwa, task, ln_task = np.zeros(3 * n, np.int32), np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29)
    f, g = fg(x)
    at, nfev, nit = x.copy(), 1, 0
    while True:
        _lbfgsb.setulb(m, x, low, up, nbd, f, g, 1e7, 1e-5, wa, iwa, task, lsave, isave, dsave, 20, ln_task)
        if task[0] == 3:  # f and g wanted at x
            if not np.array_equal(x, at):
                f, g = fg(x)
                at, nfev = x.copy(), nfev + 1
        elif task[0] == 1:  # a new iterate
            nit += 1
            if nit >= maxiter:
                task[:] = 5, 504
            elif nfev > maxfun:
                task[:] = 5, 502
        else:
            break
    warnflag = 0 if task[0] == 4 else 1 if (nfev > maxfun or nit >= maxiter) else 2
    return x, {"warnflag": warnflag, "task": f"L-BFGS-B task {task[0]}.{task[1]}", "nit": nit}
