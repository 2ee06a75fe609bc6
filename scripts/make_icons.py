"""Render the application icon (PNG, macOS .icns, Windows .ico) from the canvas glyph; `make icons`.

The results are committed under artfactory/views/resources/, so a build needs neither Qt rendering
nor this script; run it again only when the glyph or the accent colour changes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PyQt6.QtCore import QByteArray, QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath
from PyQt6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "artfactory" / "views" / "resources"
GLYPH = RESOURCES / "icons" / "canvas.svg"
SIZE = 1024
# Apple's grid: an 824 px tile with a ~185 px corner radius inside a 1024 px canvas leaves room for the shadow.
TILE, RADIUS = 824, 185
TOP, BOTTOM = "#6f9cf3", "#3d6fd6"  # the dark theme's accent (#5b8def), lit from above
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def render(size: int = SIZE) -> QImage:
    """The icon as a square RGBA image: a blue rounded tile with the node-graph glyph in white."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    scale = size / SIZE
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(scale, scale)
    margin = (SIZE - TILE) / 2
    tile = QRectF(margin, margin, TILE, TILE)
    shadow = QPainterPath()
    shadow.addRoundedRect(tile.translated(0, 12), RADIUS, RADIUS)
    painter.fillPath(shadow, QColor(0, 0, 0, 70))
    path = QPainterPath()
    path.addRoundedRect(tile, RADIUS, RADIUS)
    gradient = QLinearGradient(QPointF(0, tile.top()), QPointF(0, tile.bottom()))
    gradient.setColorAt(0, QColor(TOP))
    gradient.setColorAt(1, QColor(BOTTOM))
    painter.fillPath(path, gradient)
    svg = GLYPH.read_text(encoding="utf-8").replace("currentColor", "#ffffff")
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    inset = TILE * 0.17
    renderer.render(painter, tile.adjusted(inset, inset, -inset, -inset))
    painter.end()
    return image


def to_pillow(image: QImage) -> Image.Image:
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits().asstring(rgba.sizeInBytes()))
    return Image.frombuffer("RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA", rgba.bytesPerLine(), 1)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    big = to_pillow(render())
    png, icns, ico = (RESOURCES / f"artfactory.{ext}" for ext in ("png", "icns", "ico"))
    big.save(png, optimize=True)
    big.save(icns)  # Pillow writes every ICNS size from 16 to 1024 (@1x and @2x) from the one image
    # Small sizes are rendered, not downscaled, so the glyph's strokes stay crisp at 16 and 32 px.
    frames = [to_pillow(render(w)) for w, _ in ICO_SIZES]
    frames[-1].save(ico, sizes=ICO_SIZES, append_images=frames[:-1])
    for path in (png, icns, ico):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
