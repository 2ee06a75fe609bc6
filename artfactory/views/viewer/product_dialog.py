"""A product and its lineage: the image beside the prompt, seed, provider, params and the order that made it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSize, Qt, QUrl
from PyQt6.QtGui import QDesktopServices, QPixmap, QResizeEvent
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from artfactory.views import icons, theme


class _Image(QLabel):
    """Scales its pixmap to fit while keeping the aspect ratio."""

    def __init__(self, pixmap: QPixmap) -> None:
        super().__init__()
        self._pixmap = pixmap
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet(f"background: {theme.colors().base}; border-radius: 6px;")
        if pixmap.isNull():
            self.setText("No preview for this product")

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if not self._pixmap.isNull():
            ratio = self.devicePixelRatioF()
            size = QSize(int(self.width() * ratio) - 8, int(self.height() * ratio) - 8)
            scaled = self._pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
            scaled.setDevicePixelRatio(ratio)
            self.setPixmap(scaled)


class ProductDialog(QDialog):
    """Shown when a thumbnail in a node is clicked."""

    def __init__(self, detail: dict[str, Any], image: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail = detail
        self.setWindowTitle(f"Product {detail['id']} — Art Factory")
        self.resize(980, 640)
        pixmap = QPixmap(str(image)) if image else QPixmap()
        self.image = _Image(pixmap)

        info = QWidget()
        form = QFormLayout(info)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        size = f"{detail.get('width')} × {detail.get('height')}" if detail.get("width") else "—"
        rows = [
            ("Prompt", detail.get("prompt") or "—"),
            ("Seed", "—" if detail.get("seed") is None else str(detail["seed"])),
            ("Provider", " / ".join(x for x in (detail.get("provider"), detail.get("model")) if x) or "—"),
            ("Size", f"{size}  ·  {detail.get('media_type', '')}  ·  {_bytes(detail.get('size_bytes'))}"),
            ("Node", f"{detail.get('node_id') or '—'}  ({detail.get('node_type') or '—'})"),
            ("Order", f"{detail.get('order_id') or '—'}  ·  {detail.get('order_status') or ''}"),
            ("Parent order", detail.get("parent_order_id") or "—"),
            ("Created", detail.get("created_at") or "—"),
            ("Collections", ", ".join(detail.get("collections") or []) or "—"),
        ]
        for label, value in rows:
            field = QLabel(str(value))
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", field)
        params = QPlainTextEdit(json.dumps(detail.get("params") or {}, indent=2, ensure_ascii=False))
        params.setReadOnly(True)
        params.setMaximumHeight(200)
        form.addRow("Params:", params)
        info.setMinimumWidth(340)

        body = QHBoxLayout()
        body.addWidget(self.image, 3)
        body.addWidget(info, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        reveal = QPushButton(icons.icon("folder-reveal"), "Show file")
        reveal.setToolTip(str(detail.get("path", "")))
        reveal.clicked.connect(self._reveal)
        buttons.addButton(reveal, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)

    def _reveal(self) -> None:
        path = Path(self.detail.get("path", ""))
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def _bytes(size: Any) -> str:
    if not isinstance(size, int):
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)
