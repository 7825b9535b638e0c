"""Shared helpers of the bad-input corpus (tests/test_cli_bad_input.py, tests/test_bad_inputs_*.py).

Every case runs the real command line in-process (click's CliRunner) in the ``workdir`` fixture (a copy of the
small demo data and ``spec.toml``) and is checked by :func:`assert_refused`: exit 2, a message naming what it
must, at most 2,000 characters, no traceback, nothing written (no output folder, no tracking store, so no MLflow
run at all, let alone one left RUNNING).
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from experiments.cli import cli

OUTAGES = Path("data/demo/outages/outage_hours_daily.csv")
WEATHER = Path("data/demo/weather/derived_daily_24_cities.csv")
STRIKES = Path("data/demo/strikes/missile_attacks_daily.csv")
WEAPONS = Path("data/demo/strikes/missiles_and_uavs.csv")
MAX_MESSAGE = 2000
WRITTEN = {"out", "mlruns.db", "mlartifacts", "mlruns"}

Breaker = Callable[[Path], object]


def run(args: Sequence[str]) -> Result:
    """The CLI in-process; an uncaught exception (a traceback) fails the test instead of becoming exit 1."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def written(root: Path) -> list[str]:
    """Anything a job may write under its working directory: outputs, the tracking store, artifacts."""
    return sorted(p.name for p in root.iterdir() if p.name in WRITTEN)


def running_runs(root: Path) -> int:
    """MLflow runs left RUNNING in the working directory's default store (0 when there is no store)."""
    db = root / "mlruns.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from runs where status = 'RUNNING'").fetchone()[0]


def assert_refused(result: Result, root: Path, fragments: Sequence[str], *, prefix: str = "gridcast: error: ") -> str:
    """Exit 2 with a short message holding every fragment, and nothing written; returns the message."""
    message = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert prefix in message, message
    assert "Traceback" not in message, message
    assert len(message) <= MAX_MESSAGE, len(message)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert written(root) == [], written(root)
    assert running_runs(root) == 0
    return message


def edit_csv(path: Path, fn: Callable[[list[str]], list[str]]) -> None:
    """Rewrite a text file line by line."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV; ``row`` is the 1-based data row (file line ``row + 1``)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[row][rows[0].index(column)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def spec_edit(old: str, new: str, spec: str = "spec.toml") -> Breaker:
    """Replace the first ``old`` in the spec by ``new`` (the old text must be there)."""

    def fn(root: Path) -> None:
        text = (root / spec).read_text()
        assert old in text, old
        (root / spec).write_text(text.replace(old, new, 1))

    return fn


def spec_add(section: str, line: str) -> Breaker:
    """Add ``line`` right after the header of ``[section]`` (or at the top for ``section = ""``)."""
    if not section:
        return spec_edit('freq = "1d"', f'freq = "1d"\n{line}')
    return spec_edit(f"\n[{section}]\n", f"\n[{section}]\n{line}\n")


def set_key(section: str, key: str, value: str) -> Breaker:
    """Set ``key = value`` (TOML text) in ``[section]`` (``""``: the top level), replacing the key's line when the
    section has one, else adding it after the section's header."""

    def fn(root: Path) -> None:
        lines = (root / "spec.toml").read_text().splitlines()
        start = 0 if not section else lines.index(f"[{section}]") + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        at = next((i for i in range(start, end) if lines[i].split("=")[0].strip() == key), None)
        if at is None:
            lines.insert(start if section else 0, f"{key} = {value}")
        else:
            lines[at] = f"{key} = {value}"
        (root / "spec.toml").write_text("\n".join(lines) + "\n")

    return fn
