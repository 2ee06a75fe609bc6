"""Templates: a browser (shipped graphs and the user's own) and the save-as-template dialog."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.app_controller import AppController
from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.layout import layered_positions
from artfactory.engine.document import GraphDocument
from artfactory.services.templates import TemplateError
from artfactory.views import theme

CARD = QSize(220, 150)
PREVIEW = QSize(300, 200)
ITEM_ROLE = Qt.ItemDataRole.UserRole


def schematic(doc: GraphDocument, size: QSize = CARD) -> QPixmap:
    """A miniature of the graph: family-coloured boxes and links, laid out like the canvas would."""
    ratio = 2.0
    pixmap = QPixmap(int(size.width() * ratio), int(size.height() * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(QColor(*theme.colors().canvas))
    positions = layered_positions(doc, {})
    if not positions:
        return pixmap
    xs, ys = [p[0] for p in positions.values()], [p[1] for p in positions.values()]
    span_w, span_h = max(xs) - min(xs) + 220, max(ys) - min(ys) + 120
    scale = min((size.width() - 28) / span_w, (size.height() - 28) / span_h, 0.6)
    off_x = (size.width() - span_w * scale) / 2 - min(xs) * scale
    off_y = (size.height() - span_h * scale) / 2 - min(ys) * scale
    boxes = {n: QRectF(x * scale + off_x, y * scale + off_y, 220 * scale, 100 * scale)
             for n, (x, y) in positions.items()}
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(140, 180, 225, 190), max(1.2, 5 * scale)))
    for edge in doc.edges:
        a, b = boxes.get(edge.source), boxes.get(edge.target)
        if a and b:
            start, end = QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y())
            path = QPainterPath(start)
            mid = (start.x() + end.x()) / 2
            path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
            painter.drawPath(path)
    for spec in doc.nodes:
        box = boxes[spec.id]
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.NODE_BODY))
        painter.drawRoundedRect(box, 3, 3)
        painter.setBrush(theme.family_color(spec.type.split(".", 1)[0]))
        painter.drawRoundedRect(QRectF(box.x(), box.y(), box.width(), box.height() * 0.3), 3, 3)
    painter.end()
    return pixmap


class TemplateBrowser(QDialog):
    """Pick a template; `chosen` holds the new (unsaved) graph after Open."""

    def __init__(self, app: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.chosen: GraphController | None = None
        self.setWindowTitle("Templates — Art Factory")
        self.resize(900, 560)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(CARD)
        self.list.setGridSize(QSize(CARD.width() + 22, CARD.height() + 44))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setSpacing(6)
        self.list.currentItemChanged.connect(self._show_details)
        self.list.itemActivated.connect(self._open)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setProperty("role", "heading")
        self.title.setWordWrap(True)
        self.meta = QLabel()
        self.meta.setProperty("role", "dim")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop)
        details = QVBoxLayout()
        details.addWidget(self.preview)
        details.addSpacing(theme.SPACING)
        details.addWidget(self.title)
        details.addWidget(self.meta)
        details.addSpacing(theme.SPACING)
        details.addWidget(self.description, 1)
        panel = QWidget()
        panel.setLayout(details)
        panel.setFixedWidth(PREVIEW.width() + 16)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addWidget(panel)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = QPushButton("Open in new tab")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self._open)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        self.buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for item in self.app.templates():
            entry = QListWidgetItem(item["name"])
            entry.setData(ITEM_ROLE, item)
            preview = self.app.template_preview(item)
            if preview is not None:
                entry.setIcon(QIcon(_cover(QPixmap(str(preview)))))
            else:
                try:
                    entry.setIcon(QIcon(schematic(self.app.template_document(item))))
                except TemplateError:
                    continue
            entry.setToolTip(item.get("description") or item["name"])
            self.list.addItem(entry)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._show_details(None, None)

    def _item(self) -> dict[str, Any] | None:
        current = self.list.currentItem()
        return current.data(ITEM_ROLE) if current is not None else None

    def _show_details(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        item = current.data(ITEM_ROLE) if current is not None else None
        self.open_button.setEnabled(item is not None)
        self.delete_button.setEnabled(bool(item and item["source"] == "user"))
        self.preview.setPixmap(self._preview(item) if item else QPixmap())
        if item is None:
            self.title.setText("No templates yet")
            self.meta.setText("")
            self.description.setText("Save a graph with File → Save as Template to see it here.")
            return
        source = "Shipped with Art Factory" if item["source"] == "shipped" else "Your template"
        self.title.setText(item["name"])
        self.meta.setText(f"{source}  ·  {item['nodes']} node{'s' if item['nodes'] != 1 else ''}")
        self.description.setText(item.get("description") or "No description.")

    def _preview(self, item: dict[str, Any]) -> QPixmap:
        image = self.app.template_preview(item)
        if image is not None:
            return _cover(QPixmap(str(image)), PREVIEW)
        try:
            return schematic(self.app.template_document(item), PREVIEW)
        except TemplateError:
            return QPixmap()

    def _open(self, *_args: object) -> None:
        item = self._item()
        if item is None:
            return
        try:
            self.chosen = self.app.instantiate(item["name"])
        except TemplateError as exc:
            QMessageBox.warning(self, "Template", str(exc))
            return
        self.accept()

    def _delete(self) -> None:
        item = self._item()
        if item is None or item["source"] != "user":
            return
        answer = QMessageBox.question(self, "Delete template", f"Delete the template “{item['name']}”?")
        if answer == QMessageBox.StandardButton.Yes:
            self.app.delete_template(item["name"])
            self.reload()


def _cover(source: QPixmap, size: QSize = CARD) -> QPixmap:
    """A preview image cropped to fill the card."""
    ratio = 2.0
    target = QSize(int(size.width() * ratio), int(size.height() * ratio))
    scaled = source.scaled(target, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                           Qt.TransformationMode.SmoothTransformation)
    x, y = (scaled.width() - target.width()) // 2, (scaled.height() - target.height()) // 2
    cropped = scaled.copy(x, y, target.width(), target.height())
    cropped.setDevicePixelRatio(ratio)
    return cropped


class SaveTemplateDialog(QDialog):
    """Name, description and (optionally) the graph's first product as the preview."""

    def __init__(self, app: AppController, graph: GraphController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app, self.graph = app, graph
        self.saved: dict[str, Any] | None = None
        self.setWindowTitle("Save as Template")
        self.name = QLineEdit(graph.doc.name if graph.doc.name != "Untitled" else graph.title().removesuffix(".json"))
        self.description = QPlainTextEdit(str(graph.doc.meta.get("description", "")))
        self.description.setPlaceholderText("What this graph makes, and what to change first")
        self.description.setMaximumHeight(90)
        self.first = app.first_product(graph)
        self.use_preview = QCheckBox("Use the first product of the last run as the preview")
        self.preview = QLabel()
        if self.first and self.first[1].is_file():
            self.use_preview.setChecked(True)
            self.preview.setPixmap(_cover(QPixmap(str(self.first[1])), QSize(160, 110)))
        else:
            self.use_preview.setEnabled(False)
            self.use_preview.setText("Run the graph to use its first product as the preview")
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("Description:", self.description)
        form.addRow("", self.use_preview)
        form.addRow("", self.preview)
        self.error = QLabel()
        self.error.setProperty("role", "error")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(520, 340)

    def _save(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.error.setText("A template needs a name.")
            return
        existing = [t for t in self.app.templates() if t["source"] == "user" and t["name"] == name]
        if existing and QMessageBox.question(self, "Replace template", f"Replace your template “{name}”?") \
                != QMessageBox.StandardButton.Yes:
            return
        preview = self.first[0] if self.first and self.use_preview.isChecked() else None
        try:
            self.saved = self.app.save_template(self.graph, name, self.description.toPlainText().strip(), preview)
        except TemplateError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
