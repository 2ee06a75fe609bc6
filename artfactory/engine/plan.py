"""Planning a run: the networkx DAG, resolved params and seeds, and Merkle cache keys per node."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from artfactory.engine.document import GraphDocument
from artfactory.engine.nodetypes import NodeType
from artfactory.engine.registry import NodeRegistry
from artfactory.engine.validate import ValidationError, resolve_params, validate

MAX_SEED = 2**31 - 1


class PlanError(Exception):
    """The graph cannot run; carries the validation errors."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:5]) + (" …" if len(errors) > 5 else ""))
        self.errors = errors


@dataclass(frozen=True)
class InputLink:
    port: str
    source: str
    source_port: str


@dataclass
class PlannedNode:
    id: str
    node_type: NodeType
    params: dict[str, Any]
    inputs: list[InputLink]
    request_key: str = ""
    cache_key: str = ""
    position: int = 0

    @property
    def seed(self) -> int | None:
        name = self.node_type.seed_param
        return self.params.get(name) if name else None


@dataclass
class Plan:
    document: GraphDocument
    nodes: dict[str, PlannedNode]
    order: list[str]
    graph: nx.DiGraph = field(repr=False)

    def dependents(self, node_id: str) -> set[str]:
        return set(nx.descendants(self.graph, node_id))


def canonical(value: Any) -> str:
    """Deterministic JSON: key order and whitespace never change a key."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def node_key(node_type: NodeType, params: Mapping[str, Any], inputs: Iterable[tuple[str, str, str]],
             external: str | None) -> str:
    """Merkle key: type, type version, canonical params and the keys of the inputs — never node ids."""
    payload = {
        "type": node_type.type,
        "version": node_type.version,
        "params": dict(params),
        "inputs": sorted(inputs),
        "external": external,
    }
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


SeedLookup = Callable[[str, str], int | None]  # (request key, seed param name) → recorded seed


def build_plan(
    doc: GraphDocument,
    registry: NodeRegistry,
    *,
    home: Path,
    pinned_seeds: Mapping[str, int] | None = None,
    seed_lookup: SeedLookup | None = None,
    reroll: bool = False,
    rng: random.Random | None = None,
    only: Iterable[str] | None = None,
) -> Plan:
    """Validate and plan. Random seeds (-1) resolve to: a pinned seed (re-runs), else the seed recorded
    for the same request before (so an identical run is a cache hit), else a fresh one; `reroll` always
    draws fresh ones. `only` restricts the run to those nodes and everything upstream of them."""
    errors = validate(doc, registry)
    if errors:
        raise PlanError(errors)
    rng = rng or random.SystemRandom()
    pinned = dict(pinned_seeds or {})
    graph = nx.DiGraph()
    planned: dict[str, PlannedNode] = {}
    for position, spec in enumerate(doc.nodes):
        node_type = registry.get(spec.type)
        assert node_type is not None  # validated
        params, _ = resolve_params(node_type, spec.params)
        planned[spec.id] = PlannedNode(spec.id, node_type, params, [], position=position)
        graph.add_node(spec.id)
    for edge in doc.edges:
        planned[edge.target].inputs.append(InputLink(edge.target_port, edge.source, edge.source_port))
        graph.add_edge(edge.source, edge.target)

    if only is not None:
        keep: set[str] = set()
        for node_id in only:
            if node_id in planned:
                keep |= {node_id} | nx.ancestors(graph, node_id)
        graph = graph.subgraph(keep).copy()
        planned = {k: v for k, v in planned.items() if k in keep}

    # Lexicographic topological order by document position keeps runs and listings stable.
    order = list(nx.lexicographical_topological_sort(graph, key=lambda n: planned[n].position))
    for node_id in order:
        node = planned[node_id]
        node_type = node.node_type
        links = [(link.port, planned[link.source].cache_key, link.source_port) for link in node.inputs]
        external = node_type.external_key(node.params, home) if node_type.external_key else None
        node.request_key = node_key(node_type, node.params, links, external)
        seed_name = node_type.seed_param
        if seed_name and node.params.get(seed_name, -1) < 0:
            seed = None if reroll else pinned.get(node_id)
            if seed is None and not reroll and seed_lookup is not None:
                seed = seed_lookup(node.request_key, seed_name)
            if seed is None:
                seed = rng.randint(0, MAX_SEED)
            node.params = {**node.params, seed_name: seed}
            node.cache_key = node_key(node_type, node.params, links, external)
        else:
            node.cache_key = node.request_key
    return Plan(doc, planned, order, graph)
