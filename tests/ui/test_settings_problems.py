"""The app opens on a library whose settings file holds a bad value, and says which one (issue 10, item 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtWidgets import QMessageBox

from artfactory.app import create_main_window, show_settings_problems
from artfactory.config import Settings, load_settings
from artfactory.services.library import Library


def test_a_bad_setting_is_shown_and_its_default_used(qtbot: Any, library_home: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ARTFACTORY_UI_SETTINGS", str(tmp_path / "ui.ini"))
    path = library_home / "settings.json"
    path.write_text(json.dumps({"max_file_bytes": -1, "theme": "light"}))
    problems: list[str] = []
    # What run_app does: the library opens with the good values and the defaults for the bad ones.
    library = Library.open(library_home, settings=load_settings(library_home, problems))
    try:
        assert library.settings.max_file_bytes == Settings().max_file_bytes
        assert library.settings.theme == "light"
        assert problems == [f"{path}: setting 'max_file_bytes' must be at least 1, got -1"]
        window = create_main_window(library)
        qtbot.addWidget(window)
        window.show()
        with caplog.at_level("WARNING", logger="artfactory"):
            show_settings_problems(window, problems)
        box = window.findChild(QMessageBox)
        assert box is not None and box.isVisible() and not box.isModal()
        assert problems[0] in box.informativeText()
        assert problems[0] in caplog.text
        status = window.statusBar()
        assert status is not None and status.currentMessage() == problems[0]
        box.close()
        window.app.runs.executor.wait_idle(10_000)
        window.close()
    finally:
        library.close()
