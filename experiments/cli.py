"""The ``gridcast`` command line.

Exit codes (also in ``gridcast --help``): 0 ok; 2 bad input data or spec (nothing written); 3 tracking store
unavailable (outputs kept); 4 every model failed; 5 another job holds the output folder's lock; 6 an input feed
is older than its ``max_age`` and the spec says ``stale = "fail"``; 7 the outputs could not be written (read-only
or full filesystem; nothing published).
"""

from __future__ import annotations

from experiments import threads  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from experiments.atomic import OutputError
from experiments.cli_args import CONFIG_META, check_out_root, remember_config
from experiments.inputs.freshness import StaleFeedError
from experiments.inputs.spec import SpecError
from experiments.jobs.lock import LockHeld
from experiments.tracking.client import TrackingError
from experiments.tracking.promotion import PromotionError
from features.errors import MAX_MESSAGE, MAX_PART, DataError, shorten
from forecast.backtest import BacktestPlanError

if TYPE_CHECKING:
    from experiments.inputs.executor import ExecutorChoice
    from experiments.jobs.log import JobLog

EXIT_BAD_INPUT = 2
EXIT_TRACKING = 3
EXIT_ALL_FAILED = 4
EXIT_LOCKED = 5
EXIT_STALE = 6
EXIT_OUTPUT = 7

EXIT_CODES = """Exit codes: 0 ok; 2 bad input data or spec (nothing written); 3 tracking store unavailable (outputs
kept); 4 every model failed; 5 another job holds the output folder's lock; 6 an input feed is stale and its spec
says stale = "fail"; 7 the outputs could not be written (read-only or full filesystem; nothing published)."""


class AllModelsFailed(RuntimeError):
    """No requested model produced a forecast for any series (only the fallback did)."""


class _Group(click.Group):
    """Maps the project's error types to exit codes with a one-line message on stderr."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (DataError, SpecError) as exc:
            click.echo(f"gridcast: error: {shorten(str(exc), MAX_MESSAGE)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except BacktestPlanError as exc:  # the plan does not fit the data: the spec's [backtest] keys
            spec = ctx.meta.get(CONFIG_META, "spec")
            click.echo(f"gridcast: error: {spec}: key 'backtest': {shorten(str(exc), MAX_PART)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except PromotionError as exc:
            click.echo(f"gridcast: promote: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except TrackingError as exc:
            click.echo(f"gridcast: tracking unavailable (outputs kept): {exc}", err=True)
            sys.exit(EXIT_TRACKING)
        except AllModelsFailed as exc:
            click.echo(f"gridcast: every model failed: {exc}", err=True)
            sys.exit(EXIT_ALL_FAILED)
        except LockHeld as exc:
            click.echo(f"gridcast: {exc}", err=True)
            sys.exit(EXIT_LOCKED)
        except StaleFeedError as exc:
            click.echo(f"gridcast: stale input: {exc}", err=True)
            sys.exit(EXIT_STALE)
        except OutputError as exc:
            click.echo(f"gridcast: {exc}", err=True)
            sys.exit(EXIT_OUTPUT)


CONFIG = click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(path_type=Path),
    callback=remember_config,
    help="Experiment spec (TOML).",
)
OUT = click.option(
    "--out-root",
    default=Path("out"),
    show_default=True,
    type=click.Path(path_type=Path),
    callback=check_out_root,
    help="Output folder.",
)
NO_TRACK = click.option("--no-tracking", is_flag=True, help="Do not log to MLflow (outputs only).")


@click.group(cls=_Group, epilog=EXIT_CODES)
@click.version_option(package_name="gridcast")
def cli() -> None:
    """gridcast: forecasts of energy-grid attrition under strike tempo and weather."""


@cli.command("demo-data")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write into.")
@click.option("--seed", default=20221010, show_default=True, type=int)
def demo_data(out: Path, seed: int) -> None:
    """Write the deterministic synthetic demo dataset (raw shapes of the real sources)."""
    from experiments.demo import write_demo_data

    manifest = write_demo_data(out, seed=seed)
    click.echo(f"demo data in {out} ({_describe(manifest)})")


def _describe(manifest: object) -> str:
    files = getattr(manifest, "files", {})
    return ", ".join(f"{Path(k).name}: {getattr(v, 'rows', '?')} rows" for k, v in files.items()) or "complete"


@cli.command()
@CONFIG
def validate(config: Path) -> None:
    """Validate a spec and every input it names; print what would be modelled."""
    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.spec import load_spec

    spec = load_spec(config)
    ds = load_dataset(spec)
    n = ds.frame["unique_id"].n_unique()
    click.echo(f"{config}: ok: {n} series, {ds.frame.height} rows to {ds.as_of}, exog {ds.exog or 'none'}")
    click.echo(ds.gaps.summary())


@cli.command()
@CONFIG
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Parquet file to write.")
def features(config: Path, out: Path) -> None:
    """Write the target with every input column and indicator of a spec (Parquet), aligned on (unique_id, ds)."""
    from experiments.atomic import atomic_file
    from experiments.inputs.dataset import load_dataset
    from experiments.inputs.spec import load_spec

    data = load_dataset(load_spec(config))
    assert data.features is not None
    with atomic_file(out) as partial:
        data.features.write_parquet(partial, statistics=False)
    cols = [c for c in data.features.columns if c not in ("unique_id", "ds")]
    click.echo(f"{out}: {data.features.height} rows, columns {', '.join(cols)}")


@cli.command()
def warmup() -> None:
    """Compile every numba kernel into the on-disk cache, so scheduled jobs start fast."""
    import time

    from features.indicators import kernels

    start = time.perf_counter()
    info = kernels.warmup()
    took = time.perf_counter() - start
    mode = "numba" if kernels.NUMBA_ENABLED else "pure Python (GRIDCAST_NO_NUMBA set)"
    click.echo(f"warm-up ({mode}) in {took:.2f} s: {info}")


AS_OF = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Forecast as of this day (YYYY-MM-DD): every input is read only up to it. Default: the spec's, else the "
    "target's last day.",
)


def _executor_options(fn: Any) -> Any:
    """``--executor``, ``--workers``, ``--address``: where the job computes its series (over the spec's
    ``[executor]``; experiments/inputs/executor.py)."""
    fn = click.option(
        "--address", help="A running Dask scheduler (tcp://host:8786) for --executor dask; default: a local cluster."
    )(fn)
    fn = click.option(
        "--workers", type=click.IntRange(min=1), help="Worker processes (default: every core the job may use)."
    )(fn)
    return click.option(
        "--executor",
        type=click.Choice(["serial", "processes", "dask"]),
        help="Where the series are computed; the numbers are the same on each. Default: the spec's [executor], "
        "else $GRIDCAST_EXECUTOR, else processes.",
    )(fn)


def _choice(executor: str | None, workers: int | None, address: str | None) -> ExecutorChoice:
    from experiments.inputs.executor import ExecutorChoice

    return ExecutorChoice(executor, workers, address)


VERBOSE = click.option("--verbose", is_flag=True, help="Also show the libraries' own log records and warnings.")
SCENARIOS = click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Forecast only under these named scenarios of the spec (repeatable; baseline always runs). Default: all.",
)


def _log(spec_label: str, verbose: bool) -> JobLog:
    """The job's timestamped log on stdout; library noise off unless ``verbose``."""
    from experiments.jobs.log import JobLog, quiet_libraries

    if not verbose:
        quiet_libraries()
    return JobLog(click.echo, spec_label, bar=sys.stdout.isatty())


@cli.command(epilog=EXIT_CODES)
@CONFIG
@OUT
@NO_TRACK
@AS_OF
@_executor_options
@VERBOSE
def backtest(
    config: Path,
    out_root: Path,
    no_tracking: bool,
    as_of: datetime | None,
    executor: str | None,
    workers: int | None,
    address: str | None,
    verbose: bool,
) -> None:
    """Rolling-origin backtest of every model in the spec; logs one MLflow run per model."""
    from experiments.jobs.run import run_job

    log = _log(config.stem, verbose)
    day = as_of.date() if as_of else None
    where = _choice(executor, workers, address)
    _finish(
        run_job(config, kind="backtest", out_root=out_root, track=not no_tracking, as_of=day, log=log, executor=where)
    )


@cli.command(epilog=EXIT_CODES)
@CONFIG
@OUT
@NO_TRACK
@AS_OF
@SCENARIOS
@click.option(
    "--model",
    "model",
    help="A spec model the manifest selects for consumers (default: the backtest's best), or 'champion': the "
    "registry's @champion, fitted on this data alone.",
)
@_executor_options
@VERBOSE
def forecast(
    config: Path,
    out_root: Path,
    no_tracking: bool,
    as_of: datetime | None,
    scenarios: tuple[str, ...],
    model: str | None,
    executor: str | None,
    workers: int | None,
    address: str | None,
    verbose: bool,
) -> None:
    """Backtest to rank the models, then forecast ahead with each under every scenario; writes out/<spec>/<as-of>/
    and points out/<spec>/latest at it."""
    from experiments.jobs.run import run_job

    log = _log(config.stem, verbose)
    day = as_of.date() if as_of else None
    result = run_job(
        config,
        kind="forecast",
        out_root=out_root,
        track=not no_tracking,
        scenarios=list(scenarios),
        as_of=day,
        model=model,
        log=log,
        executor=_choice(executor, workers, address),
    )
    _finish(result)


@cli.command(epilog=EXIT_CODES)
@CONFIG
@OUT
@NO_TRACK
@SCENARIOS
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="First as-of day.")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last as-of day.")
@click.option("--every", default="1d", show_default=True, help="Step between as-of days: 1d, 7d, 2w …")
@click.option("--force", is_flag=True, help="Redo dates whose output folder already exists.")
@_executor_options
@VERBOSE
def backfill(
    config: Path,
    out_root: Path,
    no_tracking: bool,
    scenarios: tuple[str, ...],
    start: datetime,
    end: datetime,
    every: str,
    force: bool,
    executor: str | None,
    workers: int | None,
    address: str | None,
    verbose: bool,
) -> None:
    """Run the forecast job as of every date from --from to --to (one line per date); skips dates already done."""
    from experiments.jobs.backfill import as_of_dates, parse_every
    from experiments.jobs.backfill import backfill as run_backfill

    dates = as_of_dates(start.date(), end.date(), parse_every(every))
    log = _log(config.stem, verbose)
    outcomes = run_backfill(
        config,
        dates,
        out_root=out_root,
        track=not no_tracking,
        scenarios=list(scenarios),
        force=force,
        log=log,
        executor=_choice(executor, workers, address),
    )
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    log.line(f"backfill: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")
    if counts["failed"]:
        sys.exit(EXIT_BAD_INPUT)


def _finish(result: object) -> None:
    from experiments.jobs.run import JobResult

    assert isinstance(result, JobResult)
    click.echo(result.report())
    if result.tracking_error:
        raise TrackingError(result.tracking_error)
    if result.all_failed:
        raise AllModelsFailed(", ".join(result.failed_models))


def _uri(config: Path | None) -> str:
    from experiments.tracking.client import resolve_uri

    spec_uri = None
    if config is not None:
        from experiments.inputs.spec import load_spec

        spec_uri = load_spec(config).tracking.uri
    return resolve_uri(spec_uri)


EXPERIMENT = click.option("--experiment", required=True, help="MLflow experiment name (e.g. gridcast-demo).")
METRIC = click.option("--metric", default="mase", show_default=True, help="Metric to rank by (lower is better).")
SPEC_URI = click.option("--config", "config", type=click.Path(path_type=Path), help="Spec whose tracking URI to use.")


@cli.command()
@EXPERIMENT
@METRIC
@SPEC_URI
@click.option("--all-runs", is_flag=True, help="Every model run of the experiment, not only the latest job's.")
def compare(experiment: str, metric: str, config: Path | None, all_runs: bool) -> None:
    """Leaderboard of models × metrics from MLflow, best first."""
    from experiments.text import table
    from experiments.tracking.promotion import leaderboard

    board = leaderboard(_uri(config), experiment, metric, latest_only=not all_runs)
    keep = (
        ["model", metric]
        + [c for c in ("mase", "smape", "mae", "rmse", "crps", "bias") if c in board.columns and c != metric]
        + ["status", "run_id"]
    )
    click.echo(table(board.select([c for c in keep if c in board.columns])))


@cli.command()
@EXPERIMENT
@METRIC
@SPEC_URI
@click.option("--name", help="Registered model name (default: the spec's, as tagged on the runs).")
@click.option("--margin", type=float, help="Relative improvement needed to take @champion (default: the spec's).")
@click.option(
    "--allow-different",
    is_flag=True,
    help="Compare runs scored on different data or evaluation settings (refused by default).",
)
def promote(
    experiment: str, metric: str, config: Path | None, name: str | None, margin: float | None, allow_different: bool
) -> None:
    """Register the best run's model; move @champion only if it beats the champion by the margin.

    Directions: errors (mase, crps, winkler-80 …) lower; coverage-<L> closest to L/100; bias closest to 0."""
    from experiments.tracking.promotion import promote as do_promote

    promotion = do_promote(_uri(config), experiment, metric, name=name, margin=margin, allow_different=allow_different)
    click.echo(promotion.describe())


@cli.command()
@click.option("--config", "config", type=click.Path(path_type=Path), help="Spec whose tracking URI to use.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=5000, show_default=True, type=int)
def ui(config: Path | None, host: str, port: int) -> None:
    """Start the MLflow UI for the configured tracking store (loopback only unless --host says otherwise).

    A tracking server (http/https URI) is its own UI: its address is printed instead."""
    import os

    from experiments.tracking.client import redact

    uri = _uri(config)
    if uri.startswith(("http://", "https://")):
        click.echo(f"the tracking server {redact(uri)} serves its own UI: open it in a browser")
        return
    click.echo(f"MLflow UI for {redact(uri)} on http://{host}:{port}")
    argv, env = ui_command(Path(sys.executable).with_name("mlflow"), uri, host, port, os.environ)
    os.execve(argv[0], argv, env)


def ui_command(
    mlflow: Path, uri: str, host: str, port: int, env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow ui`` command line and environment ``gridcast ui`` runs: the store URI goes in the environment
    (``MLFLOW_BACKEND_STORE_URI``), not on a command line any user can read in ``ps``."""
    return [str(mlflow), "ui", "--host", host, "--port", str(port)], {**env, "MLFLOW_BACKEND_STORE_URI": uri}


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gridcast")


if __name__ == "__main__":
    main()
