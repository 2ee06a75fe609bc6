"""`artfactory --selftest`: one line per step, exit 0 when all pass, the failing step named otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from artfactory import selftest
from artfactory.controllers.session import UI_SETTINGS_ENV

STEPS = ["migrate", "run example graph", "main window", "video playback", "video encode", "postgresql driver", "about"]


def test_selftest_passes_with_one_line_per_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "selftest-library"
    assert selftest.run_selftest(home) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"[ok] {step}" for step in STEPS]
    assert lines[-1] == f"selftest passed: {len(STEPS)} steps"
    assert "Fox posters: 4 nodes, 2 products" in lines[1]
    assert any(home.rglob("*.png")), "the example's products are real files in the library"


def test_selftest_leaves_the_users_window_settings_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UI_SETTINGS_ENV, raising=False)
    seen: list[str | None] = []
    open_window = selftest._window

    def window(state: dict[str, object]) -> str:
        seen.append(os.environ.get(UI_SETTINGS_ENV))
        return open_window(state)

    monkeypatch.setattr(selftest, "_window", window)
    assert selftest.run_selftest(tmp_path / "library") == 0
    assert seen[0] and not Path(seen[0]).is_relative_to(tmp_path / "library")
    assert UI_SETTINGS_ENV not in os.environ


def test_unusable_library_folder_fails_the_migrate_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert selftest.run_selftest(blocker / "library") == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("[FAIL] migrate: LibraryError")
    assert "run example graph" not in out
    assert err.strip() == "selftest FAILED at step: migrate"


def test_an_error_inside_a_qt_callback_fails_its_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # PyQt6 aborts the process on an exception in a slot unless a hook takes it: the selftest's hook must,
    # so a broken window is a named failure rather than a crash.
    def broken_window(state: dict[str, object]) -> str:
        QTimer.singleShot(0, lambda: 1 / 0)
        QApplication.processEvents()
        return "opened"

    monkeypatch.setattr(selftest, "_window", broken_window)
    assert selftest.run_selftest(tmp_path / "library") == 1
    out, err = capsys.readouterr()
    assert "[FAIL] main window: ZeroDivisionError: division by zero" in out
    assert err.strip() == "selftest FAILED at step: main window"
