"""Compare two products: side by side (zoom and pan linked) over a table of what changed between them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.engine.status import OrderStatus
from artfactory.services.gallery import ChangeKind, Gallery, ProductDiff, ValueChange
from artfactory.services.library import Library
from artfactory.services.product_records import ProductLineage
from artfactory.services.thumbnails import thumbnail_path
from artfactory.views import theme
from artfactory.views.viewer.media import ImageView

KIND_COLORS = {ChangeKind.ADDED: theme.STATUS_COLORS[OrderStatus.SUCCEEDED],
               ChangeKind.REMOVED: theme.STATUS_COLORS[OrderStatus.FAILED],
               ChangeKind.CHANGED: theme.STATUS_COLORS[OrderStatus.PARTIAL]}
FIELD_LABELS = {"prompt": "Prompt", "seed": "Seed", "provider": "Provider", "model": "Model", "node_id": "Node",
                "node_type": "Node type", "media_type": "Media", "width": "Width", "height": "Height",
                "size_bytes": "File size", "order_id": "Order", "created_at": "Created"}


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, default=str)


class _Pane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setProperty("role", "dim")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = ImageView()
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def show_product(self, library: Library, detail: ProductLineage, letter: str) -> None:
        size = f"{detail.width}×{detail.height}" if detail.width else detail.media_type
        self.title.setText(f"<b>{letter}</b>  {detail.name or detail.id} · {size} · {detail.id}")
        path = Path(detail.path)
        if detail.media_type == "video":  # its poster frame, when one was made
            path = thumbnail_path(library.home, "large", detail.id)
        if not self.view.load(path):
            self.title.setText(self.title.text() + "  (no preview)")


class CompareWidget(QWidget):
    """Two products side by side; the table below lists product fields, params and graph changes."""

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.gallery = Gallery(library)
        self.diff: ProductDiff | None = None
        self._ids: tuple[str, str] | None = None
        self._syncing = False
        layout = QVBoxLayout(self)
        s = theme.SPACING
        layout.setContentsMargins(s, s, s, s)
        outer = QSplitter(Qt.Orientation.Vertical)
        sides = QSplitter(Qt.Orientation.Horizontal)
        self.left, self.right = _Pane(), _Pane()
        sides.addWidget(self.left)
        sides.addWidget(self.right)
        outer.addWidget(sides)
        table = QWidget()
        table_layout = QVBoxLayout(table)
        table_layout.setContentsMargins(0, s, 0, 0)
        row = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setProperty("role", "heading")
        row.addWidget(self.summary, 1)
        self.link = QCheckBox("Link zoom and pan")
        self.link.setChecked(True)
        row.addWidget(self.link)
        self.swap_button = QPushButton("Swap A and B")
        self.swap_button.clicked.connect(self.swap)
        row.addWidget(self.swap_button)
        table_layout.addLayout(row)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["What changed", "A", "B"])
        self.table.setAlternatingRowColors(True)
        header = self.table.header()
        assert header is not None
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table_layout.addWidget(self.table)
        outer.addWidget(table)
        outer.setSizes([520, 300])
        layout.addWidget(outer)
        self._link_views()

    def _link_views(self) -> None:
        a, b = self.left.view, self.right.view
        for source, target in ((a, b), (b, a)):
            source.zoom_changed.connect(lambda zoom, t=target, s=source: self._sync_zoom(s, t))
            for bar, other in ((source.horizontalScrollBar(), target.horizontalScrollBar()),
                               (source.verticalScrollBar(), target.verticalScrollBar())):
                if bar is not None and other is not None:
                    bar.valueChanged.connect(lambda value, o=other: self._sync_scroll(o, value))

    def _sync_zoom(self, source: ImageView, target: ImageView) -> None:
        if self._syncing or not self.link.isChecked():
            return
        self._syncing = True
        if source.fitting:
            target.fit()
        else:
            target.set_zoom(source.zoom)
        self._syncing = False

    def _sync_scroll(self, bar: Any, value: int) -> None:
        if self._syncing or not self.link.isChecked():
            return
        self._syncing = True
        bar.setValue(value)
        self._syncing = False

    def set_products(self, a_id: str, b_id: str) -> ProductDiff:
        diff = self.gallery.diff_products(a_id, b_id)
        self.diff = diff
        self._ids = (a_id, b_id)
        self.left.show_product(self.library, diff.a, "A")
        self.right.show_product(self.library, diff.b, "B")
        self._fill(diff)
        return diff

    def swap(self) -> None:
        if self._ids:
            self.set_products(self._ids[1], self._ids[0])

    def _fill(self, diff: ProductDiff) -> None:
        self.table.clear()
        changes = len(diff.fields) + len(diff.params) + len(diff.nodes) + len(diff.edges_added) \
            + len(diff.edges_removed)
        self.summary.setText("No differences" if not changes else
                             f"{changes} difference{'s' if changes != 1 else ''}"
                             + (" · same graph" if diff.same_graph else ""))
        product = self._section("Product")
        for change in diff.fields:
            self._change(product, change, FIELD_LABELS.get(change.key, change.key))
        params = self._section("Params of the producing node")
        for change in diff.params:
            self._change(params, change)
        graph = self._section("Graph snapshot")
        for node in diff.nodes:
            item = QTreeWidgetItem([f"{node.node_id} ({node.node_type})", "" if node.kind == ChangeKind.ADDED
                                    else node.kind.value, "" if node.kind == ChangeKind.REMOVED else node.kind.value])
            item.setForeground(0, QBrush(QColor(KIND_COLORS[node.kind])))
            graph.addChild(item)
            for change in node.params:
                self._change(item, change)
        for edge in diff.edges_added:
            self._change(graph, ValueChange(f"link {edge}", ChangeKind.ADDED, None, "added"))
        for edge in diff.edges_removed:
            self._change(graph, ValueChange(f"link {edge}", ChangeKind.REMOVED, "present", None))
        for section in (product, params, graph):
            if section.childCount() == 0:
                empty = QTreeWidgetItem(["No differences", "", ""])
                empty.setForeground(0, QBrush(QColor(theme.colors().dim)))
                section.addChild(empty)
        self.table.expandAll()

    def _section(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title, "", ""])
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setFirstColumnSpanned(False)
        self.table.addTopLevelItem(item)
        return item

    @staticmethod
    def _change(parent: QTreeWidgetItem, change: ValueChange, label: str | None = None) -> None:
        item = QTreeWidgetItem([label or change.key, _text(change.before), _text(change.after)])
        color = QBrush(QColor(KIND_COLORS[change.kind]))
        item.setForeground(0, color)
        for column in (1, 2):
            item.setToolTip(column, item.text(column))
        parent.addChild(item)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(section, what, a, b) for every leaf: what tests and screen readers see."""
        out = []
        for i in range(self.table.topLevelItemCount()):
            section = self.table.topLevelItem(i)
            if section is None:
                continue
            stack = [child for child in (section.child(j) for j in range(section.childCount())) if child]
            while stack:
                item = stack.pop(0)
                out.append((section.text(0), item.text(0), item.text(1), item.text(2)))
                stack += [c for c in (item.child(k) for k in range(item.childCount())) if c]
        return out


class CompareDialog(QDialog):
    def __init__(self, library: Library, a_id: str, b_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare products")
        self.resize(1200, 820)
        layout = QVBoxLayout(self)
        self.compare = CompareWidget(library)
        layout.addWidget(self.compare, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.compare.set_products(a_id, b_id)
