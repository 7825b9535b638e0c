"""Future paths of raw inputs (strike counts, temperature, alert minutes): how an input continues after a cutoff.

A path sees one series' history of one raw input up to the cutoff (values on a regular grid, NaN where missing)
and the dates to fill, and returns the expected value at each. Indicators (damage stock, HDD, strike EWM …) are
never extended directly: :class:`forecast.scenarios.provider.InputPathProvider` extends the raw inputs with a path
and recomputes the indicators over history + path with the same kernels, so an indicator's future obeys its own
recursion (a damage stock is repaired while strikes go on at the path's rate).

Paths by name (spec values, each with its parameters):

``baseline`` — the recent rate with its seasonal pattern::

    level = mean(x over the last ``window`` periods)
    f[p]  = mean(x at season position p over the last ``pattern_window`` periods) / mean(x over those periods)
    x̂_{n+k} = level · f[(n + k) mod m]          (m = the season length; f ≡ 1 when m = 1 or the mean is 0)

``scaled`` — ``factor`` × the baseline (a surge when ``factor`` > 1); ``zero`` — no activity (a ceasefire);
``last_value`` — the last observed value carried forward;

``replay`` — a past period played again from ``start`` (a date, e.g. "like the first week of January 2024"), times
``factor`` (default 1)::

    x̂_{n+k} = factor · x(start + (d_{n+k} − d_{n+1}))      (k = 1 … h; the period must lie inside the history)

A replayed date missing in the history (a gap) takes the baseline's value there.

``climatology`` — the mean at the same day of year (±``window_days``, earlier years only, same hour for hourly
data), plus the last anomaly decaying at the series' own lag-1 autocorrelation φ (clipped to [0, 0.98])::

    x̂_{n+k} = clim(d_{n+k}) + φ^k · (x_n − clim(d_n))

With less than a year of history there is no climatology and the path is the baseline. ``harmonics = k`` ≥ 1 fits
``clim(d) = a₀ + Σ_{j≤k} a_j·cos(2πj·doy/365.25) + b_j·sin(2πj·doy/365.25)`` to the whole history by least squares
(per hour for hourly data; φ from all its anomalies): a smooth cycle, not one or two years' ±7-day weather.

``tempo`` — ``factor`` × the expected count under an annual cycle, an escalation (y_t: years since the first value,
``trend``) and season positions (γ[0] = 0, ``pattern``), by Poisson regression on the whole history, massed raids
included (:func:`~forecast.scenarios.sampling.fit_poisson`; the baseline × factor with less than a year of history)::

    log E[x_t] = β₀ + β₁·y_t + Σ_{j≤harmonics} (c_j·cos(2πj·doy_t/365.25) + s_j·sin(2πj·doy_t/365.25)) + γ[t mod m]

``cold_snap`` — the climatology path ``delta`` °C colder on the first ``days`` periods (a what-if for temperature).

``forecast`` — values the user supplies for the future (a weather forecast in ``file``, its value column ``column``,
default the input's own name); on dates the file does not cover, the path ``then`` (default ``climatology``). The
path object only names the file; the experiments layer reads it and hands the values to
:class:`~forecast.scenarios.provider.InputPathProvider` (``supplied``), so :meth:`extend` is the ``then`` path.

Units: those of the input. Every path's ``extend`` is a deterministic function of the history (no randomness).

Sampled paths: ``baseline`` and ``scaled`` take ``samples = n`` (default 0: not sampled), ``seed`` (default 0) and
``campaign`` (default true). Then :meth:`InputPath.draw` gives ``n`` integer paths around ``extend`` (negative
binomial with dispersion fitted to the last ``window`` periods, times a per-path campaign multiplier learnt from the
baseline's past misses when ``campaign``; :mod:`forecast.scenarios.sampling`), and the forecast mixes over them.
``extend`` stays the deterministic path (what a forecast without sampling, and the ``mean`` column, use).
Other paths are not sampled: ``zero`` has no uncertainty, temperature paths and ``tempo`` stay deterministic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import numpy as np

from forecast.scenarios import sampling

HALF_YEAR_DAYS = 183


def _check(path: InputPath, *keys: str, kind: str = "int", low: int = 0, what: str = "") -> None:
    """``ValueError`` naming the path and key unless each of ``keys`` is a ``kind`` (int/number ≥ ``low``, or bool)."""
    for key in keys:
        v = getattr(path, key)
        number = not isinstance(v, bool) and isinstance(v, int | float if kind == "number" else int)
        if isinstance(v, bool) if kind == "bool" else number and v >= low:
            continue
        noun = what or ("an integer" if kind == "int" else "a number")
        want = "true or false" if kind == "bool" else f"{noun} >= {low}"
        raise ValueError(f"{path.name} {key}: expected {want}, got {v!r}")


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


class InputPath(ABC):
    """How one raw input continues after the cutoff (see the module docstring)."""

    name: ClassVar[str]

    @abstractmethod
    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        """Expected values at ``future_ds`` (datetime64, after ``ds[-1]``) from the history ``x`` at ``ds``."""

    def n_samples(self) -> int:
        """Paths :meth:`draw` gives (0: a deterministic path)."""
        return 0

    def draw(
        self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int, key: tuple[str, ...] = ()
    ) -> np.ndarray:
        """Sampled paths, shape ``(n_samples, h)``; ``key`` (scenario, column) seeds the stream. A deterministic
        path gives one row, its :meth:`extend`."""
        return self.extend(ds, x, future_ds, season_length)[None, :]


@dataclass(frozen=True)
class LastValue(InputPath):
    """The last non-missing value, carried forward."""

    name: ClassVar[str] = "last_value"

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        valid = x[~np.isnan(x)]
        return np.full(future_ds.size, valid[-1] if valid.size else np.nan)


@dataclass(frozen=True)
class Baseline(InputPath):
    """The mean of the last ``window`` periods times the season pattern of the last ``pattern_window`` periods."""

    name: ClassVar[str] = "baseline"
    window: int = 28
    pattern_window: int = 84
    samples: int = 0
    seed: int = 0
    campaign: bool = True

    def __post_init__(self) -> None:
        _check(self, "window", "pattern_window", low=1)
        _check(self, "samples", "seed")
        _check(self, "campaign", kind="bool")

    def _level(self, x: np.ndarray) -> float:
        level = _nanmean(x[-self.window :])
        return _nanmean(x) if np.isnan(level) else level

    def _pattern(self, x: np.ndarray, m: int) -> np.ndarray | None:
        """Season factors by position ``t mod m`` (None when flat: ``m = 1`` or a recent mean of 0)."""
        n = x.size
        if m <= 1:
            return None
        span = min(n, max(m, self.pattern_window - self.pattern_window % m))
        recent = x[n - span :]
        pos = np.arange(n - span, n) % m
        overall = _nanmean(recent)
        if not overall > 0:
            return None
        per = np.array([_nanmean(recent[pos == p]) for p in range(m)]) / overall
        return np.where(np.isnan(per), 1.0, per)

    def _base(self, x: np.ndarray, at: np.ndarray, m: int) -> np.ndarray:
        """The recent level × the season factors at the integer positions ``at``."""
        per = self._pattern(x, m)
        factors = np.ones(at.size) if per is None else per[at % m]
        return self._level(x) * factors

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        return self._base(x, x.size + np.arange(future_ds.size), season_length)

    def n_samples(self) -> int:
        return self.samples

    def draw(
        self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int, key: tuple[str, ...] = ()
    ) -> np.ndarray:
        """``samples`` count paths around :meth:`extend` (see :mod:`forecast.scenarios.sampling`): dispersion from
        the last ``window`` periods around their in-sample level × pattern, the campaign multiplier from the past
        totals of the unscaled baseline; ``key`` is ``(scenario, column)``."""
        if self.samples == 0:
            return super().draw(ds, x, future_ds, season_length, key)
        n, m = x.size, season_length
        recent = np.arange(max(0, n - self.window), n)
        r = sampling.fit_dispersion(x[recent], self._base(x, recent, m))
        b, cv = 1.0, 0.0
        if self.campaign:
            b, cv = sampling.campaign(x, future_ds.size, lambda p, h: self._base(p, p.size + np.arange(h), m), r)
        scenario = key[0] if key else ""
        u = sampling.campaign_uniforms(self.seed, scenario, ds, future_ds, self.samples)
        rng = sampling.stream(self.seed, *key, sampling.fingerprint(ds, x, future_ds))
        return sampling.draw_counts(self.extend(ds, x, future_ds, season_length), r, b, cv, u, rng)


@dataclass(frozen=True)
class Scaled(Baseline):
    """``factor`` × the :class:`Baseline` (``factor`` ≥ 0): ``scaled`` with factor 2 doubles the recent tempo."""

    name: ClassVar[str] = "scaled"
    factor: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self, "factor", kind="number")

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        return float(self.factor) * super().extend(ds, x, future_ds, season_length)


def _instant(value: object, dtype: np.dtype) -> np.datetime64:
    """A spec's date (a ``date``, ``datetime`` or ISO text) as a ``datetime64`` of ``dtype`` (naive = UTC)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        return np.datetime64(text).astype(dtype)
    except ValueError:
        raise ValueError(f"replay start: expected a date such as 2024-01-01, got {value!r}") from None


@dataclass(frozen=True)
class Replay(InputPath):
    """The history from ``start`` on, played again after the cutoff (times ``factor``)."""

    name: ClassVar[str] = "replay"
    start: object = None
    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.start is None:
            raise ValueError("replay: give the first day to replay, e.g. start = 2024-01-01")
        _instant(self.start, np.dtype("datetime64[us]"))
        _check(self, "factor", kind="number")

    def first(self, dtype: np.dtype) -> np.datetime64:
        """The first replayed period as a ``datetime64`` of ``dtype`` (a date's midnight, UTC, for hourly data)."""
        return _instant(self.start, dtype)

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        if future_ds.size == 0:
            return np.zeros(0)
        at = (self.first(ds.dtype) + (future_ds - future_ds[0])).astype(ds.dtype)
        if at[0] < ds[0] or at[-1] > ds[-1]:
            first, last = np.datetime_as_string(at[0], unit="D"), np.datetime_as_string(at[-1], unit="D")
            seen = f"{np.datetime_as_string(ds[0], unit='D')} to {np.datetime_as_string(ds[-1], unit='D')}"
            raise ValueError(f"replay: {first} to {last} is not inside the history ({seen})")
        pos = np.searchsorted(ds, at)
        found = (pos < ds.size) & (ds[np.minimum(pos, ds.size - 1)] == at)
        values = np.where(found, x[np.minimum(pos, ds.size - 1)], np.nan)
        missing = np.isnan(values)
        if missing.any():
            values[missing] = Baseline().extend(ds, x, future_ds, season_length)[missing]
        return float(self.factor) * values


@dataclass(frozen=True)
class Zero(InputPath):
    """Nothing after the cutoff (strikes stop)."""

    name: ClassVar[str] = "zero"

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        return np.zeros(future_ds.size)


def _day_of_year(ds: np.ndarray) -> np.ndarray:
    days = ds.astype("datetime64[D]")
    return (days - days.astype("datetime64[Y]")).astype(np.int64) + 1


def _hour(ds: np.ndarray) -> np.ndarray:
    return (ds.astype("datetime64[h]") - ds.astype("datetime64[D]")).astype(np.int64)


def _annual(ds: np.ndarray, harmonics: int) -> np.ndarray:
    """Columns ``1, cos(2πj·doy/365.25), sin(2πj·doy/365.25)`` for j = 1 … ``harmonics`` (shape ``(n, 1 + 2k)``)."""
    angle = 2 * np.pi * _day_of_year(ds)[:, None] * np.arange(1, harmonics + 1) / 365.25
    return np.hstack([np.ones((ds.size, 1)), np.cos(angle), np.sin(angle)])


def _span_days(ds: np.ndarray) -> int:
    """Days from the first to the last date of ``ds`` (0 when empty)."""
    return int((ds[-1].astype("datetime64[D]") - ds[0].astype("datetime64[D]")).astype(np.int64)) if ds.size else 0


@dataclass(frozen=True)
class Tempo(InputPath):
    """``factor`` × the expected count under a log-linear tempo fitted to the whole history (module docstring)."""

    name: ClassVar[str] = "tempo"
    harmonics: int = 1
    trend: bool = True
    pattern: bool = True
    factor: float = 1.0

    def __post_init__(self) -> None:
        _check(self, "harmonics")
        _check(self, "trend", "pattern", kind="bool")
        _check(self, "factor", kind="number")

    def _design(self, ds: np.ndarray, at: np.ndarray, first: np.datetime64, m: int) -> np.ndarray:
        """Regressors at ``ds`` (positions ``at``): 1, harmonics, years since ``first``, season positions."""
        cols = [_annual(ds, self.harmonics)]
        if self.trend:
            cols.append(((ds.astype("datetime64[D]") - first).astype(np.int64) / 365.25)[:, None])
        if self.pattern and m > 1:
            cols.append((at[:, None] % m == np.arange(1, m)).astype(np.float64))
        return np.hstack(cols)

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        valid = ~np.isnan(x)
        if not valid.any() or (self.harmonics and _span_days(ds[valid]) < 365):
            return float(self.factor) * Baseline().extend(ds, x, future_ds, season_length)
        if not x[valid].sum() > 0:
            return np.zeros(future_ds.size)
        first, m = ds[valid][0].astype("datetime64[D]"), int(season_length)
        beta = sampling.fit_poisson(self._design(ds[valid], np.flatnonzero(valid), first, m), x[valid])
        eta = self._design(future_ds, x.size + np.arange(future_ds.size), first, m) @ beta
        return float(self.factor) * np.exp(np.minimum(eta, 30.0))


@dataclass(frozen=True)
class Climatology(InputPath):
    """Day-of-year climatology (earlier years, or fitted harmonics) plus the last anomaly decaying at lag-1 φ."""

    name: ClassVar[str] = "climatology"
    window_days: int = 7
    persist: bool = True
    anomaly_window: int = 56
    harmonics: int = 0

    def __post_init__(self) -> None:
        _check(self, "window_days", "harmonics")
        _check(self, "persist", kind="bool")

    def _fitted(self, ds: np.ndarray, x: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The history's least-squares annual harmonics at ``at`` (per hour); NaN without a year of history."""
        hd, hx, out = ds[~np.isnan(x)], x[~np.isnan(x)], np.full(at.size, np.nan)
        if _span_days(hd) < 365:
            return out
        for hour in np.unique(_hour(at)):  # one fit for daily dates (hour 0)
            rows, dest = _hour(hd) == hour, _hour(at) == hour
            if rows.sum() > 2 * self.harmonics + 1:
                beta = np.linalg.lstsq(_annual(hd[rows], self.harmonics), hx[rows], rcond=None)[0]
                out[dest] = _annual(at[dest], self.harmonics) @ beta
        return out

    def _clim(self, ds: np.ndarray, x: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Climatology at the dates ``at``: fitted harmonics, or the history values more than half a year before."""
        if self.harmonics:
            return self._fitted(ds, x, at)
        hourly = ds.dtype != np.dtype("datetime64[D]")
        valid = ~np.isnan(x)
        hd, hx = ds[valid].astype("datetime64[D]"), x[valid]
        hdoy, out = _day_of_year(ds[valid]), np.full(at.size, np.nan)
        hh = _hour(ds[valid]) if hourly else None
        adoy, aday = _day_of_year(at), at.astype("datetime64[D]")
        ah = _hour(at) if hourly else None
        for i in range(at.size):
            dist = np.abs(hdoy - adoy[i])
            near = np.minimum(dist, 366 - dist) <= self.window_days
            near &= (aday[i] - hd).astype(np.int64) > HALF_YEAR_DAYS
            if hh is not None and ah is not None:
                near &= hh == ah[i]
            if near.any():
                out[i] = hx[near].mean()
        return out

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        clim = self._clim(ds, x, future_ds)
        if np.isnan(clim).any():
            return Baseline().extend(ds, x, future_ds, season_length)
        if not self.persist:
            return clim
        recent = slice(0 if self.harmonics else max(0, x.size - self.anomaly_window), x.size)
        anomaly = x[recent] - self._clim(ds, x, ds[recent])
        ok = ~np.isnan(anomaly[1:]) & ~np.isnan(anomaly[:-1])
        if ok.sum() < 3 or np.isnan(anomaly[-1]):
            return clim
        a, b = anomaly[:-1][ok], anomaly[1:][ok]
        den = float(np.sqrt(((a - a.mean()) ** 2).sum() * ((b - b.mean()) ** 2).sum()))
        phi = float(np.clip(((a - a.mean()) * (b - b.mean())).sum() / den, 0.0, 0.98)) if den > 0 else 0.0
        return clim + anomaly[-1] * phi ** np.arange(1, future_ds.size + 1)


@dataclass(frozen=True)
class ColdSnap(Climatology):
    """The :class:`Climatology` path ``delta`` degrees colder on the first ``days`` periods after the cutoff."""

    name: ClassVar[str] = "cold_snap"
    delta: float = 8.0
    days: int = 7

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self, "delta", kind="number", what="degrees")
        _check(self, "days", low=1)

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        base = super().extend(ds, x, future_ds, season_length)
        return base - np.where(np.arange(future_ds.size) < self.days, float(self.delta), 0.0)


@dataclass(frozen=True)
class Supplied(InputPath):
    """Future values from a user's file (read outside this layer); the ``then`` path where it gives none."""

    name: ClassVar[str] = "forecast"
    file: str = ""
    column: str = ""
    then: str = "climatology"

    def __post_init__(self) -> None:
        if not isinstance(self.file, str) or not self.file.strip():
            raise ValueError('forecast: name the file of future values, e.g. file = "data/weather_forecast.csv"')
        if not isinstance(self.column, str):
            raise ValueError(f"forecast column: expected a column name, got {self.column!r}")
        if self.then == self.name or self.then not in PATHS:
            raise ValueError(f"forecast then: expected a path name other than forecast, got {self.then!r}")

    def extend(self, ds: np.ndarray, x: np.ndarray, future_ds: np.ndarray, season_length: int) -> np.ndarray:
        return make_path(self.then).extend(ds, x, future_ds, season_length)


PATHS: Mapping[str, type[InputPath]] = {
    cls.name: cls for cls in (Baseline, Scaled, Tempo, Zero, LastValue, Replay, Climatology, ColdSnap, Supplied)
}
"""Paths selectable by name in a spec."""


def make_path(spec: str | Mapping[str, Any] | InputPath, *, key: str = "path") -> InputPath:
    """A path from a name (``"baseline"``), a table (``{path = "scaled", factor = 2}``) or a path object."""
    if isinstance(spec, InputPath):
        return spec
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, Mapping):
        params = dict(spec)
        name = params.pop("path", None)
        if not isinstance(name, str):
            raise ValueError(f'{key}: a table needs `path = "<name>"`; names: {", ".join(PATHS)}')
    else:
        raise ValueError(f"{key}: expected a path name or a table, got {spec!r}")
    cls = PATHS.get(name)
    if cls is None:
        raise ValueError(f"{key}: unknown path {name!r}; expected one of {', '.join(PATHS)}")
    try:
        return cls(**params)
    except TypeError:
        allowed = [f for f in cls.__dataclass_fields__ if f != "name"]
        extra = sorted(set(params) - set(allowed))
        takes = ", ".join(allowed) or "none"
        names = ", ".join(map(repr, extra))
        raise ValueError(f"{key}: path {name!r} has no parameter {names}; it takes {takes}") from None
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
