"""Driving Qt widgets as a hand would, for the UI tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget

from artfactory.app import create_main_window
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.main_window import MainWindow


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


def when_popup_opens(qtbot: Any, trigger: Callable[[], None], inside: Callable[[QMenu], None]) -> bool:
    """Run `inside` on the first popup menu that opens after `trigger`, at once or later from the event loop
    (e.g. the link search, which opens once a mouse release is done, in NodeGraphQt's blocking exec_())."""
    seen: list[QMenu] = []
    poll = QTimer()
    poll.setInterval(5)

    def check() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu) and not seen:
            seen.append(popup)
            poll.stop()
            try:
                inside(popup)
            finally:
                popup.close()

    poll.timeout.connect(check)
    poll.start()
    trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    poll.stop()
    qtbot.wait(5)
    return bool(seen)


def open_main_window(qtbot: Any, library: Library, *, new_graph: bool = False, activate: bool = False,
                     size: tuple[int, int] | None = None) -> MainWindow:
    """The themed main window over `library`, shown and exposed; closing it discards unsaved tabs unasked.

    `new_graph` opens an empty graph tab first, as start-up does; `activate` waits until it is the active window."""
    theme.apply(QApplication.instance())  # type: ignore[arg-type]
    win = create_main_window(library)
    win.files.ask_save = lambda tab: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    if new_graph:
        win.files.new_graph()
    win.show()
    qtbot.waitExposed(win)
    if activate:
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=2000)
    return win


@contextmanager
def opened_window(qtbot: Any, library: Library, *, new_graph: bool = False, activate: bool = False,
                  size: tuple[int, int] | None = None) -> Iterator[MainWindow]:
    """`open_main_window` for the length of a block; afterwards its runs are cancelled and awaited, and it closes."""
    win = open_main_window(qtbot, library, new_graph=new_graph, activate=activate, size=size)
    try:
        yield win
    finally:
        win.app.runs.cancel_all()
        win.app.runs.executor.wait_idle(10_000)
        win.close()
