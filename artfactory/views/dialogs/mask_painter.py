"""The mask painter: paint the area to change over an image product and save it as a mask product."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QIcon, QImage, QImageReader, QKeySequence
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from artfactory.services.library import Library
from artfactory.services.masks import MaskError, MaskSource, mask_source, save_mask
from artfactory.views import icons, theme
from artfactory.views.dialogs.mask_canvas import MaskCanvas, Tool

MAX_BRUSH = 1000
MAX_SLIDER = 400  # the slider covers the usual sizes finely; the box beside it goes up to MAX_BRUSH
MAX_FEATHER = 200
# For Help → Keyboard Shortcuts (the dialog's own actions carry the same keys; a test holds them together).
KEYS = [
    ("Brush / eraser", "B  /  E"),
    ("Erase while held", "Right-drag"),
    ("Straight line from the last point", "Shift+click"),
    ("Smaller / larger brush", "[  /  ]"),
    ("Invert / fill / clear the mask", "I  /  F  /  Del"),
    ("Undo / redo", "Ctrl+Z  /  Ctrl+Shift+Z, Ctrl+Y"),
    ("Fit / zoom in / zoom out", "0  /  +  /  −, or the mouse wheel"),
    ("Show or hide the mask", "H"),
    ("Pan", "Middle-drag"),
    ("Save the mask", "Ctrl+S"),
]
HINT = ("Paint the area to change. Right-drag erases · Shift+click draws a line · [ ] brush size · "
        "wheel zooms · middle-drag pans")


def load_upright(source: MaskSource) -> QImage:
    """The product's pixels as the viewer shows them (EXIF-turned), so the mask lines up with what runs see."""
    reader = QImageReader(str(source.path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise MaskError(f"product {source.id} cannot be read as an image ({reader.errorString()})")
    return image


class MaskPainterDialog(QDialog):
    """Brush, eraser, size, feather, invert, fill, clear, undo/redo and zoom over one image product; Save stores
    the mask as a product made from it (services.masks.save_mask)."""

    saved = pyqtSignal(str)  # the new mask product's id

    def __init__(self, library: Library, product_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.source = mask_source(library, product_id)  # MaskError: the caller says why it cannot open
        self.saved_id: str | None = None
        self.setWindowTitle(f"Paint Mask — {self.source.name}")
        self.setObjectName("MaskPainterDialog")
        self.canvas = MaskCanvas(load_upright(self.source))
        if self.source.start is not None:
            self.canvas.start_from(self.source.start)
        self._build()
        self.canvas.changed.connect(self._sync)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.resize(1000, 720)
        self._sync()

    # -- building --------------------------------------------------------------------------------
    def _action(self, icon: str, text: str, slot: object, *shortcuts: str, tip: str = "") -> QAction:
        action = QAction(icons.icon(icon) if icon else QIcon(), text, self)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        keys = " or ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in shortcuts)
        action.setToolTip(f"{tip or text} ({keys})" if keys else (tip or text))
        self.addAction(action)
        return action

    def _build(self) -> None:
        s = theme.SPACING
        layout = QVBoxLayout(self)
        layout.setContentsMargins(s, s, s, s)
        layout.setSpacing(s)
        bar = self.toolbar = QToolBar()
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools = QActionGroup(self)
        self.brush_action = self._action("brush", "Brush", lambda: self.set_tool(Tool.BRUSH), "B",
                                         tip="Brush: paint the area to change")
        self.eraser_action = self._action("eraser", "Eraser", lambda: self.set_tool(Tool.ERASER), "E",
                                          tip="Eraser: take area out of the mask")
        for action in (self.brush_action, self.eraser_action):
            action.setCheckable(True)
            tools.addAction(action)
            bar.addAction(action)
        self.brush_action.setChecked(True)
        bar.addSeparator()
        bar.addWidget(self._label("Size"))
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, MAX_SLIDER)
        self.size_slider.setFixedWidth(140)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, MAX_BRUSH)
        self.size_spin.setSuffix(" px")
        for widget in (self.size_slider, self.size_spin):
            widget.setValue(self.canvas.brush_size)
            widget.valueChanged.connect(self.set_brush_size)
            widget.setToolTip("Brush diameter in image pixels ([ smaller, ] larger)")
            bar.addWidget(widget)
        self._action("", "Smaller brush", lambda: self.set_brush_size(round(self.canvas.brush_size / 1.25)), "[")
        self._action("", "Larger brush", lambda: self.set_brush_size(round(self.canvas.brush_size * 1.25) + 1), "]")
        bar.addWidget(self._label("Feather"))
        self.feather_spin = QSpinBox()
        self.feather_spin.setRange(0, MAX_FEATHER)
        self.feather_spin.setSuffix(" px")
        self.feather_spin.setToolTip("Soften the mask's edge by this many pixels (shown here, saved with the mask)")
        self.feather_spin.valueChanged.connect(self.canvas.set_feather)
        bar.addWidget(self.feather_spin)
        bar.addSeparator()
        self.invert_action = self._action("", "Invert", self.canvas.invert, "I", tip="Swap inside and outside")
        self.fill_action = self._action("", "Fill", self.canvas.fill, "F", tip="Mask the whole image")
        self.clear_action = self._action("delete", "Clear", self.canvas.clear, "Delete", "Backspace",
                                         tip="Empty the mask")
        for action in (self.invert_action, self.fill_action, self.clear_action):
            bar.addAction(action)
        bar.addSeparator()
        self.undo_action = self._action("undo", "Undo", self.canvas.undo, "Ctrl+Z")
        self.redo_action = self._action("redo", "Redo", self.canvas.redo, "Ctrl+Shift+Z", "Ctrl+Y")
        for action in (self.undo_action, self.redo_action):
            bar.addAction(action)
        bar.addSeparator()
        self.fit_action = self._action("fit", "Fit", self.canvas.zoom_to_fit, "0", tip="Zoom to fit")
        self._action("", "Zoom in", lambda: self.canvas.zoom_by(1.25), "+", "=")
        self._action("", "Zoom out", lambda: self.canvas.zoom_by(0.8), "-")
        self.show_action = self._action("mask", "Show mask", self.canvas.set_show_mask, "H",
                                        tip="Show or hide the painted mask")
        self.show_action.setCheckable(True)
        self.show_action.setChecked(True)
        bar.addAction(self.fit_action)
        bar.addAction(self.show_action)
        self.zoom_label = self._label("")
        self.zoom_label.setMinimumWidth(48)
        bar.addWidget(self.zoom_label)
        layout.addWidget(bar)
        layout.addWidget(self.canvas, 1)

        footer = QHBoxLayout()
        self.hint = self._label(HINT)
        self.hint.setWordWrap(True)
        self.status = self._label("")
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {theme.STATUS_COLORS['invalid']}")
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        save.setText("Save Mask")
        save.setToolTip("Store the mask as a product made from this image (Ctrl+S)")
        self.save_button = save
        self._action("", "Save Mask", self.save, "Ctrl+S")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        footer.addWidget(self.hint, 1)
        footer.addWidget(self.status)
        footer.addWidget(self.error)
        footer.addWidget(self.buttons)
        layout.addLayout(footer)

    @staticmethod
    def _label(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("role", "dim")
        return label

    # -- behaviour -------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        (self.brush_action if tool is Tool.BRUSH else self.eraser_action).setChecked(True)

    def set_brush_size(self, size: int) -> None:
        size = max(1, min(MAX_BRUSH, int(size)))
        self.canvas.brush_size = size
        for widget in (self.size_slider, self.size_spin):
            if widget.value() != size:
                widget.blockSignals(True)
                widget.setValue(size)
                widget.blockSignals(False)
        self.canvas.update()

    def _sync(self) -> None:
        self.undo_action.setEnabled(self.canvas.can_undo())
        self.redo_action.setEnabled(self.canvas.can_redo())
        coverage = self.canvas.coverage()
        self.status.setText(f"{coverage * 100:.1f}% masked · {self.canvas.image.width()}×"
                            f"{self.canvas.image.height()}")
        self.save_button.setEnabled(coverage > 0)

    def save(self) -> None:
        """Store the mask (feathered as set) as a product made from the image; close on success."""
        if self.canvas.coverage() <= 0:
            self._show_error("The mask is empty: paint the area to change first")
            return
        try:
            self.saved_id = save_mask(self.library, self.source.id, self.canvas.mask_image(),
                                      feather=float(self.feather_spin.value()))
        except MaskError as exc:
            self._show_error(str(exc))
            return
        self.saved.emit(self.saved_id)
        self.accept()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)
