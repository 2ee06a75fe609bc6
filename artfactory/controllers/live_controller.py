"""Changes other apps and CLI runs make to a shared (PostgreSQL) library, as batched signals on the UI thread."""

from __future__ import annotations

import logging
import weakref

from PyQt6 import sip
from PyQt6.QtCore import QObject, QTimer, pyqtSignal, pyqtSlot

from artfactory.services.library import Library
from artfactory.services.live import Change, ChangeListener, supports_live_changes

log = logging.getLogger("artfactory")
BATCH_MS = 150  # a run that makes 50 products at once refreshes the gallery once, still well within 2 s


class LiveChanges(QObject):
    """Starts a ChangeListener on a PostgreSQL library (nothing on SQLite: those views keep their own refresh) and
    turns its notifications into `products_changed` and `orders_changed`, batched, on the thread that owns this."""

    products_changed = pyqtSignal(list, list, list)  # inserted ids, updated ids, deleted ids
    orders_changed = pyqtSignal(dict)  # order id -> status ("" when the order was deleted)
    resync = pyqtSignal()  # notifications may have been missed (the connection came back): re-read everything
    _arrived = pyqtSignal(object)  # a Change, from the listener thread (a queued connection brings it here)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._inserted: dict[str, None] = {}  # ordered sets
        self._updated: dict[str, None] = {}
        self._deleted: dict[str, None] = {}
        self._orders: dict[str, str] = {}
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(BATCH_MS)
        self._flush.timeout.connect(self._emit)
        self._arrived.connect(self._collect)
        self.listener: ChangeListener | None = None
        if supports_live_changes(library.db.url):
            owner = weakref.ref(self)
            listener = self.listener = ChangeListener(library.db.url, lambda change: _forward(owner, listener, change))
            listener.start()

    @property
    def active(self) -> bool:
        return self.listener is not None

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    @pyqtSlot(object)
    def _collect(self, change: Change) -> None:
        if change.kind in ("reconnected", "resync"):  # resync: a whole library was copied in (library migrate)
            self.resync.emit()
        elif change.kind == "product":
            bucket = {"insert": self._inserted, "delete": self._deleted}.get(change.op, self._updated)
            bucket[change.id] = None
        elif change.kind == "order":
            self._orders[change.id] = "" if change.op == "delete" else change.status
        if not self._flush.isActive():
            self._flush.start()

    def _emit(self) -> None:
        deleted = list(self._deleted)
        inserted = [p for p in self._inserted if p not in self._deleted]
        updated = [p for p in self._updated if p not in self._deleted and p not in self._inserted]
        orders = dict(self._orders)
        self._inserted, self._updated, self._deleted, self._orders = {}, {}, {}, {}
        if inserted or updated or deleted:
            self.products_changed.emit(inserted, updated, deleted)
        if orders:
            self.orders_changed.emit(orders)


def _forward(owner: weakref.ref[LiveChanges], listener: ChangeListener, change: Change) -> None:
    """From the listener thread to the owner's thread. An owner deleted without stop() (a window torn down
    without closing) ends its listener instead: no signal is emitted on a deleted object."""
    live = owner()
    if live is None or sip.isdeleted(live):
        listener.stop_soon()
        return
    live._arrived.emit(change)
