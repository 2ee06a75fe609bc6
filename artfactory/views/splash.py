"""The start-up splash: on screen within milliseconds, telling what loads while the heavy imports run.

A plain frameless widget rather than QSplashScreen, whose show() waits up to a second for the window
system to confirm the window is exposed — exactly the wait a splash is there to hide.
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPainterPath, QPaintEvent
from PyQt6.QtWidgets import QApplication, QWidget

from artfactory.views import icons, theme

WIDTH, HEIGHT = 560, 300


def _font(points: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


class Splash(QWidget):
    """A card with the app's name, the current start-up step and a progress line."""

    def __init__(self, version: str) -> None:
        super().__init__(None, Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setFixedSize(WIDTH, HEIGHT)
        self.setWindowTitle("Art Factory")
        self.version = version
        self.message = ""
        self.progress = 0.0
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.center().x() - WIDTH // 2, area.center().y() - HEIGHT // 2)

    def advance(self, fraction: float, text: str) -> None:
        """Show a step's message and how far start-up has come, and paint it now."""
        self.progress = max(0.0, min(1.0, fraction))
        self.message = text
        self.repaint()
        app = QApplication.instance()
        if app is not None:
            app.processEvents()

    def finish(self, window: QWidget) -> None:
        window.raise_()
        self.close()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        c = theme.DARK  # the splash looks the same in both themes: it shows before settings are read
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QPainterPath()
        card.addRoundedRect(QRectF(0.5, 0.5, WIDTH - 1, HEIGHT - 1), 14, 14)
        painter.fillPath(card, QColor(c.window))
        painter.setPen(QColor(c.border))
        painter.drawPath(card)
        painter.drawPixmap(40, 64, icons.pixmap("canvas", 72, c.accent))
        painter.setFont(_font(26, bold=True))
        painter.setPen(QColor(c.text))
        painter.drawText(QRectF(132, 60, 400, 46), Qt.AlignmentFlag.AlignVCenter, "Art Factory")
        painter.setFont(_font(10.5))
        painter.setPen(QColor(c.dim))
        painter.drawText(QRectF(134, 108, 400, 40), Qt.AlignmentFlag.AlignTop,
                         f"AI image pipelines as node graphs · version {self.version}")
        painter.setFont(_font(9.5))
        painter.drawText(QRectF(40, HEIGHT - 58, WIDTH - 80, 24),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.message)
        track = QRectF(40, HEIGHT - 30, WIDTH - 80, 3)
        painter.fillRect(track, QColor(c.border))
        painter.fillRect(QRectF(track.x(), track.y(), track.width() * self.progress, 3), QColor(c.accent))
        painter.end()
