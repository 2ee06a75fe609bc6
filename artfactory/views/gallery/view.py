"""The thumbnail grid: a QListView icon grid with a painted cell per product, drag out and drop-to-import."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from PyQt6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
)
from PyQt6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from artfactory.services.gallery import GalleryRow
from artfactory.views import icons, theme
from artfactory.views.gallery.model import PRODUCT_MIME, Role

DEFAULT_EDGE = 176
TEXT_HEIGHT = 38
PADDING = 6
FAVOURITE = "#e5534b"
STAR = "#f2c94c"


def star_path(center: QPointF, outer: float) -> QPainterPath:
    """A five-pointed star, for ratings here and in the viewer."""
    return _star(round(outer * 4) / 4).translated(center)


@lru_cache(maxsize=16)
def _star(outer: float) -> QPainterPath:
    center = QPointF(0, 0)
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else outer * 0.45
        angle = -math.pi / 2 + i * math.pi / 5
        points.append(QPointF(center.x() + radius * math.cos(angle), center.y() + radius * math.sin(angle)))
    path = QPainterPath()
    path.addPolygon(QPolygonF(points))
    path.closeSubpath()
    return path


def heart_path(rect: QRectF) -> QPainterPath:
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    path = QPainterPath(QPointF(x + w / 2, y + h))
    path.cubicTo(x - w * 0.1, y + h * 0.55, x + w * 0.05, y - h * 0.05, x + w / 2, y + h * 0.28)
    path.cubicTo(x + w * 0.95, y - h * 0.05, x + w * 1.1, y + h * 0.55, x + w / 2, y + h)
    return path


class ProductDelegate(QStyledItemDelegate):
    """Paints a card: the thumbnail letterboxed in a square, a video badge, the favourite heart, the
    rating, and the name under it. Every cell has the same size, which keeps the view's layout cheap."""

    def __init__(self, parent: QWidget | None = None, edge: int = DEFAULT_EDGE) -> None:
        super().__init__(parent)
        self.edge = edge
        self.slot_width = 0  # the grid's column width, which the card is centred in
        self._placeholders: dict[tuple[str, bool], QPixmap] = {}

    def cell_size(self) -> QSize:
        return QSize(self.edge + 2 * PADDING, self.edge + TEXT_HEIGHT + PADDING)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        # As wide as the grid's column: a left-to-right list view places an item at the column's left edge
        # and ignores the item alignment, so the card is centred in paint().
        cell = self.cell_size()
        return QSize(max(cell.width(), self.slot_width), cell.height())

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        if painter is None:
            return
        row: GalleryRow | None = index.data(Role.ROW)
        if row is None:
            return
        c = theme.colors()
        rect = QRect(option.rect)
        width = min(rect.width(), self.cell_size().width())
        rect = QRect(rect.x() + (rect.width() - width) // 2, rect.y(), width, rect.height()).adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QColor(c.accent if selected else (c.raised if hovered else c.alt_base))
        if selected:
            card.setAlpha(70)
        painter.setPen(QPen(QColor(c.accent if selected else c.border), 2 if selected else 1))
        painter.setBrush(card)
        painter.drawRoundedRect(QRectF(rect), 7, 7)

        edge = min(self.edge, rect.width() - 2 * (PADDING - 3))
        image_box = QRect(rect.x() + (rect.width() - edge) // 2, rect.y() + PADDING - 3, edge, edge)
        pixmap: QPixmap | None = index.data(Role.THUMBNAIL)
        if pixmap is not None and not pixmap.isNull():
            # The loader decodes at the cell size (corners already rounded): usually a plain blit.
            ratio = pixmap.devicePixelRatio()
            size = (pixmap.size() / ratio).scaled(image_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(image_box.center())
            if size * ratio != pixmap.size():
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:
            failed = bool(index.data(Role.THUMBNAIL_FAILED))
            painter.drawPixmap(image_box, self._placeholder(row.media_type, failed, image_box.size()))
        if row.media_type == "video":
            self._video_badge(painter, image_box)
        if row.favourite:
            painter.setPen(QPen(QColor(0, 0, 0, 140), 1.2))
            painter.setBrush(QColor(FAVOURITE))
            painter.drawPath(heart_path(QRectF(image_box.right() - 22, image_box.top() + 7, 16, 14)))

        text_rect = QRect(rect.x() + PADDING, image_box.bottom() + 4, rect.width() - 2 * PADDING, TEXT_HEIGHT - 6)
        font = QFont(option.font)
        painter.setFont(font)
        painter.setPen(QColor(c.text))
        metrics = painter.fontMetrics()
        name = metrics.elidedText(row.name or row.id, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(QRect(text_rect.x(), text_rect.y(), text_rect.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        painter.setFont(small)
        painter.setPen(QColor(c.dim))
        second = QRect(text_rect.x(), text_rect.y() + metrics.height(), text_rect.width(), metrics.height())
        detail = f"{row.width}×{row.height}" if row.width and row.height else row.media_type
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, detail)
        if row.rating:
            self._stars(painter, second, row.rating)
        painter.restore()

    def _stars(self, painter: QPainter, rect: QRect, rating: int) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STAR))
        size = 5.0
        x = rect.right() - size
        for _ in range(rating):
            painter.drawPath(star_path(QPointF(x, rect.center().y() + 1), size))
            x -= size * 2 + 1

    @staticmethod
    def _video_badge(painter: QPainter, box: QRect) -> None:
        badge = QRectF(box.left() + 6, box.bottom() - 26, 28, 20)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setBrush(QColor("#ffffff"))
        cx, cy = badge.center().x() + 1, badge.center().y()
        painter.drawPolygon(QPolygonF([QPointF(cx - 4, cy - 6), QPointF(cx - 4, cy + 6), QPointF(cx + 6, cy)]))

    def forget_placeholders(self) -> None:
        self._placeholders.clear()

    def _placeholder(self, media_type: str, failed: bool, size: QSize) -> QPixmap:
        """A quiet tile while the thumbnail loads (or a warning sign when the file cannot be read)."""
        key = (media_type, failed)
        cached = self._placeholders.get(key)
        if cached is not None and cached.size() == size:
            return cached
        if size.isEmpty():
            return QPixmap()
        c = theme.colors()
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(c.base))
        painter.drawRoundedRect(QRectF(0, 0, size.width(), size.height()), 4, 4)
        glyph = icons.pixmap("warning" if failed else "product", 28, c.border if not failed else c.dim)
        painter.drawPixmap((size.width() - 28) // 2, (size.height() - 28) // 2, 28, 28, glyph)
        painter.end()
        self._placeholders[key] = pixmap
        return pixmap


class GalleryView(QListView):
    """Products as an icon grid. Drags carry product ids (and the files); dropped files mean import."""

    files_dropped = pyqtSignal(list)  # list[Path]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.delegate = ProductDelegate(self)
        self.setItemDelegate(self.delegate)
        # An icon grid, laid out by list mode flowing left to right with wrapping. IconMode proper uses
        # Qt's free-placement engine, which re-places every item each time a page is appended: a full
        # scroll of 100,000 products then costs O(n²) (54 s against 7 s in bench/gallery.py's set-up).
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setMovement(QListView.Movement.Static)  # also turns dragging off, so it is turned on again below
        self.setResizeMode(QListView.ResizeMode.Adjust)
        # Every cell has the same size; the whole layout is redone in one pass whenever a page arrives,
        # which the model's C++ row count keeps to a few ms even at 100,000 rows. (Batched layout would
        # restart from row 0 for each page and hold the scroll bar's range back until it got to the end.)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Always on, so the width the cells are spread over never depends on whether the scroll bar is
        # shown. With "as needed", QListView lays a left-to-right flow out as if the bar were there, the
        # grid was sized without it, and every query could tip the layout into one column fewer with the
        # bar hidden over rows that overflow (and so out of reach).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)  # type: ignore[union-attr]
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.set_edge(DEFAULT_EDGE)
        theme.signals().changed.connect(self._on_theme_changed)

    def _on_theme_changed(self, _name: str) -> None:
        self.delegate.forget_placeholders()  # drawn in the old theme's colours
        viewport = self.viewport()
        if viewport is not None:
            viewport.update()

    def set_edge(self, edge: int) -> None:
        """Thumbnail size in logical pixels (the zoom slider)."""
        self.delegate.edge = edge
        self.verticalScrollBar().setSingleStep(max(16, edge // 4))  # type: ignore[union-attr]
        self._fit_grid()

    def _fit_grid(self) -> None:
        """Spread the cells over the whole width: the columns that fit share the leftover pixels."""
        cell = self.delegate.cell_size()
        # The width QListView wraps at: the viewport's, the scroll bar being always on (see __init__).
        width = self.layout_width()
        columns = max(1, width // cell.width())
        grid = QSize(max(cell.width(), width // columns), cell.height())
        if grid != self.gridSize():
            self.delegate.slot_width = grid.width()
            self.setGridSize(grid)

    def layout_width(self) -> int:
        """The width a line of cells may fill: QListView wraps a cell that would reach the viewport's edge
        (its right edge must stay left of it), hence the one pixel less."""
        return self.maximumViewportSize().width() - 1

    def columns(self) -> int:
        """How many cells a line of the grid holds."""
        return max(1, self.layout_width() // max(1, self.gridSize().width()))

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._fit_grid()

    # Shown over an empty grid: what to do next, rather than a blank pane.
    EMPTY_LIBRARY = ("No products yet.\n\nRun a graph (Ctrl+Enter on a canvas), or import images and videos:\n"
                     "File → Import (Ctrl+I), or drop files and folders here.")
    EMPTY_FILTER = "Nothing matches these filters.\n\nClear filters to see every product."
    empty_text = EMPTY_LIBRARY

    def paintEvent(self, event: QPaintEvent | None) -> None:
        super().paintEvent(event)
        model, viewport = self.model(), self.viewport()
        if model is None or viewport is None or model.rowCount() > 0 or not self.empty_text:
            return
        painter = QPainter(viewport)
        painter.setPen(QColor(theme.colors().dim))
        area = viewport.rect().adjusted(24, 24, -24, -24)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.empty_text)
        painter.end()

    def visible_rows(self, margin_lines: int = 1) -> tuple[int, int]:
        """First and last row on screen, widened by `margin_lines` lines of cells; (-1, -1) when empty."""
        model, viewport = self.model(), self.viewport()
        count = model.rowCount() if model is not None else 0
        if not count or viewport is None:
            return -1, -1
        columns = max(1, viewport.width() // max(1, self.gridSize().width()))
        top = self.indexAt(QPoint(2, 2))
        bottom = self.indexAt(QPoint(2, viewport.height() - 2))
        first = top.row() if top.isValid() else 0
        last = bottom.row() + columns - 1 if bottom.isValid() else count - 1
        return max(0, first - margin_lines * columns), min(count - 1, last + margin_lines * columns)

    # -- dragging products out -------------------------------------------------------------------
    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        indexes = self.selectedIndexes()
        model = self.model()
        if not indexes or model is None:
            return
        drag = QDrag(self)
        drag.setMimeData(model.mimeData(indexes))
        drag.setPixmap(self._drag_pixmap(indexes))
        drag.exec(supportedActions, Qt.DropAction.CopyAction)

    def _drag_pixmap(self, indexes: list[QModelIndex]) -> QPixmap:
        """The first thumbnail with a count badge: rendering every selected cell would be slow and huge."""
        c = theme.colors()
        pixmap = QPixmap(72, 72)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        thumb = indexes[0].data(Role.THUMBNAIL)
        painter.setBrush(QColor(c.raised))
        painter.setPen(QPen(QColor(c.accent), 2))
        painter.drawRoundedRect(QRectF(2, 2, 64, 64), 6, 6)
        if isinstance(thumb, QPixmap) and not thumb.isNull():
            painter.drawPixmap(QRect(5, 5, 58, 58), thumb.scaled(58, 58, Qt.AspectRatioMode.KeepAspectRatio,
                                                                Qt.TransformationMode.SmoothTransformation))
        if len(indexes) > 1:
            painter.setBrush(QColor(c.accent))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(44, 44, 26, 26))
            painter.setPen(QColor(c.accent_text))
            painter.drawText(QRect(44, 44, 26, 26), Qt.AlignmentFlag.AlignCenter, str(len(indexes)))
        painter.end()
        return pixmap

    # -- dropping files in (import) --------------------------------------------------------------
    @staticmethod
    def _local_files(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
        mime = event.mimeData()
        if mime is None or mime.hasFormat(PRODUCT_MIME) or not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        if event is not None and self._local_files(event):
            event.acceptProposedAction()
        elif event is not None:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent | None) -> None:
        if event is not None and self._local_files(event):
            event.acceptProposedAction()
        elif event is not None:
            event.ignore()

    def dropEvent(self, event: QDropEvent | None) -> None:
        if event is None:
            return
        paths = self._local_files(event)
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()
