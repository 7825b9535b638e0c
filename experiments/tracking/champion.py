"""The registered model's ``@champion``: which version holds it, what it was logged with, and the spec models a job
runs it with.

``gridcast promote`` moves ``@champion`` (:mod:`~experiments.tracking.promotion`). A scheduled job that forecasts
with the champion reads it with :func:`champion` and swaps the spec's ``[models]`` for the champion's entry
(:func:`champion_models`), then runs as usual on today's data: the job refits that entry, so its numbers are those
of ``models:/<name>@champion`` given today's history frame (:mod:`~experiments.tracking.pyfunc_history`), as long
as the spec still reads the data the champion was logged with (:func:`differences`).

A missing registered model or alias is :class:`ChampionError`, a :class:`~experiments.inputs.spec.SpecError` keyed
``--model`` (CLI exit 2); an unreachable store is :class:`~experiments.tracking.client.TrackingError` (exit 3).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.inputs.spec import ExperimentSpec, SpecError
from experiments.tracking import tags as TAG
from experiments.tracking.client import TrackingError, resolve_uri
from experiments.tracking.promotion import CHAMPION

KEY = "--model"
# what defines the model a champion is: a spec that differs here would refit another model under its name
MODEL_KEYS = ("freq", "season_length", "bounds", "exog", "indicators")
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such registered model; no such alias


class ChampionError(SpecError):
    """No usable ``@champion``: the registered model or its alias does not exist, or it does not fit the spec."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(path, KEY, problem)


@dataclass(frozen=True)
class Champion:
    """The model version holding ``@champion`` and the model entry it was logged with."""

    name: str  # the registered model
    version: str
    model_uri: str  # models:/<name>@champion (moves with the alias)
    run_id: str  # the child run that logged it
    model: dict[str, Any]  # the model entry: name, kind, params, transform
    as_of: str | None = None  # the as-of of the job that logged it
    config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the whole logged config

    @property
    def version_uri(self) -> str:
        """``models:/<name>/<version>``: this version, whatever the alias points to later."""
        return f"models:/{self.name}/{self.version}"

    def manifest(self) -> dict[str, str | None]:
        """What a job's manifest records about the champion it ran."""
        return {
            "registered_model": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
            "version_uri": self.version_uri,
            "run_id": self.run_id,
            "model": self.model["name"],
            "logged_as_of": self.as_of,
        }


def registered_name(spec: ExperimentSpec) -> str:
    """The registered model a spec promotes to: ``tracking.registered_model``, else the spec's name."""
    return spec.tracking.registered_model or spec.name


def champion(spec: ExperimentSpec, uri: str | None = None) -> Champion:
    """The ``@champion`` of the spec's registered model in the store ``uri`` (default: the resolved tracking URI)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = uri or resolve_uri(spec.tracking.uri)
    name = registered_name(spec)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        found = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            raise ChampionError(
                spec.path, f"no @{CHAMPION} for registered model {name!r} in {uri}; run `gridcast promote` first"
            ) from None
        raise TrackingError(f"MLflow get_model_version_by_alias failed on {uri}: {exc}") from None
    except Exception as exc:  # MLflow raises many types for an unreachable or broken store
        raise TrackingError(f"tracking store {uri} unavailable: {type(exc).__name__}: {exc}") from None
    version = str(found.version)
    config = _logged_config(client, spec, uri, name, version)
    as_of = None
    if found.run_id:
        try:
            as_of = client.get_run(found.run_id).data.tags.get(TAG.AS_OF)
        except MlflowException:  # the run was deleted: the model version still stands
            as_of = None
    run_id = str(found.run_id or "")
    return Champion(name, version, f"models:/{name}@{CHAMPION}", run_id, config["model"], as_of, config)


def _logged_config(client: Any, spec: ExperimentSpec, uri: str, name: str, version: str) -> dict[str, Any]:
    """The gridcast config stored with the model version (``artifacts/config.json`` below the model's root).

    Read through the version's download URI: MLflow resolves ``models:/`` URIs against its global registry URI,
    which would open (and create) the default store instead of ``uri``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="gridcast-champion-") as tmp:
        try:
            root = client.get_model_version_download_uri(name, version)
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{root.rstrip('/')}/artifacts/config.json", dst_path=tmp, tracking_uri=uri
            )
            config = json.loads(Path(path).read_text())
        except (MlflowException, OSError, ValueError) as exc:
            raise ChampionError(
                spec.path, f"@{CHAMPION} of {name!r} (v{version}) has no gridcast model config: {exc}"
            ) from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ChampionError(spec.path, f"@{CHAMPION} of {name!r} (v{version}) has no model entry in its config")
    return config


def _plain(value: Any) -> Any:
    """A value as JSON gives it back (tuples as lists, dates as strings), so logged and spec values compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def differences(spec: ExperimentSpec, champ: Champion) -> list[str]:
    """What the spec now says differently from what the champion was logged with, one line per key (empty: the
    job with the champion's model gives the numbers of ``models:/<name>@champion`` on the same data). Keys:
    freq, season_length, bounds, exog, indicators (these define the model), fallback, paths, exog_providers,
    intervals, calibration_windows, calibration_scale, calibration_score and the backtest plan (these change its
    forecast or intervals). Keys a model logged by an older gridcast does not carry are not compared."""
    from experiments.inputs.settings import forecast_settings
    from features.indicators import validate_indicator_specs

    logged = champ.config
    own = forecast_settings(spec).to_dict()
    stored = logged.get("settings") or {}
    now: dict[str, Any] = {k: own[k] for k in ("freq", "season_length", "bounds", "exog", "fallback")}
    now |= {k: own[k] for k in ("intervals", "calibration_windows", "calibration_scale", "calibration_score")}
    then: dict[str, Any] = {k: stored.get(k) for k in now if k in stored}
    now["indicators"] = [ind.to_dict() for ind in validate_indicator_specs(spec.features)]
    now["paths"], now["exog_providers"] = dict(spec.paths), dict(spec.exog_providers)
    plan = own["backtest"]
    now["backtest"] = (
        None if plan is None else {**plan, "oracle_exog": bool(spec.backtest and spec.backtest.oracle_exog)}
    )
    then |= {k: logged[k] for k in ("indicators", "paths", "exog_providers", "backtest") if k in logged}
    lines = []
    for key, value in then.items():
        if _plain(value) != _plain(now[key]):
            lines.append(f"{key}: @{CHAMPION} was logged with {_plain(value)}, the spec has {_plain(now[key])}")
    return lines


def champion_models(spec: ExperimentSpec, champ: Champion, *, strict: bool = True) -> dict[str, dict[str, Any]]:
    """The spec's ``[models]`` table with the champion's entry only: ``{name: {kind, transform, **params}}``, for
    ``spec.model_copy(update={"models": ...})``. With ``strict``, a spec that now defines the model differently
    (:data:`MODEL_KEYS`: grid, bounds, exogenous columns or indicators) is a :class:`ChampionError`."""
    from forecast.models.registry import ModelSpecError, make_model

    entry = champ.model
    if strict:
        changed = [line for line in differences(spec, champ) if line.split(":", 1)[0] in MODEL_KEYS]
        if changed:
            raise ChampionError(
                spec.path,
                f"@{CHAMPION} of {champ.name!r} (v{champ.version}) does not fit this spec: " + "; ".join(changed),
            )
    try:
        make_model(entry["kind"], entry["params"])
    except ModelSpecError as exc:
        raise ChampionError(spec.path, f"@{CHAMPION} of {champ.name!r} (v{champ.version}): {exc}") from None
    return {entry["name"]: {"kind": entry["kind"], "transform": entry["transform"], **entry["params"]}}


__all__ = [
    "Champion",
    "ChampionError",
    "champion",
    "champion_models",
    "differences",
    "registered_name",
]
