"""Exponential-smoothing models on statsmodels: ETS with automatic selection by AICc, and the Theta method."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from forecast.models.base import Forecaster, Prediction, gaussian_intervals
from forecast.models.common import CONFIG, Deseasonalized, clamp_intervals, m4_deseasonalize, quiet

if TYPE_CHECKING:
    from forecast.models.ets_fit import EtsFit, EtsStructure

# -- ETS -------------------------------------------------------------------------------------------------------
_COMPONENT = {"A": "add", "M": "mul", "N": None}


class EtsConfig(BaseModel):
    """Parameters of :class:`Ets`.

    ``model`` is three letters as in statsforecast's ``AutoETS``: error ``A``/``M``/``Z``, trend ``N``/``A``/``Z``,
    season ``N``/``A``/``M``/``Z``; ``Z`` lets AICc choose. ``damped`` None tries both damped and undamped
    trends, True/False forces it. Seasonal components need ``season_length`` ≥ 2.
    """

    model_config = CONFIG
    model: str = Field(default="ZZZ", description="error, trend, season letters (Z = select by AICc)")
    season_length: StrictInt = Field(default=1, ge=1, description="m: periods per season")
    damped: StrictBool | None = None
    initialization: Literal["estimated", "heuristic"] = Field(
        default="estimated",
        description="initial states: estimated by maximum likelihood, or statsmodels' heuristic (faster for large m)",
    )
    maxiter: StrictInt = Field(default=1000, ge=1)
    backend: Literal["numba", "statsmodels"] = Field(
        default="numba",
        description="likelihood and optimiser: the numba kernels (same fit as statsmodels, faster) or statsmodels",
    )
    simulate_repetitions: StrictInt = Field(default=500, ge=50, description="paths for simulated intervals")
    seed: StrictInt = 0

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        ok = len(value) == 3 and value[0] in "AMZ" and value[1] in "NAZ" and value[2] in "NAMZ"
        if not ok:
            raise ValueError(
                f"expected error [AMZ], trend [NAZ], season [NAMZ] letters such as 'ANA' or 'ZZZ', got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_combination(self) -> EtsConfig:
        if self.model[2] in "AM" and self.season_length < 2:
            raise ValueError(f"season_length: a seasonal model {self.model!r} needs season_length >= 2")
        if self.model[1] == "N" and self.damped:
            raise ValueError(f"damped: model {self.model!r} has no trend to damp")
        return self


@dataclass(frozen=True)
class EtsSpec:
    """One ETS structure: statsmodels' component names."""

    error: str
    trend: str | None
    damped: bool
    seasonal: str | None

    @property
    def label(self) -> str:
        """Short name, e.g. ``AAdM``."""
        letter = {"add": "A", "mul": "M", None: "N"}
        return letter[self.error] + letter[self.trend] + ("d" if self.damped else "") + letter[self.seasonal]

    def n_params(self, m: int) -> int:
        """Smoothing parameters plus initial states (the count AICc's small-sample check uses)."""
        k = 2 + (2 if self.trend else 0) + (1 if self.damped else 0)
        return k + (m if self.seasonal else 0)


def ets_candidates(cfg: EtsConfig, y: np.ndarray) -> list[EtsSpec]:
    """The ETS structures to try: the config's letters, minus what the data cannot support.

    Multiplicative components need y > 0; seasonal ones need two full seasons; additive error with
    multiplicative season is skipped when selecting (numerically unstable, as statsforecast restricts it);
    structures with more parameters than n − 4 are skipped. An explicit letter the data cannot support raises.
    """
    e, t, s = cfg.model
    m, n = cfg.season_length, y.size
    positive = bool(np.min(y) > 0)
    if "M" in (e, s) and not positive:
        raise ValueError(f"ETS {cfg.model!r}: multiplicative components need y > 0")
    enough_seasons = m >= 2 and n >= 2 * m + 2
    if s in "AM" and not enough_seasons:
        raise ValueError(f"ETS {cfg.model!r}: a seasonal model needs at least {2 * m + 2} observations, got {n}")
    errors = ["add", "mul"] if e == "Z" else [_COMPONENT[e]]
    errors = [x for x in errors if x == "add" or positive]
    damp = [False, True] if cfg.damped is None else [cfg.damped]
    trends = [(None, False)] if t in "NZ" else []
    if t in "AZ":
        trends += [("add", d) for d in damp]
    seasons: list[str | None] = [_COMPONENT[s]] if s != "Z" else [None]
    if s == "Z" and enough_seasons:
        seasons += ["add", "mul"] if positive else ["add"]
    out = []
    for err in errors:
        for trend, damped in trends:
            for season in seasons:
                if e == "Z" and err == "add" and season == "mul":
                    continue
                spec = EtsSpec(err, trend, damped, season)
                if spec.n_params(m) < n - 4:
                    out.append(spec)
    if not out:
        raise ValueError(f"ETS {cfg.model!r}: series of {n} observations too short for any candidate structure")
    return out


class Ets(Forecaster):
    """ETS state-space exponential smoothing (statsmodels' ``ETSModel``), the structure chosen by AICc.

    Every candidate of :func:`ets_candidates` is fitted by maximum likelihood; the smallest finite AICc wins
    (``spec_`` names it, e.g. ``AAdA``; ``aicc_`` maps each tried structure to its AICc or the error it raised;
    AICc as ``ETSResults.aicc``, k = smoothing parameters + initial states + 1).

    Fitting (``backend``): ``"numba"`` (default) sets up statsmodels' problem — parameters, bounds, start values,
    L-BFGS-B settings — and evaluates the likelihood and its forward-difference gradient in numba kernels
    (:mod:`~.ets_fit`, :mod:`~.ets_kernels`): the same parameters and log-likelihood as ``ETSModel.fit`` to the
    last bit, 8–12× faster with estimated initial states. ``"statsmodels"`` calls ``ETSModel.fit`` itself; it is
    also used when numba is switched off (``GRIDCAST_NO_NUMBA=1``). The point forecast is computed from the final
    states (``(ℓ + φ_h·b) ∘ s``, equal to ``ETSResults.forecast``); the statsmodels results object (whose
    constructor computes a numerical Hessian the forecast never uses) is built only when intervals are asked
    for: statsmodels' ``get_prediction`` at the fitted parameters (closed form for all-additive models,
    ``simulate_repetitions`` simulated paths seeded with ``seed`` otherwise). Raises when no candidate can be
    fitted.
    """

    name: ClassVar[str] = "ets"
    tags: ClassVar[dict[str, bool]] = {"exogenous": False, "intervals": True, "seasonality": True, "missing": False}
    config_cls = EtsConfig
    config: EtsConfig

    def _model(self, y: Any, spec: EtsSpec) -> Any:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        return ETSModel(
            y,
            error=spec.error,
            trend=spec.trend,
            damped_trend=spec.damped,
            seasonal=spec.seasonal,
            seasonal_periods=self.config.season_length if spec.seasonal else None,
            initialization_method=self.config.initialization,
        )

    @property
    def backend_(self) -> str:
        """The fitting path in use: ``numba``, or ``statsmodels`` (asked for, or numba switched off)."""
        from forecast.models.ets_kernels import NUMBA_ENABLED

        return "numba" if self.config.backend == "numba" and NUMBA_ENABLED else "statsmodels"

    def _fit_one(self, y: np.ndarray, spec: EtsSpec) -> EtsFit:
        """Maximum likelihood for one structure, on the numba kernels or in statsmodels."""
        from forecast.models.ets_fit import EtsFit, fit_ets

        st = self._structure(spec)
        if self.backend_ == "numba":
            return fit_ets(y, st, self.config.maxiter)
        m = st.m
        mod = self._model(y, spec)
        params = np.asarray(mod.fit(disp=False, maxiter=self.config.maxiter, return_params=True), dtype=float)
        _, states = mod.smooth(params, return_raw=True)
        states = np.asarray(states, dtype=np.float64)
        season = states[-m:, mod._seasonal_index].copy() if spec.seasonal else None
        trend = float(states[-1, 1]) if spec.trend else 0.0
        return EtsFit(params, float(mod.loglike(params)), float(states[-1, 0]), trend, season, True, "", 0)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        from statsmodels.tools.eval_measures import aicc

        best: tuple[float, EtsSpec, EtsFit] | None = None
        self.aicc_: dict[str, float | str] = {}
        errors = []
        for spec in ets_candidates(self.config, y):
            try:
                with quiet(self.fit_warnings_):
                    fit = self._fit_one(y, spec)
                    for category, note in fit.warnings:
                        warnings.warn(note, category, stacklevel=1)
                    score = float(aicc(fit.loglike, y.size, fit.params.size + 1))  # ETSResults: df_model = k + 1
            except Exception as exc:  # a candidate that cannot be fitted is skipped, and said so
                self.aicc_[spec.label] = f"{type(exc).__name__}: {exc}"
                errors.append(self.aicc_[spec.label])
                continue
            self.aicc_[spec.label] = score
            if np.isfinite(score) and (best is None or score < best[0]):
                best = (score, spec, fit)
        if best is None:
            raise ValueError(f"ETS: no candidate could be fitted ({'; '.join(map(str, errors)) or 'non-finite AICc'})")
        _, self.spec_, fit = best
        self._params = fit.params
        self.params_ = dict(zip(self._structure(self.spec_).param_names, self._params.tolist(), strict=True))
        self.loglike_ = fit.loglike
        self._level, self._slope, self._season = fit.level, fit.trend, fit.season
        self._y = y

    def _structure(self, spec: EtsSpec) -> EtsStructure:
        from forecast.models.ets_fit import EtsStructure

        m = self.config.season_length if spec.seasonal else 1
        estimated = self.config.initialization == "estimated"
        return EtsStructure(spec.error, spec.trend, spec.damped, spec.seasonal, m, estimated)

    def point_forecast(self, h: int) -> np.ndarray:
        """ŷ[T+j] = (ℓ_T + φ_j·b_T) + s_{T+j−m} (additive season) or × s (multiplicative); φ_j = Σ_{i≤j} φ^i."""
        steps = np.arange(1, h + 1, dtype=np.float64)
        phi = self.params_.get("damping_trend", 1.0)
        damp = np.cumsum(phi**steps) if self.spec_.damped else steps
        out = self._level + damp * self._slope
        if self._season is not None:
            s = self._season[np.arange(h) % self._season.size]
            out = out + s if self.spec_.seasonal == "add" else out * s
        return out

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        mean = self.point_forecast(h)
        lower: dict[int, np.ndarray] = {}
        upper: dict[int, np.ndarray] = {}
        if level:
            import pandas as pd

            n = self.n_obs_
            with quiet(self.fit_warnings_):
                # statsmodels' simulated intervals need a pandas index: rebuild on a Series, same parameters
                res = self._model(pd.Series(self._y), self.spec_).smooth(self._params)
                pred = res.get_prediction(
                    start=n,
                    end=n + h - 1,
                    simulate_repetitions=self.config.simulate_repetitions,
                    rng=np.random.default_rng(self.config.seed),
                )
                for lv in level:
                    pi = np.asarray(pred.pred_int(alpha=1.0 - lv / 100.0), dtype=np.float64)
                    lower[lv], upper[lv] = pi[:, 0], pi[:, 1]
        lower, upper = clamp_intervals(mean, lower, upper)
        return Prediction(mean, lower, upper)


# -- Theta -----------------------------------------------------------------------------------------------------
class ThetaConfig(BaseModel):
    """Parameters of :class:`Theta`."""

    model_config = CONFIG
    season_length: StrictInt = Field(default=1, ge=1, description="m for the seasonality test and decomposition")
    theta: float = Field(default=2.0, ge=1.0, description="weight of the trend line (2 = the classic Theta method)")
    deseasonalize: StrictBool = True
    use_mle: StrictBool = False
    backend: Literal["numba", "statsmodels"] = Field(
        default="numba",
        description="two-step fit (use_mle=False): the numba kernels (statsmodels' estimates, faster) or statsmodels",
    )


class Theta(Forecaster):
    """statsmodels ``ThetaModel`` (Hyndman & Billah's SES-with-drift form) with M4's deseasonalisation.

    The series is deseasonalised as in M4 (90 % ACF test at lag m, classical multiplicative decomposition: the
    same code as :class:`~forecast.models.baselines.Naive2`), the Theta model is fitted to the adjusted series x,
    and the forecast is multiplied by the continued indices. ``seasonal_`` tells whether the test fired.

    Fit (``params_``: ``b0``, ``alpha``): with ``use_mle=False`` (the default) statsmodels' two-step estimates,
    b0 the OLS slope of x on t and α the SES smoothing level that minimises the one-step squared errors from
    ℓ₋₁ = x₀; ``backend="numba"`` (default) computes them in :mod:`~.theta_fit` (the same objective, start,
    L-BFGS-B steps and stopping rules as ``ThetaModel(x, deseasonalize=False).fit()``, about 700× faster; α
    agrees to ~1e-10), ``"statsmodels"`` calls ``ThetaModel`` itself, as does ``use_mle=True`` (an ARIMA(0,1,1)
    with drift by maximum likelihood) and a run with numba switched off (``GRIDCAST_NO_NUMBA=1``). The forecast
    is x̂_{n+h} = ℓ_n + w·b0·(h − 1 + 1/α − (1 − α)^n/α), w = 1 − 1/θ, ℓ_n the last SES level.

    Intervals: the theta forecast is SES with drift, i.e. an IMA(1,1) with MA coefficient α − 1, whose h-step
    variance is ``σ²·(1 + (h − 1)·α²)``; σ² is the mean squared in-sample one-step error of the adjusted series
    (SES level plus the asymptotic drift ``w·b0/α``). statsmodels' own ``prediction_intervals`` fits an extra
    SARIMAX(0,1,1) for σ² (seconds per series) and uses ``1 + (h − 1)(1 + (α − 1)²)``, which is not the IMA(1,1)
    variance; hence our own. Bounds are multiplied by the indices like the forecast.
    """

    name: ClassVar[str] = "theta"
    tags: ClassVar[dict[str, bool]] = {"exogenous": False, "intervals": True, "seasonality": True, "missing": False}
    config_cls = ThetaConfig
    config: ThetaConfig

    @property
    def backend_(self) -> str:
        """The fitting path in use: ``numba``, or ``statsmodels`` (asked for, ``use_mle``, or numba switched off)."""
        from forecast.models.theta_fit import NUMBA_ENABLED

        numba = self.config.backend == "numba" and not self.config.use_mle and NUMBA_ENABLED
        return "numba" if numba else "statsmodels"

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        from forecast.models.theta_fit import fit_theta, ses_drift_sigma

        cfg = self.config
        if y.size < 4:
            raise ValueError(f"Theta needs at least 4 observations, got {y.size}")
        if cfg.deseasonalize:
            self.decomposition_ = m4_deseasonalize(y, cfg.season_length)
        else:
            self.decomposition_ = Deseasonalized(y, np.ones(1), False)
        x = self.decomposition_.adjusted
        self._result: Any = None
        with quiet(self.fit_warnings_):
            if self.backend_ == "numba":
                self._result = fit_theta(x)
                self.params_ = {"b0": self._result.b0, "alpha": self._result.alpha}
                if not self._result.converged:  # what statsmodels says then
                    from statsmodels.tools.sm_exceptions import ConvergenceWarning

                    msg = "Maximum Likelihood optimization failed to converge. Check mle_retvals"
                    warnings.warn(msg, ConvergenceWarning, stacklevel=1)
            else:
                from statsmodels.tsa.forecasting.theta import ThetaModel

                self._result = ThetaModel(x, deseasonalize=False).fit(use_mle=cfg.use_mle)
                self.params_ = {k: float(v) for k, v in self._result.params.items()}
        alpha, b0 = self.params_["alpha"], self.params_["b0"]
        drift = (1.0 - 1.0 / cfg.theta) * b0 / max(alpha, 1e-8)
        self.sigma_ = ses_drift_sigma(x, alpha, drift)

    @property
    def seasonal_(self) -> bool:
        """Whether the series was deseasonalised."""
        return self.decomposition_.seasonal

    def _predict(self, h: int, X_future: np.ndarray | None, level: tuple[int, ...]) -> Prediction:
        back, n = self.decomposition_.reseasonalize, self.n_obs_
        with quiet(self.fit_warnings_):
            mean_adj = np.asarray(self._result.forecast(h, theta=self.config.theta), dtype=np.float64)
        alpha = self.params_["alpha"]
        sigma_h = self.sigma_ * np.sqrt(1.0 + np.arange(h) * alpha**2)
        lower, upper = gaussian_intervals(mean_adj, sigma_h, level)
        return Prediction(
            back(mean_adj, n), {k: back(v, n) for k, v in lower.items()}, {k: back(v, n) for k, v in upper.items()}
        )
