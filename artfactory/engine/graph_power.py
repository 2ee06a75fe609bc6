"""Graph power (DESIGN §10) as planning sees it: subgraphs flattened, reroutes and bypassed nodes wired through."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from artfactory.engine.document import (
    SUBGRAPH_TYPE,
    EdgeSpec,
    GraphDocument,
    NodeSpec,
    Subgraph,
    SubgraphPort,
    short,
)
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX, PORT_KINDS, param_port_kind, port_fits
from artfactory.engine.registry import NodeRegistry

REROUTE = "util.reroute"
SEPARATOR = "/"  # an inner node of subgraph node OUTER is OUTER/INNER in runs, lineage and errors

Problem = tuple[str | None, str, str]  # (node id, code, message), as validate() reports them
End = tuple[str, str]  # (node id, port)


@dataclass
class Flat:
    """A document with every subgraph node replaced by its inner nodes (ids OUTER/INNER) and links rewired."""

    document: GraphDocument
    problems: list[Problem] = field(default_factory=list)
    # Flat ids of the inner nodes of each subgraph node (nested ones included), by the subgraph node's flat id.
    members: dict[str, list[str]] = field(default_factory=dict)


def has_subgraphs(doc: GraphDocument) -> bool:
    return bool(doc.subgraphs) or any(spec.type == SUBGRAPH_TYPE for spec in doc.nodes)


def flatten(doc: GraphDocument) -> Flat:
    """The flat graph a run executes. Cache keys never see node ids, so the flat graph's keys are those of the
    same nodes drawn without a subgraph: wrapping re-executes nothing."""
    if not has_subgraphs(doc):
        return Flat(doc)
    flat = Flat(GraphDocument(name=doc.name, meta=doc.meta))
    _expand(doc.nodes, doc.edges, "", (), doc.subgraphs, flat, None)
    return flat


def _expand(nodes: list[NodeSpec], edges: list[EdgeSpec], prefix: str, stack: tuple[str, ...],
            subgraphs: dict[str, Subgraph], flat: Flat, forced_mode: str | None,
            ) -> tuple[dict[str, dict[str, list[End]]], dict[str, dict[str, End]]]:
    """Append this level's nodes and edges to `flat`; return the flat ends of its subgraph nodes' ports:
    (inputs: node → port name → inner ends it feeds, outputs: node → port name → the inner end it comes from)."""
    ins: dict[str, dict[str, list[End]]] = {}
    outs: dict[str, dict[str, End]] = {}
    failed: set[str] = set()
    out_nodes, out_edges = flat.document.nodes, flat.document.edges
    for spec in nodes:
        flat_id = prefix + spec.id
        mode = forced_mode or spec.mode
        if spec.type != SUBGRAPH_TYPE:
            out_nodes.append(dataclasses.replace(spec, id=flat_id, mode=mode) if prefix or forced_mode else spec)
            continue
        failed.add(spec.id)  # until it expands
        name = spec.params.get("name")
        if not isinstance(name, str) or name not in subgraphs:
            known = ", ".join(sorted(subgraphs)) or "none"
            flat.problems.append((flat_id, "unknown_subgraph", f"no subgraph named {short(str(name))} in this "
                                                               f"document (subgraphs: {known})"))
            continue
        if name in stack:
            chain = " → ".join([*stack[stack.index(name):], name])
            flat.problems.append((flat_id, "subgraph_recursion", f"subgraph {name!r} contains itself ({chain})"))
            continue
        if mode == "bypass":
            flat.problems.append((flat_id, "cannot_bypass", "a subgraph node cannot be bypassed; mute it, or "
                                                            "bypass nodes inside it"))
            continue
        body = subgraphs[name]
        first = len(out_nodes)
        inner_prefix = flat_id + SEPARATOR
        inner_ins, inner_outs = _expand(body.nodes, body.edges, inner_prefix, (*stack, name), subgraphs, flat,
                                        "mute" if mode == "mute" else forced_mode)
        flat.members[flat_id] = [n.id for n in out_nodes[first:]]
        inner_ids = {n.id for n in body.nodes}
        ports_in: dict[str, list[End]] = {}
        for port in body.inputs:
            problem = _port_problem(port.type, port.node, inner_ids, "input", port.name, port.name in ports_in)
            if problem:
                flat.problems.append((flat_id, "bad_subgraph_port", problem))
                continue
            nested = inner_ins.get(port.node)
            ports_in[port.name] = (nested.get(port.port, []) if nested is not None
                                   else [(inner_prefix + port.node, port.port)])
        ports_out: dict[str, End] = {}
        for port in body.outputs:
            problem = _port_problem(port.type, port.node, inner_ids, "output", port.name, port.name in ports_out)
            if problem:
                flat.problems.append((flat_id, "bad_subgraph_port", problem))
                continue
            if port.node in inner_outs:
                if port.port in inner_outs[port.node]:
                    ports_out[port.name] = inner_outs[port.node][port.port]
            else:
                ports_out[port.name] = (inner_prefix + port.node, port.port)
        ins[spec.id], outs[spec.id] = ports_in, ports_out
        failed.discard(spec.id)

    for edge in edges:
        if edge.source in failed or edge.target in failed:
            continue  # its subgraph node is already reported
        if edge.source in outs:
            source = outs[edge.source].get(edge.source_port)
            if source is None:
                names = ", ".join(outs[edge.source]) or "none"
                flat.problems.append((prefix + edge.source, "unknown_port",
                                      f"the subgraph has no output {short(edge.source_port)} (outputs: {names})"))
                continue
        else:
            source = (prefix + edge.source, edge.source_port)
        if edge.target in ins:
            targets = ins[edge.target].get(edge.target_port)
            if targets is None:
                names = ", ".join(ins[edge.target]) or "none"
                flat.problems.append((prefix + edge.target, "unknown_port",
                                      f"the subgraph has no input {short(edge.target_port)} (inputs: {names})"))
                continue
        else:
            targets = [(prefix + edge.target, edge.target_port)]
        for target in targets:
            out_edges.append(EdgeSpec(source[0], source[1], target[0], target[1]))
    return ins, outs


def _port_problem(kind: str, node: str, inner_ids: set[str], direction: str, name: str, twice: bool) -> str | None:
    if twice:
        return f"the subgraph has two {direction}s named {name!r}"
    if kind not in PORT_KINDS:
        return f"{direction} {name!r} has type {kind!r}; port types are {', '.join(PORT_KINDS)}"
    if node not in inner_ids:
        return f"{direction} {name!r} refers to a node {short(node)} that is not in the subgraph"
    return None


# -- reroutes, bypass and mute ---------------------------------------------------------------------------------
@dataclass
class Wiring:
    """How the planned nodes of a flat graph link: through reroutes and bypassed nodes to where values come from.

    `links`: for each node that runs, (input port, source, source port) with the source a node that makes the
    values (never a reroute or a bypassed node), links from muted nodes into optional inputs dropped;
    `passthrough`: for each bypassed node, output port → (source, source port) it hands on;
    `muted`: muted nodes and everything that needs them; `reroutes`: nodes that are not planned at all."""

    links: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    passthrough: dict[str, dict[str, End]] = field(default_factory=dict)
    muted: set[str] = field(default_factory=set)
    reroutes: set[str] = field(default_factory=set)

    def resolve(self, end: End) -> End:
        """Where the values at an output really come from (a reroute's or a bypassed node's source)."""
        return self._resolved.get(end, end)

    _resolved: dict[End, End] = field(default_factory=dict, repr=False)


def bypass_pairs(spec: NodeSpec, registry: NodeRegistry, incoming: dict[End, End]) -> dict[str, str]:
    """A bypassed node's output port → the input port it takes: the first linked input of a compatible type."""
    node_type = registry.get(spec.type)
    pairs: dict[str, str] = {}
    if node_type is None:
        return pairs
    for out_port in node_type.outputs:
        for in_port in node_type.inputs_for(spec.params):
            if (spec.id, in_port.name) in incoming and port_fits(in_port.kind, out_port.kind):
                pairs[out_port.name] = in_port.name
                break
    return pairs


def incoming_links(edges: Iterable[EdgeSpec]) -> dict[End, End]:
    return {(e.target, e.target_port): (e.source, e.source_port) for e in edges}


def wire(doc: GraphDocument, registry: NodeRegistry) -> Wiring:
    """The wiring of a flat, validated document (see Wiring)."""
    wiring = Wiring()
    if all(spec.mode == "normal" and spec.type != REROUTE for spec in doc.nodes):
        # The common case, kept cheap for 100,000-node documents: every link is direct.
        for spec in doc.nodes:
            wiring.links[spec.id] = []
        for edge in doc.edges:
            wiring.links[edge.target].append((edge.target_port, edge.source, edge.source_port))
        return wiring
    import networkx as nx  # only documents with modes or reroutes need it; `artfactory validate` stays light

    incoming = incoming_links(doc.edges)
    specs = {spec.id: spec for spec in doc.nodes}
    graph = nx.DiGraph()
    graph.add_nodes_from(specs)
    graph.add_edges_from((e.source, e.target) for e in doc.edges)
    position = {spec.id: index for index, spec in enumerate(doc.nodes)}
    by_target: dict[str, list[EdgeSpec]] = {}
    for edge in doc.edges:
        by_target.setdefault(edge.target, []).append(edge)
    resolved = wiring._resolved
    for node_id in nx.lexicographical_topological_sort(graph, key=lambda n: position[n]):
        spec = specs[node_id]
        node_type = registry.get(spec.type)
        if node_type is None:  # validated away; nothing to wire
            continue
        if spec.type == REROUTE:
            wiring.reroutes.add(node_id)
            source = incoming.get((node_id, "in"))
            if source is not None:
                resolved[(node_id, "out")] = resolved.get(source, source)
            continue
        if spec.mode == "mute":
            wiring.muted.add(node_id)
            continue
        if spec.mode == "bypass":
            through: dict[str, End] = {}
            for out_name, in_name in bypass_pairs(spec, registry, incoming).items():
                source = incoming[(node_id, in_name)]
                through[out_name] = resolved.get(source, source)
                resolved[(node_id, out_name)] = through[out_name]
            if any(source in wiring.muted for source, _ in through.values()):
                wiring.muted.add(node_id)
            else:
                wiring.passthrough[node_id] = through
            continue
        links = []
        muted = False
        for edge in by_target.get(node_id, []):
            origin, origin_port = resolved.get((edge.source, edge.source_port), (edge.source, edge.source_port))
            if origin in wiring.muted:
                port = node_type.input_for(edge.target_port, spec.params)
                # A muted source takes its consumers along, unless they can do without it (an optional input,
                # a param input falling back to the param's own value).
                if (port is not None and not port.optional) or (
                        port is None and not edge.target_port.startswith(PARAM_INPUT_PREFIX)):
                    muted = True
                    break
                continue
            links.append((edge.target_port, origin, origin_port))
        if muted:
            wiring.muted.add(node_id)
        else:
            wiring.links[node_id] = links
    return wiring


# -- grouping (the canvas's "Group into subgraph" and back) -----------------------------------------------------
class GroupError(ValueError):
    """A selection that cannot become a subgraph (or a node that is not one); the message says why."""


def _port_kind(registry: NodeRegistry | None, spec: NodeSpec, port: str, output: bool) -> str:
    node_type = registry.get(spec.type) if registry is not None else None
    if node_type is None:
        return "any"
    if not output and port.startswith(PARAM_INPUT_PREFIX):
        param = node_type.param(port[len(PARAM_INPUT_PREFIX):])
        return param_port_kind(param.kind) if param is not None else "any"
    found = node_type.output(port) if output else node_type.input_for(port, spec.params)
    return found.kind if found is not None else "any"


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def group_into_subgraph(doc: GraphDocument, node_ids: Iterable[str], name: str,
                        registry: NodeRegistry | None = None) -> tuple[GraphDocument, str]:
    """A copy of `doc` where the selected nodes became subgraph `name` behind one `subgraph` node (returned id),
    the links crossing the selection its ports. The flat graph, and so every cache key, stays the same."""
    selected = list(dict.fromkeys(node_ids))
    specs = {spec.id: spec for spec in doc.nodes}
    if not selected:
        raise GroupError("select the nodes to group first")
    missing = [n for n in selected if n not in specs]
    if missing:
        raise GroupError(f"no node {short(missing[0])} in the graph")
    if not name.strip() or name in doc.subgraphs:
        raise GroupError(f"a subgraph named {name!r} already exists" if name.strip() else "the subgraph needs a name")
    chosen = set(selected)
    successors: dict[str, list[str]] = {}
    for edge in doc.edges:
        successors.setdefault(edge.source, []).append(edge.target)
    # A path leaving the selection and coming back would become a cycle through the new node.
    frontier = [t for n in chosen for t in successors.get(n, []) if t not in chosen]
    seen = set(frontier)
    while frontier:
        node = frontier.pop()
        for succ in successors.get(node, []):
            if succ in chosen:
                raise GroupError(f"the selection cannot be grouped: {short(node)} is between selected nodes "
                                 "(select it too)")
            if succ not in seen:
                seen.add(succ)
                frontier.append(succ)
    taken_ids = {spec.id for spec in doc.nodes if spec.id not in chosen}
    outer = _unique("".join(c if c.isalnum() else "_" for c in name.strip().lower()) or "subgraph", taken_ids)
    body = Subgraph()
    outside_edges: list[EdgeSpec] = []
    in_names: dict[End, str] = {}
    out_names: dict[End, str] = {}
    taken_in: set[str] = set()
    taken_out: set[str] = set()
    body.nodes = [spec for spec in doc.nodes if spec.id in chosen]
    for edge in doc.edges:
        inside_source, inside_target = edge.source in chosen, edge.target in chosen
        if inside_source and inside_target:
            body.edges.append(edge)
        elif inside_target:
            end = (edge.target, edge.target_port)
            if end not in in_names:
                in_names[end] = _unique(edge.target_port.removeprefix(PARAM_INPUT_PREFIX), taken_in)
                body.inputs.append(SubgraphPort(in_names[end], _port_kind(registry, specs[edge.target],
                                                                          edge.target_port, False), *end))
            outside_edges.append(EdgeSpec(edge.source, edge.source_port, outer, in_names[end]))
        elif inside_source:
            end = (edge.source, edge.source_port)
            if end not in out_names:
                out_names[end] = _unique(edge.source_port, taken_out)
                body.outputs.append(SubgraphPort(out_names[end], _port_kind(registry, specs[edge.source],
                                                                            edge.source_port, True), *end))
            outside_edges.append(EdgeSpec(outer, out_names[end], edge.target, edge.target_port))
        else:
            outside_edges.append(edge)
    outer_spec = NodeSpec(outer, SUBGRAPH_TYPE, {"name": name})
    first = min(i for i, spec in enumerate(doc.nodes) if spec.id in chosen)
    nodes = [spec for spec in doc.nodes[:first] if spec.id not in chosen] + [outer_spec] + \
        [spec for spec in doc.nodes[first:] if spec.id not in chosen]
    meta = copy.deepcopy(doc.meta)
    canvas = meta.get("canvas")
    if isinstance(canvas, dict):
        spots = [canvas[n]["pos"] for n in selected if isinstance(canvas.get(n), dict)
                 and isinstance(canvas[n].get("pos"), list) and len(canvas[n]["pos"]) == 2]
        if spots:  # the new node sits in the middle of what it replaces
            canvas[outer] = {"pos": [sum(p[0] for p in spots) / len(spots), sum(p[1] for p in spots) / len(spots)]}
    return GraphDocument(name=doc.name, nodes=nodes, edges=outside_edges, meta=meta,
                         subgraphs={**doc.subgraphs, name: body}), outer


def ungroup(doc: GraphDocument, outer_id: str) -> GraphDocument:
    """A copy of `doc` with subgraph node `outer_id` replaced by its inner nodes, wired as before (an inner id
    that is taken outside gets a suffix). The subgraph's definition goes when no other node uses it."""
    outer = doc.node(outer_id)
    if outer is None or outer.type != SUBGRAPH_TYPE:
        raise GroupError(f"{short(outer_id)} is not a subgraph node")
    name = outer.params.get("name")
    if not isinstance(name, str) or name not in doc.subgraphs:
        raise GroupError(f"no subgraph named {short(str(name))} in this document")
    body = doc.subgraphs[name]
    taken = {spec.id for spec in doc.nodes if spec.id != outer_id}
    rename = {spec.id: _unique(spec.id, taken) for spec in body.nodes}
    inner = [dataclasses.replace(spec, id=rename[spec.id], mode="mute" if outer.mode == "mute" else spec.mode)
             for spec in body.nodes]
    index = doc.nodes.index(outer)
    nodes = doc.nodes[:index] + inner + doc.nodes[index + 1:]
    ins: dict[str, list[End]] = {}
    for port in body.inputs:
        ins.setdefault(port.name, []).append((rename.get(port.node, port.node), port.port))
    outs = {port.name: (rename.get(port.node, port.node), port.port) for port in body.outputs}
    edges: list[EdgeSpec] = []
    for edge in doc.edges:
        sources = [outs[edge.source_port]] if edge.source == outer_id and edge.source_port in outs else \
            [] if edge.source == outer_id else [(edge.source, edge.source_port)]
        targets = ins.get(edge.target_port, []) if edge.target == outer_id else [(edge.target, edge.target_port)]
        edges.extend(EdgeSpec(s[0], s[1], t[0], t[1]) for s in sources for t in targets)
    edges += [EdgeSpec(rename.get(e.source, e.source), e.source_port, rename.get(e.target, e.target), e.target_port)
              for e in body.edges]
    still_used = any(spec.type == SUBGRAPH_TYPE and spec.params.get("name") == name for spec in nodes) or any(
        spec.type == SUBGRAPH_TYPE and spec.params.get("name") == name
        for other, sub in doc.subgraphs.items() if other != name for spec in sub.nodes)
    subgraphs = {k: v for k, v in doc.subgraphs.items() if k != name or still_used}
    meta = copy.deepcopy(doc.meta)
    canvas = meta.get("canvas")
    if isinstance(canvas, dict):
        canvas.pop(outer_id, None)
    return GraphDocument(name=doc.name, nodes=nodes, edges=edges, meta=meta, subgraphs=subgraphs)
