"""The numbers of a job: the backtest (calibrated, scored) and the forecast under every scenario.

Each model is fitted once per series for the forecast: the first scenario fits it, the others re-condition the
fitted model on the same history (:meth:`forecast.models.base.Forecaster.update`, which keeps the estimated
parameters) and forecast under their own future inputs. A scenario therefore changes the inputs only, never the
fitted parameters, and the job costs one fit per model and series however many scenarios it runs.

The backtest and the calibration of every scenario's intervals are :mod:`forecast.scenarios.runner`'s (sampled
input paths or not), the same functions the logged model calls on today's data.
"""

from __future__ import annotations

import polars as pl

from experiments.inputs.dataset import Dataset
from experiments.inputs.settings import build_models, exog_provider
from experiments.inputs.spec import ExperimentSpec
from experiments.inputs.vintages import rescored
from experiments.jobs.log import JobLog
from experiments.jobs.outputs import JobFrames, stable
from features.contract import DS, FALLBACK, ID, MEAN, MODEL, SCENARIO
from forecast.core import forecast_frame_with_state, future_grid
from forecast.engine import fallback_factory
from forecast.exog import ExogProvider
from forecast.hierarchy import Hierarchy
from forecast.metrics import evaluate
from forecast.parallel import current_run
from forecast.scenarios.coherent import (
    LevelCalibration,
    coherent_backtest,
    coherent_forecasts,
    helped_lines,
    level_scores,
    levels_table,
)
from forecast.scenarios.runner import (
    Calibration,
    calibrated_backtest,
    forecast_note,
    is_sampled,
    scenario_forecasts,
)
from forecast.settings import ForecastSettings

DELTA_MEAN = "delta_mean"  # a scenario's mean minus the base scenario's


def compute(
    spec: ExperimentSpec,
    data: Dataset,
    settings: ForecastSettings,
    kind: str,
    providers: dict[str, ExogProvider],
    log: JobLog,
    *,
    regime: pl.DataFrame | None = None,
    switch: list[str] | None = None,
    truth: pl.DataFrame | None = None,
    hierarchy: Hierarchy | None = None,
) -> JobFrames:
    """The backtest (intervals calibrated, then scored; under the base scenario) when the spec has a plan, and the
    forecast under every scenario of ``providers`` for a forecast job (intervals calibrated on the same backtest).
    Where calibration is impossible the models' own intervals are kept and ``interval_note`` says why (in the frames
    and the job's report). ``truth`` (``[backtest] score_against``) replaces ``y`` in the scored backtest.

    With a ``hierarchy`` (``data`` then holds every level's series) the backtest and the forecasts are those of
    :mod:`forecast.scenarios.coherent`: every level modelled, reconciled by the spec's methods and calibrated level
    by level; the job's ``reconciliation`` table says per level whether reconciliation helped."""
    base = next(iter(providers))
    models = build_models(spec)
    names = list(models)
    out = JobFrames(regime=regime)
    calibration: Calibration | LevelCalibration = Calibration.none(settings)
    if hierarchy is not None:
        out.levels = levels_table(hierarchy)
    if settings.backtest is not None:
        assert spec.backtest is not None
        with log.stage("backtest") as stage:
            provider = exog_provider(spec, data, oracle=True) if spec.backtest.oracle_exog else providers[base]
            if hierarchy is None:
                scored, calibration = calibrated_backtest(
                    data.frame, models, settings, provider, progress=stage.progress
                )
                out.interval_note = calibration.note
            else:
                assert spec.hierarchy is not None
                scored, calibration = coherent_backtest(
                    data.frame,
                    models,
                    settings,
                    provider,
                    hierarchy,
                    spec.hierarchy.methods,
                    min_windows=spec.hierarchy.min_windows,
                    progress=stage.progress,
                )
                out.interval_note = calibration.note
            scored = scored if truth is None else rescored(scored, truth)
            out.backtest = scored.with_columns(pl.lit(base).alias(SCENARIO))
            naive2 = next((e.name for e in spec.model_entries() if e.kind == "naive2"), None)  # the OWA reference
            scores = evaluate(out.backtest, data.frame, spec.season_length, naive2=naive2)
            out.per_series, out.per_step, out.overall = (
                stable(scores[k]) for k in ("per_series", "per_step", "overall")
            )
            n_windows = out.backtest.get_column("cutoff").n_unique()
            paths = f", {provider.samples} sampled input paths" if is_sampled(provider) else ""
            against = f", scored against the {spec.backtest.score_against} version" if truth is not None else ""
            levels = ""
            if hierarchy is not None:
                levels = f" on {len(hierarchy.levels)} levels, reconciled {'/'.join(spec.hierarchy.methods)}"
            stage.summary = (
                f"{n_windows} cutoffs, {len(names)} models, {data.frame[ID].n_unique()} series{levels}{paths}{against}"
                f"{_on()}"
            )
        if hierarchy is not None:
            out.reconciliation = stable(level_scores(out.per_series, hierarchy, names))
            for line in helped_lines(out.reconciliation):
                log.line(f"reconciliation: {line}")
    else:
        out.interval_note = calibration.note
    if kind == "forecast":
        with log.stage("forecast") as stage:
            h = spec.forecast.h
            chosen = list(providers.values())
            if isinstance(calibration, LevelCalibration):
                assert hierarchy is not None
                out.interval_note = calibration.forecast_note(h)
                frames = coherent_forecasts(data.frame, models, h, settings, chosen, calibration, hierarchy)
            else:
                out.interval_note = forecast_note(settings, calibration, h)
                frames = scenario_forecasts(data.frame, models, h, settings, chosen, calibration)
            parts = [f.with_columns(pl.lit(name).alias(SCENARIO)) for f, name in zip(frames, providers, strict=True)]
            out.forecast = against_base(pl.concat(parts, how="diagonal_relaxed"), base)
            if switch:
                out.forecast = _switched(spec, data, settings, providers, out, switch)
            stage.summary = f"{len(providers)} scenario(s) × {len(names)} models, h = {spec.forecast.h}{_on()}"
    return out


def _on() -> str:
    """Where the stage's series ran, for its log line: `` on 2 processes`` (nothing outside an executor)."""
    run = current_run()
    return "" if run is None else f" on {run.executor.describe()}"


def _switched(
    spec: ExperimentSpec,
    data: Dataset,
    settings: ForecastSettings,
    providers: dict[str, ExogProvider],
    out: JobFrames,
    switch: list[str],
) -> pl.DataFrame:
    """The forecast with the series in ``switch`` (regime breaks, ``on_regime_break = "fallback"``) forecast by the
    spec's fallback model in every model's rows, the reason in ``fallback_reason``; intervals are the fallback's."""
    assert out.forecast is not None and out.regime is not None
    names = list(spec.models)
    fallback = fallback_factory(spec.fallback, spec.season_length)
    assert fallback is not None
    subset = data.frame.filter(pl.col(ID).is_in(switch))
    grid = future_grid(subset, spec.forecast.h, spec.freq)
    reasons = out.regime.group_by(ID, maintain_order=True).agg(pl.col("detail").str.join("; ").alias("_why"))
    parts = []
    for name, provider in providers.items():
        future = provider.future(subset, grid, data.exog)
        fc = forecast_frame_with_state(
            subset, dict.fromkeys(names, fallback), spec.forecast.h, settings, future_exog=future
        )
        parts.append(fc.with_columns(pl.lit(name).alias(SCENARIO)))
    replaced = pl.concat(parts, how="diagonal_relaxed").join(reasons, on=ID, how="left")
    replaced = replaced.with_columns(
        pl.format("regime break: {}; used {}", pl.col("_why"), pl.lit(spec.fallback)).alias(FALLBACK)
    ).drop("_why")
    # a base model's rows of a switched series are replaced; reconciled rows (a hierarchy's) are kept as they are
    kept = out.forecast.filter(~(pl.col(ID).is_in(switch) & pl.col(MODEL).is_in(names))).drop(DELTA_MEAN)
    base = next(iter(providers))
    merged = pl.concat([kept, replaced], how="diagonal_relaxed").select(kept.columns)
    keys = {  # the rows' order before the switch: scenario blocks, then series, model and ds
        SCENARIO: list(providers),
        ID: data.frame.get_column(ID).unique(maintain_order=True).to_list(),
        MODEL: out.forecast.get_column(MODEL).unique(maintain_order=True).to_list(),
    }
    merged = merged.sort(
        [pl.col(c).replace_strict({v: i for i, v in enumerate(vals)}) for c, vals in keys.items()] + [pl.col(DS)]
    )
    return against_base(merged, base)


def against_base(frame: pl.DataFrame, base: str) -> pl.DataFrame:
    """``frame`` with ``delta_mean``: each row's mean minus the base scenario's for the same model, series and ds
    (0 on the base rows)."""
    keys = [MODEL, ID, DS]
    ref = frame.filter(pl.col(SCENARIO) == base).select(*keys, pl.col(MEAN).alias("_base"))
    joined = frame.join(ref, on=keys, how="left", maintain_order="left")
    return joined.with_columns((pl.col(MEAN) - pl.col("_base")).alias(DELTA_MEAN)).drop("_base")
