"""Subgraphs in the app: group and ungroup as one undo step, editing inside in place, run status rolled up, macros."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QUndoCommand

from artfactory.controllers import commands as cmd
from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.graph_model import GraphModel, point_of
from artfactory.controllers.run_state import NodeRun
from artfactory.controllers.subgraph_ports import ports, subgraph_of
from artfactory.engine import document as graph_document
from artfactory.engine.document import SUBGRAPH_TYPE, GraphDocument, NodeSpec, Subgraph
from artfactory.engine.graph_power import SEPARATOR, GroupError, group_into_subgraph, ungroup
from artfactory.engine.status import NodeStatus

CANVAS_KEY = "subgraph_canvas"  # meta[CANVAS_KEY][subgraph name][inner id] = {"pos": [x, y], ...}
__all__ = [
    "CANVAS_KEY",
    "MACRO_FORMAT",
    "MACRO_PREFIX",
    "GroupError",
    "SetSubgraph",
    "SubgraphController",
    "chain_of",
    "default_name",
    "group",
    "inner_canvas",
    "insert_macro",
    "is_subgraph",
    "list_macros",
    "load_macro",
    "macros_dir",
    "output_sources",
    "ports",
    "rolled_up",
    "save_macro",
    "subgraph_of",
    "top_graph",
    "ungroup_node",
]


class SetSubgraph(QUndoCommand):
    """A subgraph definition (and where its inner nodes sit) added, replaced or removed (None)."""

    def __init__(self, ctl: GraphModel, name: str, old: tuple[Subgraph | None, Any],
                 new: tuple[Subgraph | None, Any], text: str) -> None:
        super().__init__(text)
        self.ctl, self.name, self.old, self.new = ctl, name, old, new

    def _write(self, state: tuple[Subgraph | None, Any]) -> None:
        body, canvas = state
        doc = self.ctl.doc
        if body is None:
            doc.subgraphs.pop(self.name, None)
        else:
            doc.subgraphs[self.name] = body
        store = doc.meta.get(CANVAS_KEY)
        if canvas is None:
            if isinstance(store, dict):
                store.pop(self.name, None)
                if not store:
                    doc.meta.pop(CANVAS_KEY, None)
        else:
            if not isinstance(store, dict):
                store = doc.meta[CANVAS_KEY] = {}
            store[self.name] = copy.deepcopy(canvas)

    def redo(self) -> None:
        self._write(self.new)

    def undo(self) -> None:
        self._write(self.old)


# --- reading ----------------------------------------------------------------------------------------------
def is_subgraph(model: GraphModel, node_id: str) -> bool:
    spec = model.doc.node(node_id)
    return spec is not None and spec.type == SUBGRAPH_TYPE


def inner_canvas(doc: GraphDocument, name: str) -> dict[str, Any]:
    """Where the inner nodes of subgraph `name` sit ({} when not recorded)."""
    store = doc.meta.get(CANVAS_KEY)
    entry = store.get(name) if isinstance(store, dict) else None
    return entry if isinstance(entry, dict) else {}


def default_name(doc: GraphDocument, base: str = "Group") -> str:
    """"Group", "Group 2", … : the first name no subgraph of the document has."""
    name, n = base, 2
    while name in doc.subgraphs:
        name, n = f"{base} {n}", n + 1
    return name


# --- editing: one undo step each ----------------------------------------------------------------------------
def _apply(model: Any, new: GraphDocument, label: str, canvas: dict[str, dict[str, Any]],
           subgraph_canvas: dict[str, Any]) -> None:
    """Turn model.doc into `new` (nodes, edges, subgraphs) with primitive undo commands in one macro.

    `canvas`: the canvas entries of the nodes added; `subgraph_canvas`: new entries of meta[CANVAS_KEY] (None
    removes one). Undo replays the primitives backwards, so nodes and links come back at their exact places."""
    old = model.doc
    stack = model.undo_stack
    new_ids = {spec.id: spec for spec in new.nodes}
    stack.beginMacro(label)
    for edge in [e for e in old.edges if e not in new.edges]:
        stack.push(cmd.RemoveEdge(model, edge, "Disconnect"))
    for spec in [s for s in old.nodes if new_ids.get(s.id) != s]:
        stack.push(cmd.RemoveNode(model, spec.id, f"Remove {spec.id}"))
    for name in sorted(set(old.subgraphs) | set(new.subgraphs) | set(subgraph_canvas)):
        before, after = old.subgraphs.get(name), new.subgraphs.get(name)
        before_canvas = inner_canvas(old, name) or None
        after_canvas = subgraph_canvas.get(name, before_canvas)
        if before is not after or before_canvas != after_canvas:
            stack.push(SetSubgraph(model, name, (before, copy.deepcopy(before_canvas)), (after, after_canvas),
                                   f"Subgraph {name}"))
    present = {spec.id for spec in model.doc.nodes}
    for index, spec in enumerate(new.nodes):
        if spec.id not in present:
            stack.push(cmd.AddNode(model, spec, index, canvas.get(spec.id, {}), f"Add {spec.id}"))
    for edge in [e for e in new.edges if e not in model.doc.edges]:
        stack.push(cmd.AddEdge(model, edge, "Connect"))
    stack.endMacro()


def group(model: Any, node_ids: list[str], name: str) -> str:
    """Replace the nodes by one subgraph node named `name` (one undo step); its id. Raises GroupError."""
    name = " ".join(name.split())
    new, outer = group_into_subgraph(model.doc, node_ids, name, model.registry)
    chosen = set(node_ids)
    inner = {n: copy.deepcopy(entry) for n, entry in model._canvas().items() if n in chosen
             and isinstance(entry, dict)}
    pos = point_of(new.meta.get("canvas", {}).get(outer)) or (0.0, 0.0)
    _apply(model, new, f"Group {len(chosen)} node{'s' if len(chosen) != 1 else ''} into {name}",
           {outer: {"pos": [pos[0], pos[1]]}}, {name: inner})
    return outer


def ungroup_node(model: Any, outer_id: str) -> list[str]:
    """Put a subgraph node's inner nodes back in its place (one undo step); their ids. Raises GroupError."""
    found = subgraph_of(model.doc, outer_id)
    new = ungroup(model.doc, outer_id)
    if found is None:  # ungroup() raised already; this keeps the type checker sure
        raise GroupError(f"{outer_id} is not a subgraph node")
    name, body = found
    old_ids = {spec.id for spec in model.doc.nodes}
    added = [spec.id for spec in new.nodes if spec.id not in old_ids]
    # The inner nodes come back where they sat inside, moved so that their middle is where the subgraph node is.
    saved = inner_canvas(model.doc, name)
    points = {spec.id: point_of(saved.get(spec.id)) for spec in body.nodes}
    known = [p for p in points.values() if p is not None]
    centre = (sum(p[0] for p in known) / len(known), sum(p[1] for p in known) / len(known)) if known else (0.0, 0.0)
    at = model.position(outer_id) or centre
    canvas: dict[str, dict[str, Any]] = {}
    for (inner_id, point), new_id in zip(points.items(), added, strict=False):
        kept = saved.get(inner_id)
        entry: dict[str, Any] = copy.deepcopy(kept) if isinstance(kept, dict) else {}
        x, y = point if point is not None else centre
        entry["pos"] = [x - centre[0] + at[0], y - centre[1] + at[1]]
        canvas[new_id] = entry
    gone = name not in new.subgraphs
    _apply(model, new, f"Ungroup {name}", canvas, {name: None} if gone else {})
    return added


# --- run status ---------------------------------------------------------------------------------------------
def output_sources(doc: GraphDocument, node_id: str, prefix: str = "") -> list[str]:
    """The flat ids (OUTER/INNER) of the inner nodes whose outputs a subgraph node hands out."""
    found = subgraph_of(doc, node_id)
    if found is None:
        return []
    body = found[1]
    inner_doc = GraphDocument(nodes=body.nodes, edges=body.edges, subgraphs=doc.subgraphs)
    flat = prefix + node_id + SEPARATOR
    sources: list[str] = []
    for port in body.outputs:
        inner = inner_doc.node(port.node)
        if inner is not None and inner.type == SUBGRAPH_TYPE:
            sources += output_sources(inner_doc, port.node, flat)
        else:
            sources.append(flat + port.node)
    return list(dict.fromkeys(sources))


def rolled_up(model: GraphModel, node_id: str) -> NodeRun | None:
    """What a subgraph node shows of the last run: its inner nodes' runs (OUTER/INNER ids) rolled into one.

    Running while any inner node runs (or some are done and some still wait), failed when one failed, else the
    status they all share (executed when some executed and the rest came from the cache); its products are those
    its outputs made."""
    prefix = node_id + SEPARATOR
    runs = {k: v for k, v in model.run_state.nodes.items() if k.startswith(prefix)}
    if not runs:
        return None
    statuses = [run.status for run in runs.values()]
    failed = [run for run in runs.values() if run.status == NodeStatus.FAILED]
    finished = [s for s in statuses if s.finished]
    if failed:
        status = NodeStatus.FAILED
    elif NodeStatus.RUNNING in statuses or (finished and len(finished) < len(statuses)):
        status = NodeStatus.RUNNING
    elif all(s == statuses[0] for s in statuses):
        status = statuses[0]
    elif NodeStatus.EXECUTED in statuses:
        status = NodeStatus.EXECUTED
    else:
        status = next((s for s in statuses if s != NodeStatus.PENDING), statuses[0])
    percent = sum(100.0 if r.status.made_products else r.percent for r in runs.values()) / len(runs)
    products = [p for source in output_sources(model.doc, node_id) if (r := runs.get(source)) for p in r.products]
    error = "; ".join(f"{k.removeprefix(prefix)}: {r.error}" for k, r in runs.items() if r.error and r in failed)
    return NodeRun(status=status, percent=100.0 if status.made_products else percent, error=error, products=products)


# --- inside a subgraph --------------------------------------------------------------------------------------
class SubgraphController(GraphController):
    """The inside of one subgraph node, edited in place: its document shares the parent's subgraph definition
    (nodes, links, where they sit) and its undo stack is the parent's, so every edit is one of the parent
    document's undo steps and saves with it. `gone` fires when the subgraph leaves the parent (undo, ungroup)."""

    gone = pyqtSignal()

    def __init__(self, root: GraphController, outer_id: str) -> None:
        found = subgraph_of(root.doc, outer_id)
        if found is None:
            raise GroupError(f"{outer_id} is not a subgraph node")
        name, body = found
        store = root.doc.meta.get(CANVAS_KEY)
        if not isinstance(store, dict):
            store = root.doc.meta[CANVAS_KEY] = {}
        canvas = store.setdefault(name, {})
        doc = GraphDocument(name=name, nodes=body.nodes, edges=body.edges, meta={"canvas": canvas},
                            subgraphs=root.doc.subgraphs)
        super().__init__(root.registry, doc, None, root.defaults)
        self.root, self.outer_id, self.name, self.body = root, outer_id, name, body
        self.undo_stack = root.undo_stack  # one history: Ctrl+Z inside undoes the parent's steps too
        self._prefix = outer_id + SEPARATOR
        root.undo_stack.indexChanged.connect(self._check_still_there)
        root.run_state.node_changed.connect(self._mirror_run)
        root.run_state.reset.connect(self._mirror_all)
        self._mirror_all()

    def title(self) -> str:
        return f"{self.root.title()} ▸ {self.name}"

    # Saving a subgraph's tab saves the graph it belongs to (where it is written down).
    @property
    def path(self) -> Path | None:
        root = self.__dict__.get("root")
        return root.path if root is not None else None

    @path.setter
    def path(self, value: Path | None) -> None:
        root = self.__dict__.get("root")
        if root is not None and value is not None:
            root.path = value

    def save(self, path: Path | None = None) -> Path:
        return self.root.save(path)

    @property
    def dirty(self) -> bool:
        return self.root.dirty

    def still_there(self) -> bool:
        spec = self.root.doc.node(self.outer_id)
        return spec is not None and spec.params.get("name") == self.name and \
            self.root.doc.subgraphs.get(self.name) is self.body

    def _check_still_there(self, _index: int = 0) -> None:
        if not self.still_there():
            self.gone.emit()

    def _mirror_run(self, flat_id: str) -> None:
        # The parent's run reports inner nodes as OUTER/INNER: here they are INNER.
        if flat_id.startswith(self._prefix):
            inner = flat_id[len(self._prefix):]
            run = self.root.run_state.get(flat_id)
            if run is None:
                self.run_state.forget(inner)
            else:
                self.run_state.nodes[inner] = run
                self.run_state.node_changed.emit(inner)

    def _mirror_all(self) -> None:
        self.run_state.nodes = {k[len(self._prefix):]: v for k, v in self.root.run_state.nodes.items()
                                if k.startswith(self._prefix)}
        self.run_state.reset.emit()


def top_graph(graph: GraphController) -> GraphController:
    """The document a (nested) subgraph view belongs to: what runs, saves and autosaves."""
    while isinstance(graph, SubgraphController):
        graph = graph.root
    return graph


def chain_of(graph: GraphController) -> list[GraphController]:
    """The graphs from the top document down to this (nested) subgraph view: the breadcrumb."""
    chain = [graph]
    while isinstance(chain[0], SubgraphController):
        chain.insert(0, chain[0].root)
    return chain


# --- macros: subgraphs saved as templates for the Nodes palette ---------------------------------------------
MACRO_FORMAT = "artfactory.macro"
MACRO_PREFIX = "macro:"  # the Nodes palette's "type" of a macro entry: macro:NAME


def macros_dir(home: Path) -> Path:
    return Path(home) / "macros"


def _used(subgraphs: dict[str, Subgraph], name: str, seen: list[str]) -> list[str]:
    """`name` and every subgraph it uses, nested ones included (each once)."""
    if name in seen or name not in subgraphs:
        return seen
    seen.append(name)
    for spec in subgraphs[name].nodes:
        inner = spec.params.get("name")
        if spec.type == SUBGRAPH_TYPE and isinstance(inner, str):
            _used(subgraphs, inner, seen)
    return seen


def save_macro(home: Path, doc: GraphDocument, outer_id: str) -> Path:
    """Keep a subgraph node's subgraph (and those it uses) as a macro in the library; the file written."""
    found = subgraph_of(doc, outer_id)
    if found is None:
        raise GroupError(f"{outer_id} is not a subgraph node")
    name = found[0]
    names = _used(doc.subgraphs, name, [])
    data = {"format": MACRO_FORMAT, "name": name,
            "subgraphs": {n: doc.subgraphs[n].to_json() for n in names},
            "canvas": {n: inner_canvas(doc, n) for n in names if inner_canvas(doc, n)}}
    folder = macros_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", name).strip("._") or "macro")
    path = path.with_name(path.name + ".json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def load_macro(path: Path) -> tuple[str, dict[str, Subgraph], dict[str, Any]]:
    """A macro file's name, subgraphs and inner canvases; GroupError with the file named when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MACRO_FORMAT or data.get("name") not in \
                data.get("subgraphs", {}):
            raise ValueError("not an Art Factory macro")
        parsed = graph_document.from_json({"nodes": [], "edges": [], "subgraphs": data["subgraphs"]}, str(path))
    except (OSError, ValueError, graph_document.DocumentError) as exc:
        raise GroupError(f"cannot read macro {path}: {exc}") from None
    canvas = data.get("canvas")
    return str(data["name"]), parsed.subgraphs, canvas if isinstance(canvas, dict) else {}


def list_macros(home: Path) -> dict[str, Path]:
    """The macros in the library by name (unreadable files left out)."""
    found: dict[str, Path] = {}
    folder = macros_dir(home)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[load_macro(path)[0]] = path
        except GroupError:
            continue
    return found


def insert_macro(model: Any, path: Path, pos: tuple[float, float]) -> str:
    """A subgraph node for the macro at `pos`, its subgraphs added to the document; one undo step; its id.

    A subgraph of the same name and definition is shared; a different one of the same name is an error."""
    name, bodies, canvases = load_macro(path)
    doc = model.doc
    for other, body in bodies.items():
        if other in doc.subgraphs and doc.subgraphs[other].to_json() != body.to_json():
            raise GroupError(f"this graph already has a different subgraph named {other!r}; rename or ungroup it")
    taken = {spec.id for spec in doc.nodes}
    base = "".join(c if c.isalnum() else "_" for c in name.lower()) or "subgraph"
    node_id, n = base, 2
    while node_id in taken:
        node_id, n = f"{base}_{n}", n + 1
    stack = model.undo_stack
    stack.beginMacro(f"Add macro {name}")
    for other, body in bodies.items():
        if other not in doc.subgraphs:
            stack.push(SetSubgraph(model, other, (None, None), (body, canvases.get(other)), f"Subgraph {other}"))
    stack.push(cmd.AddNode(model, NodeSpec(node_id, SUBGRAPH_TYPE, {"name": name}), len(doc.nodes),
                           {"pos": [pos[0], pos[1]]}, f"Add {node_id}"))
    stack.endMacro()
    return node_id
