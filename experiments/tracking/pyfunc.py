"""A fitted gridcast forecaster as an MLflow pyfunc model.

The logged model carries what a forecast needs: the model entry (name, kind, parameters, transform), the
:class:`~forecast.settings.ForecastSettings` under that transform, the training frame (``unique_id, ds, y`` and the
exogenous columns, as Parquet), and, as the job used them, the raw inputs its ``[paths]`` extend (with the
indicators recomputed along them), the backtest plan and the backtest residuals its intervals are calibrated on.

``predict`` takes one of two inputs, told apart by a ``y`` column:

- a *history frame* (``unique_id, ds, y`` and the raw input columns, ``y`` null where unknown; param ``as_of``,
  default the last observed ``y``): the model forecasts from these data as the job would, recomputing indicators,
  paths and calibrated intervals from them (:mod:`~experiments.tracking.pyfunc_history`; rows after the as-of
  with input values are supplied future inputs). ``models:/<name>@champion`` run on today's data gives the job's
  numbers;
- a *future frame* (``unique_id``, ``ds`` and, optionally, the exogenous columns for those periods): the model
  re-fits on the stored history and forecasts it — fits are deterministic, so a model loaded from the registry
  gives the numbers the job computed in-process.

Params of both: ``h``, ``level`` and ``scenario``; the forecast frame comes back.
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from experiments.tracking.pyfunc_history import HistoryForecaster, request_of, scenarios_of
from features.contract import DS, ID, SCENARIO, Y
from features.indicators import validate_indicator_specs
from forecast.calibration import calibrate_forecast
from forecast.core import forecast_frame, future_grid
from forecast.exog import DEFAULT_SCENARIO, ExogProvider, make_provider
from forecast.models.registry import model_factory
from forecast.scenarios import InputPathProvider

__all__ = ["FRAMES", "GridcastModel", "forecast_with", "log_forecaster", "scenarios_of", "signature"]

FRAMES = ("history", "inputs", "calibration")


class GridcastModel(mlflow.pyfunc.PythonModel):
    """Forecasts with one configured model from a history frame or the stored history (module docstring)."""

    def load_context(self, context: Any) -> None:
        self.config: dict[str, Any] = json.loads(Path(context.artifacts["config"]).read_text())
        self.frames = {k: pl.read_parquet(v) for k, v in context.artifacts.items() if k in FRAMES}
        self.today = HistoryForecaster(self.config, self.frames.get("calibration"))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frames = self.frames
        frame = pl.from_pandas(model_input)
        if Y in frame.columns:  # a history frame: forecast from these data
            return self.today.predict(frame, params or {}).to_pandas()
        return forecast_with(
            self.config,
            frames["history"],
            frame,
            params or {},
            inputs=frames.get("inputs"),
            calibration=frames.get("calibration"),
        ).to_pandas()


def _provider(config: dict[str, Any], inputs: pl.DataFrame | None, season_length: int, scenario: str) -> ExogProvider:
    columns = make_provider(config.get("exog_providers") or {})
    if not config.get("paths") or inputs is None:
        return columns
    indicators = validate_indicator_specs(config.get("indicators") or [])
    paths = {**config["paths"], **(config.get("scenarios") or {}).get(scenario, {})}
    return InputPathProvider(inputs, indicators, paths, season_length=season_length, fallback=columns)


def forecast_with(
    config: dict[str, Any],
    history: pl.DataFrame,
    future: pl.DataFrame,
    params: dict[str, Any],
    *,
    inputs: pl.DataFrame | None = None,
    calibration: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The forecast a logged model gives for ``future`` (rows name the series and periods) and ``params``, from
    the stored history."""
    req = request_of(config, params)
    settings, h, scenario = req.settings, req.h, req.scenario
    entry = config["model"]
    exog = list(settings.exog)
    if future.height and ID in future.columns:
        history = history.filter(pl.col(ID).is_in(future[ID].unique().to_list()))
    grid = future_grid(history, h, settings.freq)
    supplied = [c for c in exog if c in future.columns]
    if exog and len(supplied) == len(exog) and future.height:
        fut = future.select(ID, pl.col(DS).cast(history.schema[DS]), *exog)
        future_exog = grid.join(fut, on=[ID, DS], how="left")
    else:
        future_exog = _provider(config, inputs, settings.season_length, scenario).future(history, grid, exog)
    model = model_factory(entry["kind"], entry["params"])
    fc = forecast_frame(history, {entry["name"]: model}, h, settings, future_exog=future_exog)
    if calibration is not None and 0 < h <= int(config.get("calibration_h") or 0):
        fc = calibrate_forecast(fc, calibration, settings, [entry["name"]])
    return fc.with_columns(pl.lit(scenario).alias(SCENARIO))


def signature(exog: list[str], h: int, level: list[int], inputs: list[str] | tuple[str, ...] = ()) -> ModelSignature:
    """Input: a future frame (exogenous columns optional) or a history frame (``y`` and the raw ``inputs``, all
    optional columns: MLflow drops the columns a signature does not name); params: h, level, scenario and
    as_of (empty: the history frame's last observed ``y``; ignored for a future frame)."""
    optional = dict.fromkeys([*exog, Y, *inputs])
    cols = [ColSpec("string", ID), ColSpec("datetime", DS)] + [ColSpec("double", c, required=False) for c in optional]
    params = ParamSchema(
        [
            ParamSpec("h", "long", h),
            ParamSpec("level", "long", level, shape=(-1,)),
            ParamSpec("scenario", "string", DEFAULT_SCENARIO),
            ParamSpec("as_of", "string", ""),
        ]
    )
    return ModelSignature(inputs=Schema(cols), params=params)


def log_forecaster(
    run_id: str, config: dict[str, Any], frames: dict[str, pl.DataFrame], params: dict[str, str] | None = None
) -> str:
    """Log one configured model with its frames (``history``, and ``inputs``/``calibration`` when used) under
    ``run_id`` (``params`` recorded on the logged model); returns the model URI."""
    unknown = sorted(set(frames) - set(FRAMES))
    if unknown or "history" not in frames:
        raise ValueError(f"frames: expected history and optionally inputs, calibration; got {sorted(frames)}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.json"
        cfg.write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        artifacts = {"config": str(cfg)}
        for key, frame in frames.items():
            frame.write_parquet(Path(tmp) / f"{key}.parquet", statistics=False)
            artifacts[key] = str(Path(tmp) / f"{key}.parquet")
        with mlflow.start_run(run_id=run_id):  # the logged model belongs to the run's experiment
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=GridcastModel(),
                artifacts=artifacts,
                signature=signature(
                    config["settings"]["exog"], config["h"], config["settings"]["levels"], config.get("inputs") or ()
                ),
                params=params,
                # explicit requirements: inferring them imports and inspects the whole environment (slow)
                pip_requirements=[
                    f"gridcast=={version('gridcast')}",
                    f"mlflow=={version('mlflow')}",
                    f"polars=={version('polars')}",
                    f"statsmodels=={version('statsmodels')}",
                ],
            )
    return info.model_uri
