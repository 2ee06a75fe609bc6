"""The mask painter's canvas: an image with a one-channel mask painted over it, undoable, zoomable."""

from __future__ import annotations

import zlib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QPointF, QRect, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import QWidget

from artfactory.views import theme

if TYPE_CHECKING:
    from PIL import Image

# The painted area: a vivid crimson at half strength reads over skies, skin and foliage alike (a softer rose
# disappeared into pink skies).
OVERLAY = QColor(255, 36, 84)
OVERLAY_OPACITY = 0.5
MAX_UNDO = 60
PREVIEW_SIDE = 1024  # the feathered preview is computed at most this large, then scaled: quick on any photo
INVERT = bytes(255 - v for v in range(256))


class Tool(StrEnum):
    BRUSH = "brush"
    ERASER = "eraser"


class MaskCanvas(QWidget):
    """Paints white (brush) or black (eraser) into a mask the size of the image; left button paints, right
    button erases, Shift+click draws a straight line from the last point, the wheel zooms, middle button pans."""

    changed = pyqtSignal()  # the mask or the undo history changed
    zoom_changed = pyqtSignal(float)  # screen pixels per image pixel

    def __init__(self, image: QImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = image.convertToFormat(QImage.Format.Format_RGB32)
        self.painted = QImage(image.size(), QImage.Format.Format_Alpha8)  # the mask: alpha 255 = inside
        self.painted.fill(Qt.GlobalColor.transparent)
        self.tool = Tool.BRUSH
        self.brush_size = max(4, min(image.width(), image.height()) // 12)  # brush diameter, image pixels
        self.feather = 0.0  # image pixels; shown here, applied to the saved mask
        self.show_mask = True
        self._undo: list[bytes] = []
        self._redo: list[bytes] = []
        self._overlay = QImage(image.size(), QImage.Format.Format_ARGB32_Premultiplied)
        self._overlay.fill(Qt.GlobalColor.transparent)
        self._soft: QImage | None = None  # the feathered overlay, when feather > 0 and no stroke is running
        self._zoom = 1.0  # relative to fit
        self._pan = QPointF(0, 0)
        self._stroke: Tool | None = None
        self._last: QPointF | None = None
        self._panning: QPointF | None = None
        self._cursor: QPointF | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(320, 240)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)

    # -- the mask as data ----------------------------------------------------------------------------
    def mask_bytes(self) -> bytes:
        """The mask's rows, packed (no line padding): one byte per pixel, 255 = inside."""
        width, height, line = self.painted.width(), self.painted.height(), self.painted.bytesPerLine()
        bits = self.painted.constBits()
        assert bits is not None
        bits.setsize(self.painted.sizeInBytes())
        data = bits.asstring()
        return data if line == width else b"".join(data[y * line:y * line + width] for y in range(height))

    def set_mask_bytes(self, data: bytes) -> None:
        width, height = self.painted.width(), self.painted.height()
        self.painted = QImage(data, width, height, width, QImage.Format.Format_Alpha8).copy()
        self._rebuild_overlay()

    def start_from(self, path: Path) -> None:
        """Begin with a saved mask (scaled to the image if its size differs); not an undo step."""
        from PIL import Image, ImageOps

        with Image.open(path) as saved:
            mask = ImageOps.exif_transpose(saved).convert("L")
        size = (self.painted.width(), self.painted.height())
        if mask.size != size:
            mask = mask.resize(size, Image.Resampling.BILINEAR)
        self.set_mask_bytes(mask.tobytes())

    def mask_image(self) -> Image.Image:
        """The mask as a Pillow "L" image (white = the area to change), unfeathered."""
        from PIL import Image

        return Image.frombytes("L", (self.painted.width(), self.painted.height()), self.mask_bytes())

    def coverage(self) -> float:
        """The share of the image inside the mask, 0..1 (counted in C: a 24-megapixel mask stays quick)."""
        from PIL import ImageStat

        return float(ImageStat.Stat(self.mask_image()).mean[0]) / 255

    # -- edits (each one undoable) -------------------------------------------------------------------
    def _remember(self) -> None:
        # Masks compress to almost nothing, so many steps cost little memory even on a large photo.
        self._undo.append(zlib.compress(self.mask_bytes(), 1))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(zlib.compress(self.mask_bytes(), 1))
            self.set_mask_bytes(zlib.decompress(self._undo.pop()))
            self.changed.emit()

    def redo(self) -> None:
        if self._redo:
            self._undo.append(zlib.compress(self.mask_bytes(), 1))
            self.set_mask_bytes(zlib.decompress(self._redo.pop()))
            self.changed.emit()

    def invert(self) -> None:
        self._remember()
        self.set_mask_bytes(self.mask_bytes().translate(INVERT))
        self.changed.emit()

    def fill(self) -> None:
        self._remember()
        self.painted.fill(QColor(0, 0, 0, 255))
        self._rebuild_overlay()
        self.changed.emit()

    def clear(self) -> None:
        self._remember()
        self.painted.fill(Qt.GlobalColor.transparent)
        self._rebuild_overlay()
        self.changed.emit()

    def set_feather(self, pixels: float) -> None:
        self.feather = max(0.0, float(pixels))
        self._refresh_soft()
        self.update()

    def set_show_mask(self, show: bool) -> None:
        self.show_mask = show
        self.update()

    # -- view ----------------------------------------------------------------------------------------
    def _fit_scale(self) -> float:
        if self.image.isNull() or self.width() <= 0 or self.height() <= 0:
            return 1.0
        return min(self.width() / self.image.width(), self.height() / self.image.height())

    @property
    def scale(self) -> float:
        return self._fit_scale() * self._zoom

    def _origin(self) -> QPointF:
        s = self.scale
        return QPointF((self.width() - self.image.width() * s) / 2, (self.height() - self.image.height() * s) / 2) \
            + self._pan

    def to_image(self, point: QPointF) -> QPointF:
        return (point - self._origin()) / self.scale

    def to_widget(self, point: QPointF) -> QPointF:
        return point * self.scale + self._origin()

    def zoom_to_fit(self) -> None:
        self._zoom, self._pan = 1.0, QPointF(0, 0)
        self.zoom_changed.emit(self.scale)
        self.update()

    def zoom_by(self, factor: float, around: QPointF | None = None) -> None:
        around = around if around is not None else QPointF(self.width() / 2, self.height() / 2)
        anchor = self.to_image(around)
        self._zoom = max(0.1, min(64.0, self._zoom * factor))
        self._pan += around - self.to_widget(anchor)  # the pixel under the cursor stays under it
        self.zoom_changed.emit(self.scale)
        self.update()

    # -- painting strokes ----------------------------------------------------------------------------
    def _draw(self, tool: Tool, start: QPointF, end: QPointF) -> None:
        painter = QPainter(self.painted)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if tool is Tool.ERASER:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        # Any opaque colour: the mask keeps only alpha (the eraser clears it whatever the colour).
        painter.setPen(QPen(QColor(0, 0, 0, 255), float(self.brush_size), Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        if start == end:
            painter.drawPoint(start)
        else:
            painter.drawLine(start, end)
        painter.end()
        reach = self.brush_size / 2 + 2
        dirty = QRectF(start, end).normalized().adjusted(-reach, -reach, reach, reach).toAlignedRect()
        self._rebuild_overlay(dirty)

    def begin_stroke(self, point: QPointF, tool: Tool, *, straight: bool = False) -> None:
        self._remember()
        self._stroke = tool
        self._soft = None  # the hard edge while painting; the soft preview comes back on release
        start = self._last if straight and self._last is not None else point
        self._draw(tool, start, point)
        self._last = point
        self.update()

    def continue_stroke(self, point: QPointF) -> None:
        if self._stroke is None or self._last is None:
            return
        self._draw(self._stroke, self._last, point)
        self._last = point
        self.update()

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        self._stroke = None
        self._refresh_soft()
        self.update()
        self.changed.emit()

    # -- overlay -------------------------------------------------------------------------------------
    def _rebuild_overlay(self, rect: QRect | None = None) -> None:
        """The rose overlay where the mask is set; only `rect` when given (a stroke's segment)."""
        area = rect.intersected(self.painted.rect()) if rect is not None else self.painted.rect()
        if area.isEmpty():
            return
        painter = QPainter(self._overlay)
        painter.setClipRect(area)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.fillRect(area, OVERLAY)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(0, 0, self.painted)
        painter.end()
        if rect is None:
            self._refresh_soft()
        self.update()

    def _refresh_soft(self) -> None:
        """The overlay as the saved mask will look, feathered (computed small and scaled when drawn)."""
        if self.feather <= 0 or self._stroke is not None:
            self._soft = None
            return
        from PIL import Image, ImageFilter

        mask = self.mask_image()
        k = min(1.0, PREVIEW_SIDE / max(mask.size))
        small = mask.resize((max(1, round(mask.width * k)), max(1, round(mask.height * k))), Image.Resampling.BILINEAR)
        soft = small.filter(ImageFilter.GaussianBlur(self.feather * k))
        alpha = QImage(soft.tobytes(), soft.width, soft.height, soft.width, QImage.Format.Format_Alpha8).copy()
        overlay = QImage(alpha.size(), QImage.Format.Format_ARGB32_Premultiplied)
        overlay.fill(OVERLAY)
        painter = QPainter(overlay)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(0, 0, alpha)
        painter.end()
        self._soft = overlay

    # -- Qt events -----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(*theme.colors().canvas))
        target = QRectF(self._origin(), self.image.size().toSizeF() * self.scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale < 2)
        painter.drawImage(target, self.image)
        if self.show_mask:
            painter.setOpacity(OVERLAY_OPACITY)
            painter.drawImage(target, self._soft if self._soft is not None else self._overlay)
            painter.setOpacity(1.0)
        if self._cursor is not None and self.underMouse():
            radius = self.brush_size * self.scale / 2
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for colour, width in ((QColor(0, 0, 0, 160), 3.0), (QColor(255, 255, 255, 220), 1.2)):
                painter.setPen(QPen(colour, width))
                painter.drawEllipse(self._cursor, radius, radius)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        button = event.button()
        if button == Qt.MouseButton.MiddleButton:
            self._panning = event.position()
            return
        if button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            tool = Tool.ERASER if button == Qt.MouseButton.RightButton else self.tool
            straight = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.begin_stroke(self.to_image(event.position()), tool, straight=straight)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        self._cursor = event.position()
        if self._panning is not None:
            self._pan += event.position() - self._panning
            self._panning = event.position()
            self.update()
            return
        if self._stroke is not None:
            self.continue_stroke(self.to_image(event.position()))
        else:
            self.update()  # the brush outline follows the cursor

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._panning = None
            return
        self.end_stroke()

    def leaveEvent(self, event: object) -> None:
        self._cursor = None
        self.update()

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None:
            return
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25 ** steps, event.position())

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self.zoom_changed.emit(self.scale)
