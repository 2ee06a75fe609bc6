"""The About dialog: the version, the library folder, and every bundled library with its licence."""

from __future__ import annotations

import re
from typing import Any

from PyQt6.QtWidgets import QLabel

from artfactory import __version__
from artfactory.controllers.app_controller import BUNDLED, AppController
from artfactory.services.library import Library
from artfactory.views.dialogs.info import AboutDialog


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def open_about(qtbot: Any, library: Library) -> AboutDialog:
    dialog = AboutDialog(AppController(library))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_about_shows_version_and_library_folder(qtbot: Any, library: Library) -> None:
    dialog = open_about(qtbot, library)
    shown = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert f"version {__version__}" in shown
    assert f"Library: {library.home}" in shown


def test_about_credits_every_bundled_library_with_version_and_licence(qtbot: Any, library: Library) -> None:
    dialog = open_about(qtbot, library)
    rows = {}
    for i in range(dialog.libraries.topLevelItemCount()):
        item = dialog.libraries.topLevelItem(i)
        assert item is not None
        rows[canonical(item.text(0))] = (item.text(1), item.text(2))
    assert set(rows) == {canonical(name) for name in BUNDLED}
    assert rows["pyqt6"][1] == "GPL-3.0-only"  # the one a redistributor most needs to know about
    assert rows["nodegraphqt"][0] == "0.6.44"
    for name, (version, licence) in rows.items():
        assert re.fullmatch(r"\d+(\.\d+)+", version), name
        assert licence and licence != "see package", name
