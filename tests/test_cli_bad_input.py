"""Bad input through the CLI: a clear message naming file, column and row; exit code 2; nothing written.

Each case breaks one thing in an otherwise valid small demo dataset or spec. The positive control at the top
shows the same setup writes outputs and a tracking store, so "nothing written" in the failures means something.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import cli


def run(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def written(root: Path) -> list[str]:
    """Anything a job may write: outputs, the tracking store, artifacts."""
    return sorted(p.name for p in root.iterdir() if p.name in {"out", "mlruns.db", "mlartifacts", "mlruns"})


def edit_csv(path: Path, fn: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV; ``row`` is the 1-based data row (file line ``row + 1``)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[row][rows[0].index(column)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


OUTAGES = Path("data/demo/outages/outage_hours_daily.csv")
WEATHER = Path("data/demo/weather/derived_daily_24_cities.csv")
STRIKES = Path("data/demo/strikes/missile_attacks_daily.csv")


def test_positive_control_writes_outputs_and_tracking(workdir: Path) -> None:
    result = run(["forecast", "--config", "spec.toml"])
    assert result.exit_code == 0, result.output
    assert written(workdir) == ["mlartifacts", "mlruns.db", "out"]
    assert list((workdir / "out" / "demo").glob("*/forecast.parquet"))


def _spec_edit(old: str, new: str) -> Callable[[Path], None]:
    def fn(root: Path) -> None:
        text = (root / "spec.toml").read_text()
        assert old in text, old
        (root / "spec.toml").write_text(text.replace(old, new, 1))

    return fn


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "missing column": (
        lambda r: edit_csv(r / OUTAGES, lambda ls: [",".join(x.split(",")[:2]) for x in ls]),
        [str(OUTAGES), "'hours_off'", "missing column"],
    ),
    "unparsable date": (
        lambda r: set_cell(r / OUTAGES, 5, "date", "2024-11-3x"),
        [str(OUTAGES), "column 'ds'", "unparsable date", "row 5", "'2024-11-3x'"],
    ),
    "duplicate key": (
        lambda r: edit_csv(r / OUTAGES, lambda ls: [*ls[:3], ls[2], *ls[3:]]),
        [str(OUTAGES), "duplicate (unique_id, ds)", "rows 2, 3"],
    ),
    "negative count": (
        lambda r: set_cell(r / STRIKES, 4, "launched", "-5.0"),
        [str(STRIKES), "column 'launched'", "negative", "row 4"],
    ),
    "non-numeric value": (
        lambda r: set_cell(r / OUTAGES, 7, "hours_off", "many"),
        [str(OUTAGES), "column 'hours_off'", "non-numeric", "row 7", "'many'"],
    ),
    "value above the target's upper bound": (
        lambda r: set_cell(r / OUTAGES, 9, "hours_off", "25.5"),
        [str(OUTAGES), "column 'y'", "outside its bounds", "row 9", "[0, 24]"],
    ),
    "empty file": (lambda r: (r / OUTAGES).write_text(""), [str(OUTAGES), "empty file"]),
    "header only": (lambda r: edit_csv(r / OUTAGES, lambda ls: ls[:1]), [str(OUTAGES), "no data rows"]),
    "wrong file type (binary in .csv)": (
        lambda r: (r / OUTAGES).write_bytes(b"PAR1\x00\x01\x02garbage"),
        [str(OUTAGES), "binary content", "csv"],
    ),
    "unsupported suffix": (
        lambda r: (
            shutil.move(r / OUTAGES, r / "data/demo/outages/o.xlsx"),
            _spec_edit("outage_hours_daily.csv", "o.xlsx")(r),
        ),
        ["o.xlsx", "unsupported file type '.xlsx'"],
    ),
    "missing file": (lambda r: (r / WEATHER).unlink(), [str(WEATHER), "file not found"]),
    "blank series id": (
        lambda r: set_cell(r / OUTAGES, 11, "region", ""),
        [str(OUTAGES), "column 'unique_id'", "missing series id", "row 11"],
    ),
    "no target rows before the as-of date": (
        _spec_edit('freq = "1d"', 'freq = "1d"\nas_of = 2020-01-20'),
        [str(OUTAGES), "column 'ds'", "no target rows on or before the as-of date 2020-01-20"],
    ),
    "unknown series in the spec": (
        _spec_edit("upper = 24.0", 'upper = 24.0\nseries = ["kyiv", "atlantis"]'),
        [str(OUTAGES), "target.series", "atlantis"],
    ),
    "input does not cover the target": (
        lambda r: edit_csv(r / WEATHER, lambda ls: [x for x in ls if not x.startswith("2025-01-2")]),
        [str(WEATHER), "column 'hdd_c'", "does not cover"],
    ),
    "destroyed more than launched": (
        lambda r: set_cell(r / STRIKES, 2, "destroyed", "9999.0"),
        [str(STRIKES), "column 'destroyed'", "row 2"],
    ),
    "unknown key in the spec": (
        _spec_edit("n_windows = 2", "n_windows = 2\nwindows = 3"),
        ["spec.toml", "key 'backtest.windows'", "unknown key"],
    ),
    "wrong type in the spec": (
        _spec_edit("\nh = 7", '\nh = "seven"'),
        ["spec.toml", "key 'backtest.h'", "integer"],
    ),
    "unknown indicator": (
        _spec_edit('name = "hdd"', 'name = "hdd_typo"'),
        ["spec.toml", "key 'features[0].name'", "hdd_typo"],
    ),
    "bad model parameter": (
        _spec_edit("order = [1, 0, 0]", "order = [1, 0]"),
        ["spec.toml", "models.sarimax", "order"],
    ),
    "exog that nothing produces": (
        _spec_edit(
            'exog = ["hdd_c", "launched_uav_damage", "launched_missile_damage"]', 'exog = ["hdd_c", "wind_chill"]'
        ),
        ["spec.toml", "key 'exog'", "wind_chill"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_names_the_problem_and_writes_nothing(workdir: Path, case: str) -> None:
    breaker, expected = CASES[case]
    breaker(workdir)
    result = run(["forecast", "--config", "spec.toml"])
    message = result.stderr
    assert result.exit_code == 2, (case, result.output)
    assert message.startswith("gridcast: error: "), message
    for fragment in expected:
        assert fragment in message, (case, fragment, message)
    assert written(workdir) == [], (case, written(workdir))


def test_row_numbers_point_at_the_file_line(workdir: Path) -> None:
    """'row N' is the N-th data row, i.e. line N+1 of the CSV: the reported value is on that line."""
    set_cell(workdir / OUTAGES, 13, "hours_off", "n/a")
    result = run(["validate", "--config", "spec.toml"])
    assert result.exit_code == 2
    row = int(re.search(r"row (\d+)", result.stderr).group(1))
    assert (workdir / OUTAGES).read_text().splitlines()[row].endswith(",n/a")
