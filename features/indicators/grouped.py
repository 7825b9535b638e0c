"""Grouped arrays: many series in one flat array plus offsets (the layout every kernel works on).

Layout (CSR-like, as in Nixtla's mlforecast/coreforecast)::

    values = [a0 a1 a2 | b0 | c0 c1]     1-D float64 or float32, series after series, each in time order
    indptr = [0, 3, 4, 6]                int64, len = n_groups + 1, indptr[0] = 0, indptr[-1] = len(values)

Series ``i`` is ``values[indptr[i]:indptr[i + 1]]`` (possibly empty). Kernels loop over groups and never carry state
across a boundary. Missing inputs are NaN in ``values``: Polars nulls become NaN on the way in.

:meth:`GroupedArray.from_frame` builds the layout from a canonical long frame already sorted by (``unique_id``,
``ds``): the offsets come from the rows where the id changes (no Python loop over rows), and the values are the
column's own buffer when it is a single-chunk Float64/Float32 column without nulls (zero copy, read-only view).
Results go back with :func:`to_series` (NaN → null, no copy of the values).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from features.contract import DS, ID
from features.errors import DataError

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
_SOURCE = "GroupedArray.from_frame"


def check_layout(values: np.ndarray, indptr: np.ndarray) -> None:
    """Raise ``ValueError``/``TypeError`` unless ``values``/``indptr`` form a valid grouped layout.

    Cost is O(n_groups); kernels rely on it because numba does no bounds checking.
    """
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        raise TypeError("values must be a 1-D numpy array")
    if values.dtype not in FLOAT_DTYPES:
        raise TypeError(f"values must be float64 or float32, got {values.dtype}")
    if not isinstance(indptr, np.ndarray) or indptr.ndim != 1 or indptr.dtype != np.int64:
        raise TypeError("indptr must be a 1-D int64 numpy array")
    if indptr.size == 0 or indptr[0] != 0:
        raise ValueError("indptr must start with 0")
    if indptr[-1] != values.size:
        raise ValueError(f"indptr must end with len(values) = {values.size}, got {indptr[-1]}")
    if indptr.size > 2 and (indptr[1:] < indptr[:-1]).any():  # no diff array: a quarter of the cost when small
        raise ValueError("indptr must be non-decreasing")


class GroupedArray:
    """Series stored back to back in ``values`` with group offsets ``indptr`` (see the module docstring).

    ``len(ga)`` and iteration are over groups; ``ga[i]`` is a view of series ``i``.
    """

    __slots__ = ("indptr", "values")

    def __init__(self, values: np.ndarray, indptr: np.ndarray) -> None:
        check_layout(values, indptr)
        self.values = values
        self.indptr = indptr

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        column: str,
        id_col: str = ID,
        *,
        ds_col: str | None = DS,
    ) -> GroupedArray:
        """Group ``frame[column]`` by ``id_col`` for a frame sorted by (``id_col``, ``ds_col``).

        Checks, all vectorised: ids have no nulls and each id forms one contiguous run (the order of the ids
        themselves is free); when ``ds_col`` is given, it has no nulls and strictly increases within each series
        (pass ``ds_col=None`` to skip). Raises :class:`~features.errors.DataError` (a ``ValueError``) otherwise.

        Values: Float64/Float32 columns are kept in their dtype, other numeric columns are cast to Float64;
        nulls become NaN. A single-chunk float column without nulls is used without copying (read-only).
        """
        indptr = group_indptr(frame, id_col, ds_col=ds_col)
        return cls(column_values(frame, column), indptr)

    @property
    def n_groups(self) -> int:
        """Number of series (groups), including empty ones."""
        return self.indptr.size - 1

    @property
    def sizes(self) -> np.ndarray:
        """Length of each series, int64 of shape (n_groups,)."""
        return np.diff(self.indptr)

    def __len__(self) -> int:
        return self.n_groups

    def __getitem__(self, i: int) -> np.ndarray:
        n = self.n_groups
        if not -n <= i < n:
            raise IndexError(f"group {i} out of range for {n} groups")
        i %= n
        return self.values[self.indptr[i] : self.indptr[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n_groups):
            yield self[i]

    def with_values(self, new_values: np.ndarray) -> GroupedArray:
        """The same grouping (shared ``indptr``) over ``new_values`` of the same length."""
        if not isinstance(new_values, np.ndarray) or new_values.shape != self.values.shape:
            shape = getattr(new_values, "shape", None)
            raise ValueError(f"new_values must have shape {self.values.shape}, got {shape}")
        return GroupedArray(new_values, self.indptr)

    def __repr__(self) -> str:
        return f"GroupedArray(n_values={self.values.size}, n_groups={self.n_groups}, dtype={self.values.dtype})"


def group_indptr(frame: pl.DataFrame, id_col: str = ID, *, ds_col: str | None = DS) -> np.ndarray:
    """Offsets (int64, length n_groups + 1) of the id runs of a frame sorted by (``id_col``, ``ds_col``).

    Verifies contiguity of ids and, when ``ds_col`` is given, strictly increasing ``ds`` within each series.
    Raises :class:`~features.errors.DataError` naming the first offending row (1-based).
    """
    _require(frame, id_col)
    ids = frame[id_col]
    if ids.null_count():
        rows = (np.flatnonzero(ids.is_null().to_numpy()) + 1).tolist()
        raise DataError(_SOURCE, "null series id", column=id_col, rows=rows, expected="no nulls")
    n = ids.len()
    # run starts: row 0 and the rows whose id differs from the previous row's (exact comparison of the column with
    # itself one row later: no copy; faster than Series.rle here), in pieces on the kernels' threads for a large
    # frame (Polars compares without the GIL: 40 ms → 20 ms for 10M ids on 2 threads)
    from features.indicators.kernels._run import PARALLEL_MIN_ROWS, parallel_map  # here: kernels.api imports us

    pieces = _PIECES if n >= PARALLEL_MIN_ROWS else 1
    cuts = [1 + max(n - 1, 0) * k // pieces for k in range(pieces + 1)]  # rows 1 .. n − 1
    found = parallel_map(lambda k: _id_changes(ids, cuts[k], cuts[k + 1]), range(pieces), n)
    indptr = np.empty(sum(f.size for f in found) + (2 if n else 1), dtype=np.int64)
    indptr[0] = 0
    indptr[1:-1] = np.concatenate(found)
    indptr[-1] = n
    run_ids = ids.gather(indptr[:-1])
    repeated = run_ids.is_duplicated().to_numpy()
    if repeated.any():
        second = np.flatnonzero(repeated)[1]  # the first run whose id already appeared earlier
        raise DataError(
            _SOURCE,
            f"series id {run_ids[int(second)]!r} is not contiguous",
            column=id_col,
            rows=[int(indptr[second]) + 1],
            expected=f"frame sorted by ({id_col}, {ds_col or '...'})",
        )
    if ds_col is not None:
        _check_time_order(frame, ds_col, indptr)
    return indptr


_PIECES = 4
"""Pieces of a large id column compared in parallel (a few per thread, so a thread held back costs little)."""


def _id_changes(ids: pl.Series, a: int, b: int) -> np.ndarray:
    """Rows ``a ≤ k < b`` (``a ≥ 1``) whose id differs from row ``k − 1``'s, as int64."""
    if b <= a:
        return np.empty(0, dtype=np.int64)
    return (ids.slice(a, b - a) != ids.slice(a - 1, b - a)).arg_true().cast(pl.Int64).to_numpy() + a


def column_values(frame: pl.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as a 1-D float numpy array: nulls → NaN, zero copy where Polars allows it."""
    _require(frame, column)
    series = frame[column]
    if not series.dtype.is_numeric():
        raise DataError(_SOURCE, f"column has dtype {series.dtype}", column=column, expected="a numeric column")
    if series.dtype not in (pl.Float64, pl.Float32):
        series = series.cast(pl.Float64)
    return series.to_numpy()


def to_series(name: str, values: np.ndarray, *, nan_free: bool = False) -> pl.Series:
    """A kernel result back as a Float64 Polars column: NaN → null (a validity mask is built; the float64 values
    are not copied). Float32 results are widened to Float64 (a copy). ``nan_free=True`` says that ``values`` holds
    no NaN (as the kernels report it): a float64 array then goes to Polars as it is, without Polars' scan for NaN
    (about 7 ms per 10M values)."""
    if nan_free and values.dtype == np.float64:
        return pl.Series(name, values)
    series = pl.Series(name, values, nan_to_null=True)
    return series if series.dtype == pl.Float64 else series.cast(pl.Float64)


def _check_time_order(frame: pl.DataFrame, ds_col: str, indptr: np.ndarray) -> None:
    _require(frame, ds_col)
    ds = frame[ds_col]
    if ds.null_count():
        rows = (np.flatnonzero(ds.is_null().to_numpy()) + 1).tolist()
        raise DataError(_SOURCE, "null period", column=ds_col, rows=rows, expected="no nulls")
    n = ds.len()
    if n < 2:
        return
    # rows k + 1 whose period is not after row k's, compared by Polars (no difference array); a boundary between
    # two series is not an ordering problem
    later = (ds.slice(1).to_physical() <= ds.slice(0, n - 1).to_physical()).arg_true().to_numpy()
    bad = later[~np.isin(later + 1, indptr[1:-1])]
    if bad.size:
        rows = (bad + 2).tolist()  # 1-based row of the later, offending period
        raise DataError(
            _SOURCE,
            "periods not strictly increasing within a series",
            column=ds_col,
            rows=rows,
            expected="frame sorted by (unique_id, ds) with one row per period",
        )


def _require(frame: pl.DataFrame, column: str) -> None:
    if column not in frame.columns:
        raise DataError(_SOURCE, "column not found", column=column, expected=f"one of {frame.columns}")
