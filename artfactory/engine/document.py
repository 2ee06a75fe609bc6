"""The graph document (DESIGN §2): load, migrate, canonical save; the canvas and runs are views of it."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artfactory.files import MAX_DOCUMENT_BYTES, FileRefused, read_regular, show_path

FORMAT = "artfactory.graph"
VERSION = 2
# DESIGN §10: how a node takes part in a run; "normal" is not written to files.
MODES = ("normal", "bypass", "mute")
SUBGRAPH_TYPE = "subgraph"
# Deeper than any real document; Python's recursive JSON, copy and hashing code would overflow far beyond it.
MAX_DEPTH = 100


class DocumentError(Exception):
    """A graph document that cannot be read; the message names the file and the problem."""


class NotJSON(DocumentError):
    """Text that is not JSON at all (as opposed to JSON this program cannot take)."""


@dataclass(slots=True)
class NodeSpec:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    # Params turned into input ports ("param:NAME"), shown on the canvas even when unlinked; JSON "param_inputs".
    param_inputs: list[str] = field(default_factory=list)
    mode: str = "normal"  # DESIGN §10: normal | bypass | mute; JSON "mode", absent when normal

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type, "params": self.params}
        if self.param_inputs:
            data["param_inputs"] = list(self.param_inputs)
        if self.mode != "normal":
            data["mode"] = self.mode
        return data


@dataclass(slots=True)
class EdgeSpec:
    source: str
    source_port: str
    target: str
    target_port: str

    def to_json(self) -> dict[str, Any]:
        return {"from": [self.source, self.source_port], "to": [self.target, self.target_port]}


@dataclass(slots=True)
class SubgraphPort:
    """A port of a subgraph (DESIGN §10): its name and type outside, the inner node port it stands for."""

    name: str
    type: str
    node: str
    port: str


@dataclass
class Subgraph:
    """A named graph a `subgraph` node stands for; its inputs lead to inner ports, its outputs come from them."""

    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    inputs: list[SubgraphPort] = field(default_factory=list)
    outputs: list[SubgraphPort] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
            "inputs": [{"name": p.name, "type": p.type, "to": [p.node, p.port]} for p in self.inputs],
            "outputs": [{"name": p.name, "type": p.type, "from": [p.node, p.port]} for p in self.outputs],
        }


@dataclass
class GraphDocument:
    name: str = "Untitled"
    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    subgraphs: dict[str, Subgraph] = field(default_factory=dict)

    def node(self, node_id: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
            "meta": self.meta,
        }
        if self.subgraphs:
            out["subgraphs"] = {name: sub.to_json() for name, sub in self.subgraphs.items()}
        return out

    def dumps(self) -> str:
        """Canonical JSON: stable key order and indentation, so saved files diff cleanly."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def sha256(self) -> str:
        return hashlib.sha256(self.dumps().encode("utf-8")).hexdigest()

    def copy(self) -> GraphDocument:
        return copy.deepcopy(self)

    def save(self, path: Path) -> None:
        """Write atomically so a crash never leaves half a graph file."""
        import os
        import tempfile

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.dumps())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# Migrations from older document versions: version N → N+1, each a pure function on the JSON dict.
# Version 0 was the pre-release shape: edges as "a.port -> b.port" strings and no "meta".
def _migrate_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    edges = []
    for edge in data.get("edges", []):
        if isinstance(edge, str) and "->" in edge:
            left, right = (part.strip() for part in edge.split("->", 1))
            source, source_port = left.rsplit(".", 1)
            target, target_port = right.rsplit(".", 1)
            edges.append({"from": [source, source_port], "to": [target, target_port]})
        else:
            edges.append(edge)
    data = {**data, "edges": edges, "version": 1}
    data.setdefault("meta", {})
    return data


def _migrate_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 (DESIGN §10) only adds optional things (node `mode`, `subgraphs`): a version 1 graph means the
    same as it did, every node in normal mode."""
    return {**data, "version": 2}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1, 1: _migrate_1_to_2}


def migrate(data: dict[str, Any], where: str = "graph") -> dict[str, Any]:
    version = data.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DocumentError(f"{where}: 'version' must be a whole number, got {version!r}")
    if version > VERSION:
        raise DocumentError(
            f"{where}: graph format version {version} is newer than this Art Factory understands ({VERSION})"
        )
    while version < VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise DocumentError(f"{where}: no migration from graph format version {version}")
        data = step(data)
        version = data["version"]
    return data


def short(text: str, limit: int = 60) -> str:
    """`repr(text)`, cut in the middle when long, so one message stays one readable line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit // 2]!r}…{text[-(limit // 2):]!r} ({len(text):,} characters)"


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise DocumentError(f"{where}: {message}")


def bad_text_inside(data: Any) -> str | None:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif (problem := bad_text(value)) is not None:
            return problem
    return None


def from_json(data: Any, where: str = "graph") -> GraphDocument:
    """Parse a document dict. Structural problems raise DocumentError; graph semantics are validate()'s job."""
    _require(isinstance(data, dict), where, "a graph document must be a JSON object")
    fmt = data.get("format", FORMAT)
    _require(fmt == FORMAT, where, f"not an Art Factory graph (format {fmt!r}, expected {FORMAT!r})")
    data = migrate(dict(data), where)
    name = data.get("name", "Untitled")
    _require(isinstance(name, str), where, "'name' must be text")
    problem = bad_text(name)
    _require(problem is None, where, f"'name' {problem}")
    nodes = _parse_nodes(data.get("nodes", []), where)
    edges = _parse_edges(data.get("edges", []), where)
    meta = data.get("meta", {})
    _require(isinstance(meta, dict), where, "'meta' must be an object")
    check_depth(meta, f"{where}: 'meta'")
    problem = bad_text_inside(meta)
    _require(problem is None, where, f"'meta' {problem}")
    subgraphs = _parse_subgraphs(data.get("subgraphs", {}), where)
    return GraphDocument(name=name, nodes=nodes, edges=edges, meta=meta, subgraphs=subgraphs)


def _parse_nodes(raw_nodes: Any, where: str) -> list[NodeSpec]:
    _require(isinstance(raw_nodes, list), where, "'nodes' must be a list")
    nodes: list[NodeSpec] = []
    # Messages are built only on failure: a 10 MB document has ~100,000 nodes and edges to get through.
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise DocumentError(f"{where}: nodes[{index}]: must be an object with id, type and params")
        node_id, node_type = raw.get("id"), raw.get("type")
        if not (isinstance(node_id, str) and node_id.strip()):
            raise DocumentError(f"{where}: nodes[{index}]: 'id' must be non-empty text")
        if not (isinstance(node_type, str) and node_type):
            raise DocumentError(f"{where}: node {short(node_id)}: 'type' must be text")
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise DocumentError(f"{where}: node {short(node_id)}: 'params' must be an object")
        if params:
            check_depth(params, f"{where}: node {short(node_id)} params")
        mode = raw.get("mode", "normal")
        if mode not in MODES:
            shown = short(mode) if isinstance(mode, str) else json.dumps(mode)[:40]
            raise DocumentError(f"{where}: node {short(node_id)}: 'mode' must be one of {', '.join(MODES)}, "
                                f"got {shown}")
        nodes.append(NodeSpec(node_id, node_type, dict(params), _param_inputs(raw, where, node_id), mode=mode))
    return nodes


def _parse_edges(raw_edges: Any, where: str) -> list[EdgeSpec]:
    _require(isinstance(raw_edges, list), where, "'edges' must be a list")
    edges: list[EdgeSpec] = []
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            raise DocumentError(f"{where}: edges[{index}]: must be an object "
                                '{"from": [node, port], "to": [node, port]}')
        ends: list[list[str]] = []
        for key in ("from", "to"):
            value = raw.get(key)
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                    and isinstance(value[1], str)):
                raise DocumentError(f"{where}: edges[{index}]: '{key}' must be [node id, port name]")
            ends.append(value)
        edges.append(EdgeSpec(ends[0][0], ends[0][1], ends[1][0], ends[1][1]))
    return edges


def _parse_subgraphs(raw: Any, where: str) -> dict[str, Subgraph]:
    _require(isinstance(raw, dict), where, "'subgraphs' must be an object {name: subgraph}")
    subgraphs: dict[str, Subgraph] = {}
    for name, body in raw.items():
        here = f"{where}: subgraph {short(name)}"
        problem = name_problem(name, "a subgraph name")
        _require(problem is None and bool(name.strip()), here, problem or "the name must not be empty")
        _require(isinstance(body, dict), here, 'must be an object {"nodes", "edges", "inputs", "outputs"}')
        ports: dict[str, list[SubgraphPort]] = {}
        for key, end in (("inputs", "to"), ("outputs", "from")):
            items = body.get(key, [])
            _require(isinstance(items, list), here, f"{key!r} must be a list")
            ports[key] = []
            for index, item in enumerate(items):
                target = item.get(end) if isinstance(item, dict) else None
                if not (isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]
                        and isinstance(item.get("type"), str) and isinstance(target, list) and len(target) == 2
                        and all(isinstance(part, str) for part in target)):
                    raise DocumentError(f"{here}: {key}[{index}] must be "
                                        f'{{"name": text, "type": port type, "{end}": [node id, port name]}}')
                ports[key].append(SubgraphPort(item["name"], item["type"], target[0], target[1]))
        subgraphs[name] = Subgraph(_parse_nodes(body.get("nodes", []), here),
                                   _parse_edges(body.get("edges", []), here), ports["inputs"], ports["outputs"])
    return subgraphs


def _param_inputs(raw: dict[str, Any], where: str, node_id: str) -> list[str]:
    """A node's "param_inputs": the names of params shown as input ports (unique text, in order)."""
    names = raw.get("param_inputs", [])
    if not (isinstance(names, list) and all(isinstance(n, str) and n and bad_text(n) is None for n in names)):
        raise DocumentError(f"{where}: node {short(node_id)}: 'param_inputs' must be a list of param names")
    return list(dict.fromkeys(names))


def _too_deep(data: Any, limit: int) -> bool:
    """Whether JSON data nests deeper than `limit`; iterative, so depth itself cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def bad_text(value: Any) -> str | None:
    """Why a string cannot be stored as UTF-8 (a lone surrogate such as "\\ud800"), or None when it can."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains {value[exc.start]!r} at position {exc.start}, a lone surrogate that is not valid Unicode"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_problem(value: str, what: str = "a name") -> str | None:
    """Why `value` cannot be a name (node id, collection, template, project), or None when it can.
    Control characters are invisible in every list and break files, terminals and logs."""
    match = _CONTROL.search(value)
    if match:
        return f"{what} cannot contain control characters ({match.group()!r} at position {match.start()})"
    problem = bad_text(value)
    return f"{what} {problem}" if problem else None


def parse_json(text: str, where: str) -> Any:
    """JSON as a user wrote it; what Python's parser cannot take becomes one clear DocumentError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotJSON(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise DocumentError(f"{where}: JSON nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits
        raise DocumentError(f"{where}: a number has more digits than can be read "
                            f"({sys.get_int_max_str_digits():,} at most)") from None
    return data


def check_depth(data: Any, where: str) -> None:
    """DocumentError when `data` nests deeper than MAX_DEPTH (copying or hashing it would overflow)."""
    if _too_deep(data, MAX_DEPTH):
        raise DocumentError(f"{where}: JSON nested too deeply (more than {MAX_DEPTH} levels)")


def loads(text: str, where: str = "graph") -> GraphDocument:
    return from_json(parse_json(text, where), where)


def load(path: Path | str) -> GraphDocument:
    """A document file; only a regular file of at most MAX_DOCUMENT_BYTES is read (never a device or pipe)."""
    path = Path(path)
    try:
        raw = read_regular(path, MAX_DOCUMENT_BYTES)
    except FileRefused as exc:
        if exc.reason == "is a folder, not a file":
            raise DocumentError(f"{show_path(path)}: is a folder, not a graph file") from None
        raise DocumentError(str(exc)) from None
    where = show_path(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(f"{where}: not a text file (invalid UTF-8)") from None
    del raw
    data = parse_json(text, where)
    del text  # a 10 MB document: the text and its parsed form need not both stay alive
    return from_json(data, where)
