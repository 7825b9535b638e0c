"""Regime checks on the last periods of a target: has a series just stopped behaving as it did?

A model fitted on a series' history assumes the history still describes it. Three rules flag the cases where the
last periods say otherwise; each flag names the series, the kind and a human-readable detail, for the job's log and
manifest (and, with ``on_regime_break = "fallback"`` in a spec, to switch the flagged series to the fallback model).

Each series is checked on its observed values in time order (missing periods, nulls or NaN, are skipped, so the
windows count observed periods). ``n`` is their number.

**Windows.** The *recent window* is the last ``window`` values (default 7: a week of days); the *reference* is the
up to ``reference`` values just before it (default 28: four weeks). A young series is split so that the reference
keeps ``min_reference`` values (default 2): the recent window shrinks to ``n − min_reference`` values, but not below
``min_window`` (default 3); a shorter series is not checked for a level shift.

**(a) level_shift.** With the medians ``m_r`` (reference) and ``m_w`` (recent window) and the robust standard
deviation of the reference::

    s = max(1.4826 · MAD(reference), floor · max(|m_r|, |m_w|))        (MAD: median absolute deviation from m_r)
    z = (m_w − m_r) / s

a level shift is flagged when ``|z| > k`` (default ``k = 3``). Medians, not means: one extreme day in the last week
is not a new regime. The floor (default 0.1, i.e. 10 % of the level) keeps a flat reference from dividing by 0: from
a flat reference the level must move by more than ``k · floor`` = 30 % of the larger median (a series at 0 that
moves at all is flagged). Both means are reported too.

**(b) zero_run.** The last ``r ≥ zero_run`` values (default 3) are 0, and zeros were rare before the run: at most a
share ``rare`` (default 0.1) of the up to ``reference`` values before it, of which there are at least
``min_reference``. A series that is often 0 (intermittent) is never flagged.

**(c) flatline.** The last ``r ≥ flat_run`` values (default 7) are identical (within ``1e-9`` relative), and the
series used to move: of the steps between the up to ``reference`` values before the run, at most a share ``rare``
left the value unchanged. A zero run already flagged by (b) is not reported again as a flatline.

:meth:`RegimeRules.for_season` scales the defaults to a season length ``m``: ``window = m``, ``reference = 4m``,
``zero_run = max(3, m // 2)``, ``flat_run = max(5, m)`` (for daily data with ``m = 7`` these are the defaults above).
Units of the details: those of the series; periods are called days for daily (Date) data and hours for hourly.
False alarms: on simulated daily series with a weekly pattern and autocorrelated noise the rate of any flag is
below 1 % (tests/test_regime.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import DS, ID, Y

MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its standard deviation
_TOL = 1e-9

LEVEL_SHIFT = "level_shift"
ZERO_RUN = "zero_run"
FLATLINE = "flatline"
SCHEMA = {ID: pl.String, "kind": pl.String, "detail": pl.String}


@dataclass(frozen=True)
class RegimeRules:
    """The parameters of the regime rules (see the module docstring); every count is in periods."""

    window: int = 7
    reference: int = 28
    k: float = 3.0
    floor: float = 0.1
    min_reference: int = 2
    min_window: int = 3
    zero_run: int = 3
    flat_run: int = 7
    rare: float = 0.1

    def __post_init__(self) -> None:
        counts = ("window", "reference", "min_reference", "min_window", "zero_run", "flat_run")
        for name in counts:
            if getattr(self, name) < 1:
                raise ValueError(f"regime rules: {name} must be at least 1, got {getattr(self, name)}")
        if self.min_window > self.window or self.min_reference > self.reference:
            raise ValueError("regime rules: min_window ≤ window and min_reference ≤ reference")
        if not self.k > 0 or not self.floor > 0 or not 0 <= self.rare < 1:
            raise ValueError("regime rules: k > 0, floor > 0 and 0 ≤ rare < 1")

    @classmethod
    def for_season(cls, season_length: int) -> RegimeRules:
        """Defaults scaled to a season length ``m`` (``m ≤ 1``: the plain defaults)."""
        m = int(season_length)
        if m <= 1:
            return cls()
        return cls(window=m, reference=4 * m, zero_run=max(3, m // 2), flat_run=max(5, m))


@dataclass(frozen=True)
class RegimeFlag:
    """One rule that fired on one series."""

    unique_id: str
    kind: str
    detail: str


def _num(v: float) -> str:
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 1 or a == 0 else f"{v:.3g}"


def _level_shift(x: np.ndarray, r: RegimeRules, unit: str) -> str | None:
    n = x.size
    w = min(r.window, n - r.min_reference)
    if w < r.min_window:
        return None
    recent, ref = x[n - w :], x[max(0, n - w - r.reference) : n - w]
    m_w, m_r = float(np.median(recent)), float(np.median(ref))
    mad = float(np.median(np.abs(ref - m_r)))
    s = max(MAD_TO_SD * mad, r.floor * max(abs(m_r), abs(m_w)))
    if s == 0:  # both medians 0 and a reference without spread: no shift of the level
        return None
    z = (m_w - m_r) / s
    if abs(z) <= r.k:
        return None
    return (
        f"level shift: median {_num(m_w)} over the last {w} {unit} vs {_num(m_r)} over the {ref.size} before "
        f"({z:+.1f} robust sd; means {_num(float(recent.mean()))} vs {_num(float(ref.mean()))})"
    )


def _run_length(x: np.ndarray) -> int:
    """How many values at the end equal the last one (within a relative tolerance)."""
    same = np.abs(x - x[-1]) <= _TOL * max(1.0, abs(float(x[-1])))
    breaks = np.flatnonzero(~same)
    return int(x.size - (breaks[-1] + 1)) if breaks.size else int(x.size)


def _zero_run(x: np.ndarray, run: int, r: RegimeRules, unit: str) -> str | None:
    if x[-1] != 0 or run < r.zero_run:
        return None
    before = x[max(0, x.size - run - r.reference) : x.size - run]
    if before.size < r.min_reference:
        return None
    share = float(np.mean(before == 0))
    if share > r.rare:
        return None
    return f"zero run: the last {run} {unit} are 0 (zeros were {share:.0%} of the {before.size} {unit} before)"


def _flatline(x: np.ndarray, run: int, r: RegimeRules, unit: str) -> str | None:
    if run < r.flat_run:
        return None
    before = x[max(0, x.size - run - r.reference) : x.size - run]
    if before.size < max(2, r.min_reference):
        return None
    unchanged = float(np.mean(np.abs(np.diff(before)) <= _TOL * np.maximum(1.0, np.abs(before[1:]))))
    if unchanged > r.rare:
        return None
    return (
        f"flatline: the last {run} {unit} are all {_num(float(x[-1]))} (the {before.size} {unit} before changed on "
        f"{1 - unchanged:.0%} of steps)"
    )


def check_series(values: np.ndarray, rules: RegimeRules | None = None, *, unit: str = "days") -> list[tuple[str, str]]:
    """The rules that fire on one series' values in time order: ``(kind, detail)`` pairs, in the order level shift,
    zero run, flatline. NaN values are skipped."""
    r = rules or RegimeRules()
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return []
    out = []
    shift = _level_shift(x, r, unit)
    if shift:
        out.append((LEVEL_SHIFT, shift))
    run = _run_length(x)
    zeros = _zero_run(x, run, r, unit)
    if zeros:
        out.append((ZERO_RUN, zeros))
    else:
        flat = _flatline(x, run, r, unit)
        if flat:
            out.append((FLATLINE, flat))
    return out


def regime_flags(
    frame: pl.DataFrame, rules: RegimeRules | None = None, *, value: str = Y, unit: str | None = None
) -> list[RegimeFlag]:
    """Every rule that fires on every series of a long frame (``unique_id``, ``ds``, ``value``), by series id.

    ``unit`` names the periods in the details; by default ``days`` for a Date ``ds`` and ``hours`` otherwise."""
    if unit is None:
        unit = "days" if frame.schema[DS] == pl.Date else "hours"
    flags = []
    data = frame.select(ID, DS, pl.col(value).cast(pl.Float64)).sort(ID, DS)
    for (uid,), part in data.partition_by(ID, as_dict=True, maintain_order=True).items():
        x = part.get_column(value).fill_null(np.nan).to_numpy()
        flags += [RegimeFlag(str(uid), kind, detail) for kind, detail in check_series(x, rules, unit=unit)]
    return flags


def check_regime(
    frame: pl.DataFrame, rules: RegimeRules | None = None, *, value: str = Y, unit: str | None = None
) -> pl.DataFrame:
    """:func:`regime_flags` as a frame ``unique_id, kind, detail`` (no rows when nothing fires)."""
    flags = regime_flags(frame, rules, value=value, unit=unit)
    return pl.DataFrame(
        {ID: [f.unique_id for f in flags], "kind": [f.kind for f in flags], "detail": [f.detail for f in flags]},
        schema=SCHEMA,
    )
