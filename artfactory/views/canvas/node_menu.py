"""A node's right-click menu: rename, duplicate, delete, bypass, mute, its products in the gallery, copy its id."""

from __future__ import annotations

from typing import Any, Protocol

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QApplication, QMenu

from artfactory.controllers import subgraphs
from artfactory.controllers.graph_controller import GraphController
from artfactory.views import icons
from artfactory.views.canvas import subgraph_nav


class MenuCanvas(Protocol):
    """What the node menu uses of the canvas (GraphView provides it)."""

    controller: GraphController
    viewer: Any  # NodeGraphQt's NodeViewer, the menu's parent widget
    products_requested: Any  # pyqtBoundSignal(str)
    macro_requested: Any  # pyqtBoundSignal(str)

    def selected_ids(self) -> list[str]: ...
    def select(self, node_ids: list[str]) -> None: ...
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
    add("group", f"Group{count or ' Node'} into Subgraph…", lambda: subgraph_nav.group_selection(view, view.viewer),
        keys="Ctrl+Shift+G", tip="One subgraph node instead; the links crossing the selection become its ports")
    if subgraphs.is_subgraph(view.controller, node_id):
        add("ungroup", "Ungroup", lambda: subgraph_nav.ungroup(view, node_id), keys="Ctrl+Shift+U",
            tip="Put the inner nodes back in this node's place")
        add("save_macro", "Save Subgraph as Template…", lambda: view.macro_requested.emit(node_id),
            tip="Keep it in the Nodes palette (Macros) to drop into any graph")
    menu.addSeparator()
    _param_input_menus(menu, view, node_id)
    menu.addSeparator()
    products = add("products", "Show Products in Gallery", lambda: view.products_requested.emit(node_id),
                   "gallery", tip="Open the gallery on what this node made in the last run")
    if not view.node_products(node_id):
        products.setEnabled(False)
        products.setToolTip("Nothing made yet: run the graph first")
    add("copy_id", f"Copy ID  ({node_id})", lambda: _copy(node_id), "copy",
        tip="The node's stable id, as the CLI's --set and the run JSON name it")
    return menu


def _param_input_menus(menu: QMenu, view: MenuCanvas, node_id: str) -> None:
    """"Convert to Input" (a param becomes a port on the node) and "Convert to Param" (back)."""
    spec, node_type = view.controller.doc.node(node_id), view.controller.node_type(node_id)
    if spec is None or node_type is None or not node_type.params:
        return
    for title, object_name, names, as_input in (
            ("Convert to Input", "node_to_input", [p.name for p in node_type.params if p.name not in spec.param_inputs],
             True),
            ("Convert to Param", "node_to_param", list(spec.param_inputs), False)):
        if not names:
            continue
        sub = menu.addMenu(title)
        assert sub is not None
        sub.setObjectName(object_name)
        for name in names:
            action = sub.addAction(name)
            assert action is not None
            action.triggered.connect(lambda _checked=False, name=name, on=as_input:
                                     view.controller.set_param_input(node_id, name, on))


def _copy(text: str) -> None:
    clipboard = QApplication.clipboard()
    if clipboard is not None:
        clipboard.setText(text)
