"""Cache keys are Merkle hashes of what a node computes: node ids and param order never change them."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.plan import build_plan
from tests.support.toy_nodes import toy_registry

REGISTRY = toy_registry()


@st.composite
def dags(draw: st.DrawFn) -> GraphDocument:
    """Random DAGs of toy nodes: sources first, then sums wired to earlier nodes only."""
    n_sources = draw(st.integers(1, 4))
    n_sums = draw(st.integers(0, 12))
    nodes = [NodeSpec(f"s{i}", "toy.source", {"value": draw(st.integers(0, 5))}) for i in range(n_sources)]
    edges = []
    for j in range(n_sums):
        node_id = f"n{j}"
        earlier = [n.id for n in nodes]
        a = draw(st.sampled_from(earlier))
        params = {"add": float(draw(st.integers(0, 3)))}
        nodes.append(NodeSpec(node_id, "toy.sum", params))
        edges.append(EdgeSpec(a, "value", node_id, "a"))
        if draw(st.booleans()):
            edges.append(EdgeSpec(draw(st.sampled_from(earlier)), "value", node_id, "b"))
    return GraphDocument(name="random", nodes=nodes, edges=edges)


def _renamed(doc: GraphDocument, seed: int) -> tuple[GraphDocument, dict[str, str]]:
    rng = random.Random(seed)
    names = [f"x{rng.randrange(10**9)}_{i}" for i in range(len(doc.nodes))]
    mapping = {n.id: names[i] for i, n in enumerate(doc.nodes)}
    nodes = [NodeSpec(mapping[n.id], n.type, dict(reversed(list(n.params.items())))) for n in doc.nodes]
    rng.shuffle(nodes)
    edges = [EdgeSpec(mapping[e.source], e.source_port, mapping[e.target], e.target_port) for e in doc.edges]
    rng.shuffle(edges)
    return GraphDocument(name="other name", nodes=nodes, edges=edges, meta={"canvas": {"x": 1}}), mapping


@settings(max_examples=60, deadline=None)
@given(doc=dags(), seed=st.integers(0, 10**6))
def test_keys_ignore_ids_param_order_and_layout(doc: GraphDocument, seed: int, tmp_path_factory) -> None:
    home = Path(tmp_path_factory.mktemp("h"))
    plan = build_plan(doc, REGISTRY, home=home)
    other_doc, mapping = _renamed(doc, seed)
    other = build_plan(other_doc, REGISTRY, home=home)
    for node_id, node in plan.nodes.items():
        assert other.nodes[mapping[node_id]].cache_key == node.cache_key


@settings(max_examples=40, deadline=None)
@given(doc=dags())
def test_topological_order_puts_inputs_first(doc: GraphDocument, tmp_path_factory) -> None:
    plan = build_plan(doc, REGISTRY, home=Path(tmp_path_factory.mktemp("h")))
    position = {node_id: i for i, node_id in enumerate(plan.order)}
    assert sorted(plan.order) == sorted(n.id for n in doc.nodes)
    for edge in doc.edges:
        assert position[edge.source] < position[edge.target]


def test_a_param_change_changes_that_key_and_every_descendant(tmp_path: Path) -> None:
    doc = GraphDocument(nodes=[NodeSpec("s", "toy.source"), NodeSpec("a", "toy.sum"), NodeSpec("b", "toy.sum"),
                               NodeSpec("c", "toy.sum")],
                        edges=[EdgeSpec("s", "value", "a", "a"), EdgeSpec("a", "value", "b", "a"),
                               EdgeSpec("s", "value", "c", "a")])
    before = build_plan(doc, REGISTRY, home=tmp_path)
    doc.nodes[1].params["add"] = 5
    after = build_plan(doc, REGISTRY, home=tmp_path)
    changed = {n for n in before.nodes if before.nodes[n].cache_key != after.nodes[n].cache_key}
    assert changed == {"a", "b"}


def test_random_seed_resolution(tmp_path: Path) -> None:
    doc = GraphDocument(nodes=[NodeSpec("r", "toy.seeded", {"seed": -1}), NodeSpec("f", "toy.seeded", {"seed": 9})])
    recorded: dict[str, int] = {}

    def lookup(request_key: str, _param: str) -> int | None:
        return recorded.get(request_key)

    first = build_plan(doc, REGISTRY, home=tmp_path, seed_lookup=lookup)
    seed = first.nodes["r"].params["seed"]
    assert 0 <= seed < 2**31 and first.nodes["f"].params["seed"] == 9
    recorded[first.nodes["r"].request_key] = seed
    again = build_plan(doc, REGISTRY, home=tmp_path, seed_lookup=lookup)
    assert again.nodes["r"].params["seed"] == seed and again.nodes["r"].cache_key == first.nodes["r"].cache_key
    rerolled = build_plan(doc, REGISTRY, home=tmp_path, seed_lookup=lookup, reroll=True, rng=random.Random(1))
    assert rerolled.nodes["r"].cache_key != first.nodes["r"].cache_key
    assert rerolled.nodes["f"].cache_key == first.nodes["f"].cache_key
    pinned = build_plan(doc, REGISTRY, home=tmp_path, pinned_seeds={"r": 1234})
    assert pinned.nodes["r"].params["seed"] == 1234
