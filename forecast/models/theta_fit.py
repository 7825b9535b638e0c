"""The Theta method's two-step fit (statsmodels' ``ThetaModel.fit(use_mle=False)``) in numba kernels.

statsmodels (0.15) fits the Theta model (Hyndman & Billah's SES with drift) on a series x_0 … x_{n−1} in two
steps, which are reproduced here step for step:

- **drift** b0: the slope of the least-squares line x_t ≈ a0 + b0·t, t = 0 … n − 1 (statsmodels: ``lstsq`` on a
  constant and a trend), in closed form

      b0 = Σ (t − t̄)(x_t − x̄) / Σ (t − t̄)²;

- **smoothing** α: ``ExponentialSmoothing(x, initial_level=x_0, initialization_method="known").fit()``, a
  state-space SES whose level starts at ℓ_{−1} = x_0 (so the first error is 0). Its Kalman filter is the SES
  recursion e_t = x_t − ℓ_{t−1}, ℓ_t = ℓ_{t−1} + α·e_t, and with the scale concentrated out the objective the
  optimiser minimises is the average negative log-likelihood

      f = −log L / n = ½·(log 2π + 1) + ½·log(SSE(α)/n),      SSE(α) = Σ_t e_t²,

  in the unconstrained coordinate u, α = 1e-4 + (1 − 2e-4)·σ(u), σ the logistic function (statsmodels' bounds
  [1e-4, 1 − 1e-4] and its transform), from α = 0.1. statsmodels hands it to scipy's L-BFGS-B (m = 10,
  factr = 1e7, pgtol = 1e-5, ``maxiter`` 50, at most 20 line-search steps) with a forward-difference gradient of
  step 1e-5 (``approx_grad``): g = (f(u + h) − f(u)) / ((u + h) − u).

  With one unbounded variable L-BFGS-B reduces to this (:func:`_lbfgsb`): the first step goes along −g (the
  generalised Cauchy point of B = I), each later one to the Newton point u − g/θ of its quasi-Newton model, whose
  curvature θ = y²/(s·y) = y/s is the secant of the last accepted step (the compact L-BFGS matrix collapses to
  its θ in one dimension); each step is a Moré–Thuente line search (MINPACK-2 ``dcsrch``: ftol = 1e-3,
  gtol = 0.9, xtol = 0.1, first trial step 1/|d| on the first iteration, else 1); it stops when |g| ≤ 1e-5, when
  the decrease f_k − f_{k+1} ≤ factr·ε·max(|f_k|, |f_{k+1}|, 1), after 50 iterations, or when a line search
  fails from B = I (one that fails from a quasi-Newton step is retried from B = I; the previous iterate is kept,
  as scipy does). Same objective, start, steps and stopping rules: against scipy's compiled L-BFGS-B on this
  objective the iterates agree to rounding (median |Δα| 1e-16). statsmodels evaluates the likelihood through its
  Kalman filter, whose gain (α(1 − α) + α²)/F equals α only to rounding; the forward difference magnifies that
  to ~1e-11 in g, so α differs from statsmodels' by a median 1.5e-10 (99.9 % below 7e-9, max 1.1e-6 where the
  two runs fall on either side of the pgtol test; 20,000 benchmark series), b0 by ~1e-16.

The forecast (``ThetaModelResults.forecast``), w = (θ − 1)/θ the weight of the trend line:

    x̂_{n+h} = ℓ_{n−1} + w·b0·(h − 1 + 1/α − (1 − α)^n / α),      h = 1, 2, …

A constant series has SSE = 0 for every α: the optimiser is not started (α stays at 0.1, ``converged`` False,
as statsmodels ends) and b0 = 0 (statsmodels' ``add_trend`` takes the constant series for its own constant column
and returns a meaningless slope there; here the forecast is the constant).

Compiled with ``njit(cache=True, nogil=True)``; every jitted function lives in this file (numba invalidates a
cached function only when its own file changes). ``GRIDCAST_NO_NUMBA=1`` leaves them plain Python
(:data:`~.ets_kernels.NUMBA_ENABLED`), and :class:`~.smoothing.Theta` then fits through statsmodels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecast.models.ets_kernels import NUMBA_ENABLED, jit

__all__ = ["NUMBA_ENABLED", "ThetaFit", "fit_theta", "ses_drift_sigma", "ses_sse", "theta_forecast", "theta_sigma"]

LOWER, UPPER = 1e-4, 1.0 - 1e-4  # statsmodels' bounds on α
START_ALPHA = 0.1
FD_STEP = 1e-5  # statsmodels' epsilon for L-BFGS-B's forward differences
PGTOL, FACTR, MAXITER, MAXLS = 1e-5, 1e7, 50, 20  # scipy's L-BFGS-B defaults as statsmodels calls it
FTOL, GTOL, XTOL, STPMAX = 1e-3, 0.9, 0.1, 1e10  # L-BFGS-B's line search (dcsrch) settings
EPSMCH = 2.220446049250313e-16
HALF_LOG_2PI_E = 0.5 * (math.log(2.0 * math.pi) + 1.0)

# stopping reasons (``ThetaFit.status``); scipy's warnflag is 0 for the first two
CONV_GRAD, CONV_F, MAX_ITER, ABNORMAL, FLAT = 0, 1, 2, 3, 4
STATUS = {
    CONV_GRAD: "converged: |projected gradient| <= pgtol",
    CONV_F: "converged: relative reduction of f <= factr*epsmch",
    MAX_ITER: "stopped: iteration limit reached",
    ABNORMAL: "abnormal termination in the line search",
    FLAT: "not started: the sum of squared errors is 0 or not finite (a constant series)",
}


# -- kernels -----------------------------------------------------------------------------------------------------
@jit
def ses_sse(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """SES from ℓ_{−1} = x_0: returns (Σ e_t², ℓ_{n−1}), e_t = x_t − ℓ_{t−1}, ℓ_t = ℓ_{t−1} + α·e_t."""
    level = x[0]
    sse = 0.0
    for t in range(x.shape[0]):
        e = x[t] - level
        sse += e * e
        level = level + alpha * e
    return sse, level


@jit
def _alpha(u: float) -> float:
    """α = 1e-4 + (1 − 2e-4)·σ(u), statsmodels' ``transform_params`` for the smoothing level."""
    return 1.0 / (1.0 + math.exp(-u)) * (UPPER - LOWER) + LOWER


@jit
def _objective(x: np.ndarray, u: float) -> float:
    """f(u) = ½·(log 2π + 1) + ½·log(SSE(α(u))/n) (−log L / n, scale concentrated out)."""
    sse, _ = ses_sse(x, _alpha(u))
    return HALF_LOG_2PI_E + 0.5 * math.log(sse / x.shape[0]) if sse > 0.0 else -math.inf


@jit
def _value_grad(x: np.ndarray, u: float) -> tuple[float, float]:
    """f(u) and scipy's forward difference (f(u + h) − f(u)) / ((u + h) − u), h = 1e-5."""
    f = _objective(x, u)
    up = u + FD_STEP
    return f, (_objective(x, up) - f) / (up - u)


@jit
def _dcstep(
    stx: float, fx: float, dx: float, sty: float, fy: float, dy: float, stp: float, fp: float, dp: float,
    brackt: bool, stpmin: float, stpmax: float,
) -> tuple[float, float, float, float, float, float, float, bool]:  # fmt: skip
    """MINPACK-2's safeguarded step (Moré & Thuente 1994): a cubic or quadratic interpolant's minimiser of the
    interval [stx, sty] and the trial stp, kept inside the bracket; returns the updated interval, step, bracket."""
    sgnd = dp * (dx / abs(dx))
    if fp > fx:  # higher function value: the minimum is bracketed
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p, q = (gamma - dx) + theta, ((gamma - dx) + gamma) + dp
        stpc = stx + p / q * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) <= abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:  # derivatives of opposite sign: bracketed
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p, q = (gamma - dp) + theta, ((gamma - dp) + gamma) + dx
        stpc = stp + p / q * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):  # same sign, the derivative decreases in magnitude
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt(max(0.0, (theta / s) ** 2 - (dx / s) * (dp / s)))
        if stp > stx:
            gamma = -gamma
        p, q = (gamma - dp) + theta, (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            far = stp + 0.66 * (sty - stp)  # do not go past 0.66 of the way to sty
            stpf = min(far, stpf) if stp > stx else max(far, stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = min(stpmax, max(stpmin, stpf))
    elif brackt:  # same sign, the derivative does not decrease: cubic towards sty
        theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
        s = max(abs(theta), abs(dy), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
        if stp > sty:
            gamma = -gamma
        p, q = (gamma - dp) + theta, ((gamma - dp) + gamma) + dy
        stpf = stp + p / q * (sty - stp)
    else:
        stpf = stpmax if stp > stx else stpmin
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0.0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


@jit
def _line_search(
    x: np.ndarray, u: float, z: float, d: float, f: float, gd0: float, stp: float
) -> tuple[bool, float, float, float, float]:
    """L-BFGS-B's ``lnsrlb`` + ``dcsrch`` along d from u (z = u + d is taken as is at stp = 1): a step with
    f ≤ f₀ + ftol·stp·f′₀ and |f′| ≤ gtol·|f′₀| (f′ = g·d), or a dcsrch warning, ends it; returns
    (found, stp, u_new, f_new, g_new). Not found after 20 evaluations (or a non-finite value): (False, …)."""
    brackt, stage = False, 1
    finit, ginit = f, gd0
    gtest = FTOL * ginit
    width = STPMAX
    width1 = width / 0.5
    stx, fx, gx, sty, fy, gy = 0.0, finit, ginit, 0.0, finit, ginit
    stmin, stmax = 0.0, stp + 4.0 * stp
    for _ in range(MAXLS):
        un = z if stp == 1.0 else stp * d + u
        fn, gn = _value_grad(x, un)
        if not (math.isfinite(fn) and math.isfinite(gn)):
            return False, stp, un, fn, gn
        g = gn * d
        ftest = finit + stp * gtest
        if stage == 1 and fn <= ftest and g >= 0.0:
            stage = 2
        done = (brackt and (stp <= stmin or stp >= stmax)) or (brackt and stmax - stmin <= XTOL * stmax)
        done = done or (stp == STPMAX and fn <= ftest and g <= gtest) or (stp == 0.0 and (fn > ftest or g >= gtest))
        if done or (fn <= ftest and abs(g) <= GTOL * -ginit):
            return True, stp, un, fn, gn
        if stage == 1 and fn <= fx and fn > ftest:  # the modified function ψ(stp) = f − stp·gtest
            stx, fxm, gxm, sty, fym, gym, stp, brackt = _dcstep(
                stx, fx - stx * gtest, gx - gtest, sty, fy - sty * gtest, gy - gtest, stp, fn - stp * gtest,
                g - gtest, brackt, stmin, stmax,
            )  # fmt: skip
            fx, fy, gx, gy = fxm + stx * gtest, fym + sty * gtest, gxm + gtest, gym + gtest
        else:
            stx, fx, gx, sty, fy, gy, stp, brackt = _dcstep(stx, fx, gx, sty, fy, gy, stp, fn, g, brackt, stmin, stmax)
        if brackt:
            if abs(sty - stx) >= 0.66 * width1:
                stp = stx + 0.5 * (sty - stx)
            width1 = width
            width = abs(sty - stx)
            stmin, stmax = min(stx, sty), max(stx, sty)
        else:
            stmin, stmax = stp + 1.1 * (stp - stx), stp + 4.0 * (stp - stx)
        stp = min(STPMAX, max(0.0, stp))
        if (brackt and (stp <= stmin or stp >= stmax)) or (brackt and stmax - stmin <= XTOL * stmax):
            stp = stx
    return False, stp, u, f, gd0


@jit
def _lbfgsb(x: np.ndarray, u: float, maxiter: int) -> tuple[float, int, int]:
    """scipy's L-BFGS-B on the one unbounded variable u (module docstring); returns (u, iterations, status)."""
    f, g = _value_grad(x, u)
    if not (math.isfinite(f) and math.isfinite(g)):
        return u, 0, FLAT
    if abs(g) <= PGTOL:
        return u, 0, CONV_GRAD
    theta, col, it = 1.0, 0, 0
    while True:
        z = u - g if col == 0 else u + -g * (1.0 / theta)  # Cauchy point of θ = 1, else the Newton point
        d = z - u
        stp = min(1.0 / abs(d), STPMAX) if it == 0 else 1.0
        gd = g * d
        found, un, fn, gn = False, u, f, g
        if gd < 0.0:
            found, stp, un, fn, gn = _line_search(x, u, z, d, f, gd, stp)
        if not found:  # keep the previous iterate; restart from B = I once, else give up
            if col == 0:
                return u, it + 1, ABNORMAL
            theta, col = 1.0, 0
            continue
        it += 1
        fold, gold, u, f, g = f, g, un, fn, gn
        if it >= maxiter:
            return u, it, MAX_ITER
        if abs(g) <= PGTOL:
            return u, it, CONV_GRAD
        if fold - f <= FACTR * EPSMCH * max(abs(fold), abs(f), 1.0):
            return u, it, CONV_F
        y = g - gold
        if stp == 1.0:
            dr, ddum = (g * d) - gd, -gd
        else:
            dr, ddum = ((g * d) - gd) * stp, -gd * stp
        if dr > EPSMCH * ddum:  # curvature condition: update the quasi-Newton model, else skip
            theta, col = (y * y) / dr, min(col + 1, 10)


@jit
def _fit_kernel(x: np.ndarray, maxiter: int) -> tuple[float, float, float, int, int]:
    """(α, b0, ℓ_{n−1}, iterations, status) for the series x (module docstring)."""
    n = x.shape[0]
    tbar = 0.5 * (n - 1)
    xbar = 0.0
    for t in range(n):
        xbar += x[t]
    xbar /= n
    sxy, sxx = 0.0, 0.0
    for t in range(n):
        dt = t - tbar
        sxy += dt * (x[t] - xbar)
        sxx += dt * dt
    b0 = sxy / sxx if sxx > 0.0 else 0.0
    p = (START_ALPHA - LOWER) / (UPPER - LOWER)
    u, nit, status = _lbfgsb(x, math.log(p / (1.0 - p)), maxiter)
    alpha = _alpha(u)
    if status == FLAT:
        alpha = START_ALPHA
    _, level = ses_sse(x, alpha)
    return alpha, b0, level, nit, status


@jit
def theta_forecast(level: float, alpha: float, b0: float, n: int, weight: float, h: int) -> np.ndarray:
    """x̂_{n+j} = ℓ_{n−1} + w·b0·(j − 1 + 1/α − (1 − α)^n/α), j = 1 … h (w = (θ − 1)/θ), as statsmodels."""
    shift = 1.0 / alpha - ((1.0 - alpha) ** float(n) / alpha) if alpha > 0.0 else 0.0
    out = np.empty(h)
    for j in range(h):
        out[j] = weight * (b0 * (j + shift)) + level
    return out


@jit
def theta_sigma(x: np.ndarray, alpha: float, drift: float) -> float:
    """σ = sqrt(mean_{t ≥ 1} (x_t − ℓ_{t−1} − drift)²): the one-step errors of SES plus a constant drift."""
    n = x.shape[0]
    level = x[0]
    acc = 0.0
    for t in range(1, n):
        level_prev = level
        level = alpha * x[t] + (1.0 - alpha) * level
        e = x[t] - level_prev - drift
        acc += e * e
    return math.sqrt(acc / (n - 1)) if n > 1 else 0.0


# -- Python side -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThetaFit:
    """The two-step Theta fit of one series: ``alpha``, ``b0``, the last SES level ``level`` (the one-step
    forecast ℓ_{n−1}), ``n`` observations, the optimiser's ``nit`` and ``status`` (see :data:`STATUS`)."""

    alpha: float
    b0: float
    level: float
    n: int
    nit: int
    status: int

    @property
    def converged(self) -> bool:
        """Whether L-BFGS-B stopped on a convergence test (statsmodels warns otherwise)."""
        return self.status in (CONV_GRAD, CONV_F)

    def forecast(self, h: int, theta: float = 2.0) -> np.ndarray:
        """The h-step forecast for the theta line weight ``theta`` (≥ 1), as ``ThetaModelResults.forecast``."""
        weight = (theta - 1.0) / theta if theta < 4.0 / EPSMCH else 1.0
        return theta_forecast(self.level, self.alpha, self.b0, self.n, weight, int(h))


def _kernel_input(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous, writeable float64 array (copied only if it is not one), so the kernels see one
    array type: a read-only view (a zero-copy Polars column) would compile and cache a second specialisation."""
    return np.require(x, dtype=np.float64, requirements=["C", "W"])


def fit_theta(x: np.ndarray, maxiter: int = MAXITER) -> ThetaFit:
    """Fit b0 and α to ``x`` (1-D, finite, n ≥ 2) as ``ThetaModel(x, deseasonalize=False).fit()`` does."""
    arr = _kernel_input(x)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"fit_theta: expected a 1-D series of at least 2 values, got shape {arr.shape}")
    alpha, b0, level, nit, status = _fit_kernel(arr, int(maxiter))
    return ThetaFit(float(alpha), float(b0), float(level), int(arr.size), int(nit), int(status))


def ses_drift_sigma(x: np.ndarray, alpha: float, drift: float) -> float:
    """σ of :func:`theta_sigma` for any 1-D float array ``x``."""
    return float(theta_sigma(_kernel_input(x), float(alpha), float(drift)))
