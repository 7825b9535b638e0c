"""Causality and isolation, by hypothesis, for EVERY indicator of the catalogue (parametrized over the registry, so
a newly registered indicator is covered without touching this file).

- No look-ahead: changing any input of a series from period t on never changes that series' indicator before t.
- No state across groups: changing one series (any inputs, any periods) never changes any other series.

Parameters are drawn from each parameter's default and ``examples``; inputs hold NaNs, ties, zeros and negative
values; groups may be empty; float64 and float32 storage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from features.indicators import INDICATORS, IndicatorDef, IndicatorSpec, compute_indicator, validate_indicator_specs
from features.indicators.grouped import GroupedArray

NAMES = sorted(INDICATORS)
value_st = st.one_of(st.just(float("nan")), st.integers(-5, 12).map(float), st.floats(-30.0, 40.0, width=32))


def draw_spec(data: st.DataObject, defn: IndicatorDef) -> IndicatorSpec:
    table: dict[str, Any] = {"name": defn.name}
    for p in defn.params:
        if p.kind == "column":
            table[p.name] = p.name
            continue
        choices = list(p.examples) if p.required else [None, *p.examples]
        value = data.draw(st.sampled_from(choices), label=p.name) if choices else None
        if value is not None:
            table[p.name] = value
    try:
        return validate_indicator_specs([table])[0]
    except ValueError:  # e.g. min_periods drawn above the window
        assume(False)
        raise


def draw_series(data: st.DataObject, sizes: list[int]) -> list[list[float]]:
    return [data.draw(st.lists(value_st, min_size=n, max_size=n)) for n in sizes]


def grouped(groups: list[list[float]], dtype: type) -> GroupedArray:
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=indptr[1:])
    return GroupedArray(np.array([v for g in groups for v in g], dtype=dtype), indptr)


def run_change(data: st.DataObject, name: str, whole_series: bool) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Compute the indicator, change series g from position ``cut`` on (every input), compute again."""
    defn = INDICATORS[name]
    spec = draw_spec(data, defn)
    dtype = data.draw(st.sampled_from([np.float64, np.float32]), label="dtype")
    sizes = data.draw(st.lists(st.integers(0, 15), min_size=1, max_size=5), label="sizes")
    g = data.draw(st.integers(0, len(sizes) - 1), label="changed series")
    cut = 0 if whole_series else data.draw(st.integers(0, sizes[g]), label="first changed period")
    before = {p: draw_series(data, sizes) for p in defn.column_params}
    after = {}
    for p, groups in before.items():
        changed = [list(s) for s in groups]
        tail = data.draw(st.lists(value_st, min_size=sizes[g] - cut, max_size=sizes[g] - cut), label=f"new {p}")
        changed[g][cut:] = tail
        after[p] = changed
    out_before = compute_indicator(spec, {p: grouped(v, dtype) for p, v in before.items()})
    out_after = compute_indicator(spec, {p: grouped(v, dtype) for p, v in after.items()})
    start = int(np.sum(sizes[:g]))
    return out_before, out_after, start, start + sizes[g], cut


@pytest.mark.parametrize("name", NAMES)
@settings(deadline=None, max_examples=30)
@given(data=st.data())
def test_no_look_ahead(name: str, data: st.DataObject) -> None:
    out_before, out_after, start, _, cut = run_change(data, name, whole_series=False)
    np.testing.assert_array_equal(out_after[start : start + cut], out_before[start : start + cut])


@pytest.mark.parametrize("name", NAMES)
@settings(deadline=None, max_examples=30)
@given(data=st.data())
def test_no_state_across_series(name: str, data: st.DataObject) -> None:
    out_before, out_after, start, stop, _ = run_change(data, name, whole_series=True)
    np.testing.assert_array_equal(out_after[:start], out_before[:start])
    np.testing.assert_array_equal(out_after[stop:], out_before[stop:])


def test_every_registered_indicator_is_covered() -> None:
    """Guards the parametrization itself: the registry is read at collection time, after the catalogue loaded."""
    assert len(NAMES) >= 17
    assert {"damage_stock", "freeze_thaw_w", "cold_spell_strikes", "damage_hdd", "rolling_std"} <= set(NAMES)
