"""Canvas gestures: NodeGraphQt's own handlers are replaced by ones that turn a gesture into a controller edit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PyQt6.QtGui import QAction, QCursor, QKeySequence

from artfactory.engine.document import EdgeSpec
from artfactory.views.canvas import compat

if TYPE_CHECKING:
    from artfactory.views.canvas.graph_view import GraphView

NodeGraphQt = compat.import_nodegraphqt()
BACKDROP_TYPE = NodeGraphQt.BackdropNode.type_
NODES_MIME = "nodegraphqt/nodes"


class GestureMixin:
    """Mixed into GraphView; needs its graph, viewer, controller and id maps."""

    def _take_over_gestures(self: GraphView) -> None:
        v, g = self.viewer, self.graph
        for signal, theirs, ours in (
            (v.search_triggered, g._on_search_triggered, self._on_search),
            (v.connection_changed, g._on_connection_changed, self._on_connection_changed),
            (v.connection_sliced, g._on_connection_sliced, self._on_sliced),
            (v.moved_nodes, g._on_nodes_moved, self._on_moved),
            (v.node_backdrop_updated, g._on_node_backdrop_updated, self._on_backdrop_resized),
            (v.data_dropped, g._on_node_data_dropped, self._on_dropped),
            (v.node_name_changed, g._on_node_name_changed, None),
            (v.insert_node, g._on_insert_node, None),
        ):
            signal.disconnect(theirs)
            if ours is not None:
                signal.connect(ours)
        v.node_double_clicked.connect(self._on_double_clicked)
        v.scene().selectionChanged.connect(self._on_selection)
        # NodeGraphQt's own undo/redo actions (its stack, Ctrl+Z) would clash with ours: drop them.
        menu = g.get_context_menu("graph").qmenu
        for action in (v.qaction_for_undo(), v.qaction_for_redo()):
            if action is not None:
                action.setShortcuts([])
                menu.removeAction(action)
        for action in list(menu.actions()):
            if action.isSeparator():
                menu.removeAction(action)
        # Tab opens the node search, only while the canvas has focus (elsewhere Tab moves focus).
        search = QAction("Add node…", v)
        search.setShortcut(QKeySequence(Qt.Key.Key_Tab))
        search.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        search.triggered.connect(self.show_search)
        v.addAction(search)
        self.search_action = search
        v.viewport().installEventFilter(self)

    def show_search(self: GraphView) -> None:
        """The Tab search, at the mouse when it is over the canvas, else in the middle."""
        local = self.viewer.mapFromGlobal(QCursor.pos())
        # NodeGraphQt places the new node at the last mouse position it saw.
        self.viewer._previous_pos = local if self.viewer.rect().contains(local) else self.viewer.rect().center()
        names = {n: t for n, t in self.graph.node_factory.names.items() if t != [BACKDROP_TYPE]}
        self.viewer.tab_search_set_nodes(names)
        self.viewer.tab_search_toggle()

    # --- gestures -> controller -------------------------------------------------------------------------
    def _edge(self: GraphView, a: Any, b: Any) -> EdgeSpec | None:
        out_port, in_port = (a, b) if a.port_type == "out" else (b, a)
        source, target = self._ids.get(out_port.node.id), self._ids.get(in_port.node.id)
        if source is None or target is None:
            return None
        return EdgeSpec(source, out_port.name, target, in_port.name)

    def _ng_port(self: GraphView, item: Any) -> Any:
        node = self.graph.get_node_by_id(item.node.id)
        ports = node.outputs() if item.port_type == "out" else node.inputs()
        return ports.get(item.name)

    def _on_connection_changed(self: GraphView, disconnected: list[Any], connected: list[Any]) -> None:
        # The viewer already took the pipes of `disconnected` off the scene; mirror that in
        # NodeGraphQt's model so the scene and its model agree before we compare with the document.
        for a, b in disconnected:
            pa, pb = self._ng_port(a), self._ng_port(b)
            if pa is not None and pb is not None and pb in pa.connected_ports():
                pa.disconnect_from(pb, push_undo=False, emit_signal=False)
        removed = [e for e in (self._edge(a, b) for a, b in disconnected) if e]
        added = [e for e in (self._edge(a, b) for a, b in connected) if e]
        self.controller.change_links(removed, added)
        self._sync_edges()

    def _on_sliced(self: GraphView, ports: list[Any]) -> None:
        self.controller.disconnect([e for e in (self._edge(a, b) for a, b in ports) if e])
        self._sync_edges()

    def _on_moved(self: GraphView, node_data: dict[Any, Any]) -> None:
        moves = {}
        for item, old in node_data.items():
            new = (float(item.xy_pos[0]), float(item.xy_pos[1]))
            if item.id in self._ids:
                moves[("node", self._ids[item.id])] = ((float(old[0]), float(old[1])), new)
            elif item.id in self._backdrop_ids:
                moves[("backdrop", self._backdrop_ids[item.id])] = ((float(old[0]), float(old[1])), new)
        self.controller.move(moves)

    def _on_backdrop_resized(self: GraphView, ng_id: str, what: str, value: Any) -> None:
        backdrop_id = self._backdrop_ids.get(ng_id)
        if backdrop_id and isinstance(value, dict) and what in ("sizer_mouse_release", "sizer_double_clicked"):
            x, y = value["pos"]
            self.controller.update_backdrop(backdrop_id, rect=(x, y, value["width"], value["height"]))
            self._apply_backdrop(backdrop_id)

    def _on_search(self: GraphView, ng_type: str, pos: tuple[float, float]) -> None:
        if ng_type == BACKDROP_TYPE:
            self.add_backdrop_at((pos[0], pos[1]))
        elif ng_type in self._our_type:
            self.add_node(self._our_type[ng_type], (pos[0], pos[1]))

    def _on_dropped(self: GraphView, mime: Any, pos: QPoint) -> None:
        if mime.hasFormat(NODES_MIME):
            text = bytes(mime.data(NODES_MIME).data()).decode("utf-8", "replace")
            x, y = float(pos.x()), float(pos.y())
            for ng_type in re.findall(r"node:([\w.]+)", text):
                if ng_type in self._our_type:
                    self.add_node(self._our_type[ng_type], (x, y))
                    x, y = x + 40, y + 40
        elif mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                self.files_dropped.emit(paths)

    def _on_double_clicked(self: GraphView, ng_id: str) -> None:
        if ng_id in self._ids:
            self.node_activated.emit(self._ids[ng_id])
        elif ng_id in self._backdrop_ids:
            self.rename_backdrop(self._backdrop_ids[ng_id])

    def _on_selection(self: GraphView) -> None:
        self.selection_changed.emit(self.selected_ids())

    def eventFilter(self: GraphView, watched: QObject | None, event: QEvent | None) -> bool:
        # NodeGraphQt re-creates a pipe in its default colour when a dragged link snaps back.
        if event is not None and event.type() == QEvent.Type.MouseButtonRelease:
            QTimer.singleShot(0, self._sync_edges)
        return False
