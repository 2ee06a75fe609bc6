"""The product viewer: image zoom and pan, video playback, the lineage panel, and the product's actions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QPointF, QSize, Qt, QUrl, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QDesktopServices, QIcon, QKeySequence, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.services import lineage
from artfactory.services.gallery import Gallery, GalleryError
from artfactory.services.library import Library
from artfactory.services.product_records import ProductLineage
from artfactory.services.thumbnails import thumbnail_path
from artfactory.services.transfer import ExportError, export_products
from artfactory.views import icons, theme
from artfactory.views.gallery.thumbs import save_frame_thumbnails
from artfactory.views.gallery.view import STAR, star_path
from artfactory.views.viewer.media import ImageView, LineagePanel, VideoView


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask before something that cannot be undone (tests replace this)."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class RatingWidget(QWidget):
    """Five clickable stars; clicking the current rating again clears it."""

    rating_changed = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rating = 0
        self.setFixedSize(QSize(5 * 18 + 4, 22))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Rating")

    @property
    def rating(self) -> int:
        return self._rating

    def set_rating(self, rating: int) -> None:
        self._rating = rating
        self.update()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        stars = min(5, max(1, int(event.position().x() // 18) + 1))
        self._rating = 0 if stars == self._rating else stars
        self.update()
        self.rating_changed.emit(self._rating)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i in range(5):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(STAR if i < self._rating else theme.colors().border))
            painter.drawPath(star_path(QPointF(11 + i * 18, 11), 7.5))
        painter.end()


class ProductViewer(QWidget):
    """One product: its media, where it came from, and what can be done with it. Usable in a tab or dialog."""

    open_graph_requested = pyqtSignal(str, str)  # order_id, node_id
    rerun_requested = pyqtSignal(str)  # order_id
    product_changed = pyqtSignal(str)  # rating, favourite, collections or thumbnail changed
    product_deleted = pyqtSignal(str)
    order_requested = pyqtSignal(str)  # show this order's products
    message = pyqtSignal(str)
    mask_saved = pyqtSignal(str)  # a mask painted over the shown product was stored: its product id

    def __init__(self, library: Library, parent: QWidget | None = None,
                 orientation: Qt.Orientation = Qt.Orientation.Horizontal) -> None:
        super().__init__(parent)
        self.library = library
        self.gallery = Gallery(library)
        self.detail: ProductLineage | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.splitter = QSplitter(orientation)
        self.stack = QStackedWidget()
        self.empty = QLabel("Select a product to see it here with its lineage")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "dim")
        self.empty.setWordWrap(True)
        self.image = ImageView()
        self.video = VideoView()
        self.video.first_frame.connect(self._on_first_frame)
        for page in (self.empty, self.image, self.video):
            self.stack.addWidget(page)
        media = QWidget()
        media_column = QVBoxLayout(media)
        media_column.setContentsMargins(0, 0, 0, 0)
        media_column.setSpacing(0)
        self.media_bar = QToolBar()
        self.media_bar.setIconSize(QSize(16, 16))
        media_column.addWidget(self.media_bar)
        media_column.addWidget(self.stack, 1)
        side = self.side = QWidget()
        side_column = QVBoxLayout(side)
        s = theme.SPACING
        side_column.setContentsMargins(s, s, s, 0)
        side_column.setSpacing(s // 2)
        self.lineage = LineagePanel()
        self.lineage.link_activated.connect(self.order_requested)
        self.lineage.product_activated.connect(self.show_product)  # "Made from" / "Used in" walk the lineage
        self.lineage.ancestry_requested.connect(self.show_ancestry)
        self._build_actions(side_column)
        side_column.addWidget(self.lineage, 1)
        self.splitter.addWidget(media)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([560, 440] if orientation == Qt.Orientation.Vertical else [700, 380])
        layout.addWidget(self.splitter, 1)
        self.show_product(None)

    # -- building --------------------------------------------------------------------------------
    def _action(self, icon: str, text: str, slot: Any, shortcut: str | None = None) -> QAction:
        action = QAction(icons.icon(icon) if icon else QIcon(), text, self)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{text} ({shortcut})")
        self.addAction(action)
        return action

    @staticmethod
    def _button(action: QAction, text_beside: bool = False) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        if text_beside:
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return button

    def _build_actions(self, column: QVBoxLayout) -> None:
        bar = self.media_bar
        self.fit_action = self._action("fit", "Fit", self.image.fit, "0")
        self.actual_action = self._action("", "1:1", self.image.actual_size, "1")
        self.zoom_out_action = self._action("", "−", self.image.zoom_out, "-")
        self.zoom_in_action = self._action("", "+", self.image.zoom_in, "+")
        self.zoom_label = QLabel()
        self.zoom_label.setProperty("role", "dim")
        self.zoom_label.setMinimumWidth(44)
        self.image.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        for action in (self.fit_action, self.actual_action, self.zoom_out_action, self.zoom_in_action):
            bar.addAction(action)
        bar.addWidget(self.zoom_label)
        bar.addSeparator()
        self.paint_mask_action = self._action("mask", "Paint Mask…", self.paint_mask, "M")
        self.paint_mask_action.setToolTip("Paint a mask over this image for inpainting; it is saved as a product "
                                          "made from it (M)")
        bar.addAction(self.paint_mask_action)

        self.open_graph_action = self._action("canvas", "Open graph", self.open_graph)
        self.open_graph_action.setToolTip("Open the graph that made this product, with its node selected")
        self.rerun_action = self._action("run-branch", "Re-run with tweaks", self.rerun)
        self.rerun_action.setToolTip("Open this order's graph as a new graph linked to it; unchanged nodes come "
                                     "from the cache")
        primary = QHBoxLayout()
        primary.setSpacing(2)
        primary.addWidget(self._button(self.open_graph_action, True))
        primary.addWidget(self._button(self.rerun_action, True))
        primary.addStretch(1)
        column.addLayout(primary)

        row = QHBoxLayout()
        row.setSpacing(2)
        self.rating = RatingWidget()
        self.rating.rating_changed.connect(self.set_rating)
        row.addWidget(self.rating)
        self.favourite_action = self._action("", "♥", lambda checked: self.set_favourite(bool(checked)), "L")
        self.favourite_action.setCheckable(True)
        self.favourite_action.setToolTip("Favourite (L)")
        row.addWidget(self._button(self.favourite_action))
        self.collection_button = QToolButton()
        self.collection_button.setAutoRaise(True)
        self.collection_button.setIcon(icons.icon("collection"))
        self.collection_button.setToolTip("Add to collection")
        self.collection_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.collection_menu = QMenu(self.collection_button)
        self.collection_menu.aboutToShow.connect(self._fill_collection_menu)
        self.collection_button.setMenu(self.collection_menu)
        row.addWidget(self.collection_button)
        row.addStretch(1)
        self.reveal_action = self._action("folder-reveal", "Reveal file", self.reveal)
        self.export_action = self._action("save-as", "Export…", self.export_dialog)
        self.delete_action = self._action("delete", "Delete…", lambda: self.delete(ask=True), "Del")
        for action in (self.reveal_action, self.export_action, self.delete_action):
            row.addWidget(self._button(action))
        column.addLayout(row)

    # -- showing ---------------------------------------------------------------------------------
    @property
    def product_id(self) -> str | None:
        return self.detail.id if self.detail else None

    def show_product(self, product_id: str | None) -> None:
        self.video.unload()
        self.detail = None
        if product_id:
            with self.library.db.session() as session:
                try:
                    self.detail = lineage.product_lineage(self.library, session, product_id)
                except lineage.NotFound:
                    self.detail = None
        detail = self.detail
        self.lineage.show_detail(detail)
        has = detail is not None
        for action in (self.reveal_action, self.export_action, self.delete_action, self.favourite_action):
            action.setEnabled(has)
        self.collection_button.setEnabled(has)
        self.rating.setEnabled(has)
        self.open_graph_action.setEnabled(bool(detail and detail.order_id))
        self.rerun_action.setEnabled(bool(detail and detail.order_id))
        self.media_bar.setVisible(bool(detail and detail.media_type == "image"))
        self.side.setVisible(has)  # no empty lineage form under "Select a product"
        if detail is None:
            self.stack.setCurrentWidget(self.empty)
            self.rating.set_rating(0)
            self.favourite_action.setChecked(False)
            return
        self.rating.set_rating(detail.rating)
        self.favourite_action.setChecked(detail.favourite)
        path = Path(detail.path)
        if detail.media_type == "video":
            self.stack.setCurrentWidget(self.video)
            self.video.load(path)
        else:
            self.stack.setCurrentWidget(self.image)
            if not self.image.load(path):
                self.message.emit(f"{path.name} cannot be shown (missing or unreadable)")

    def _on_first_frame(self, image: Any) -> None:
        """A video's first decoded frame becomes its thumbnail when it has none yet."""
        if self.detail is None or self.detail.media_type != "video":
            return
        if thumbnail_path(self.library.home, "medium", self.detail.id).is_file():
            return
        try:
            save_frame_thumbnails(self.library.home, self.detail.id, image)
        except OSError as exc:
            self.message.emit(str(exc))
            return
        self.product_changed.emit(self.detail.id)

    # -- actions ---------------------------------------------------------------------------------
    def open_graph(self) -> None:
        if self.detail and self.detail.order_id:
            self.open_graph_requested.emit(self.detail.order_id, self.detail.node_id or "")

    def rerun(self) -> None:
        if self.detail and self.detail.order_id:
            self.rerun_requested.emit(self.detail.order_id)

    def paint_mask(self) -> QWidget | None:
        """Open the mask painter over the shown image; a saved mask is announced by `mask_saved`."""
        if self.detail is None or self.detail.media_type != "image":
            return None
        from artfactory.services.masks import MaskError
        from artfactory.views.dialogs.mask_painter import MaskPainterDialog

        try:
            dialog = MaskPainterDialog(self.library, self.detail.id, self)
        except MaskError as exc:
            self.message.emit(str(exc))
            return None
        dialog.saved.connect(self.mask_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.mask_painter = dialog  # kept alive while open (and reachable from tests)
        dialog.show()
        return dialog

    def show_ancestry(self, product_id: str | None = None) -> QWidget | None:
        """Open the ancestry view of a product (default: the shown one): its family tree back to the first prompt."""
        from artfactory.views.viewer.ancestry import AncestryDialog

        product_id = product_id or self.product_id
        if not product_id:
            return None
        with self.library.db.session() as session:
            try:
                ancestry = lineage.product_ancestry(session, product_id)
            except lineage.NotFound as exc:
                self.message.emit(str(exc))
                return None
        dialog = AncestryDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show_ancestry(ancestry)
        dialog.product_activated.connect(self.show_product)
        dialog.order_activated.connect(self.order_requested)
        self.ancestry_dialog = dialog  # kept alive while open (and reachable from tests)
        dialog.show()
        return dialog

    def reveal(self) -> None:
        if self.detail:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.detail.path).parent)))

    def export_dialog(self) -> None:
        if not self.detail:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", str(self.library.storage.exports_dir))
        if folder:
            self.export_to(Path(folder))

    def export_to(self, folder: Path) -> list[Path]:
        if not self.detail:
            return []
        try:
            files = export_products(self.library, [self.detail.id], folder)
        except ExportError as exc:
            self.message.emit(str(exc))
            return []
        self.message.emit(f"Exported {files[0].name} with its lineage to {folder}")
        return files

    def set_rating(self, rating: int) -> None:
        if self.detail:
            self.gallery.rate([self.detail.id], rating)
            self.detail = replace(self.detail, rating=rating)
            self.rating.set_rating(rating)
            self.product_changed.emit(self.detail.id)

    def set_favourite(self, favourite: bool) -> None:
        if self.detail:
            self.gallery.set_favourite([self.detail.id], favourite)
            self.detail = replace(self.detail, favourite=favourite)
            self.favourite_action.setChecked(favourite)
            self.product_changed.emit(self.detail.id)

    def add_to_collection(self, collection_id: int) -> None:
        if not self.detail:
            return
        try:
            added = self.gallery.add_to_collection(collection_id, [self.detail.id])
        except GalleryError as exc:
            self.message.emit(str(exc))
            return
        if added:
            self.product_changed.emit(self.detail.id)
        self.show_product(self.detail.id)

    def _fill_collection_menu(self) -> None:
        menu = self.collection_menu
        menu.clear()
        if not self.detail:
            return
        project_id = self.gallery.project_of(self.detail.id)
        member = set(self.detail.collections)
        for info in self.gallery.collections(project_id):
            action = menu.addAction(icons.icon("collection"), f"{info.name}  ({info.total:,})")
            assert action is not None
            action.setEnabled(info.name not in member)
            action.triggered.connect(lambda _=False, cid=info.id: self.add_to_collection(cid))
        if not menu.isEmpty():
            menu.addSeparator()
        new = menu.addAction(icons.icon("new"), "New collection…")
        assert new is not None
        new.triggered.connect(lambda: self._new_collection(project_id))

    def _new_collection(self, project_id: int | None) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name:")
        if not ok or not name.strip():
            return
        try:
            collection_id = self.gallery.create_collection(project_id or self.library.project_id(), name)
        except GalleryError as exc:
            self.message.emit(str(exc))
            return
        self.add_to_collection(collection_id)

    def delete(self, ask: bool = True) -> bool:
        if not self.detail:
            return False
        product_id = self.detail.id
        if ask and not confirm(self, "Delete product", f"Delete “{self.detail.name or product_id}”? Its file "
                                                       "and thumbnails are removed too. This cannot be undone."):
            return False
        self.video.unload()
        self.gallery.delete_products([product_id])
        self.show_product(None)
        self.product_deleted.emit(product_id)
        return True


__all__ = ["ImageView", "LineagePanel", "ProductViewer", "RatingWidget", "VideoView", "confirm"]
