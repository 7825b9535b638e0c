"""The indicator catalogue: one registered :class:`~features.indicators.definition.IndicatorDef` per indicator.

Each compute function's docstring gives the formula, the units and the NaN semantics (they are what
``docs/indicators.md`` and ``IndicatorDef.doc`` show). Windows, lags, half-lives and run lengths count periods
(rows of the regular grid), not calendar time. Column parameters are ``input`` for one-input indicators, and
``t_min``/``t_max`` (freeze–thaw), ``input``/``temp`` (strikes in a cold spell), ``damage``/``hdd`` (the product).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from features.indicators.definition import IndicatorDef, Param, register_indicator
from features.indicators.grouped import GroupedArray
from features.indicators.kernels import OPS, ewm_alpha, run_op
from features.indicators.kernels.params import HALF_LIFE, REQUIRED

Inputs = Mapping[str, GroupedArray]
Params = Mapping[str, Any]


def _label(value: float) -> str:
    """``7.0`` → ``"7"``, ``3.5`` → ``"3p5"``, ``-5`` → ``"m5"``: a number fit for a column name."""
    return f"{value:g}".replace(".", "p").replace("-", "m")


def _op_params(op: str, *, required: tuple[str, ...] = ()) -> tuple[Param, ...]:
    """The parameters of kernel op ``op`` as its op table declares them (type, default, check, examples), so a spec
    is validated by the op's own rules; ``required``: parameters a spec must state although the op has a default."""
    return tuple(replace(p, default=REQUIRED) if p.name in required else p for p in OPS[op][1].params)


def _run(op: str, inputs: Inputs, params: Params, **overrides: Any) -> np.ndarray:
    """Run kernel op ``op`` on the column inputs (in parameter order) with the spec's values of the parameters the op
    declares; ``overrides`` give the others (e.g. ``alpha`` from a half-life)."""
    given = {p.name: params[p.name] for p in OPS[op][1].params if p.name in params} | overrides
    arrays = list(inputs.values())
    return run_op(op, [ga.values for ga in arrays], arrays[0].indptr, given)


def _input(doc: str) -> Param:
    return Param("input", "column", doc=doc)


# --- weather ------------------------------------------------------------------------------------------------


def _hdd(inputs: Inputs, params: Params) -> np.ndarray:
    """Heating degree days, Eurostat rule.

    HDD_t = base − T_t  if T_t ≤ threshold, else 0   (defaults base = 18 °C, threshold = 15 °C)

    T_t: daily mean air temperature, °C (``input``). Units: °C·day per day (degree-days accumulated in period t).
    NaN: propagate (missing T_t gives a missing HDD_t).
    """
    return _run("hdd", inputs, params)


def _cold_exposure(inputs: Inputs, params: Params) -> np.ndarray:
    """Decayed cold exposure (cumulative heating degree days that fade with a half-life).

    C_t = λ·C_{t−1} + HDD_t,  C_{−1} = 0,  λ = 0.5^(1 / half_life),  HDD_t as in ``hdd`` (base, threshold)

    T_t: daily mean air temperature, °C (``input``); half_life in periods. Units: °C·day (one cold day's HDD has
    half its weight after half_life periods). NaN: skip (a missing T_t leaves C unchanged, C_t = C_{t−1}; missing
    before the first valid T).
    """
    return _run("cold_exposure", inputs, params)


def _cold_spell_len(inputs: Inputs, params: Params) -> np.ndarray:
    """Cold-spell run length: consecutive periods up to t with temperature below a threshold.

    R_t = R_{t−1} + 1  if T_t < threshold, else 0;  R_{−1} = 0

    T_t: air temperature, °C (``input``: daily mean or minimum). Units: periods (days). NaN: reset (a missing T_t
    gives a missing R_t, and the run restarts from 0 after it: a spell is only counted over observed days).
    """
    return _run("cold_spell_len", inputs, params)


def _freeze_thaw(inputs: Inputs, params: Params) -> np.ndarray:
    """Freeze–thaw days in a window: periods among the last w with T_min < 0 °C < T_max.

    F_t = #{ s ∈ [t − w + 1, t] : T_min,s < 0 < T_max,s }   (window truncated at the series start)

    T_min, T_max: daily minimum and maximum air temperature, °C (``t_min``, ``t_max``). Units: periods (days).
    NaN: skip (a period missing either input is no freeze–thaw day and does not count towards ``min_periods``;
    F_t is missing when fewer than ``min_periods`` periods of the window have both inputs).
    """
    return _run("freeze_thaw", inputs, params)


# --- strikes and attrition ----------------------------------------------------------------------------------


def _strike_ewm(inputs: Inputs, params: Params) -> np.ndarray:
    """Exponentially weighted strike intensity (EWM, adjust=False).

    α = 1 − 0.5^(1 / half_life);  s_t = α·x_t + (1 − α)·s_{t−1};  s = x at the first valid value.

    x_t: strikes per period (``input``, e.g. launched per day); half_life in periods. Units: those of x (per period).
    NaN: skip (a missing x_t leaves the state unchanged and s_t is the carried state; missing before the first
    valid value).
    """
    return _run("ewm", inputs, params, alpha=ewm_alpha(params["half_life"]))


def _damage_stock(inputs: Inputs, params: Params) -> np.ndarray:
    """Attrition (damage) stock: strikes add damage, repair removes a share of it up to a capacity.

    D_t = max(0, D_{t−1} + w·s_t − min(cap, r·D_{t−1})),  D_{−1} = 0

    s_t: strikes per period (``input``); w = ``weight`` (damage units per strike, ≥ 0); r = ``repair_rate``
    (share of the stock repaired per period, in [0, 1]); cap = ``cap`` (most damage units repaired per period;
    unset = no limit). Units: damage units (w × strikes). NaN: skip as "no damage added": a missing s_t adds
    nothing and repair goes on; missing before the first valid s.
    """
    return _run("damage_stock", inputs, params)


def _days_since_strike(inputs: Inputs, params: Params) -> np.ndarray:
    """Periods since the last period with at least k strikes.

    S_t = 0 if s_t ≥ k, else S_{t−1} + 1;  missing until the first period with s ≥ k

    s_t: strikes per period (``input``); k = ``k``. Units: periods. NaN: a missing s_t gives a missing S_t, but time
    still passes (S counts on after it from the last observed qualifying period).
    """
    return _run("days_since", inputs, params)


def _burst_count(inputs: Inputs, params: Params) -> np.ndarray:
    """Burst count: periods among the last w with strikes above a level.

    B_t = #{ u ∈ [t − w + 1, t] : s_u > level }   (window truncated at the series start)

    s_t: strikes per period (``input``); w = ``window``. Units: periods. NaN: skip (a missing period is no burst and
    does not count towards ``min_periods``; B_t is missing below ``min_periods`` valid periods in the window).
    """
    return _run("burst_count", inputs, params)


def _cold_spell_strikes(inputs: Inputs, params: Params) -> np.ndarray:
    """Strikes during a cold spell (interaction of strikes with the cold-spell run length).

    X_t = s_t if R_t ≥ min_len else 0, with R_t the ``cold_spell_len`` of ``temp`` below ``threshold``

    s_t: strikes per period (``input``); T_t: air temperature, °C (``temp``). Units: those of s (per period).
    NaN: propagate (a missing s_t or T_t gives a missing X_t; a missing T_t also resets the run).
    """
    return _run("cold_spell_strikes", inputs, params)


def _damage_hdd(inputs: Inputs, params: Params) -> np.ndarray:
    """Damage × heating demand: the product of a damage stock and heating degree days.

    P_t = D_t · HDD_t

    D_t: a damage column (``damage``, e.g. a ``damage_stock`` output); HDD_t: a heating-degree-day column (``hdd``,
    e.g. an ``hdd`` output). Units: damage units × °C·day per day. NaN: propagate (missing if either is missing).
    """
    return _run("product", inputs, params)


# --- generic transforms of any input ------------------------------------------------------------------------


def _lag(inputs: Inputs, params: Params) -> np.ndarray:
    """Lag: the input k periods earlier in the same series.

    L_t = x_{t−k} for t ≥ k, missing for the first k periods of a series

    Units: those of x. NaN: propagate (the lagged value may itself be missing).
    """
    return _run("lag", inputs, params)


def _rolling_doc(stat: str, formula: str) -> str:
    return f"""Rolling {stat} of the valid values among the last ``window`` periods.

    {formula}   over W_t = the valid x_u, u ∈ [t − window + 1, t] (truncated at the series start)

    Units: those of x. NaN: skip (missing values are left out; the result is missing when W_t holds fewer than
    ``min_periods`` values{", or fewer than 2" if stat == "standard deviation" else ""}).
    """


def _rolling_sum(inputs: Inputs, params: Params) -> np.ndarray:
    return _run("rolling_sum", inputs, params)


def _rolling_mean(inputs: Inputs, params: Params) -> np.ndarray:
    return _run("rolling_mean", inputs, params)


def _rolling_std(inputs: Inputs, params: Params) -> np.ndarray:
    return _run("rolling_std", inputs, params)


def _rolling_min(inputs: Inputs, params: Params) -> np.ndarray:
    return _run("rolling_min", inputs, params)


def _rolling_max(inputs: Inputs, params: Params) -> np.ndarray:
    return _run("rolling_max", inputs, params)


_rolling_sum.__doc__ = _rolling_doc("sum", "S_t = Σ W_t")
_rolling_mean.__doc__ = _rolling_doc("mean", "M_t = Σ W_t / |W_t|")
_rolling_std.__doc__ = _rolling_doc("standard deviation", "σ_t = sqrt(Σ (w − M_t)² / (|W_t| − 1))  (ddof = 1)")
_rolling_min.__doc__ = _rolling_doc("minimum", "m_t = min W_t")
_rolling_max.__doc__ = _rolling_doc("maximum", "M_t = max W_t")


def _expanding_mean(inputs: Inputs, params: Params) -> np.ndarray:
    """Expanding mean: the mean of every valid value of the series so far.

    E_t = Σ_{u ≤ t, x_u valid} x_u / #{u ≤ t : x_u valid}

    Units: those of x. NaN: skip (missing values are left out; E_t is missing below ``min_periods`` valid values).
    """
    return _run("expanding_mean", inputs, params)


# --- registrations ------------------------------------------------------------------------------------------

_DEFS = (
    IndicatorDef(
        name="hdd",
        params=(_input("daily mean temperature, °C"), *_op_params("hdd")),
        compute=_hdd,
        default_output=lambda p: "hdd_c",
        units="°C·day per day",
    ),
    IndicatorDef(
        name="cold_exposure",
        params=(_input("daily mean temperature, °C"), *_op_params("cold_exposure")),
        compute=_cold_exposure,
        default_output=lambda p: f"cold_exposure_hl{_label(p['half_life'])}",
        units="°C·day",
    ),
    IndicatorDef(
        name="cold_spell_len",
        params=(_input("air temperature, °C"), *_op_params("cold_spell_len")),
        compute=_cold_spell_len,
        default_output=lambda p: f"cold_spell_len_lt{_label(p['threshold'])}",
        units="periods",
    ),
    IndicatorDef(
        name="freeze_thaw_w",
        params=(
            Param("t_min", "column", doc="daily minimum temperature, °C"),
            Param("t_max", "column", doc="daily maximum temperature, °C"),
            *_op_params("freeze_thaw"),
        ),
        compute=_freeze_thaw,
        default_output=lambda p: f"freeze_thaw_{p['window']}",
        units="periods",
    ),
    IndicatorDef(
        name="strike_ewm",
        params=(_input("strikes per period"), replace(HALF_LIFE, examples=(7.0, 0.5))),
        compute=_strike_ewm,
        default_output=lambda p: f"{p['input']}_ewm{_label(p['half_life'])}",
        units="input units per period",
    ),
    IndicatorDef(
        name="damage_stock",
        params=(_input("strikes per period"), *_op_params("damage_stock", required=("repair_rate",))),
        compute=_damage_stock,
        default_output=lambda p: f"{p['input']}_damage",
        units="damage units (weight × strikes)",
    ),
    IndicatorDef(
        name="days_since_strike",
        params=(_input("strikes per period"), *_op_params("days_since")),
        compute=_days_since_strike,
        default_output=lambda p: f"{p['input']}_days_since_ge{_label(p['k'])}",
        units="periods",
    ),
    IndicatorDef(
        name="burst_w",
        params=(_input("strikes per period"), *_op_params("burst_count")),
        compute=_burst_count,
        default_output=lambda p: f"{p['input']}_burst{p['window']}_gt{_label(p['level'])}",
        units="periods",
    ),
    IndicatorDef(
        name="cold_spell_strikes",
        params=(
            _input("strikes per period"),
            Param("temp", "column", doc="air temperature, °C"),
            *_op_params("cold_spell_strikes"),
        ),
        compute=_cold_spell_strikes,
        default_output=lambda p: f"{p['input']}_cold_spell_lt{_label(p['threshold'])}",
        units="input units per period",
    ),
    IndicatorDef(
        name="damage_hdd",
        params=(
            Param("damage", "column", doc="damage stock, damage units"),
            Param("hdd", "column", doc="heating degree days, °C·day per day"),
        ),
        compute=_damage_hdd,
        default_output=lambda p: f"{p['damage']}_x_{p['hdd']}",
        units="damage units × °C·day per day",
    ),
    IndicatorDef(
        name="lag",
        params=(_input("any input"), *_op_params("lag")),
        compute=_lag,
        default_output=lambda p: f"{p['input']}_lag{p['k']}",
        units="input units",
    ),
    *(
        IndicatorDef(
            name=f"rolling_{stat}",
            params=(_input("any input"), *_op_params(f"rolling_{stat}")),
            compute=fn,
            default_output=lambda p, stat=stat: f"{p['input']}_rolling_{stat}{p['window']}",
            units="input units",
        )
        for stat, fn in (
            ("sum", _rolling_sum),
            ("mean", _rolling_mean),
            ("std", _rolling_std),
            ("min", _rolling_min),
            ("max", _rolling_max),
        )
    ),
    IndicatorDef(
        name="expanding_mean",
        params=(_input("any input"), *_op_params("expanding_mean")),
        compute=_expanding_mean,
        default_output=lambda p: f"{p['input']}_expanding_mean",
        units="input units",
    ),
)

for _defn in _DEFS:
    register_indicator(_defn)
