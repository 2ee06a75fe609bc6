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
from artfactory.engine.graph_power import flatten, wire
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
    # DESIGN §10: "bypass" hands `passthrough` (output port → source node and port) on without executing;
    # "mute" (the node itself, or something it needs, is muted) does not run at all.
    mode: str = "normal"
    passthrough: dict[str, tuple[str, str]] = field(default_factory=dict)

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
    reroll_nodes: Iterable[str] = (),
    rng: random.Random | None = None,
    only: Iterable[str] | None = None,
) -> Plan:
    """Validate and plan. Random seeds (-1) resolve to: a pinned seed (re-runs), else the seed recorded
    for the same request before (so an identical run is a cache hit), else a fresh one; `reroll` always
    draws fresh ones, and so do the nodes in `reroll_nodes` even when their seed param is concrete (the
    app's "random each run"). `only` restricts the run to those nodes and everything upstream of them."""
    errors = validate(doc, registry)
    if errors:
        raise PlanError(errors)
    rng = rng or random.SystemRandom()
    pinned = dict(pinned_seeds or {})
    rerolled = set(reroll_nodes)
    graph = nx.DiGraph()
    planned: dict[str, PlannedNode] = {}
    # Subgraphs run flat (inner nodes as OUTER/INNER); reroutes and bypassed nodes are wired through, so a
    # node's inputs name the nodes that make the values and its key is what a direct link would give.
    flat = flatten(doc)
    wiring = wire(flat.document, registry)
    for position, spec in enumerate(flat.document.nodes):
        if spec.id in wiring.reroutes:
            continue
        node_type = registry.get(spec.type)
        assert node_type is not None  # validated
        params, _ = resolve_params(node_type, spec.params)
        # A node's extra inputs (a provider's schema fields) are ports like the declared ones from here on.
        planned[spec.id] = PlannedNode(spec.id, node_type.specialized(params), params, [], position=position)
        graph.add_node(spec.id)
    for node_id, node_links in wiring.links.items():
        for port, source, source_port in node_links:
            planned[node_id].inputs.append(InputLink(port, source, source_port))
            graph.add_edge(source, node_id)
    for node_id, through in wiring.passthrough.items():
        planned[node_id].mode, planned[node_id].passthrough = "bypass", dict(through)
        for port, (source, source_port) in through.items():
            planned[node_id].inputs.append(InputLink(port, source, source_port))
            graph.add_edge(source, node_id)
    for node_id in wiring.muted:
        planned[node_id].mode = "mute"

    if only is not None:
        keep: set[str] = set()
        for node_id in only:
            if node_id in wiring.reroutes:
                targets = [wiring.resolve((node_id, "out"))[0]]
            else:  # a subgraph node stands for its inner nodes
                targets = [node_id] if node_id in planned else flat.members.get(node_id, [])
            for target in targets:
                if target in planned:
                    keep |= {target} | nx.ancestors(graph, target)
        graph = graph.subgraph(keep).copy()
        planned = {k: v for k, v in planned.items() if k in keep}

    # Lexicographic topological order by document position keeps runs and listings stable.
    order = list(nx.lexicographical_topological_sort(graph, key=lambda n: planned[n].position))
    for node_id in order:
        node = planned[node_id]
        node_type = node.node_type
        links = [(link.port, planned[link.source].cache_key, link.source_port) for link in node.inputs]
        if node.mode != "normal":
            # Nothing executes and the cache is never asked for this key (dependents get the keys of what passed
            # through), so it only has to be stable and apart from every real node's key.
            node.request_key = node.cache_key = _mode_key(node, links)
            continue
        external = node_type.external_key(node.params, home) if node_type.external_key else None
        node.request_key = node_key(node_type, node.params, links, external)
        seed_name = node_type.seed_param
        fresh = reroll or node_id in rerolled
        if seed_name and not _seed_arrives(node, seed_name) and (
                node.params.get(seed_name, -1) < 0 or node_id in rerolled or _asks_random(node)):
            seed = None if fresh else pinned.get(node_id)
            if seed is None and not fresh and seed_lookup is not None:
                seed = seed_lookup(node.request_key, seed_name)
            if seed is None:
                seed = rng.randint(0, MAX_SEED)
            node.params = {**node.params, seed_name: seed}
            node.cache_key = node_key(node_type, node.params, links, external)
        else:
            node.cache_key = node.request_key
    return Plan(doc, planned, order, graph)


def _mode_key(node: PlannedNode, links: list[tuple[str, str, str]]) -> str:
    payload = {"mode": node.mode, "type": node.node_type.type, "inputs": sorted(links)}
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


def _asks_random(node: PlannedNode) -> bool:
    """A node whose params ask for a random seed although its seed param is concrete (value.seed "random")."""
    wants = node.node_type.random_seed
    return wants is not None and wants(node.params)


def _seed_arrives(node: PlannedNode, seed_name: str) -> bool:
    """The seed comes on a param input (a sweep): each item runs with the value that arrives, never a random one."""
    return any(link.port == "param:" + seed_name for link in node.inputs)
