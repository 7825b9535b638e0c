"""Future values of exogenous inputs: the seam for named scenarios (DESIGN §6).

A provider sees the history of the exogenous columns up to a cutoff and the future ``(unique_id, ds)`` rows to
fill, and returns those rows with the columns added. A backtest calls it once per window, so a provider that
looks only at ``history`` cannot leak the truth after the cutoff; :class:`OracleProvider` does so on purpose and
is meant only for specs that set ``oracle_exog = true``.

Providers by name (spec values): ``"last_value"`` (:class:`LastValueProvider`), ``"climatology"``
(:class:`ClimatologyProvider`, for temperature-like columns); :class:`ColumnProvider` picks one per column, e.g.
``{"hdd_c": "climatology", "launched_total_ewm7": "last_value"}``, and :func:`make_provider` builds any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import polars as pl

from features.contract import DS, ID

DEFAULT_SCENARIO = "last_value"
"""The scenario of a forecast whose future inputs are carried forward (each column's provider; named what-if
scenarios arrive with DESIGN §6)."""


@runtime_checkable
class ExogProvider(Protocol):
    """Anything that turns exogenous history into future exogenous values."""

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Return ``future`` (``unique_id``, ``ds``) with Float64 ``columns`` added, one row per input row.

        ``history`` holds ``unique_id``, ``ds`` and ``columns`` for rows at or before each series' cutoff.
        Values the provider cannot supply are null; the caller rejects them with a clear error.
        """
        ...


class LastValueProvider:
    """Carry the last observed (non-null) value of each column forward, per series."""

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Fill every future row of a series with that series' last non-null value of each column."""
        cols = list(columns)
        if not cols:
            return future.select(ID, DS)
        last = history.sort(ID, DS).group_by(ID).agg([pl.col(c).drop_nulls().last().cast(pl.Float64) for c in cols])
        return _attach(future, last, [ID])


class OracleProvider:
    """Take the true future values from the full frame (perfect foresight of the inputs).

    Only for specs with ``oracle_exog = true``: it measures how good a model would be with known inputs, not how
    good a forecast made at the cutoff is.
    """

    def __init__(self, full: pl.DataFrame) -> None:
        self.full = full

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Look the future rows up in the full frame."""
        cols = list(columns)
        if not cols:
            return future.select(ID, DS)
        truth = self.full.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in cols])
        return _attach(future, truth, [ID, DS])


def _attach(future: pl.DataFrame, values: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    base = future.select(ID, DS).with_row_index("_order")
    return base.join(values, on=on, how="left").sort("_order").drop("_order")


class ClimatologyProvider:
    """The mean of each column at the same day of year ±``window_days`` in past years of the history, per series.

    For a future row dated ``d`` (the date part of ``ds``; for hourly data also the same UTC hour of day), the
    value is the mean of the non-null history values of that series whose day of year is within ``window_days``
    of ``d``'s (circularly, so late December neighbours early January) and which lie more than half a year
    before ``d`` — that is, in earlier years, never in the weeks just before the cutoff. With no such value (less
    than a year of history), the series' last observed value is carried forward (:class:`LastValueProvider`).
    Day of year counts 1..366, so 29 February sits between 28 February and 1 March in leap years.
    """

    def __init__(self, window_days: int = 7) -> None:
        if isinstance(window_days, bool) or not isinstance(window_days, int) or not 0 <= window_days <= 90:
            raise ValueError(f"climatology window_days: expected an integer in [0, 90], got {window_days!r}")
        self.window_days = window_days

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Climatological values for every future row, falling back to the last value where there is no history."""
        cols = list(columns)
        if not cols:
            return future.select(ID, DS)
        hourly = history.schema[DS] != pl.Date
        day = pl.col(DS).dt.date() if hourly else pl.col(DS)
        keys = [pl.col(DS).dt.hour().alias("_hour")] if hourly else []
        hist = history.select(
            ID,
            day.alias("_hday"),
            day.dt.ordinal_day().alias("_doy"),
            *keys,
            *[pl.col(c).cast(pl.Float64) for c in cols],
        )
        fut = future.select(ID, DS).with_row_index("_order").with_columns(day.alias("_fday"), *keys)
        k = self.window_days
        offsets = pl.int_range(-k, k + 1, dtype=pl.Int32).implode()
        wanted = (
            fut.with_columns(offsets.alias("_off"))
            .explode("_off")
            .with_columns((((pl.col("_fday").dt.ordinal_day() - 1 + pl.col("_off")) % 366) + 1).alias("_doy"))
        )
        on = [ID, "_doy", *(["_hour"] if hourly else [])]
        matched = wanted.join(hist, on=on, how="inner").filter(
            (pl.col("_fday") - pl.col("_hday")).dt.total_days() > 182
        )
        clim = matched.group_by("_order").agg(pl.col(c).mean() for c in cols)
        last = LastValueProvider().future(history, future, cols)
        out = fut.select("_order", ID, DS).join(clim, on="_order", how="left").sort("_order")
        return out.select(ID, DS, *[pl.coalesce(pl.col(c), last.get_column(c)).alias(c) for c in cols])


PROVIDERS: dict[str, type] = {DEFAULT_SCENARIO: LastValueProvider, "climatology": ClimatologyProvider}
"""Providers selectable by name in a spec (the oracle is not among them: it needs ``oracle_exog = true``)."""


class ColumnProvider:
    """One provider per column: ``{"hdd_c": "climatology", "launched_total_ewm7": "last_value"}``.

    Values are provider names (:data:`PROVIDERS`) or provider objects; columns not in the mapping use
    ``default``. Each provider is called once with all of its columns.
    """

    def __init__(
        self, mapping: Mapping[str, str | ExogProvider], default: str | ExogProvider = DEFAULT_SCENARIO
    ) -> None:
        self.mapping = {c: _resolve(p, f"exog_providers.{c}") for c, p in mapping.items()}
        self.default = _resolve(default, "exog_providers default")

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Ask each provider for its columns and assemble them in the order of ``columns``."""
        cols = list(columns)
        groups: dict[int, tuple[ExogProvider, list[str]]] = {}
        for c in cols:
            prov = self.mapping.get(c, self.default)
            groups.setdefault(id(prov), (prov, []))[1].append(c)
        out = future.select(ID, DS)
        for prov, group in groups.values():
            part = prov.future(history, future, group)
            out = out.with_columns(part.get_column(c) for c in group)
        return out.select(ID, DS, *cols)


def _resolve(provider: str | ExogProvider, key: str) -> ExogProvider:
    if isinstance(provider, str):
        if provider not in PROVIDERS:
            raise ValueError(f"{key}: unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        return PROVIDERS[provider]()
    if not isinstance(provider, ExogProvider):
        raise TypeError(f"{key}: expected a provider name or an object with a future() method, got {provider!r}")
    return provider


def make_provider(
    spec: str | Mapping[str, str | ExogProvider] | ExogProvider | None = None,
    *,
    oracle_exog: bool = False,
    full: pl.DataFrame | None = None,
    default: str = DEFAULT_SCENARIO,
) -> ExogProvider:
    """The provider a spec asks for: a name, a per-column mapping, or (``oracle_exog=True``) the oracle on ``full``.

    ``None`` gives ``default``. ``oracle_exog`` overrides everything else and needs the full frame.
    """
    if oracle_exog:
        if full is None:
            raise ValueError("oracle_exog: the oracle provider needs the full frame")
        return OracleProvider(full)
    if spec is None:
        return _resolve(default, "exog_provider")
    if isinstance(spec, Mapping):
        return ColumnProvider(spec, default)
    return _resolve(spec, "exog_provider")
