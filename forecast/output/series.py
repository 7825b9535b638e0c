"""One model's forecast of one series, mapped from the model's scale back to the target's."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecast.models.base import Prediction
from forecast.output.bounds import Transform
from forecast.output.exceedance import gaussian_exceedance, sigma_from_intervals
from forecast.output.request import OutputRequest


@dataclass
class SeriesForecast:
    """One model's forecast of one series (NaN arrays when even the fallback failed)."""

    model: str
    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    reason: str | None = None
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)
    exceed: dict[float, np.ndarray] = field(default_factory=dict)

    def column_values(self, request: OutputRequest) -> list[np.ndarray]:
        """The arrays of :attr:`OutputRequest.columns`, in that order."""
        out = [a for lv in request.levels for a in (self.lower[lv], self.upper[lv])]
        out += [self.quantiles[q] for q in request.quantiles]
        return out + [self.exceed[c] for c in request.thresholds]


def nan_forecast(name: str, h: int, request: OutputRequest, reason: str | None) -> SeriesForecast:
    """A forecast of NaN everywhere (no model could forecast the series), with the reason."""
    nan = np.full(h, np.nan)
    return SeriesForecast(
        name,
        nan,
        dict.fromkeys(request.levels, nan),
        dict.fromkeys(request.levels, nan),
        reason,
        dict.fromkeys(request.quantiles, nan),
        dict.fromkeys(request.thresholds, nan),
    )


def back_transform(pred: Prediction, transform: Transform, request: OutputRequest) -> SeriesForecast:
    """Map a model-scale prediction to the target scale: mean, intervals, quantiles, exceedance probabilities.

    ``pred`` holds the intervals of ``request.model_levels``, or none at all (a model without intervals: only
    ``mean`` and the median ``q-0.5`` are filled, every other column is NaN). Every value lands inside the bounds.
    """
    inv = transform.inverse
    if request.model_levels and not pred.levels:
        res = nan_forecast("", pred.h, request, None)
        res.mean = inv(pred.mean)
        res.quantiles.update({q: res.mean for q in request.quantiles if q == 0.5})
        return res
    lower = {lv: inv(pred.lower[lv]) for lv in request.levels}
    upper = {lv: inv(pred.upper[lv]) for lv in request.levels}
    quantiles = {q: inv(pred.quantile(q)) for q in request.quantiles}
    exceed: dict[float, np.ndarray] = {}
    if request.thresholds:
        sigma = sigma_from_intervals(pred.lower, pred.upper)
        exceed = gaussian_exceedance(pred.mean, sigma, request.thresholds, transform)
    return SeriesForecast("", inv(pred.mean), lower, upper, None, quantiles, exceed)
