"""One open graph: its document (the source of truth), undo stack, file path, dirty flag and run state."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtGui import QUndoStack

from artfactory.controllers import commands as cmd
from artfactory.controllers.graph_model import MISSING, GraphModel, Point, point_of, top_left
from artfactory.controllers.layout import layered_positions
from artfactory.engine import document as graph_document
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.graph_power import REROUTE
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX, NodeType, port_fits
from artfactory.engine.plan import MAX_SEED
from artfactory.engine.registry import NodeRegistry
from artfactory.engine.validate import ValidationError, validate

FRAGMENT_FORMAT = "artfactory.fragment"
NODE_MODES = ("normal", "bypass", "mute")
SEED_MODES = ("fixed", "random", "increment")
__all__ = ["FRAGMENT_FORMAT", "MISSING", "NODE_MODES", "SEED_MODES", "GraphController"]


class GraphController(GraphModel):
    """All edits go through here as undo commands; the canvas and forms are views of `doc`."""

    title_changed = pyqtSignal()
    issues_changed = pyqtSignal()
    message = pyqtSignal(str)  # for the status bar

    def __init__(self, registry: NodeRegistry, doc: GraphDocument | None = None, path: Path | None = None,
                 defaults: Mapping[str, Any] | None = None, parent: QObject | None = None) -> None:
        super().__init__(registry, doc, parent)
        self.path = Path(path) if path else None
        self.defaults = dict(defaults or {})
        # A graph opened from an order: re-runs record it as their parent and keep its seeds.
        self.parent_order_id: str | None = None
        self.pinned_seeds: dict[str, int] = {}
        self.last_seeds: dict[str, int] = {}  # node id -> the seed its last Run resolved (shown beside the field)
        self.arrived_params: dict[str, dict[str, list[Any]]] = {}  # node -> param input -> values of the last run
        self.undo_stack = QUndoStack(self)
        # Bound methods, not lambdas: a dying QUndoStack still emits, and PyQt drops a bound slot in time.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._forced_dirty = False
        self._revalidate = QTimer(self)
        self._revalidate.setSingleShot(True)
        self._revalidate.setInterval(0)
        self._revalidate.timeout.connect(self.validate)
        self.undo_stack.indexChanged.connect(self._after_edit)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.title_changed.emit()

    # --- state ------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._forced_dirty or not self.undo_stack.isClean()

    def mark_dirty(self) -> None:
        """A document that was never saved where it came from (a restored autosave)."""
        self._forced_dirty = True
        self.title_changed.emit()

    def title(self) -> str:
        return self.path.name if self.path else (self.doc.name or "Untitled")

    # --- editing (each is one undo step) -----------------------------------------------------------
    def add_node(self, type_name: str, pos: Point, params: Mapping[str, Any] | None = None) -> str | None:
        node_type = self.registry.get(type_name)
        if node_type is None:
            self.message.emit(f"Unknown node type {type_name!r}")
            return None
        spec = NodeSpec(self.new_id(node_type), type_name, dict(params or self._initial_params(node_type)))
        self.undo_stack.push(cmd.AddNode(self, spec, len(self.doc.nodes), {"pos": [pos[0], pos[1]]},
                                         f"Add {node_type.title}"))
        return spec.id

    def linkable_port(self, type_name: str, kind: str, side: str) -> str | None:
        """The port of a `type_name` node a link of `kind` dragged from an output (side "out") or an input
        (side "in") would land on: the first of the same kind, else the first that fits; None when none fits."""
        node_type = self.registry.get(type_name)
        if node_type is None:
            return None
        if side == "out":
            candidates = [(p.name, p.kind) for p in node_type.inputs if port_fits(kind, p.kind)]
        else:
            candidates = [(p.name, p.kind) for p in node_type.outputs if port_fits(p.kind, kind)]
        ranked = [name for name, k in candidates if k == kind] + [name for name, _k in candidates]
        return ranked[0] if ranked else None

    def port_kind(self, node_id: str, port: str, side: str) -> str | None:
        """The kind of a node's output (side "out") or input (side "in") port."""
        node_type, spec = self.node_type(node_id), self.doc.node(node_id)
        params = spec.params if spec is not None else None
        found = (node_type.output(port) if side == "out" else node_type.input_for(port, params)) if node_type else None
        return found.kind if found is not None else None

    def add_linked_node(self, type_name: str, pos: Point, node_id: str, port: str, side: str) -> str | None:
        """A node added where a link from `node_id`.`port` was dropped, wired to it; one undo step."""
        kind = self.port_kind(node_id, port, side)
        node_type = self.registry.get(type_name)
        new_port = self.linkable_port(type_name, kind, side) if kind else None
        if node_type is None or new_port is None:
            self.message.emit(f"{node_type.title if node_type else type_name} has no port that fits {node_id}.{port}")
            return None
        self.undo_stack.beginMacro(f"Add {node_type.title} linked to {node_id}.{port}")
        new_id = self.add_node(type_name, pos)
        if new_id is not None:
            if side == "out":
                self.change_links(added=[EdgeSpec(node_id, port, new_id, new_port)])
            else:
                self.change_links(added=[EdgeSpec(new_id, new_port, node_id, port)])
        self.undo_stack.endMacro()
        return new_id

    def insert_reroute(self, edge: EdgeSpec, pos: Point) -> str | None:
        """Split a link with a reroute dot at `pos`; one undo step. The new reroute's id, or None."""
        node_type = self.registry.get(REROUTE)
        if node_type is None or edge not in self.doc.edges:
            return None
        spec = NodeSpec(self.new_id(node_type), REROUTE, {})
        self.undo_stack.beginMacro(f"Reroute {_edge_text(edge)}")
        self.undo_stack.push(cmd.RemoveEdge(self, edge, "Disconnect"))
        self.undo_stack.push(cmd.AddNode(self, spec, len(self.doc.nodes), {"pos": [pos[0], pos[1]]}, "Add Reroute"))
        self.undo_stack.push(cmd.AddEdge(self, EdgeSpec(edge.source, edge.source_port, spec.id, "in"), "Connect"))
        self.undo_stack.push(cmd.AddEdge(self, EdgeSpec(spec.id, "out", edge.target, edge.target_port), "Connect"))
        self.undo_stack.endMacro()
        return spec.id

    def _initial_params(self, node_type: NodeType) -> dict[str, Any]:
        # The preferred image size applies to new generator nodes; everything else starts at its default.
        params: dict[str, Any] = {}
        if node_type.provider:
            for name in ("width", "height"):
                param, value = node_type.param(name), self.defaults.get(name)
                if param is not None and value is not None and value != param.default:
                    params[name] = value
        return params

    def delete(self, node_ids: Iterable[str] = (), backdrop_ids: Iterable[str] = ()) -> None:
        nodes = [n for n in dict.fromkeys(node_ids) if self.doc.node(n)]
        backdrops = [b for b in dict.fromkeys(backdrop_ids) if self.backdrop(b)]
        if not nodes and not backdrops:
            return
        self.undo_stack.beginMacro(f"Delete {_count(len(nodes) + len(backdrops), 'item')}")
        for edge in [e for e in self.doc.edges if e.source in nodes or e.target in nodes]:
            self.undo_stack.push(cmd.RemoveEdge(self, edge, "Disconnect"))
        for node_id in nodes:
            self.undo_stack.push(cmd.RemoveNode(self, node_id, f"Delete {node_id}"))
        for backdrop_id in backdrops:
            self.undo_stack.push(cmd.SetBackdrop(self, backdrop_id, self.backdrop(backdrop_id), None, "Delete"))
        self.undo_stack.endMacro()

    def change_links(self, removed: Iterable[EdgeSpec] = (), added: Iterable[EdgeSpec] = ()) -> str | None:
        """A link gesture: remove some edges and add others as one undo step.

        A refused addition refuses the whole gesture (so a dragged link snaps back), and its reason is
        returned and shown. Adding to an input that is already fed replaces the old link.
        """
        removed = [e for e in removed if e in self.doc.edges]
        added = [e for e in added if e not in self.doc.edges]
        remaining = [e for e in self.doc.edges if e not in removed]
        for edge in added:
            error = self.check_link(edge.source, edge.source_port, edge.target, edge.target_port)
            if error:
                self.message.emit(error)
                return error
        replaced = [e for e in remaining for new in added if (e.target, e.target_port) == (new.target, new.target_port)]
        if not (removed or added):
            return None
        label = f"Connect {_edge_text(added[0])}" if added else f"Disconnect {_edge_text(removed[0])}"
        self.undo_stack.beginMacro(label)
        for edge in [*removed, *map(_thaw, dict.fromkeys(_freeze(replaced)))]:
            self.undo_stack.push(cmd.RemoveEdge(self, edge, "Disconnect"))
        for edge in added:
            self.undo_stack.push(cmd.AddEdge(self, edge, "Connect"))
        self.undo_stack.endMacro()
        return None

    # Not connect/disconnect: those would shadow QObject's, which Qt and PyQt call on this object.
    def connect_ports(self, source: str, source_port: str, target: str, target_port: str) -> str | None:
        return self.change_links(added=[EdgeSpec(source, source_port, target, target_port)])

    def disconnect_edges(self, edges: Iterable[EdgeSpec]) -> None:
        self.change_links(removed=edges)

    def set_param(self, node_id: str, name: str, value: Any) -> bool:
        """Set a param (MISSING resets it to the default); False with a message when the value is refused."""
        spec, node_type = self.doc.node(node_id), self.node_type(node_id)
        param = node_type.param(name) if node_type else None
        if spec is None or param is None:
            return False
        if value is not MISSING:
            try:
                value = param.coerce(value)
            except ValueError as exc:
                self.message.emit(f"{node_id}.{name} {exc}")
                return False
        old = spec.params.get(name, MISSING)
        if _same(old, value):
            return True
        self.undo_stack.push(cmd.SetParam(self, node_id, name, old, copy.deepcopy(value), f"Edit {node_id}.{name}"))
        return True

    def rename_node(self, node_id: str, title: str) -> None:
        """Give a node its own title on the canvas; an empty title (or the type's own) restores the type's."""
        node_type = self.node_type(node_id)
        if self.doc.node(node_id) is None:
            return
        title = " ".join(title.split())
        if node_type is not None and title == node_type.title:
            title = ""
        old = self.node_title(node_id)
        if title != old:
            self.undo_stack.push(cmd.SetNodeTitle(self, node_id, old, title, f"Rename {node_id}"))

    def toggle_mode(self, node_ids: Iterable[str], mode: str) -> str | None:
        """Bypass or mute the nodes, or, when every one of them already is, make them normal again; one undo
        step. Returns the mode set (None when there was no node)."""
        if mode not in NODE_MODES:
            raise ValueError(f"unknown node mode {mode!r}")
        nodes = [n for n in dict.fromkeys(node_ids) if self.doc.node(n) is not None]
        if not nodes:
            return None
        new = "normal" if all(self.node_mode(n) == mode for n in nodes) else mode
        changes = {n: (self.node_mode(n), new) for n in nodes if self.node_mode(n) != new}
        verb = {"bypass": "Bypass", "mute": "Mute", "normal": "Un-" + ("bypass" if mode == "bypass" else "mute")}[new]
        self.undo_stack.push(cmd.SetModes(self, changes, f"{verb} {_count(len(changes), 'node')}"))
        return new

    def set_param_input(self, node_id: str, name: str, as_input: bool) -> bool:
        """Turn a param into an input port ("param:NAME") or back (its links go too); one undo step."""
        spec, node_type = self.doc.node(node_id), self.node_type(node_id)
        if spec is None or node_type is None or node_type.param(name) is None:
            return False
        if (name in spec.param_inputs) == as_input:
            return True
        new = [*spec.param_inputs, name] if as_input else [n for n in spec.param_inputs if n != name]
        label = f"{'Convert' if as_input else 'Unconvert'} {node_id}.{name} {'to input' if as_input else 'to param'}"
        self.undo_stack.beginMacro(label)
        for edge in [e for e in self.doc.edges if e.target == node_id and e.target_port == PARAM_INPUT_PREFIX + name]:
            self.undo_stack.push(cmd.RemoveEdge(self, edge, "Disconnect"))
        self.undo_stack.push(cmd.SetParamInputs(self, node_id, list(spec.param_inputs), new, label))
        self.undo_stack.endMacro()
        return True

    # --- seed control (UI state in meta.canvas[node]["seed_mode"]; the document's seed stays concrete) ------
    def seed_param(self, node_id: str) -> str | None:
        node_type = self.node_type(node_id)
        return node_type.seed_param if node_type is not None else None

    def seed_mode(self, node_id: str) -> str:
        mode = self.node_meta(node_id, "seed_mode")
        return mode if mode in SEED_MODES else "fixed"

    def seed_nodes(self, mode: str) -> list[str]:
        """The nodes with a seed param whose seed mode is `mode`."""
        return [n.id for n in self.doc.nodes if self.seed_param(n.id) and self.seed_mode(n.id) == mode]

    def set_seed_mode(self, node_id: str, mode: str) -> None:
        if mode not in SEED_MODES:
            raise ValueError(f"unknown seed mode {mode!r}")
        if self.seed_param(node_id) is None or mode == self.seed_mode(node_id):
            return
        old = self.node_meta(node_id, "seed_mode")
        self.undo_stack.push(cmd.SetNodeMeta(self, node_id, "seed_mode", old, None if mode == "fixed" else mode,
                                             f"Seed of {node_id}: {mode}"))

    def set_seed(self, node_id: str, seed: int, label: str) -> bool:
        """Set the seed param on purpose (the dice, the bump after a Run): one undo step of its own."""
        name, spec = self.seed_param(node_id), self.doc.node(node_id)
        if name is None or spec is None:
            return False
        old = spec.params.get(name, MISSING)
        if _same(old, seed):
            return True
        self.undo_stack.push(cmd.SetSeed(self, node_id, name, old, seed, label))
        return True

    def reroll_seed(self, node_id: str, rng: random.Random | None = None) -> int | None:
        """A new concrete seed for the node (the dice button); None when it has no seed param."""
        seed = (rng or random.SystemRandom()).randint(0, MAX_SEED)
        return seed if self.set_seed(node_id, seed, f"Reroll {node_id}") else None

    def seeds_after_run(self, planned: Iterable[str]) -> None:
        """"increment" nodes that were part of a Run move on to the next seed (undoable)."""
        for node_id in planned:
            if self.seed_mode(node_id) != "increment" or (name := self.seed_param(node_id)) is None:
                continue
            current = self.param_value(node_id, name)
            base = current if isinstance(current, int) and current >= 0 else self.last_seeds.get(node_id, 0)
            self.set_seed(node_id, (base + 1) % (MAX_SEED + 1), f"Next seed of {node_id}")

    def move(self, moves: Mapping[tuple[str, str], tuple[Point, Point]], label: str = "Move") -> None:
        """Record moves the canvas already made: {("node"|"backdrop", id): (old, new)}."""
        changed = {k: (_point(o), _point(n)) for k, (o, n) in moves.items() if tuple(o) != tuple(n)}
        if changed:
            self.undo_stack.push(cmd.SetPositions(self, changed, label))

    def auto_layout(self, sizes: Mapping[str, tuple[float, float]]) -> None:
        old = {n.id: self.position(n.id) or (0.0, 0.0) for n in self.doc.nodes}
        new = layered_positions(self.doc, sizes, origin=top_left(old.values()))
        self.move({("node", k): (old[k], new[k]) for k in new}, "Auto-layout")

    def place_unpositioned(self, sizes: Mapping[str, tuple[float, float]]) -> list[str]:
        """Give nodes without a position one from the layered layout (part of loading: not an edit)."""
        missing = [n.id for n in self.doc.nodes if self.position(n.id) is None]
        if not missing:
            return []
        laid = layered_positions(self.doc, sizes)
        for node_id in missing:
            self._write_position("node", node_id, laid[node_id])
        return missing

    def add_backdrop(self, title: str, rect: tuple[float, float, float, float]) -> str:
        taken = {b["id"] for b in self.backdrops()}
        n = 1
        while f"backdrop_{n}" in taken:
            n += 1
        backdrop_id = f"backdrop_{n}"
        data: dict[str, Any] = {"id": backdrop_id, "title": title, "rect": [float(v) for v in rect]}
        self.undo_stack.push(cmd.SetBackdrop(self, backdrop_id, None, data, f"Add backdrop {title!r}"))
        return backdrop_id

    def update_backdrop(self, backdrop_id: str, *, title: str | None = None,
                        rect: tuple[float, float, float, float] | None = None) -> None:
        old = self.backdrop(backdrop_id)
        if old is None:
            return
        new = dict(old)
        if title is not None:
            new["title"] = title
        if rect is not None:
            new["rect"] = [float(v) for v in rect]
        if new != old:
            label = "Rename backdrop" if title is not None else "Resize backdrop"
            self.undo_stack.push(cmd.SetBackdrop(self, backdrop_id, copy.deepcopy(old), new, label))

    # --- copy and paste ------------------------------------------------------------------------
    def fragment(self, node_ids: Iterable[str]) -> dict[str, Any]:
        ids = set(node_ids)
        return {
            "format": FRAGMENT_FORMAT,
            "nodes": [copy.deepcopy(n.to_json()) for n in self.doc.nodes if n.id in ids],
            "edges": [e.to_json() for e in self.doc.edges if e.source in ids and e.target in ids],
            "canvas": {i: {"pos": list(p), **({"title": t} if (t := self.node_title(i)) else {})}
                       for i in ids if (p := self.position(i)) is not None},
        }

    def paste(self, fragment: Any, at: Point | None = None, offset: Point = (40.0, 40.0)) -> list[str]:
        """Add a fragment's nodes with fresh ids and its links re-validated; returns the new ids."""
        try:
            if not isinstance(fragment, dict) or fragment.get("format") != FRAGMENT_FORMAT:
                raise ValueError
            doc = graph_document.from_json({"nodes": fragment.get("nodes", []),
                                            "edges": fragment.get("edges", [])}, "clipboard")
            canvas = fragment.get("canvas") or {}
        except (ValueError, graph_document.DocumentError):
            self.message.emit("Nothing to paste: the clipboard holds no Art Factory nodes")
            return []
        known = [n for n in doc.nodes if n.type in self.registry]
        if len(known) < len(doc.nodes):
            self.message.emit(f"Skipped {_count(len(doc.nodes) - len(known), 'node')} of unknown type")
        if not known:
            return []
        points = {n.id: point_of(canvas.get(n.id)) for n in known}
        left_top = top_left(p for p in points.values() if p is not None)
        shift = (at[0] - left_top[0], at[1] - left_top[1]) if at else offset
        id_map: dict[str, str] = {}
        self.undo_stack.beginMacro(f"Paste {_count(len(known), 'node')}")
        for spec in known:
            node_type = self.registry.get(spec.type)
            assert node_type is not None
            id_map[spec.id] = self.new_id(node_type, id_map.values())
            base = points[spec.id] or left_top
            new = NodeSpec(id_map[spec.id], spec.type, copy.deepcopy(spec.params))
            new.mode = spec.mode  # a bypassed node pastes bypassed
            new.param_inputs = list(spec.param_inputs)
            entry: dict[str, Any] = {"pos": [base[0] + shift[0], base[1] + shift[1]]}
            title = source.get("title") if isinstance(source := canvas.get(spec.id), dict) else None
            if isinstance(title, str) and title:
                entry["title"] = title
            self.undo_stack.push(cmd.AddNode(self, new, len(self.doc.nodes), entry, "Paste node"))
        refused = 0
        for edge in doc.edges:
            if edge.source not in id_map or edge.target not in id_map:
                continue
            new_edge = EdgeSpec(id_map[edge.source], edge.source_port, id_map[edge.target], edge.target_port)
            if self.check_link(*_edge_tuple(new_edge)) or any(
                    (e.target, e.target_port) == (new_edge.target, new_edge.target_port) for e in self.doc.edges):
                refused += 1
                continue
            self.undo_stack.push(cmd.AddEdge(self, new_edge, "Connect"))
        self.undo_stack.endMacro()
        if refused:
            self.message.emit(f"Pasted without {_count(refused, 'invalid link')}")
        return list(id_map.values())

    # --- validation ---------------------------------------------------------------------------------
    def validate(self) -> list[ValidationError]:
        errors = validate(self.doc, self.registry)
        self.issues = {}
        self.graph_issues = []
        for error in errors:
            outer, _, inner = (error.node_id or "").partition("/")
            if error.node_id and self.doc.node(error.node_id):
                self.issues.setdefault(error.node_id, []).append(error.message)
            elif inner and self.doc.node(outer):  # inside a subgraph (OUTER/INNER): shown on its subgraph node
                self.issues.setdefault(outer, []).append(f"{inner}: {error.message}")
            else:
                self.graph_issues.append(error.message)
        self.issues_changed.emit()
        return errors

    def clear_issues(self) -> None:
        if self.issues or self.graph_issues:
            self.issues, self.graph_issues = {}, []
            self.issues_changed.emit()

    def _after_edit(self) -> None:
        # Once problems are on show, keep them current as the user fixes them.
        if self.issues or self.graph_issues:
            self._revalidate.start()

    # --- files --------------------------------------------------------------------------------------
    def replace_document(self, doc: GraphDocument, path: Path | None = None) -> None:
        self.doc, self.path = doc, (Path(path) if path else None)
        self.undo_stack.clear()
        self._forced_dirty = False
        self.issues, self.graph_issues = {}, []
        self.document_reset.emit()
        self.title_changed.emit()

    def save(self, path: Path | None = None) -> Path:
        """Write the document (atomically); raises OSError when the file cannot be written."""
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name to save to")
        if not self.doc.name or self.doc.name == "Untitled":
            self.doc.name = target.stem
        self.doc.save(target)
        self.path = target
        self._forced_dirty = False
        self.undo_stack.setClean()
        self.title_changed.emit()
        return target


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _edge_text(edge: EdgeSpec) -> str:
    return f"{edge.source}.{edge.source_port} → {edge.target}.{edge.target_port}"


def _edge_tuple(edge: EdgeSpec) -> tuple[str, str, str, str]:
    return edge.source, edge.source_port, edge.target, edge.target_port


def _freeze(edges: Iterable[EdgeSpec]) -> list[tuple[str, str, str, str]]:
    return [_edge_tuple(e) for e in edges]


def _thaw(edge: EdgeSpec | tuple[str, str, str, str]) -> EdgeSpec:
    return edge if isinstance(edge, EdgeSpec) else EdgeSpec(*edge)


def _point(p: Sequence[float]) -> Point:
    """A position as the tuple the undo commands store (the canvas may hand over a list)."""
    x, y = p
    return x, y


def _same(old: Any, new: Any) -> bool:
    if old is MISSING or new is MISSING:
        return old is new
    return type(old) is type(new) and old == new


