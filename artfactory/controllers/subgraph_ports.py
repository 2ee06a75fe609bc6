"""A subgraph node's ports (its subgraph's, typed like the inner ones) and the link check that uses them."""

from __future__ import annotations

from collections.abc import Callable

from artfactory.engine.document import SUBGRAPH_TYPE, GraphDocument, Subgraph
from artfactory.engine.nodetypes import port_fits
from artfactory.engine.registry import NodeRegistry


def subgraph_of(doc: GraphDocument, node_id: str) -> tuple[str, Subgraph] | None:
    """The name and definition a subgraph node stands for (None for another node, or an unknown name)."""
    spec = doc.node(node_id)
    name = spec.params.get("name") if spec is not None and spec.type == SUBGRAPH_TYPE else None
    if isinstance(name, str) and name in doc.subgraphs:
        return name, doc.subgraphs[name]
    return None


def ports(doc: GraphDocument, node_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A subgraph node's (input name, type)s and (output name, type)s."""
    found = subgraph_of(doc, node_id)
    if found is None:
        return [], []
    body = found[1]
    return [(p.name, p.type) for p in body.inputs], [(p.name, p.type) for p in body.outputs]


def check_link(doc: GraphDocument, registry: NodeRegistry, reaches: Callable[[str, str], bool],
               source: str, source_port: str, target: str, target_port: str) -> str | None:
    """Why a link that touches a subgraph node is not allowed (None when it is); `reaches(a, b)`: a path a → b."""
    s_spec, t_spec = doc.node(source), doc.node(target)
    if s_spec is None or t_spec is None:
        return "Cannot connect: the node is not in the graph"
    if source == target:
        return "Cannot connect a node to itself"
    kinds: list[str] = []
    for spec, port, output in ((s_spec, source_port, True), (t_spec, target_port, False)):
        if spec.type == SUBGRAPH_TYPE:
            ins, outs = ports(doc, spec.id)
            kind = dict(outs if output else ins).get(port)
            title = f"Subgraph {spec.params.get('name')!s}"
        else:
            node_type = registry.get(spec.type)
            if node_type is None:
                return f"Cannot connect: unknown node type {spec.type!r}"
            found = node_type.output(port) if output else node_type.input_for(port, spec.params)
            kind, title = (found.kind if found is not None else None), node_type.title
        if kind is None:
            return f"Cannot connect: {title} has no {'output' if output else 'input'} {port!r}"
        kinds.append(kind)
    if not port_fits(kinds[0], kinds[1]):
        return f"Cannot connect {kinds[0]} → {kinds[1]}"
    if reaches(target, source):
        return f"Cannot connect {source} → {target}: it would make a cycle"
    return None
