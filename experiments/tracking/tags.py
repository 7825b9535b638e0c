"""The names gridcast writes on MLflow runs: one home for every tag key (read back by promotion and the UI)."""

from __future__ import annotations

KIND = "gridcast.kind"  # backtest or forecast
SPEC = "gridcast.spec"  # the spec's name
SPEC_HASH = "gridcast.spec_hash"
DATA_DIGEST = "gridcast.data_digest"
EVAL_HASH = "gridcast.eval_hash"  # what decides the scoring (experiments.inputs.spec.evaluation_hash)
AS_OF = "gridcast.as_of"
VERSION = "gridcast.version"
SCENARIO = "gridcast.scenario"
REGISTERED_MODEL = "gridcast.registered_model"  # registry name `gridcast promote` uses
PROMOTE_MARGIN = "gridcast.promote_margin"
MODEL = "gridcast.model"  # a child run's model (display name)
MODEL_KIND = "gridcast.model_kind"  # its registry class name
MODEL_URI = "gridcast.model_uri"  # the logged pyfunc model
FAILURE = "gridcast.failure"  # why a run ended FAILED
PID = "gridcast.pid"  # the job process that made the run (a RUNNING run of a gone pid is failed by the next job)
HOST = "gridcast.host"  # the host it ran on (a job only ever fails runs of its own host)
DECISION = "gridcast.decision"  # promotion: the alias given
CHAMPION_BEFORE = "gridcast.champion_before"
MARGIN = "gridcast.margin"

SOURCE_GIT_COMMIT = "mlflow.source.git.commit"
SOURCE_NAME = "mlflow.source.name"
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # what MlflowClient.log_table sets: the UI shows the file as a table
