"""Editors for one param each, chosen by its kind: combo, spin boxes, checkbox, line, multi-line, JSON."""

from __future__ import annotations

import json
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QFocusEvent, QFontDatabase
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from artfactory.engine.nodetypes import Param
from artfactory.views.theme import set_style_property

INT_LIMIT = 2**31 - 1
COMMIT_DELAY_MS = 450  # typing pauses this long before a multi-line edit is committed
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff);;All files (*)"


class _PlainText(QPlainTextEdit):
    focus_lost = pyqtSignal()

    def focusOutEvent(self, event: QFocusEvent | None) -> None:
        super().focusOutEvent(event)
        self.focus_lost.emit()


class ParamField(QWidget):
    """An editor for one param; `edited` carries a value of the param's type (never a half-typed one)."""

    edited = pyqtSignal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self._loading = False
        self._timer: QTimer | None = None
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.editor = self._build()
        self.editor.setToolTip(param.doc)
        layout.addWidget(self.editor)
        layout.addWidget(self.error)

    # --- building -------------------------------------------------------------------------------
    def _build(self) -> QWidget:
        p = self.param
        if p.kind == "choice" or (p.choices and p.kind == "string"):
            combo = QComboBox()
            combo.addItems(list(p.choices))
            combo.currentTextChanged.connect(self._emit)
            return combo
        if p.kind == "int" and p.choices:  # a numeric enum from a provider schema
            combo = QComboBox()
            combo.addItems(list(p.choices))
            combo.currentTextChanged.connect(self._on_number_choice)
            return combo
        if p.kind == "int":
            spin = QSpinBox()
            spin.setRange(int(p.minimum) if p.minimum is not None else -INT_LIMIT,
                          int(p.maximum) if p.maximum is not None else INT_LIMIT)
            if p.minimum == -1:
                spin.setSpecialValueText("random")  # -1 is "pick a seed" (DESIGN §4)
            self._spin_common(spin)
            spin.valueChanged.connect(self._emit)
            return spin
        if p.kind == "float":
            dspin = QDoubleSpinBox()
            low = p.minimum if p.minimum is not None else -1e9
            high = p.maximum if p.maximum is not None else 1e9
            dspin.setDecimals(3 if high - low <= 2 else 2)
            dspin.setRange(low, high)
            dspin.setSingleStep(0.05 if high - low <= 2 else 0.1)
            self._spin_common(dspin)
            dspin.valueChanged.connect(self._emit)
            return dspin
        if p.kind == "bool":
            check = QCheckBox()
            check.toggled.connect(self._emit)
            return check
        if p.kind in ("text", "object"):
            text = _PlainText()
            text.setTabChangesFocus(True)
            if p.kind == "object":
                text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
                text.setPlaceholderText("{ }  JSON object")
            text.setMinimumHeight(84 if p.kind == "text" else 96)
            text.setMaximumHeight(180)
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setInterval(COMMIT_DELAY_MS)
            self._timer.timeout.connect(self._commit_text)
            text.textChanged.connect(self._on_text_changed)
            text.focus_lost.connect(self._commit_text)
            return text
        line = QLineEdit()
        line.editingFinished.connect(self._on_line_finished)
        self._line = line
        if p.kind != "path":
            return line
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(line, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        return box

    def _spin_common(self, spin: QAbstractSpinBox) -> None:
        spin.setKeyboardTracking(False)  # commit 640, not 6, 64 and 640
        spin.setAccelerated(True)
        spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel must scroll the panel, not change values

    def _browse(self) -> None:
        if self.param.name == "folder":  # input.folder: a folder, not a file
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", self._line.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose {self.param.name}", self._line.text(), IMAGE_FILTER)
        if path:
            self._line.setText(path)
            self._emit(path)

    def _on_number_choice(self, text: str) -> None:
        if text:
            self._emit(int(text))

    def _on_text_changed(self) -> None:
        if not self._loading and self._timer is not None:
            self._timer.start()

    def _on_line_finished(self) -> None:
        self._emit(self._line.text())

    # --- values -----------------------------------------------------------------------------------
    def set_value(self, value: Any) -> None:
        """Show a value without reporting it as an edit."""
        self._loading = True
        try:
            editor = self.editor
            if isinstance(editor, QComboBox):
                text = str(value) if value is not None else ""
                if editor.findText(text) < 0 and text:
                    editor.addItem(text)
                editor.setCurrentText(text)
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value) if isinstance(value, int | float) else editor.minimum())
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value) if isinstance(value, int | float) else editor.minimum())
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QPlainTextEdit):
                text = json.dumps(value or {}, indent=2, ensure_ascii=False) if self.param.kind == "object" \
                    else str(value or "")
                if editor.toPlainText() != text and not (self.param.kind == "object" and self._same_json(text)):
                    editor.setPlainText(text)
                self._show_error("")
            elif isinstance(editor, QLineEdit):
                editor.setText("" if value is None else str(value))
            else:
                self._line.setText("" if value is None else str(value))
        finally:
            self._loading = False

    def _same_json(self, text: str) -> bool:
        try:
            return bool(json.loads(self.editor.toPlainText()) == json.loads(text))  # type: ignore[attr-defined]
        except ValueError:
            return False

    def _emit(self, value: Any) -> None:
        if not self._loading:
            self.edited.emit(value)

    def _commit_text(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._loading:
            return
        text = self.editor.toPlainText()  # type: ignore[attr-defined]
        if self.param.kind != "object":
            self._emit(text)
            return
        try:
            value = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            self._show_error(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            return
        if not isinstance(value, dict):
            self._show_error("Must be a JSON object: { \"key\": value, … }")
            return
        self._show_error("")
        self._emit(value)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        set_style_property(self.editor, "invalid", bool(message))
