"""Our SVG icons (views/resources/icons), tinted to the theme's text colour when drawn, and cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PyQt6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QIcon, QIconEngine, QPainter, QPixmap
from PyQt6.QtSvg import QSvgRenderer

from artfactory.views import theme

ICON_DIR = Path(__file__).resolve().parent / "resources" / "icons"


def svg_path(name: str) -> Path:
    return ICON_DIR / f"{name}.svg"


@lru_cache(maxsize=512)
def pixmap(name: str, size: int = 18, color: str | None = None, ratio: float = 2.0) -> QPixmap:
    """The icon rendered at size×size logical pixels in `color` (default: the theme's text colour)."""
    path = svg_path(name)
    if not path.is_file():
        path = svg_path("node")
    text = path.read_text(encoding="utf-8").replace("currentColor", color or theme.colors().text)
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    device = max(1, round(size * ratio))
    image = QPixmap(device, device)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, device, device))
    painter.end()
    image.setDevicePixelRatio(ratio)
    return image


class _ThemedIconEngine(QIconEngine):
    """Renders the SVG when it is painted, in the colours of the theme in use then: an icon made before a
    theme switch follows it (no widget has to re-create its icons), and every size is crisp."""

    def __init__(self, name: str, color: str | None) -> None:
        super().__init__()
        self.name = name
        self.color = color

    def _color(self, mode: QIcon.Mode) -> str:
        if mode == QIcon.Mode.Disabled:
            return theme.colors().dim
        if mode == QIcon.Mode.Selected and self.color is None:  # on the accent of a selected list row
            return theme.colors().accent_text
        return self.color or theme.colors().text

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        # `size` is in logical pixels (Qt 6.8 on); the pixmap has `scale` device pixels to each.
        edge = max(1, min(size.width(), size.height()))
        return pixmap(self.name, edge, self._color(mode), scale or 1.0)

    def paint(self, painter: QPainter | None, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        if painter is None:
            return
        device = painter.device()
        ratio = device.devicePixelRatioF() if device is not None else 1.0
        edge = min(rect.width(), rect.height())
        target = QRect(0, 0, edge, edge)
        target.moveCenter(rect.center())
        painter.drawPixmap(target, pixmap(self.name, edge, self._color(mode), ratio))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        edge = min(size.width(), size.height())
        return QSize(edge, edge)

    def clone(self) -> QIconEngine:
        return _ThemedIconEngine(self.name, self.color)

    def key(self) -> str:
        return "artfactory-themed-svg"


def icon(name: str, color: str | None = None) -> QIcon:
    """The icon in `color` (default: the theme's text colour, following theme switches), dimmed when disabled."""
    return QIcon(_ThemedIconEngine(name, color))


def dot(color: str, size: int = 10) -> QIcon:
    """A filled circle, for status markers in lists."""
    image = QPixmap(QSize(size * 2, size * 2))
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(size * 0.4, size * 0.4, size * 1.2, size * 1.2))
    painter.end()
    image.setDevicePixelRatio(2.0)
    return QIcon(image)


def clear_cache() -> None:
    """Forget rendered icons (after a theme change)."""
    pixmap.cache_clear()
