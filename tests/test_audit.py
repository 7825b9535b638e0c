"""The lock audit of ``make lint`` (.ci/audit_lock.py) never reports a skipped audit as clean.

pip-audit itself prints "No known vulnerabilities found" and exits 0 when it could audit no package at all; these
tests run the wrapper against a stand-in ``uv`` that writes a canned pip-audit JSON report (no network)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_audit() -> ModuleType:
    """.ci/audit_lock.py as a module (.ci is not a package)."""
    spec = importlib.util.spec_from_file_location("audit_lock", REPO / ".ci" / "audit_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_uv(tmp_path: Path, report: dict[str, object] | None, code: int = 0) -> str:
    """An executable standing in for ``uv tool run … pip-audit``: writes ``report`` to the ``-o`` path (or nothing,
    printing an error) and exits ``code``."""
    script = tmp_path / "uv"
    body = (
        "import json, sys\n"
        f"report = {json.dumps(report)!r}\n"
        "args = sys.argv\n"
        "if report != 'null':\n"
        "    open(args[args.index('-o') + 1], 'w').write(report)\n"
        "else:\n"
        "    print('ConnectionError: Failed to resolve the vulnerability service', file=sys.stderr)\n"
        f"sys.exit({code})\n"
    )
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    return str(script)


def dep(name: str, version: str, *vulns: dict[str, object]) -> dict[str, object]:
    """One audited package of a pip-audit JSON report."""
    return {"name": name, "version": version, "vulns": list(vulns)}


SKIPPED = {"name": "numpy", "skip_reason": "Dependency not found on PyPI and could not be audited: numpy (2.4.6)"}


def run(
    tmp_path: Path, report: dict[str, object] | None, code: int, strict: bool, monkeypatch: pytest.MonkeyPatch
) -> int:
    """The wrapper's exit code on a one-package lock, with ``report`` from the stand-in uv."""
    monkeypatch.setenv("AUDIT_STRICT", "1" if strict else "0")
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.4.6 --hash=sha256:00\n")
    return load_audit().main(["--uv", fake_uv(tmp_path, report, code), str(lock)])


def test_findings_fail_and_name_package_version_advisory_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vuln = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["3.1.7"], "aliases": ["CVE-2026-0001"]}
    report = {"dependencies": [dep("jinja2", "3.1.6", vuln), dep("numpy", "2.4.6")], "fixes": []}
    assert run(tmp_path, report, 1, False, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE jinja2 3.1.6 GHSA-xxxx-yyyy-zzzz (CVE-2026-0001) fixed in: 3.1.7" in out


def test_a_clean_audit_passes_and_says_how_many_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, {"dependencies": [dep("numpy", "2.4.6"), dep("scipy", "1.17.1")]}, 0, True, monkeypatch) == 0
    assert "2 packages audited, no known vulnerabilities" in capsys.readouterr().out


@pytest.mark.parametrize("strict", [False, True])
def test_skipped_packages_are_never_a_clean_bill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], strict: bool
) -> None:
    report = {"dependencies": [SKIPPED, dep("scipy", "1.17.1")]}
    assert run(tmp_path, report, 0, strict, monkeypatch) == (2 if strict else 0)
    captured = capsys.readouterr()
    assert "NOT AUDITED: 1 of 2 packages" in captured.err and "numpy" in captured.err
    assert "no known vulnerabilities" not in captured.out


@pytest.mark.parametrize("strict", [False, True])
def test_an_unreachable_database_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], strict: bool
) -> None:
    assert run(tmp_path, None, 1, strict, monkeypatch) == (2 if strict else 0)
    err = capsys.readouterr().err
    assert "NOT AUDITED: pip-audit exited 1 without a report" in err and "Failed to resolve" in err
