"""A logged model on today's data: a *history frame* in, the forecast the job would make from it out.

A history frame is what :func:`experiments.inputs.dataset.load_dataset` holds as ``Dataset.inputs`` with the target
beside it: ``unique_id, ds, y`` and the raw input columns the model's indicators and paths read (the logged config's
``inputs``), on each series' regular grid over the inputs' whole history, ``y`` null where unknown (also before the
target starts). :func:`forecast_history` does with it what a forecast job does with its files, as of ``as_of`` (a
parameter; default the last ``ds`` with an observed ``y``):

1. the raw inputs up to the as-of (a tail missing there is a nowcast by its path, as the job's loader does) get the
   logged indicators recomputed (:func:`features.indicators.add_indicators`);
2. the modelling frame is the target from each series' first observed ``y`` to the as-of (daily series all run to
   the as-of; hourly series to their own last observed ``y``), with the exogenous columns;
3. the scenario's :class:`~forecast.scenarios.InputPathProvider` is built on these raw inputs with the logged
   ``[paths]`` and the scenario's overrides (without paths: the logged column providers);
4. the logged model entry is fitted and forecasts ``h`` periods; a named scenario re-conditions the model fitted
   under the base scenario, as the job does;
5. intervals are calibrated the job's way, by the job's own functions (:mod:`forecast.scenarios.runner`): the
   logged backtest plan is run on this history with the same model and provider (sampled input paths included)
   and the forecast calibrated on it, so the intervals are today's, not those of the logging day.
   Where the job would keep the model's own intervals (backtest too short, or shorter than ``h``), so does this,
   and ``interval_note`` says why.

Future inputs: rows after the as-of whose raw input columns carry values are *supplied* future inputs (e.g. a
weather forecast). For those columns and dates they replace the path (under every scenario) before the indicators
are recomputed; every other column and date keeps its path. So to replay a past day from a longer frame, cut the
frame at that day (or null its raw inputs after it): otherwise the true later inputs are read as supplied ones.
Supplied inputs need ``[paths]`` in the spec the model was logged from.

:class:`HistoryForecaster` (what the pyfunc model holds) keeps the last frame it prepared: another scenario of the
same frame and params reuses its backtest and base fit, as the job runs every scenario on one backtest and one fit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl

from experiments.inputs.freshness import nowcast_tails
from features.contract import DAILY, DS, ID, SCENARIO, Y
from features.indicators import add_indicators, validate_indicator_specs
from features.ingest.align import check_coverage
from features.ingest.validate import regularize
from forecast.calibration import calibrate_forecast
from forecast.core import ModelLike
from forecast.exog import DEFAULT_SCENARIO, ExogProvider, make_provider
from forecast.models.registry import model_factory
from forecast.scenarios import BASELINE, InputPathProvider
from forecast.scenarios.runner import Calibration, calibrated_backtest, scenario_forecast
from forecast.settings import BacktestPlan, ForecastSettings

SOURCE = "history frame"  # how errors name the model input


@dataclass(frozen=True)
class Request:
    """A predict call resolved against the logged config: settings (levels applied), horizon, scenario, base."""

    settings: ForecastSettings
    h: int
    scenario: str
    base: str


def scenarios_of(config: dict[str, Any]) -> list[str]:
    """The scenarios a logged model forecasts under: ``baseline`` and the spec's named ones when it has paths."""
    if not config.get("paths"):
        return [DEFAULT_SCENARIO]
    return [BASELINE, *(config.get("scenarios") or {})]


def request_of(config: dict[str, Any], params: dict[str, Any]) -> Request:
    """Params ``h``, ``level`` and ``scenario`` over the logged defaults; an unknown scenario is a ValueError."""
    settings = ForecastSettings.from_dict(config["settings"])
    h = int(params.get("h") or config["h"])
    if params.get("level"):
        settings = settings.replace(levels=tuple(int(v) for v in params["level"]))
    known = scenarios_of(config)
    scenario = params.get("scenario") or known[0]
    if scenario == DEFAULT_SCENARIO:  # the signature's default: the model's base scenario
        scenario = known[0]
    if scenario not in known:
        raise ValueError(f"scenario {scenario!r} unknown; available: {', '.join(known)}")
    return Request(settings, h, scenario, known[0])


def raw_columns(config: dict[str, Any]) -> list[str]:
    """The raw input columns a history frame carries: as logged, or (models logged before that) every column the
    indicators, paths and exogenous columns read that no indicator computes."""
    if "inputs" in config:
        return list(config["inputs"])
    indicators = validate_indicator_specs(config.get("indicators") or [])
    outputs = {ind.output for ind in indicators}
    read = [c for ind in indicators for c in ind.input_columns]
    wanted = [*read, *(config.get("paths") or {}), *config["settings"]["exog"]]
    return [c for c in dict.fromkeys(wanted) if c not in outputs]


@dataclass(frozen=True)
class History:
    """A history frame as the job would have read it from its files (see the module docstring)."""

    frame: pl.DataFrame  # unique_id, ds, y, exog: each series from its first observed y to the as-of
    inputs: pl.DataFrame  # unique_id, ds, raw inputs up to the as-of (missing tails nowcast)
    supplied: pl.DataFrame  # unique_id, ds, raw inputs after the as-of: the user's future inputs (maybe empty)
    as_of: date | datetime


def _ds(column: pl.Expr, dtype: pl.DataType, freq: str) -> pl.Expr:
    """``ds`` in the contract's type: Date for daily data, UTC microseconds for hourly (naive values are UTC)."""
    if freq == DAILY:
        return column.cast(pl.Date)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        column = column.dt.replace_time_zone("UTC")
    return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _as_of(value: Any, frame: pl.DataFrame, freq: str) -> tuple[date | datetime, date | datetime]:
    """(as-of, last ds read): the ``as_of`` param (a date, or for hourly data also an instant) or the last ``ds``
    with an observed ``y``. An hourly as-of date reads to the end of that UTC day."""
    if value in (None, ""):
        observed = frame.filter(pl.col(Y).is_not_null())
        if observed.height == 0:
            raise ValueError(f"{SOURCE}: no observed y to forecast from")
        last = observed.get_column(DS).max()
        return last, last
    text = str(value).strip()
    try:
        parsed: date | datetime = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of: expected a date such as 2025-01-31, got {value!r}") from None
    if freq == DAILY:
        day = parsed.date() if isinstance(parsed, datetime) else parsed
        return day, day
    if isinstance(parsed, datetime):
        instant = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return instant, instant
    return parsed, datetime.combine(parsed, time(23, 59, 59, 999999), tzinfo=UTC)


def read_history(config: dict[str, Any], frame: pl.DataFrame, as_of: Any) -> History:
    """Split and rebuild a history frame as of ``as_of`` (see the module docstring)."""
    settings = config["settings"]
    freq, exog = settings["freq"], list(settings["exog"])
    raw = raw_columns(config)
    missing = [c for c in (ID, DS, Y, *raw) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{SOURCE}: missing columns {', '.join(missing)}; it carries {ID}, {DS}, {Y} and the raw inputs "
            f"{', '.join(raw) or '(none)'} over each series' history"
        )
    frame = frame.select(
        pl.col(ID).cast(pl.String),
        _ds(pl.col(DS), frame.schema[DS], freq).alias(DS),
        *[pl.col(c).cast(pl.Float64).fill_nan(None) for c in (Y, *raw)],  # NaN (pandas' null) is missing
    ).sort(ID, DS)
    if frame.select(pl.struct(ID, DS).is_duplicated().any()).item():
        raise ValueError(f"{SOURCE}: more than one row for some ({ID}, {DS})")
    as_of_value, cut = _as_of(as_of, frame, freq)
    past = frame.filter(pl.col(DS) <= pl.lit(cut).cast(frame.schema[DS]))
    later = frame.filter(pl.col(DS) > pl.lit(cut).cast(frame.schema[DS]))
    supplied = later.select(ID, DS, *raw)
    supplied = supplied.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in raw)) if raw else supplied.clear()
    if supplied.height and not config.get("paths"):
        raise ValueError(
            f"{SOURCE}: rows after the as-of {as_of_value} carry input values, but this model continues its inputs "
            "by column providers (its spec has no [paths]); drop those rows or log the model from a spec with paths"
        )
    observed = (
        past.filter(pl.col(Y).is_not_null())
        .group_by(ID)
        .agg(pl.col(DS).min().alias("_first"), pl.col(DS).max().alias("_last"))
    )
    unseen = sorted(set(past.get_column(ID).unique()) - set(observed.get_column(ID)))
    if unseen or not observed.height:
        raise ValueError(f"{SOURCE}: no observed y at or before {as_of_value} for {', '.join(unseen[:5]) or 'any'}")
    end = as_of_value if freq == DAILY else past.get_column(DS).max()
    inputs = _nowcast(regularize(past.select(ID, DS, *raw), freq, end=end), raw, end, config)
    indicators = validate_indicator_specs(config.get("indicators") or [])
    derived = add_indicators(inputs, indicators) if indicators else inputs
    unknown = [c for c in exog if c not in derived.columns]
    if unknown:
        raise ValueError(f"{SOURCE}: exogenous column {unknown[0]!r} is neither a raw input nor an indicator output")
    target = past.join(observed, on=ID).filter(pl.col(DS) >= pl.col("_first"))
    if freq != DAILY:
        target = target.filter(pl.col(DS) <= pl.col("_last"))
    target = regularize(target.select(ID, DS, Y), freq, end=as_of_value if freq == DAILY else None)
    modelling = target.join(derived.select(ID, DS, *exog), on=[ID, DS], how="left", maintain_order="left")
    check_coverage(modelling, exog, SOURCE)
    modelling = modelling.select(ID, DS, Y, *[pl.col(c).cast(pl.Float64) for c in exog])
    return History(modelling, inputs, supplied, as_of_value)


def _nowcast(inputs: pl.DataFrame, raw: list[str], end: date | datetime, config: dict[str, Any]) -> pl.DataFrame:
    """The inputs with every tail missing at ``end`` filled by its path (the job's loader does the same)."""
    if not raw or inputs.height == 0:
        return inputs
    settings = config["settings"]
    filled, _ = nowcast_tails(inputs, raw, end, settings["freq"], config.get("paths") or {}, settings["season_length"])
    return filled


def provider_for(config: dict[str, Any], history: History, scenario: str) -> ExogProvider:
    """How the inputs continue under ``scenario``: as the job builds it (``exog_provider``), on today's inputs, with
    the supplied future inputs in place of the paths."""
    columns = make_provider(config.get("exog_providers") or {})
    if not config.get("paths"):
        return columns
    indicators = validate_indicator_specs(config.get("indicators") or [])
    paths = {**config["paths"], **(config.get("scenarios") or {}).get(scenario, {})}
    season = config["settings"]["season_length"]
    return InputPathProvider(
        history.inputs,
        indicators,
        paths,
        season_length=season,
        fallback=columns,
        scenario=scenario,
        supplied=history.supplied if history.supplied.height else None,
    )


def _plan(config: dict[str, Any]) -> tuple[BacktestPlan, bool] | None:
    """The logged backtest plan and its ``oracle_exog``, or None."""
    stored = config.get("backtest")
    if stored is None:
        return None
    names = {f.name for f in fields(BacktestPlan)}
    return BacktestPlan(**{k: v for k, v in stored.items() if k in names}), bool(stored.get("oracle_exog"))


@dataclass
class Prepared:
    """One history frame made ready to forecast: read as the job reads its files, backtested for the intervals,
    and the forecasts made so far with the models fitted under the base scenario."""

    key: tuple[Any, ...]  # the params it was prepared for (as_of, h, levels)
    given: pl.DataFrame  # the model input as given
    history: History
    settings: ForecastSettings  # with the backtest plan
    calibration: Calibration  # what the backtest gives the forecasts (the models' own intervals without one)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # series → model name → fitted model
    done: dict[str, pl.DataFrame] = field(default_factory=dict)  # scenario → forecast


class HistoryForecaster:
    """Forecasts history frames with one logged config (module docstring).

    It keeps the last frame it prepared: asking for another scenario of the same frame and params re-conditions
    the models fitted under the base scenario and reuses the backtest, as the job runs every scenario on one fit
    and one backtest. ``calibration`` (the stored backtest residuals) serves only models logged without their
    backtest plan."""

    def __init__(self, config: dict[str, Any], calibration: pl.DataFrame | None = None) -> None:
        self.config = config
        self.calibration = calibration
        entry = config["model"]
        self.models: dict[str, ModelLike] = {entry["name"]: model_factory(entry["kind"], entry["params"])}
        self._last: Prepared | None = None
        self._lock = threading.Lock()

    def predict(self, frame: pl.DataFrame, params: dict[str, Any]) -> pl.DataFrame:
        """The forecast frame for ``frame`` under ``params`` (``h``, ``level``, ``scenario``, ``as_of``)."""
        req = request_of(self.config, params)
        key = (str(params.get("as_of") or ""), req.h, req.settings.levels)
        with self._lock:
            prep = self._last
            if prep is None or prep.key != key or not prep.given.equals(frame):
                prep = self._last = self.prepare(frame, req, key)
            for scenario in dict.fromkeys([req.base, req.scenario]):  # a what-if re-conditions the base fit
                if scenario not in prep.done:
                    prep.done[scenario] = self._forecast(prep, req, scenario)
            return prep.done[req.scenario]

    def prepare(self, frame: pl.DataFrame, req: Request, key: tuple[Any, ...]) -> Prepared:
        """Read the frame and run the logged backtest plan on it (only when intervals are calibrated on it)."""
        config = self.config
        history = read_history(config, frame, key[0])
        settings, data = req.settings, history.frame
        conformal = settings.intervals == "conformal"
        calibration = Calibration.none(settings) if "backtest" in config else Calibration(None)
        planned = _plan(config)
        if planned is not None:
            plan, oracle = planned
            settings = settings.replace(backtest=plan)
            entry = config["model"]
            lacks = not model_factory(entry["kind"], entry["params"])().get_tag("intervals")
            if conformal or lacks:  # the job's backtest also scores; here it only calibrates
                if oracle:  # the spec's oracle_exog: the backtest reads the true inputs
                    provider = make_provider(config.get("exog_providers") or {}, oracle_exog=True, full=data)
                else:
                    provider = provider_for(config, history, req.base)
                _, calibration = calibrated_backtest(data, self.models, settings, provider)
        return Prepared(key, frame, history, settings, calibration)

    def _forecast(self, prep: Prepared, req: Request, scenario: str) -> pl.DataFrame:
        """One scenario's forecast: fitted under the base scenario, re-conditioned for a what-if."""
        settings, data, names = prep.settings, prep.history.frame, list(self.models)
        provider = provider_for(self.config, prep.history, scenario)
        base = scenario == req.base
        fc = scenario_forecast(
            data, self.models, req.h, settings, provider, prep.calibration, state=prep.state, refit=base
        )
        stored = self.calibration is not None and "backtest" not in self.config
        if stored and 0 < req.h <= int(self.config.get("calibration_h") or 0):
            assert self.calibration is not None
            fc = calibrate_forecast(fc, self.calibration, settings, names)
        return fc.with_columns(pl.lit(scenario).alias(SCENARIO))


def forecast_history(
    config: dict[str, Any], frame: pl.DataFrame, params: dict[str, Any], *, calibration: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The job's forecast from a history frame (module docstring): :meth:`HistoryForecaster.predict` once."""
    return HistoryForecaster(config, calibration).predict(frame, params)
