"""Start the desktop app: QApplication, theme, splash, error hook, the library, the main window, the event loop."""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import TYPE_CHECKING

from artfactory.config import APP_NAME

if TYPE_CHECKING:
    from artfactory.services.library import Library
    from artfactory.views.main_window import MainWindow

log = logging.getLogger("artfactory")
EXIT_BAD_LIBRARY = 2


def _library_home(home: str | os.PathLike[str] | None) -> str | os.PathLike[str] | None:
    """--home, else ARTFACTORY_HOME, else the folder chosen in Preferences, else the default."""
    if home or os.environ.get("ARTFACTORY_HOME"):
        return home
    from artfactory.controllers.session import ui_settings

    chosen = ui_settings().value("library/home")
    return chosen if isinstance(chosen, str) and chosen else None


# The UI thread shares the GIL with the workers that run nodes. Python hands the GIL over every 5 ms by
# default, and each thread a burst of starts wakes costs the UI thread a turn: with 1 ms the longest UI
# stall during a 16-node run drops from ~200 ms to ~40 ms here, and the run itself gets no slower.
UI_SWITCH_INTERVAL_S = 0.001


def show_settings_problems(window: MainWindow, problems: list[str]) -> None:
    """Say which settings could not be used (their defaults apply), in the log and in a window that does
    not block: the app runs on with defaults rather than refusing to start over one bad value."""
    from PyQt6.QtWidgets import QMessageBox

    for problem in problems:
        log.warning("%s", problem)
    box = QMessageBox(QMessageBox.Icon.Warning, f"{APP_NAME} — settings",
                      "Some settings could not be used; their defaults apply until they are fixed "
                      "(in Preferences or in the file):", QMessageBox.StandardButton.Ok, window)
    box.setInformativeText("\n\n".join(problems))
    box.setModal(False)
    box.show()
    window.settings_problems_box = box  # type: ignore[attr-defined]  # kept alive while it is shown
    window.show_message(problems[0])


def create_main_window(library: Library) -> MainWindow:
    """The main window over an open library, not yet shown (tests and screenshots use it too)."""
    sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
    from artfactory.controllers.app_controller import AppController
    from artfactory.views.main_window import MainWindow

    controller = AppController(library)
    window = MainWindow(controller)
    controller.setParent(window)
    return window


def _freeze_startup_objects() -> None:
    gc.collect()
    gc.freeze()


def run_app(home: str | os.PathLike[str] | None = None) -> int:
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")
    # Only PyQt6 itself before the splash is up: NodeGraphQt (through Qt.py, which loads every PyQt6
    # module) and SQLAlchemy take a second to import, and the user should see the app at once.
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from artfactory import __version__
    from artfactory.views import excepthook, theme
    from artfactory.views.splash import Splash

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    excepthook.install(show_dialog=True)
    splash = Splash(__version__)  # paints itself: it needs neither the style nor the stylesheet
    splash.show()
    splash.advance(0.05, "Loading the node editor…")
    theme.apply(app)
    from artfactory.views.canvas import compat

    compat.apply()  # before anything imports NodeGraphQt
    splash.advance(0.35, "Opening the library…")
    from artfactory.config import load_settings, resolve_home
    from artfactory.services.library import Library, LibraryError
    from artfactory.services.orders import OrderStore

    settings_problems: list[str] = []  # bad values keep their defaults; the user is told once the window is up
    try:
        root = resolve_home(_library_home(home))
        library = Library.open(root, settings=load_settings(root, settings_problems))
    except LibraryError as exc:
        splash.close()
        QMessageBox.critical(None, f"{APP_NAME} — cannot open the library",
                             f"The library cannot be opened:\n\n{exc}\n\nStart Art Factory with --home DIR "
                             "to use another folder.")
        return EXIT_BAD_LIBRARY
    theme.apply(app, library.settings.theme)
    splash.advance(0.75, "Building the window…")
    from artfactory.services.write_errors import describe_write_failure, is_write_failure

    try:
        # A read-only library is for browsing: marking ended orders interrupted would be a write.
        interrupted = [] if library.read_only else OrderStore(library).recover_interrupted()
        startup_problem = ""
    except Exception as exc:  # a full disk: the window still opens, to browse and to free space
        if not is_write_failure(exc):
            raise
        interrupted, startup_problem = [], describe_write_failure(exc, library.home)
    window = create_main_window(library)
    window.files.new_graph()
    window.show()
    splash.finish(window)
    if library.read_only:
        window.show_message(f"The library at {library.home} is read-only: browse and export; runs and imports "
                            "need write access")
    if interrupted:
        window.offer_resume(len(interrupted))
    if startup_problem:
        window.show_message(f"Runs cannot be recorded: {startup_problem}")
    window.app.library_swept.connect(window.show_message)
    window.app.sweep_library()
    from PyQt6.QtCore import QTimer

    if settings_problems:
        QTimer.singleShot(0, lambda: show_settings_problems(window, settings_problems))
    QTimer.singleShot(0, window.files.offer_restore)
    # Start-up leaves many long-lived objects (Qt wrappers, SQLAlchemy, NodeGraphQt); moving them out of
    # the collector's reach spares the user a one-off pause (75–110 ms in bench/gallery.py) later on.
    # Done from the event loop, after the window's first paint, not before it.
    QTimer.singleShot(0, _freeze_startup_objects)
    try:
        return int(app.exec())
    finally:
        library.close()
