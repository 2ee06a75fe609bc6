"""Our SVG icons (views/resources/icons), tinted to the theme's text colour and cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PyQt6.QtCore import QByteArray, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QIcon, QPainter, QPixmap
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


def icon(name: str, color: str | None = None) -> QIcon:
    """A QIcon with a normal and a dimmed disabled state."""
    result = QIcon()
    for size in (16, 20, 24):
        result.addPixmap(pixmap(name, size, color), QIcon.Mode.Normal)
        result.addPixmap(pixmap(name, size, theme.colors().dim), QIcon.Mode.Disabled)
    return result


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
