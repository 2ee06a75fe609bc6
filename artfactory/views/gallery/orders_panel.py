"""Order history: each run with its status, time and node counts; selecting one shows its graph and products."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.engine.status import NodeStatus
from artfactory.services import lineage
from artfactory.services.gallery import Gallery, OrderRow
from artfactory.views import icons, theme
from artfactory.views.widgets.flow_layout import FlowLayout

ORDER_ID = Qt.ItemDataRole.UserRole + 1


def local_time(value: datetime | None) -> str:
    """A stored UTC time as the user's local time, to the minute."""
    if value is None:
        return "—"
    return value.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def node_summary(counts: Mapping[NodeStatus, int]) -> str:
    """"5 nodes · 3 cached · 1 failed": the total, then every status other than executed."""
    total = sum(counts.values())
    parts = [f"{total} node{'s' if total != 1 else ''}"]
    parts += [f"{n} {status}" for status, n in sorted(counts.items()) if status != NodeStatus.EXECUTED and n]
    return " · ".join(parts)


class OrdersPanel(QWidget):
    """Orders newest first. Selecting one asks the gallery to show its products (order_selected)."""

    order_selected = pyqtSignal(str)  # order_id, "" when the selection is cleared
    open_graph_requested = pyqtSignal(str, str)  # order_id, node_id ("" = none in particular)
    rerun_requested = pyqtSignal(str)

    def __init__(self, gallery: Gallery, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.project_id: int | None = None
        s = theme.SPACING
        layout = QVBoxLayout(self)
        layout.setContentsMargins(s, s, s, s)
        layout.setSpacing(s)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.orders = QTreeWidget()
        self.orders.setHeaderLabels(["Order", "Started", "Nodes", "Products"])
        self.orders.setRootIsDecorated(False)
        self.orders.setUniformRowHeights(True)
        self.orders.setAlternatingRowColors(True)
        header = self.orders.header()
        assert header is not None
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.orders.currentItemChanged.connect(self._on_current)
        splitter.addWidget(self.orders)

        details = QWidget()
        box = QVBoxLayout(details)
        box.setContentsMargins(0, s, 0, 0)
        self.title = QLabel("Select an order to see its graph and products")
        self.title.setProperty("role", "heading")
        self.title.setWordWrap(True)
        self.info = QLabel()
        self.info.setProperty("role", "dim")
        self.info.setWordWrap(True)
        self.info.linkActivated.connect(self.select_order)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        box.addWidget(self.title)
        box.addWidget(self.info)
        self.nodes = QTreeWidget()
        self.nodes.setHeaderLabels(["Node", "Type", "Status", "Products"])
        self.nodes.setRootIsDecorated(False)
        self.nodes.itemDoubleClicked.connect(self._open_node)
        box.addWidget(self.nodes, 1)
        buttons = FlowLayout(spacing=s)  # wraps in a narrow pane rather than cutting the labels ("Open g")
        self.open_button = QPushButton(icons.icon("canvas"), "Open graph")
        self.open_button.clicked.connect(self._open_graph)
        self.rerun_button = QPushButton(icons.icon("run-branch"), "Re-run with tweaks")
        self.rerun_button.clicked.connect(self._rerun)
        self.clear_button = QPushButton("Show all")
        self.clear_button.setToolTip("Stop filtering the gallery by this order")
        self.clear_button.clicked.connect(self.clear_selection)
        for button in (self.open_button, self.rerun_button, self.clear_button):
            button.setEnabled(False)
            buttons.addWidget(button)
        box.addLayout(buttons)
        splitter.addWidget(details)
        splitter.setSizes([320, 280])
        layout.addWidget(splitter)

    @property
    def current(self) -> str | None:
        item = self.orders.currentItem()
        return item.data(0, ORDER_ID) if item is not None else None

    def refresh(self, project_id: int | None = None) -> None:
        """Reload the list, keeping the selected order selected."""
        self.project_id = project_id
        selected = self.current
        self.orders.blockSignals(True)
        self.orders.clear()
        for row in self.gallery.order_history(project_id):
            self.orders.addTopLevelItem(self._item(row))
        self.orders.blockSignals(False)
        if selected:
            self.select_order(selected, emit=False)

    @staticmethod
    def _item(row: OrderRow) -> QTreeWidgetItem:
        item = QTreeWidgetItem([row.name or row.id, local_time(row.started_at or row.created_at),
                                node_summary(row.node_counts), f"{row.products:,}"])
        item.setIcon(0, icons.dot(theme.STATUS_COLORS.get(row.status, theme.STATUS_COLORS[NodeStatus.PENDING])))
        item.setData(0, ORDER_ID, row.id)
        parent = f"\nre-run of {row.parent_order_id}" if row.parent_order_id else ""
        item.setToolTip(0, f"{row.id} · {row.status}{parent}")
        item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def select_order(self, order_id: str, emit: bool = True) -> bool:
        for index in range(self.orders.topLevelItemCount()):
            item = self.orders.topLevelItem(index)
            if item is not None and item.data(0, ORDER_ID) == order_id:
                if not emit:
                    self.orders.blockSignals(True)
                self.orders.setCurrentItem(item)
                self.orders.blockSignals(False)
                self._show(order_id)
                return True
        return False

    def _rerun(self) -> None:
        if self.current:
            self.rerun_requested.emit(self.current)

    def clear_selection(self) -> None:
        self.orders.setCurrentItem(None)

    def _on_current(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        order_id = current.data(0, ORDER_ID) if current is not None else None
        self._show(order_id)
        self.order_selected.emit(order_id or "")

    def _show(self, order_id: str | None) -> None:
        for button in (self.open_button, self.rerun_button, self.clear_button):
            button.setEnabled(order_id is not None)
        self.nodes.clear()
        if order_id is None:
            self.title.setText("Select an order to see its graph and products")
            self.info.clear()
            return
        with self.gallery.db.session() as session:
            try:
                detail = lineage.order_detail(self.gallery.library, session, order_id)
            except lineage.NotFound:
                self.title.setText("This order no longer exists")
                self.info.clear()
                return
        graph = detail.get("graph") or {}
        self.title.setText(detail.get("name") or graph.get("name") or order_id)
        parent = detail.get("parent_order_id")
        lines = [f"<b style='color:{theme.STATUS_COLORS.get(detail['status'], '#888')}'>{detail['status']}</b>"
                 f" · {order_id}",
                 f"{len(graph.get('nodes', []))} nodes, {len(graph.get('edges', []))} links"
                 f" · {len(detail.get('products', []))} products"]
        if parent:
            lines.append(f"re-run of <a href='{parent}'>{parent}</a>")
        if detail.get("error"):
            lines.append(f"<span style='color:{theme.STATUS_COLORS[NodeStatus.FAILED]}'>{detail['error']}</span>")
        self.info.setText("<br>".join(lines))
        types = {node["id"]: node.get("type", "") for node in graph.get("nodes", [])}
        for item in detail.get("items", []):
            row = QTreeWidgetItem([item["node_id"], types.get(item["node_id"], item.get("type", "")),
                                   item["status"], str(len(item.get("products") or []))])
            row.setIcon(2, icons.dot(theme.STATUS_COLORS.get(item["status"], theme.STATUS_COLORS[NodeStatus.PENDING])))
            if item.get("error"):
                row.setToolTip(2, item["error"])
            self.nodes.addTopLevelItem(row)
        for column in range(4):
            self.nodes.resizeColumnToContents(column)

    def _open_graph(self) -> None:
        if self.current:
            node = self.nodes.currentItem()
            self.open_graph_requested.emit(self.current, node.text(0) if node is not None else "")

    def _open_node(self, item: QTreeWidgetItem, _column: int) -> None:
        if self.current:
            self.open_graph_requested.emit(self.current, item.text(0))
