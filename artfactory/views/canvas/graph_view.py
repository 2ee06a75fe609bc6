"""The canvas: a NodeGraphQt view of one GraphController's document, synced both ways by stable node ids.

NodeGraphQt is only the drawing surface. Its own gesture handlers (connect, slice, move, drop, search,
resize) are replaced by ours, which turn a gesture into a controller edit; the controller's change
signals then update the scene. So the document stays the single source of truth and every edit
goes through our undo stack and our link validation.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCursor
from PyQt6.QtWidgets import QInputDialog, QLabel, QMenu, QVBoxLayout, QWidget

from artfactory.controllers import subgraphs
from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import SUBGRAPH_TYPE, EdgeSpec
from artfactory.engine.graph_power import REROUTE, SEPARATOR
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX, param_port_kind
from artfactory.engine.status import NodeStatus
from artfactory.views import theme
from artfactory.views.canvas import compat, subgraph_nav
from artfactory.views.canvas.gestures import BACKDROP_TYPE, CanvasGestures
from artfactory.views.canvas.node_classes import (
    STABLE_ID,
    classes_for,
    make_unknown_class,
    ng_type_name,
    summary,
)
from artfactory.views.canvas.node_item import ArtNodeItem, port_painter
from artfactory.views.canvas.thumb_loader import ThumbLoader

NodeGraphQt = compat.import_nodegraphqt()
FIT_MARGIN = 80.0
SINGLE_PREVIEW = 190.0  # the height a single output thumbnail takes in a node


class GraphView(QWidget):
    """One graph on screen; requests go to the controller, changes come back through its signals."""

    selection_changed = pyqtSignal(list)  # our node ids
    product_activated = pyqtSignal(str)  # a thumbnail was clicked
    node_activated = pyqtSignal(str)  # a node was double-clicked
    files_dropped = pyqtSignal(list)  # graph files (*.json) dropped on the canvas: opened
    media_dropped = pyqtSignal(list, object)  # other local paths dropped, and where (scene x, y): imported
    products_requested = pyqtSignal(str)  # a node's "Show Products in Gallery"
    macro_requested = pyqtSignal(str)  # a subgraph node's "Save Subgraph as Template"

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
        self._fit_pending = True
        self._keep_framed = False  # re-frame on resize until the user moves the view
        self._frame_queued = False
        self.thumbs = ThumbLoader(self)
        self.thumbs.loaded.connect(self._on_thumbnail_loaded)
        self._style()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.viewer)
        self.hint = QLabel("Press <b>Tab</b> to add a node, drag one from <b>Nodes</b>,<br/>"
                           "or start from <b>File → Templates</b>", self.viewer)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet("color: rgba(220, 224, 232, 110); font-size: 13pt; background: transparent;")
        self.gestures = CanvasGestures(self)
        # Here, not in the gestures: the scene emits while a closing view is torn down, and PyQt drops
        # a bound slot of the dying view in time but not one of its child.
        self.viewer.scene().selectionChanged.connect(self._on_selection)
        self._bind()
        self.rebuild()

    # --- set-up -----------------------------------------------------------------------------------
    def _style(self) -> None:
        c = theme.colors()
        self.graph.set_background_color(*c.canvas)
        self.graph.set_grid_color(*c.grid)
        self.graph.set_grid_mode(NodeGraphQt.constants.ViewerEnum.GRID_DISPLAY_LINES.value)

    def _bind(self) -> None:
        c = self.controller
        c.node_added.connect(self._add_node_view)
        c.node_removed.connect(self._remove_node_view)
        c.node_added.connect(self._update_hint)
        c.node_removed.connect(self._update_hint)
        c.param_changed.connect(self._apply_summary)
        c.param_changed.connect(self._file_ports_changed)
        c.node_title_changed.connect(self.apply_title)
        c.mode_changed.connect(self._apply_mode)
        c.param_inputs_changed.connect(self._rebuild_node_view)
        c.edge_added.connect(self._connect_view)
        c.edge_removed.connect(self._disconnect_view)
        c.position_changed.connect(self._apply_position)
        c.backdrop_changed.connect(self.apply_backdrop)
        c.document_reset.connect(self.rebuild)
        c.issues_changed.connect(self._apply_all_runs)
        c.run_state.node_changed.connect(self._apply_run)
        c.run_state.reset.connect(self._apply_all_runs)

    # --- what the gestures use (gestures.Canvas) ---------------------------------------------------------
    def ng_nodes(self) -> dict[str, Any]:
        return self._nodes

    def node_id_of(self, ng_id: str) -> str | None:
        return self._ids.get(ng_id)

    def backdrop_id_of(self, ng_id: str) -> str | None:
        return self._backdrop_ids.get(ng_id)

    def af_type_of(self, ng_type: str) -> str | None:
        return self._our_type.get(ng_type)

    def _on_selection(self) -> None:
        self.selection_changed.emit(self.selected_ids())

    def stop_framing(self) -> None:
        self._keep_framed = False

    def show_search(self, at: QPoint | None = None) -> None:
        """The Tab node search at `at` (viewport pixels), else under the mouse, else central."""
        self.gestures.show_search(at)

    def node_at(self, viewport_pos: QPoint) -> str | None:
        return self.gestures.node_at(viewport_pos)

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
            self.apply_backdrop(backdrop["id"])
        for spec in self.controller.doc.nodes:
            self._add_node_view(spec.id)
        placed = self.controller.place_unpositioned(self.layout_sizes())
        for node_id in placed:
            self._apply_position("node", node_id)
        for edge in self.controller.doc.edges:
            self._connect_view(edge)
        self.graph.undo_stack().clear()
        self._update_hint()
        self._fit_pending = True  # frame the graph once the view is on screen with its real size
        self._maybe_frame()

    def _update_hint(self, _node_id: str = "") -> None:
        self.hint.setVisible(not self._nodes)
        self.hint.resize(self.viewer.size())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.hint.resize(self.viewer.size())
        self._maybe_frame()

    def showEvent(self, event: Any) -> None:
        # A tab opened behind another (or beside a graph tab of the same size) gets no resize once it
        # shows: its first frame waits for this.
        super().showEvent(event)
        self._maybe_frame()

    def _maybe_frame(self) -> None:
        """Frame the whole graph once the view is shown; keep it framed while the window settles (panels
        appear, the tab bar lays out) until the user pans, zooms or clicks."""
        if (self._fit_pending or self._keep_framed) and self.isVisible() and not self._frame_queued:
            self._fit_pending = False
            self._keep_framed = True
            self._frame_queued = True
            QTimer.singleShot(0, self._frame)

    def _frame(self) -> None:
        self._frame_queued = False
        if self._keep_framed:
            self.zoom_to_fit()

    def _class_for(self, type_name: str, node_id: str) -> str:
        ng_type = ng_type_name(type_name)
        if ng_type in self._ng_classes:
            return ng_type
        doc = self.controller.doc
        self._unknown_serial += 1
        if type_name == SUBGRAPH_TYPE:  # a class per subgraph node: its ports are its subgraph's
            sub_cls = subgraph_nav.make_class(self._unknown_serial, doc, node_id)
            self.graph.register_node(sub_cls)
            return str(sub_cls.type_)
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
        self._add_param_ports(node, spec)
        self._add_file_ports(node, spec)
        # NodeGraphQt made the name unique ("Resize 1"); titles may repeat, the stable id is the identity.
        node.model.name = node.view.name = self.controller.node_title(node_id) or type(node).NODE_NAME
        view: ArtNodeItem = node.view
        view.stable_id = node_id
        view.on_product_clicked = self.product_activated.emit
        view.loader = self.thumbs
        self._nodes[node_id] = node
        self._ids[node.id] = node_id
        view.summary = summary(self.controller.registry.get(spec.type), spec.params)
        if spec.type == SUBGRAPH_TYPE:
            view.summary = subgraph_nav.face(self.controller.doc, node_id)
        self._apply_run(node_id)
        view.draw_node()
        view.set_mode(self.controller.node_mode(node_id))

    def _apply_summary(self, node_id: str, _name: str = "") -> None:
        node, spec = self._nodes.get(node_id), self.controller.doc.node(node_id)
        if node is not None and spec is not None:
            node.view.set_summary(summary(self.controller.registry.get(spec.type), spec.params))

    def _add_param_ports(self, node: Any, spec: Any) -> None:
        """An input port "param:NAME" per param the node has turned into an input (DESIGN §10)."""
        node_type = self.controller.registry.get(spec.type)
        for name in spec.param_inputs:
            param = node_type.param(name) if node_type is not None else None
            port = PARAM_INPUT_PREFIX + name
            if param is not None and port not in node.inputs():
                kind = param_port_kind(param.kind)
                node.add_input(port, color=theme.PORT_COLORS.get(kind, (150, 150, 150)),
                               painter_func=port_painter(False))

    def _add_file_ports(self, node: Any, spec: Any) -> None:
        """An input port per file field of a provider node's model (its `media_inputs`), typed by the field."""
        node_type = self.controller.registry.get(spec.type)
        if node_type is None or node_type.extra_inputs is None:
            return
        for port in node_type.inputs_for(spec.params)[len(node_type.inputs):]:
            if port.name not in node.inputs():
                node.add_input(port.name, color=theme.PORT_COLORS.get(port.kind, (150, 150, 150)),
                               painter_func=port_painter(port.optional))

    def _file_ports_changed(self, node_id: str, name: str) -> None:
        """A provider node whose file ports changed (its model's schema loaded, another image field) is redrawn
        with them; its links are kept (they are the document's)."""
        spec, node = self.controller.doc.node(node_id), self._nodes.get(node_id)
        node_type = self.controller.registry.get(spec.type) if spec is not None else None
        if spec is None or node is None or node_type is None or node_type.extra_inputs is None or \
                node_type.param(name) is None or name in ("input", "seed"):
            return
        wanted = [p.name for p in node_type.inputs_for(spec.params)[len(node_type.inputs):]]
        shown = [n for n in node.inputs() if n not in {p.name for p in node_type.inputs}
                 and not n.startswith(PARAM_INPUT_PREFIX)]
        if wanted != shown:
            self._rebuild_node_view(node_id)

    def _rebuild_node_view(self, node_id: str) -> None:
        """Re-create a node's view with its links (its ports changed)."""
        if node_id not in self._nodes:
            return
        selected = node_id in self.selected_ids()
        self._remove_node_view(node_id)
        self._add_node_view(node_id)
        for edge in self.controller.doc.edges:
            if node_id in (edge.source, edge.target):
                self._connect_view(edge)
        if selected:
            self._nodes[node_id].view.setSelected(True)

    def _apply_mode(self, node_id: str) -> None:
        node = self._nodes.get(node_id)
        if node is not None:
            node.view.set_mode(self.controller.node_mode(node_id))

    def toggle_mode(self, mode: str, node_ids: list[str] | None = None) -> str | None:
        """Bypass or mute the selection (or `node_ids`), or back to normal when all of them already are."""
        targets = self.selected_ids() if node_ids is None else node_ids
        if not targets:
            self.controller.message.emit("Select the nodes to " + ("bypass" if mode == "bypass" else "mute") + " first")
            return None
        return self.controller.toggle_mode(targets, mode)

    def apply_title(self, node_id: str) -> None:
        node = self._nodes.get(node_id)
        if node is not None:
            title = self.controller.node_title(node_id) or type(node).NODE_NAME
            node.model.name = title
            node.view.name = title
            node.view.draw_node()

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
        self._color_rerouted()

    def _disconnect_view(self, edge: EdgeSpec) -> None:
        ports = self._ports(edge)
        if ports is not None and ports[1] in ports[0].connected_ports():
            ports[0].disconnect_from(ports[1], push_undo=False, emit_signal=False)
            self._color_rerouted()

    def _color_pipes(self, port_view: Any) -> None:
        for pipe in port_view.connected_pipes:
            rgb = pipe.output_port.color[:3] if pipe.output_port is not None else (150, 150, 150)
            source = self._ids.get(pipe.output_port.node.id) if pipe.output_port is not None else None
            spec = self.controller.doc.node(source) if source else None
            if spec is not None and spec.type == REROUTE:  # a link through a reroute keeps its type's colour
                rgb = theme.PORT_COLORS.get(self.controller.carried_kind(spec.id), rgb)
            pipe.color = (*rgb, 255)
            pipe.reset()

    def _color_rerouted(self) -> None:
        """Re-colour the links leaving reroutes: what feeds a chain of them may just have changed."""
        for spec in self.controller.doc.nodes:
            if spec.type == REROUTE and (node := self._nodes.get(spec.id)) is not None:
                for port in node.outputs().values():
                    for other in port.connected_ports():
                        self._color_pipes(other.view)

    def sync_edges(self) -> None:
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

    def apply_backdrop(self, backdrop_id: str) -> None:
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
        if SEPARATOR in node_id:  # an inner node of a subgraph (OUTER/INNER): its subgraph node shows it
            node_id = node_id.split(SEPARATOR, 1)[0]
        node = self._nodes.get(node_id)
        if node is None:
            return
        run = self.controller.run_state.get(node_id)
        if subgraphs.is_subgraph(self.controller, node_id):
            run = subgraphs.rolled_up(self.controller, node_id)
        errors = list(self.controller.issues.get(node_id, []))
        if run and run.status == NodeStatus.FAILED and run.error:
            errors.append(run.error)
        node.view.set_run(run.status if run else None, run.percent if run else 0.0, errors,
                          run.products if run else [], stale=self.controller.run_state.stale(node_id))

    def _on_thumbnail_loaded(self, product_id: str) -> None:
        for node in self._nodes.values():
            if node.view.shows(product_id):
                node.view.draw_node()

    def _apply_all_runs(self) -> None:
        for node_id in self._nodes:
            self._apply_run(node_id)

    # --- commands the window calls ----------------------------------------------------------------------
    def add_node(self, type_name: str, pos: tuple[float, float] | None = None) -> str | None:
        node_id = self.controller.add_node(type_name, pos or self.drop_point())
        if node_id:
            self.select([node_id])
        return node_id

    def add_product_node(self, product_ids: list[str], pos: tuple[float, float]) -> str | None:
        """An input.product node taking these library products, at `pos`; one undo step."""
        return self.add_input_node("input.product", pos, {"products": "\n".join(dict.fromkeys(product_ids))})

    def add_input_node(self, type_name: str, pos: tuple[float, float], params: dict[str, Any]) -> str | None:
        """A node with these params (the others at their defaults) at `pos`, selected; one undo step."""
        node_type = self.controller.registry.get(type_name)
        if node_type is None:
            return None
        node_id = self.controller.add_node(type_name, pos, {**node_type.defaults(), **params})
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

    def rename_node(self, node_id: str) -> None:
        """Ask for the node's title (empty restores its type's); one undo step."""
        if node_id not in self._nodes:
            return
        current = self.controller.display_title(node_id)
        title, ok = QInputDialog.getText(self, "Rename node", f"Title of {node_id}:", text=current)
        if ok:
            self.controller.rename_node(node_id, title)

    def duplicate(self, node_ids: list[str]) -> list[str]:
        """Copies of the nodes (and the links between them) beside them, selected; one undo step."""
        if not node_ids:
            return []
        new_ids = self.controller.paste(self.controller.fragment(node_ids))
        self.select(new_ids)
        return new_ids

    def node_products(self, node_id: str) -> list[str]:
        """The product ids the node shows from its last run."""
        run = self.controller.run_state.get(node_id)
        return [product_id for product_id, _path in run.products] if run else []

    def select_all(self) -> None:
        for node in (*self._nodes.values(), *self._backdrops.values()):
            node.view.setSelected(True)

    def selected_ids(self) -> list[str]:
        return [self._ids[n.id] for n in self.graph.selected_nodes() if n.id in self._ids]

    def selected_backdrops(self) -> list[str]:
        return [self._backdrop_ids[n.id] for n in self.graph.selected_nodes() if n.id in self._backdrop_ids]

    def select(self, node_ids: list[str]) -> None:
        # Item-level selection: NodeGraphQt's own select calls would fill its (unused) undo stack.
        for item in self.viewer.scene().selectedItems():
            item.setSelected(False)
        for node_id in node_ids:
            node = self._nodes.get(node_id)
            if node is not None:
                node.view.setSelected(True)

    def highlight(self, node_id: str) -> bool:
        """Select the node, frame it and draw a halo round it until another node is highlighted."""
        if node_id not in self._nodes:
            return False
        for other in self._nodes.values():
            if other.view.highlighted:
                other.view.highlighted = False
                other.view.update()
        item = self._nodes[node_id].view
        item.highlighted = True
        item.update()
        self.select([node_id])
        self.zoom_to_fit()  # frames the selection
        return True

    def node_item(self, node_id: str) -> ArtNodeItem | None:
        node = self._nodes.get(node_id)
        return node.view if node is not None else None

    def sizes(self) -> dict[str, tuple[float, float]]:
        return {i: (n.view.width, n.view.height) for i, n in self._nodes.items()}

    def layout_sizes(self) -> dict[str, tuple[float, float]]:
        """Sizes to lay out with: a node that makes images gets room for the preview it will show."""
        sizes = self.sizes()
        for node_id, node in self._nodes.items():
            item = node.view
            makes_media = any(k in ("image", "video", "media", "mask") for _n, k in type(node).AF_OUTPUTS)
            if not item.product_ids and makes_media:
                width, height = sizes[node_id]
                sizes[node_id] = (width, height + min(SINGLE_PREVIEW, width))
        return sizes

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
        compat.set_scene_range(self.viewer, rect)
        if self.viewer.get_zoom() > 0.0:  # never magnify a small graph beyond 100 %
            self.viewer.reset_zoom(rect.center())

    def auto_layout(self) -> None:
        self.controller.auto_layout(self.layout_sizes())
