"""`--set NODE.PARAM=VALUE` overrides: JSON when it parses, else text; unknown nodes or params are refused."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from artfactory.engine.document import GraphDocument
from artfactory.engine.registry import NodeRegistry


class OverrideError(ValueError):
    """A --set that names no node or param of the graph, or is not NODE.PARAM=VALUE."""


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_override(item: str, doc: GraphDocument) -> tuple[str, str, Any]:
    if "=" not in item:
        raise OverrideError(f"--set {item!r}: expected NODE.PARAM=VALUE")
    target, raw = item.split("=", 1)
    # Node ids may contain dots; the param is what follows the last dot.
    if "." not in target:
        raise OverrideError(f"--set {item!r}: expected NODE.PARAM=VALUE")
    node_id, param = target.rsplit(".", 1)
    if doc.node(node_id) is None:
        raise OverrideError(f"--set {item!r}: the graph has no node {node_id!r}")
    return node_id, param, parse_value(raw)


def apply_overrides(doc: GraphDocument, items: Iterable[str],
                    registry: NodeRegistry) -> tuple[GraphDocument, set[tuple[str, str]]]:
    """A copy of `doc` with the overrides applied, and the (node, param) pairs that were set."""
    result = doc.copy()
    touched: set[tuple[str, str]] = set()
    for item in items:
        node_id, param, value = parse_override(item, result)
        spec = result.node(node_id)
        assert spec is not None
        node_type = registry.get(spec.type)
        if node_type is not None and node_type.param(param) is None:
            known = ", ".join(p.name for p in node_type.params) or "none"
            raise OverrideError(f"--set {item!r}: {spec.type} has no param {param!r} (params: {known})")
        spec.params[param] = value
        touched.add((node_id, param))
    return result, touched
