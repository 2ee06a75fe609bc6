"""`--set NODE.PARAM=VALUE` overrides: JSON when it parses, else text; unknown nodes or params are refused."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

from artfactory.engine.document import (
    DocumentError,
    EdgeSpec,
    GraphDocument,
    NodeSpec,
    NotJSON,
    check_depth,
    parse_json,
)
from artfactory.engine.nodetypes import MAX_LIST_ITEMS, PARAM_INPUT_PREFIX
from artfactory.engine.registry import NodeRegistry


class OverrideError(ValueError):
    """A --set that names no node or param of the graph, or is not NODE.PARAM=VALUE."""


def parse_value(text: str) -> Any:
    """JSON when it parses, else the text itself; JSON that Python cannot take is an OverrideError."""
    try:
        value = parse_json(text, "the value")
        check_depth(value, "the value")
        return value
    except NotJSON:
        return text
    except DocumentError as exc:
        raise OverrideError(str(exc)) from None


def parse_override(item: str, doc: GraphDocument) -> tuple[str, str, Any]:
    if "=" not in item:
        raise OverrideError(f"--set {_short(item)}: expected NODE.PARAM=VALUE")
    target, raw = item.split("=", 1)
    # Node ids may contain dots; the param is what follows the last dot.
    if "." not in target:
        raise OverrideError(f"--set {_short(item)}: expected NODE.PARAM=VALUE")
    node_id, param = target.rsplit(".", 1)
    if doc.node(node_id) is None:
        raise OverrideError(f"--set {_short(item)}: the graph has no node {node_id!r}")
    try:
        value = parse_value(raw)
    except OverrideError as exc:
        raise OverrideError(f"--set {_short(item)}: {exc}") from None
    return node_id, param, value


def _short(item: str) -> str:
    """The --set argument for a message: a huge one is cut so the message stays one readable line."""
    text = repr(item)
    return text if len(text) <= 80 else f"{text[:60]}…' ({len(item):,} characters)"


def apply_overrides(doc: GraphDocument, items: Iterable[str],
                    registry: NodeRegistry) -> tuple[GraphDocument, set[tuple[str, str]]]:
    """A copy of `doc` with the overrides applied, and the (node, param) pairs that were set.
    Copy on write: only overridden nodes are copied (a 100,000-node document is not duplicated for
    one --set); the rest, edges and meta are shared with `doc`, so neither may be changed in place."""
    result = GraphDocument(name=doc.name, nodes=list(doc.nodes), edges=list(doc.edges), meta=doc.meta,
                           subgraphs=doc.subgraphs)
    touched: set[tuple[str, str]] = set()
    for item in items:
        node_id, param, value = parse_override(item, result)
        index = next(i for i, n in enumerate(result.nodes) if n.id == node_id)
        spec = result.nodes[index]
        node_type = registry.get(spec.type)
        if node_type is not None and node_type.param(param) is None:
            known = ", ".join(p.name for p in node_type.params) or "none"
            raise OverrideError(f"--set {_short(item)}: {spec.type} has no param {param!r} (params: {known})")
        if not any(n == node_id for n, _ in touched):
            # Only the params are copied: mode and param inputs stay as they were.
            spec = result.nodes[index] = dataclasses.replace(spec, params=copy.deepcopy(spec.params))
        spec.params[param] = value
        touched.add((node_id, param))
    return result, touched


def apply_sweeps(doc: GraphDocument, items: Iterable[str], registry: NodeRegistry) -> GraphDocument:
    """A copy of `doc` where each `NODE.PARAM=V1,V2,...` feeds a new value.list into NODE's param input
    (replacing any edge there): the node runs once per value; two sweeps make every combination."""
    items = list(items)
    if not items:
        return doc
    result = GraphDocument(name=doc.name, nodes=list(doc.nodes), edges=list(doc.edges), meta=doc.meta,
                           subgraphs=doc.subgraphs)
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise OverrideError(f"--sweep {_short(item)}: expected NODE.PARAM=V1,V2,...")
        target, raw = item.split("=", 1)
        node_id, param = target.rsplit(".", 1)
        index = next((i for i, n in enumerate(result.nodes) if n.id == node_id), None)
        if index is None:
            raise OverrideError(f"--sweep {_short(item)}: the graph has no node {node_id!r}")
        spec = result.nodes[index]
        node_type = registry.get(spec.type)
        if node_type is not None and node_type.param(param) is None:
            known = ", ".join(p.name for p in node_type.params) or "none"
            raise OverrideError(f"--sweep {_short(item)}: {spec.type} has no param {param!r} (params: {known})")
        try:
            values = [parse_value(part.strip()) for part in raw.split(",")]
        except OverrideError as exc:
            raise OverrideError(f"--sweep {_short(item)}: {exc}") from None
        if raw.strip() == "" or len(values) > MAX_LIST_ITEMS:
            raise OverrideError(f"--sweep {_short(item)}: give 1 to {MAX_LIST_ITEMS:,} values separated by commas")
        taken = {n.id for n in result.nodes}
        value_id = f"sweep {node_id}.{param}"
        while value_id in taken:
            value_id += "'"
        port = PARAM_INPUT_PREFIX + param
        result.nodes.append(NodeSpec(value_id, "value.list", {"values": values}))
        result.edges = [e for e in result.edges if not (e.target == node_id and e.target_port == port)]
        result.edges.append(EdgeSpec(value_id, "value", node_id, port))
        if param not in spec.param_inputs:
            result.nodes[index] = dataclasses.replace(spec, param_inputs=[*spec.param_inputs, param])
    return result

