"""The look of the app in one place: Fusion palettes, the stylesheet, and status, port and family colours."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication, QStyleFactory, QWidget

from artfactory.engine.status import NodeStatus, OrderStatus


class ThemeName(StrEnum):
    DARK = "dark"
    LIGHT = "light"


@dataclass(frozen=True)
class Colors:
    window: str
    panel: str
    base: str
    alt_base: str
    raised: str
    border: str
    text: str
    dim: str
    accent: str
    accent_text: str
    canvas: tuple[int, int, int]
    grid: tuple[int, int, int]


DARK = Colors(
    window="#1c1d21", panel="#222328", base="#17181b", alt_base="#1f2024", raised="#2b2d33",
    border="#34363d", text="#dfe1e6", dim="#8d919b", accent="#5b8def", accent_text="#ffffff",
    canvas=(24, 25, 29), grid=(33, 35, 40),
)
LIGHT = Colors(
    window="#eceef2", panel="#f5f6f8", base="#ffffff", alt_base="#f3f4f7", raised="#e2e5ea",
    border="#c9cdd5", text="#1f2328", dim="#646b76", accent="#2f6fde", accent_text="#ffffff",
    canvas=(44, 46, 52), grid=(54, 56, 63),  # the canvas stays dark: node colours are tuned for it
)

# Node and order statuses (DESIGN §4), shared by the canvas, the runs panel and the dialogs.
# Keys are NodeStatus/OrderStatus members (equal to their strings, so a status read from the database finds its
# colour); the two enums share "running", "failed" and "canceled", which have one colour each.
STATUS_COLORS: dict[str, str] = {
    NodeStatus.PENDING: "#7d818c",
    OrderStatus.QUEUED: "#7d818c",
    NodeStatus.RUNNING: "#5b8def",
    NodeStatus.EXECUTED: "#3fb27f",
    OrderStatus.SUCCEEDED: "#3fb27f",
    NodeStatus.CACHED: "#2aa7b8",
    NodeStatus.FAILED: "#e5534b",
    OrderStatus.PARTIAL: "#d9a23d",
    NodeStatus.SKIPPED: "#9b8ac4",
    NodeStatus.CANCELED: "#d9803d",
    NodeStatus.BYPASSED: "#8a6fd1",
    NodeStatus.MUTED: "#5c606b",
    OrderStatus.INTERRUPTED: "#c46ab0",
    "invalid": "#e5534b",
}

# Port kinds (DESIGN §3): a link is drawn in its source port's colour.
PORT_COLORS: dict[str, tuple[int, int, int]] = {
    "text": (232, 180, 72),
    "image": (82, 166, 230),
    "video": (178, 122, 230),
    "media": (96, 196, 140),
    "mask": (226, 104, 136),  # rose: apart from image blue and media green, like the painter's crimson overlay
    "number": (160, 166, 176),
    "any": (206, 206, 212),  # value.list and reroutes: whatever they carry, checked where it lands
}

# Node families: the header band of a node and the icon in the palette.
FAMILY_COLORS: dict[str, str] = {
    "prompt": "#9a7430",
    "input": "#3c6fa8",
    "provider": "#6d52b8",
    "transform": "#2e7d78",
    "collection": "#3f8050",
    "mask": "#9c4660",
    "video": "#a3573a",  # burnt orange: apart from the generators' violet, whose output it often is
}
FAMILY_FALLBACK = "#5a5f6b"
FAMILY_ICONS = {"prompt": "prompt", "input": "input", "provider": "provider", "transform": "transform",
                "collection": "collection", "video": "video", "mask": "mask"}
NODE_BODY = "#2c2e34"
NODE_TEXT = "#eceef2"
NODE_DIM = "#9296a0"
SELECTION = "#f2c94c"

SPACING = 8  # the one spacing unit; layouts use multiples of it
ICON_DIR = (Path(__file__).resolve().parent / "resources" / "icons").as_posix()

_current = DARK


class ThemeSignals(QObject):
    """`changed(name)` after a theme is applied: what bakes theme colours in (caches, scene backgrounds)
    redoes them. Palette and stylesheet users need nothing; icons re-tint when drawn (icons.py)."""

    changed = pyqtSignal(str)


_signals: ThemeSignals | None = None


def signals() -> ThemeSignals:
    global _signals
    if _signals is None:  # made on first use: a QObject wants the Qt library loaded, not at import
        _signals = ThemeSignals()
    return _signals


def colors() -> Colors:
    """The colours of the theme in use."""
    return _current


def current_name() -> str:
    return ThemeName.LIGHT.value if _current is LIGHT else ThemeName.DARK.value


def status_color(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, STATUS_COLORS[NodeStatus.PENDING]))


def family_color(family: str) -> QColor:
    return QColor(FAMILY_COLORS.get(family, FAMILY_FALLBACK))


def set_style_property(widget: QWidget, name: str, value: object) -> None:
    """Set a dynamic property the stylesheet selects on (`[role="error"]`) and re-polish, so it shows at once."""
    if widget.property(name) == value:
        return
    widget.setProperty(name, value)
    style = widget.style()
    if style is not None:  # PyQt's stubs mark every pointer result optional
        style.unpolish(widget)
        style.polish(widget)


def apply(app: QApplication, name: str = ThemeName.DARK.value) -> None:
    """Fusion style, a palette and the stylesheet for `name` ("dark" or "light")."""
    global _current
    _current = LIGHT if name == ThemeName.LIGHT.value else DARK
    c = _current
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(_palette(c))
    font = QFont(app.font())
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    app.setFont(font)
    app.setStyleSheet(stylesheet(c))
    signals().changed.emit(current_name())


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    for r, value in (
        (role.Window, c.window), (role.WindowText, c.text), (role.Base, c.base),
        (role.AlternateBase, c.alt_base), (role.ToolTipBase, c.raised), (role.ToolTipText, c.text),
        (role.Text, c.text), (role.Button, c.raised), (role.ButtonText, c.text),
        (role.BrightText, "#ffffff"), (role.Highlight, c.accent), (role.HighlightedText, c.accent_text),
        (role.Link, c.accent), (role.PlaceholderText, c.dim), (role.Mid, c.border), (role.Dark, c.base),
        (role.Light, c.raised), (role.Shadow, "#000000"),
    ):
        p.setColor(r, QColor(value))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(c.dim))
    return p


def stylesheet(c: Colors) -> str:
    """The application stylesheet; only spacing, borders and states — colours come from the palette."""
    s = SPACING
    return f"""
QMainWindow::separator {{ background: {c.border}; width: 1px; height: 1px; }}
QToolTip {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.border}; padding: 4px 6px; }}
QDockWidget {{ titlebar-close-icon: none; font-weight: 600; }}
QDockWidget::title {{ background: {c.panel}; padding: {s - 2}px {s}px; border-bottom: 1px solid {c.border}; }}
QDockWidget > QWidget {{ background: {c.panel}; }}
QToolBar {{ background: {c.panel}; border: none; border-bottom: 1px solid {c.border}; padding: 3px {s}px;
            spacing: 2px; }}
QToolBar::separator {{ background: {c.border}; width: 1px; margin: 5px {s // 2}px; }}
QToolButton {{ border: 1px solid transparent; border-radius: 5px; padding: 4px; }}
QToolButton:hover {{ background: {c.raised}; border-color: {c.border}; }}
QToolButton:pressed, QToolButton:checked {{ background: {c.border}; }}
QToolButton:disabled {{ color: {c.dim}; }}
QMenuBar {{ background: {c.panel}; border-bottom: 1px solid {c.border}; }}
QMenuBar::item {{ padding: 5px 10px; background: transparent; }}
QMenuBar::item:selected {{ background: {c.raised}; border-radius: 4px; }}
QMenu {{ background: {c.panel}; border: 1px solid {c.border}; padding: 4px; }}
QMenu::item {{ padding: 5px 24px 5px 12px; border-radius: 4px; }}
QMenu::item:selected {{ background: {c.accent}; color: {c.accent_text}; }}
QMenu::item:disabled {{ color: {c.dim}; }}
QMenu::separator {{ height: 1px; background: {c.border}; margin: 4px 6px; }}
QMenu::icon {{ padding-left: 6px; }}
QTabWidget::pane {{ border: none; border-top: 1px solid {c.border}; }}
QTabBar::tab {{ background: {c.window}; color: {c.dim}; padding: 7px 14px; border: 1px solid transparent;
                border-bottom: none; margin-right: 1px; min-width: 80px; }}
QTabBar::tab:selected {{ background: {c.panel}; color: {c.text}; border-color: {c.border};
                         border-top: 2px solid {c.accent}; }}
QTabBar::tab:hover:!selected {{ color: {c.text}; }}
QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    background: {c.base}; border: 1px solid {c.border}; border-radius: 5px; padding: 4px 6px;
    selection-background-color: {c.accent}; }}
QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus,
QComboBox:focus {{ border-color: {c.accent}; }}
QLineEdit:disabled, QSpinBox:disabled, QComboBox:disabled {{ color: {c.dim}; }}
QLineEdit[invalid="true"], QPlainTextEdit[invalid="true"] {{ border-color: {STATUS_COLORS[NodeStatus.FAILED]}; }}
QComboBox::drop-down {{ border: none; width: 20px; }}
QComboBox::down-arrow {{ image: url({ICON_DIR}/arrow-down.svg); width: 10px; height: 10px; }}
QSpinBox, QDoubleSpinBox {{ padding-right: 20px; }}
QSpinBox::up-button, QDoubleSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::down-button {{
    subcontrol-origin: border; width: 18px; border: none; border-left: 1px solid {c.border}; }}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 5px; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-position: bottom right;
    border-bottom-right-radius: 5px; }}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover, QSpinBox::down-button:hover,
QDoubleSpinBox::down-button:hover {{ background: {c.raised}; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({ICON_DIR}/arrow-up.svg); width: 9px; height: 9px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url({ICON_DIR}/arrow-down.svg); width: 9px;
    height: 9px; }}
QCheckBox::indicator {{ width: 16px; height: 16px; border: 1px solid {c.border}; border-radius: 4px;
    background: {c.base}; }}
QCheckBox::indicator:checked {{ background: {c.accent}; border-color: {c.accent};
    image: url({ICON_DIR}/check.svg); }}
QComboBox QAbstractItemView {{ background: {c.panel}; border: 1px solid {c.border};
                               selection-background-color: {c.accent}; }}
QPushButton {{ background: {c.raised}; border: 1px solid {c.border}; border-radius: 5px; padding: 5px 14px;
               min-height: 18px; }}
QPushButton:hover {{ border-color: {c.dim}; }}
QPushButton:pressed {{ background: {c.border}; }}
QPushButton:default {{ background: {c.accent}; color: {c.accent_text}; border-color: {c.accent}; }}
QPushButton:disabled {{ color: {c.dim}; }}
QCheckBox {{ spacing: 6px; }}
QTreeView, QListView, QTableView {{ background: {c.base}; alternate-background-color: {c.alt_base};
    border: 1px solid {c.border}; border-radius: 5px; outline: none; }}
QTreeView::item, QListView::item, QTableView::item {{ padding: 3px 2px; }}
QTreeView::item:hover, QListView::item:hover {{ background: {c.raised}; }}
QTreeView::item:selected, QListView::item:selected, QTableView::item:selected {{
    background: {c.accent}; color: {c.accent_text}; }}
QHeaderView::section {{ background: {c.panel}; color: {c.dim}; border: none; border-bottom: 1px solid {c.border};
                        padding: 4px 6px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: {c.border}; border-radius: 4px; min-height: 24px; min-width: 24px; margin: 2px; }}
QScrollBar::handle:hover {{ background: {c.dim}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QStatusBar {{ background: {c.panel}; border-top: 1px solid {c.border}; color: {c.dim}; }}
QStatusBar QLabel {{ color: {c.dim}; padding: 0 {s}px; }}
QProgressBar {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 4px; text-align: center;
                max-height: 14px; }}
QProgressBar::chunk {{ background: {c.accent}; border-radius: 3px; }}
QGroupBox {{ border: 1px solid {c.border}; border-radius: 6px; margin-top: 18px; padding: {s + 4}px {s}px {s}px;
             font-weight: 600; }}
QGroupBox::title {{ subcontrol-origin: margin; subcontrol-position: top left; left: {s}px; top: 2px;
                   padding: 0 4px; color: {c.dim}; }}
QLabel[role="heading"] {{ font-size: 13pt; font-weight: 600; }}
QLabel[role="dim"] {{ color: {c.dim}; }}
QLabel[role="toast"] {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.border}; border-radius: 5px;
                       padding: 5px 10px; }}
QLabel[role="error"] {{ color: {STATUS_COLORS[NodeStatus.FAILED]}; }}
QLabel[role="ok"] {{ color: {STATUS_COLORS[NodeStatus.EXECUTED]}; }}
QFrame[role="card"] {{ background: {c.alt_base}; border: 1px solid {c.border}; border-radius: 6px; }}
QSplitter::handle {{ background: {c.border}; }}
"""
