"""The settings of a forecast, in one frozen object passed whole.

:class:`ForecastSettings` holds everything that is the same for every series of a forecast or backtest: the grid
(``freq``, ``season_length``), the target's ``bounds`` and the ``transform`` each model is fitted under, the
``fallback`` model, the inputs handed to the models (``exog``), what the output reports (interval ``levels``,
``quantiles``, exceedance ``thresholds``), where the intervals come from (``intervals``: ``"model"``, each model's
own, or ``"conformal"``, calibrated on the backtest by :mod:`forecast.calibration` over the last
``calibration_windows`` windows on the ``calibration_scale``, with ``calibration_score`` ``"absolute"`` residuals per
step or ``"normalised"`` ones divided by the model's own interval width and pooled over steps), the rolling-origin
:class:`BacktestPlan`, and ``model_time_limit``, the seconds each model may spend fitting and predicting one series
before that series falls back (:mod:`forecast.timeout`; default 60, None or 0: no limit).
:func:`forecast.core.forecast_frame` and :func:`forecast.backtest.backtest` take it instead of a dozen keyword
arguments; ``experiments`` builds it once from a spec (``experiments.inputs.settings``). Everything is validated
on construction, so a bad value fails where it is made.

``to_dict``/``from_dict`` give a JSON-friendly form (a logged MLflow model stores its settings so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from features.contract import Bounds, freq_step
from forecast.models.base import check_h
from forecast.output.bounds import Transform, TransformLike, resolve_transforms
from forecast.output.quantiles import check_quantiles, check_thresholds
from forecast.output.request import OutputRequest, check_levels
from forecast.timeout import check_time_limit

INTERVAL_SOURCES = ("model", "conformal")
DEFAULT_TIME_LIMIT_S = 60.0
"""Seconds per model and series (fit and predictions): ~25x the slowest median fit measured on 900 daily periods
(ETS ZZZ with estimated initial states, 2.5 s; ``benchmarks/results/models.json``)."""
CALIBRATION_SCALES = ("auto", "model", "none", "log1p", "logit")
CALIBRATION_SCORES = ("absolute", "normalised")


def _positive_int(value: Any, key: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        none = "None or " if allow_none else ""
        raise ValueError(f"{key}: expected {none}an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class BacktestPlan:
    """A rolling-origin schedule: ``n_windows`` windows of ``h`` periods, ``step`` apart (default ``h``).

    ``input_size`` None trains on an expanding window; an integer keeps the last ``input_size`` rows. Models are
    refitted every ``refit_every`` windows and updated in between (see :mod:`forecast.backtest`).
    """

    h: int
    n_windows: int = 3
    step: int | None = None
    input_size: int | None = None
    refit_every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "h", check_h(self.h))
        object.__setattr__(self, "n_windows", _positive_int(self.n_windows, "n_windows"))
        object.__setattr__(self, "step", _positive_int(self.step, "step", allow_none=True))
        object.__setattr__(self, "input_size", _positive_int(self.input_size, "input_size", allow_none=True))
        object.__setattr__(self, "refit_every", _positive_int(self.refit_every, "refit_every"))

    @property
    def stride(self) -> int:
        """Periods between two cutoffs: ``step``, or ``h`` when not given (kept unresolved, so a plan copied with
        another ``h`` keeps adjacent windows)."""
        return self.h if self.step is None else self.step

    def required_length(self, min_train: int) -> int:
        """Periods a series needs: ``min_train`` before the first cutoff plus every test period."""
        return min_train + self.h + self.stride * (self.n_windows - 1)


@dataclass(frozen=True)
class ForecastSettings:
    """Everything a forecast or backtest needs besides the data and the models (see the module docstring).

    ``transform`` is one of ``"none"``, ``"log1p"``, ``"logit"``, a :class:`~forecast.output.bounds.Transform`, or
    a mapping model name → one of these (models not named: ``"none"``). ``fallback`` is a registry name or None.
    """

    freq: str = "1d"
    season_length: int = 7
    bounds: Bounds | None = None
    transform: TransformLike | Mapping[str, TransformLike] = "none"
    fallback: str | None = "seasonal_naive"
    exog: tuple[str, ...] = ()
    levels: tuple[int, ...] = (80, 95)
    quantiles: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()
    intervals: str = "model"
    calibration_windows: int | None = 4
    calibration_scale: str = "auto"
    calibration_score: str = "absolute"
    backtest: BacktestPlan | None = field(default=None)
    model_time_limit: float | None = DEFAULT_TIME_LIMIT_S

    def __hash__(self) -> int:
        transform = self.transform
        if isinstance(transform, Mapping):
            transform = tuple(sorted((k, repr(v)) for k, v in transform.items()))
        fields = (self.freq, self.season_length, self.bounds, self.fallback, self.exog, self.levels)
        calibration = (self.intervals, self.calibration_windows, self.calibration_scale, self.calibration_score)
        limits = (self.backtest, self.model_time_limit)
        return hash((*fields, self.quantiles, self.thresholds, *calibration, *limits, repr(transform)))

    def __post_init__(self) -> None:
        freq_step(self.freq)
        _positive_int(self.season_length, "season_length")
        set_ = object.__setattr__
        set_(self, "exog", tuple(self.exog))
        set_(self, "levels", check_levels(self.levels))
        set_(self, "quantiles", check_quantiles(self.quantiles))
        set_(self, "thresholds", check_thresholds(self.thresholds))
        if isinstance(self.transform, Mapping):
            set_(self, "transform", dict(self.transform))
        if self.intervals not in INTERVAL_SOURCES:
            raise ValueError(f"intervals: expected one of {', '.join(INTERVAL_SOURCES)}, got {self.intervals!r}")
        windows = _positive_int(self.calibration_windows, "calibration_windows", allow_none=True)
        set_(self, "calibration_windows", windows)
        if self.calibration_scale not in CALIBRATION_SCALES:
            raise ValueError(
                f"calibration_scale: expected one of {', '.join(CALIBRATION_SCALES)}, got {self.calibration_scale!r}"
            )
        if self.calibration_score not in CALIBRATION_SCORES:
            raise ValueError(
                f"calibration_score: expected one of {', '.join(CALIBRATION_SCORES)}, got {self.calibration_score!r}"
            )
        if self.bounds is None:
            set_(self, "bounds", Bounds())
        set_(self, "model_time_limit", check_time_limit(self.model_time_limit))

    @property
    def request(self) -> OutputRequest:
        """What the output reports: levels, quantiles, thresholds."""
        return OutputRequest(self.levels, self.quantiles, self.thresholds)

    def transforms(self, names: Sequence[str]) -> dict[str, Transform]:
        """One :class:`~forecast.output.bounds.Transform` per model name, with the target's bounds."""
        return resolve_transforms(self.transform, list(names), self.bounds)

    def replace(self, **changes: Any) -> ForecastSettings:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (transforms by name; a Transform instance cannot be serialised)."""
        transform = self.transform
        if isinstance(transform, Transform) or (
            isinstance(transform, Mapping) and any(isinstance(t, Transform) for t in transform.values())
        ):
            raise TypeError("to_dict: transforms must be given by name to be serialised")
        out = asdict(self)
        assert self.bounds is not None
        out["bounds"] = [self.bounds.lower, self.bounds.upper]
        for key in ("exog", "levels", "quantiles", "thresholds"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastSettings:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        if "conformal" in values:  # settings stored before the intervals switch (conformal: bool)
            values["intervals"] = "conformal" if values.pop("conformal") else "model"
        lower, upper = values.pop("bounds", (None, None))
        plan = values.pop("backtest", None)
        for key in ("exog", "levels", "quantiles", "thresholds"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(bounds=Bounds(lower, upper), backtest=None if plan is None else BacktestPlan(**plan), **values)
