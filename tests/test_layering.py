"""Imports go one way: features → forecast → experiments; forecast never imports MLflow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_top_levels(package: str) -> set[str]:
    names: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("features", {"forecast", "experiments", "mlflow"}), ("forecast", {"experiments", "mlflow"})],
)
def test_no_upward_imports(package: str, forbidden: set[str]) -> None:
    assert not imported_top_levels(package) & forbidden


def test_forecast_and_features_import_without_mlflow() -> None:
    code = (
        "import sys, features, forecast, features.ingest.sources, features.indicators, forecast.core, "
        "forecast.backtest;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'mlflow', 'experiments'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


@pytest.mark.realdata
def test_readme_library_example_runs(shared_data: Path) -> None:
    """The README's library example is real code: run it from the repository root."""
    text = (REPO / "README.md").read_text()
    code = text.split("## As a library", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "no missing periods in 324" in out.stdout and "sarimax" in out.stdout and "snaive" in out.stdout
