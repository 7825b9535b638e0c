"""An exogenous provider that extends the raw inputs with paths and recomputes the indicators over history + path.

:class:`InputPathProvider` is an :class:`forecast.exog.ExogProvider`: a backtest calls it at every cutoff, the
forecast job once at the as-of date. For each series it cuts the raw inputs at the cutoff (the last ``ds`` of the
history it is given, so nothing after the cutoff is read), extends every raw input column with its
:class:`~forecast.scenarios.paths.InputPath` over the future dates, recomputes the indicators in the spec's order on
history + path (:func:`features.indicators.add_indicators`, the same kernels as the history), and returns the
requested columns at the future rows. Requested columns that are neither raw inputs nor indicator outputs go to
``fallback`` (e.g. a column-wise provider).

Sampled paths (``samples = n`` on a path): :meth:`InputPathProvider.future` still gives the mean path (so a job that
does not sample forecasts as before); :meth:`~InputPathProvider.futures` gives ``n`` future-input frames, each with
the indicators recomputed over history + one sampled path (all samples stacked as extra series in one
:func:`~features.indicators.add_indicators` call), and :meth:`~InputPathProvider.conditioned` the frame in which
the sampled raw columns take their true values after the cutoff (the others follow their paths): a backtest under it
measures the model's error given those inputs, which the sampled forecast then mixes over the sampled paths
(:mod:`forecast.scenarios.sampled`). ``scenario`` names the stream of the draws (with the path's ``seed`` and the
column, see :mod:`forecast.scenarios.sampling`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import polars as pl

from features.contract import DS, ID
from features.indicators import IndicatorSpec, add_indicators
from forecast.exog import ExogProvider, LastValueProvider
from forecast.scenarios.paths import InputPath, make_path
from forecast.scenarios.sampling import fingerprint

_CUT = "_cutoff"
_SID = "_sample_series"
BASELINE = "baseline"
"""The scenario of a spec's own ``[paths]``; named scenarios override some of them (``[scenarios.<name>]``)."""


def _by_series(supplied: pl.DataFrame | None, raw: list[str]) -> dict[str | None, pl.DataFrame]:
    """Supplied future inputs by series id (key None: one table for every series), sorted by ``ds``."""
    if supplied is None or supplied.height == 0:
        return {}
    unknown = [c for c in supplied.columns if c not in (ID, DS, *raw)]
    if unknown or DS not in supplied.columns:
        what = f"{unknown[0]!r} is not a raw input column" if unknown else f"no {DS} column"
        raise ValueError(f"supplied inputs: {what}; expected {DS}, optionally {ID}, and some of {', '.join(raw)}")
    if ID not in supplied.columns:
        return {None: supplied.sort(DS)}
    parts = supplied.sort(ID, DS).partition_by(ID, as_dict=True, maintain_order=True)
    return {str(uid): part.drop(ID) for (uid,), part in parts.items()}


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
        scenario: str = BASELINE,
        supplied: pl.DataFrame | None = None,
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
        self.scenario = scenario
        self.supplied = _by_series(supplied, self.raw)
        counts = {c: self.path_of(c).n_samples() for c in self.raw if self.path_of(c).n_samples() > 0}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{c} {k}" for c, k in counts.items())
            raise ValueError(f"paths: sampled paths of one scenario need the same samples; got {listed}")

    def path_of(self, column: str) -> InputPath:
        """The path that extends raw input ``column``."""
        return self.paths.get(column, self.default)

    @property
    def sampled(self) -> list[str]:
        """The raw columns whose paths are sampled."""
        return [c for c in self.raw if self.path_of(c).n_samples() > 0]

    @property
    def samples(self) -> int:
        """Future-input frames :meth:`futures` gives: the sampled paths' ``samples`` (1 when none is sampled)."""
        return max([self.path_of(c).n_samples() for c in self.raw] + [1])

    def _given(self, uid: str, column: str, future_ds: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values`` (a path, or ``(n, h)`` sampled paths) with the supplied values of ``column`` in place."""
        table = self.supplied.get(uid, self.supplied.get(None))
        if table is None or column not in table.columns or table.height == 0:
            return values
        ds = table.get_column(DS).to_numpy().astype(future_ds.dtype)
        given = table.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()
        pos = np.minimum(np.searchsorted(ds, future_ds), ds.size - 1)
        at = np.where(ds[pos] == future_ds, given[pos], np.nan)
        return np.where(np.isnan(at), values, at)

    def _history(self, history: pl.DataFrame) -> pl.DataFrame:
        """The raw inputs of every series up to its cutoff, the last ``ds`` of ``history``."""
        cutoffs = history.group_by(ID).agg(pl.col(DS).max().alias(_CUT))
        return self.inputs.join(cutoffs, on=ID, how="inner").filter(pl.col(DS) <= pl.col(_CUT)).drop(_CUT)

    def _series(self, hist: pl.DataFrame, fut: pl.DataFrame) -> Iterator[tuple[str, pl.DataFrame, pl.DataFrame]]:
        """``(series id, its raw history, its future rows)`` for every series of ``fut`` (sorted by id and ds)."""
        hist_parts = hist.partition_by(ID, as_dict=True, maintain_order=True)
        for (uid,), part in fut.partition_by(ID, as_dict=True, maintain_order=True).items():
            past = hist_parts.get((uid,))
            if past is None:
                raise ValueError(f"inputs: no input history for series {uid!r}")
            yield str(uid), past, part

    def extended(self, history: pl.DataFrame, future: pl.DataFrame, *, oracle: Sequence[str] = ()) -> pl.DataFrame:
        """The raw inputs up to each series' cutoff followed by their paths at the ``future`` rows, with every
        indicator recomputed: ``unique_id, ds``, raw columns, indicator outputs (history and future rows).

        ``oracle`` columns take their true values at the future rows instead (from ``inputs``; where the truth is
        missing, the path's value)."""
        hist = self._history(history)
        fut = future.select(ID, DS).sort(ID, DS)
        rows = []
        for uid, past, part in self._series(hist, fut):
            ds = past.get_column(DS).to_numpy()
            fds = part.get_column(DS).to_numpy()
            # to_numpy gives NaN for nulls; numpy from here on (a Series method is a small query each)
            values = {
                c: self.path_of(c).extend(
                    ds, np.asarray(past.get_column(c).to_numpy(), dtype=np.float64), fds, self.season_length
                )
                for c in self.raw
            }
            for c in values:
                values[c] = self._given(uid, c, fds, values[c])
            if oracle:
                rows_of = self.inputs.filter(pl.col(ID) == uid)
                at = part.with_columns(pl.col(DS).cast(rows_of.schema[DS]))
                truth = at.join(rows_of, on=[ID, DS], how="left", maintain_order="left")
                for c in oracle:
                    true = truth.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
                    values[c] = np.where(np.isnan(true), values[c], true)
            rows.append(part.with_columns(pl.Series(c, v, dtype=pl.Float64) for c, v in values.items()))
        ext = pl.concat(rows) if rows else fut.with_columns(pl.lit(None, pl.Float64).alias(c) for c in self.raw)
        hist = hist.with_columns(pl.col(c).cast(pl.Float64) for c in self.raw)
        full = pl.concat([hist, ext.with_columns(pl.col(DS).cast(hist.schema[DS]))]).sort(ID, DS)
        return add_indicators(full, self.indicators) if self.indicators else full

    def future(
        self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str], *, oracle: Sequence[str] = ()
    ) -> pl.DataFrame:
        """The requested columns at the ``future`` rows (see the class docstring; ``oracle`` as in
        :meth:`extended`)."""
        cols = list(columns)
        ours = [c for c in cols if c in self.derived]
        others = [c for c in cols if c not in self.derived]
        out = future.select(ID, DS)
        if ours:
            full = self.extended(history, future, oracle=oracle).select(ID, DS, *ours)
            out = out.join(full, on=[ID, DS], how="left", maintain_order="left")
        if others:
            part = self.fallback.future(history, future, others)
            out = out.with_columns(part.get_column(c) for c in others)
        return out.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in cols])

    def conditioned(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """:meth:`future` with the sampled raw columns at their true values after the cutoff (for backtests only:
        it reads the truth on purpose, like :class:`~forecast.exog.OracleProvider`, for those columns alone)."""
        return self.future(history, future, columns, oracle=self.sampled)

    def futures(self, history: pl.DataFrame, future: pl.DataFrame, columns: Sequence[str]) -> list[pl.DataFrame]:
        """:attr:`samples` frames like :meth:`future`: frame ``k`` has every sampled raw column on its ``k``-th
        sampled path (the other raw columns on their paths) and the indicators recomputed along it. Without sampled
        paths, one frame: the :meth:`future`."""
        n = self.samples
        cols = list(columns)
        ours = [c for c in cols if c in self.derived]
        if not self.sampled or not ours:
            return [self.future(history, future, cols)] * n
        others = [c for c in cols if c not in self.derived]
        base = future.select(ID, DS)
        fallback = self.fallback.future(history, future, others) if others else None
        values = self._sampled_values(history, future, ours, n)
        frames = []
        for k in range(n):
            out = base.with_columns(pl.Series(c, values[c][k], dtype=pl.Float64) for c in ours)
            if fallback is not None:
                out = out.with_columns(fallback.get_column(c) for c in others)
            frames.append(out.select(ID, DS, *[pl.col(c).cast(pl.Float64) for c in cols]))
        return frames

    def _sampled_values(
        self, history: pl.DataFrame, future: pl.DataFrame, columns: list[str], n: int
    ) -> dict[str, np.ndarray]:
        """``column → (n, rows of future)``: every sample's values at the future rows, in their order.

        Series ``i``, sample ``k`` becomes stacked series ``i·n + k`` (its history repeated, then the ``k``-th path),
        so the indicators of every sample come from one pass of the kernels (``ds`` as integers: the kernels only
        need the order). Draws are cached by fingerprint: series with the same history (a broadcast national
        column) are drawn once and get the same draws."""
        hist = self._history(history)
        fut = future.select(ID, DS).with_row_index("_pos").sort(ID, DS)
        cache: dict[tuple[str, bytes], np.ndarray] = {}
        blocks: dict[str, list[np.ndarray]] = {c: [] for c in self.raw}
        ids, times, horizons, positions = [], [], [], []
        for i, (uid, past, part) in enumerate(self._series(hist, fut)):
            ds = past.get_column(DS).to_numpy()
            fds = part.get_column(DS).to_numpy().astype(ds.dtype)
            for c in self.raw:
                x = past.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
                key = (c, fingerprint(ds, x, fds))
                if key not in cache:
                    cache[key] = self.path_of(c).draw(ds, x, fds, self.season_length, (self.scenario, c))
                paths = np.broadcast_to(self._given(uid, c, fds, cache[key]), (n, fds.size))
                blocks[c].append(np.concatenate([np.broadcast_to(x, (n, ds.size)), paths], axis=1).ravel())
            ids.append(np.repeat(np.arange(i * n, (i + 1) * n), ds.size + fds.size))
            times.append(np.tile(np.concatenate([ds, fds]).view(np.int64), n))
            horizons.append((ds.size, fds.size))
            positions.append(part.get_column("_pos").to_numpy())
        stacked = pl.DataFrame({_SID: np.concatenate(ids), DS: np.concatenate(times)}).with_columns(
            pl.Series(c, np.concatenate(v), dtype=pl.Float64) for c, v in blocks.items()
        )
        full = add_indicators(stacked, self.indicators, id_col=_SID) if self.indicators else stacked
        order = np.concatenate(positions)
        out = {}
        for c in columns:
            values = full.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
            parts, start = [], 0
            for length, h in horizons:  # series block: n × (history, future) rows
                block = values[start : start + n * (length + h)].reshape(n, length + h)
                parts.append(block[:, length:])
                start += n * (length + h)
            arranged = np.empty((n, order.size))
            arranged[:, order] = np.concatenate(parts, axis=1)
            out[c] = arranged
        return out
