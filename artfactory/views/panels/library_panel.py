"""The node library: every registered node type by family, searchable, dragged or double-clicked onto the canvas."""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import QMimeData, Qt, pyqtSignal
from PyQt6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from artfactory.engine.registry import NodeRegistry
from artfactory.views import icons, theme
from artfactory.views.canvas.gestures import NODES_MIME
from artfactory.views.canvas.node_classes import ng_type_name

TYPE_ROLE = Qt.ItemDataRole.UserRole
FAMILY_TITLES = {"prompt": "Prompts", "input": "Inputs", "provider": "Generators", "transform": "Transforms",
                 "collection": "Collections", "video": "Video"}
FAMILY_ORDER = ["prompt", "input", "provider", "transform", "video", "collection"]
MACROS_GROUP = "__macros__"  # the data of the "Macros" group item (a group has no type otherwise)


class _Tree(QTreeWidget):
    def mimeData(self, items: Iterable[QTreeWidgetItem]) -> QMimeData:
        # The canvas accepts NodeGraphQt's node URN; our drop handler maps it back to our node type.
        types = [ng_type_name(i.data(0, TYPE_ROLE)) for i in items if i.data(0, TYPE_ROLE)]
        mime = QMimeData()
        mime.setData(NODES_MIME, ("nodegraphqt::" + ";".join(f"node:{t}" for t in types)).encode("utf-8"))
        return mime

    def mimeTypes(self) -> list[str]:
        return [NODES_MIME]


class LibraryPanel(QWidget):
    """Emits `add_requested(type)` on double-click or Enter; dragging drops the node where it lands."""

    add_requested = pyqtSignal(str)

    def __init__(self, registry: NodeRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryPanel")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._add_first_visible)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.itemActivated.connect(self._activated)
        layout = QVBoxLayout(self)
        s = theme.SPACING
        layout.setContentsMargins(s, s, s, s)
        layout.setSpacing(s)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        self._populate(registry)

    def _populate(self, registry: NodeRegistry) -> None:
        families = registry.families()
        order = [f for f in FAMILY_ORDER if f in families] + sorted(f for f in families if f not in FAMILY_ORDER)
        for family in order:
            group = QTreeWidgetItem([FAMILY_TITLES.get(family, family.capitalize())])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setForeground(0, self.palette().placeholderText())
            self.tree.addTopLevelItem(group)
            for node_type in families[family]:
                item = QTreeWidgetItem([node_type.title])
                item.setData(0, TYPE_ROLE, node_type.type)
                item.setIcon(0, icons.icon(theme.FAMILY_ICONS.get(family, "node"), theme.FAMILY_COLORS.get(family)))
                ports = ", ".join(f"{p.name}: {p.kind}" for p in node_type.inputs) or "none"
                outs = ", ".join(f"{p.name}: {p.kind}" for p in node_type.outputs) or "none"
                item.setToolTip(0, f"<b>{node_type.title}</b> ({node_type.type})<br/>{node_type.doc}"
                                   f"<br/>inputs: {ports}<br/>outputs: {outs}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                group.addChild(item)
            group.setExpanded(True)

    def set_macros(self, names: Iterable[str], prefix: str = "macro:") -> None:
        """The "Macros" group: saved subgraphs, each added (double-click, Enter) as a subgraph node."""
        for i in range(self.tree.topLevelItemCount()):
            old = self.tree.topLevelItem(i)
            if old is not None and old.data(0, TYPE_ROLE) == MACROS_GROUP:
                self.tree.takeTopLevelItem(i)
                break
        names = list(names)
        if not names:
            return
        group = QTreeWidgetItem(["Macros"])
        group.setData(0, TYPE_ROLE, MACROS_GROUP)
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        group.setForeground(0, self.palette().placeholderText())
        self.tree.addTopLevelItem(group)
        for name in names:
            item = QTreeWidgetItem([name])
            item.setData(0, TYPE_ROLE, prefix + name)
            item.setIcon(0, icons.icon("node"))
            item.setToolTip(0, f"<b>{name}</b> (a saved subgraph)<br/>Double-click to add it as a subgraph node")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            group.addChild(item)
        group.setExpanded(True)
        self._filter(self.search.text())

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is None:
                continue
            visible = 0
            for j in range(group.childCount()):
                child = group.child(j)
                if child is None:
                    continue
                haystack = f"{child.text(0)} {child.data(0, TYPE_ROLE)}".lower()
                hidden = bool(needle) and needle not in haystack
                child.setHidden(hidden)
                visible += not hidden
            group.setHidden(visible == 0)

    def _visible_types(self) -> list[str]:
        found = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount() if group else 0):
                child = group.child(j) if group else None
                if child is not None and not child.isHidden():
                    found.append(child.data(0, TYPE_ROLE))
        return found

    def _add_first_visible(self) -> None:
        visible = self._visible_types()
        if visible:
            self.add_requested.emit(visible[0])

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name and type_name != MACROS_GROUP:
            self.add_requested.emit(type_name)
