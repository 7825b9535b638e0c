"""Indicator catalogue: spec validation (errors name the key) and add_indicators on canonical frames."""

from __future__ import annotations

import datetime as dt
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import DataError
from features.indicators import (
    INDICATORS,
    IndicatorSpec,
    IndicatorSpecError,
    add_indicators,
    column_params,
    compute_indicator,
    input_columns,
    validate_indicator_specs,
)
from features.indicators.grouped import GroupedArray
from features.indicators.kernels import ewm_alpha, grouped_ewm

DOCS = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
NAN = float("nan")
KNOWN = ", ".join(sorted(INDICATORS))


def _frame() -> pl.DataFrame:
    day = [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]
    return pl.DataFrame(
        {
            "unique_id": ["kyiv"] * 4 + ["lviv"] * 3,
            "ds": day + day[:3],
            "y": [2.0, 4.0, None, 8.0, 1.0, 0.0, 3.0],
            "temp_mean_c": [-2.0, 16.0, None, 15.0, NAN, 5.0, 20.0],
            "t_min_c": [-6.0, 10.0, -1.0, -3.0, -2.0, 1.0, 12.0],
            "t_max_c": [1.0, 20.0, None, 4.0, 3.0, 9.0, 25.0],
            "launched": pl.Series([10, 0, None, 4, 8, 0, 2], dtype=pl.Int64),
        }
    )


_TEMPERATURE_INPUT = {"hdd", "cold_exposure", "cold_spell_len"}
_COLUMNS = {"t_min": "t_min_c", "t_max": "t_max_c", "temp": "temp_mean_c", "damage": "launched_damage", "hdd": "hdd_c"}


def catalogue_specs() -> list[dict[str, Any]]:
    """One spec per catalogue entry (its example parameters) on the columns of :func:`_frame`, in registry order;
    ``damage_hdd`` reads the outputs of ``damage_stock`` and ``hdd`` (chaining)."""
    specs = []
    for name, defn in INDICATORS.items():
        table = defn.example()
        for param in defn.column_params:
            table[param] = "temp_mean_c" if name in _TEMPERATURE_INPUT else _COLUMNS.get(param, "launched")
        specs.append(table)
    return specs


# --- validation -----------------------------------------------------------------------------------------------


def test_defaults_are_filled_and_ints_become_floats() -> None:
    hdd, ewm = validate_indicator_specs(
        [{"name": "hdd", "input": "temp_mean_c"}, {"name": "strike_ewm", "input": "launched", "half_life": 7}]
    )
    assert hdd == IndicatorSpec("hdd", {"input": "temp_mean_c", "base": 18.0, "threshold": 15.0}, "hdd_c")
    assert ewm.params["half_life"] == 7.0
    assert isinstance(ewm.params["half_life"], float)
    assert ewm.output == "launched_ewm7"


def test_output_names_default_per_indicator_and_can_be_overridden() -> None:
    specs = validate_indicator_specs(
        [
            {"name": "strike_ewm", "input": "launched", "half_life": 3.5},
            {"name": "strike_ewm", "input": "launched", "half_life": 3.5, "output": "tempo"},
            {"name": "hdd", "input": "temp_mean_c", "base": 20, "threshold": 16, "output": "hdd20_c"},
        ]
    )
    assert [s.output for s in specs] == ["launched_ewm3p5", "tempo", "hdd20_c"]


def test_validation_is_idempotent_and_specs_pickle() -> None:
    specs = validate_indicator_specs([{"name": "strike_ewm", "input": "launched", "half_life": 2}])
    assert validate_indicator_specs(specs) == specs
    assert validate_indicator_specs([s.to_dict() for s in specs]) == specs
    assert pickle.loads(pickle.dumps(specs)) == specs  # executors ship specs to worker processes


@pytest.mark.parametrize(
    ("specs", "key", "message"),
    [
        ([{"name": "hdd", "input": "t"}, {"name": "strike_ewm", "input": "s", "half_life": -3}],
         "features[1].half_life", "must be > 0, got -3"),
        ([{"name": "strike_ewm", "input": "s", "half_life": 0}], "features[0].half_life", "must be > 0, got 0"),
        ([{"name": "cdd", "input": "t"}], "features[0].name",
         f"unknown indicator 'cdd'; known indicators: {KNOWN}"),
        ([{"input": "t"}], "features[0].name", f"missing; known indicators: {KNOWN}"),
        ([{"name": 3}], "features[0].name", "expected a string, got int 3"),
        ([{"name": "hdd", "input": "t", "halflife": 3}], "features[0].halflife", "unknown parameter for 'hdd'"),
        ([{"name": "strike_ewm", "input": "s"}], "features[0].half_life", "missing required parameter"),
        ([{"name": "hdd"}], "features[0].input", "missing required parameter"),
        ([{"name": "strike_ewm", "input": "s", "half_life": "7"}], "features[0].half_life",
         "expected a number, got str '7'"),
        ([{"name": "hdd", "input": "t", "base": True}], "features[0].base", "expected a number, got bool True"),
        ([{"name": "hdd", "input": "t", "base": float("inf")}], "features[0].base", "must be a finite number"),
        ([{"name": "hdd", "input": 5}], "features[0].input", "expected a non-empty column name, got int 5"),
        ([{"name": "hdd", "input": ""}], "features[0].input", "expected a non-empty column name"),
        ([{"name": "hdd", "input": "t", "threshold": 20}], "features[0].threshold", "must be <= base (18.0), got 20"),
        ([{"name": "hdd", "input": "t", "output": ["x"]}], "features[0].output", "expected a non-empty column name"),
        ([{"name": "hdd", "input": "t"}, {"name": "hdd", "input": "u"}], "features[1].output",
         "duplicate output column 'hdd_c' (also features[0])"),
        (["hdd"], "features[0]", "must be a table, got str"),
        ([{"name": "hdd", "input": "t"}, {"name": "lag", "input": "s"},
          {"name": "damage_stock", "input": "s", "repair_rate": 3}], "features[2].repair_rate",
         "must be in [0, 1], got 3"),
        ([{"name": "damage_stock", "input": "s"}], "features[0].repair_rate", "missing required parameter"),
        ([{"name": "damage_stock", "input": "s", "repair_rate": 0.1, "cap": -1}], "features[0].cap",
         "must be >= 0, got -1"),
        ([{"name": "damage_stock", "input": "s", "repair_rate": 0.1, "weight": -2}], "features[0].weight",
         "must be >= 0, got -2"),
        ([{"name": "rolling_mean", "input": "s", "window": 7, "min_periods": 9}], "features[0].min_periods",
         "must be <= window (7), got 9"),
        ([{"name": "rolling_std", "input": "s", "window": 0}], "features[0].window", "must be >= 1, got 0"),
        ([{"name": "rolling_max", "input": "s", "window": 2.5}], "features[0].window", "expected an integer, got 2.5"),
        ([{"name": "rolling_sum", "input": "s"}], "features[0].window", "missing required parameter"),
        ([{"name": "burst_w", "input": "s", "window": 3, "min_periods": 0}], "features[0].min_periods",
         "must be >= 1, got 0"),
        ([{"name": "lag", "input": "s", "k": 0}], "features[0].k", "must be >= 1, got 0"),
        ([{"name": "days_since_strike", "input": "s", "k": 0}], "features[0].k", "must be > 0, got 0"),
        ([{"name": "cold_exposure", "input": "t", "half_life": -1}], "features[0].half_life", "must be > 0"),
        ([{"name": "cold_exposure", "input": "t", "half_life": 7, "threshold": 19}], "features[0].threshold",
         "must be <= base (18.0), got 19"),
        ([{"name": "freeze_thaw_w", "t_min": "lo", "window": 7}], "features[0].t_max", "missing required parameter"),
        ([{"name": "freeze_thaw_w", "input": "t", "t_min": "lo", "t_max": "hi", "window": 7}], "features[0].input",
         "unknown parameter for 'freeze_thaw_w'; allowed: name, t_min, t_max, window, min_periods, output"),
        ([{"name": "cold_spell_strikes", "input": "s", "temp": 3}], "features[0].temp",
         "expected a non-empty column name, got int 3"),
        ([{"name": "cold_spell_strikes", "input": "s", "temp": "t", "min_len": 0}], "features[0].min_len",
         "must be >= 1, got 0"),
        ([{"name": "damage_hdd", "damage": "d"}], "features[0].hdd", "missing required parameter"),
        ({"name": "hdd"}, "features", "must be a list of tables, got dict"),
    ],
)  # fmt: skip
def test_errors_name_the_offending_key(specs: Any, key: str, message: str) -> None:
    with pytest.raises(IndicatorSpecError) as info:
        validate_indicator_specs(specs)
    assert isinstance(info.value, ValueError)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: {message}")


def test_column_params_name_the_input_columns_of_every_indicator() -> None:
    assert column_params("freeze_thaw_w") == ["t_min", "t_max"]
    assert column_params({"name": "cold_spell_strikes"}) == ["input", "temp"]
    spec = validate_indicator_specs([{"name": "damage_hdd", "damage": "d", "hdd": "h"}])[0]
    assert column_params(spec) == ["damage", "hdd"]
    assert spec.input_columns == input_columns(spec.to_dict()) == ["d", "h"]
    assert input_columns({"name": "lag", "input": "launched"}) == ["launched"]
    for name, defn in INDICATORS.items():
        assert column_params(name) == list(defn.column_params)
        assert all(p.kind == "column" for p in defn.params if p.name in column_params(name))
    with pytest.raises(IndicatorSpecError, match="unknown indicator 'cdd'"):
        column_params("cdd")
    with pytest.raises(IndicatorSpecError, match=r"spec\.window: missing required parameter"):
        input_columns({"name": "rolling_mean", "input": "x"})


def test_catalogue_examples_validate_round_trip_and_pickle() -> None:
    specs = validate_indicator_specs(catalogue_specs())
    assert [s.name for s in specs] == list(INDICATORS)
    assert validate_indicator_specs([s.to_dict() for s in specs]) == specs
    assert pickle.loads(pickle.dumps(specs)) == specs
    damage = next(s for s in specs if s.name == "damage_stock")
    assert damage.params == {"input": "launched", "weight": 1.0, "repair_rate": 0.1, "cap": None}
    rolling = next(s for s in specs if s.name == "rolling_mean")
    assert rolling.params["min_periods"] == rolling.params["window"] == 7  # min_periods defaults to the window


def test_default_output_names() -> None:
    tables = [
        {"name": "cold_exposure", "input": "t", "half_life": 2.5},
        {"name": "cold_spell_len", "input": "t", "threshold": -5},
        {"name": "freeze_thaw_w", "t_min": "lo", "t_max": "hi", "window": 7},
        {"name": "damage_stock", "input": "launched", "repair_rate": 0.1, "cap": 50},
        {"name": "days_since_strike", "input": "launched", "k": 10},
        {"name": "burst_w", "input": "launched", "window": 7, "level": 20},
        {"name": "cold_spell_strikes", "input": "launched", "temp": "t"},
        {"name": "damage_hdd", "damage": "launched_damage", "hdd": "hdd_c"},
        {"name": "lag", "input": "y", "k": 7},
        {"name": "rolling_std", "input": "y", "window": 28},
        {"name": "expanding_mean", "input": "y"},
    ]
    assert [s.output for s in validate_indicator_specs(tables)] == [
        "cold_exposure_hl2p5",
        "cold_spell_len_ltm5",
        "freeze_thaw_7",
        "launched_damage",
        "launched_days_since_ge10",
        "launched_burst7_gt20",
        "launched_cold_spell_lt0",
        "launched_damage_x_hdd_c",
        "y_lag7",
        "y_rolling_std28",
        "y_expanding_mean",
    ]


def test_error_path_prefix_follows_the_spec_table() -> None:
    with pytest.raises(IndicatorSpecError, match=re.escape("model.features[0].half_life: must be > 0")):
        validate_indicator_specs([{"name": "strike_ewm", "input": "s", "half_life": -1}], path="model.features")


# --- add_indicators -------------------------------------------------------------------------------------------


def test_appends_float64_columns_in_row_order_and_keeps_the_rest() -> None:
    frame = _frame()
    out = add_indicators(
        frame,
        [{"name": "hdd", "input": "temp_mean_c"}, {"name": "strike_ewm", "input": "launched", "half_life": 1}],
    )
    assert out.columns == [*frame.columns, "hdd_c", "launched_ewm1"]
    assert out.schema["hdd_c"] == out.schema["launched_ewm1"] == pl.Float64
    assert out.select(frame.columns).equals(frame)
    # hdd: -2 → 20, 16 → 0, null → null, 15 → 3 (threshold inclusive); NaN input → null; 5 → 13; 20 → 0
    assert out["hdd_c"].to_list() == [20.0, 0.0, None, 3.0, None, 13.0, 0.0]
    # half-life 1 → alpha 0.5; the null is skipped (state carried); lviv starts afresh at 8
    assert out["launched_ewm1"].to_list() == [10.0, 5.0, 5.0, 4.5, 8.0, 4.0, 3.0]


def test_nan_results_are_nulls_not_nans() -> None:
    out = add_indicators(_frame(), [{"name": "hdd", "input": "temp_mean_c"}])
    assert out["hdd_c"].is_nan().sum() == 0
    assert out["hdd_c"].null_count() == 2


def test_a_spec_may_read_an_earlier_output() -> None:
    out = add_indicators(
        _frame(),
        [{"name": "hdd", "input": "temp_mean_c"}, {"name": "strike_ewm", "input": "hdd_c", "half_life": 2.0}],
    )
    hdd = out["hdd_c"].fill_null(NAN).to_numpy()
    expected = grouped_ewm(hdd, np.array([0, 4, 7], dtype=np.int64), ewm_alpha(2.0))
    np.testing.assert_allclose(out["hdd_c_ewm2"].fill_null(NAN).to_numpy(), expected)


def test_accepts_validated_specs_and_empty_spec_lists() -> None:
    frame = _frame()
    specs = validate_indicator_specs([{"name": "hdd", "input": "temp_mean_c", "output": "h"}])
    assert add_indicators(frame, specs)["h"].to_list()[:2] == [20.0, 0.0]
    assert add_indicators(frame, []) is frame


def test_float32_inputs_give_float64_outputs() -> None:
    frame = _frame().with_columns(pl.col("temp_mean_c").cast(pl.Float32))
    out = add_indicators(frame, [{"name": "hdd", "input": "temp_mean_c"}])
    assert out.schema["hdd_c"] == pl.Float64
    assert out["hdd_c"][0] == 20.0


def test_bad_frames_and_columns_raise_data_errors() -> None:
    frame = _frame()
    with pytest.raises(DataError, match=r"features\[0\] \(hdd\)\.input: input column not found") as info:
        add_indicators(frame, [{"name": "hdd", "input": "temp_max_c"}])
    assert info.value.column == "temp_max_c"
    with pytest.raises(DataError, match=r"features\[0\] \(hdd\)\.input: input column has dtype String"):
        add_indicators(frame, [{"name": "hdd", "input": "unique_id"}])
    with pytest.raises(DataError, match="output column already exists") as info:
        add_indicators(frame, [{"name": "hdd", "input": "temp_mean_c", "output": "y"}])
    assert info.value.column == "y"
    shuffled = frame.sort("ds")
    with pytest.raises(DataError, match="not contiguous"):
        add_indicators(shuffled, [{"name": "hdd", "input": "temp_mean_c"}])
    with pytest.raises(IndicatorSpecError, match=r"features\[0\]\.half_life"):
        add_indicators(frame, [{"name": "strike_ewm", "input": "launched", "half_life": -3}])


def test_the_whole_catalogue_in_one_call() -> None:
    frame = _frame()
    specs = validate_indicator_specs(catalogue_specs())
    out = add_indicators(frame, specs)
    assert out.columns == [*frame.columns, *(s.output for s in specs)]
    assert all(out.schema[s.output] == pl.Float64 for s in specs)
    assert all(out[s.output].is_nan().sum() == 0 for s in specs)
    indptr = np.array([0, 4, 7], dtype=np.int64)
    for spec in specs:  # the array-level twin gives the same numbers
        arrays = {
            p: GroupedArray(out[c].cast(pl.Float64).fill_null(NAN).to_numpy(), indptr)
            for p, c in zip(column_params(spec), spec.input_columns, strict=True)
        }
        expected = compute_indicator(spec, arrays)
        np.testing.assert_array_equal(out[spec.output].fill_null(NAN).to_numpy(), expected, err_msg=spec.name)

    # a few worked values on the frame (kyiv: 4 days, lviv: 3)
    def values(column: str) -> np.ndarray:
        return out[column].fill_null(NAN).to_numpy()

    # damage: 10; 10 − 1 = 9; null adds nothing, repair 0.9 → 8.1; 8.1 + 4 − 0.81; lviv afresh: 8; 7.2; 8.48
    np.testing.assert_allclose(values("launched_damage"), [10, 9, 8.1, 11.29, 8, 7.2, 8.48])
    np.testing.assert_allclose(values("launched_damage_x_hdd_c"), [200, 0, NAN, 33.87, NAN, 93.6, 0])
    assert out["freeze_thaw_7"].to_list() == [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]
    assert out["cold_spell_len_lt0"].to_list() == [1.0, 0.0, None, 0.0, None, 0.0, 0.0]


def test_compute_indicator_checks_its_inputs() -> None:
    ga = GroupedArray(np.array([1.0, 2.0, 3.0]), np.array([0, 3], dtype=np.int64))
    other = GroupedArray(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 3], dtype=np.int64))
    assert compute_indicator({"name": "lag", "input": "x"}, {"input": ga}).tolist()[1:] == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"inputs must be exactly \['damage', 'hdd'\]"):
        compute_indicator({"name": "damage_hdd", "damage": "d", "hdd": "h"}, {"damage": ga})
    with pytest.raises(ValueError, match="grouped differently"):
        compute_indicator({"name": "damage_hdd", "damage": "d", "hdd": "h"}, {"damage": ga, "hdd": other})
    with pytest.raises(IndicatorSpecError, match=r"features\[0\]\.window"):
        compute_indicator({"name": "rolling_mean", "input": "x"}, {"input": ga})


def test_empty_frame() -> None:
    out = add_indicators(_frame().clear(), [{"name": "strike_ewm", "input": "launched", "half_life": 3}])
    assert out.height == 0
    assert out.schema["launched_ewm3"] == pl.Float64


@settings(deadline=None, max_examples=50)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.integers(0, 12),
    st.randoms(use_true_random=False),
)
def test_indicators_on_history_up_to_t_equal_full_history_up_to_t(sizes: list[int], cutoff_day: int, rnd: Any) -> None:
    """No look-ahead at frame level: computing on rows with ds ≤ cutoff gives the same values as computing on the
    whole frame and then keeping ds ≤ cutoff (a backtest cutoff must not change history's features)."""
    rows = []
    for g, n in enumerate(sizes):
        for k in range(n):
            temp = None if rnd.random() < 0.15 else rnd.uniform(-20, 25)
            spread = rnd.uniform(0, 10)
            day = dt.date(2024, 1, 1) + dt.timedelta(days=k)
            rows.append((f"s{g}", day, temp, rnd.uniform(-20, 5), rnd.uniform(-5, 20) + spread, rnd.randint(0, 40)))
    frame = pl.DataFrame(
        rows, schema=["unique_id", "ds", "temp_mean_c", "t_min_c", "t_max_c", "launched"], orient="row"
    ).with_columns(pl.col("temp_mean_c", "t_min_c", "t_max_c").cast(pl.Float64), pl.col("launched").cast(pl.Int64))
    cutoff = dt.date(2024, 1, 1) + dt.timedelta(days=cutoff_day)
    specs = catalogue_specs()
    full = add_indicators(frame, specs).filter(pl.col("ds") <= cutoff)
    history = add_indicators(frame.filter(pl.col("ds") <= cutoff), specs)
    assert history.equals(full)


def test_every_indicator_is_documented_with_formula_units_and_parameters() -> None:
    text = DOCS.read_text(encoding="utf-8")
    sections = {m.group(1): m.start() for m in re.finditer(r"^### `(\w+)`", text, flags=re.MULTILINE)}
    for name, defn in INDICATORS.items():
        assert name in sections, f"docs/indicators.md lacks a '### `{name}`' section"
        start = sections[name]
        end = min([pos for pos in sections.values() if pos > start] + [len(text)])
        section = text[start:end]
        for p in defn.params:
            assert f"`{p.name}`" in section, f"docs/indicators.md: {name} does not document {p.name}"
        assert "Units" in section and "NaN" in section, f"docs/indicators.md: {name} lacks units or NaN semantics"
        assert "Units" in defn.doc, f"{name}: docstring must state units"
        assert "NaN" in defn.doc, f"{name}: docstring must state NaN semantics"
