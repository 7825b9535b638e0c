# gridcast — every target does its own set-up on a fresh machine (Python 3.11 and make are all it needs).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
SPEC   ?= experiments/specs/demo.toml
DEMO   := data/demo

.PHONY: install forecast backtest demo-data test test-slow lint ui warmup bench bench-features bench-models bench-tracking bench-scenarios bench-job bench-scale bench-report clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# requirements.lock is generated from pyproject.toml by `uv pip compile` (see README); hashes pin every wheel.
# Bytecode is compiled at install: every `gridcast` process (cron jobs, test subprocesses) then starts without
# recompiling MLflow & co., also where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): requirements.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) --require-hashes --compile-bytecode -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	$(PY) -m compileall -q features forecast experiments
	touch $(STAMP)

install: $(STAMP)

$(DEMO)/.complete: | $(STAMP)
	$(VENV)/bin/gridcast demo-data --out $(DEMO)

demo-data: $(DEMO)/.complete

# the scheduled job on the demo: baseline plus two what-ifs (strikes doubled, a week 8 °C colder)
SCENARIOS ?= --scenario surge --scenario cold_snap
forecast: install demo-data
	$(VENV)/bin/gridcast forecast --config $(SPEC) $(SCENARIOS)

backtest: install demo-data
	$(VENV)/bin/gridcast backtest --config $(SPEC)

# the suite on every core; the acceptance runs over the full demo, real processes and a browser are `slow` and have
# their own target (CI runs both: .ci/run)
test: install
	$(PY) -m pytest -n auto -m "not slow"

test-slow: install
	$(PY) -m pytest -n auto -m slow

# pip-audit on the lock, pinned and isolated (uv tool run); prints each finding and fails on one. A database that
# cannot be reached is printed as NOT AUDITED, never as clean; AUDIT_STRICT=1 makes that fail too (.ci/audit_lock.py)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) .ci/audit_lock.py --uv $(UV) requirements.lock

ui: install
	$(VENV)/bin/gridcast ui --config $(SPEC)

warmup: install
	$(VENV)/bin/gridcast warmup

# Speed goals are measured here, as ratios against named baselines (results in benchmarks/results/*.json).
bench-features: install
	$(PY) -m benchmarks.bench_features

bench-models: install
	$(PY) -m benchmarks.bench_models

bench-tracking: install
	$(PY) -m benchmarks.bench_tracking

bench-scenarios: install demo-data
	$(PY) -m benchmarks.bench_scenarios --specs demo,dnipro

# the demo job end to end, as a second `make forecast` (fresh processes, stage times from the job's log)
bench-job: install demo-data
	$(PY) -m benchmarks.bench_job --baseline

# throughput and peak memory over 1,000-20,000 series on serial / processes / Dask against statsforecast, and the
# ingestion of a 10M-row Parquet file (about 20 min; --quick for a smoke run)
bench-scale: install
	$(PY) -m benchmarks.bench_scale

# every results/*.json in one table: benchmarks/results/latest.json and latest.md
bench-report: install
	$(PY) -m benchmarks.bench_report

# every benchmark, one after another (don't run with -j: they time the whole machine), then the report
bench: bench-features bench-models bench-tracking bench-scenarios bench-job bench-scale
	$(PY) -m benchmarks.bench_report

clean:
	rm -rf out data/demo mlruns.db mlartifacts .pytest_cache
