"""How a node is drawn: family header, typed ports, status border, progress, error badge and output thumbnails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QCursor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPixmap
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsSceneMouseEvent, QToolTip

from artfactory.engine.status import NodeStatus, node_status
from artfactory.views import theme
from artfactory.views.canvas import compat
from artfactory.views.canvas.thumb_loader import ThumbLoader

compat.apply()
from NodeGraphQt.qgraphics.node_base import NodeItem  # noqa: E402  (after the PyQt6 patches)

MIN_WIDTH = 210.0
LINE_H = 15.0
FOOTER_H = 22.0
PAD = 6.0
THUMB_GAP = 5.0
MAX_THUMBS = 4
SINGLE_MAX_H = 180.0
RADIUS = 7.0
STALE_OPACITY = 0.38  # thumbnails of a node whose params changed since they were made
STALE_LABEL = "out of date"


def port_painter(optional: bool) -> Callable[[QPainter, QRectF, dict[str, Any]], None]:
    """Ports in their kind's colour; an optional input is a ring until something is connected."""

    def paint(painter: QPainter, rect: QRectF, info: dict[str, Any]) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(*info["color"][:3])
        if info["hovered"]:
            color = color.lighter(135)
        size = min(rect.width(), rect.height()) * 0.92
        dot = QRectF(rect.center().x() - size / 2, rect.center().y() - size / 2, size, size)
        hollow = optional and not info["connected"] and not info["hovered"]
        painter.setPen(QPen(color.lighter(120) if info["connected"] else color, 1.8))
        painter.setBrush(QBrush(QColor(theme.NODE_BODY) if hollow else color))
        painter.drawEllipse(dot)
        if info["connected"]:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 150))
            inner = size * 0.32
            painter.drawEllipse(QRectF(dot.center().x() - inner / 2, dot.center().y() - inner / 2, inner, inner))
        painter.restore()

    return paint


class ThumbItem(QGraphicsPixmapItem):
    """An output thumbnail; a click opens the product."""

    def __init__(self, product_id: str, pixmap: QPixmap, box: QRectF, parent: ArtNodeItem,
                 pending: bool = False) -> None:
        super().__init__(parent)
        self.product_id = product_id
        self.pending = pending  # still being decoded on a worker
        self.box = box
        self.extra = 0  # "+N" more products than shown
        self.stale = False  # made before the node's params (or its inputs) changed: dimmed, with a chip
        self._hover = False
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(QCursor(Qt.CursorShape.PointingHandCursor))
        self.setToolTip("Open product")
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.set_image(pixmap)

    def set_image(self, pixmap: QPixmap) -> None:
        if pixmap.isNull():
            self.setPixmap(QPixmap())
            self.setPos(self.box.topLeft())
            return
        ratio = 2.0
        scaled = pixmap.scaled(int(self.box.width() * ratio), int(self.box.height() * ratio),
                               Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        scaled.setDevicePixelRatio(ratio)
        self.setPixmap(scaled)
        w, h = scaled.width() / ratio, scaled.height() / ratio
        self.setPos(self.box.x() + (self.box.width() - w) / 2, self.box.y() + (self.box.height() - h) / 2)

    @property
    def image_opacity(self) -> float:
        return STALE_OPACITY if self.stale else 1.0

    def boundingRect(self) -> QRectF:
        return QRectF(self.box.topLeft() - self.pos(), self.box.size()).adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter | None, option: Any, widget: Any = None) -> None:
        if painter is None:  # the stubs allow it; Qt always paints with one
            return
        area = QRectF(self.box.topLeft() - self.pos(), self.box.size())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70))
        painter.drawRoundedRect(area, 4, 4)
        painter.restore()
        painter.save()
        painter.setOpacity(self.image_opacity)  # the image only: the "out of date" chip stays readable
        super().paint(painter, option, widget)
        painter.restore()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.pixmap().isNull():
            painter.setPen(QColor(theme.NODE_DIM))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "loading…" if self.pending else "no preview")
        if self.stale:
            painter.setFont(_font(7.5, bold=True))
            label_w = painter.fontMetrics().horizontalAdvance(STALE_LABEL) + 12
            chip = QRectF(area.x() + 4, area.y() + 4, label_w, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(20, 22, 26, 220))
            painter.drawRoundedRect(chip, 8, 8)
            painter.setPen(QColor(theme.NODE_TEXT))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, STALE_LABEL)
        if self.extra:
            chip = QRectF(area.right() - 34, area.bottom() - 20, 30, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(chip, 8, 8)
            painter.setPen(QColor("#ffffff"))
            painter.setFont(_font(7.5, bold=True))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, f"+{self.extra}")
        pen = QPen(QColor(theme.SELECTION) if self._hover else QColor(255, 255, 255, 40), 1.5 if self._hover else 1)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(area, 4, 4)
        painter.restore()

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is not None:
            event.accept()  # claim the click, so the node neither moves nor starts a rubber band

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        node = self.parentItem()
        if event is None:
            return
        if isinstance(node, ArtNodeItem) and node.on_product_clicked and self.boundingRect().contains(event.pos()):
            node.on_product_clicked(self.product_id)


class BadgeItem(QGraphicsItem):
    """The red "!" on a node with an error; hover or click shows the message."""

    SIZE = 16.0

    def __init__(self, parent: ArtNodeItem) -> None:
        super().__init__(parent)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(QCursor(Qt.CursorShape.PointingHandCursor))
        self.setZValue(2)
        self.text = ""

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.SIZE, self.SIZE)

    def paint(self, painter: QPainter | None, option: Any, widget: Any = None) -> None:
        if painter is None:  # the stubs allow it; Qt always paints with one
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 90), 1))
        painter.setBrush(theme.status_color(NodeStatus.FAILED))
        painter.drawEllipse(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5))
        painter.setPen(QColor("#ffffff"))
        painter.setFont(_font(8.5, bold=True))
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, "!")
        painter.restore()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is not None:
            event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is not None:
            QToolTip.showText(event.screenPos(), self.toolTip())


class CostBadgeItem(QGraphicsItem):
    """A chip above a paid node's top-right corner: what running it will cost ("≈ $0.012", "cached · free",
    "unpriced"), from the graph's plan; the tooltip says which price and what was assumed."""

    HEIGHT = 16.0

    def __init__(self, parent: ArtNodeItem) -> None:
        super().__init__(parent)
        self.setZValue(2)
        self.text = ""
        self._width = 0.0

    def set_text(self, text: str, tip: str) -> None:
        self.prepareGeometryChange()
        self.text = text
        self._width = _text_width(text, _font(7.5, bold=True)) + 14.0 if text else 0.0
        self.setToolTip(tip)
        self.setVisible(bool(text))
        self.update()

    @property
    def width(self) -> float:
        return self._width

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._width, self.HEIGHT)

    def paint(self, painter: QPainter | None, option: Any, widget: Any = None) -> None:
        if painter is None or not self.text:  # the stubs allow None; Qt always paints with one
            return
        if self.text == "unpriced":
            color = QColor(theme.status_color("partial"))
        elif self.text.endswith("free"):
            color = QColor(theme.status_color("cached"))
        else:
            color = QColor(theme.NODE_TEXT)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 1.0))
        painter.setBrush(QColor(20, 22, 26, 225))
        painter.drawRoundedRect(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        painter.setFont(_font(7.5, bold=True))
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, self.text)
        painter.restore()


MODE_BADGES = {"bypass": ("BYPASS", NodeStatus.BYPASSED), "mute": ("MUTED", NodeStatus.MUTED)}
MODE_OPACITY = {"normal": 1.0, "bypass": 0.62, "mute": 0.4}  # the node and everything drawn in it
STRIPE_GAP = 12.0


class ModeBadgeItem(QGraphicsItem):
    """The "BYPASS" / "MUTED" chip above a node's top-left corner; drawn at full strength on a dimmed node."""

    HEIGHT = 16.0

    def __init__(self, parent: ArtNodeItem) -> None:
        super().__init__(parent)
        self.setZValue(2)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresParentOpacity)
        self.text = ""
        self.status = ""
        self._width = 0.0

    def set_mode(self, mode: str) -> None:
        text, status = MODE_BADGES.get(mode, ("", ""))
        self.prepareGeometryChange()
        self.text, self.status = text, status
        self._width = _text_width(text, _font(7.5, bold=True)) + 16.0 if text else 0.0
        self.setToolTip({"bypass": "Bypassed: passes its input through without running (Ctrl+B)",
                         "mute": "Muted: neither it nor what needs it runs (Ctrl+M)"}.get(mode, ""))
        self.setVisible(bool(text))
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._width, self.HEIGHT)

    def paint(self, painter: QPainter | None, option: Any, widget: Any = None) -> None:
        if painter is None or not self.text:  # the stubs allow None; Qt always paints with one
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.status_color(self.status))
        painter.drawRoundedRect(self.boundingRect(), 8, 8)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(_font(7.5, bold=True))
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, self.text)
        painter.restore()


class ArtNodeItem(compat.NodeItemParts, NodeItem):
    """A NodeGraphQt node item with our look and the run state drawn into it."""

    def __init__(self, name: str = "node", parent: Any = None) -> None:
        super().__init__(name, parent)
        self.family = ""
        self.stable_id = ""
        self.status: NodeStatus | None = None
        self.stale = False  # finished, but the params or inputs changed since: out of date until the next run
        self.percent = 0.0
        self.errors: list[str] = []
        self.description = ""
        self.summary: list[str] = []  # key settings, shown under the ports
        self.highlighted = False  # the node a product came from, when its graph is opened from the gallery
        self.family_pixmap: QPixmap | None = None  # NodeGraphQt resets its icon item; ours is re-applied
        self.on_product_clicked: Callable[[str], None] | None = None
        self.loader: ThumbLoader | None = None  # set by the view; decodes thumbnails off the UI thread
        self._products: list[tuple[str, Path]] = []
        self._thumbs: list[ThumbItem] = []
        self._badge = BadgeItem(self)
        self._badge.setVisible(False)
        self.cost_badge = CostBadgeItem(self)
        self.cost_badge.setVisible(False)
        self.mode = "normal"  # "bypass": dimmed and striped; "mute": greyed out; each with its badge
        self.mode_badge = ModeBadgeItem(self)
        self.mode_badge.setVisible(False)
        self._header_h = 28.0
        self.title_item.setFont(_font(9.5, bold=True))
        self.title_item.setToolTip("Double-click to rename")

    # --- state from the run and validation --------------------------------------------------------
    def set_run(self, status: NodeStatus | str | None, percent: float, errors: list[str],
                products: list[tuple[str, Path]], stale: bool = False) -> None:
        # A thumbnail that was missing may exist now: they are made after the node reports.
        relayout = [p for p, _ in products] != [p for p, _ in self._products] or \
            any(t.pixmap().isNull() for t in self._thumbs)
        self.status = node_status(status) if status else None
        self.percent, self.errors, self.stale = percent, errors, stale
        self._products = list(products)
        self._badge.setVisible(bool(errors))
        self._badge.setToolTip("\n".join(errors))
        if relayout:
            self.draw_node()
        self._style_thumbs()
        self.update()

    def set_mode(self, mode: str) -> None:
        """Draw the node as bypassed, muted or normal."""
        if mode == self.mode:
            return
        self.mode = mode
        self.mode_badge.set_mode(mode)
        self.mode_badge.setPos(4.0, -ModeBadgeItem.HEIGHT - 3.0)
        self.setOpacity(MODE_OPACITY.get(mode, 1.0))
        self.update()

    def set_cost(self, text: str, tip: str = "") -> None:
        """The cost badge from the graph's plan ("" hides it)."""
        if text != self.cost_badge.text or tip != self.cost_badge.toolTip():
            self.cost_badge.set_text(text, tip)
            self._place_cost_badge()

    def _place_cost_badge(self) -> None:
        self.cost_badge.setPos(self.width - self.cost_badge.width - 4.0, -CostBadgeItem.HEIGHT - 3.0)

    def _style_thumbs(self) -> None:
        for item in self._thumbs:
            if item.stale != self.stale:
                item.stale = self.stale
                item.update()

    @property
    def product_ids(self) -> list[str]:
        return [p for p, _ in self._products]

    def _pixmap(self, product_id: str, path: Path) -> tuple[QPixmap, bool]:
        """The thumbnail and whether it is still loading (then a placeholder shows until it lands)."""
        if self.loader is None:
            return (QPixmap(str(path)) if path.is_file() else QPixmap()), False
        pixmap = self.loader.pixmap(product_id, path)
        return (QPixmap(), True) if pixmap is None else (pixmap, False)

    def shows(self, product_id: str) -> bool:
        return product_id in self.product_ids

    # --- geometry -------------------------------------------------------------------------------
    def _thumb_area(self, width: float) -> float:
        if not self._products:
            return 0.0
        inner = width - 2 * PAD
        if len(self._products) == 1:
            product_id, path = self._products[0]
            pixmap, _pending = self._pixmap(product_id, path)
            aspect = pixmap.height() / pixmap.width() if not pixmap.isNull() and pixmap.width() else 1.0
            return min(SINGLE_MAX_H, inner * aspect) + PAD
        shown = min(len(self._products), MAX_THUMBS)
        return (inner - THUMB_GAP * (shown - 1)) / shown + PAD

    def calc_size(self, add_w: float = 0.0, add_h: float = 0.0) -> tuple[float, float]:
        width, height = super().calc_size(add_w, add_h)
        width = max(width + 12.0, MIN_WIDTH)
        summary = len(self.summary) * LINE_H + (6.0 if self.summary else 0.0)
        return width, height + summary + FOOTER_H + self._thumb_area(width)

    def set_summary(self, lines: list[str]) -> None:
        if lines != self.summary:
            self.summary = list(lines)
            self.draw_node()

    def layout_horizontal(self) -> None:
        self._header_h = self.title_item.boundingRect().height() + 8.0
        for port, text in self.port_text_items().items():
            if port.isVisible():
                text.setVisible(port.display_name)
        self.fit_size(add_h=self._header_h)
        self.apply_text_color(self.text_color)
        self.setToolTip(self.description)
        self.title_item.setPos(28.0, (self._header_h - self.title_item.boundingRect().height()) / 2)
        if self.family_pixmap is not None and self.icon_item.pixmap().cacheKey() != self.family_pixmap.cacheKey():
            self.icon_item.setPixmap(self.family_pixmap)
        icon = self.icon_item.boundingRect()
        self.icon_item.setPos(8.0, (self._header_h - icon.height()) / 2)
        self.align_ports(v_offset=self._header_h + 6.0)
        self.align_widgets(v_offset=self._header_h)
        self._badge.setPos(self.width - BadgeItem.SIZE - 7.0, (self._header_h - BadgeItem.SIZE) / 2)
        self._place_cost_badge()
        self._layout_thumbs()
        self.update()

    def disabled_tooltip(self, disabled: bool) -> None:
        self.setToolTip(self.description)  # our tooltip: what the node does, not NodeGraphQt's type string

    def _layout_thumbs(self) -> None:
        for item in self._thumbs:
            if (scene := item.scene()) is not None:
                scene.removeItem(item)
            item.setParentItem(None)
        self._thumbs = []
        if not self._products:
            return
        area = self._thumb_area(self.width)
        top = self.height - FOOTER_H - area
        inner = self.width - 2 * PAD
        shown = self._products[:MAX_THUMBS]
        cell = inner if len(shown) == 1 else (inner - THUMB_GAP * (len(shown) - 1)) / len(shown)
        for index, (product_id, path) in enumerate(shown):
            box = QRectF(PAD + index * (cell + THUMB_GAP), top, cell, area - PAD)
            pixmap, pending = self._pixmap(product_id, path)
            self._thumbs.append(ThumbItem(product_id, pixmap, box, self, pending))
        self._thumbs[-1].extra = max(0, len(self._products) - MAX_THUMBS)
        self._style_thumbs()

    def set_proxy_mode(self, mode: bool) -> None:
        super().set_proxy_mode(mode)
        for item in self._thumbs:
            item.setVisible(not mode)
        self._badge.setVisible(bool(self.errors) and not mode)
        self.cost_badge.setVisible(bool(self.cost_badge.text) and not mode)
        self.mode_badge.setVisible(bool(self.mode_badge.text) and not mode)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        # A double-click on the title edits it in place (NodeGraphQt's text item; the view records the
        # rename); anywhere else it opens the node's properties.
        viewer = self.viewer()
        on_title = self.title_item.sceneBoundingRect().contains(event.scenePos())
        if viewer is not None and event.button() == Qt.MouseButton.LeftButton and not on_title:
            viewer.node_double_clicked.emit(self.id)
        QGraphicsItem.mouseDoubleClickEvent(self, event)

    # --- painting -------------------------------------------------------------------------------
    def paint_horizontal(self, painter: QPainter, option: Any, widget: Any) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.boundingRect().adjusted(1.0, 1.0, -1.0, -1.0)
        body = QPainterPath()
        body.addRoundedRect(rect, RADIUS, RADIUS)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.fillPath(body, QColor(theme.NODE_BODY))

        header = QPainterPath()
        header.addRect(QRectF(rect.x(), rect.y(), rect.width(), self._header_h))
        header_color = theme.family_color(self.family)
        if self.disabled:
            header_color = header_color.darker(160)
        if self.mode == "mute":  # greyed out: no family colour either
            grey = round(header_color.lightness() * 0.55)
            header_color = QColor(grey, grey, grey)
        painter.fillPath(body.intersected(header), header_color)
        if self.mode == "bypass":
            self._paint_stripes(painter, body, rect)

        footer_top = rect.bottom() - FOOTER_H
        painter.setPen(QPen(QColor(255, 255, 255, 22), 1))
        painter.drawLine(QPointF(rect.x() + 1, footer_top), QPointF(rect.right() - 1, footer_top))
        self._paint_footer(painter, QRectF(rect.x() + 8, footer_top, rect.width() - 16, FOOTER_H))
        self._paint_summary(painter, rect, footer_top - self._thumb_area(self.width))
        if self.status == NodeStatus.RUNNING:
            track = QRectF(rect.x() + 1, rect.y() + self._header_h, rect.width() - 2, 3)
            painter.fillRect(track, QColor(0, 0, 0, 90))
            painter.fillRect(QRectF(track.x(), track.y(), track.width() * self.percent / 100, 3),
                             theme.status_color(NodeStatus.RUNNING))

        if self.selected:
            pen = QPen(QColor(theme.SELECTION), 2.0)
        elif self.stale:
            pen = QPen(QColor(theme.NODE_DIM), 1.4, Qt.PenStyle.DashLine)
        elif self.status:
            pen = QPen(theme.status_color(self.status), 1.6)
        else:
            pen = QPen(QColor(0, 0, 0, 140), 1.0)
        if self.errors and not self.selected:
            pen = QPen(theme.status_color(NodeStatus.FAILED), 1.8)
        if self.highlighted:
            halo = QColor(theme.SELECTION)
            for width, alpha in ((10.0, 40), (6.0, 80)):
                halo.setAlpha(alpha)
                painter.setPen(QPen(halo, width))
                painter.drawPath(body)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(body)
        painter.restore()

    def _paint_stripes(self, painter: QPainter, body: QPainterPath, rect: QRectF) -> None:
        """Diagonal stripes across the whole node: bypassed at a glance, even zoomed out."""
        painter.save()
        painter.setClipPath(body)
        painter.setPen(QPen(QColor(theme.status_color(NodeStatus.BYPASSED)).lighter(110), 4.0))
        painter.setOpacity(0.35)
        x = rect.left() - rect.height()
        while x < rect.right():
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x + rect.height(), rect.top()))
            x += STRIPE_GAP
        painter.restore()

    def status_label(self) -> str:
        """The footer's status text ("" before any run)."""
        if not self.status:
            return ""
        if self.status == NodeStatus.RUNNING:
            return f"running {self.percent:.0f}%"
        if self.stale:
            return STALE_LABEL
        if self.status.made_products and self._products:
            return f"{self.status} · {len(self._products)}"
        return self.status

    def _paint_summary(self, painter: QPainter, rect: QRectF, bottom: float) -> None:
        if not self.summary:
            return
        painter.setFont(_font(8))
        metrics = painter.fontMetrics()
        y = bottom - len(self.summary) * LINE_H - 4.0
        for line in self.summary:
            area = QRectF(rect.x() + 9, y, rect.width() - 18, LINE_H)
            text = metrics.elidedText(line, Qt.TextElideMode.ElideRight, int(area.width()))
            painter.setPen(QColor(theme.NODE_TEXT) if line.startswith("“") else QColor(theme.NODE_DIM))
            painter.drawText(area, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
            y += LINE_H

    def _paint_footer(self, painter: QPainter, area: QRectF) -> None:
        painter.setFont(_font(7.5))
        painter.setPen(QColor(theme.NODE_DIM))
        align = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(area, align | Qt.AlignmentFlag.AlignLeft, self.stable_id)
        if not self.status:
            return
        label = self.status_label()
        color = QColor(theme.NODE_DIM) if self.stale else theme.status_color(self.status)
        metrics_w = painter.fontMetrics().horizontalAdvance(label)
        dot = QRectF(area.right() - metrics_w - 11, area.center().y() - 3, 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(dot)
        painter.setPen(color.lighter(115))
        painter.drawText(area, align | Qt.AlignmentFlag.AlignRight, label)


def rim_port(painter: QPainter, rect: QRectF, info: dict[str, Any]) -> None:
    """A reroute's port draws nothing of its own: the dot is the port; only a hover shows where to grab it."""
    if info["hovered"]:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(*info["color"][:3]).lighter(135), 1.4))
        size = min(rect.width(), rect.height()) * 0.7
        painter.drawEllipse(QRectF(rect.center().x() - size / 2, rect.center().y() - size / 2, size, size))
        painter.restore()


class RerouteItem(ArtNodeItem):
    """A reroute drawn as a dot on its link: its two ports sit on the rim, no title, no text."""

    DOT = 14.0

    def calc_size(self, add_w: float = 0.0, add_h: float = 0.0) -> tuple[float, float]:
        return self.DOT, self.DOT

    def layout_horizontal(self) -> None:
        self._header_h = 0.0
        self.title_item.setVisible(False)
        self.icon_item.setVisible(False)
        for text in self.port_text_items().values():
            text.setVisible(False)
        self.fit_size(at_least_minimum=False)
        self.setToolTip(self.description)
        inputs = [p for p in self.inputs if p.isVisible()]
        for port in (*inputs, *(p for p in self.outputs if p.isVisible())):
            rect = port.boundingRect()
            x = 0.0 if port in inputs else self.DOT
            port.setPos(x - rect.width() / 2, (self.DOT - rect.height()) / 2)
        self._badge.setPos(self.DOT, -BadgeItem.SIZE)
        self.update()

    def _layout_thumbs(self) -> None:
        """A reroute shows no thumbnails: what passes through it shows on the nodes at either end."""

    def paint_horizontal(self, painter: QPainter, option: Any, widget: Any) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0.0, 0.0, self.DOT, self.DOT).adjusted(1.0, 1.0, -1.0, -1.0)
        fill = QColor(200, 204, 212)
        if self.selected:
            pen = QPen(QColor(theme.SELECTION), 2.4)
        elif self.errors:
            pen = QPen(theme.status_color(NodeStatus.FAILED), 2.0)
        else:
            pen = QPen(QColor(0, 0, 0, 160), 1.2)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawEllipse(rect)
        painter.restore()


def _text_width(text: str, font: QFont) -> float:
    return float(QFontMetricsF(font).horizontalAdvance(text))


def _font(points: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(points)
    font.setBold(bold)
    return font
