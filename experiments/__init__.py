"""Specs, jobs, tracking and the command line: :mod:`experiments.inputs` (spec → settings and dataset),
:mod:`experiments.jobs` (backtest and forecast jobs), :mod:`experiments.tracking` (everything MLflow),
:mod:`experiments.demo` (the synthetic demo dataset) and :mod:`experiments.cli` (``gridcast``)."""
