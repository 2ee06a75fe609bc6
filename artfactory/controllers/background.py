"""One function call on the thread pool, its answer delivered to the GUI thread (newest call wins)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

log = logging.getLogger(__name__)


class _Task(QRunnable):
    def __init__(self, owner: BackgroundCall, ticket: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.owner, self.ticket, self.fn = owner, ticket, fn

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # any failure becomes one line for the view, never a dead worker thread
            log.debug("background call failed", exc_info=True)
            self._send(self.owner._failed, self.ticket, str(exc) or type(exc).__name__)
            return
        self._send(self.owner._done, self.ticket, result)

    @staticmethod
    def _send(signal: Any, ticket: int, value: Any) -> None:
        try:
            signal.emit(ticket, value)
        except RuntimeError:  # the owner was deleted while this ran (its window closed): nobody is waiting
            pass


class BackgroundCall(QObject):
    """Runs `call(fn)` off the GUI thread; `finished(result)` or `failed(message)` arrive in the GUI thread, and
    only for the latest call, so a slow stale answer never overwrites a newer one."""

    finished = pyqtSignal(object)
    failed = pyqtSignal(str)
    _done = pyqtSignal(int, object)  # from the worker: queued to the GUI thread
    _failed = pyqtSignal(int, str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._ticket = 0
        self.busy = False
        self._done.connect(self._on_done)
        self._failed.connect(self._on_failed)

    def call(self, fn: Callable[[], Any]) -> None:
        self._ticket += 1
        self.busy = True
        assert self.pool is not None
        self.pool.start(_Task(self, self._ticket, fn))

    def _on_done(self, ticket: int, result: object) -> None:
        if ticket == self._ticket:
            self.busy = False
            self.finished.emit(result)

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self.busy = False
            self.failed.emit(message)
