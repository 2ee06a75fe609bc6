"""The gallery tab: sidebar and order history, the thumbnail grid, and the viewer with lineage, wired together."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence, QResizeEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.services.gallery import Gallery, GalleryError, GalleryQuery, SortKey
from artfactory.services.library import Library
from artfactory.services.transfer import ExportError, export_products
from artfactory.views import icons, theme
from artfactory.views.gallery.import_dialog import ImportDialog
from artfactory.views.gallery.model import GalleryModel, Role
from artfactory.views.gallery.orders_panel import OrdersPanel
from artfactory.views.gallery.sidebar import GallerySidebar
from artfactory.views.gallery.thumbs import ThumbnailLoader
from artfactory.views.gallery.view import DEFAULT_EDGE, GalleryView
from artfactory.views.viewer.compare import CompareDialog
from artfactory.views.viewer.viewer import ProductViewer, confirm
from artfactory.views.widgets.elided_label import ElidedLabel
from artfactory.views.widgets.flow_layout import FlowLayout

SORTS = [("Newest first", SortKey.DATE, True), ("Oldest first", SortKey.DATE, False),
         ("Name A–Z", SortKey.NAME, False), ("Name Z–A", SortKey.NAME, True),
         ("Largest first", SortKey.SIZE, True), ("Smallest first", SortKey.SIZE, False)]
LIVE_DEBOUNCE_MS = 300
LIVE_UPDATES_MAX = 200  # products changed elsewhere at once that are re-read row by row
MESSAGE_MS = 6000
# The automatic split (see auto_split): the grid's column (three default cells, the scroll bar and the
# margins) comes first; the side panes show only when they get at least their minimum.
GRID_MIN_WIDTH = 630
LEFT_MIN_WIDTH = 240  # the Library and Orders tabs and the filter labels fit
VIEWER_MIN_WIDTH = 240


def _single_shot(parent: QObject, interval_ms: int) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    return timer


class GalleryWidget(QWidget):
    """Everything about products in one tab. The main window adds it and connects the three signals."""

    open_graph_requested = pyqtSignal(str, str)  # order_id, node_id: load the snapshot, select the node
    rerun_requested = pyqtSignal(str)  # order_id: open the snapshot as a new graph linked to it
    product_activated = pyqtSignal(str)  # product_id: double-click or Enter

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.gallery = Gallery(library)
        self.loader = ThumbnailLoader(library.home, parent=self)
        self.loader.set_edge(DEFAULT_EDGE, self.devicePixelRatioF() or 1.0)
        self.model = GalleryModel(self.gallery, self.loader, self)
        self.view = GalleryView()
        self.view.setModel(self.model)
        self.sidebar = GallerySidebar(self.gallery)
        self.orders = OrdersPanel(self.gallery)
        self.viewer = ProductViewer(library, orientation=Qt.Orientation.Vertical)
        self.dialogs: list[QWidget] = []  # keeps open import and compare dialogs alive
        self._auto_split = True

        self._requery = _single_shot(self, 0)
        self._requery.timeout.connect(self._apply_query)
        self._live = _single_shot(self, LIVE_DEBOUNCE_MS)
        self._live.timeout.connect(self._show_new_products)
        self._facets = _single_shot(self, LIVE_DEBOUNCE_MS * 3)
        self._facets.timeout.connect(self._reload_side_panels)
        self._message_timer = _single_shot(self, MESSAGE_MS)
        self._build()
        self._connect()
        # The sidebar read its facets when it was made: reading them again here would only delay the first paint
        # (tens of ms each at 100,000 products on PostgreSQL).
        self.orders.refresh(self.sidebar.current_project())
        self._apply_query()

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        s = theme.SPACING
        left = QTabWidget()
        left.addTab(self.sidebar, icons.icon("gallery"), "Library")
        left.addTab(self.orders, icons.icon("orders"), "Orders")
        self.left_tabs = left
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(s, s, s, 0)
        # A flow, not a row: when the grid is narrow the controls wrap onto a second line instead of
        # being squeezed until their texts are cut ("18 product", "Newest fir").
        bar = FlowLayout(spacing=s)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "heading")
        bar.addWidget(self.count_label)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.sort = QComboBox()
        for label, key, descending in SORTS:
            self.sort.addItem(label, (key, descending))
        bar.addWidget(self.sort)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(96, 320)
        self.size_slider.setSingleStep(8)
        self.size_slider.setValue(DEFAULT_EDGE)
        self.size_slider.setToolTip("Thumbnail size")
        self.size_slider.setFixedWidth(110)
        bar.addWidget(self.size_slider)
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare")
        self.compare_button.setToolTip("Compare the two selected products")
        self.compare_button.setEnabled(False)
        bar.addWidget(self.compare_button)
        self.import_button = QToolButton()
        self.import_button.setText("Import")
        self.import_button.setToolTip("Import files or folders (or drop them here)")
        self.import_button.setIcon(icons.icon("open"))
        self.import_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.import_button)
        menu.addAction("Import files…", self.import_dialog)
        menu.addAction("Import a folder…", lambda: self.import_dialog(folder=True))
        self.import_button.setMenu(menu)
        bar.addWidget(self.import_button)
        column.addLayout(bar)
        column.addWidget(self.view, 1)
        # Messages float over the grid's foot: shown in the toolbar they made it grow a line and the grid
        # jump, or were cut to a few letters.
        self.message_label = ElidedLabel(parent=self.view, max_hint=100_000)
        self.message_label.setProperty("role", "toast")
        self.message_label.hide()
        self._message_timer.timeout.connect(self._hide_message)
        self.view.installEventFilter(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (left, center, self.viewer):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([280, 900, 400])
        self.splitter.splitterMoved.connect(self._on_divider_moved)
        # Explicit minimums below the panels' hints, so the window still fits a small screen.
        for widget, width in ((left, LEFT_MIN_WIDTH), (center, 300), (self.viewer, VIEWER_MIN_WIDTH)):
            widget.setMinimumWidth(width)
        self.setMinimumSize(320, 240)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        # triggered(bool checked) fills a lambda's first parameter: the slots take it as `_checked` so a
        # default argument (the star count) is not overwritten with False.
        for shortcut, slot in (("Del", lambda _checked=False: self.delete_selected()),
                               ("L", lambda _checked=False: self.toggle_favourite()),
                               *((str(n), lambda _checked=False, n=n: self.rate_selected(n)) for n in range(6))):
            action = QAction(self.view)
            action.setObjectName(f"gallery_key_{shortcut}")
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.view.addAction(action)

    def _connect(self) -> None:
        self.sidebar.filters_changed.connect(self._requery.start)
        self.sidebar.collections_changed.connect(self._on_collections_changed)
        self.sidebar.message.connect(self.show_message)
        self.sort.currentIndexChanged.connect(lambda _: self._requery.start())
        self.size_slider.valueChanged.connect(self.set_thumbnail_size)
        self.compare_button.clicked.connect(self.compare_selected)
        self.import_button.clicked.connect(self.import_dialog)
        self.model.total_changed.connect(self._on_total)
        self.view.activated.connect(self._on_activated)
        self.view.files_dropped.connect(self.import_files)
        self.view.customContextMenuRequested.connect(self._context_menu)
        scroll_bar = self.view.verticalScrollBar()
        assert scroll_bar is not None
        scroll_bar.valueChanged.connect(self._prune_thumbnail_requests)
        selection = self.view.selectionModel()
        assert selection is not None
        selection.currentChanged.connect(self._on_current)
        selection.selectionChanged.connect(lambda *_: self._on_selection())
        self.orders.order_selected.connect(lambda oid: self.sidebar.set_order(oid or None, oid[-8:]))
        self.orders.open_graph_requested.connect(self.open_graph_requested)
        self.orders.rerun_requested.connect(self.rerun_requested)
        v = self.viewer
        v.open_graph_requested.connect(self.open_graph_requested)
        v.rerun_requested.connect(self.rerun_requested)
        v.product_changed.connect(self._on_product_changed)
        v.product_deleted.connect(lambda pid: self._on_deleted([pid]))
        v.order_requested.connect(self.show_order)
        v.message.connect(self.show_message)
        v.mask_saved.connect(self.show_saved_mask)

    # -- public ------------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self._auto_split:  # until the user drags a divider, the grid gets what the side panes don't need
            self.splitter.setSizes(self.auto_split(self.splitter.width() - 2 * self.splitter.handleWidth()))

    @staticmethod
    def auto_split(width: int) -> list[int]:
        """Widths of the side panes and the grid in `width` pixels: the grid gets GRID_MIN_WIDTH first, then
        the filters, then the viewer; a pane that does not fit at its minimum is folded away (0, and its
        divider can still be dragged out), rather than squeezing everything until texts are cut."""
        left = max(LEFT_MIN_WIDTH, min(300, width // 5))
        if width - left < GRID_MIN_WIDTH:
            left = 0
        right = min(420, width // 3, width - left - GRID_MIN_WIDTH)
        if right < VIEWER_MIN_WIDTH:
            right = 0
        return [left, width - left - right, right]

    def _on_divider_moved(self, _pos: int, _index: int) -> None:
        self._auto_split = False

    def refresh(self) -> None:
        """Re-read everything: facets, collections, orders and the grid (keeping filters)."""
        self._reload_side_panels()
        self._apply_query()

    def attach_executor(self, executor: Any) -> None:
        """Show products as a running order makes them, and keep orders and counts current."""
        executor.signals.product_created.connect(lambda *_: self._live.start())
        executor.signals.order_finished.connect(lambda *_: (self._live.start(), self._facets.start()))
        executor.signals.order_created.connect(lambda *_: self._facets.start())

    def attach_live(self, live: Any) -> None:
        """Show what other apps and CLI runs change in a shared library (controllers.live_controller.LiveChanges)."""
        live.products_changed.connect(self._on_live_products)
        live.orders_changed.connect(lambda _orders: self._facets.start())
        live.resync.connect(self.refresh)

    def _on_live_products(self, inserted: list[str], updated: list[str], deleted: list[str]) -> None:
        if deleted:
            self._on_deleted(deleted)
        if updated:
            if len(updated) > LIVE_UPDATES_MAX:  # a bulk change: one query, not one per row
                self._requery.start()
            else:
                self.model.update_products(updated)
        if inserted:
            self._live.start()
        self._facets.start()

    def show_order(self, order_id: str) -> None:
        """Filter the grid to one order's products and select it in the order history."""
        self.orders.refresh(self.sidebar.current_project())
        self.orders.select_order(order_id, emit=False)
        self.sidebar.set_order(order_id, order_id[-8:])

    def query(self) -> GalleryQuery:
        key, descending = self.sort.currentData()
        return self.sidebar.apply(GalleryQuery(sort=key, descending=descending))

    def selected_ids(self) -> list[str]:
        rows = sorted(index.row() for index in self.view.selectedIndexes())
        return [self.model.row_at(r).id for r in rows]

    def select_products(self, product_ids: Sequence[str]) -> None:
        selection = self.view.selectionModel()
        assert selection is not None
        selection.clearSelection()
        flag = selection.SelectionFlag
        for product_id in product_ids:
            row = self.model.row_of(product_id)
            if row is not None:
                selection.select(self.model.index(row), flag.Select)
                selection.setCurrentIndex(self.model.index(row), flag.Select)

    def reveal(self, product_id: str, max_pages: int = 20) -> bool:
        """Select a product in the grid and show it in the viewer.

        Pages are fetched up to it; a product deeper than `max_pages` pages is found by narrowing the
        grid to its order. False when the grid cannot show it (the viewer still does)."""
        if self._requery.isActive():
            self._apply_query()
        row = self._fetch_until(product_id, max_pages)
        if row is None:
            self.viewer.show_product(product_id)
            order_id = self.viewer.detail.order_id if self.viewer.detail else None
            if order_id:
                self.show_order(order_id)
                self._apply_query()
                row = self._fetch_until(product_id, max_pages)
        if row is None:
            self.view.clearSelection()
            self.viewer.show_product(product_id)
            return False
        self.select_products([product_id])
        self.view.scrollTo(self.model.index(row))
        return True

    def _fetch_until(self, product_id: str, max_pages: int) -> int | None:
        pages = 0
        while self.model.row_of(product_id) is None and self.model.canFetchMore() and pages < max_pages:
            self.model.fetchMore()
            pages += 1
        return self.model.row_of(product_id)

    def set_thumbnail_size(self, edge: int) -> None:
        self.view.set_edge(edge)
        self.loader.set_edge(edge, self.devicePixelRatioF() or 1.0)
        self.view.viewport().update()  # type: ignore[union-attr]

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self._place_message()
        self._message_timer.start()

    def _hide_message(self) -> None:
        self.message_label.clear()
        self.message_label.hide()

    def _place_message(self) -> None:
        viewport = self.view.viewport()
        if viewport is None or not self.message_label.isVisible():
            return
        area = viewport.geometry().adjusted(theme.SPACING, 0, -theme.SPACING, -theme.SPACING)
        hint = self.message_label.sizeHint()
        width = min(hint.width(), area.width())
        self.message_label.setGeometry(area.x(), area.bottom() - hint.height(), width, hint.height())
        self.message_label.raise_()

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if watched is self.view and event is not None and event.type() == QEvent.Type.Resize:
            self._place_message()
        return super().eventFilter(watched, event)

    # -- actions on the selection ------------------------------------------------------------------
    def rate_selected(self, rating: int) -> None:
        ids = self.selected_ids()
        if ids:
            self.gallery.rate(ids, rating)
            self._on_products_changed(ids)

    def toggle_favourite(self) -> None:
        ids = self.selected_ids()
        if ids:
            current = self.model.row_at(self.model.row_of(ids[0]) or 0).favourite
            self.gallery.set_favourite(ids, not current)
            self._on_products_changed(ids)

    def delete_selected(self, ask: bool = True) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        what = "this product" if len(ids) == 1 else f"these {len(ids)} products"
        if ask and not confirm(self, "Delete products", f"Delete {what}? Files and thumbnails are removed "
                                                        "too. This cannot be undone."):
            return 0
        if self.viewer.product_id in ids:
            self.viewer.show_product(None)
        deleted = self.gallery.delete_products(ids)
        self._on_deleted(ids)
        self.show_message(f"Deleted {deleted} product{'s' if deleted != 1 else ''}")
        return deleted

    def add_selected_to(self, collection_id: int) -> int:
        return self.sidebar.add_products(collection_id, self.selected_ids())

    def remove_selected_from_collection(self) -> None:
        collection_id = self.sidebar.current_collection()
        ids = self.selected_ids()
        if collection_id is not None and ids:
            self.gallery.remove_from_collection(collection_id, ids)
            self.model.remove_products(ids)
            self.sidebar.reload_collections()

    def compare_selected(self) -> CompareDialog | None:
        ids = self.selected_ids()
        if len(ids) != 2:
            self.show_message("Select exactly two products to compare")
            return None
        # Older first, so the table reads as "what changed from A to B".
        ids.sort(key=lambda pid: (self.model.row_at(self.model.row_of(pid) or 0).created_at, pid))
        try:
            dialog = CompareDialog(self.library, ids[0], ids[1], self)
        except GalleryError as exc:
            self.show_message(str(exc))
            return None
        self._keep(dialog)
        dialog.show()
        return dialog

    def paint_mask(self, product_id: str | None = None) -> QWidget | None:
        """The mask painter over a product (else the first selected), opened by the viewer that shows it."""
        ids = [product_id] if product_id else self.selected_ids()
        if not ids:
            return None
        if self.viewer.product_id != ids[0]:
            self.viewer.show_product(ids[0])
        return self.viewer.paint_mask()

    def show_saved_mask(self, product_id: str) -> None:
        """A mask just saved (from this viewer or the product window): into the grid, and say so."""
        self._show_new_products()
        self.show_message("Mask saved as a product made from this image")

    def export_selected(self, folder: Path | None = None) -> list[Path]:
        ids = self.selected_ids()
        if not ids:
            return []
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self, "Export to folder", str(self.library.storage.exports_dir))
            if not chosen:
                return []
            folder = Path(chosen)
        try:
            files = export_products(self.library, ids, folder)
        except ExportError as exc:
            self.show_message(str(exc))
            return []
        self.show_message(f"Exported {len(ids)} product{'s' if len(ids) != 1 else ''} with lineage to {folder}")
        return files

    # -- import ------------------------------------------------------------------------------------
    def import_dialog(self, folder: bool = False) -> None:
        if folder:
            chosen = QFileDialog.getExistingDirectory(self, "Import a folder")
            paths = [Path(chosen)] if chosen else []
        else:
            files, _ = QFileDialog.getOpenFileNames(self, "Import files", "",
                                                    "Images and videos (*.png *.jpg *.jpeg *.webp *.gif *.tif "
                                                    "*.tiff *.mp4 *.mov *.webm);;All files (*)")
            paths = [Path(f) for f in files]
        if paths:
            self.import_files(paths)

    def import_files(self, paths: Sequence[Path]) -> ImportDialog:
        """Import in the background; the dialog shows progress, then what was refused and why."""
        project_id = self.sidebar.current_project() or self.library.project_id()
        collection_id = self.sidebar.current_collection()
        collection = None
        if collection_id is not None:  # importing while a collection is shown puts the files in it
            collection = next((c.name for c in self.gallery.collections() if c.id == collection_id), None)
        dialog = ImportDialog(self.library, list(paths), project_id, collection, self)
        dialog.imported.connect(lambda _ids: self.refresh())
        self._keep(dialog)
        dialog.show()
        dialog.start()
        return dialog

    def _keep(self, dialog: QWidget) -> None:
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]

    # -- reactions ---------------------------------------------------------------------------------
    def _apply_query(self) -> None:
        self._requery.stop()
        self.loader.keep_only(())  # what the old grid asked for is no longer on screen
        self.model.set_query(self.query())
        self._on_selection()

    def _reload_side_panels(self) -> None:
        self.sidebar.reload()
        self.orders.refresh(self.sidebar.current_project())

    def _show_new_products(self) -> None:
        self.model.insert_new()
        self._facets.start()

    def _prune_thumbnail_requests(self) -> None:
        """Cells scrolled past no longer need their thumbnails: the workers decode what is on screen."""
        first, last = self.view.visible_rows()
        if first >= 0:
            self.loader.keep_only(self.model.ids_between(first, last))

    def _on_total(self, total: int) -> None:
        self.count_label.setText(f"{total:,} product{'s' if total != 1 else ''}")
        if total == 0:  # an empty library and an over-narrow filter need different advice
            empty = self.gallery.count(GalleryQuery()) == 0
            self.view.empty_text = self.view.EMPTY_LIBRARY if empty else self.view.EMPTY_FILTER
            self.view.viewport().update()  # type: ignore[union-attr]

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.viewer.show_product(current.data(Role.PRODUCT_ID) if current.isValid() else None)

    def _on_selection(self) -> None:
        self.compare_button.setEnabled(len(self.view.selectedIndexes()) == 2)

    def _on_activated(self, index: QModelIndex) -> None:
        product_id = index.data(Role.PRODUCT_ID)
        if product_id:
            self.product_activated.emit(product_id)

    def _on_products_changed(self, ids: Sequence[str]) -> None:
        self.model.update_products(ids)
        if self.viewer.product_id in ids:
            self.viewer.show_product(self.viewer.product_id)
        query = self.model.query
        if query.min_rating or query.favourites_only:
            self._requery.start()  # a changed rating may take products out of (or into) the filter

    def _on_product_changed(self, product_id: str) -> None:
        self.loader.forget(product_id)  # a video may just have got its poster frame
        self.model.update_products([product_id])
        self.sidebar.reload_collections()

    def _on_deleted(self, ids: Sequence[str]) -> None:
        for product_id in ids:
            self.loader.forget(product_id)
        self.model.remove_products(ids)
        self.sidebar.reload_collections()

    def _on_collections_changed(self) -> None:
        if self.model.query.collection_id is not None:
            self._requery.start()

    # -- context menu ------------------------------------------------------------------------------
    def _context_menu(self, pos: QPoint) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        first = ids[0]
        order_id, node_id = self.gallery.origin(first)
        menu.addAction(icons.icon("product"), "Open", lambda: self.product_activated.emit(first))
        graph = menu.addAction(icons.icon("canvas"), "Open graph",
                               lambda: self.open_graph_requested.emit(order_id or "", node_id or ""))
        rerun = menu.addAction(icons.icon("run-branch"), "Re-run with tweaks",
                               lambda: self.rerun_requested.emit(order_id or ""))
        for action in (graph, rerun):
            if action is not None:
                action.setEnabled(order_id is not None)
        compare = menu.addAction("Compare", self.compare_selected)
        paint = menu.addAction(icons.icon("mask"), "Paint Mask…", lambda: self.paint_mask(first))
        if paint is not None:
            row = self.model.row_of(first)
            paint.setEnabled(row is not None and self.model.row_at(row).media_type == "image")
        if compare is not None:
            compare.setEnabled(len(ids) == 2)
        menu.addSeparator()
        collections = menu.addMenu(icons.icon("collection"), "Add to collection")
        assert collections is not None
        for info in self.gallery.collections(self.gallery.project_of(first)):
            collections.addAction(info.name, lambda _checked=False, cid=info.id: self.add_selected_to(cid))
        collections.addSeparator()
        collections.addAction(icons.icon("new"), "New collection…", self._new_collection_from_selection)
        if self.sidebar.current_collection() is not None:
            menu.addAction("Remove from this collection", self.remove_selected_from_collection)
        rating = menu.addMenu("Rating")
        assert rating is not None
        for stars in range(6):
            rating.addAction("★" * stars if stars else "No rating",
                             lambda _checked=False, n=stars: self.rate_selected(n))
        menu.addAction("Favourite / unfavourite", self.toggle_favourite)
        menu.addSeparator()
        menu.addAction(icons.icon("folder-reveal"), "Reveal file", self.viewer.reveal)
        menu.addAction(icons.icon("save-as"), "Export…", self.export_selected)
        menu.addSeparator()
        menu.addAction(icons.icon("delete"), "Delete…", self.delete_selected)
        menu.exec(self.view.viewport().mapToGlobal(pos))  # type: ignore[union-attr]

    def _new_collection_from_selection(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name:")
        if ok and name.strip():
            try:
                collection_id = self.gallery.create_collection(self.gallery.project_of(self.selected_ids()[0])
                                                               or self.library.project_id(), name)
            except GalleryError as exc:
                self.show_message(str(exc))
                return
            self.add_selected_to(collection_id)
