"""Driving Qt widgets as a hand would, for the UI tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtWidgets import QApplication, QMenu, QWidget


def drag(qtbot: Any, widget: QWidget, start: QPoint, end: QPoint) -> None:
    """Press, move in two steps and release the left button."""
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(widget, (start + end) / 2)
    qtbot.mouseMove(widget, end)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def while_popup_open(qtbot: Any, trigger: Callable[[], None], inside: Callable[[QMenu], None]) -> bool:
    """Run `inside` on the popup menu that `trigger` opens with a blocking exec_(), then close it.

    NodeGraphQt opens its menus and tab search with exec_(); a zero-delay timer runs inside that
    nested event loop. Returns whether a popup was seen.
    """
    seen: list[QMenu] = []

    def in_loop() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            seen.append(popup)
            try:
                inside(popup)
            finally:
                popup.close()

    QTimer.singleShot(0, in_loop)
    trigger()
    qtbot.wait(5)
    return bool(seen)
