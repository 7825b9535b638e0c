"""The experiment spec: a TOML file validated on load.

Unknown keys, wrong types and out-of-range values are :class:`SpecError` naming the key (``backtest.h``), so a
scheduled job fails before touching data, models or the tracking store. Types are strict: TOML text is never read
as a number or a flag (``h = "7"`` is refused), nor a fraction as a whole number (``h = 7.0``). Sizes are bounded
(:data:`LIMITS`: horizons, windows, steps, season lengths, list lengths), and the message names the limit.

Relative paths in a spec are resolved against the working directory the job runs in (a cron line should ``cd`` to
the project first), and must lie inside the spec's folder, the project folder (that working directory) or a folder
listed under ``[paths] allow``: see :mod:`experiments.inputs.spec_paths`. The spec file itself is UTF-8 (a UTF-8
byte-order mark is skipped) and at most :data:`MAX_SPEC_BYTES` long.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from experiments.inputs.executor import ExecutorSpec
from experiments.inputs.hierarchy import HierarchySpec
from experiments.inputs.sources import FilePath, LaxDate, SourceSpec
from experiments.inputs.spec_paths import ALLOW, ALLOW_FIELD, PathRefused, check_paths, named_files, split_allow
from features.contract import DAILY, HOURLY, Bounds
from features.errors import MAX_PART, shorten
from features.ingest.io import file_problem, os_problem
from forecast.scenarios import BASELINE
from forecast.scenarios.paths import make_path
from forecast.settings import DEFAULT_TIME_LIMIT_S


class SpecError(ValueError):
    """A spec that cannot be used: names the file and the key (the problem is cut to a bounded length)."""

    def __init__(self, path: str | Path, key: str, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, shorten(problem, MAX_PART)
        super().__init__(f"{path}: key '{key}': {self.problem}")


class _Keyed(ValueError):
    """A cross-field problem raised inside validation that names its own key (``scenarios.x``)."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(problem)


MAX_SPEC_BYTES = 1 << 20
"""A spec is a small text file: anything larger is refused unread."""

LIMITS = {
    "h": 1000,  # periods ahead: a forecast or a backtest window (1000 days ≈ 2.7 years, 1000 hours ≈ 6 weeks)
    "windows": 500,  # backtest windows, calibration windows, refit interval
    "step": 1000,  # periods between backtest windows
    "input_size": 1_000_000,  # periods of history a backtest window keeps
    "season_length": 10_000,  # periods in a season (8766 hours in a year)
    "list": 100,  # levels, quantiles, thresholds, target series named, exog columns
    "plots": 1000,  # fan charts per model
    "entries": 100,  # sources, models, features, scenarios
}
"""Upper limits of the spec's sizes: a typo such as ``h = 100000`` is an error naming the limit."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TargetSpec(_Strict):
    source: str
    column: str
    lower: float | None = None
    upper: float | None = None
    series: list[str] = Field(default_factory=list, max_length=10_000)
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
    h: int = Field(gt=0, le=LIMITS["h"])
    n_windows: int = Field(default=3, gt=0, le=LIMITS["windows"])
    step: int | None = Field(default=None, gt=0, le=LIMITS["step"])
    input_size: int | None = Field(default=None, gt=0, le=LIMITS["input_size"])
    refit_every: int = Field(default=1, gt=0, le=LIMITS["windows"])
    oracle_exog: bool = False
    # score against another version of outage schedules than the one the models learn from (vintage = "as_of"):
    # "final" (after every revision) or "first_published" (experiments/inputs/vintages.py)
    score_against: Literal["final", "first_published"] | None = None


class ForecastSpec(_Strict):
    h: int = Field(gt=0, le=LIMITS["h"])
    level: list[int] = Field(default_factory=lambda: [80, 95], max_length=LIMITS["list"])
    # q-0.1 … columns (and CRPS/pinball in backtests)
    quantiles: list[float] = Field(default_factory=list, max_length=LIMITS["list"])
    # p_exceed-<c> columns: P(y > c) per series and step
    thresholds: list[float] = Field(default_factory=list, max_length=LIMITS["list"])
    # where intervals come from: "conformal" (each model's own backtest residuals, forecast.calibration) or "model"
    intervals: Literal["conformal", "model"] = "conformal"
    # latest backtest windows a calibration uses
    calibration_windows: int = Field(default=4, gt=0, le=LIMITS["windows"])
    calibration_scale: Literal["auto", "model", "none", "log1p", "logit"] = "auto"  # scale residuals are compared on
    # "absolute" residuals per step, or "normalised" by each model's own interval width and pooled over steps
    # (forecast/calibration.py; models without intervals of their own stay absolute)
    calibration_score: Literal["absolute", "normalised"] = "absolute"
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
    max_fan_charts: int = Field(default=6, ge=0, le=LIMITS["plots"])  # fan-chart PNGs per model (first series by id)
    registered_model: str | None = None  # registry name for `gridcast promote` (default: the spec's name)
    promote_margin: float = Field(default=0.0, ge=0.0, lt=1.0)  # relative improvement needed to take @champion

    @field_validator("uri")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        # the spec is copied into every output folder and run (spec.json): a credential must not live in it
        if v is not None and "://" in v and "@" in v.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError(
                "a user or password in the URI would be copied into every output and run; give the URI without it "
                "and the credentials in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_URI)"
            )
        return v


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
    season_length: int = Field(default=7, gt=0, le=LIMITS["season_length"])
    as_of: LaxDate | None = None
    # a data window for historical experiments: every source is cut to [start, end] before anything else
    start: LaxDate | None = None
    end: LaxDate | None = None
    sources: dict[str, SourceSpec] = Field(max_length=LIMITS["entries"])
    target: TargetSpec
    features: list[dict[str, Any]] = Field(default_factory=list, max_length=LIMITS["entries"])
    exog: list[str] = Field(default_factory=list, max_length=LIMITS["list"])
    # how each exogenous column is continued after a cutoff: "last_value" (default) or "climatology"
    exog_providers: dict[str, Literal["last_value", "climatology"]] = Field(default_factory=dict)
    # how each raw input continues after a cutoff (forecast.scenarios.paths); when given, indicators are recomputed
    # over history + path instead of being carried forward by exog_providers
    paths: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    # named what-if scenarios: each overrides some raw inputs' paths (the spec's own [paths] are "baseline")
    scenarios: dict[str, dict[str, str | dict[str, Any]]] = Field(default_factory=dict, max_length=LIMITS["entries"])
    models: dict[str, dict[str, Any]] = Field(max_length=LIMITS["entries"])
    fallback: str = "seasonal_naive"
    # seconds each model may spend fitting and predicting one series; past it that series falls back (0: no limit)
    model_time_limit: float = Field(default=DEFAULT_TIME_LIMIT_S, ge=0, le=86400)
    backtest: BacktestSpec | None = None
    forecast: ForecastSpec
    # series that sum into higher levels, forecast at every level and reconciled (experiments/inputs/hierarchy.py)
    hierarchy: HierarchySpec | None = None
    # where the series are computed: serial, local processes (default) or Dask (experiments/inputs/executor.py)
    executor: ExecutorSpec = ExecutorSpec()
    tracking: TrackingSpec = TrackingSpec()
    # [paths] allow = ["../shared/data"]: more folders the spec may read files from (experiments/inputs/spec_paths.py)
    allow_paths: list[FilePath] = Field(default_factory=list, max_length=LIMITS["list"])
    _path: str = PrivateAttr(default="<spec>")

    @model_validator(mode="before")
    @classmethod
    def _split_allow(cls, data: Any) -> Any:
        try:
            return split_allow(data)
        except PathRefused as exc:
            raise _Keyed(exc.key, exc.problem) from None

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
        if self.hierarchy is not None:
            _check_hierarchy(self)
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


def _check_hierarchy(spec: ExperimentSpec) -> None:
    """A hierarchy is reconciled and calibrated on the backtest, and not over sampled input paths."""
    if spec.backtest is None:
        raise _Keyed("hierarchy", "needs a [backtest]: MinT's residuals and each level's intervals come from it")
    if spec.hierarchy.min_windows >= spec.backtest.n_windows:
        raise _Keyed(
            "hierarchy.min_windows",
            f"{spec.hierarchy.min_windows} leaves no backtest window to reconcile: backtest.n_windows is "
            f"{spec.backtest.n_windows}",
        )
    every = [*spec.paths.items(), *(i for paths in spec.scenarios.values() for i in paths.items())]
    if any(isinstance(path, dict) and path.get("samples") for _, path in every):
        raise _Keyed("hierarchy", "sampled input paths (samples = n) are not supported with a hierarchy yet")


def _key(loc: tuple[Any, ...], data: Any, *, missing: bool = False) -> str:
    """A dotted key (``sources.x.path``, ``features[0].name``) from a pydantic error location: the parts that index
    into the spec as written, so union branch names (``TableSource``, ``literal['as_of']``) drop out."""
    if loc and loc[0] == ALLOW_FIELD:  # split off [paths] before validation (spec_paths.split_allow)
        return f"paths.{ALLOW}" + "".join(f"[{p}]" for p in loc[1:] if isinstance(p, int))
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
            node = node[part]
        elif isinstance(node, dict) and part in node:
            parts.append(str(part))
            node = node[part]
    if missing and loc and isinstance(loc[-1], str):  # a required key that is absent: name it all the same
        parts.append(loc[-1])
    return ".".join(parts) or "(top level)"


_LEADING_KEY = re.compile(r"^([A-Za-z_]\w*(?:\.[\w-]+|\[\d+\])*):? ")


def _problem(err: Any, data: Any) -> tuple[str, str]:
    """The key and a plain message of one pydantic error: limits named, the wrong value's type shown."""
    kind, msg, ctx = err["type"], str(err["msg"]), err.get("ctx") or {}
    key = _key(err["loc"], data, missing=kind == "missing")
    if isinstance(ctx.get("error"), _Keyed):
        return ctx["error"].key, ctx["error"].problem
    msg = msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return key, "unknown key"
    if kind == "less_than_equal":
        return key, f"{err['input']!r} is above the limit: at most {ctx.get('le')}"
    if kind == "less_than":
        return key, f"{err['input']!r} is above the limit: less than {ctx.get('lt')}"
    if kind == "too_long":
        return key, f"{ctx.get('actual_length')} entries, above the limit of {ctx.get('max_length')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        given = err.get("input")
        numeric = kind.split("_")[0] in ("int", "float", "bool")
        hint = (
            " (types are strict: a number or a flag is written without quotes)"
            if numeric and isinstance(given, str)
            else ""
        )
        return key, f"{msg}, got {type(given).__name__} {shorten(repr(given), 60)}{hint}"
    match = _LEADING_KEY.match(msg)
    if key == "(top level)" and match and match.group(1).split(".")[0].split("[")[0] in ExperimentSpec.model_fields:
        return match.group(1), msg  # the message keeps its own key prefix (as the validators wrote it)
    return key, msg


def parse_spec(data: dict[str, Any], path: str | Path = "<spec>") -> ExperimentSpec:
    """Validate a spec mapping; the first problem becomes a SpecError naming its key. Files the spec names must lie
    in the folders it may read from (:mod:`experiments.inputs.spec_paths`); none is opened here."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        key, problem = _problem(exc.errors()[0], data)
        raise SpecError(path, key, problem) from None
    try:
        check_paths(path, named_files(spec.sources, spec.paths, spec.scenarios), spec.allow_paths)
    except PathRefused as exc:
        raise SpecError(path, exc.key, exc.problem) from None
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
    """Read and validate a TOML spec file (UTF-8, a byte-order mark skipped; at most :data:`MAX_SPEC_BYTES`)."""
    p = Path(path)
    problem = file_problem(p)
    if problem is not None:
        raise SpecError(p, "(file)", "spec file not found" if problem == "file not found" else problem)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(p, "(file)", os_problem(exc)) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(p, "(file)", f"larger than {MAX_SPEC_BYTES} bytes: a spec is a small TOML text file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(p, "(file)", "UTF-16 text (byte-order mark at the start): save the spec as UTF-8")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark (Windows editors) is skipped
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(p, "(file)", f"not UTF-8 text (line {line}): save the spec as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
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
    scoring: dict[str, Any] = {
        "target": spec.target.model_dump(mode="json", exclude={"units"}),  # a label does not change the scoring
        "backtest": spec.backtest.model_dump(mode="json") if spec.backtest else None,
        "levels": spec.forecast.level,
        "intervals": [spec.forecast.intervals, spec.forecast.calibration_windows, spec.forecast.calibration_scale],
        "grid": [spec.freq, spec.season_length, str(spec.as_of), str(spec.start), str(spec.end)],
    }
    # keys added later enter only when set, so the runs of a spec that does not use them keep comparing
    if spec.forecast.calibration_score != "absolute":
        scoring["intervals"].append(spec.forecast.calibration_score)
    if spec.hierarchy is not None:
        scoring["hierarchy"] = spec.hierarchy.model_dump(mode="json")
    blob = json.dumps(scoring, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
