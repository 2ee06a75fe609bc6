"""Our widgets' attributes leave Qt's own methods callable (found when mypy began checking the views)."""

from __future__ import annotations

from PyQt6.QtGui import QAction

from artfactory.views.dialogs.preferences import PreferencesDialog
from artfactory.views.main_window import MainWindow


def test_main_window_keeps_qwidget_actions(window: MainWindow) -> None:
    # The named actions live in menu_actions; QWidget.actions() stays the window's own list.
    assert isinstance(window.actions(), list)
    assert all(isinstance(a, QAction) for a in window.actions())
    assert window.menu_actions["run"].text()


def test_preferences_keeps_qwidget_width_and_height(window: MainWindow) -> None:
    dialog = window.show_preferences()
    assert isinstance(dialog, PreferencesDialog)
    assert isinstance(dialog.width(), int) and isinstance(dialog.height(), int)
    assert dialog.width_spin.value() == window.app.settings.default_width
    assert dialog.height_spin.value() == window.app.settings.default_height
    dialog.close()
