"""The ancestry view: a product's family tree walked back through orders to the first prompt."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from artfactory.services.product_records import Ancestry
from artfactory.views import theme

PRODUCT_ROLE = Qt.ItemDataRole.UserRole


class AncestryDialog(QDialog):
    """Each product under the one made from it, with the node and order that made it; double-click opens one."""

    product_activated = pyqtSignal(str)
    order_activated = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AncestryDialog")
        self.resize(820, 480)
        layout = QVBoxLayout(self)
        s = theme.SPACING
        layout.setContentsMargins(s * 2, s * 2, s * 2, s * 2)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Product", "Made by", "Order", "Prompt"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.itemActivated.connect(self._on_activated)
        layout.addWidget(self.tree, 1)
        hint = QLabel("Double-click a product to open it; double-click its order column to show that order.")
        hint.setProperty("role", "dim")
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.ancestry: Ancestry | None = None

    def show_ancestry(self, ancestry: Ancestry) -> None:
        """Fill the tree: a product's sources are its children (one shared by two appears under the first)."""
        self.ancestry = ancestry
        self.tree.clear()
        items: dict[str, QTreeWidgetItem] = {}
        parent_of: dict[str, str] = {}
        for step in ancestry.steps:
            link = step.product
            key = link.id or ""
            name = f"{link.id} (deleted)" if link.missing else f"{link.name or link.id}"
            made_by = f"{link.node_id} ({link.node_type})" if link.node_id else ""
            item = QTreeWidgetItem([name, made_by, link.order_id or "", link.prompt])
            item.setData(0, PRODUCT_ROLE, link.id)
            item.setToolTip(0, link.id or "")
            item.setToolTip(3, link.prompt)
            parent = items.get(parent_of.get(key, ""))
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            items[key] = item
            for source in step.sources:
                parent_of.setdefault(source, key)
        self.tree.expandAll()
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        orders = len(ancestry.orders)
        first = ancestry.first_prompt
        text = f"{len(ancestry.steps)} product(s) across {orders} order(s)."
        text += f" First prompt: “{first}”" if first else " No prompt on the way back (imported files)."
        if ancestry.truncated:
            text += f" Stopped after {len(ancestry.steps)} products."
        self.summary.setText(text)
        self.setWindowTitle(f"Ancestry of {ancestry.steps[0].product.name or ancestry.id} — Art Factory"
                            if ancestry.steps else "Ancestry — Art Factory")

    def _on_activated(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 2 and item.text(2):
            self.order_activated.emit(item.text(2))
            return
        product_id = item.data(0, PRODUCT_ROLE)
        if product_id:
            self.product_activated.emit(str(product_id))
