"""Where a spec may read from (experiments/inputs/spec_paths.py): its folder, the project folder (the working
directory) and the folders under ``[paths] allow``; anything else is refused unread, naming the key and the path
as written, never a byte of the file (a canary in each outside file checks that)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _bad_input import OUTAGES, assert_refused, run, spec_edit

from experiments.inputs.settings import scenario_names
from experiments.inputs.spec import load_spec
from experiments.inputs.spec_paths import PathRefused, check_paths, split_allow

CANARY = "CANARY_7f3a"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory, workdir: Path) -> Path:
    """A folder outside the working directory holding a valid copy of the outage file with a canary column."""
    folder = tmp_path_factory.mktemp("outside")
    text = (workdir / OUTAGES).read_text().splitlines()
    (folder / "outages.csv").write_text("\n".join([text[0] + f",{CANARY}", *(x + ",1" for x in text[1:])]) + "\n")
    return folder


def _point_outages_at(path: str, fmt: str | None = None) -> object:
    extra = f'\nformat = "{fmt}"' if fmt else ""
    return spec_edit(f'path = "{OUTAGES}"', f'path = "{path}"{extra}')


@pytest.mark.parametrize(
    ("where", "fmt"),
    [
        ("../../../../../../etc/passwd", "csv"),  # the case: it echoed root's line
        ("/etc/hostname", "csv"),
        ("../outside.csv", None),
    ],
)
def test_paths_outside_the_project_are_refused_unread(workdir: Path, where: str, fmt: str | None) -> None:
    _point_outages_at(where, fmt)(workdir)
    message = assert_refused(
        run(["forecast", "--config", "spec.toml"]),
        workdir,
        ["spec.toml: key 'sources.outages.path'", repr(where), "lies outside", "[paths] allow"],
    )
    assert "root:" not in message


def test_an_absolute_path_elsewhere_is_refused_then_allowed_by_paths_allow(workdir: Path, outside: Path) -> None:
    _point_outages_at(str(outside / "outages.csv"))(workdir)
    message = assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, ["key 'sources.outages.path'"])
    assert CANARY not in message
    spec_edit("[paths]\n", f'[paths]\nallow = ["{outside}"]\n')(workdir)
    result = run(["validate", "--config", "spec.toml"])
    assert result.exit_code == 0, result.output
    # allow is its own field: [paths] still holds only the raw inputs' future paths, scenarios are unchanged
    spec = load_spec("spec.toml")
    assert "allow" not in spec.paths and spec.allow_paths == [outside]
    assert scenario_names(spec) == ["baseline"]


def test_a_link_inside_the_project_pointing_out_is_resolved_first(workdir: Path, outside: Path) -> None:
    (workdir / OUTAGES).unlink()
    (workdir / OUTAGES).symlink_to(outside / "outages.csv")
    message = assert_refused(
        run(["forecast", "--config", "spec.toml"]), workdir, ["key 'sources.outages.path'", str(OUTAGES)]
    )
    assert CANARY not in message


def test_other_file_keys_are_checked_too(workdir: Path, outside: Path) -> None:
    shutil.copy(workdir / "data/demo/strikes/missiles_and_uavs.csv", outside / "weapons.csv")
    spec_edit('weapons = "data/demo/strikes/missiles_and_uavs.csv"', f'weapons = "{outside}/weapons.csv"')(workdir)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, ["key 'sources.strikes.weapons'"])


def test_a_future_path_file_outside_is_refused(workdir: Path) -> None:
    spec_edit(
        'temp_mean_c = { path = "climatology", harmonics = 1 }',
        'temp_mean_c = { path = "forecast", file = "/etc/passwd" }',
    )(workdir)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, ["key 'paths.temp_mean_c.file'", "/etc/passwd"])


def test_the_spec_folder_is_allowed_wherever_the_job_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec in its own folder may name files beside it by absolute path while the job runs elsewhere."""
    specs = workdir / "specs"
    specs.mkdir()
    shutil.copy(workdir / OUTAGES, specs / "outages.csv")
    files = iter([("sources.outages.path", specs / "outages.csv")])
    elsewhere = workdir.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    monkeypatch.chdir(elsewhere)
    check_paths(specs / "s.toml", files, [])  # no error: inside the spec's folder
    with pytest.raises(PathRefused, match=r"sources\.outages\.path"):
        check_paths(workdir / "other" / "s.toml", iter([("sources.outages.path", specs / "outages.csv")]), [])


def test_split_allow_leaves_everything_else_alone() -> None:
    data = {"name": "x", "paths": {"allow": ["a"], "temp": "climatology"}}
    assert split_allow(data) == {"name": "x", "paths": {"temp": "climatology"}, "allow_paths": ["a"]}
    assert split_allow({"paths": {"temp": "zero"}}) == {"paths": {"temp": "zero"}}
    assert split_allow([1]) == [1]


def test_a_job_started_from_the_filesystem_root_has_no_project_folder(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from ``/``, "inside the working directory" would allow every file: only the spec's folder counts."""
    monkeypatch.chdir("/")
    with pytest.raises(PathRefused, match=r"sources\.outages\.path"):
        check_paths(workdir / "specs" / "s.toml", iter([("sources.outages.path", Path("/etc/hostname"))]), [])
    check_paths(workdir / "s.toml", iter([("sources.outages.path", workdir / OUTAGES)]), [])
