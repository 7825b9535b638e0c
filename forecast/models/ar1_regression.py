"""Exact maximum likelihood of a regression with AR(1) errors: what ``SARIMAX(order=(1, 0, 0), trend="c" or "n")``
fits, without a numerical optimiser over every parameter.

The model (statsmodels' parametrisation, the intercept in the state)::

    y_t = x_t·β + u_t,   u_t = c + φ·u_{t−1} + e_t,   e_t ~ N(0, σ²),   |φ| < 1,   u stationary at the start

so ``u_t`` has mean μ = c / (1 − φ). Write ``y_t = z_t·γ + w_t`` with ``z_t = (1, x_t)``, ``γ = (μ, β)`` and ``w`` a
zero-mean AR(1). For a fixed φ the exact Gaussian likelihood of the observed ``y`` (missing ones skipped, as the
Kalman filter does) is that of an ordinary regression on transformed rows (Prais–Winsten, with gaps): the first
observed row is multiplied by √(1 − φ²), and a row observed ``k`` periods after the previous observed one becomes
``(r_t − φᵏ·r_s) / √v_k`` with ``v_k = (1 − φ²ᵏ) / (1 − φ²)``. So γ(φ) is least squares, σ²(φ) = SSR / n, and the
log-likelihood concentrated in φ alone is::

    ℓ(φ) = −n/2·(log 2π + log(SSR(φ)/n) + 1) + ½·log(1 − φ²) − ½·Σ log v_k

:func:`fit_ar1_regression` maximises ℓ over φ ∈ (−1, 1): a grid of 41 points, then bounded Brent in the bracket of
the best one. Its estimates are the exact MLE; statsmodels' L-BFGS with numerical gradients reaches the same optimum
to its tolerance (``tests/test_ar1_regression.py`` compares the two log-likelihoods and parameters), 20–50 times
more slowly. With ``trend="n"`` there is no intercept column (μ = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from forecast.models.ets_kernels import jit

PHI_BOUND = 0.9999  # |φ| at most this: stationarity, as statsmodels' enforce_stationarity transform keeps it inside
GRID = np.linspace(-0.98, 0.98, 41)


@jit
def profile_loglike(phi: float, y: np.ndarray, Z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray, float]:
    """``(ℓ(φ), γ(φ), SSR(φ))`` for the observed rows ``t`` (positions, increasing) of ``y`` and ``Z`` (module
    docstring)."""
    n, m = t.size, Z.shape[1]
    yt = np.empty(n)
    zt = np.empty((n, m))
    a0 = math.sqrt(1.0 - phi * phi)
    yt[0] = a0 * y[t[0]]
    for j in range(m):
        zt[0, j] = a0 * Z[t[0], j]
    log_v = 0.0
    for i in range(1, n):
        k = t[i] - t[i - 1]
        pk = phi**k
        v = 1.0 if k == 1 else (1.0 - pk * pk) / (1.0 - phi * phi)
        s = 1.0 / math.sqrt(v)
        log_v += math.log(v)
        yt[i] = (y[t[i]] - pk * y[t[i - 1]]) * s
        for j in range(m):
            zt[i, j] = (Z[t[i], j] - pk * Z[t[i - 1], j]) * s
    if m > 0:
        gamma = np.linalg.lstsq(zt, yt)[0]
        resid = yt - zt @ gamma
    else:
        gamma = np.empty(0)
        resid = yt
    ssr = float(resid @ resid)
    llf = -0.5 * n * (math.log(2.0 * math.pi) + math.log(ssr / n) + 1.0) + 0.5 * math.log(1.0 - phi * phi)
    return llf - 0.5 * log_v, gamma, ssr


@dataclass(frozen=True)
class Ar1Fit:
    """The exact MLE: ``phi``, ``intercept`` (c = μ·(1 − φ); 0 without one), ``beta`` (regressors), ``sigma2``
    (SSR / n) and the log-likelihood ``llf``."""

    phi: float
    intercept: float
    beta: np.ndarray
    sigma2: float
    llf: float


def fit_ar1_regression(y: np.ndarray, X: np.ndarray | None, *, intercept: bool) -> Ar1Fit:
    """Exact MLE of ``y_t = x_t·β + u_t``, ``u_t = c + φ·u_{t−1} + e_t`` (module docstring). ``y`` may hold NaN
    (skipped); ``X`` is ``(n, k)`` or None. Raises ValueError with fewer observed values than parameters + 1."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    cols = [np.ones((y.size, 1))] if intercept else []
    if X is not None:
        cols.append(np.asarray(X, dtype=np.float64).reshape(y.size, -1))
    Z = np.ascontiguousarray(np.hstack(cols)) if cols else np.empty((y.size, 0))
    t = np.flatnonzero(~np.isnan(y)).astype(np.int64)
    if t.size < Z.shape[1] + 2:
        raise ValueError(f"AR(1) regression: {t.size} observed values for {Z.shape[1] + 2} parameters")

    def negative(phi: float) -> float:
        return -profile_loglike(phi, y, Z, t)[0]

    values = np.array([negative(p) for p in GRID])
    best = int(np.argmin(values))
    lo = GRID[best - 1] if best > 0 else -PHI_BOUND
    hi = GRID[best + 1] if best < GRID.size - 1 else PHI_BOUND
    found = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    phi = float(found.x) if found.fun <= values[best] else float(GRID[best])
    llf, gamma, ssr = profile_loglike(phi, y, Z, t)
    mu = float(gamma[0]) if intercept else 0.0
    beta = np.asarray(gamma[1:] if intercept else gamma, dtype=np.float64)
    return Ar1Fit(phi, mu * (1.0 - phi), beta, ssr / t.size, float(llf))


@dataclass(frozen=True)
class Ar1State:
    """A fitted AR(1) regression at the end of a history: ``u_last`` = y_s − x_s·β at the last observed period s,
    ``since`` = periods from s to the end of the history (0 when the last period is observed)."""

    fit: Ar1Fit
    u_last: float
    since: int

    @classmethod
    def at_end(cls, fit: Ar1Fit, y: np.ndarray, X: np.ndarray | None) -> Ar1State:
        """The state after filtering ``y`` (NaN = missing) with ``fit``'s parameters: the AR(1) error is observed
        exactly wherever ``y`` is (no measurement noise), so only the last observed period matters."""
        seen = np.flatnonzero(~np.isnan(y))
        if seen.size == 0:
            raise ValueError("AR(1) regression: no observed value to filter")
        s = int(seen[-1])
        xb = 0.0 if X is None else float(np.asarray(X, dtype=np.float64).reshape(y.size, -1)[s] @ fit.beta)
        return cls(fit, float(y[s]) - xb, y.size - 1 - s)

    def forecast(self, h: int, X_future: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of y at the next ``h`` periods (the Kalman filter's forecast, in closed
        form): with d = since + j, ``E = x·β + μ + φᵈ·(u_last − μ)`` and ``Var = σ²·(1 − φ²ᵈ) / (1 − φ²)``, μ =
        c / (1 − φ)."""
        f = self.fit
        phi, mu = f.phi, f.intercept / (1.0 - f.phi)
        power = phi ** (self.since + np.arange(1, h + 1, dtype=np.float64))
        xb = np.zeros(h) if X_future is None else np.asarray(X_future, dtype=np.float64).reshape(h, -1) @ f.beta
        mean = xb + mu + power * (self.u_last - mu)
        var = f.sigma2 * (1.0 - power * power) / (1.0 - phi * phi)
        return mean, np.sqrt(var)
