"""Lazy scans of raw files with file-level checks (exists, readable, non-empty, the type its name claims).

Every scan adds a 1-based source row number column (``_row``) so later checks can name the offending rows.
CSV files are read with every column as text: parsing is done explicitly by :mod:`features.ingest.parse`, which reports
unparsable values by row instead of failing somewhere inside a query plan.

Every file-level problem is a :class:`~features.errors.DataError` naming the file: missing, a folder, a symbolic
link loop or a link to nothing, not readable (permission denied), empty, binary where text is expected, not UTF-8,
lines ending in CR only, a header naming one column twice. A CSV that Polars cannot parse (a row with more fields
than the header, a quote never closed, bad UTF-8 further down) is located again by Python's csv module, so the
message names the row instead of echoing the file.
"""

from __future__ import annotations

import csv
import errno
import stat
from pathlib import Path

import polars as pl

from features.contract import ROW
from features.errors import DataError, shorten

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
_DUPLICATED = "_duplicated_"  # Polars' suffix for a header name seen twice


def os_problem(exc: OSError) -> str:
    """A short description of why a file could not be opened or read (never the file's contents)."""
    code = exc.errno
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return "permission denied: the file cannot be read by this user (check its owner and mode)"
    if code == errno.ELOOP:
        return "a symbolic link loop (the link points back at itself)"
    if isinstance(exc, IsADirectoryError) or code == errno.EISDIR:
        return "is a folder, not a file"
    if isinstance(exc, NotADirectoryError) or code == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
        return "file not found"
    if code == errno.ENAMETOOLONG:
        return "path too long"
    return f"cannot be read: {exc.strerror or type(exc).__name__}"


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file (None when it is one); symbolic links are followed."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a symbolic link to a file that does not exist" if path.is_symlink() else "file not found"
    except OSError as exc:
        return os_problem(exc)
    except (RuntimeError, ValueError):  # a path the OS cannot take (NUL byte); older Pythons' loop errors
        return "not a usable path"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket)"
    return None


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a file (the first ``limit`` only, when given); a DataError naming the file when it cannot be
    read."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except OSError as exc:
        raise DataError(p, os_problem(exc)) from None


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
    """Check that ``path`` is a readable regular file, non-empty and holding what its format says; return (path,
    format)."""
    p = Path(path)
    problem = file_problem(p)
    if problem is not None:
        raise DataError(p, problem)
    kind = detect_format(p, fmt)
    head = read_bytes(p, 4096)
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
        if kind in ("csv", "ndjson") and b"\r" in head.rstrip(b"\r") and b"\n" not in head:
            raise DataError(
                p, "lines end in CR only (old Mac line endings)", expected="lines ending in LF or CRLF (\\n or \\r\\n)"
            )
    return p, kind


def _separator(path: Path, separator: str | None) -> str:
    return separator or ("\t" if path.suffix.lower() == ".tsv" else ",")


def _check_header(lf: pl.LazyFrame, path: Path) -> None:
    """Refuse a CSV header that names a column twice (Polars would silently rename the second one)."""
    names = lf.collect_schema().names()
    twice = sorted({n.split(_DUPLICATED)[0] for n in names if _DUPLICATED in n and n.split(_DUPLICATED)[0] in names})
    if twice:
        raise DataError(
            path,
            "the header names a column twice",
            column=twice[0],
            values=twice,
            expected="each column name once in the header",
        )


def scan(path: str | Path, fmt: str | None = None, *, separator: str | None = None) -> pl.LazyFrame:
    """Lazily scan a raw file; CSV columns come as String, every frame gets a ``_row`` column (1-based)."""
    p, kind = check_file(path, fmt)
    try:
        if kind == "csv":
            lf = pl.scan_csv(p, infer_schema=False, separator=_separator(p, separator))
            _check_header(lf, p)
        elif kind == "parquet":
            lf = pl.scan_parquet(p)
        elif kind == "ndjson":
            lf = pl.scan_ndjson(p)
        else:
            lf = pl.read_json(p).lazy()
    except (pl.exceptions.PolarsError, OSError) as exc:
        if kind == "csv":
            raise locate_csv_error(p, _separator(p, separator), exc) from None
        what = {"json": "invalid JSON", "ndjson": "invalid NDJSON"}.get(kind, f"not a readable {kind} file")
        raise DataError(p, f"{what}: {_first_line(exc)}") from None
    except Exception as exc:  # Polars raises plain exceptions on some malformed files
        raise DataError(p, f"could not be read as {kind}: {_first_line(exc)}") from None
    return lf.with_row_index(ROW, offset=1)


def _first_line(exc: BaseException) -> str:
    """The first line of an error message, cut short (a parser's message may quote the file)."""
    text = str(exc).strip()
    return shorten(text.splitlines()[0], 160) if text else type(exc).__name__


def locate_csv_error(path: Path, separator: str, exc: BaseException) -> DataError:
    """A DataError naming the row where a CSV that Polars could not parse goes wrong: a row with more fields than
    the header, a quoted field never closed, bytes that are not UTF-8. Falls back to the first line of Polars'
    message (cut short) when Python's csv module reads the file without a complaint."""
    if isinstance(exc, OSError):
        return DataError(path, os_problem(exc))
    row = 0
    try:
        with path.open("rb") as fh:
            # decoded line by line, so a bad byte is reported on its own row (not where a read-ahead buffer ends)
            reader = csv.reader((line.decode("utf-8") for line in fh), delimiter=separator, strict=True)
            header = next(reader, [])
            for row, fields in enumerate(reader, start=1):
                if len(fields) > len(header):
                    return DataError(
                        path,
                        f"row has {len(fields)} fields, the header has {len(header)}",
                        rows=[row],
                        expected="one field per header column (quote a field holding the separator)",
                    )
    except UnicodeDecodeError:
        return DataError(path, "not UTF-8 text", rows=[row + 1], expected="a UTF-8 csv text file")
    except csv.Error:
        return DataError(
            path,
            "a quoted field is not closed (or a quote stands inside an unquoted field)",
            rows=[row + 1],
            expected='fields quoted with a matching pair of " (a quote inside a field written "")',
        )
    except OSError as err:
        return DataError(path, os_problem(err))
    return DataError(path, f"could not be read as CSV: {_first_line(exc)}")


def collect(lf: pl.LazyFrame, source: str | Path, *, separator: str | None = None) -> pl.DataFrame:
    """Collect a scan, turning Polars' low-level errors into a DataError naming the file (and, for a CSV, the row
    where it breaks)."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        p = Path(source)
        if isinstance(exc, pl.exceptions.ComputeError) and _is_text(p):
            raise locate_csv_error(p, _separator(p, separator), exc) from None
        raise DataError(source, f"could not be read: {_first_line(exc)}") from None


def _is_text(path: Path) -> bool:
    """Whether the file looks like text a CSV reader failed on (not Parquet, not JSON)."""
    if path.suffix.lower() in (".parquet", ".pq", ".json", ".ndjson", ".jsonl"):
        return False
    try:
        with path.open("rb") as fh:
            return not fh.read(4).startswith(_PARQUET_MAGIC)
    except OSError:
        return False
