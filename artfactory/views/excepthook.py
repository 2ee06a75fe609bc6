"""Log uncaught exceptions, Qt callbacks' included, and show them in a non-blocking error dialog."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtWidgets import QApplication, QMessageBox

logger = logging.getLogger("artfactory")

DIALOG_TITLE = "Art Factory — unexpected error"

# The last exception the hook saw, for tests and for a "report a problem" action.
last_error: BaseException | None = None

_show_dialog = True
_showing = False  # guards against a dialog that itself raises, which would re-enter the hook
# One dialog at a time: an error in a paint handler repeats on every repaint, and a pile of dialogs
# helps nobody; later errors still reach the log. Holding it here also keeps it alive until closed.
_dialog: QMessageBox | None = None
_bridge: _DialogBridge | None = None


class _DialogBridge(QObject):
    """Carries an error from a worker thread to the GUI thread, the only one allowed to show a dialog."""

    error = pyqtSignal(str, str)


def install(show_dialog: bool = True) -> None:
    """Route sys.excepthook and threading.excepthook here.

    Without this, PyQt6 aborts the whole process when a slot or virtual override raises; with it
    the error is logged (logger "artfactory"), shown, and the event loop carries on.
    """
    global _show_dialog, _bridge
    _show_dialog = show_dialog
    if _bridge is None:
        # Created here, on the main thread, so that its queued slot runs on the GUI thread.
        _bridge = _DialogBridge()
        _bridge.error.connect(_show_error_dialog)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _excepthook(exc_type: type[BaseException], exc_value: BaseException,
                exc_tb: TracebackType | None) -> None:
    global last_error
    last_error = exc_value
    try:
        logger.critical("Unexpected error: %s", _summary(exc_type, exc_value),
                        exc_info=(exc_type, exc_value, exc_tb))
        if issubclass(exc_type, KeyboardInterrupt) or not _show_dialog:
            return
        details = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return  # no widgets to show a dialog with: the log line is all we can do
        if QThread.currentThread() is app.thread():
            _show_error_dialog(_summary(exc_type, exc_value), details)
        elif _bridge is not None:
            _bridge.error.emit(_summary(exc_type, exc_value), details)
    except Exception:  # the hook must never raise, or PyQt6 aborts after all
        _log_hook_failure()


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return  # the threading module ignores SystemExit in a thread; so do we
    exc_value = args.exc_value if args.exc_value is not None else args.exc_type.__new__(args.exc_type)
    _excepthook(args.exc_type, exc_value, args.exc_traceback)


def _show_error_dialog(message: str, details: str) -> None:
    global _showing, _dialog
    if _showing or _dialog is not None:
        return
    _showing = True
    try:
        dialog = QMessageBox(QMessageBox.Icon.Critical, DIALOG_TITLE, message,
                             QMessageBox.StandardButton.Ok)
        dialog.setDetailedText(details)
        dialog.setModal(False)
        dialog.finished.connect(_forget_dialog)
        _dialog = dialog
        dialog.show()  # show(), not exec(): a nested event loop inside an error path invites more errors
    except Exception:
        _dialog = None
        _log_hook_failure()
    finally:
        _showing = False


def _forget_dialog() -> None:
    global _dialog
    if _dialog is not None:
        _dialog.deleteLater()
    _dialog = None


def _summary(exc_type: type[BaseException], exc_value: BaseException) -> str:
    text = str(exc_value)
    return f"{exc_type.__name__}: {text}" if text else exc_type.__name__


def _log_hook_failure() -> None:
    try:
        logger.exception("The error handler itself failed")
    except Exception:  # logging is broken too; stderr is the last resort
        traceback.print_exc()
