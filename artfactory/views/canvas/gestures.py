"""Canvas gestures: NodeGraphQt's own handlers are replaced by ones that turn a gesture into a controller edit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from PyQt6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PyQt6.QtGui import QAction, QColor, QContextMenuEvent, QCursor, QKeySequence, QMouseEvent
from PyQt6.QtWidgets import QGraphicsDropShadowEffect

from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import EdgeSpec
from artfactory.services import transfer
from artfactory.views.canvas import compat, node_menu
from artfactory.views.canvas.node_item import ArtNodeItem, RerouteItem
from artfactory.views.gallery.model import decode_product_ids

NodeGraphQt = compat.import_nodegraphqt()
from NodeGraphQt.qgraphics.pipe import LivePipeItem, PipeItem  # noqa: E402  (after the PyQt6 patches)
from NodeGraphQt.qgraphics.port import PortItem  # noqa: E402

BACKDROP_TYPE = NodeGraphQt.BackdropNode.type_
NODES_MIME = "nodegraphqt/nodes"


def opens_as_graph(path: Path) -> bool:
    """A dropped file that opens as a graph: a graph document (*.json), or an exported PNG or lineage sidecar
    carrying one. Anything else dropped on the canvas is media to import."""
    if path.suffix.lower() == ".json":
        return True
    try:
        return transfer.is_export(path) and transfer.graph_from_export(path) is not None
    except (OSError, ValueError):
        return False


class Canvas(node_menu.MenuCanvas, Protocol):
    """What the gestures use of the canvas (GraphView provides it)."""

    controller: GraphController
    graph: Any  # NodeGraphQt.NodeGraph
    viewer: Any  # its NodeViewer
    files_dropped: Any  # signals: pyqtBoundSignal
    media_dropped: Any
    node_activated: Any

    def ng_nodes(self) -> Mapping[str, Any]: ...  # our id -> NodeGraphQt node
    def node_id_of(self, ng_id: str) -> str | None: ...
    def backdrop_id_of(self, ng_id: str) -> str | None: ...
    def af_type_of(self, ng_type: str) -> str | None: ...
    def add_node(self, type_name: str, pos: tuple[float, float] | None = None) -> str | None: ...
    def add_product_node(self, product_ids: list[str], pos: tuple[float, float]) -> str | None: ...
    def add_backdrop_at(self, pos: tuple[float, float], title: str = "Notes") -> str: ...
    def rename_backdrop(self, backdrop_id: str) -> None: ...
    def select(self, node_ids: list[str]) -> None: ...
    def sync_edges(self) -> None: ...
    def apply_backdrop(self, backdrop_id: str) -> None: ...
    def apply_title(self, node_id: str) -> None: ...
    def stop_framing(self) -> None: ...


class CanvasGestures(QObject):
    """Owns the canvas's mouse, key and search handling; given the canvas it edits through."""

    def __init__(self, canvas: Canvas) -> None:
        super().__init__(canvas.viewer)
        self.canvas = canvas
        self.viewer, self.graph, self.controller = canvas.viewer, canvas.graph, canvas.controller
        v = self.viewer
        compat.replace_graph_handlers(self.graph, {
            "search_triggered": self._on_search,
            "connection_changed": self._on_connection_changed,
            "connection_sliced": self._on_sliced,
            "moved_nodes": self._on_moved,
            "node_backdrop_updated": self._on_backdrop_resized,
            "data_dropped": self._on_dropped,
            "node_name_changed": self._on_renamed,
            "insert_node": None,
        })
        v.node_double_clicked.connect(self._on_double_clicked)
        # NodeGraphQt's own undo/redo actions (its stack, Ctrl+Z) would clash with ours: drop them.
        menu = self.graph.get_context_menu("graph").qmenu
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
        self._link_from: tuple[str, str, str] | None = None  # (node, port, "out"|"in"): a link dropped on nothing
        self._link_drop: tuple[QPoint, str, str, str] | None = None  # opens the link search once the release is done
        self.search_types: list[str] = []  # the node types the search last offered
        self._port_hints: list[Any] = []  # port items dimmed or lit while a link is dragged
        compat.on_live_connection(v, self._show_port_hints, self._clear_port_hints)
        v.viewport().installEventFilter(self)
        v.installEventFilter(self)  # focus and keys: the viewer's modifier hint text

    def show_search(self, at: QPoint | None = None) -> None:
        """The Tab search at `at` (viewport pixels), else under the mouse if it is over the canvas, else central."""
        self._link_from = None
        self._open_search(at, None)

    def show_link_search(self, at: QPoint, node_id: str, port: str, side: str) -> list[str]:
        """The search for a link dropped on empty canvas: only node types with a port the link fits; the node
        chosen is wired to `node_id`.`port` (side "out": an output was dragged, "in": an input). The types offered."""
        kind = self.controller.port_kind(node_id, port, side)
        types = [t.type for t in self.controller.registry
                 if kind and self.controller.linkable_port(t.type, kind, side) is not None]
        if not types:
            self.controller.message.emit(f"No node takes {node_id}.{port}")
            return []
        self._link_from = (node_id, port, side)
        self._open_search(at, set(types))
        return types

    def _open_search(self, at: QPoint | None, only: set[str] | None) -> None:
        viewport = self.viewer.viewport()
        if at is None:
            local = viewport.mapFromGlobal(QCursor.pos())
            at = local if viewport.rect().contains(local) else viewport.rect().center()
        compat.set_last_mouse_pos(self.viewer, at)  # NodeGraphQt places the new node there
        names = {n: t for n, t in self.graph.node_factory.names.items() if t != [BACKDROP_TYPE]}
        if only is not None:
            names = {n: kept for n, t in names.items() if (kept := [x for x in t if self.canvas.af_type_of(x) in only])}
        self.search_types = sorted(t for ts in names.values() for x in ts if (t := self.canvas.af_type_of(x)))
        self.viewer.rebuild_tab_search()  # the list differs between a plain and a link-drop search
        self.viewer.tab_search_set_nodes(names)
        self.viewer.tab_search_toggle()

    # --- gestures -> controller -------------------------------------------------------------------------
    def _edge(self, a: Any, b: Any) -> EdgeSpec | None:
        out_port, in_port = (a, b) if a.port_type == "out" else (b, a)
        source, target = self.canvas.node_id_of(out_port.node.id), self.canvas.node_id_of(in_port.node.id)
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
        self.canvas.sync_edges()

    def _on_sliced(self, ports: list[Any]) -> None:
        self.controller.disconnect_edges([e for e in (self._edge(a, b) for a, b in ports) if e])
        self.canvas.sync_edges()

    def _on_moved(self, node_data: dict[Any, Any]) -> None:
        moves = {}
        for item, old in node_data.items():
            new = (float(item.xy_pos[0]), float(item.xy_pos[1]))
            old_pos = (float(old[0]), float(old[1]))
            if (node_id := self.canvas.node_id_of(item.id)) is not None:
                moves[("node", node_id)] = (old_pos, new)
            elif (backdrop_id := self.canvas.backdrop_id_of(item.id)) is not None:
                moves[("backdrop", backdrop_id)] = (old_pos, new)
        self.controller.move(moves)

    def _on_backdrop_resized(self, ng_id: str, what: str, value: Any) -> None:
        backdrop_id = self.canvas.backdrop_id_of(ng_id)
        if backdrop_id and isinstance(value, dict) and what in ("sizer_mouse_release", "sizer_double_clicked"):
            x, y = value["pos"]
            self.controller.update_backdrop(backdrop_id, rect=(x, y, value["width"], value["height"]))
            self.canvas.apply_backdrop(backdrop_id)

    def _on_search(self, ng_type: str, pos: tuple[float, float]) -> None:
        link, self._link_from = self._link_from, None
        if ng_type == BACKDROP_TYPE:
            self.canvas.add_backdrop_at((pos[0], pos[1]))
        elif (type_name := self.canvas.af_type_of(ng_type)) is not None:
            if link is None:
                self.canvas.add_node(type_name, (pos[0], pos[1]))
            elif (new_id := self.controller.add_linked_node(type_name, (pos[0], pos[1]), *link)) is not None:
                self.canvas.select([new_id])

    def _on_dropped(self, mime: Any, pos: QPoint) -> None:
        if mime.hasFormat(NODES_MIME):
            text = bytes(mime.data(NODES_MIME).data()).decode("utf-8", "replace")
            x, y = float(pos.x()), float(pos.y())
            for ng_type in re.findall(r"node:([\w.]+)", text):
                if (type_name := self.canvas.af_type_of(ng_type)) is not None:
                    self.canvas.add_node(type_name, (x, y))
                    x, y = x + 40, y + 40
        elif ids := decode_product_ids(mime):
            # Products dragged from the gallery: one input.product node with them, where they were dropped.
            self.canvas.add_product_node(ids, (float(pos.x()), float(pos.y())))
        elif mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            graphs = [p for p in paths if opens_as_graph(Path(p))]
            media = [p for p in paths if p not in graphs]
            if graphs:  # graph files, and exports that carry a graph, open as before
                self.canvas.files_dropped.emit(graphs)
            if media:  # images are imported and taken in by a node; a folder becomes an input.folder node
                self.canvas.media_dropped.emit(media, (float(pos.x()), float(pos.y())))

    def _on_renamed(self, ng_id: str, title: str) -> None:
        # The title was edited in place on the node (double-click on it): one undoable rename.
        if (node_id := self.canvas.node_id_of(ng_id)) is not None:
            self.controller.rename_node(node_id, title)
            self.canvas.apply_title(node_id)

    def _on_double_clicked(self, ng_id: str) -> None:
        if (node_id := self.canvas.node_id_of(ng_id)) is not None:
            self.canvas.node_activated.emit(node_id)
        elif (backdrop_id := self.canvas.backdrop_id_of(ng_id)) is not None:
            self.canvas.rename_backdrop(backdrop_id)

    def node_at(self, viewport_pos: QPoint) -> str | None:
        """Our id of the node under a viewport position (its title, ports and thumbnails included)."""
        for item in self.viewer.scene().items(self.viewer.mapToScene(viewport_pos)):
            while item is not None and not isinstance(item, ArtNodeItem):
                item = item.parentItem()
            if item is not None and (node_id := self.canvas.node_id_of(item.id)) is not None:
                return node_id
        return None

    def show_node_menu(self, node_id: str, global_pos: QPoint) -> None:
        """The node's own menu; the node is selected first, as a right-click selects in any editor."""
        if node_id not in self.canvas.selected_ids():
            self.canvas.select([node_id])
        menu = node_menu.build(self.canvas, node_id)
        menu.exec(global_pos)
        menu.deleteLater()

    def _on_context_menu(self, event: QContextMenuEvent) -> bool:
        node_id = self.node_at(event.pos())
        if node_id is None:
            return False  # empty canvas (or a backdrop): NodeGraphQt shows the canvas menu
        compat.forget_right_button(self.viewer)  # the menu takes the button's release
        self.show_node_menu(node_id, event.globalPos())
        return True

    def link_at(self, viewport_pos: QPoint) -> EdgeSpec | None:
        """The document link drawn under a viewport position (within a few pixels), or None."""
        scene_pos = self.viewer.mapToScene(viewport_pos)
        for item in compat.items_near(self.viewer, scene_pos, 8):
            if isinstance(item, PipeItem) and not isinstance(item, LivePipeItem) and \
                    item.input_port is not None and item.output_port is not None:
                edge = self._edge(item.output_port, item.input_port)
                if edge is not None and edge in self.controller.doc.edges:
                    return edge
        return None

    def insert_reroute_at(self, viewport_pos: QPoint) -> str | None:
        """Split the link under the point with a reroute dot there (double-click or Alt-click on a link)."""
        edge = self.link_at(viewport_pos)
        if edge is None or self.node_at(viewport_pos) is not None:
            return None
        scene = self.viewer.mapToScene(viewport_pos)
        # The node's top-left goes a little up and left of the click, so its ports sit near the link.
        half = RerouteItem.DOT / 2  # the dot is centred where the link was clicked
        return self.controller.insert_reroute(edge, (scene.x() - half, scene.y() - half))

    def _on_canvas_double_click(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        at = event.position().toPoint()
        if self.insert_reroute_at(at) is not None:
            return True
        if compat.items_near(self.viewer, self.viewer.mapToScene(at), 6):
            return False  # a node, port, link or backdrop handles its own double-click
        # Opened once the button is up: a menu opened now would swallow the release and leave
        # NodeGraphQt thinking the button is still down (a rubber band following the mouse).
        self._search_at = at
        return True

    def _open_pending_search(self) -> None:
        at, self._search_at = self._search_at, None
        if at is not None:
            self.show_search(at)

    # --- link drag feedback -----------------------------------------------------------------------------
    def _show_port_hints(self, start: Any) -> None:
        """Light the ports the dragged link may end on and dim the rest (the drop is still checked)."""
        self._clear_port_hints()
        start_id = self.canvas.node_id_of(start.node.id) if start is not None else None
        if start_id is None:
            return
        for node_id, node in self.canvas.ng_nodes().items():
            labels = compat.port_labels(node.view)
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

    def _clear_port_hints(self) -> None:
        for item, label in self._port_hints:
            if item.scene() is not None:
                item.setGraphicsEffect(None)
                item.setOpacity(1.0)
            if label is not None and label.scene() is not None:
                label.setOpacity(1.0)
        self._port_hints = []

    def _hide_modifier_hint(self) -> None:
        # NodeGraphQt writes "CTRL: Deselect Nodes" (and SHIFT/ALT hints) on the canvas while a modifier is
        # down and only removes it on the viewer's own key release, which never comes when the release
        # goes elsewhere (a shortcut opened a dialog or the search, the tab changed).
        compat.hide_cursor_hint(self.viewer)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None:
            return False
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel) and watched is not self.viewer:
            self.canvas.stop_framing()  # the user takes over the view: no re-framing under their hands
        if watched is self.viewer:
            if kind == QEvent.Type.FocusOut:
                self._hide_modifier_hint()
                # self.canvas.viewer: `watched is self.viewer` narrowed self.viewer to watched's QObject type.
                self.canvas.viewer.clear_key_state()  # else the next click acts as a Ctrl/Shift click
            return False
        if kind == QEvent.Type.MouseButtonRelease:
            if isinstance(event, QMouseEvent):
                self._note_link_drop(event)
            # NodeGraphQt re-creates a pipe in its default colour when a dragged link snaps back.
            QTimer.singleShot(0, self.canvas.sync_edges)
            QTimer.singleShot(0, self._after_release)
            if self._search_at is not None:
                QTimer.singleShot(0, self._open_pending_search)
            if self._link_drop is not None:
                QTimer.singleShot(0, self._open_link_search)
        elif kind == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
            return self._on_context_menu(event)
        elif kind == QEvent.Type.MouseButtonDblClick and isinstance(event, QMouseEvent):
            return self._on_canvas_double_click(event)
        elif kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent) and \
                event.button() == Qt.MouseButton.LeftButton and \
                event.modifiers() == Qt.KeyboardModifier.AltModifier:
            # Alt-click on a link drops a reroute there (Alt-drag elsewhere still pans).
            return self.insert_reroute_at(event.position().toPoint()) is not None
        return False

    def _note_link_drop(self, event: QMouseEvent) -> None:
        """A new link released on empty canvas (no port, no node there): the search opens once the release is done."""
        start = compat.new_link_start(self.viewer)
        if start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        at = event.position().toPoint()
        if self.node_at(at) is not None or any(isinstance(i, PortItem) for i in self.viewer.items(at)):
            return
        node_id = self.canvas.node_id_of(start.node.id)
        if node_id is not None:
            self._link_drop = (at, node_id, start.name, start.port_type)

    def _open_link_search(self) -> None:
        drop, self._link_drop = self._link_drop, None
        if drop is not None:
            self.show_link_search(*drop)

    def _after_release(self) -> None:
        self._hide_modifier_hint()
        if not compat.live_pipe_visible(self.viewer):
            self._clear_port_hints()  # a drag that ended without NodeGraphQt ending it (dropped on its own port)
