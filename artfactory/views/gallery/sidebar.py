"""The gallery sidebar: search, collections with counts (drop products on them), and every filter."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from PyQt6.QtCore import QDate, QModelIndex, QRect, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QPainter
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.services.gallery import Gallery, GalleryError, GalleryQuery
from artfactory.views import icons, theme
from artfactory.views.gallery.model import decode_product_ids

SEARCH_DEBOUNCE_MS = 250
COLLECTION_ID = Qt.ItemDataRole.UserRole + 1
COLLECTION_COUNT = Qt.ItemDataRole.UserRole + 2


class DateRange(StrEnum):
    ANY = "any"
    TODAY = "today"
    WEEK = "7d"
    MONTH = "30d"
    YEAR = "365d"
    CUSTOM = "custom"


_DATE_LABELS = {DateRange.ANY: "Any time", DateRange.TODAY: "Today", DateRange.WEEK: "Last 7 days",
                DateRange.MONTH: "Last 30 days", DateRange.YEAR: "Last 12 months", DateRange.CUSTOM: "Custom range…"}
_DATE_DAYS = {DateRange.TODAY: 0, DateRange.WEEK: 6, DateRange.MONTH: 29, DateRange.YEAR: 364}


class _CountDelegate(QStyledItemDelegate):
    """The default item, plus its product count right-aligned and dimmed."""

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        count = index.data(COLLECTION_COUNT)
        if painter is None or count is None:
            return
        painter.save()
        painter.setPen(QColor(theme.colors().dim))
        rect = QRect(option.rect).adjusted(0, 0, -8, 0)
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{count:,}")
        painter.restore()


class CollectionList(QListWidget):
    """Collections as drop targets: dropping products (their ids in the drag) adds them to one."""

    products_dropped = pyqtSignal(int, list)  # collection_id, product ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setItemDelegate(_CountDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def _target(self, event: QDropEvent | QDragMoveEvent) -> int | None:
        item = self.itemAt(event.position().toPoint())
        if item is None or not decode_product_ids(event.mimeData()):
            return None
        collection_id = item.data(COLLECTION_ID)
        return int(collection_id) if collection_id is not None else None

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        if event is not None and decode_product_ids(event.mimeData()):
            event.acceptProposedAction()
        elif event is not None:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent | None) -> None:
        if event is None:
            return
        if self._target(event) is not None:
            self.setCurrentItem(self.itemAt(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent | None) -> None:
        if event is None:
            return
        target = self._target(event)
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.products_dropped.emit(target, decode_product_ids(event.mimeData()))


class GallerySidebar(QWidget):
    """Emits filters_changed whenever the query it contributes changes; collections_changed after edits."""

    filters_changed = pyqtSignal()
    collections_changed = pyqtSignal()
    message = pyqtSignal(str)  # something to tell the user (an error, a result)

    def __init__(self, gallery: Gallery, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.order_id: str | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.filters_changed)
        s = theme.SPACING
        layout = QVBoxLayout(self)
        layout.setContentsMargins(s, s, s, s)
        layout.setSpacing(s)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts and names…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.search.returnPressed.connect(self._search_now)
        layout.addWidget(self.search)

        header = QHBoxLayout()
        title = QLabel("Collections")
        title.setProperty("role", "dim")
        header.addWidget(title)
        header.addStretch(1)
        self.new_button = QToolButton()
        self.new_button.setToolTip("New collection")
        self.new_button.setAutoRaise(True)
        self.new_button.setIcon(icons.icon("new"))
        self.new_button.clicked.connect(self._ask_new_collection)
        header.addWidget(self.new_button)
        layout.addLayout(header)
        self.collections = CollectionList()
        self.collections.currentItemChanged.connect(lambda *_: self.filters_changed.emit())
        self.collections.products_dropped.connect(self._on_dropped)
        self.collections.customContextMenuRequested.connect(self._collection_menu)
        layout.addWidget(self.collections, 1)

        filters = QFrame()
        form = QFormLayout(filters)
        form.setContentsMargins(0, s, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.project = QComboBox()
        self.media = QComboBox()
        for label, value in (("Images and videos", None), ("Images", "image"), ("Videos", "video")):
            self.media.addItem(label, value)
        self.node_type = QComboBox()
        self.provider = QComboBox()
        self.dates = QComboBox()
        for key, label in _DATE_LABELS.items():
            self.dates.addItem(label, key.value)
        self.date_from, self.date_to = QDateEdit(), QDateEdit()
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        today = QDate.currentDate()
        self.date_from.setDate(today.addDays(-30))
        self.date_to.setDate(today)
        custom = QWidget()
        custom_row = QHBoxLayout(custom)
        custom_row.setContentsMargins(0, 0, 0, 0)
        custom_row.addWidget(self.date_from)
        custom_row.addWidget(QLabel("–"))
        custom_row.addWidget(self.date_to)
        self.custom_dates = custom
        custom.setVisible(False)
        self.rating = QComboBox()
        self.rating.addItem("Any rating", 0)
        for stars in range(1, 6):
            self.rating.addItem("★" * stars + ("" if stars == 5 else " or more"), stars)
        self.favourites = QCheckBox("Favourites only")
        form.addRow("Project", self.project)
        form.addRow("Media", self.media)
        form.addRow("Node", self.node_type)
        form.addRow("Provider", self.provider)
        form.addRow("Created", self.dates)
        form.addRow("", custom)
        form.addRow("Rating", self.rating)
        form.addRow("", self.favourites)
        layout.addWidget(filters)

        self.order_chip = QFrame()
        self.order_chip.setProperty("role", "card")
        chip_row = QHBoxLayout(self.order_chip)
        chip_row.setContentsMargins(s, 2, 2, 2)
        self.order_label = QLabel()
        chip_row.addWidget(self.order_label, 1)
        clear_order = QToolButton()
        clear_order.setToolTip("Show all orders' products")
        clear_order.setAutoRaise(True)
        clear_order.setIcon(icons.icon("close"))
        clear_order.clicked.connect(lambda: self.set_order(None))
        chip_row.addWidget(clear_order)
        self.order_chip.setVisible(False)
        layout.addWidget(self.order_chip)
        self.reset_button = QPushButton("Clear filters")
        self.reset_button.clicked.connect(self.reset)
        layout.addWidget(self.reset_button)

        for combo in (self.media, self.node_type, self.provider, self.rating):
            combo.currentIndexChanged.connect(lambda _: self.filters_changed.emit())
        self.project.currentIndexChanged.connect(self._on_project)
        self.dates.currentIndexChanged.connect(self._on_dates)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(lambda _: self.filters_changed.emit())
        self.favourites.toggled.connect(lambda _: self.filters_changed.emit())
        self.reload()

    # -- the query -------------------------------------------------------------------------------
    def apply(self, query: GalleryQuery) -> GalleryQuery:
        """`query` with this sidebar's filters (sort order is not the sidebar's business)."""
        provider = self.provider.currentData() or (None, None)
        created_from, created_to = self._date_range()
        return query.with_(
            project_id=self.project.currentData(), collection_id=self.current_collection(), order_id=self.order_id,
            node_type=self.node_type.currentData(), provider=provider[0], model=provider[1],
            media_type=self.media.currentData(), created_from=created_from, created_to=created_to,
            min_rating=int(self.rating.currentData() or 0), favourites_only=self.favourites.isChecked(),
            search=self.search.text().strip(),
        )

    def current_collection(self) -> int | None:
        item = self.collections.currentItem()
        value = item.data(COLLECTION_ID) if item is not None else None
        return int(value) if value is not None else None

    def current_project(self) -> int | None:
        value = self.project.currentData()
        return int(value) if value is not None else None

    def _date_range(self) -> tuple[datetime | None, datetime | None]:
        key = DateRange(self.dates.currentData() or DateRange.ANY.value)
        if key == DateRange.ANY:
            return None, None
        if key == DateRange.CUSTOM:
            start, end = self.date_from.date().toPyDate(), self.date_to.date().toPyDate()
        else:
            end = date.today()
            start = end - timedelta(days=_DATE_DAYS[key])
        # Stored times are UTC; whole local days are close enough for a filter a person picks.
        return datetime.combine(start, datetime.min.time()), datetime.combine(end + timedelta(days=1),
                                                                              datetime.min.time())

    def _search_now(self) -> None:
        self._debounce.stop()
        self.filters_changed.emit()

    def set_order(self, order_id: str | None, label: str = "") -> None:
        self.order_id = order_id
        self.order_chip.setVisible(order_id is not None)
        self.order_label.setText(f"Order <b>{label or order_id}</b>" if order_id else "")
        self.filters_changed.emit()

    def set_collection(self, collection_id: int | None) -> None:
        for row in range(self.collections.count()):
            item = self.collections.item(row)
            if item is not None and item.data(COLLECTION_ID) == collection_id:
                self.collections.setCurrentItem(item)
                return

    def reset(self) -> None:
        widgets = (self.search, self.project, self.media, self.node_type, self.provider, self.dates, self.rating,
                   self.favourites, self.collections)
        for widget in widgets:
            widget.blockSignals(True)
        self._debounce.stop()
        self.search.clear()
        project_changed = self.project.currentIndex() != 0
        for combo in (self.project, self.media, self.node_type, self.provider, self.dates, self.rating):
            combo.setCurrentIndex(0)
        self.custom_dates.setVisible(False)
        self.favourites.setChecked(False)
        self.collections.setCurrentRow(0)
        self.order_id = None
        self.order_chip.setVisible(False)
        for widget in widgets:
            widget.blockSignals(False)
        if project_changed:
            self.reload(facets_only=True)
        self.filters_changed.emit()

    def _on_project(self) -> None:
        self.reload(facets_only=True)
        self.filters_changed.emit()

    def _on_dates(self) -> None:
        self.custom_dates.setVisible(self.dates.currentData() == DateRange.CUSTOM.value)
        self.filters_changed.emit()

    # -- facets ----------------------------------------------------------------------------------
    def reload(self, facets_only: bool = False) -> None:
        """Re-read projects, collections (with counts), node types and providers; keep the selections."""
        if not facets_only:
            _refill(self.project, [("All projects", None)] + [(name, pid) for pid, name in self.gallery.projects()])
        project_id = self.current_project()
        _refill(self.node_type, [("Any node", None)] + [(f"{f.value}  ({f.total:,})", f.value)
                                                        for f in self.gallery.node_types(project_id)])
        choices: list[tuple[str, Any]] = [("Any provider", None)]
        for facet in self.gallery.providers(project_id):
            label = f"{facet.provider} · {facet.model}" if facet.model else facet.provider
            choices.append((f"{label}  ({facet.total:,})", (facet.provider, facet.model)))
        _refill(self.provider, choices)
        self.reload_collections()

    def reload_collections(self) -> None:
        current = self.current_collection()
        projects = dict(self.gallery.projects())
        project_id = self.current_project()
        self.collections.blockSignals(True)
        self.collections.clear()
        everything = QListWidgetItem(icons.icon("gallery"), "All products")
        everything.setData(COLLECTION_ID, None)
        self.collections.addItem(everything)
        for info in self.gallery.collections(project_id):
            name = info.name if project_id is not None or len(projects) < 2 else \
                f"{info.name} — {projects.get(info.project_id, '?')}"
            item = QListWidgetItem(icons.icon("collection"), name)
            item.setData(COLLECTION_ID, info.id)
            item.setData(COLLECTION_COUNT, info.total)
            item.setToolTip(f"{info.name}: {info.total:,} products — drop products here to add them")
            self.collections.addItem(item)
        self.collections.blockSignals(False)
        self.set_collection(current)
        if self.collections.currentItem() is None:
            self.collections.blockSignals(True)
            self.collections.setCurrentRow(0)
            self.collections.blockSignals(False)
            if current is not None:  # the shown collection was deleted
                self.filters_changed.emit()

    # -- collection editing ----------------------------------------------------------------------
    def create_collection(self, name: str) -> int | None:
        project_id = self.current_project() or self.gallery.library.project_id()
        try:
            collection_id = self.gallery.create_collection(project_id, name)
        except GalleryError as exc:
            self.message.emit(str(exc))
            return None
        self.reload_collections()
        self.collections_changed.emit()
        return collection_id

    def rename_collection(self, collection_id: int, name: str) -> bool:
        try:
            self.gallery.rename_collection(collection_id, name)
        except GalleryError as exc:
            self.message.emit(str(exc))
            return False
        self.reload_collections()
        self.collections_changed.emit()
        return True

    def delete_collection(self, collection_id: int) -> None:
        self.gallery.delete_collection(collection_id)
        self.reload_collections()
        self.collections_changed.emit()

    def add_products(self, collection_id: int, product_ids: list[str]) -> int:
        try:
            added = self.gallery.add_to_collection(collection_id, product_ids)
        except GalleryError as exc:
            self.message.emit(str(exc))
            return 0
        skipped = len(set(product_ids)) - added
        note = f" ({skipped} already there or from another project)" if skipped else ""
        self.message.emit(f"Added {added} product{'s' if added != 1 else ''} to the collection{note}")
        self.reload_collections()
        self.collections_changed.emit()
        return added

    def _on_dropped(self, collection_id: int, product_ids: list[str]) -> None:
        self.add_products(collection_id, product_ids)

    def _ask_new_collection(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name:")
        if ok and name.strip():
            self.create_collection(name)

    def _collection_menu(self, pos: Any) -> None:
        item = self.collections.itemAt(pos)
        collection_id = item.data(COLLECTION_ID) if item is not None else None
        menu = QMenu(self)
        menu.addAction(icons.icon("new"), "New collection…", self._ask_new_collection)
        if item is not None and collection_id is not None:
            menu.addSeparator()
            rename = QAction("Rename…", menu)
            rename.triggered.connect(lambda: self._ask_rename(int(collection_id), item.text()))
            menu.addAction(rename)
            remove = QAction(icons.icon("delete"), "Delete collection…", menu)
            remove.triggered.connect(lambda: self._ask_delete(int(collection_id), item.text()))
            menu.addAction(remove)
        menu.exec(self.collections.viewport().mapToGlobal(pos))  # type: ignore[union-attr]

    def _ask_rename(self, collection_id: int, current: str) -> None:
        name, ok = QInputDialog.getText(self, "Rename collection", "Name:", text=current.split(" — ")[0])
        if ok and name.strip():
            self.rename_collection(collection_id, name)

    def _ask_delete(self, collection_id: int, name: str) -> None:
        answer = QMessageBox.question(self, "Delete collection",
                                      f"Delete the collection “{name}”? Its products stay in the library.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_collection(collection_id)


def _refill(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
    """Replace a combo's items, keeping the selected value when it still exists, without emitting."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for label, value in items:
        combo.addItem(label, value)
    found = next((i for i, (_, value) in enumerate(items) if value == current), 0)
    combo.setCurrentIndex(found)
    combo.blockSignals(False)
