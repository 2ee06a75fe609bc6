"""The layer rule (DESIGN §1): checked by import-linter, plus the QtCore-only part it cannot express."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QTCORE_ONLY = [ROOT / "artfactory" / "signals", ROOT / "artfactory" / "workers",
               ROOT / "artfactory" / "engine" / "executor.py"]


def _qt_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("PyQt6")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("PyQt6"):
            if node.module == "PyQt6":
                found |= {f"PyQt6.{a.name}" for a in node.names}
            else:
                found.add(node.module)
    return found


def test_signals_workers_and_executor_use_qtcore_only() -> None:
    files = [p for target in QTCORE_ONLY for p in ([target] if target.is_file() else target.rglob("*.py"))]
    assert files
    for path in files:
        assert _qt_imports(path) <= {"PyQt6.QtCore"}, path


def _lint_imports() -> Path:
    return Path(sys.executable).with_name("lint-imports")


def test_contract_fails_when_models_import_qt(tmp_path: Path) -> None:
    """Show that the contract bites: a Qt import added to models breaks it."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "storage", "bench", "docs", "*.pyc"))
    clean = subprocess.run([str(_lint_imports())], cwd=copy, capture_output=True, text=True, timeout=120,
                           env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert clean.returncode == 0, clean.stdout + clean.stderr
    models = copy / "artfactory" / "models" / "entities.py"
    models.write_text(models.read_text() + "\nfrom PyQt6 import QtWidgets  # noqa\n")
    broken = subprocess.run([str(_lint_imports())], cwd=copy, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert broken.returncode != 0
    assert "Domain layers import no Qt at all BROKEN" in broken.stdout
    assert "artfactory.models.entities -> PyQt6" in broken.stdout
