"""One error type for bad input data.

Every reader and validator raises :class:`DataError` naming the file, the column, the offending rows (first few) and
what was expected, so that a scheduled job's log says exactly what to fix. Row numbers are 1-based data rows as
they appear in the source (header excluded): row 1 is the first line after a CSV header, i.e. file line 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAX_SHOWN = 5


class DataError(ValueError):
    """Bad input data: names the source, column, rows and the expectation that failed."""

    def __init__(
        self,
        source: str | Path,
        problem: str,
        *,
        column: str | None = None,
        rows: Sequence[int] = (),
        n_bad: int | None = None,
        expected: str | None = None,
        values: Sequence[Any] = (),
    ) -> None:
        self.source = str(source)
        self.problem = problem
        self.column = column
        self.rows = [int(r) for r in rows]
        self.n_bad = len(self.rows) if n_bad is None else int(n_bad)
        self.expected = expected
        self.values = list(values)
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [self.source]
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        text = ": ".join(parts) + f": {self.problem}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_SHOWN])
            more = f" (first {min(MAX_SHOWN, len(self.rows))} of {self.n_bad})" if self.n_bad > MAX_SHOWN else ""
            text += f"; row{'s' if self.n_bad > 1 else ''} {shown}{more}"
        if self.values:
            text += "; found " + ", ".join(_show(v) for v in self.values[:MAX_SHOWN])
        if self.expected:
            text += f"; expected {self.expected}"
        return text


def _show(value: Any) -> str:
    """Quote text so blanks and stray spaces show; print dates and numbers plainly."""
    return repr(value) if isinstance(value, str) or value is None else str(value)
