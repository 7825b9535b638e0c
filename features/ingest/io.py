"""Lazy scans of raw files with file-level checks (exists, non-empty, the type its name claims).

Every scan adds a 1-based source row number column (``_row``) so later checks can name the offending rows.
CSV files are read with every column as text: parsing is done explicitly by :mod:`features.ingest.parse`, which reports
unparsable values by row instead of failing somewhere inside a query plan.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from features.contract import ROW
from features.errors import DataError

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
}
_PARQUET_MAGIC = b"PAR1"


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The file's format from ``fmt`` or its suffix; a clear error for anything else."""
    if fmt is not None:
        if fmt not in set(FORMATS.values()):
            raise DataError(path, f"unknown format {fmt!r}", expected="one of csv, parquet, ndjson, json")
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise DataError(
            path,
            f"unsupported file type {path.suffix or '(no suffix)'!r}",
            expected="a .csv, .tsv, .parquet, .ndjson/.jsonl or .json file",
        ) from None


def check_file(path: str | Path, fmt: str | None = None) -> tuple[Path, str]:
    """Check that ``path`` exists, is non-empty and holds what its format says; return (path, format)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "file not found" if not p.exists() else "not a regular file")
    kind = detect_format(p, fmt)
    with p.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise DataError(p, "empty file", expected=f"a {kind} file with a header and data rows")
    if kind == "parquet":
        if not head.startswith(_PARQUET_MAGIC):
            raise DataError(p, "not a Parquet file (no PAR1 magic bytes)", expected="a Parquet file")
    elif head.startswith(_PARQUET_MAGIC) or b"\x00" in head:
        raise DataError(p, f"binary content in a file read as {kind}", expected=f"a UTF-8 {kind} text file")
    else:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a multi-byte character cut at the 4 KiB boundary is fine
                raise DataError(p, "not UTF-8 text", expected=f"a UTF-8 {kind} text file") from None
    return p, kind


def scan(path: str | Path, fmt: str | None = None, *, separator: str | None = None) -> pl.LazyFrame:
    """Lazily scan a raw file; CSV columns come as String, every frame gets a ``_row`` column (1-based)."""
    p, kind = check_file(path, fmt)
    if kind == "csv":
        sep = separator or ("\t" if p.suffix.lower() == ".tsv" else ",")
        lf = pl.scan_csv(p, infer_schema=False, separator=sep)
    elif kind == "parquet":
        lf = pl.scan_parquet(p)
    elif kind == "ndjson":
        lf = pl.scan_ndjson(p)
    else:
        try:
            lf = pl.read_json(p).lazy()
        except Exception as exc:
            raise DataError(p, f"invalid JSON: {exc}", expected="a JSON array of records") from None
    return lf.with_row_index(ROW, offset=1)


def collect(lf: pl.LazyFrame, source: str | Path) -> pl.DataFrame:
    """Collect a scan, turning Polars' low-level errors into a DataError naming the file."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(source, f"could not be read: {first}") from None
