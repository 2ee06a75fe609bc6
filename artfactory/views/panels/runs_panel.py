"""The runs panel: the queue, then orders (this session's and recent ones) with per-node status, progress, Cancel."""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtCore import QModelIndex, QRect, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QDropEvent, QPainter
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.run_controller import ACTIVE, NodeRow, OrderInfo, RunController
from artfactory.engine.status import NodeStatus, OrderStatus
from artfactory.views import icons, theme

ORDER_ROLE = Qt.ItemDataRole.UserRole
NODE_ROLE = Qt.ItemDataRole.UserRole + 1
PERCENT_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3


class _ProgressDelegate(QStyledItemDelegate):
    """A slim bar in the status colour; cheaper than a widget per row."""

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if painter is None:
            return
        percent = index.data(PERCENT_ROLE)
        if percent is None:
            return super().paint(painter, option, index)
        status = index.data(STATUS_ROLE) or NodeStatus.PENDING.value
        rect: QRect = option.rect.adjusted(6, option.rect.height() // 2 - 3, -6, -(option.rect.height() // 2 - 3))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.colors().border))
        painter.drawRoundedRect(rect, 3, 3)
        done = rect.adjusted(0, 0, -int(rect.width() * (1 - max(0.0, min(1.0, percent / 100)))), 0)
        painter.setBrush(theme.status_color(status))
        if done.width() > 0:
            painter.drawRoundedRect(done, 3, 3)
        painter.restore()


class _QueueList(QListWidget):
    """The queued orders; drag one to another place and `reordered` says the new order of ids."""

    reordered = pyqtSignal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

    def order_ids(self) -> list[str]:
        return [item.data(ORDER_ROLE) for i in range(self.count()) if (item := self.item(i)) is not None]

    def dropEvent(self, event: QDropEvent | None) -> None:
        super().dropEvent(event)
        self.reordered.emit(self.order_ids())


class QueueSection(QWidget):
    """The library's queue (shared with `artfactory queue`): count badge, pause/resume, reorder, remove."""

    def __init__(self, runs: RunController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueueSection")
        self.queue = runs.queue
        self.title = QLabel("Queue")
        self.badge = QLabel("0")
        self.badge.setObjectName("QueueBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumWidth(22)
        self.pause_button = QPushButton()
        self.pause_button.clicked.connect(self.toggle_pause)
        self.list = _QueueList()
        self.list.setMaximumHeight(120)
        self.list.reordered.connect(self.queue.reorder)
        self.list.currentItemChanged.connect(self._update_buttons)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.writable = not runs.library.read_only  # a read-only library shows its queue but cannot change it
        self.up_button = QPushButton(icons.icon("arrow-up"), "")
        self.up_button.setToolTip("Run the selected order earlier")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton(icons.icon("arrow-down"), "")
        self.down_button.setToolTip("Run the selected order later")
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        for arrow in (self.up_button, self.down_button):
            arrow.setMaximumWidth(34)
        self.remove_button = QPushButton(icons.icon("delete"), "Remove")
        self.remove_button.setToolTip("Take the selected order out of the queue (it never runs)")
        self.remove_button.clicked.connect(self.remove_selected)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addStretch(1)
        for button in (self.up_button, self.down_button, self.remove_button, self.pause_button):
            head.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(theme.SPACING // 2)
        layout.addLayout(head)
        layout.addWidget(self.list)
        self.queue.changed.connect(self.show_queue)
        self.show_queue()

    def show_queue(self) -> None:
        entries = self.queue.entries
        selected = self.selected()
        self.list.clear()
        for entry in entries:
            item = QListWidgetItem(f"{entry.position}. {entry.name}")
            item.setData(ORDER_ROLE, entry.order_id)
            item.setToolTip(f"order {entry.order_id} · queued {entry.created_at.replace('T', ' ')}"
                            + ("" if self.queue.is_mine(entry.order_id) else " (added elsewhere, e.g. the CLI)"))
            item.setIcon(icons.dot(theme.STATUS_COLORS[OrderStatus.QUEUED]))
            self.list.addItem(item)
            if entry.order_id == selected:
                self.list.setCurrentItem(item)
        self.badge.setText(str(len(entries)))
        c = theme.colors()
        fill, ink = (c.accent, c.accent_text) if entries else (c.border, c.dim)
        self.badge.setStyleSheet(f"QLabel#QueueBadge {{ background: {fill}; color: {ink}; border-radius: 8px; "
                                 "padding: 0 6px; font-weight: 600; }")
        self.badge.setToolTip(f"{len(entries)} order{'s' if len(entries) != 1 else ''} queued")
        paused = self.queue.paused
        self.title.setText("Queue (paused)" if paused else "Queue")
        self.pause_button.setIcon(icons.icon("run" if paused else "pause"))
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Let queued orders start again" if paused
                                     else "Start no more queued orders (running ones finish)")
        self.list.setVisible(bool(entries))
        self._update_buttons()

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ORDER_ROLE) if item is not None else None

    def _update_buttons(self, *_args: object) -> None:
        row = self.list.currentRow() if self.selected() and self.writable else -1
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.list.count() - 1)
        self.pause_button.setEnabled(self.writable)
        self.list.setDragEnabled(self.writable)
        for button in (self.up_button, self.down_button, self.remove_button):
            button.setVisible(self.list.count() > 0)

    def toggle_pause(self) -> None:
        self.queue.set_paused(not self.queue.paused)

    def move_selected(self, step: int) -> None:
        order_id = self.selected()
        if order_id is not None:
            self.queue.move(order_id, self.list.currentRow() + 1 + step)

    def remove_selected(self) -> None:
        order_id = self.selected()
        if order_id is not None:
            self.queue.remove(order_id)

    def _menu(self, pos: Any) -> None:
        item = self.list.itemAt(pos)
        if item is None or not self.writable:
            return
        order_id = item.data(ORDER_ROLE)
        menu = QMenu(self)
        menu.addAction("Run next", lambda: self.queue.move(order_id, 1))
        menu.addAction("Run last", lambda: self.queue.move(order_id, len(self.queue.entries)))
        menu.addSeparator()
        menu.addAction("Remove from the queue", lambda: self.queue.remove(order_id))
        viewport = self.list.viewport()
        assert viewport is not None  # a scroll area always has its viewport; the stubs mark it optional
        menu.exec(viewport.mapToGlobal(pos))


class RunsPanel(QWidget):
    node_requested = pyqtSignal(str, str)  # order id, node id: show it on the canvas

    def __init__(self, runs: RunController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RunsPanel")
        self.runs = runs
        self._items: dict[str, QTreeWidgetItem] = {}
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Order / node", "Status", "Progress"])
        header = self.tree.header()
        assert header is not None  # a tree always has its header; PyQt's stubs mark every pointer result optional
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(2, 90)
        header.setStretchLastSection(False)
        self.tree.setItemDelegateForColumn(2, _ProgressDelegate(self.tree))
        self.tree.setUniformRowHeights(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemExpanded.connect(self._expanded)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.currentItemChanged.connect(self._update_buttons)
        self.cancel_button = QPushButton(icons.icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Cancel the selected order, or just the selected node")
        self.cancel_button.clicked.connect(self.cancel_selected)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        s = theme.SPACING
        layout.setContentsMargins(s, s, s, s)
        layout.setSpacing(s)
        self.queue_section = QueueSection(runs)
        layout.addWidget(self.queue_section)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        runs.order_added.connect(self._on_order_added)
        runs.history_added.connect(lambda order_id: self._add_order(runs.orders[order_id], at_top=True))
        runs.order_changed.connect(self._on_order_changed)
        runs.node_changed.connect(self._on_node_changed)
        for order_id in runs.load_history():
            self._add_order(runs.orders[order_id], at_top=False)
        self._update_buttons()

    # --- items ------------------------------------------------------------------------------------
    def _add_order(self, info: OrderInfo, at_top: bool) -> QTreeWidgetItem:
        old = self._items.pop(info.order_id, None)
        if old is not None:  # a history order resumed in this session: one row, the live one
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(old))
        item = QTreeWidgetItem()
        item.setData(0, ORDER_ROLE, info.order_id)
        item.setIcon(0, icons.icon("orders"))
        if info.history:
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        if at_top:
            self.tree.insertTopLevelItem(0, item)
        else:
            self.tree.addTopLevelItem(item)
        self._items[info.order_id] = item
        self._show_order(info)
        return item

    def _show_order(self, info: OrderInfo) -> None:
        item = self._items.get(info.order_id)
        if item is None:
            return
        when = time.strftime("%H:%M:%S" if time.time() - info.created < 86400 else "%d %b %H:%M",
                             time.localtime(info.created))
        item.setText(0, f"{info.name}  ·  {when}")
        item.setToolTip(0, f"order {info.order_id}")
        self._status_cells(item, info.status)
        total = len(info.nodes)
        if total:
            item.setData(2, PERCENT_ROLE, 100.0 * info.done / total)
            item.setData(2, STATUS_ROLE, info.status.value)
        for node_id, node in info.nodes.items():
            self._show_node(info.order_id, node_id, node)

    def _show_node(self, order_id: str, node_id: str, node: NodeRow) -> None:
        parent = self._items.get(order_id)
        if parent is None:
            return
        children = (parent.child(i) for i in range(parent.childCount()))
        child = next((c for c in children if c is not None and c.data(0, NODE_ROLE) == node_id), None)
        if child is None:
            child = QTreeWidgetItem([node_id])
            child.setData(0, ORDER_ROLE, order_id)
            child.setData(0, NODE_ROLE, node_id)
            parent.addChild(child)
        self._status_cells(child, node.status)
        child.setData(2, PERCENT_ROLE, node.percent)
        child.setData(2, STATUS_ROLE, node.status.value)
        tip = node.error or node.message
        child.setToolTip(0, tip)
        child.setToolTip(1, tip)

    @staticmethod
    def _status_cells(item: QTreeWidgetItem, status: NodeStatus | OrderStatus) -> None:
        item.setText(1, status.value)
        item.setIcon(1, icons.dot(theme.STATUS_COLORS[status]))

    # --- run controller -> items --------------------------------------------------------------------------
    def _on_order_added(self, order_id: str) -> None:
        item = self._add_order(self.runs.orders[order_id], at_top=True)
        item.setExpanded(True)
        self.tree.setCurrentItem(item)
        self._update_buttons()

    def _on_order_changed(self, order_id: str) -> None:
        info = self.runs.orders.get(order_id)
        if info is not None:
            self._show_order(info)
        self._update_buttons()

    def _on_node_changed(self, order_id: str, node_id: str) -> None:
        info = self.runs.orders.get(order_id)
        if info is None or node_id not in info.nodes:
            return
        self._show_node(order_id, node_id, info.nodes[node_id])
        item = self._items.get(order_id)
        if item is not None and info.nodes:
            item.setData(2, PERCENT_ROLE, 100.0 * info.done / len(info.nodes))

    def _expanded(self, item: QTreeWidgetItem) -> None:
        order_id = item.data(0, ORDER_ROLE)
        if order_id and item.parent() is None and item.childCount() == 0:
            self.runs.load_items(order_id)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.node_requested.emit(item.data(0, ORDER_ROLE), node_id)

    # --- cancel -------------------------------------------------------------------------------------------
    def _selection(self) -> tuple[str | None, str | None]:
        item = self.tree.currentItem()
        if item is None:
            return None, None
        return item.data(0, ORDER_ROLE), item.data(0, NODE_ROLE)

    def _update_buttons(self, *_args: object) -> None:
        order_id, _node = self._selection()
        info = self.runs.orders.get(order_id) if order_id else None
        self.cancel_button.setEnabled(bool(info and info.status in ACTIVE))

    def cancel_selected(self) -> None:
        order_id, node_id = self._selection()
        if not order_id:
            return
        if node_id:
            self.runs.cancel_node(order_id, node_id)
        else:
            self.runs.cancel(order_id)

    def _menu(self, pos: Any) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        order_id, node_id = item.data(0, ORDER_ROLE), item.data(0, NODE_ROLE)
        info = self.runs.orders.get(order_id)
        if info is None or info.status not in ACTIVE:
            return
        menu = QMenu(self)
        if node_id:
            menu.addAction(f"Cancel node {node_id}", lambda: self.runs.cancel_node(order_id, node_id))
        menu.addAction("Cancel order", lambda: self.runs.cancel(order_id))
        viewport = self.tree.viewport()
        assert viewport is not None  # a scroll area always has its viewport; the stubs mark it optional
        menu.exec(viewport.mapToGlobal(pos))
