"""Window kernels: ``out[t]`` depends on the inputs in the trailing window ``t − w + 1 .. t`` of the same series.

The window is truncated at the start of a series (it never reaches into the previous group). ``min_periods`` is the
number of *valid* (non-NaN) periods the window must hold for a result; below it the result is NaN. NaN semantics:
**skip** (a missing period is left out of the statistic and out of the count), except :func:`lag_1d`, which
**propagates** (the lagged value may itself be NaN). All O(n) per series whatever the window.

Adding an op here: a ``*_1d`` kernel and a row of :data:`OPS` (its call, inputs and parameters) (see
:mod:`~features.indicators.kernels._ops`); the driver, entry point and warm-up follow from the row.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from features.indicators.kernels._jit import fast_path, kernel
from features.indicators.kernels._ops import Op, OpTable
from features.indicators.kernels.params import MIN_PERIODS_ONE, MIN_PERIODS_WINDOW, WINDOW, Param, at_least_one


@kernel
def lag_1d(x: np.ndarray, k: int, out: np.ndarray) -> None:
    """``out[t] = x[t − k]`` for ``t ≥ k``, NaN before. NaN: propagate. Units of ``x``."""
    for i in range(x.size):
        out[i] = x[i - k] if i >= k else np.nan


@kernel
def rolling_sum_1d(x: np.ndarray, window: int, min_periods: int, mean: bool, out: np.ndarray) -> None:
    """Rolling sum (or mean, ``mean=True``) of the valid values in the window.

    A running sum of the valid values, updated by (entering − leaving) value each period (as coreforecast and
    window_ops do), reset to exactly 0 whenever the window holds no valid value; the mean of a full window is the sum
    times ``1/w`` (within one ulp of the division, which the other windows use). NaN: skip. Units of ``x``.
    """
    count = 0
    total = 0.0
    inverse = 1.0 / window
    for i in range(x.size):
        step = 0.0  # what enters minus what leaves: one add on the running total's dependency chain
        xi = x[i]
        if not math.isnan(xi):
            step = xi
            count += 1
        if i >= window:
            xo = x[i - window]
            if not math.isnan(xo):
                step -= xo
                count -= 1
        total = total + step if count > 0 else 0.0
        if count < min_periods:
            out[i] = np.nan
        elif not mean:
            out[i] = total
        elif count == window:
            out[i] = total * inverse  # a full window: no division in the common case (within 1 ulp of total / w)
        else:
            out[i] = total / count


@fast_path
def rolling_sum_pair(
    x: np.ndarray, x2: np.ndarray, window: int, min_periods: int, mean: bool, out: np.ndarray, out2: np.ndarray
) -> int:
    """:func:`rolling_sum_1d` on two series of the same length at once, assuming no NaN (two independent running
    sums in one loop): the same operations in the same order as :func:`rolling_sum_1d` on a series without NaN (its
    count of valid values is then ``min(t + 1, w)``), so the same numbers. A NaN makes a running sum NaN to the end:
    returns the bit mask of such series (bit 0: ``x``, bit 1: ``x2``; see :mod:`~._ops`)."""
    n = x.size
    inverse = 1.0 / window
    total = 0.0
    total2 = 0.0
    for i in range(min(window, n)):  # the windows still filling: count = i + 1
        total += x[i]
        total2 += x2[i]
        count = i + 1
        if count < min_periods:
            out[i] = np.nan
            out2[i] = np.nan
        elif not mean:
            out[i] = total
            out2[i] = total2
        elif count == window:
            out[i] = total * inverse
            out2[i] = total2 * inverse
        else:
            out[i] = total / count
            out2[i] = total2 / count
    if mean:  # full windows; one loop per case, no flag inside
        for i in range(window, n):
            total += x[i] - x[i - window]
            total2 += x2[i] - x2[i - window]
            out[i] = total * inverse
            out2[i] = total2 * inverse
    else:
        for i in range(window, n):
            total += x[i] - x[i - window]
            total2 += x2[i] - x2[i - window]
            out[i] = total
            out2[i] = total2
    return int(math.isnan(total)) | int(math.isnan(total2)) << 1


@kernel
def rolling_std_1d(x: np.ndarray, window: int, min_periods: int, out: np.ndarray) -> None:
    """Rolling sample standard deviation (ddof = 1) of the valid values in the window; NaN unless ``n ≥ 2``.

    Running shifted sums ``S1 = Σ(x − K)``, ``S2 = Σ(x − K)²``; ``M2 = S2 − S1²/n``, std = ``sqrt(max(0, M2/(n − 1)))``.
    Each update of the sums rounds by about ε·``S2``, so their error is of the order of ε times ``peak``, the largest
    ``S2`` since they were last computed exactly. When ``M2 < peak·10⁻⁴`` (four digits lost: large values have left
    the window, or ``K`` has drifted far from its values), the window is summed exactly, centred on its mean, and
    ``peak`` restarts from there; the error is then relative to the window's own spread, not to the history (tested
    with tiny values after large ones, and at 1e8). O(1) per period unless the window's spread falls by four orders
    of magnitude (then O(w) once). A window whose valid values are all equal (tracked as the run of identical
    consecutive valid values, as pandas does) gives exactly 0. NaN: skip. Units of ``x``.

    A series whose deviations from the shift are never NaN takes :func:`_std_without_nan` (the same operations in
    the same order, without the NaN and count bookkeeping: the same numbers); it gives up at the first NaN.
    """
    if _std_without_nan(x, window, min_periods, out):
        return
    count = 0
    s1 = 0.0
    s2 = 0.0
    peak = 0.0  # largest s2 since the sums were computed exactly: sets the scale of their rounding error
    shift = np.nan
    last = np.nan
    same = 0  # length of the run of identical consecutive valid values ending at the last valid value
    inv_n = 1.0 / window
    inv_n1 = 1.0 / (window - 1) if window > 1 else 0.0
    for i in range(x.size):
        xi = x[i]
        if not math.isnan(xi):
            if count == 0:
                shift = xi
            same = same + 1 if xi == last else 1
            last = xi
        d_in = xi - shift  # NaN when xi is missing
        d_out = x[i - window] - shift if i >= window else np.nan
        step1 = 0.0
        step2 = 0.0
        if not math.isnan(d_in):
            count += 1
            step1 = d_in
            step2 = d_in * d_in
        if not math.isnan(d_out):
            count -= 1
            step1 -= d_out
            step2 -= d_out * d_out
        if count > 0:
            s1 += step1
            s2 += step2
            peak = max(peak, s2)
        else:
            s1 = 0.0
            s2 = 0.0
            peak = 0.0
        if count < min_periods or count < 2:
            out[i] = np.nan
            continue
        if same >= count:
            out[i] = 0.0
            continue
        full = count == window  # a full window: precomputed reciprocals instead of two divisions
        m2 = s2 - (s1 * s1 * inv_n if full else s1 * s1 / count)
        if m2 * 1e4 < peak:  # ill-conditioned: sum the window exactly around its mean
            shift, s1, s2 = _centred_sums(x, i - window + 1 if i >= window else 0, i + 1, count)
            peak = s2
            m2 = s2 - s1 * s1 / count
        out[i] = math.sqrt(max(0.0, m2 * inv_n1 if full else m2 / (count - 1)))


@fast_path
def _std_without_nan(x: np.ndarray, window: int, min_periods: int, out: np.ndarray) -> bool:
    """:func:`rolling_std_1d` while no deviation ``x − K`` entering or leaving the window is NaN (no NaN in ``x``,
    no ``inf − inf``): every window's count is then ``min(t + 1, w)`` and the same sums, peak, recomputations and
    results follow in the same order (a value not yet leaving counts as a deviation of exactly 0, which changes no
    sum). Returns ``False`` at the first NaN deviation (``out`` unfinished), and for ``w < 2``."""
    if window < 2:
        return False
    s1 = 0.0
    s2 = 0.0
    peak = 0.0
    shift = x[0] if x.size > 0 else 0.0
    last = np.nan
    same = 0
    inv_n = 1.0 / window
    inv_n1 = 1.0 / (window - 1)
    for i in range(x.size):
        xi = x[i]
        same = same + 1 if xi == last else 1
        last = xi
        d_in = xi - shift
        d_out = x[i - window] - shift if i >= window else 0.0
        if math.isnan(d_in) or math.isnan(d_out):
            return False
        s1 += d_in - d_out
        s2 += d_in * d_in - d_out * d_out
        peak = max(peak, s2)
        count = min(i + 1, window)
        if count < min_periods or count < 2:
            out[i] = np.nan
            continue
        if same >= count:
            out[i] = 0.0
            continue
        full = count == window
        m2 = s2 - (s1 * s1 * inv_n if full else s1 * s1 / count)
        if m2 * 1e4 < peak:
            shift, s1, s2 = _centred_sums(x, i + 1 - count, i + 1, count)
            peak = s2
            m2 = s2 - s1 * s1 / count
        out[i] = math.sqrt(max(0.0, m2 * inv_n1 if full else m2 / (count - 1)))
    return True


@kernel
def _centred_sums(x: np.ndarray, start: int, stop: int, count: int) -> tuple[float, float, float]:
    """``(m, Σ(x − m), Σ(x − m)²)`` over the ``count`` valid values of ``x[start:stop]``, ``m`` their mean: two exact
    passes (the rolling std's recomputation when its running sums have lost too many digits)."""
    total = 0.0
    for j in range(start, stop):
        if not math.isnan(x[j]):
            total += x[j]
    mean = total / count
    s1 = 0.0
    s2 = 0.0
    for j in range(start, stop):
        d = x[j] - mean
        if not math.isnan(d):
            s1 += d
            s2 += d * d
    return mean, s1, s2


@kernel
def rolling_extreme_1d(x: np.ndarray, window: int, min_periods: int, sign: float, out: np.ndarray) -> None:
    """Rolling maximum (``sign`` = 1) or minimum (``sign`` = −1) of the valid values in the window.

    van Herk/Gil–Werman, in place: with blocks of ``w`` periods from the series start, the max over ``[j, j + w − 1]``
    is ``max(suffix_max[j], prefix_max[j + w − 1])``. A forward pass writes the prefix maxima into ``out``; a backward
    pass keeps the suffix max and the window's count of valid values and finishes each full window; the first
    ``w − 1`` (truncated) windows are finished last. A few comparisons per period whatever ``w``, no scratch memory.
    A NaN enters as −∞ (never the extreme) and is not counted. NaN: skip. Units of ``x``.

    A series without NaN takes :func:`_extreme_without_nan` (the same comparisons, without the NaN and count
    bookkeeping: the same numbers, about twice as fast); it gives up at the first NaN, and this one runs instead.
    """
    if _extreme_without_nan(x, window, min_periods, sign, out):
        return
    n = x.size
    prefix = -np.inf
    pos = 0  # position of i within its block
    for i in range(n):
        v = sign * x[i]
        if math.isnan(v):
            v = -np.inf
        prefix = v if pos == 0 or v > prefix else prefix
        out[i] = prefix
        pos = pos + 1 if pos < window - 1 else 0
    suffix = -np.inf
    count = 0  # valid values in [j, j + w − 1]
    pos = (n - 1) % window if n > 0 else 0
    for j in range(n - 1, -1, -1):
        v = sign * x[j]
        if math.isnan(v):
            v = -np.inf
        else:
            count += 1
        if j + window < n and not math.isnan(x[j + window]):
            count -= 1
        suffix = v if (pos == window - 1 or j == n - 1 or v > suffix) else suffix
        pos = pos - 1 if pos > 0 else window - 1
        i = j + window - 1  # the window [j, i]: out[i] still holds prefix_max[i], read and replaced only here
        if i < n:
            best = suffix if suffix > out[i] else out[i]
            out[i] = sign * best if count >= min_periods else np.nan
    count = 0
    for i in range(min(window - 1, n)):  # the truncated windows [0, i]: the prefix max is the answer
        if not math.isnan(x[i]):
            count += 1
        out[i] = sign * out[i] if count >= min_periods else np.nan


@fast_path
def _extreme_without_nan(x: np.ndarray, window: int, min_periods: int, sign: float, out: np.ndarray) -> bool:
    """:func:`rolling_extreme_1d` for a series without NaN: the same passes and comparisons (ties keep the same
    operand, so even signed zeros agree), block by block, with every window's count known (``min(t + 1, w)``).
    Returns ``False`` at the first NaN, leaving ``out`` unfinished."""
    n = x.size
    for b in range(0, n, window):  # forward: prefix maxima within each block
        prefix = sign * x[b]
        if math.isnan(prefix):
            return False
        out[b] = prefix
        for i in range(b + 1, min(b + window, n)):
            v = sign * x[i]
            if math.isnan(v):
                return False
            prefix = v if v > prefix else prefix
            out[i] = prefix
    last = n - window  # the last window start j whose window [j, j + w − 1] ends inside the series
    for b in range((n - 1) // window * window if n > 0 else -1, -1, -window):  # backward: suffix maxima
        e = min(b + window, n) - 1
        suffix = sign * x[e]
        if e <= last:
            i = e + window - 1
            out[i] = sign * (suffix if suffix > out[i] else out[i])
        for j in range(e - 1, b - 1, -1):
            v = sign * x[j]
            suffix = v if v > suffix else suffix
            if j <= last:
                i = j + window - 1
                out[i] = sign * (suffix if suffix > out[i] else out[i])
    for i in range(min(window - 1, n)):  # the truncated windows [0, i]
        out[i] = sign * out[i] if i + 1 >= min_periods else np.nan
    return True


@kernel
def event_count_1d(
    x: np.ndarray, y: np.ndarray, window: int, min_periods: int, above: float, below: float, out: np.ndarray
) -> None:
    """Number of event periods in the window; a period is an event when ``y > above`` and not ``x ≥ below``
    (one kernel, compiled once, for two events):

    - burst: ``s > level`` (``x = y = s``, ``above = level``, ``below = NaN``: ``x ≥ NaN`` is never true);
    - freeze–thaw: ``t_min < 0 < t_max`` (``x = t_min``, ``y = t_max``, °C; ``above = below = 0``).

    NaN: skip (a period missing an input is no event and does not count towards ``min_periods``; NaN below it).
    Inputs without NaN take :func:`_events_without_nan` (same counts). Units: periods.
    """
    if _events_without_nan(x, y, window, min_periods, above, below, out):
        return
    valid = 0
    hits = 0
    for i in range(x.size):
        lo, hi = x[i], y[i]
        # `&` and `not`, no `and`: random events defeat branch prediction (1.7x slower measured)
        if not (math.isnan(lo) or math.isnan(hi)):
            valid += 1
            hits += (hi > above) & (not lo >= below)
        if i >= window:
            lo, hi = x[i - window], y[i - window]
            if not (math.isnan(lo) or math.isnan(hi)):
                valid -= 1
                hits -= (hi > above) & (not lo >= below)
        out[i] = hits if valid >= min_periods else np.nan


@fast_path
def _events_without_nan(
    x: np.ndarray, y: np.ndarray, window: int, min_periods: int, above: float, below: float, out: np.ndarray
) -> bool:
    """:func:`event_count_1d` for inputs without NaN (every window's count of valid periods is ``min(t + 1, w)``):
    the event flags into ``out`` (a pass without a dependency chain), then the window sums over them, each leaving
    flag recomputed from the inputs (``out`` holds sums there by then). Counts are exact integers, so the same
    numbers. Returns ``False`` (``out`` unfinished) when an input holds a NaN: about twice as fast otherwise."""
    bad = False
    for i in range(x.size):
        bad |= math.isnan(x[i]) | math.isnan(y[i])
        out[i] = 1.0 if (y[i] > above) & (not x[i] >= below) else 0.0
    if bad:
        return False
    hits = 0.0
    for i in range(min(window, x.size)):
        hits += out[i]
        out[i] = hits if i + 1 >= min_periods else np.nan
    for i in range(window, x.size):  # full windows (min_periods ≤ window): a select, no branch on the leaving flag
        hits += out[i] - (1.0 if (y[i - window] > above) & (not x[i - window] >= below) else 0.0)
        out[i] = hits
    return True


# --- the op table: calls over one group's x, y, out and the parameters p (see _ops) -------------------------
# p = [window (or k), min_periods, extra, flag]. Every call of an inlined kernel is compiled anew, so calls are shared
# where a run-time flag costs little: rolling sum and mean share one (the pair kernel keeps the flag out of its loop).

_SUM = "rolling_sum_1d(x, int(p[0]), int(p[1]), p[2] != 0.0, out)"  # p[2]: 1 for the mean, 0 for the sum
_SUM_PAIR = "rolling_sum_pair(x, x2, int(p[0]), int(p[1]), p[2] != 0.0, out, out2)"
_EXTREME = "rolling_extreme_1d(x, int(p[0]), int(p[1]), p[2], out)"  # p[2]: 1 for the max, -1 for the min
_EVENTS = "event_count_1d(x, y, int(p[0]), int(p[1]), p[2], p[3], out)"  # p[2], p[3]: above, below
_ROLLING = (WINDOW, MIN_PERIODS_WINDOW)


def _rolling_doc(what: str) -> str:
    return (
        f"Rolling {what} of the valid values in the last ``window`` periods (``min_periods`` defaults to ``window``)."
    )


def _rolling(name: str, call: str, flag: float, what: str, pair: str | None = None) -> Op:
    """A rolling op over (``window``, ``min_periods``) whose call reads ``flag`` as ``p[2]``."""

    def pack(window: int, min_periods: int) -> tuple[float, float, float]:
        return window, min_periods, flag

    return Op(name, call, _ROLLING, pack=pack, doc=_rolling_doc(what), pair=pair)


OPS = OpTable(
    __name__,
    (
        Op(
            "lag",
            "lag_1d(x, int(p[0]), out)",
            (Param("k", "int", 1, at_least_one, "lag, periods, >= 1", examples=(3,)),),
            doc="``x[t − k]`` within each series (NaN for the first ``k`` periods); NaN propagates.",
        ),
        _rolling("rolling_sum", _SUM, 0.0, "sum", _SUM_PAIR),
        _rolling("rolling_mean", _SUM, 1.0, "mean", _SUM_PAIR),
        Op(
            "rolling_std",
            "rolling_std_1d(x, int(p[0]), int(p[1]), out)",
            _ROLLING,
            doc=_rolling_doc("sample standard deviation (ddof 1)") + " NaN with fewer than 2 valid values.",
        ),
        _rolling("rolling_min", _EXTREME, -1.0, "minimum"),
        _rolling("rolling_max", _EXTREME, 1.0, "maximum"),
        Op(
            "burst_count",
            _EVENTS,
            (
                replace(WINDOW, examples=(7, 2)),
                Param("level", "float", 0.0, doc="a burst period has s > level (strict)", examples=(5.0,)),
                MIN_PERIODS_ONE,
            ),
            pack=lambda window, level, min_periods: (window, min_periods, level, math.nan),
            doc="Periods in the last ``window`` with ``s > level``; NaN below ``min_periods`` valid periods.",
        ),
        Op(
            "freeze_thaw",
            _EVENTS,
            (WINDOW, MIN_PERIODS_ONE),
            inputs=("t_min", "t_max"),
            pack=lambda window, min_periods: (window, min_periods, 0.0, 0.0),
            doc="Periods in the last ``window`` with ``t_min < 0 < t_max`` (°C); NaN below ``min_periods`` valid "
            "periods.",
        ),
    ),
)
window_driver = OPS.compile_driver()
OP_ROLLING_MEAN = OPS.code("rolling_mean")  # for benchmarks/probe_rolling_placement.py
