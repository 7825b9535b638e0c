"""Model names → classes, and parameter errors that name the spec key.

``make_model("sarimax", {"order": [1, 0, 0]})`` builds a model; an unknown name or a bad parameter raises
:class:`ModelSpecError` whose message starts with the key as written in a spec, e.g.
``models.sarimax.order: expected 3 integers >= 0 (p, d, q), got [1, 0]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from forecast.models.base import Forecaster
from forecast.models.baselines import Drift, HistoricAverage, Naive, Naive2, SeasonalNaive, WindowAverage
from forecast.models.common import ModelSpec
from forecast.models.ensemble import Ensemble
from forecast.models.mstl import Mstl
from forecast.models.prophet import Prophet
from forecast.models.smoothing import Ets, Theta
from forecast.models.statespace import Sarimax, UnobservedComponents

_MODELS: dict[str, type[Forecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "drift": Drift,
    "historic_average": HistoricAverage,
    "window_average": WindowAverage,
    "naive2": Naive2,
    "ets": Ets,
    "sarimax": Sarimax,
    "unobserved_components": UnobservedComponents,
    "theta": Theta,
    "mstl": Mstl,
    "prophet": Prophet,
    "ensemble": Ensemble,
}


class ModelSpecError(ValueError):
    """An unknown model name or invalid model parameters; the message names the offending key."""


def available_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_MODELS)


def model_class(name: str, *, prefix: str = "models") -> type[Forecaster]:
    """The class registered under ``name``."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ModelSpecError(f"{prefix}.{name}: unknown model; available: {', '.join(available_models())}") from None


def register_model(name: str, cls: type[Forecaster]) -> None:
    """Register a model class under ``name`` (the seam for models added later and for tests)."""
    if not (isinstance(cls, type) and issubclass(cls, Forecaster)):
        raise TypeError(f"{cls!r} is not a Forecaster subclass")
    _MODELS[name] = cls


def make_model(name: str, params: Mapping[str, Any] | None = None, *, prefix: str = "models") -> Forecaster:
    """Build the model ``name`` with ``params``; errors are :class:`ModelSpecError` naming ``prefix.name.key``.

    Nested models of a composite (its ``nested`` fields: an ensemble's ``members``, MSTL's ``remainder``) may be
    given as ``{name, params}`` specs; they are built here first, so a bad member names its own key
    (``models.ens.members.1.theta.period: …``).
    """
    cls = model_class(name, prefix=prefix)
    params = dict(params or {})
    for key in cls.nested:
        if key in params:
            params[key] = _build_nested(params[key], f"{prefix}.{name}.{key}")
    try:
        cls.config_cls(**params)  # validate first, so every problem is reported with its key
    except ValidationError as exc:
        raise ModelSpecError(_format(exc, f"{prefix}.{name}", cls)) from None
    return cls(**params)


def _build_nested(value: Any, key: str) -> Any:
    """Build the ``{name, params}`` specs in a nested field (one spec or a list); built models pass through."""
    if isinstance(value, list):
        return [_build_one(item, f"{key}.{i}") for i, item in enumerate(value)]
    return _build_one(value, key)


def _build_one(item: Any, key: str) -> Any:
    if isinstance(item, Forecaster) or not isinstance(item, Mapping | ModelSpec):
        return item  # built already, or left for the config's own validation to name
    try:
        spec = item if isinstance(item, ModelSpec) else ModelSpec.model_validate(item)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = "unknown key (allowed: name, params)" if err["type"] == "extra_forbidden" else err["msg"]
        raise ModelSpecError(f"{key}.{loc}: {msg}" if loc else f"{key}: {msg}") from None
    return make_model(spec.name, spec.params, prefix=key)


def model_factory(
    name: str, params: Mapping[str, Any] | None = None, *, prefix: str = "models"
) -> Callable[[], Forecaster]:
    """A zero-argument factory of fresh models; the parameters are validated now, not at first use."""
    model = make_model(name, params, prefix=prefix)
    return model.clone


def _format(exc: ValidationError, key: str, cls: type[Forecaster]) -> str:
    fields = cls.config_cls.model_fields
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter (allowed: {', '.join(fields)})"
        elif err["type"] == "missing":
            msg = "required parameter missing"
        elif not loc and msg.split(": ", 1)[0].split(".")[0] in fields:  # a cross-field check naming its key
            loc, msg = msg.split(": ", 1)
        parts.append(f"{key}.{loc}: {msg}" if loc else f"{key}: {msg}")
    return "; ".join(parts)
