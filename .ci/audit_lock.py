"""Audit requirements.lock for known vulnerabilities with pip-audit (``make lint`` runs it).

    python .ci/audit_lock.py --uv .venv/bin/uv requirements.lock

pip-audit runs pinned (:data:`PIP_AUDIT`) in an isolated environment through ``uv tool run``, never in the
project's venv, whose locked versions it would otherwise move. The lock is complete and hashed, so it is read as it
is (``--disable-pip --require-hashes``): nothing is resolved, built or installed. pip-audit's JSON report is read
here because its own summary says "No known vulnerabilities found" (exit 0) even when it could audit no package at
all (every package skipped when the vulnerability service cannot be reached or does not know the versions).

Exit codes:
    0  every package audited and none has a known vulnerability; or the audit could not be done (database not
       reached, pip-audit not installable, time out) and ``AUDIT_STRICT`` is not set: then ``NOT AUDITED`` and the
       reason are printed, never a clean bill.
    1  known vulnerabilities: one line each, ``package version advisory (aliases) fixed in: versions``.
    2  the audit could not be done, or skipped some packages, and ``AUDIT_STRICT=1`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PIP_AUDIT = "pip-audit==2.10.1"
TIMEOUT_S = 300  # the first run installs pip-audit; then about one request per package


def run_pip_audit(uv: str, lock: Path, service: str, report: Path) -> str | None:
    """Run pip-audit writing its JSON ``report``; the reason it could not run, or None."""
    cmd = [uv, "tool", "run", "--from", PIP_AUDIT, "pip-audit", "-r", str(lock), "--disable-pip", "--require-hashes"]
    cmd += ["-s", service, "-f", "json", "--aliases", "on", "--desc", "off", "-o", str(report)]
    cmd += ["--progress-spinner", "off", "--timeout", "15"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"pip-audit did not finish within {TIMEOUT_S} s"
    except OSError as exc:
        return f"could not start {uv}: {exc.strerror}"
    if not report.is_file() or report.stat().st_size == 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return f"pip-audit exited {done.returncode} without a report: {lines[-1] if lines else 'no message'}"
    return None


def summarise(report: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """``(findings, skipped, audited)``: one line per vulnerability, one per package not audited, the count of
    packages audited."""
    findings, skipped, audited = [], [], 0
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            skipped.append(f"{dep.get('name')}: {dep['skip_reason']}")
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            aliases = f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            findings.append(f"{dep['name']} {dep.get('version')} {vuln['id']}{aliases} fixed in: {fixed}")
    return findings, skipped, audited


def main(argv: list[str] | None = None) -> int:
    """Audit the lock; print the findings; the exit code of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--uv", default="uv", help="the uv executable (default: uv on PATH)")
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"], help="pip-audit's vulnerability service")
    args = parser.parse_args(argv)
    strict = os.environ.get("AUDIT_STRICT", "").strip().lower() not in ("", "0", "false")
    with tempfile.TemporaryDirectory(prefix="gridcast-audit-") as tmp:
        out = Path(tmp) / "report.json"
        problem = run_pip_audit(args.uv, args.lock, args.service, out)
        report = None if problem else json.loads(out.read_text())
    if report is None:
        print(f"pip-audit: NOT AUDITED: {problem}", file=sys.stderr)
        return 2 if strict else 0
    findings, skipped, audited = summarise(report)
    total = audited + len(skipped)
    for line in findings:
        print(f"pip-audit: VULNERABLE {line}")
    if skipped:
        shown = "; ".join(skipped[:3]) + (f"; … ({len(skipped)} in all)" if len(skipped) > 3 else "")
        print(
            f"pip-audit: NOT AUDITED: {len(skipped)} of {total} packages ({args.service} service): {shown}",
            file=sys.stderr,
        )
    if findings:
        return 1
    if not skipped:
        print(f"pip-audit: {audited} packages audited, no known vulnerabilities")
    return 2 if skipped and strict else 0


if __name__ == "__main__":
    sys.exit(main())
