"""One error type for bad input data.

Every reader and validator raises :class:`DataError` naming the file, the column, the offending rows (first few) and
what was expected, so that a scheduled job's log says exactly what to fix. Row numbers are 1-based data rows as
they appear in the source (header excluded): row 1 is the first line after a CSV header, i.e. file line 2.

Messages are bounded: a few offending values, each cut to :data:`MAX_VALUE` characters, every free-text part cut
to :data:`MAX_PART`, and the whole message to :data:`MAX_MESSAGE` characters, so a broken file (one giant line, a
cell holding a megabyte) can never be dumped into a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAX_SHOWN = 5
MAX_VALUE = 60  # characters of one offending value shown
MAX_PART = 600  # characters of the problem or the expectation
MAX_MESSAGE = 2000  # characters of a whole message


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f"… ({len(text) - limit} more characters)"
    keep = max(0, limit - len(note))
    return text[:keep] + note


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

    def with_column(self, column: str | None) -> DataError:
        """The same error naming ``column`` instead (e.g. the file's name for a column read under another)."""
        return DataError(
            self.source,
            self.problem,
            column=column,
            rows=self.rows,
            n_bad=self.n_bad,
            expected=self.expected,
            values=self.values,
        )

    def _format(self) -> str:
        parts = [shorten(self.source, MAX_PART)]
        if self.column is not None:
            parts.append(f"column {_show(self.column)}")
        text = ": ".join(parts) + f": {shorten(self.problem, MAX_PART)}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_SHOWN])
            more = f" (first {min(MAX_SHOWN, len(self.rows))} of {self.n_bad})" if self.n_bad > MAX_SHOWN else ""
            text += f"; row{'s' if self.n_bad > 1 else ''} {shown}{more}"
        if self.values:
            text += "; found " + ", ".join(_show(v) for v in self.values[:MAX_SHOWN])
        if self.expected:
            text += f"; expected {shorten(self.expected, MAX_PART)}"
        return shorten(text, MAX_MESSAGE)


def _show(value: Any) -> str:
    """Quote text so blanks and stray spaces show; print dates and numbers plainly; cut long values."""
    text = repr(value) if isinstance(value, str) or value is None else str(value)
    return shorten(text, MAX_VALUE)
