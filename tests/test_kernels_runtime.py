"""Op tables, cold start and the pure-Python fallback, partly in fresh processes (no timings asserted: speed lives in
the benchmark).

- the drivers, entry points and warm-up calls derive from the kernel modules' op tables;
- ``warmup()`` compiles or loads one signature per driver and exercises every op on float64 and float32;
- a second fresh process loads every driver from the on-disk cache (numba reports hits and no misses);
- ``GRIDCAST_NO_NUMBA=1`` never imports numba and gives the same numbers, exactly, for every indicator of the
  catalogue (two parameter variants each), on float64 and float32 inputs.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from features.indicators import INDICATORS, add_indicators, kernels
from features.indicators.kernels._ops import Op, OpTable

REPO = Path(__file__).resolve().parents[1]
needs_numba = pytest.mark.skipif(not kernels.NUMBA_ENABLED, reason="GRIDCAST_NO_NUMBA is set for this run")


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@needs_numba
def test_warmup_compiles_one_signature_per_driver_and_runs_every_kernel() -> None:
    report = kernels.warmup()
    assert report["numba"] is True
    assert set(report["drivers"]) == {"elementwise", "scan", "window"}
    for name, info in report["drivers"].items():
        assert len(info["signatures"]) == 1, name  # float32 is widened chunk-wise: no second compilation
        (signature,) = kernels.DRIVERS[name].signatures
        x, y, out = signature[1], signature[2], signature[7]
        assert (x.dtype.name, x.mutable, y.mutable, out.mutable) == ("float64", False, False, True), name
        assert info["cache_hits"] + info["cache_misses"] >= 1
    assert report["calls"] == 2 * len(kernels.OPS)  # every op, float64 and float32
    assert report["seconds"] >= 0


def test_drivers_are_if_chains_generated_from_the_op_tables() -> None:
    """One branch per distinct (call, pair call), codes in table order, ops with the same calls share a code; an op
    with a pair call has a loop over pairs of groups that falls back to its call; the driver is defined in (and
    cached against) its own module's file, under a name that carries a digest of its source."""
    assert len(kernels.OPS) >= 17
    for table in kernels.api.TABLES:
        source = table.source()
        assert source.count("op == ") == len(table.calls) == len(set(table.codes.values()))
        for name, op in table.ops.items():
            assert f"op == {table.codes[name]}:\n" in source
            assert op.call.strip().splitlines()[0] in source
            if op.pair is not None:  # the pair loop: its call, then the op's own call on the groups it leaves
                branch = source.split(f"if op == {table.codes[name]}:\n", 1)[1].split("return\n", 1)[0]
                assert f"left = {op.pair.strip()}" in branch and op.call.strip().splitlines()[0] in branch
        fn = getattr(table.driver, "py_func", table.driver)
        assert fn.__code__.co_filename == sys.modules[table.module].__file__
        assert fn.__qualname__.startswith(f"{table.shape}_driver_") and fn.__module__ == table.module
        assert kernels.DRIVERS[table.shape] is table.driver
    window = sys.modules["features.indicators.kernels.window"].OPS
    assert window.codes["rolling_min"] == window.codes["rolling_max"]
    assert window.codes["rolling_sum"] == window.codes["rolling_mean"]  # one pair kernel, the flag outside its loops
    assert window.pairs[window.codes["rolling_mean"]] is not None


def test_a_call_of_an_unknown_function_is_rejected_when_the_table_is_built(tmp_path: Path) -> None:
    module = types.ModuleType("gridcast_test_shape")
    module.__file__ = str(tmp_path / "gridcast_test_shape.py")
    sys.modules[module.__name__] = module
    try:
        table = OpTable(module.__name__, (Op("twice", "twice_1d(x, out)"),))
        with pytest.raises(ValueError, match="the call of op 'twice' uses 'twice_1d', not a module name"):
            table.compile_driver()
        with pytest.raises(ValueError, match="declared twice"):
            OpTable(module.__name__, (Op("twice", "f(x)"), Op("twice", "g(x)")))
    finally:
        del sys.modules[module.__name__]


def test_entry_points_follow_the_op_tables() -> None:
    """``grouped_<name>`` for every op, exported by the package, with the op's inputs, ``indptr`` and parameters in
    its signature (defaults as declared; ``None`` for derived defaults) and the op's docstring."""
    for name, (_, op) in kernels.OPS.items():
        entry = getattr(kernels, f"grouped_{name}")
        assert entry is kernels.ENTRY_POINTS[f"grouped_{name}"] and f"grouped_{name}" in kernels.__all__
        params = inspect.signature(entry).parameters
        assert list(params) == [*op.inputs, "indptr", *(p.name for p in op.params)]
        for p in op.params:
            default = params[p.name].default
            assert default is inspect.Parameter.empty if p.required else default in (p.default, None)
        assert entry.__doc__ == op.doc and entry.__name__ == f"grouped_{name}"


_WARMUP = """
    import json
    from features.indicators.kernels import warmup
    print(json.dumps(warmup()))
"""


@needs_numba
@pytest.mark.slow
def test_a_fresh_process_loads_every_driver_from_the_disk_cache() -> None:
    run_python(_WARMUP)  # compiles if the cache is cold (e.g. a fresh clone), else loads
    report = json.loads(run_python(_WARMUP).stdout)
    for name, info in report["drivers"].items():
        assert info["cache_misses"] == 0, f"{name} was compiled again in a fresh process: the disk cache missed"
        assert info["cache_hits"] == 1, name


def test_start_warmup_runs_in_the_background_and_reports() -> None:
    thread = kernels.start_warmup()
    thread.join(timeout=600)
    assert not thread.is_alive()
    assert thread.report is not None  # type: ignore[attr-defined]
    assert thread.report["calls"] == 2 * len(kernels.OPS)  # type: ignore[attr-defined]


def _rolling_sum_total(values: np.ndarray, indptr: np.ndarray) -> float:
    return float(np.nansum(kernels.grouped_rolling_mean(values, indptr, 5)))


def test_threaded_kernels_still_run_in_a_forked_child() -> None:
    """The kernel thread pool is per process: a child forked after the parent used it makes its own (the parent's
    threads do not exist in the child, so reusing that pool would hang)."""
    values = np.random.default_rng(0).normal(size=300_000)
    indptr = np.arange(0, values.size + 1, 1000, dtype=np.int64)
    expected = _rolling_sum_total(values, indptr)  # the parent creates its pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_rolling_sum_total, (values, indptr)).get(timeout=120) == expected


def _frame(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 3, 150, 57, 1]
    n = sum(sizes)
    temp = rng.normal(2.0, 9.0, n)
    temp[rng.random(n) < 0.15] = np.nan
    launched = rng.poisson(4.0, n).astype(float)
    launched[rng.random(n) < 0.1] = np.nan
    return pl.DataFrame(
        {
            "unique_id": np.repeat([f"s{g}" for g in range(len(sizes))], sizes),
            "ds": np.concatenate([np.arange(k) for k in sizes]),
            "temp_mean_c": temp,
            "t_min_c": temp - rng.uniform(0, 8, n),
            "t_max_c": temp + rng.uniform(0, 8, n),
            "launched": launched,
        }
    ).with_columns(pl.col("launched").fill_nan(None))


def _specs(variant: int) -> list[dict[str, Any]]:
    """Every catalogue entry once, with the first (variant 0) or last (1) example of every parameter."""
    columns = {"t_min": "t_min_c", "t_max": "t_max_c", "temp": "temp_mean_c", "hdd": "hdd_c"}
    specs = []
    for name, defn in INDICATORS.items():
        table: dict[str, Any] = {"name": name}
        for p in defn.params:
            if p.kind == "column":
                weather = name in {"hdd", "cold_exposure", "cold_spell_len"}
                table[p.name] = "temp_mean_c" if weather else columns.get(p.name, "launched")
            elif p.examples and (p.required or variant):
                table[p.name] = p.examples[-variant]
        if name == "damage_hdd":
            table["damage"] = next(s["output"] for s in specs if s["name"] == "damage_stock")
        table["output"] = f"{name}_out"
        specs.append(table)
    return specs


_FALLBACK = """
    import json, sys
    import polars as pl
    from features.indicators import kernels
    from features.indicators import add_indicators

    assert not kernels.NUMBA_ENABLED
    assert "numba" not in sys.modules, "fallback mode must not import numba"
    assert not hasattr(kernels.DRIVERS["scan"], "py_func"), "drivers must be plain functions"
    assert kernels.warmup()["drivers"] == {}
    frame = pl.read_parquet(sys.argv[1])
    for i, specs in enumerate(json.loads(sys.argv[2])):
        add_indicators(frame, specs).write_parquet(f"{sys.argv[3]}_{i}.parquet")
"""


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [pl.Float64, pl.Float32])
def test_pure_python_fallback_gives_the_same_numbers_for_every_indicator(tmp_path: Path, dtype: pl.DataType) -> None:
    frame = _frame(7).with_columns(pl.col("temp_mean_c", "t_min_c", "t_max_c", "launched").cast(dtype))
    frame.write_parquet(tmp_path / "in.parquet")
    specs = [_specs(0), _specs(1)]
    hdd = {"name": "hdd", "input": "temp_mean_c"}  # damage_hdd reads hdd_c
    specs = [[hdd, *s] for s in specs]
    run_python(
        _FALLBACK,
        str(tmp_path / "in.parquet"),
        json.dumps(specs),
        str(tmp_path / "out"),
        env={"GRIDCAST_NO_NUMBA": "1"},
    )
    for i, variant in enumerate(specs):
        ours = add_indicators(frame, variant)
        fallback = pl.read_parquet(tmp_path / f"out_{i}.parquet")
        assert fallback.columns == ours.columns
        for column in ours.columns[frame.width :]:
            assert fallback[column].equals(ours[column]), f"variant {i}: {column} differs without numba"
            assert ours[column].null_count() < ours.height, f"variant {i}: {column} is all null (weak test)"
