"""Fixtures for the UI tests: a private UI settings file, an open library, and the main window over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artfactory.services.library import Library
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window


@pytest.fixture
def ui_ini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Window layout and UI settings go to this test's own file, never the user's."""
    path = tmp_path / "ui.ini"
    monkeypatch.setenv("ARTFACTORY_UI_SETTINGS", str(path))
    return path


@pytest.fixture
def library(library_home: Path, ui_ini: Path) -> Iterator[Library]:
    lib = Library.open(library_home)
    yield lib
    lib.close()


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    """The main window with no graph open; a test file that needs it otherwise overrides this fixture."""
    with opened_window(qtbot, library) as win:
        yield win
