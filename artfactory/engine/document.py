"""The graph document (DESIGN §2): load, migrate, canonical save; the canvas and runs are views of it."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "artfactory.graph"
VERSION = 1


class DocumentError(Exception):
    """A graph document that cannot be read; the message names the file and the problem."""


@dataclass
class NodeSpec:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "params": self.params}


@dataclass
class EdgeSpec:
    source: str
    source_port: str
    target: str
    target_port: str

    def to_json(self) -> dict[str, Any]:
        return {"from": [self.source, self.source_port], "to": [self.target, self.target_port]}


@dataclass
class GraphDocument:
    name: str = "Untitled"
    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def node(self, node_id: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
            "meta": self.meta,
        }

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


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}


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


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise DocumentError(f"{where}: {message}")


def from_json(data: Any, where: str = "graph") -> GraphDocument:
    """Parse a document dict. Structural problems raise DocumentError; graph semantics are validate()'s job."""
    _require(isinstance(data, dict), where, "a graph document must be a JSON object")
    fmt = data.get("format", FORMAT)
    _require(fmt == FORMAT, where, f"not an Art Factory graph (format {fmt!r}, expected {FORMAT!r})")
    data = migrate(dict(data), where)
    name = data.get("name", "Untitled")
    _require(isinstance(name, str), where, "'name' must be text")
    raw_nodes = data.get("nodes", [])
    _require(isinstance(raw_nodes, list), where, "'nodes' must be a list")
    nodes: list[NodeSpec] = []
    for index, raw in enumerate(raw_nodes):
        at = f"{where}: nodes[{index}]"
        _require(isinstance(raw, dict), at, "must be an object with id, type and params")
        node_id, node_type = raw.get("id"), raw.get("type")
        _require(isinstance(node_id, str) and bool(node_id.strip()), at, "'id' must be non-empty text")
        _require(isinstance(node_type, str) and bool(node_type), f"{where}: node {node_id!r}", "'type' must be text")
        params = raw.get("params", {})
        _require(isinstance(params, dict), f"{where}: node {node_id!r}", "'params' must be an object")
        nodes.append(NodeSpec(node_id, node_type, dict(params)))
    raw_edges = data.get("edges", [])
    _require(isinstance(raw_edges, list), where, "'edges' must be a list")
    edges: list[EdgeSpec] = []
    for index, raw in enumerate(raw_edges):
        at = f"{where}: edges[{index}]"
        _require(isinstance(raw, dict), at, 'must be an object {"from": [node, port], "to": [node, port]}')
        ends = []
        for key in ("from", "to"):
            end = raw.get(key)
            _require(
                isinstance(end, list) and len(end) == 2 and all(isinstance(x, str) for x in end),
                at, f"'{key}' must be [node id, port name]",
            )
            ends.append(end)
        edges.append(EdgeSpec(ends[0][0], ends[0][1], ends[1][0], ends[1][1]))
    meta = data.get("meta", {})
    _require(isinstance(meta, dict), where, "'meta' must be an object")
    return GraphDocument(name=name, nodes=nodes, edges=edges, meta=meta)


def loads(text: str, where: str = "graph") -> GraphDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return from_json(data, where)


def load(path: Path | str) -> GraphDocument:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: is a folder, not a graph file") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: not a text file (invalid UTF-8)") from None
    return loads(text, str(path))
