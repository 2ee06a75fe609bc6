"""The canvas: a NodeGraphQt view of one GraphController's document, synced both ways by stable node ids.

NodeGraphQt is only the drawing surface. Its own gesture handlers (connect, slice, move, drop, search,
resize) are replaced by ours, which turn a gesture into a controller edit; the controller's change
signals then update the scene. So the document stays the single source of truth and every edit
goes through our undo stack and our link validation.
"""

from __future__ import annotations

import re
from typing import Any

from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCursor, QKeySequence
from PyQt6.QtWidgets import QInputDialog, QLabel, QMenu, QVBoxLayout, QWidget

from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import EdgeSpec
from artfactory.views import theme
from artfactory.views.canvas import compat
from artfactory.views.canvas.node_classes import (
    STABLE_ID,
    classes_for,
    make_unknown_class,
    ng_type_name,
    summary,
)
from artfactory.views.canvas.node_item import ArtNodeItem

NodeGraphQt = compat.import_nodegraphqt()
BackdropNode = NodeGraphQt.BackdropNode
BACKDROP_TYPE = BackdropNode.type_
NODES_MIME = "nodegraphqt/nodes"
FIT_MARGIN = 80.0


class GraphView(QWidget):
    """One graph on screen; requests go to the controller, changes come back through its signals."""

    selection_changed = pyqtSignal(list)  # our node ids
    product_activated = pyqtSignal(str)  # a thumbnail was clicked
    node_activated = pyqtSignal(str)  # a node was double-clicked
    files_dropped = pyqtSignal(list)  # local file paths dropped on the canvas

    def __init__(self, controller: GraphController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.graph = NodeGraphQt.NodeGraph(self)
        self.viewer = self.graph.viewer()
        self._ng_classes = classes_for(controller.registry)
        self._our_type = {ng: cls.AF_TYPE for ng, cls in self._ng_classes.items()}
        self.graph.register_nodes(list(self._ng_classes.values()))
        self._nodes: dict[str, Any] = {}  # our id -> NodeGraphQt node
        self._ids: dict[str, str] = {}  # NodeGraphQt id -> our id
        self._backdrops: dict[str, Any] = {}
        self._backdrop_ids: dict[str, str] = {}
        self._unknown_serial = 0
        self._style()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.viewer)
        self.hint = QLabel("Press <b>Tab</b> to add a node, drag one from <b>Nodes</b>,<br/>"
                           "or start from <b>File → Templates</b>", self.viewer)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet("color: rgba(220, 224, 232, 110); font-size: 13pt; background: transparent;")
        self._take_over_gestures()
        self._bind()
        self.rebuild()

    # --- set-up -----------------------------------------------------------------------------------
    def _style(self) -> None:
        c = theme.colors()
        self.graph.set_background_color(*c.canvas)
        self.graph.set_grid_color(*c.grid)
        self.graph.set_grid_mode(NodeGraphQt.constants.ViewerEnum.GRID_DISPLAY_LINES.value)

    def _take_over_gestures(self) -> None:
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

    def _bind(self) -> None:
        c = self.controller
        c.node_added.connect(self._add_node_view)
        c.node_removed.connect(self._remove_node_view)
        c.node_added.connect(self._update_hint)
        c.node_removed.connect(self._update_hint)
        c.param_changed.connect(self._apply_summary)
        c.edge_added.connect(self._connect_view)
        c.edge_removed.connect(self._disconnect_view)
        c.position_changed.connect(self._apply_position)
        c.backdrop_changed.connect(self._apply_backdrop)
        c.document_reset.connect(self.rebuild)
        c.issues_changed.connect(self._apply_all_runs)
        c.run_state.node_changed.connect(self._apply_run)
        c.run_state.reset.connect(self._apply_all_runs)

    def context_menu(self) -> QMenu:
        """The canvas's right-click menu; the window fills it with its actions."""
        return self.graph.get_context_menu("graph").qmenu

    # --- building the scene from the document --------------------------------------------------------
    def rebuild(self) -> None:
        self.graph.clear_session()
        self._nodes.clear()
        self._ids.clear()
        self._backdrops.clear()
        self._backdrop_ids.clear()
        for backdrop in self.controller.backdrops():
            self._apply_backdrop(backdrop["id"])
        for spec in self.controller.doc.nodes:
            self._add_node_view(spec.id)
        placed = self.controller.place_unpositioned(self.sizes())
        for node_id in placed:
            self._apply_position("node", node_id)
        for edge in self.controller.doc.edges:
            self._connect_view(edge)
        self.graph.undo_stack().clear()
        self._update_hint()

    def _update_hint(self, _node_id: str = "") -> None:
        self.hint.setVisible(not self._nodes)
        self.hint.resize(self.viewer.size())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.hint.resize(self.viewer.size())

    def _class_for(self, type_name: str, node_id: str) -> str:
        ng_type = ng_type_name(type_name)
        if ng_type in self._ng_classes:
            return ng_type
        doc = self.controller.doc
        self._unknown_serial += 1
        cls = make_unknown_class(self._unknown_serial, type_name,
                                 [e.target_port for e in doc.edges if e.target == node_id],
                                 [e.source_port for e in doc.edges if e.source == node_id])
        self.graph.register_node(cls)
        return cls.type_

    def _add_node_view(self, node_id: str) -> None:
        spec = self.controller.doc.node(node_id)
        if spec is None or node_id in self._nodes:
            return
        pos = self.controller.position(node_id) or (0.0, 0.0)
        node = self.graph.create_node(self._class_for(spec.type, node_id), selected=False,
                                      pos=[pos[0], pos[1]], push_undo=False)
        node.model.set_property(STABLE_ID, node_id)
        # NodeGraphQt made the name unique ("Resize 1"); titles may repeat, the stable id is the identity.
        node.model.name = node.view.name = type(node).NODE_NAME
        view: ArtNodeItem = node.view
        view.stable_id = node_id
        view.on_product_clicked = self.product_activated.emit
        self._nodes[node_id] = node
        self._ids[node.id] = node_id
        view.summary = summary(self.controller.registry.get(spec.type), spec.params)
        self._apply_run(node_id)
        view.draw_node()

    def _apply_summary(self, node_id: str, _name: str = "") -> None:
        node, spec = self._nodes.get(node_id), self.controller.doc.node(node_id)
        if node is not None and spec is not None:
            node.view.set_summary(summary(self.controller.registry.get(spec.type), spec.params))

    def _remove_node_view(self, node_id: str) -> None:
        node = self._nodes.pop(node_id, None)
        if node is not None:
            self._ids.pop(node.id, None)
            self.graph.remove_node(node, push_undo=False)

    def _ports(self, edge: EdgeSpec) -> tuple[Any, Any] | None:
        source, target = self._nodes.get(edge.source), self._nodes.get(edge.target)
        if source is None or target is None:
            return None
        out_port, in_port = source.outputs().get(edge.source_port), target.inputs().get(edge.target_port)
        return (out_port, in_port) if out_port is not None and in_port is not None else None

    def _connect_view(self, edge: EdgeSpec) -> None:
        ports = self._ports(edge)
        if ports is None:
            return  # a link to a port the type does not have: validation names it on the node
        out_port, in_port = ports
        out_port.connect_to(in_port, push_undo=False, emit_signal=False)
        self._color_pipes(in_port.view)

    def _disconnect_view(self, edge: EdgeSpec) -> None:
        ports = self._ports(edge)
        if ports is not None and ports[1] in ports[0].connected_ports():
            ports[0].disconnect_from(ports[1], push_undo=False, emit_signal=False)

    def _color_pipes(self, port_view: Any) -> None:
        for pipe in port_view.connected_pipes:
            rgb = pipe.output_port.color[:3] if pipe.output_port is not None else (150, 150, 150)
            pipe.color = (*rgb, 255)
            pipe.reset()

    def _sync_edges(self) -> None:
        """Make the scene's links exactly the document's (after a gesture the scene may have run ahead)."""
        shown = set()
        for node_id, node in self._nodes.items():
            for name, port in node.inputs().items():
                for other in port.connected_ports():
                    source = self._ids.get(other.node().id)
                    if source:
                        shown.add((source, other.name(), node_id, name))
        wanted = {(e.source, e.source_port, e.target, e.target_port) for e in self.controller.doc.edges}
        for extra in shown - wanted:
            self._disconnect_view(EdgeSpec(*extra))
        for missing in wanted - shown:
            self._connect_view(EdgeSpec(*missing))
        for node in self._nodes.values():
            for port in node.inputs().values():
                self._color_pipes(port.view)

    def _apply_position(self, kind: str, item_id: str) -> None:
        if kind == "node":
            node, pos = self._nodes.get(item_id), self.controller.position(item_id)
        else:
            node = self._backdrops.get(item_id)
            backdrop = self.controller.backdrop(item_id)
            pos = (backdrop["rect"][0], backdrop["rect"][1]) if backdrop else None
        if node is None or pos is None:
            return
        if tuple(node.view.xy_pos) != tuple(pos):
            node.view.xy_pos = [pos[0], pos[1]]
            for port in (*node.inputs().values(), *node.outputs().values()) if kind == "node" else ():
                port.view.redraw_connected_pipes()
        node.model.pos = [pos[0], pos[1]]

    def _apply_backdrop(self, backdrop_id: str) -> None:
        data = self.controller.backdrop(backdrop_id)
        node = self._backdrops.get(backdrop_id)
        if data is None:
            if node is not None:
                self._backdrop_ids.pop(node.id, None)
                del self._backdrops[backdrop_id]
                self.graph.remove_node(node, push_undo=False)
            return
        x, y, w, h = data["rect"]
        if node is None:
            node = self.graph.create_node(BACKDROP_TYPE, selected=False, pos=[x, y], push_undo=False)
            node.set_property("color", (70, 78, 92, 255), push_undo=False)
            self._backdrops[backdrop_id] = node
            self._backdrop_ids[node.id] = backdrop_id
        node.model.name = node.view.name = data.get("title") or "Backdrop"
        node.set_property("width", w, push_undo=False)
        node.set_property("height", h, push_undo=False)
        node.view.xy_pos = [x, y]
        node.model.pos = [x, y]
        node.view.update()

    # --- run state on the nodes ---------------------------------------------------------------------
    def _apply_run(self, node_id: str) -> None:
        node = self._nodes.get(node_id)
        if node is None:
            return
        run = self.controller.run_state.get(node_id)
        errors = list(self.controller.issues.get(node_id, []))
        if run and run.status == "failed" and run.error:
            errors.append(run.error)
        node.view.set_run(run.status if run else None, run.percent if run else 0.0, errors,
                          run.products if run else [])

    def _apply_all_runs(self) -> None:
        for node_id in self._nodes:
            self._apply_run(node_id)

    # --- gestures -> controller -------------------------------------------------------------------------
    def _edge(self, a: Any, b: Any) -> EdgeSpec | None:
        out_port, in_port = (a, b) if a.port_type == "out" else (b, a)
        source, target = self._ids.get(out_port.node.id), self._ids.get(in_port.node.id)
        if source is None or target is None:
            return None
        return EdgeSpec(source, out_port.name, target, in_port.name)

    def _ng_port(self, item: Any) -> Any:
        node = self.graph.get_node_by_id(item.node.id)
        ports = node.outputs() if item.port_type == "out" else node.inputs()
        return ports.get(item.name)

    def _on_connection_changed(self, disconnected: list[Any], connected: list[Any]) -> None:
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

    def _on_sliced(self, ports: list[Any]) -> None:
        self.controller.disconnect([e for e in (self._edge(a, b) for a, b in ports) if e])
        self._sync_edges()

    def _on_moved(self, node_data: dict[Any, Any]) -> None:
        moves = {}
        for item, old in node_data.items():
            new = (float(item.xy_pos[0]), float(item.xy_pos[1]))
            if item.id in self._ids:
                moves[("node", self._ids[item.id])] = ((float(old[0]), float(old[1])), new)
            elif item.id in self._backdrop_ids:
                moves[("backdrop", self._backdrop_ids[item.id])] = ((float(old[0]), float(old[1])), new)
        self.controller.move(moves)

    def _on_backdrop_resized(self, ng_id: str, what: str, value: Any) -> None:
        backdrop_id = self._backdrop_ids.get(ng_id)
        if backdrop_id and isinstance(value, dict) and what in ("sizer_mouse_release", "sizer_double_clicked"):
            x, y = value["pos"]
            self.controller.update_backdrop(backdrop_id, rect=(x, y, value["width"], value["height"]))
            self._apply_backdrop(backdrop_id)

    def _on_search(self, ng_type: str, pos: tuple[float, float]) -> None:
        if ng_type == BACKDROP_TYPE:
            self.add_backdrop_at((pos[0], pos[1]))
        elif ng_type in self._our_type:
            self.add_node(self._our_type[ng_type], (pos[0], pos[1]))

    def _on_dropped(self, mime: Any, pos: QPoint) -> None:
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

    def _on_double_clicked(self, ng_id: str) -> None:
        if ng_id in self._ids:
            self.node_activated.emit(self._ids[ng_id])
        elif ng_id in self._backdrop_ids:
            self.rename_backdrop(self._backdrop_ids[ng_id])

    def _on_selection(self) -> None:
        self.selection_changed.emit(self.selected_ids())

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        # NodeGraphQt re-creates a pipe in its default colour when a dragged link snaps back.
        if event is not None and event.type() == QEvent.Type.MouseButtonRelease:
            QTimer.singleShot(0, self._sync_edges)
        return False

    # --- commands the window calls ----------------------------------------------------------------------
    def add_node(self, type_name: str, pos: tuple[float, float] | None = None) -> str | None:
        node_id = self.controller.add_node(type_name, pos or self.drop_point())
        if node_id:
            self.select([node_id])
        return node_id

    def add_backdrop_at(self, pos: tuple[float, float], title: str = "Notes") -> str:
        return self.controller.add_backdrop(title, (pos[0], pos[1], 320.0, 220.0))

    def add_backdrop_around_selection(self, title: str = "Group") -> str:
        items = [self._nodes[i].view for i in self.selected_ids()]
        if not items:
            return self.add_backdrop_at(self.drop_point(), title)
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect = rect.adjusted(-30, -50, 30, 30)
        return self.controller.add_backdrop(title, (rect.x(), rect.y(), rect.width(), rect.height()))

    def rename_backdrop(self, backdrop_id: str) -> None:
        data = self.controller.backdrop(backdrop_id)
        if data is None:
            return
        title, ok = QInputDialog.getText(self, "Backdrop title", "Title:", text=data.get("title", ""))
        if ok:
            self.controller.update_backdrop(backdrop_id, title=title.strip() or "Backdrop")

    def show_search(self) -> None:
        """The Tab search, at the mouse when it is over the canvas, else in the middle."""
        local = self.viewer.mapFromGlobal(QCursor.pos())
        # NodeGraphQt places the new node at the last mouse position it saw.
        self.viewer._previous_pos = local if self.viewer.rect().contains(local) else self.viewer.rect().center()
        names = {n: t for n, t in self.graph.node_factory.names.items() if t != [BACKDROP_TYPE]}
        self.viewer.tab_search_set_nodes(names)
        self.viewer.tab_search_toggle()

    def selected_ids(self) -> list[str]:
        return [self._ids[n.id] for n in self.graph.selected_nodes() if n.id in self._ids]

    def selected_backdrops(self) -> list[str]:
        return [self._backdrop_ids[n.id] for n in self.graph.selected_nodes() if n.id in self._backdrop_ids]

    def select(self, node_ids: list[str]) -> None:
        self.graph.clear_selection()
        for node_id in node_ids:
            node = self._nodes.get(node_id)
            if node is not None:
                node.view.setSelected(True)

    def node_item(self, node_id: str) -> ArtNodeItem | None:
        node = self._nodes.get(node_id)
        return node.view if node is not None else None

    def sizes(self) -> dict[str, tuple[float, float]]:
        return {i: (n.view.width, n.view.height) for i, n in self._nodes.items()}

    def drop_point(self) -> tuple[float, float]:
        """Where a new node goes: under the mouse if it is over the canvas, else the middle of the view."""
        local = self.viewer.mapFromGlobal(QCursor.pos())
        if not self.viewer.rect().contains(local):
            local = self.viewer.rect().center()
        scene = self.viewer.mapToScene(local)
        return scene.x(), scene.y()

    def zoom_to_fit(self) -> None:
        items = [n.view for n in self.graph.selected_nodes()] or \
            [n.view for n in (*self._nodes.values(), *self._backdrops.values())]
        if not items:
            self.viewer.reset_zoom(QPointF(0, 0))
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        self.viewer._scene_range = rect  # NodeGraphQt keeps the visible scene range here
        self.viewer._update_scene()
        if self.viewer.get_zoom() > 0.0:  # never magnify a small graph beyond 100 %
            self.viewer.reset_zoom(rect.center())

    def auto_layout(self) -> None:
        self.controller.auto_layout(self.sizes())
