"""An exogenous provider that extends the raw inputs with paths and recomputes the indicators over history + path.

:class:`InputPathProvider` is an :class:`forecast.exog.ExogProvider`: a backtest calls it at every cutoff, the
forecast job once at the as-of date. For each series it cuts the raw inputs at the cutoff (the last ``ds`` of the
history it is given, so nothing after the cutoff is read), extends every raw input column with its
:class:`~forecast.scenarios.paths.InputPath` over the future dates, recomputes the indicators in the spec's order on
history + path (:func:`features.indicators.add_indicators`, the same kernels as the history), and returns the
requested columns at the future rows. Requested columns that are neither raw inputs nor indicator outputs go to
``fallback`` (e.g. a column-wise provider).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from features.contract import DS, ID
from features.indicators import IndicatorSpec, add_indicators
from forecast.exog import ExogProvider, LastValueProvider
from forecast.scenarios.paths import InputPath, make_path

_CUT = "_cutoff"


class InputPathProvider:
    """Future inputs from raw-input paths and recomputed indicators (see the module docstring).

    ``inputs``: ``unique_id, ds`` and the raw input columns on each target series' regular grid, over the whole
    history (as :class:`experiments.inputs.dataset.Dataset` keeps it); ``indicators``: the specs computed from them,
    in order; ``paths``: raw column → path (name, table or object); raw columns not named use ``default``.
    """

    def __init__(
        self,
        inputs: pl.DataFrame,
        indicators: Sequence[IndicatorSpec],
        paths: Mapping[str, str | Mapping[str, object] | InputPath] | None = None,
        *,
        season_length: int = 1,
        default: str | InputPath = "baseline",
        fallback: ExogProvider | None = None,
    ) -> None:
        missing = [c for c in (ID, DS) if c not in inputs.columns]
        if missing:
            raise ValueError(f"inputs: missing columns {', '.join(missing)}")
        self.inputs = inputs.sort(ID, DS)
        self.raw = [c for c in inputs.columns if c not in (ID, DS)]
        unknown = sorted(set(paths or {}) - set(self.raw))
        if unknown:
            raise ValueError(f"paths: {unknown[0]!r} is not a raw input column; they are: {', '.join(self.raw)}")
        self.indicators = list(indicators)
        self.paths = {c: make_path(p, key=f"paths.{c}") for c, p in (paths or {}).items()}
        self.default = make_path(default, key="paths default")
        self.season_length = int(season_length)
        self.fallback = fallback if fallback is not None else LastValueProvider()
        self.derived = {*self.raw, *(ind.output for ind in self.indicators)}

    def path_of(self, column: str) -> InputPath:
        """The path that extends raw input ``column``."""
        return self.paths.get(column, self.default)

    def extended(self, history: pl.DataFrame, future: pl.DataFrame) -> pl.DataFrame:
        """The raw inputs up to each series' cutoff followed by their paths at the ``future`` rows, with every
        indicator recomputed: ``unique_id, ds``, raw columns, indicator outputs (history and future rows)."""
        cutoffs = history.group_by(ID).agg(pl.col(DS).max().alias(_CUT))
        hist = self.inputs.join(cutoffs, on=ID, how="inner").filter(pl.col(DS) <= pl.col(_CUT)).drop(_CUT)
        fut = future.select(ID, DS).sort(ID, DS)
        hist_parts = hist.partition_by(ID, as_dict=True, maintain_order=True)
        rows = []
        for (uid,), part in fut.partition_by(ID, as_dict=True, maintain_order=True).items():
            past = hist_parts.get((uid,))
            if past is None:
                raise ValueError(f"inputs: no input history for series {uid!r}")
            ds = past.get_column(DS).to_numpy()
            fds = part.get_column(DS).to_numpy()
            values = {
                c: self.path_of(c).extend(
                    ds, past.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy(), fds, self.season_length
                )
                for c in self.raw
            }
            rows.append(part.with_columns(pl.Series(c, v, dtype=pl.Float64) for c, v in values.items()))
        ext = pl.concat(rows) if rows else fut.with_columns(pl.lit(None, pl.Float64).alias(c) for c in self.raw)
        hist = hist.with_columns(pl.col(c).cast(pl.Float64) for c in self.raw)
        full = pl.concat([hist, ext.with_columns(pl.col(DS).cast(hist.schema[DS]))]).sort(ID, DS)
        return add_indicators(full, self.indicators) if self.indicators else full

    def future(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """The requested columns at the ``future`` rows (see the class docstring)."""
        cols = list(columns)
        ours = [c for c in cols if c in self.derived]
        others = [c for c in cols if c not in self.derived]
        out = future.select(ID, DS)
        if ours:
            full = self.extended(history, future).select(ID, DS, *ours)
            out = out.join(full, on=[ID, DS], how="left", maintain_order="left")
        if others:
            part = self.fallback.future(history, future, others)
            out = out.with_columns(part.get_column(c) for c in others)
        return out.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in cols])
