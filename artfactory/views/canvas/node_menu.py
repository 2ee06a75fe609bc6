"""A node's right-click menu: rename, duplicate, delete, bypass, mute, its products in the gallery, copy its id."""

from __future__ import annotations

from typing import Any, Protocol

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QApplication, QMenu

from artfactory.controllers.graph_controller import GraphController
from artfactory.views import icons


class MenuCanvas(Protocol):
    """What the node menu uses of the canvas (GraphView provides it)."""

    controller: GraphController
    viewer: Any  # NodeGraphQt's NodeViewer, the menu's parent widget
    products_requested: Any  # pyqtBoundSignal(str)

    def selected_ids(self) -> list[str]: ...
    def rename_node(self, node_id: str) -> None: ...
    def duplicate(self, node_ids: list[str]) -> list[str]: ...
    def node_products(self, node_id: str) -> list[str]: ...


def build(view: MenuCanvas, node_id: str) -> QMenu:
    """The menu for `node_id`; duplicate and delete act on the whole selection when the node is part of it."""
    selected = view.selected_ids()
    targets = selected if node_id in selected else [node_id]
    count = f" {len(targets)} Nodes" if len(targets) > 1 else ""
    menu = QMenu(view.viewer)
    menu.setObjectName("NodeMenu")
    menu.setToolTipsVisible(True)

    def add(name: str, text: str, slot: object, icon: str = "", keys: str = "", tip: str = "") -> QAction:
        action = menu.addAction(icons.icon(icon), text) if icon else menu.addAction(text)
        assert action is not None
        action.setObjectName(f"node_{name}")
        if keys:
            # Shown as a reminder; the window's action with the same keys does the work outside the menu.
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]
        return action

    add("rename", "Rename…", lambda: view.rename_node(node_id), tip="Give the node its own title (double-click it)")
    add("duplicate", f"Duplicate{count}", lambda: view.duplicate(targets), "duplicate", "Ctrl+D")
    add("delete", f"Delete{count}", lambda: view.controller.delete(targets), "delete", "Del")
    menu.addSeparator()
    for mode, text, keys, tip in (("bypass", "Bypass", "Ctrl+B", "Pass the input straight through without running"),
                                  ("mute", "Mute", "Ctrl+M", "Neither this node nor what needs it runs")):
        action = add(mode, f"{text}{count}", lambda mode=mode: view.controller.toggle_mode(targets, mode),
                     mode, keys, tip)
        action.setCheckable(True)
        action.setChecked(all(view.controller.node_mode(n) == mode for n in targets))
    menu.addSeparator()
    products = add("products", "Show Products in Gallery", lambda: view.products_requested.emit(node_id),
                   "gallery", tip="Open the gallery on what this node made in the last run")
    if not view.node_products(node_id):
        products.setEnabled(False)
        products.setToolTip("Nothing made yet: run the graph first")
    add("copy_id", f"Copy ID  ({node_id})", lambda: _copy(node_id), "copy",
        tip="The node's stable id, as the CLI's --set and the run JSON name it")
    return menu


def _copy(text: str) -> None:
    clipboard = QApplication.clipboard()
    if clipboard is not None:
        clipboard.setText(text)
