"""Computing indicators: :func:`add_indicators` (frame in, frame with one Float64 column per spec out) and its
array-level twin :func:`compute_indicator`.

The spec machinery (``IndicatorSpec``, validation, :func:`column_params`) is in :mod:`features.indicators.definition`
and the catalogue entries in :mod:`features.indicators.catalogue`; the package re-exports all of it.

Every indicator is causal: its value at t uses inputs at periods ≤ t of the same series only. Missing inputs
(null or NaN) follow the NaN rule of each indicator; NaN results are returned as nulls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

import features.indicators.catalogue  # noqa: F401  (registers the catalogue)
from features.contract import DS, ID
from features.errors import DataError
from features.indicators.definition import (
    INDICATORS,
    IndicatorSpec,
    validate_indicator_specs,
)
from features.indicators.grouped import GroupedArray, column_values, group_indptr, to_series
from features.indicators.kernels import counting_nan, nan_free, parallel_map

__all__ = ["add_indicators", "compute_indicator"]

_SOURCE = "add_indicators"


def compute_indicator(spec: IndicatorSpec | Mapping[str, Any], inputs: Mapping[str, GroupedArray]) -> np.ndarray:
    """Compute one indicator on grouped arrays: ``inputs`` maps each column parameter of the spec (e.g. ``"input"``,
    or ``"t_min"``/``"t_max"``) to a :class:`GroupedArray`, all with the same grouping.

    Returns a new array (dtype of the inputs; float64 if they differ) with NaN for missing results. The array-level
    twin of :func:`add_indicators`, for callers that already hold grouped arrays (e.g. scenario paths).
    """
    resolved = spec if isinstance(spec, IndicatorSpec) else validate_indicator_specs([spec])[0]
    defn = INDICATORS[resolved.name]
    wanted = set(defn.column_params)
    if set(inputs) != wanted:
        raise ValueError(f"{resolved.name}: inputs must be exactly {sorted(wanted)}, got {sorted(inputs)}")
    ordered = {name: inputs[name] for name in defn.column_params}  # the kernels take them in parameter order
    first = ordered[defn.column_params[0]]
    for name in defn.column_params[1:]:
        if not np.array_equal(ordered[name].indptr, first.indptr):
            raise ValueError(f"{resolved.name}: input {name!r} is grouped differently from {defn.column_params[0]!r}")
    return defn.compute(ordered, resolved.params)


def add_indicators(
    frame: pl.DataFrame,
    specs: Sequence[IndicatorSpec | Mapping[str, Any]],
    *,
    id_col: str = ID,
    ds_col: str | None = DS,
) -> pl.DataFrame:
    """Append one Float64 column per spec to ``frame`` (same rows, same order), computed per series.

    ``frame`` is canonical long data sorted by (``id_col``, ``ds_col``): it is verified, not sorted (a
    :class:`~features.errors.DataError` names the first offending row). ``specs`` are tables or
    :class:`IndicatorSpec` (validated again either way; :class:`IndicatorSpecError` on a bad one). Specs run in
    order, so an input may be an earlier spec's output. Raises ``DataError`` when an input column is missing or not
    numeric, or when an output column already exists. NaN results come back as nulls. No look-ahead: the value at
    t depends on inputs at periods ≤ t of the same series only.

    Copies: float input columns without nulls are read in place; each result is one new array handed to Polars.
    """
    resolved = validate_indicator_specs(specs)
    if not resolved:
        return frame
    indptr = group_indptr(frame, id_col, ds_col=ds_col)
    arrays: dict[str, np.ndarray] = {}  # inputs read so far and outputs made so far (NaN for missing)
    outputs: list[tuple[str, bool]] = []  # (name, written without NaN)
    with counting_nan():  # the kernels report whether they wrote a NaN (nan_free)
        for i, spec in enumerate(resolved):
            label = f"features[{i}] ({spec.name})"
            if spec.output in frame.columns:  # duplicates among the specs are rejected by validation
                raise DataError(
                    _SOURCE,
                    f"{label}: output column already exists",
                    column=spec.output,
                    expected="a new column name (set output=...)",
                )
            inputs = {
                name: GroupedArray(_input(frame, arrays, spec.params[name], f"{label}.{name}"), indptr)
                for name in INDICATORS[spec.name].column_params
            }
            arrays[spec.output] = result = compute_indicator(spec, inputs)
            outputs.append((spec.output, nan_free(result)))
    # NaN → null for every output at once, on the kernels' threads for a large frame (Polars scans an array for NaN
    # without the GIL, about 7 ms per 10M rows; skipped for results the kernels wrote without NaN)
    new = parallel_map(lambda o: to_series(o[0], arrays[o[0]], nan_free=o[1]), outputs, frame.height)
    return frame.with_columns(new)


def _input(frame: pl.DataFrame, arrays: dict[str, np.ndarray], column: str, label: str) -> np.ndarray:
    if column in arrays:
        return arrays[column]
    if column not in frame.columns:
        expected = [*frame.columns, *arrays]
        raise DataError(_SOURCE, f"{label}: input column not found", column=column, expected=f"one of {expected}")
    dtype = frame.schema[column]
    if not dtype.is_numeric():
        raise DataError(_SOURCE, f"{label}: input column has dtype {dtype}", column=column, expected="a numeric column")
    arrays[column] = column_values(frame, column)
    return arrays[column]
