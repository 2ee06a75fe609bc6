"""Driving the CLI in tests: in-process for speed, as a subprocess where signals and kills matter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "graphs"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    from artfactory.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPLICATE", "FAL_"))}
    env.update({"ARTFACTORY_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
                "PYTHON_KEYRING_BACKEND": "tests.support.keychain.FileKeyring",
                "XDG_DATA_HOME": str(home / "xdg")})
    env.update(extra)
    return env


def spawn_cli(home: Path, *args: str | Path, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "artfactory", *map(str, args)], env=cli_env(home, **extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
