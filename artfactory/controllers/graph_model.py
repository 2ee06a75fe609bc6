"""The graph document as an observable model: reading helpers and the primitives that change it."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from artfactory.controllers import subgraph_ports
from artfactory.controllers.run_state import RunState
from artfactory.engine.document import SUBGRAPH_TYPE, EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.graph_power import REROUTE
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX, NodeType, param_carries, param_port_kind, port_fits
from artfactory.engine.registry import NodeRegistry

MISSING: Any = object()  # a param with no explicit value (the node type's default applies)
Point = tuple[float, float]


class GraphModel(QObject):
    """The document plus change signals. Only the primitives (called by undo commands) change it."""

    node_added = pyqtSignal(str)
    node_removed = pyqtSignal(str)
    edge_added = pyqtSignal(object)  # EdgeSpec
    edge_removed = pyqtSignal(object)  # EdgeSpec
    param_changed = pyqtSignal(str, str)  # node id, param name
    node_title_changed = pyqtSignal(str)  # node id
    position_changed = pyqtSignal(str, str)  # "node" | "backdrop", id
    backdrop_changed = pyqtSignal(str)  # added, changed or removed
    mode_changed = pyqtSignal(str)  # node id: normal, bypass or mute
    param_inputs_changed = pyqtSignal(str)  # node id: a param became an input port ("param:NAME") or back
    node_meta_changed = pyqtSignal(str, str)  # node id, key in meta.canvas[node] (UI state such as seed_mode)
    document_reset = pyqtSignal()

    def __init__(self, registry: NodeRegistry, doc: GraphDocument | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.doc = doc or GraphDocument()
        self.run_state = RunState(self)
        self.issues: dict[str, list[str]] = {}
        self.graph_issues: list[str] = []
        # What a node shows goes out of date when its params or anything upstream change (and back on undo).
        for signal in (self.param_changed, self.edge_added, self.edge_removed, self.node_added, self.node_removed,
                       self.mode_changed, self.param_inputs_changed, self.document_reset):
            signal.connect(self._refresh_out_of_date)

    # --- reading ------------------------------------------------------------------------------
    def node_type(self, node_id: str) -> NodeType | None:
        spec = self.doc.node(node_id)
        return self.registry.get(spec.type) if spec else None

    def param_value(self, node_id: str, name: str) -> Any:
        spec, node_type = self.doc.node(node_id), self.node_type(node_id)
        if spec is None:
            return None
        if name in spec.params:
            return spec.params[name]
        param = node_type.param(name) if node_type else None
        return copy.deepcopy(param.default) if param else None

    def _canvas(self) -> dict[str, Any]:
        canvas = self.doc.meta.get("canvas")
        if not isinstance(canvas, dict):
            canvas = self.doc.meta["canvas"] = {}
        return canvas

    def position(self, node_id: str) -> Point | None:
        return point_of(self._canvas().get(node_id))

    def node_title(self, node_id: str) -> str:
        """The title the user gave the node on the canvas ("" when it shows its type's title)."""
        entry = self._canvas().get(node_id)
        title = entry.get("title") if isinstance(entry, dict) else None
        return title if isinstance(title, str) else ""

    def display_title(self, node_id: str) -> str:
        """What the node is called on screen: its own title, else its type's."""
        node_type = self.node_type(node_id)
        return self.node_title(node_id) or (node_type.title if node_type else node_id)

    def node_mode(self, node_id: str) -> str:
        """"normal", "bypass" or "mute" ("normal" for a node not in the graph)."""
        spec = self.doc.node(node_id)
        return spec.mode if spec is not None else "normal"

    def node_meta(self, node_id: str, key: str) -> Any:
        """A UI-state value kept in meta.canvas[node] (None when absent)."""
        entry = self._canvas().get(node_id)
        return entry.get(key) if isinstance(entry, dict) else None

    def backdrops(self) -> list[dict[str, Any]]:
        items = self.doc.meta.get("backdrops")
        return [b for b in items if isinstance(b, dict) and isinstance(b.get("id"), str)] \
            if isinstance(items, list) else []

    def backdrop(self, backdrop_id: str) -> dict[str, Any] | None:
        return next((b for b in self.backdrops() if b["id"] == backdrop_id), None)

    def new_id(self, node_type: NodeType, taken: Iterable[str] = ()) -> str:
        """A readable stable id from the type's title: "resize", "resize_2", …"""
        base = re.sub(r"[^a-z0-9]+", "_", node_type.title.lower()).strip("_") or "node"
        used = {n.id for n in self.doc.nodes} | set(taken)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        return candidate

    def fingerprints(self) -> dict[str, str]:
        """Per node, a digest of what its result depends on: its type, params and everything upstream.

        Meta (position, title) is left out: it never changes what a run computes."""
        incoming: dict[str, list[EdgeSpec]] = {}
        for edge in self.doc.edges:
            incoming.setdefault(edge.target, []).append(edge)
        specs = {n.id: n for n in self.doc.nodes}
        done: dict[str, str] = {}

        def digest(node_id: str, visiting: frozenset[str]) -> str:
            if node_id in done:
                return done[node_id]
            spec = specs.get(node_id)
            if spec is None or node_id in visiting:  # a dangling link or a cycle: validation names those
                return "?"
            own = {k: v for k, v in spec.to_json().items() if k != "id"}
            links = sorted((e.target_port, e.source_port, digest(e.source, visiting | {node_id}))
                           for e in incoming.get(node_id, ()))
            text = json.dumps([own, links], sort_keys=True, default=str)
            done[node_id] = hashlib.sha256(text.encode("utf-8")).hexdigest()
            return done[node_id]

        return {node_id: digest(node_id, frozenset()) for node_id in specs}

    def _refresh_out_of_date(self, *_args: object) -> None:
        if self.run_state.tracks_edits:
            self.run_state.set_current(self.fingerprints())

    def check_link(self, source: str, source_port: str, target: str, target_port: str) -> str | None:
        """Why this link is not allowed (a message for the status bar), or None when it is."""
        s_spec, t_spec = self.doc.node(source), self.doc.node(target)
        if s_spec is None or t_spec is None:
            return "Cannot connect: the node is not in the graph"
        if source == target:
            return "Cannot connect a node to itself"
        if SUBGRAPH_TYPE in (s_spec.type, t_spec.type):  # its ports are its subgraph's, not a node type's
            return subgraph_ports.check_link(self.doc, self.registry, self._reaches, source, source_port, target,
                                             target_port)
        s_type, t_type = self.registry.get(s_spec.type), self.registry.get(t_spec.type)
        if s_type is None or t_type is None:
            return f"Cannot connect: unknown node type {(s_spec if s_type is None else t_spec).type!r}"
        if target_port.startswith(PARAM_INPUT_PREFIX):
            return self._check_param_link(s_spec, source_port, t_spec, target_port)
        out_port, in_port = s_type.output(source_port), t_type.input_for(target_port, t_spec.params)
        if out_port is None:
            return f"Cannot connect: {s_type.title} has no output {source_port!r}"
        if in_port is None:
            return f"Cannot connect: {t_type.title} has no input {target_port!r}"
        # A reroute carries the kind of what feeds it, so a link stays typed through any chain of them.
        out_kind = self.carried_kind(source) if s_spec.type == REROUTE else out_port.kind
        if t_spec.type == REROUTE:
            refused = self._reroute_refuses(target, out_kind)
            if refused:
                return f"Cannot connect {out_kind} → {refused} (through the reroute {target})"
        # (An unfed reroute takes its type from what comes later: anything may leave it.)
        elif (out_kind != "any" or s_spec.type != REROUTE) and not port_fits(out_kind, in_port.kind):
            return f"Cannot connect {out_kind} → {in_port.kind}"
        if self._reaches(target, source):
            return f"Cannot connect {source} → {target}: it would make a cycle"
        return None

    def _check_param_link(self, s_spec: NodeSpec, source_port: str, t_spec: NodeSpec, target_port: str) -> str | None:
        """A link into a param turned input ("param:NAME"): the source's kind must carry the param's type."""
        s_type, t_type = self.registry.get(s_spec.type), self.registry.get(t_spec.type)
        assert s_type is not None and t_type is not None
        name = target_port[len(PARAM_INPUT_PREFIX):]
        out_port, param = s_type.output(source_port), t_type.param(name)
        if out_port is None:
            return f"Cannot connect: {s_type.title} has no output {source_port!r}"
        if param is None or name not in t_spec.param_inputs:
            return f"Cannot connect: {t_type.title} has no input {target_port!r}"
        kind = self.carried_kind(s_spec.id) if s_spec.type == REROUTE else out_port.kind
        if kind != "any" and not param_carries(kind, param.kind):
            return f"Cannot connect {kind} → {param_port_kind(param.kind)} (param {name})"
        if self._reaches(t_spec.id, s_spec.id):
            return f"Cannot connect {s_spec.id} → {t_spec.id}: it would make a cycle"
        return None

    def carried_kind(self, reroute: str) -> str:
        """The kind a reroute carries: its source's output kind, followed back through reroutes ("any": unfed)."""
        node, seen = reroute, set()
        while node not in seen:
            seen.add(node)
            edge = next((e for e in self.doc.edges if e.target == node and e.target_port == "in"), None)
            spec = self.doc.node(edge.source) if edge is not None else None
            if edge is None or spec is None:
                return "any"
            if spec.type != REROUTE:
                node_type = self.registry.get(spec.type)
                port = node_type.output(edge.source_port) if node_type else None
                return port.kind if port is not None else "any"
            node = spec.id
        return "any"

    def _reroute_refuses(self, reroute: str, kind: str) -> str | None:
        """The kind of an input downstream of the reroute that `kind` would not fit (None: all fit)."""
        stack, seen = [reroute], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for edge in (e for e in self.doc.edges if e.source == node):
                spec = self.doc.node(edge.target)
                if spec is None:
                    continue
                if spec.type == REROUTE:
                    stack.append(spec.id)
                    continue
                node_type = self.registry.get(spec.type)
                port = node_type.input_for(edge.target_port, spec.params) if node_type else None
                if port is not None and kind != "any" and not port_fits(kind, port.kind):
                    return port.kind
        return None

    def _reaches(self, start: str, goal: str) -> bool:
        successors: dict[str, list[str]] = {}
        for edge in self.doc.edges:
            successors.setdefault(edge.source, []).append(edge.target)
        seen, stack = {start}, [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            for nxt in successors.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    # --- primitives: the only code that changes `doc`; commands call them -----------------------------
    def _insert_node(self, spec: NodeSpec, index: int, canvas: dict[str, Any] | None) -> None:
        self.doc.nodes.insert(min(index, len(self.doc.nodes)), spec)
        if canvas is not None:
            self._canvas()[spec.id] = copy.deepcopy(canvas)
        self.node_added.emit(spec.id)

    def _delete_node(self, node_id: str) -> tuple[NodeSpec, int, dict[str, Any] | None]:
        spec = self.doc.node(node_id)
        assert spec is not None
        index = self.doc.nodes.index(spec)
        del self.doc.nodes[index]
        canvas = self._canvas().pop(node_id, None)
        self.issues.pop(node_id, None)
        self.run_state.forget(node_id)
        self.node_removed.emit(node_id)
        return spec, index, canvas

    def _insert_edge(self, edge: EdgeSpec, index: int | None) -> None:
        self.doc.edges.insert(len(self.doc.edges) if index is None else index, edge)
        self.edge_added.emit(edge)

    def _delete_edge(self, edge: EdgeSpec) -> int:
        index = self.doc.edges.index(edge)
        del self.doc.edges[index]
        self.edge_removed.emit(edge)
        return index

    def _write_param(self, node_id: str, name: str, value: Any) -> None:
        spec = self.doc.node(node_id)
        assert spec is not None
        if value is MISSING:
            spec.params.pop(name, None)
        else:
            spec.params[name] = copy.deepcopy(value)
        self.param_changed.emit(node_id, name)

    def _write_mode(self, node_id: str, mode: str) -> None:
        spec = self.doc.node(node_id)
        assert spec is not None
        spec.mode = mode
        self.mode_changed.emit(node_id)

    def _write_param_inputs(self, node_id: str, names: list[str]) -> None:
        spec = self.doc.node(node_id)
        assert spec is not None
        spec.param_inputs = list(names)
        self.param_inputs_changed.emit(node_id)

    def _write_node_meta(self, node_id: str, key: str, value: Any) -> None:
        entry = self._canvas().setdefault(node_id, {})
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = copy.deepcopy(value)
        self.node_meta_changed.emit(node_id, key)

    def _write_title(self, node_id: str, title: str) -> None:
        entry = self._canvas().setdefault(node_id, {})
        if title:
            entry["title"] = title
        else:
            entry.pop("title", None)
        self.node_title_changed.emit(node_id)

    def _write_position(self, kind: str, item_id: str, pos: Point) -> None:
        if kind == "node":
            self._canvas().setdefault(item_id, {})["pos"] = [pos[0], pos[1]]
        else:
            backdrop = self.backdrop(item_id)
            if backdrop is not None:
                backdrop["rect"][:2] = [pos[0], pos[1]]
        self.position_changed.emit(kind, item_id)

    def _write_backdrop(self, backdrop_id: str, data: dict[str, Any] | None, index: int | None) -> int | None:
        items = self.doc.meta.get("backdrops")
        if not isinstance(items, list):
            items = self.doc.meta["backdrops"] = []
        old_index = next((i for i, b in enumerate(items) if isinstance(b, dict) and b.get("id") == backdrop_id), None)
        if old_index is not None:
            del items[old_index]
        if data is not None:
            position = old_index if old_index is not None else (len(items) if index is None else index)
            items.insert(min(position, len(items)), copy.deepcopy(data))
        if not items:
            self.doc.meta.pop("backdrops", None)
        self.backdrop_changed.emit(backdrop_id)
        return old_index


def point_of(entry: Any) -> Point | None:
    """The position in a canvas entry {"pos": [x, y]}, or None when it has none (or a malformed one)."""
    pos = entry.get("pos") if isinstance(entry, dict) else None
    if isinstance(pos, list | tuple) and len(pos) == 2 and all(isinstance(v, int | float) for v in pos):
        return float(pos[0]), float(pos[1])
    return None


def top_left(points: Iterable[Point]) -> Point:
    """The top-left corner of a set of positions ((0, 0) for none)."""
    pts = list(points)
    if not pts:
        return 0.0, 0.0
    return min(p[0] for p in pts), min(p[1] for p in pts)
