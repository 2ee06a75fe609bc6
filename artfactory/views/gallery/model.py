"""The gallery's list model: pages of product rows fetched on demand, thumbnails from the async loader."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import Any

from PyQt6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
    pyqtSignal,
    pyqtSlot,
)

from artfactory.services.gallery import Cursor, Gallery, GalleryQuery, GalleryRow, SortKey
from artfactory.views.gallery.thumbs import ThumbnailLoader

PRODUCT_MIME = "application/x-artfactory-product-ids"
PAGE_SIZE = 240  # a multiple of the usual 4, 5, 6 and 8 cells per line: whole lines per page

NEW_BATCH = 500

_Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    PRODUCT_ID = Qt.ItemDataRole.UserRole + 1
    ROW = Qt.ItemDataRole.UserRole + 2
    THUMBNAIL = Qt.ItemDataRole.UserRole + 3
    THUMBNAIL_FAILED = Qt.ItemDataRole.UserRole + 4


def encode_product_ids(ids: Sequence[str]) -> bytes:
    return json.dumps(list(ids)).encode("utf-8")


def decode_product_ids(mime: QMimeData | None) -> list[str]:
    """The product ids a drag carries, or [] for anything else."""
    if mime is None or not mime.hasFormat(PRODUCT_MIME):
        return []
    try:
        ids = json.loads(bytes(mime.data(PRODUCT_MIME).data()).decode("utf-8"))
    except ValueError:
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []


class GalleryModel(QAbstractListModel):
    """Rows arrive a page at a time (keyset paging) as the view scrolls; nothing loads all rows."""

    total_changed = pyqtSignal(int)

    def __init__(self, gallery: Gallery, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.loader = loader
        self.storage = gallery.library.storage
        self._root = str(self.storage.root)
        self._query = GalleryQuery()
        self._rows: list[GalleryRow] = []
        self._index: dict[str, int] = {}
        self._exhausted = True
        self._total = 0
        self.page_size = PAGE_SIZE
        loader.loaded.connect(self._on_thumbnail)

    # -- query ---------------------------------------------------------------------------------
    @property
    def query(self) -> GalleryQuery:
        return self._query

    @property
    def total(self) -> int:
        """How many products match the query (not how many rows are loaded)."""
        return self._total

    def set_query(self, query: GalleryQuery) -> None:
        self._query = query
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._index = {}
        self._total = self.gallery.count(self._query)
        self._exhausted = self._total == 0
        self.endResetModel()
        self.total_changed.emit(self._total)

    # -- paging ----------------------------------------------------------------------------------
    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:
        if parent.isValid() or self._exhausted:
            return
        after = Cursor.after(self._rows[-1], self._query.sort) if self._rows else None
        rows = self.gallery.page(self._query, limit=self.page_size, after=after)
        if len(rows) < self.page_size:
            self._exhausted = True
        if not rows:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows.extend(rows)
        for offset, row in enumerate(rows):
            self._index[row.id] = start + offset
        self.endInsertRows()

    def load_all_for_test(self) -> None:
        """Fetch until the end; only for small libraries (tests), never called by the app."""
        while self.canFetchMore():
            self.fetchMore()

    # -- reading -------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def row_at(self, row: int) -> GalleryRow:
        return self._rows[row]

    def row_of(self, product_id: str) -> int | None:
        return self._index.get(product_id)

    def rows(self) -> list[GalleryRow]:
        return list(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name or row.id
        if role == Role.PRODUCT_ID:
            return row.id
        if role == Role.ROW:
            return row
        if role == Role.THUMBNAIL:
            pixmap = self.loader.pixmap(row.id)
            if pixmap is None:
                # A plain string join: data() runs for every painted cell, and pathlib is slow.
                self.loader.request(row.id, f"{self._root}/{row.path}", row.media_type)
            return pixmap
        if role == Role.THUMBNAIL_FAILED:
            return self.loader.failed(row.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"{row.width}×{row.height}" if row.width and row.height else row.media_type
            prompt = f"<br><i>{_html(row.prompt)}</i>" if row.prompt else ""
            return f"<b>{_html(row.name or row.id)}</b> · {size}{prompt}"
        return None

    @pyqtSlot(str)
    def _on_thumbnail(self, product_id: str) -> None:
        row = self._index.get(product_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Role.THUMBNAIL])

    # -- drag ----------------------------------------------------------------------------------
    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [PRODUCT_MIME, "text/uri-list"]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        ids = [self._rows[r].id for r in rows]
        mime = QMimeData()
        mime.setData(PRODUCT_MIME, encode_product_ids(ids))
        # The files too, so products can be dropped into a file manager or another app.
        mime.setUrls([QUrl.fromLocalFile(str(self.storage.root / self._rows[r].path)) for r in rows])
        return mime

    # -- changes ---------------------------------------------------------------------------------
    def update_products(self, product_ids: Iterable[str]) -> None:
        """Re-read rows whose rating, favourite or name changed."""
        for product_id in product_ids:
            row = self._index.get(product_id)
            if row is None:
                continue
            fresh = self.gallery.row(product_id)
            if fresh is None:
                continue
            self._rows[row] = fresh
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def remove_products(self, product_ids: Iterable[str]) -> None:
        """Drop rows (deleted products, or ones that left the filtered collection) without a reset."""
        doomed = sorted((self._index[p] for p in set(product_ids) if p in self._index), reverse=True)
        for row in doomed:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        if doomed:
            self._reindex()
            self._total = max(0, self._total - len(doomed))
            self.total_changed.emit(self._total)

    def insert_new(self) -> int:
        """Show products made since the newest row (a running order), without losing the scroll position.
        Only the newest-first date order has a natural place for them; other orders refresh instead."""
        if self._query.sort != SortKey.DATE or not self._query.descending:
            self.refresh()
            return -1
        if not self._rows and not self._exhausted:
            self.refresh()  # nothing fetched yet: the first page will hold them
            return -1
        added = 0
        while True:
            fresh = self.gallery.newer_than(self._query, self._rows[0] if self._rows else None, limit=NEW_BATCH)
            if fresh:
                self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
                self._rows[:0] = fresh
                self._reindex()
                self.endInsertRows()
                added += len(fresh)
            if len(fresh) < NEW_BATCH:
                break
        if added:
            self._total += added
            self.total_changed.emit(self._total)
        return added

    def _reindex(self) -> None:
        self._index = {row.id: i for i, row in enumerate(self._rows)}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
