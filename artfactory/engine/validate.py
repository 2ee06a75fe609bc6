"""Validation before a run: every problem as (node_id, code, message); a graph with errors never starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from artfactory.engine.document import GraphDocument
from artfactory.engine.nodetypes import port_fits
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


def resolve_params(node_type: Any, params: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Params with defaults filled and values coerced, plus (code, param, message) problems."""
    problems: list[tuple[str, str, str]] = []
    resolved: dict[str, Any] = {}
    for name in params:
        if node_type.param(name) is None:
            known = ", ".join(p.name for p in node_type.params) or "none"
            problems.append(("unknown_param", name, f"unknown param {name!r} for {node_type.type} (known: {known})"))
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
    return resolved, problems


def validate(doc: GraphDocument, registry: NodeRegistry) -> list[ValidationError]:
    errors: list[ValidationError] = []
    seen: set[str] = set()
    for spec in doc.nodes:
        if spec.id in seen:
            errors.append(ValidationError(spec.id, "duplicate_id", f"node id {spec.id!r} is used more than once"))
        seen.add(spec.id)
        node_type = registry.get(spec.type)
        if node_type is None:
            errors.append(ValidationError(spec.id, "unknown_type", f"unknown node type {spec.type!r}"))
            continue
        _, problems = resolve_params(node_type, spec.params)
        errors.extend(ValidationError(spec.id, code, message) for code, _, message in problems)

    nodes = {spec.id: spec for spec in doc.nodes}
    connected: dict[tuple[str, str], int] = {}
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    for edge in doc.edges:
        where = f"{edge.source}.{edge.source_port} → {edge.target}.{edge.target_port}"
        source, target = nodes.get(edge.source), nodes.get(edge.target)
        if source is None or target is None:
            missing = edge.source if source is None else edge.target
            node_id = edge.target if source is None and target is not None else edge.source
            errors.append(ValidationError(
                node_id if node_id in nodes else None, "dangling_edge",
                f"edge {where} refers to a node {missing!r} that is not in the graph",
            ))
            continue
        graph.add_edge(edge.source, edge.target)
        source_type, target_type = registry.get(source.type), registry.get(target.type)
        if source_type is None or target_type is None:
            continue
        out_port, in_port = source_type.output(edge.source_port), target_type.input(edge.target_port)
        if out_port is None:
            names = ", ".join(p.name for p in source_type.outputs) or "none"
            errors.append(ValidationError(
                edge.source, "unknown_port",
                f"{source.type} has no output {edge.source_port!r} (outputs: {names})",
            ))
        if in_port is None:
            names = ", ".join(p.name for p in target_type.inputs) or "none"
            errors.append(ValidationError(
                edge.target, "unknown_port",
                f"{target.type} has no input {edge.target_port!r} (inputs: {names})",
            ))
        if out_port is None or in_port is None:
            continue
        if not port_fits(out_port.kind, in_port.kind):
            errors.append(ValidationError(
                edge.target, "type_mismatch",
                f"input {edge.target_port!r} takes {in_port.kind} but "
                f"{edge.source}.{edge.source_port} gives {out_port.kind}",
            ))
        key = (edge.target, edge.target_port)
        connected[key] = connected.get(key, 0) + 1
        if connected[key] == 2:
            errors.append(ValidationError(
                edge.target, "input_taken", f"input {edge.target_port!r} has more than one incoming edge",
            ))

    for spec in doc.nodes:
        node_type = registry.get(spec.type)
        if node_type is None:
            continue
        for port in node_type.inputs:
            if not port.optional and (spec.id, port.name) not in connected:
                errors.append(ValidationError(
                    spec.id, "missing_input", f"required input {port.name!r} ({port.kind}) is not connected",
                ))

    # Enumerating cycles is costly on big graphs, so only do it when there is one.
    for cycle in ([] if nx.is_directed_acyclic_graph(graph) else nx.simple_cycles(graph)):
        path = " → ".join([*cycle, cycle[0]])
        for node_id in cycle:
            errors.append(ValidationError(node_id, "cycle", f"node is on a cycle: {path}"))
        if len(errors) > 500:  # a pathological graph: enough has been said
            break
    return errors
