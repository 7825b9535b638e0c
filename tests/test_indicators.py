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
    validate_indicator_specs,
)
from features.kernels import ewm_alpha, grouped_ewm

DOCS = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
NAN = float("nan")


def _frame() -> pl.DataFrame:
    day = [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]
    return pl.DataFrame(
        {
            "unique_id": ["kyiv"] * 4 + ["lviv"] * 3,
            "ds": day + day[:3],
            "y": [2.0, 4.0, None, 8.0, 1.0, 0.0, 3.0],
            "temp_mean_c": [-2.0, 16.0, None, 15.0, NAN, 5.0, 20.0],
            "launched": pl.Series([10, 0, None, 4, 8, 0, 2], dtype=pl.Int64),
        }
    )


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
         "unknown indicator 'cdd'; known indicators: hdd, strike_ewm"),
        ([{"input": "t"}], "features[0].name", "missing; known indicators: hdd, strike_ewm"),
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
        ({"name": "hdd"}, "features", "must be a list of tables, got dict"),
    ],
)  # fmt: skip
def test_errors_name_the_offending_key(specs: Any, key: str, message: str) -> None:
    with pytest.raises(IndicatorSpecError) as info:
        validate_indicator_specs(specs)
    assert isinstance(info.value, ValueError)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: {message}")


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


def test_empty_frame() -> None:
    out = add_indicators(_frame().clear(), [{"name": "strike_ewm", "input": "launched", "half_life": 3}])
    assert out.height == 0
    assert out.schema["launched_ewm3"] == pl.Float64


_SPECS = [
    {"name": "hdd", "input": "temp_mean_c"},
    {"name": "strike_ewm", "input": "launched", "half_life": 3},
    {"name": "strike_ewm", "input": "hdd_c", "half_life": 5, "output": "cold_ewm5"},
]


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
            rows.append((f"s{g}", dt.date(2024, 1, 1) + dt.timedelta(days=k), temp, rnd.randint(0, 40)))
    frame = pl.DataFrame(rows, schema=["unique_id", "ds", "temp_mean_c", "launched"], orient="row")
    frame = frame.with_columns(pl.col("temp_mean_c").cast(pl.Float64), pl.col("launched").cast(pl.Int64))
    cutoff = dt.date(2024, 1, 1) + dt.timedelta(days=cutoff_day)
    full = add_indicators(frame, _SPECS).filter(pl.col("ds") <= cutoff)
    history = add_indicators(frame.filter(pl.col("ds") <= cutoff), _SPECS)
    assert history.equals(full)


def test_every_indicator_is_documented_with_formula_and_units() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name, defn in INDICATORS.items():
        assert f"`{name}`" in text, f"docs/indicators.md lacks {name}"
        assert "Units" in defn.doc, f"{name}: docstring must state units"
        assert "NaN" in defn.doc, f"{name}: docstring must state NaN semantics"
