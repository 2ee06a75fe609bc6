"""Thumbnails for nodes, decoded on a worker thread (file reads never run on the UI thread) and kept in an LRU."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage, QPixmap

CACHE_SIZE = 256


class _Signals(QObject):
    done = pyqtSignal(str, str, QImage)  # product id, path, image (null when unreadable)


class _Load(QRunnable):
    def __init__(self, product_id: str, path: Path, signals: _Signals) -> None:
        super().__init__()
        self.product_id, self.path, self.signals = product_id, path, signals

    def run(self) -> None:
        image = QImage(str(self.path)) if self.path.is_file() else QImage()
        self.signals.done.emit(self.product_id, str(self.path), image)


class ThumbLoader(QObject):
    """`pixmap()` answers from the cache at once or starts a load; `loaded` says when one arrives."""

    loaded = pyqtSignal(str)  # product id

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache: OrderedDict[tuple[str, str], QPixmap] = OrderedDict()
        self._pending: set[tuple[str, str]] = set()
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)

    def pixmap(self, product_id: str, path: Path) -> QPixmap | None:
        """The thumbnail if decoded already (a null pixmap when the file is unreadable), else None."""
        key = (product_id, str(path))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            if not cached.isNull() or key in self._pending:
                return cached
            if not path.is_file():
                return cached
            del self._cache[key]  # it was missing before and is there now: thumbnails come late
        if key not in self._pending:
            self._pending.add(key)
            self.pool.start(_Load(product_id, path, self._signals))
        return None

    def _on_done(self, product_id: str, path: str, image: QImage) -> None:
        key = (product_id, path)
        self._pending.discard(key)
        self._cache[key] = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        self.loaded.emit(product_id)
