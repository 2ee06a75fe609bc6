"""Canvas gestures: NodeGraphQt's own handlers are replaced by ones that turn a gesture into a controller edit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PyQt6.QtGui import QAction, QColor, QContextMenuEvent, QCursor, QKeySequence, QMouseEvent
from PyQt6.QtWidgets import QGraphicsDropShadowEffect

from artfactory.engine.document import EdgeSpec
from artfactory.views.canvas import compat, node_menu
from artfactory.views.canvas.node_item import ArtNodeItem

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
            (v.node_name_changed, g._on_node_name_changed, self._on_renamed),
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
        search.triggered.connect(lambda _checked=False: self.show_search())
        v.addAction(search)
        self.search_action = search
        self._search_at: QPoint | None = None  # a double-click on empty canvas opens the search on release
        self._port_hints: list[Any] = []  # port items dimmed or lit while a link is dragged
        self._hook_live_connection()
        v.viewport().installEventFilter(self)
        v.installEventFilter(self)  # focus and keys: the viewer's modifier hint text

    def show_search(self: GraphView, at: QPoint | None = None) -> None:
        """The Tab search at `at` (viewport pixels), else under the mouse if it is over the canvas, else central."""
        viewport = self.viewer.viewport()
        if at is None:
            local = viewport.mapFromGlobal(QCursor.pos())
            at = local if viewport.rect().contains(local) else viewport.rect().center()
        # NodeGraphQt places the new node at the last mouse position it saw.
        self.viewer._previous_pos = at
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

    def _on_renamed(self: GraphView, ng_id: str, title: str) -> None:
        # The title was edited in place on the node (double-click on it): one undoable rename.
        if ng_id in self._ids:
            self.controller.rename_node(self._ids[ng_id], title)
            self._apply_title(self._ids[ng_id])

    def _on_double_clicked(self: GraphView, ng_id: str) -> None:
        if ng_id in self._ids:
            self.node_activated.emit(self._ids[ng_id])
        elif ng_id in self._backdrop_ids:
            self.rename_backdrop(self._backdrop_ids[ng_id])

    def _on_selection(self: GraphView) -> None:
        self.selection_changed.emit(self.selected_ids())

    def node_at(self: GraphView, viewport_pos: QPoint) -> str | None:
        """Our id of the node under a viewport position (its title, ports and thumbnails included)."""
        for item in self.viewer.scene().items(self.viewer.mapToScene(viewport_pos)):
            while item is not None and not isinstance(item, ArtNodeItem):
                item = item.parentItem()
            if item is not None and item.id in self._ids:
                return self._ids[item.id]
        return None

    def show_node_menu(self: GraphView, node_id: str, global_pos: QPoint) -> None:
        """The node's own menu; the node is selected first, as a right-click selects in any editor."""
        if node_id not in self.selected_ids():
            self.select([node_id])
        menu = node_menu.build(self, node_id)
        menu.exec(global_pos)
        menu.deleteLater()

    def _on_context_menu(self: GraphView, event: QContextMenuEvent) -> bool:
        node_id = self.node_at(event.pos())
        if node_id is None:
            return False  # empty canvas (or a backdrop): NodeGraphQt shows the canvas menu
        self.viewer.RMB_state = False  # the menu takes the button's release
        self.show_node_menu(node_id, event.globalPos())
        return True

    def _on_canvas_double_click(self: GraphView, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        at = event.position().toPoint()
        if self.viewer._items_near(self.viewer.mapToScene(at), None, 6, 6):
            return False  # a node, port, link or backdrop handles its own double-click
        # Opened once the button is up: a menu opened now would swallow the release and leave
        # NodeGraphQt thinking the button is still down (a rubber band following the mouse).
        self._search_at = at
        return True

    def _open_pending_search(self: GraphView) -> None:
        at, self._search_at = self._search_at, None
        if at is not None:
            self.show_search(at)

    # --- link drag feedback -----------------------------------------------------------------------------
    def _hook_live_connection(self: GraphView) -> None:
        viewer = self.viewer
        start, end = viewer.start_live_connection, viewer.end_live_connection

        def started(port: Any) -> None:
            start(port)
            self._show_port_hints(port)

        def ended() -> None:
            end()
            self._clear_port_hints()

        # Instance attributes shadow NodeViewer's methods: its own calls (self.start_live_connection) reach these.
        viewer.start_live_connection = started
        viewer.end_live_connection = ended

    def _show_port_hints(self: GraphView, start: Any) -> None:
        """Light the ports the dragged link may end on and dim the rest (the drop is still checked)."""
        self._clear_port_hints()
        start_id = self._ids.get(start.node.id) if start is not None else None
        if start_id is None:
            return
        for node_id, node in self._nodes.items():
            labels = {**node.view._input_items, **node.view._output_items}
            for port in (*node.inputs().values(), *node.outputs().values()):
                item = port.view
                if item is start:
                    continue
                fits = item.port_type != start.port_type and node_id != start_id and (
                    self.controller.check_link(start_id, start.name, node_id, item.name) is None
                    if start.port_type == "out" else
                    self.controller.check_link(node_id, item.name, start_id, start.name) is None)
                if fits:
                    glow = QGraphicsDropShadowEffect()
                    glow.setColor(QColor(*item.color[:3]).lighter(150))
                    glow.setBlurRadius(16)
                    glow.setOffset(0, 0)
                    item.setGraphicsEffect(glow)
                else:
                    item.setOpacity(0.25)
                    if labels.get(item) is not None:
                        labels[item].setOpacity(0.35)
                self._port_hints.append((item, labels.get(item)))

    def _clear_port_hints(self: GraphView) -> None:
        for item, label in self._port_hints:
            if item.scene() is not None:
                item.setGraphicsEffect(None)
                item.setOpacity(1.0)
            if label is not None and label.scene() is not None:
                label.setOpacity(1.0)
        self._port_hints = []

    def _hide_modifier_hint(self: GraphView) -> None:
        # NodeGraphQt writes "CTRL: Deselect Nodes" (and SHIFT/ALT hints) on the canvas while a modifier is
        # down and only removes it on the viewer's own key release, which never comes when the release
        # goes elsewhere (a shortcut opened a dialog or the search, the tab changed).
        text = self.viewer._cursor_text
        if text.isVisible():
            text.setVisible(False)
            text.setPlainText("")

    def eventFilter(self: GraphView, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None:
            return False
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel) and watched is not self.viewer:
            self._keep_framed = False  # the user takes over the view: no re-framing under their hands
        if watched is self.viewer:
            if kind == QEvent.Type.FocusOut:
                self._hide_modifier_hint()
                self.viewer.clear_key_state()  # else the next click acts as a Ctrl/Shift click
            return False
        if kind == QEvent.Type.MouseButtonRelease:
            # NodeGraphQt re-creates a pipe in its default colour when a dragged link snaps back.
            QTimer.singleShot(0, self._sync_edges)
            QTimer.singleShot(0, self._after_release)
            if self._search_at is not None:
                QTimer.singleShot(0, self._open_pending_search)
        elif kind == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
            return self._on_context_menu(event)
        elif kind == QEvent.Type.MouseButtonDblClick and isinstance(event, QMouseEvent):
            return self._on_canvas_double_click(event)
        return False

    def _after_release(self: GraphView) -> None:
        self._hide_modifier_hint()
        if not self.viewer._LIVE_PIPE.isVisible():
            self._clear_port_hints()  # a drag that ended without NodeGraphQt ending it (dropped on its own port)
