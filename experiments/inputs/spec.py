"""The experiment spec: a TOML file validated on load.

Unknown keys, wrong types and out-of-range values are :class:`SpecError` naming the key (``backtest.h``), so a
scheduled job fails before touching data, models or the tracking store. Relative paths in a spec are resolved
against the working directory the job runs in (a cron line should ``cd`` to the project first).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from experiments.inputs.sources import SOURCE_CLASS_TAGS, SourceSpec
from features.contract import DAILY, HOURLY, Bounds
from forecast.scenarios import BASELINE
from forecast.scenarios.paths import make_path


class SpecError(ValueError):
    """A spec that cannot be used: names the file and the key."""

    def __init__(self, path: str | Path, key: str, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: key '{key}': {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSpec(_Strict):
    source: str
    column: str
    lower: float | None = None
    upper: float | None = None
    series: list[str] = Field(default_factory=list)
    # fit every model on a transformed target so intervals stay inside the bounds (docs/forecasting.md);
    # a model may override it with its own `transform` key
    transform: Literal["none", "log1p", "logit"] = "none"
    units: str = ""  # the target's units, the y-axis label of charts (e.g. "hours off per day")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> TargetSpec:
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.lower, self.upper)


class BacktestSpec(_Strict):
    h: int = Field(gt=0)
    n_windows: int = Field(default=3, gt=0)
    step: int | None = Field(default=None, gt=0)
    input_size: int | None = Field(default=None, gt=0)
    refit_every: int = Field(default=1, gt=0)
    oracle_exog: bool = False


class ForecastSpec(_Strict):
    h: int = Field(gt=0)
    level: list[int] = Field(default_factory=lambda: [80, 95])
    quantiles: list[float] = Field(default_factory=list)  # q-0.1 … columns (and CRPS/pinball in backtests)
    thresholds: list[float] = Field(default_factory=list)  # p_exceed-<c> columns: P(y > c) per series and step
    # where intervals come from: "conformal" (each model's own backtest residuals, forecast.calibration) or "model"
    intervals: Literal["conformal", "model"] = "conformal"
    calibration_windows: int = Field(default=4, gt=0)  # latest backtest windows a calibration uses
    calibration_scale: Literal["auto", "model", "none", "log1p", "logit"] = "auto"  # scale residuals are compared on
    # what a regime break of the target (forecast/regime.py: a level shift, zero run or flatline at the end) does:
    # "report" it in the log and manifest, or also forecast the flagged series with the spec's `fallback` model
    on_regime_break: Literal["report", "fallback"] = "report"

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in v):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        return sorted(set(v))

    @field_validator("level")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if not v or any(not 0 < lv < 100 for lv in v):
            raise ValueError("levels must be integers strictly between 0 and 100")
        return sorted(set(v))


class TrackingSpec(_Strict):
    experiment: str | None = None
    uri: str | None = None
    log_models: bool = True  # each model as an MLflow pyfunc model in its child run
    max_fan_charts: int = Field(default=6, ge=0)  # fan-chart PNGs per model (first series by id)
    registered_model: str | None = None  # registry name for `gridcast promote` (default: the spec's name)
    promote_margin: float = Field(default=0.0, ge=0.0, lt=1.0)  # relative improvement needed to take @champion


@dataclass(frozen=True)
class ModelEntry:
    """One resolved ``[models.NAME]`` entry of a spec."""

    name: str  # the display name (the output's ``model`` column)
    kind: str  # the registry name of the class
    params: dict[str, Any]
    transform: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (stored with a logged model)."""
        return {"name": self.name, "kind": self.kind, "params": self.params, "transform": self.transform}


class ExperimentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    freq: Literal["1d", "1h"] = DAILY
    season_length: int = Field(default=7, gt=0)
    as_of: date | None = None
    # a data window for historical experiments: every source is cut to [start, end] before anything else
    start: date | None = None
    end: date | None = None
    sources: dict[str, SourceSpec]
    target: TargetSpec
    features: list[dict[str, Any]] = Field(default_factory=list)
    exog: list[str] = Field(default_factory=list)
    # how each exogenous column is continued after a cutoff: "last_value" (default) or "climatology"
    exog_providers: dict[str, Literal["last_value", "climatology"]] = Field(default_factory=dict)
    # how each raw input continues after a cutoff (forecast.scenarios.paths); when given, indicators are recomputed
    # over history + path instead of being carried forward by exog_providers
    paths: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    # named what-if scenarios: each overrides some raw inputs' paths (the spec's own [paths] are "baseline")
    scenarios: dict[str, dict[str, str | dict[str, Any]]] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]]
    fallback: str = "seasonal_naive"
    backtest: BacktestSpec | None = None
    forecast: ForecastSpec
    tracking: TrackingSpec = TrackingSpec()
    _path: str = PrivateAttr(default="<spec>")

    @model_validator(mode="after")
    def _cross_refs(self) -> ExperimentSpec:
        if self.target.source not in self.sources:
            raise ValueError(f"target.source {self.target.source!r} is not one of sources: {sorted(self.sources)}")
        if not self.models:
            raise ValueError("models: at least one model is needed")
        unknown = [c for c in self.exog_providers if c not in self.exog]
        if unknown:
            raise ValueError(f"exog_providers names {unknown[0]!r}, which is not in exog")
        for column, path in self.paths.items():
            make_path(path, key=f"paths.{column}")
        if self.scenarios and not self.paths:
            raise ValueError("scenarios need [paths]: a scenario overrides how some raw inputs continue")
        for name, paths in self.scenarios.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name == BASELINE:
                raise ValueError(f"scenarios.{name}: a name of lower-case letters, digits and _, not {BASELINE!r}")
            if not paths:
                raise ValueError(f"scenarios.{name}: name at least one raw input and its path")
            for column, path in paths.items():
                make_path(path, key=f"scenarios.{name}.{column}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        if self.freq == HOURLY and any(s.daily_only for s in self.sources.values()):
            raise ValueError("daily-only sources (strikes, alerts, daily weather) need freq = '1d'")
        return self

    @property
    def path(self) -> str:
        """The file the spec was loaded from (for error messages)."""
        return self._path

    def model_entry(self, name: str) -> ModelEntry:
        """The resolved ``[models.NAME]`` entry: registry kind (``kind``, default NAME), the model's parameters, and
        the transform it is fitted under (its own ``transform``, else the target's)."""
        params = dict(self.models[name])
        kind = params.pop("kind", name)
        transform = params.pop("transform", None) or self.target.transform
        return ModelEntry(name, kind, params, transform)

    def model_entries(self) -> list[ModelEntry]:
        """Every model entry, in spec order."""
        return [self.model_entry(name) for name in self.models]

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or f"gridcast-{self.name}"


def _key(loc: tuple[Any, ...]) -> str:
    """A dotted key from a pydantic error location, dropping the discriminated-union branch name."""
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[0] == "sources" and parts[2] in SOURCE_CLASS_TAGS:
        del parts[2]
    return ".".join(parts) or "(top level)"


def parse_spec(data: dict[str, Any], path: str | Path = "<spec>") -> ExperimentSpec:
    """Validate a spec mapping; the first problem becomes a SpecError naming its key."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise SpecError(path, _key(err["loc"]), msg) from None
    _check_plugins(spec, path)
    spec._path = str(path)
    return spec


def _check_plugins(spec: ExperimentSpec, path: str | Path) -> None:
    """Validate the parts whose schema lives in the lower layers (indicators, models)."""
    from features.indicators import IndicatorSpecError, validate_indicator_specs
    from forecast.models.registry import ModelSpecError, make_model, model_class
    from forecast.output.bounds import TRANSFORMS

    try:
        validate_indicator_specs(spec.features)
    except IndicatorSpecError as exc:
        raise SpecError(path, exc.key, exc.message) from None
    for entry in spec.model_entries():
        name, kind = entry.name, entry.kind
        if entry.transform not in TRANSFORMS:
            raise SpecError(path, f"models.{name}.transform", f"expected none, log1p or logit, got {entry.transform!r}")
        try:
            make_model(kind, entry.params)
        except ModelSpecError as exc:
            # the registry names keys after the model class (models.<kind>.<param>); the spec's key is the alias
            key, _, problem = str(exc).replace(f"models.{kind}", f"models.{name}", 1).partition(": ")
            raise SpecError(path, key, problem) from None
    try:
        model_class(spec.fallback, prefix="fallback")
    except ModelSpecError as exc:
        raise SpecError(path, "fallback", str(exc)) from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a TOML spec file."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(p, "(file)", "spec file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(p, "(file)", f"not valid TOML: {exc}") from None
    return parse_spec(data, p)


def spec_hash(spec: ExperimentSpec) -> str:
    """A stable digest of the resolved spec (for run tags and output manifests)."""
    blob = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def evaluation_hash(spec: ExperimentSpec) -> str:
    """A digest of what decides how runs are scored — the target, the backtest plan, the interval levels and their
    calibration, the grid and the data window — but not the models or their inputs: two runs with the same
    evaluation hash and data digest were scored on the same truths and windows, so their metrics compare."""
    scoring = {
        "target": spec.target.model_dump(mode="json", exclude={"units"}),  # a label does not change the scoring
        "backtest": spec.backtest.model_dump(mode="json") if spec.backtest else None,
        "levels": spec.forecast.level,
        "intervals": [spec.forecast.intervals, spec.forecast.calibration_windows, spec.forecast.calibration_scale],
        "grid": [spec.freq, spec.season_length, str(spec.as_of), str(spec.start), str(spec.end)],
    }
    blob = json.dumps(scoring, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
