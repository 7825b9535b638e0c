"""Bad input through the CLI: a clear message naming file, column and row; exit code 2; nothing written.

Each case breaks one thing in an otherwise valid small demo dataset or spec. The positive control at the top
shows the same setup writes outputs and a tracking store, so "nothing written" in the failures means something.
The spec-only cases are in tests/test_bad_inputs_spec.py, the data-file cases per reader in
tests/test_bad_inputs_files.py, the paths a spec may read in tests/test_bad_inputs_paths.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from _bad_input import OUTAGES, STRIKES, WEATHER, assert_refused, edit_csv, run, set_cell, spec_add, spec_edit, written


def test_positive_control_writes_outputs_and_tracking(workdir: Path) -> None:
    result = run(["forecast", "--config", "spec.toml"])
    assert result.exit_code == 0, result.output
    assert written(workdir) == ["mlartifacts", "mlruns.db", "out"]
    assert list((workdir / "out" / "demo").glob("*/forecast.parquet"))


def _move_outages(root: Path, name: str) -> None:
    shutil.move(root / OUTAGES, root / "data/demo/outages" / name)
    spec_edit("outage_hours_daily.csv", name)(root)


def _lines(root: Path, fn: Callable[[list[str]], list[str]]) -> None:
    edit_csv(root / OUTAGES, fn)


def _bad_byte_after(data: bytes, offset: int) -> bytes:
    """A byte that is not UTF-8 in the first ``lviv`` row after ``offset`` (beyond the 4 KiB the file check reads)."""
    return data[:offset] + data[offset:].replace(b",lviv,", b",lv\xffiv,", 1)


CASES: dict[str, tuple[Callable[[Path], object], list[str]]] = {
    "missing column": (
        lambda r: _lines(r, lambda ls: [",".join(x.split(",")[:2]) for x in ls]),
        [str(OUTAGES), "'hours_off'", "missing column"],
    ),
    "unparsable date": (
        lambda r: set_cell(r / OUTAGES, 5, "date", "2024-11-3x"),
        [str(OUTAGES), "column 'date'", "unparsable date", "row 5", "'2024-11-3x'"],
    ),
    "duplicate key": (
        lambda r: _lines(r, lambda ls: [*ls[:3], ls[2], *ls[3:]]),
        [str(OUTAGES), "column 'date'", "duplicate (unique_id, ds)", "rows 2, 3"],
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
        [str(OUTAGES), "column 'hours_off'", "outside its bounds", "row 9", "[0, 24]"],
    ),
    # the issue: a negative or 1e308 hours_off named column 'y', not the file's column
    "negative target value": (
        lambda r: set_cell(r / OUTAGES, 6, "hours_off", "-3"),
        [str(OUTAGES), "column 'hours_off'", "outside its bounds", "row 6", "-3.0"],
    ),
    "huge target value": (
        lambda r: set_cell(r / OUTAGES, 6, "hours_off", "1e308"),
        [str(OUTAGES), "column 'hours_off'", "outside its bounds", "row 6", "1e+308"],
    ),
    "empty file": (lambda r: (r / OUTAGES).write_text(""), [str(OUTAGES), "empty file"]),
    "header only": (lambda r: _lines(r, lambda ls: ls[:1]), [str(OUTAGES), "no data rows"]),
    "wrong file type (binary in .csv)": (
        lambda r: (r / OUTAGES).write_bytes(b"PAR1\x00\x01\x02garbage"),
        [str(OUTAGES), "binary content", "csv"],
    ),
    "unsupported suffix": (lambda r: _move_outages(r, "o.xlsx"), ["o.xlsx", "unsupported file type '.xlsx'"]),
    "missing file": (lambda r: (r / WEATHER).unlink(), [str(WEATHER), "file not found"]),
    "blank series id": (
        lambda r: set_cell(r / OUTAGES, 11, "region", ""),
        [str(OUTAGES), "column 'region'", "missing series id", "row 11"],
    ),
    "as-of before the data": (
        spec_add("", "as_of = 2020-01-20"),
        ["spec.toml", "key 'as_of'", "2020-01-20 is before the data", str(OUTAGES), "2024-11-01"],
    ),
    "unknown series in the spec": (
        spec_edit("upper = 24.0", 'upper = 24.0\nseries = ["kyiv", "atlantis"]'),
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
        spec_edit("n_windows = 2", "n_windows = 2\nwindows = 3"),
        ["spec.toml", "key 'backtest.windows'", "unknown key"],
    ),
    "wrong type in the spec": (spec_edit("\nh = 7", '\nh = "seven"'), ["spec.toml", "key 'backtest.h'", "integer"]),
    "unknown indicator": (
        spec_edit('name = "hdd"', 'name = "hdd_typo"'),
        ["spec.toml", "key 'features[0].name'", "hdd_typo"],
    ),
    "bad model parameter": (spec_edit("order = [1, 0, 0]", "order = [1, 0]"), ["spec.toml", "models.sarimax", "order"]),
    "exog that nothing produces": (
        spec_edit(
            'exog = ["hdd_c", "launched_uav_damage", "launched_missile_damage"]', 'exog = ["hdd_c", "wind_chill"]'
        ),
        ["spec.toml", "key 'exog'", "wind_chill"],
    ),
    # --- the list ---------------------------------------------------------------------------------------
    "start after the data (was a TypeError)": (
        spec_add("", "start = 2030-01-01"),
        ["spec.toml", "key 'start'", "2030-01-01 is after the data", str(OUTAGES), "2025-01-31"],
    ),
    "end before the data (was a TypeError)": (
        spec_add("", "end = 2020-01-01"),
        ["spec.toml", "key 'end'", "2020-01-01 is before the data", str(OUTAGES), "2024-11-01"],
    ),
    "as-of far beyond the data (blamed the weather file)": (
        spec_add("", "as_of = 2030-01-01"),
        ["spec.toml", "key 'as_of'", "2030-01-01 is", "after the target's last period 2025-01-31", "forecast.h = 14"],
    ),
    "start after the data with target.series (said: not in the file)": (
        lambda r: (
            spec_add("", "start = 2030-01-01")(r),
            spec_edit("upper = 24.0", 'upper = 24.0\nseries = ["kyiv"]')(r),
        ),
        ["spec.toml", "key 'start'", "after the data"],
    ),
    "a named series with no rows in the data window": (
        lambda r: (
            _lines(r, lambda ls: [x for x in ls if not (",kyiv," in x and x >= "2025-01")]),
            spec_add("", "start = 2025-01-10")(r),
            spec_edit("upper = 24.0", 'upper = 24.0\nseries = ["kyiv", "lviv"]')(r),
        ),
        ["spec.toml", "key 'target.series'", "kyiv has no rows in the data window (start 2025-01-10)", str(OUTAGES)],
    ),
    "backtest plan longer than the data (named neither file nor key)": (
        spec_edit("n_windows = 2", "n_windows = 40"),
        ["spec.toml", "key 'backtest'", "24 of 24 series too short", "n_windows=40", "and 19 more"],
    ),
    "target column the source does not produce (said spec:)": (
        spec_edit('column = "hours_off"', 'column = "hours_of"'),
        ["spec.toml: key 'target.column'", "'hours_of' is not produced by source 'outages'", "hours_off"],
    ),
    "a row with extra fields (no row number)": (
        lambda r: _lines(r, lambda ls: [*ls[:8], ls[8] + ",extra,more", *ls[9:]]),
        [str(OUTAGES), "row has 5 fields, the header has 3", "row 8"],
    ),
    "CR-only line endings (dumped the file)": (
        lambda r: (r / OUTAGES).write_bytes((r / OUTAGES).read_bytes().replace(b"\n", b"\r")),
        [str(OUTAGES), "lines end in CR only"],
    ),
    "a quote never closed": (
        lambda r: _lines(r, lambda ls: [*ls[:12], '2024-11-01,"kyiv,1.0', *ls[13:]]),
        [str(OUTAGES), "a quoted field is not closed", "row 12"],
    ),
    "bad UTF-8 after the first 4 KiB": (
        lambda r: (r / OUTAGES).write_bytes(_bad_byte_after((r / OUTAGES).read_bytes(), 8192)),
        [str(OUTAGES), "not UTF-8 text", "row "],
    ),
    "a header naming a column twice": (
        lambda r: _lines(r, lambda ls: [ls[0] + ",region", *(x + ",x" for x in ls[1:])]),
        [str(OUTAGES), "column 'region'", "names a column twice"],
    ),
    "a folder where a file is expected": (
        lambda r: ((r / OUTAGES).unlink(), (r / OUTAGES).mkdir()),
        [str(OUTAGES), "is a folder, not a file"],
    ),
    "a link to a missing file": (
        lambda r: ((r / OUTAGES).unlink(), (r / OUTAGES).symlink_to("nowhere.csv")),
        [str(OUTAGES), "a symbolic link to a file that does not exist"],
    ),
    "a symbolic link loop (said: file not found)": (
        lambda r: (
            (r / OUTAGES).unlink(),
            (r / "data/demo/outages/loop2.csv").symlink_to("outage_hours_daily.csv"),
            (r / OUTAGES).symlink_to("loop2.csv"),
        ),
        ["spec.toml", "key 'sources.outages.path'", str(OUTAGES), "symbolic link loop"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_names_the_problem_and_writes_nothing(workdir: Path, case: str) -> None:
    breaker, expected = CASES[case]
    breaker(workdir)
    message = assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, expected)
    assert message.startswith("gridcast: error: "), message


def test_row_numbers_point_at_the_file_line(workdir: Path) -> None:
    """'row N' is the N-th data row, i.e. line N+1 of the CSV: the reported value is on that line."""
    set_cell(workdir / OUTAGES, 13, "hours_off", "n/a")
    result = run(["validate", "--config", "spec.toml"])
    assert result.exit_code == 2
    row = int(re.search(r"row (\d+)", result.stderr).group(1))
    assert (workdir / OUTAGES).read_text().splitlines()[row].endswith(",n/a")


def test_a_one_line_file_is_never_dumped(workdir: Path) -> None:
    """A megabyte on one line (no line breaks at all) gives a short message, not the line."""
    (workdir / OUTAGES).write_text("date,region," + "x" * 1_000_000 + "\n")
    message = assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, [str(OUTAGES), "missing column"])
    assert "x" * 100 not in message


@pytest.mark.parametrize("which", ["data file", "spec file"])
def test_a_file_that_cannot_be_read_is_named(workdir: Path, monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    """chmod 000 does not stop root, so the PermissionError of another user's file is simulated at open."""
    target = (workdir / (OUTAGES if which == "data file" else Path("spec.toml"))).resolve()
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.resolve() == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    name = str(OUTAGES) if which == "data file" else "spec.toml"
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, [name, "permission denied"])


@pytest.mark.parametrize(
    ("make", "args", "fragments"),
    [
        (lambda r: (r / "out").write_text("x"), ["--out-root", "out"], ["--out-root", "exists and is not a folder"]),
        (
            lambda r: (r / "report.txt").write_text("x"),
            ["--out-root", "report.txt/out"],
            ["--out-root", "lies under report.txt, which is a file"],
        ),
        (
            lambda r: (r / "gone").symlink_to("nowhere"),
            ["--out-root", "gone"],
            ["--out-root", "symbolic link to nothing"],
        ),
    ],
    ids=["an existing file", "under a file", "a dangling link"],
)
def test_out_root_that_is_not_a_folder_fails_before_any_work(
    workdir: Path, make: Callable[[Path], object], args: list[str], fragments: list[str]
) -> None:
    make(workdir)
    before = sorted(p.name for p in workdir.iterdir())
    result = run(["forecast", "--config", "spec.toml", *args])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert all(f in result.stderr for f in fragments), result.stderr
    assert "data:" not in result.output  # refused before the data stage began
    assert sorted(p.name for p in workdir.iterdir()) == before


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda r: (r / "spec.d").mkdir(), ["spec.d", "is a folder, not a file"]),
        (lambda r: None, ["spec.d", "spec file not found"]),
        (lambda r: (r / "spec.d").write_bytes("name = 'é'".encode("utf-16")), ["spec.d", "UTF-16"]),
        (lambda r: (r / "spec.d").write_bytes(b"name = '\xff\xfe\xfa'\n"), ["spec.d", "not UTF-8 text (line 1)"]),
        (lambda r: (r / "spec.d").write_text("x = 1\n" * 200_000), ["spec.d", "larger than 1048576 bytes"]),
        (lambda r: (r / "spec.d").write_text("[backtest\nh = 7\n"), ["spec.d", "not valid TOML", "line 1"]),
        (lambda r: (r / "spec.d").write_text("h = 1\nh = 2\n"), ["spec.d", "not valid TOML"]),
    ],
    ids=["a folder", "missing", "UTF-16", "not UTF-8", "too large", "TOML syntax", "a key twice"],
)
def test_bad_config_files(workdir: Path, make: Callable[[Path], object], fragments: list[str]) -> None:
    make(workdir)
    assert_refused(run(["forecast", "--config", "spec.d"]), workdir, ["key '(file)'", *fragments])


def test_a_spec_with_a_utf8_byte_order_mark_loads(workdir: Path) -> None:
    """Windows editors write a BOM; it was "Invalid statement (line 1, column 1)", now it is skipped."""
    spec = workdir / "spec.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes())
    result = run(["validate", "--config", "spec.toml"])
    assert result.exit_code == 0, result.output
    assert "24 series" in result.output


def test_a_plan_error_from_the_backtest_itself_names_the_spec_and_key(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data stage refuses a plan the series are too short for; should the backtest find one anyway, the CLI
    still names the spec file and its [backtest] key (it used to print the bare library message)."""
    monkeypatch.setattr("experiments.inputs.dataset.check_plan", lambda spec, frame: None)
    spec_edit("n_windows = 2", "n_windows = 40")(workdir)
    result = run(["forecast", "--config", "spec.toml", "--no-tracking"])
    assert result.exit_code == 2
    assert result.stderr.startswith("gridcast: error: spec.toml: key 'backtest': 24 series too short"), result.stderr
    assert len(result.stderr) <= 2000
