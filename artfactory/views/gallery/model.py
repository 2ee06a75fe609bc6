"""The gallery's list model: pages of product rows fetched on demand, thumbnails from the async loader."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import Any

from PyQt6.QtCore import (
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QStringListModel,
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
_ID, _PATH, _MEDIA_TYPE = (GalleryRow._fields.index(name) for name in ("id", "path", "media_type"))

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


class GalleryModel(QStringListModel):
    """Rows arrive a page at a time (keyset paging) as the view scrolls; nothing loads all rows.

    A list model whose row count lives in C++: QStringListModel keeps one empty string per loaded row
    and answers rowCount(), while the product rows live here and data() is ours. QListView lays out
    every row again whenever rows are added or removed and asks the model for each one's index; with
    rowCount() in Python that costs 1.3 µs a row — 130 ms for each page appended once 100,000 rows
    are loaded — against 3 ms in C++ (bench/gallery.py). Nothing else of QStringListModel is used:
    its rows are never edited, dropped on or sorted."""

    total_changed = pyqtSignal(int)

    def __init__(self, gallery: Gallery, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.loader = loader
        self.storage = gallery.library.storage
        self._query = GalleryQuery()
        # Plain tuples, not GalleryRows: the garbage collector stops tracking a tuple of strings and
        # numbers, never a NamedTuple, and 100,000 tracked rows make each full collection a visible stall.
        self._rows: list[tuple[Any, ...]] = []
        self._index: dict[str, int] = {}
        self._index_stale = False
        self._staged: list[tuple[Any, ...]] = []
        self._exhausted = True
        self._total = 0
        self.page_size = PAGE_SIZE
        self.fetched_pages = 0  # how many page queries ran since the last reset (benchmarks, tests)
        # Connected before any view connects, so the rows here change before a view hears of it.
        self.rowsInserted.connect(self._on_rows_inserted)
        self.rowsRemoved.connect(self._on_rows_removed)
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
        total = self.gallery.count(self._query)
        self._rows = []
        self._index = {}
        self._index_stale = False
        self._total = total
        self._exhausted = total == 0
        self.fetched_pages = 0
        self.setStringList([])  # resets the model
        self.total_changed.emit(self._total)

    # -- paging ----------------------------------------------------------------------------------
    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:
        if parent.isValid() or self._exhausted:
            return
        after = Cursor.after(self.row_at(len(self._rows) - 1), self._query.sort) if self._rows else None
        rows = self.gallery.page(self._query, limit=self.page_size, after=after)
        self.fetched_pages += 1
        if len(rows) < self.page_size:
            self._exhausted = True
        if rows:
            self._insert(len(self._rows), rows)

    def load_all_for_test(self) -> None:
        """Fetch until the end; only for small libraries (tests), never called by the app."""
        while self.canFetchMore():
            self.fetchMore()

    # -- rows in step with the C++ row count --------------------------------------------------------
    def _insert(self, start: int, rows: list[GalleryRow]) -> None:
        self._staged = [tuple(row) for row in rows]
        self.insertRows(start, len(rows))

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        rows, self._staged = self._staged, []
        if len(rows) != last - first + 1:  # only _insert adds rows; anything else is a bug worth hearing of
            raise RuntimeError(f"gallery rows {first}–{last} inserted without product data")
        self._rows[first:first] = rows
        if first == len(self._rows) - len(rows) and not self._index_stale:
            self._index.update((row[_ID], first + offset) for offset, row in enumerate(rows))
        else:
            self._index_stale = True

    def _on_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        del self._rows[first:last + 1]
        self._index_stale = True

    def _ids(self) -> dict[str, int]:
        """Product id → row, rebuilt once after rows were inserted or removed in the middle."""
        if self._index_stale:
            self._index = {row[_ID]: i for i, row in enumerate(self._rows)}
            self._index_stale = False
        return self._index

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        return False  # products are renamed, rated and so on through the gallery service, never in place

    # -- reading -------------------------------------------------------------------------------
    def row_at(self, row: int) -> GalleryRow:
        return GalleryRow._make(self._rows[row])

    def row_of(self, product_id: str) -> int | None:
        return self._ids().get(product_id)

    def rows(self) -> list[GalleryRow]:
        return [GalleryRow._make(row) for row in self._rows]

    def ids_between(self, first: int, last: int) -> set[str]:
        """Product ids of the loaded rows first…last (inclusive)."""
        return {row[_ID] for row in self._rows[max(0, first):last + 1]}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        values = self._rows[index.row()]
        if role == Role.THUMBNAIL:  # the commonest question: every painted cell asks it
            product_id = values[_ID]
            pixmap = self.loader.pixmap(product_id)
            if pixmap is None:
                # A plain string join: data() runs for every painted cell, and pathlib is slow.
                self.loader.request(product_id, str(self.storage.location(values[_PATH])), values[_MEDIA_TYPE])
            return pixmap
        row = GalleryRow._make(values)
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name or row.id
        if role == Role.PRODUCT_ID:
            return row.id
        if role == Role.ROW:
            return row
        if role == Role.THUMBNAIL_FAILED:
            return self.loader.failed(row.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"{row.width}×{row.height}" if row.width and row.height else row.media_type
            prompt = f"<br><i>{_html(row.prompt)}</i>" if row.prompt else ""
            return f"<b>{_html(row.name or row.id)}</b> · {size}{prompt}"
        return None

    @pyqtSlot(str)
    def _on_thumbnail(self, product_id: str) -> None:
        row = self._ids().get(product_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Role.THUMBNAIL])

    # -- drag ----------------------------------------------------------------------------------
    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDragEnabled
                | Qt.ItemFlag.ItemNeverHasChildren)

    def mimeTypes(self) -> list[str]:
        return [PRODUCT_MIME, "text/uri-list"]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        ids = [self._rows[r][_ID] for r in rows]
        mime = QMimeData()
        mime.setData(PRODUCT_MIME, encode_product_ids(ids))
        # The files too, so products can be dropped into a file manager or another app.
        mime.setUrls([QUrl.fromLocalFile(str(self.storage.location(self._rows[r][_PATH]))) for r in rows])
        return mime

    # -- changes ---------------------------------------------------------------------------------
    def update_products(self, product_ids: Iterable[str]) -> None:
        """Re-read rows whose rating, favourite or name changed."""
        for product_id in product_ids:
            row = self._ids().get(product_id)
            if row is None:
                continue
            fresh = self.gallery.row(product_id)
            if fresh is None:
                continue
            self._rows[row] = tuple(fresh)
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def remove_products(self, product_ids: Iterable[str]) -> None:
        """Drop rows (deleted products, or ones that left the filtered collection) without a reset."""
        ids = self._ids()
        doomed = sorted((ids[p] for p in set(product_ids) if p in ids), reverse=True)
        # Contiguous runs go in one removal each: every removal makes the view lay out again.
        runs: list[list[int]] = []
        for row in doomed:
            if runs and runs[-1][0] == row + 1:
                runs[-1][0] = row
            else:
                runs.append([row, row])
        for first, last in runs:
            self.removeRows(first, last - first + 1)
        if doomed:
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
            newest = self.row_at(0) if self._rows else None
            fresh = self.gallery.newer_than(self._query, newest, limit=NEW_BATCH)
            if fresh:
                self._insert(0, fresh)
                added += len(fresh)
            if len(fresh) < NEW_BATCH:
                break
        if added:
            self._total += added
            self.total_changed.emit(self._total)
        return added


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
