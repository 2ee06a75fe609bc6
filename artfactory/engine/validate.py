"""Validation before a run: every problem as (node_id, code, message); a graph with errors never starts."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from artfactory.engine.document import MODES, GraphDocument, NodeSpec, name_problem, short
from artfactory.engine.graph_power import REROUTE, bypass_pairs, flatten, incoming_links
from artfactory.engine.nodetypes import (
    PARAM_INPUT_PREFIX,
    frames_hint,
    param_carries,
    param_port_kind,
    port_fits,
)
from artfactory.engine.registry import NodeRegistry


@dataclass(frozen=True)
class ValidationError:
    node_id: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.node_id}: {self.message}" if self.node_id else self.message


# Enough to act on; a pathological document (10,000 unknown params, a 10,000-node cycle) says no more.
MAX_ERRORS = 200
MAX_PARAM_PROBLEMS = 20
MAX_ID_CHARS = 200
_CYCLE_SHOWN = 4  # nodes shown at each end of a long cycle


def _node_ref(node_id: str) -> str:
    return node_id if len(node_id) <= MAX_ID_CHARS else node_id[:MAX_ID_CHARS] + "…"


def resolve_params(node_type: Any, params: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Params with defaults filled and values coerced, plus (code, param, message) problems."""
    problems: list[tuple[str, str, str]] = []
    resolved: dict[str, Any] = {}
    unknown = [name for name in params if node_type.param(name) is None]
    if unknown:
        known = ", ".join(p.name for p in node_type.params) or "none"
        for name in unknown[:MAX_PARAM_PROBLEMS]:
            problems.append(("unknown_param", name, f"unknown param {short(name)} for {node_type.type} "
                                                    f"(known: {known})"))
        if len(unknown) > MAX_PARAM_PROBLEMS:
            problems.append(("unknown_param", unknown[MAX_PARAM_PROBLEMS],
                             f"{len(unknown) - MAX_PARAM_PROBLEMS:,} more unknown params"))
    for param in node_type.params:
        value = params.get(param.name, param.default)
        if value is None and param.name not in params:
            if param.required:
                problems.append(("missing_param", param.name, f"param {param.name!r} is required"))
            resolved[param.name] = None
            continue
        try:
            resolved[param.name] = param.coerce(value)
        except ValueError as exc:
            problems.append(("bad_param", param.name, f"param {param.name!r} {exc}"))
    if not problems and node_type.check_params is not None:
        problems += [("bad_param", name, f"param {name!r} {message}") for name, message in
                     node_type.check_params(resolved)]
    return resolved, problems


class _Errors:
    """Collects errors up to MAX_ERRORS; past that it only counts, so a huge bad graph stays cheap."""

    def __init__(self) -> None:
        self.items: list[ValidationError] = []
        self.dropped = 0

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def add(self, node_id: str | None, code: str, message: str) -> None:
        if self.full:
            self.dropped += 1
        else:
            self.items.append(ValidationError(None if node_id is None else _node_ref(node_id), code, message))

    def result(self) -> list[ValidationError]:
        if self.dropped:
            return [*self.items, ValidationError(
                None, "too_many_errors", f"{self.dropped:,} more problems are not listed; fix these first")]
        return self.items


def id_problem(node_id: str) -> str | None:
    """Why a node id is not usable, or None."""
    if len(node_id) > MAX_ID_CHARS:
        return f"node id is too long ({len(node_id):,} characters; at most {MAX_ID_CHARS})"
    return name_problem(node_id, "a node id")


def validate(doc: GraphDocument, registry: NodeRegistry) -> list[ValidationError]:
    errors = _Errors()
    # Subgraphs are checked as the run will see them: flat, an inner node named OUTER/INNER (DESIGN §10).
    flat = flatten(doc)
    for node_id, code, message in flat.problems:
        errors.add(node_id, code, message)
    doc = flat.document
    seen: set[str] = set()
    for spec in doc.nodes:
        problem = id_problem(spec.id)
        if problem:
            errors.add(spec.id, "bad_id", f"{problem}: {short(spec.id)}")
        if spec.id in seen:
            errors.add(spec.id, "duplicate_id", f"node id {short(spec.id)} is used more than once")
        seen.add(spec.id)
        node_type = registry.get(spec.type)
        if node_type is None:
            errors.add(spec.id, "unknown_type", f"unknown node type {short(spec.type)}")
            continue
        if errors.full:  # only counted from here on; spare the param checks
            errors.dropped += 1
            continue
        _, problems = resolve_params(node_type, spec.params)
        for code, _, message in problems:
            errors.add(spec.id, code, message)

    nodes = {spec.id: spec for spec in doc.nodes}
    kinds = _reroute_kinds(doc, nodes, registry)
    connected: dict[tuple[str, str], int] = {}
    # Plain successor lists, not a networkx graph: a third of the memory on a 100,000-node document.
    successors: dict[str, list[str]] = {}
    for edge in doc.edges:
        source, target = nodes.get(edge.source), nodes.get(edge.target)
        if source is None or target is None:
            missing = edge.source if source is None else edge.target
            node_id = edge.target if source is None and target is not None else edge.source
            errors.add(node_id if node_id in nodes else None, "dangling_edge",
                       f"edge {_edge_text(edge)} refers to a node {short(missing)} that is not in the graph")
            continue
        successors.setdefault(edge.source, []).append(edge.target)
        source_type, target_type = registry.get(source.type), registry.get(target.type)
        if source_type is None or target_type is None:
            continue
        if edge.target_port.startswith(PARAM_INPUT_PREFIX):
            _param_edge(edge, source_type, target_type, errors, connected)
            continue
        out_port, in_port = source_type.output(edge.source_port), target_type.input_for(edge.target_port,
                                                                                        target.params)
        if out_port is None:
            names = ", ".join(p.name for p in source_type.outputs) or "none"
            errors.add(edge.source, "unknown_port",
                       f"{source.type} has no output {short(edge.source_port)} (outputs: {names})")
        if in_port is None:
            names = ", ".join(p.name for p in target_type.inputs_for(target.params)) or "none"
            # A provider node's file-field ports come from its media_inputs param (filled when its schema loads).
            hint = (f"; a model's file field is a port once the node's media_inputs names it, e.g. "
                    f"{json.dumps({edge.target_port[:40]: 'image'})}") if target_type.extra_inputs else ""
            errors.add(edge.target, "unknown_port",
                       f"{target.type} has no input {short(edge.target_port)} (inputs: {names}){hint}")
        if out_port is None or in_port is None:
            continue
        # A reroute gives the type of what is linked into it (through any chain of reroutes).
        source_kind = kinds.get(edge.source, out_port.kind) if source.type == REROUTE else out_port.kind
        if not port_fits(source_kind, in_port.kind):
            source_name = edge.source if len(edge.source) <= 60 else short(edge.source)
            errors.add(edge.target, "type_mismatch",
                       f"input {edge.target_port!r} takes {in_port.kind} but "
                       f"{source_name}.{edge.source_port} gives {source_kind}{_mask_hint(source_kind, in_port.kind)}")
        key = (edge.target, edge.target_port)
        connected[key] = connected.get(key, 0) + 1
        if connected[key] == 2:
            errors.add(edge.target, "input_taken", f"input {edge.target_port!r} has more than one incoming edge")

    for spec in doc.nodes:
        node_type = registry.get(spec.type)
        if node_type is None:
            continue
        for port in node_type.inputs_for(spec.params):
            if not port.optional and (spec.id, port.name) not in connected:
                errors.add(spec.id, "missing_input", f"required input {port.name!r} ({port.kind}) is not connected")

    _param_input_names(doc, registry, errors)
    _mode_problems(doc, registry, errors)
    position = {spec.id: index for index, spec in enumerate(doc.nodes)}
    for cycle in find_cycles(successors, position):
        errors.add(cycle[0], "cycle", f"the graph has a cycle through {len(cycle):,} "
                                      f"node{'s' if len(cycle) > 1 else ''}: {cycle_text(cycle)}")
    return errors.result()


def _mask_hint(source: str, target: str) -> str:
    """What a mask fits, said where a link with a mask on one end is refused."""
    if target == "mask":
        return " (a mask input takes a mask, or an image: its alpha, else its brightness, becomes the mask)"
    if source == "mask":
        return " (a mask is a one-channel image: it fits mask, image and media inputs)"
    return frames_hint(source, target)


def _reroute_kinds(doc: GraphDocument, nodes: dict[str, NodeSpec], registry: NodeRegistry) -> dict[str, str]:
    """The kind each reroute carries: its source's output kind, followed back through chains of reroutes."""
    reroutes = {spec.id for spec in doc.nodes if spec.type == REROUTE}
    if not reroutes:
        return {}
    feeding = {e.target: e for e in doc.edges if e.target in reroutes and e.target_port == "in"}
    kinds: dict[str, str] = {}
    for reroute in reroutes:
        chain: list[str] = []
        node, kind = reroute, "any"
        while node in reroutes and node not in kinds and node not in chain:
            chain.append(node)
            edge = feeding.get(node)
            if edge is None:
                break
            node = edge.source
        else:
            if node in kinds:
                kind = kinds[node]
            elif node not in reroutes:
                kind = _output_kind(registry, nodes.get(node), feeding[chain[-1]].source_port)
        for member in chain:
            kinds[member] = kind
    return kinds


def _output_kind(registry: NodeRegistry, spec: NodeSpec | None, port: str) -> str:
    node_type = registry.get(spec.type) if spec is not None else None
    output = node_type.output(port) if node_type is not None else None
    return output.kind if output is not None else "any"


def _mode_problems(doc: GraphDocument, registry: NodeRegistry, errors: _Errors) -> None:
    """A node's mode must be known; a bypassed node must have an input to hand to each output used (§10)."""
    incoming = None
    used: set[tuple[str, str]] = set()
    for spec in doc.nodes:
        if spec.mode == "normal":
            continue
        if spec.mode not in MODES:
            errors.add(spec.id, "bad_mode", f"mode must be one of {', '.join(MODES)}, got {short(str(spec.mode))}")
            continue
        node_type = registry.get(spec.type)
        if spec.mode != "bypass" or node_type is None:
            continue
        if incoming is None:
            incoming = incoming_links(doc.edges)
            used = {(e.source, e.source_port) for e in doc.edges}
        pairs = bypass_pairs(spec, registry, incoming)
        if not pairs:
            errors.add(spec.id, "cannot_bypass", f"{spec.type} cannot be bypassed: no linked input has a type "
                                                 "one of its outputs can pass on")
            continue
        for port in node_type.outputs:
            if port.name not in pairs and (spec.id, port.name) in used:
                errors.add(spec.id, "cannot_bypass", f"{spec.type} cannot be bypassed: output {port.name!r} "
                                                     f"({port.kind}) is linked but no linked input can feed it")


def _param_edge(edge: Any, source_type: Any, target_type: Any, errors: _Errors,
                connected: dict[tuple[str, str], int]) -> None:
    """An edge into [node, "param:NAME"]: the param must exist and the source's kind must carry its type."""
    name = edge.target_port[len(PARAM_INPUT_PREFIX):]
    out_port, param = source_type.output(edge.source_port), target_type.param(name)
    if out_port is None:
        names = ", ".join(p.name for p in source_type.outputs) or "none"
        errors.add(edge.source, "unknown_port",
                   f"{source_type.type} has no output {short(edge.source_port)} (outputs: {names})")
    if param is None:
        known = ", ".join(p.name for p in target_type.params) or "none"
        errors.add(edge.target, "unknown_param",
                   f"param input {short(edge.target_port)}: {target_type.type} has no param {short(name)} "
                   f"(params: {known})")
    if out_port is None or param is None:
        return
    if not param_carries(out_port.kind, param.kind):
        errors.add(edge.target, "type_mismatch",
                   f"param {name!r} takes {param_port_kind(param.kind)} ({param.kind}) but "
                   f"{short(edge.source, 60)}.{edge.source_port} gives {out_port.kind}")
    key = (edge.target, edge.target_port)
    connected[key] = connected.get(key, 0) + 1
    if connected[key] == 2:
        errors.add(edge.target, "input_taken", f"param input {name!r} has more than one incoming edge")


def _param_input_names(doc: GraphDocument, registry: NodeRegistry, errors: _Errors) -> None:
    """Every name in a node's `param_inputs` must be one of its type's params."""
    for spec in doc.nodes:
        node_type = registry.get(spec.type) if spec.param_inputs else None
        if node_type is None:
            continue
        for name in spec.param_inputs:
            if node_type.param(name) is None:
                known = ", ".join(p.name for p in node_type.params) or "none"
                errors.add(spec.id, "unknown_param",
                           f"param_inputs names {short(name)}, which {spec.type} does not have (params: {known})")


def _edge_text(edge: Any) -> str:
    return f"{short(edge.source)}.{short(edge.source_port)} → {short(edge.target)}.{short(edge.target_port)}"


def find_cycles(successors: dict[str, list[str]], position: dict[str, int]) -> list[list[str]]:
    """One cycle per strongly connected component that has one: the shortest through its earliest node.
    Linear in the graph's size; enumerating every cycle (nx.simple_cycles) can take forever."""
    cycles = []
    for component in _strong_components(successors):
        first = min(component, key=lambda n: position.get(n, 0))
        if len(component) == 1 and first not in successors.get(first, ()):
            continue
        cycles.append(_shortest_cycle_through(successors, first, component))
    cycles.sort(key=lambda c: position.get(c[0], 0))
    return cycles


def _strong_components(successors: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm without recursion (a 100,000-node chain would overflow Python's stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for root in successors:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            succs = successors.get(node, [])
            if child < len(succs):
                work.append((node, child + 1))
                succ = succs[child]
                if succ not in index:
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            if work:  # back in the parent: pass the low link up
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _shortest_cycle_through(successors: dict[str, list[str]], first: str, component: set[str]) -> list[str]:
    # Breadth-first from `first` inside its component until an edge leads back to it.
    parent: dict[str, str] = {}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for succ in successors.get(node, ()):
            if succ == first:
                path = [node]
                while path[-1] != first:
                    path.append(parent[path[-1]])
                return path[::-1]
            if succ in component and succ not in parent:
                parent[succ] = node
                queue.append(succ)
    raise AssertionError("a strongly connected component always has a cycle")  # pragma: no cover


def cycle_text(cycle: list[str]) -> str:
    """`a → b → c → a`; a long cycle shows its first and last few nodes and how many it skips."""
    names = [n if len(n) <= 40 else short(n, 40) for n in cycle]
    if len(names) > 2 * _CYCLE_SHOWN + 1:
        hidden = len(names) - 2 * _CYCLE_SHOWN
        names = [*names[:_CYCLE_SHOWN], f"… {hidden:,} more …", *names[-_CYCLE_SHOWN:]]
    return " → ".join([*names, names[0]])
