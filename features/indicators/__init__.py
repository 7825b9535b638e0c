"""Indicators out: winter-stress indicators computed per series by the numba kernels over grouped arrays.

- :mod:`~features.indicators.grouped`: the ``values`` + ``indptr`` layout built from a Polars frame;
- :mod:`~features.indicators.kernels`: the small numba kernels, their drivers and warm-up;
- :mod:`~features.indicators.definition`: ``IndicatorDef``/``Param`` and the validated ``IndicatorSpec``;
- :mod:`~features.indicators.catalogue`: the named indicators, each with formula and units;
- :mod:`~features.indicators.compute`: :func:`add_indicators` (frame in, frame with indicator columns out).
"""

from features.indicators.compute import add_indicators, compute_indicator
from features.indicators.definition import (
    INDICATORS,
    Derived,
    IndicatorDef,
    IndicatorSpec,
    IndicatorSpecError,
    Param,
    column_params,
    input_columns,
    register_indicator,
    validate_indicator_specs,
)

__all__ = [
    "INDICATORS",
    "Derived",
    "IndicatorDef",
    "IndicatorSpec",
    "IndicatorSpecError",
    "Param",
    "add_indicators",
    "column_params",
    "compute_indicator",
    "input_columns",
    "register_indicator",
    "validate_indicator_specs",
]
