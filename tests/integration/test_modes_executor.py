"""The executor with bypassed, muted and rerouted nodes (DESIGN §10): they never execute, take no lease, and are
recorded with their own statuses; the order still succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from nodes.util import UTIL_REROUTE
from tests.support import toy_nodes
from tests.support.toy_nodes import toy_registry


@pytest.fixture
def session(library_home: Path) -> HeadlessSession:
    registry = toy_registry()
    registry.add(UTIL_REROUTE)
    library = Library.open(library_home, registry=registry)
    toy_nodes.CALLS.clear()
    yield HeadlessSession(library, limits={"toy": 8})
    library.close()


def _doc(modes: dict[str, str]) -> GraphDocument:
    """s → dot → plus(a) → last(a); m → needy(a); m → spare(b), s → spare(a)."""
    return GraphDocument(name="modes", nodes=[
        NodeSpec("s", "toy.source", {"value": 2}),
        NodeSpec("dot", "util.reroute", {}),
        NodeSpec("plus", "toy.sum", {"add": 10.0}, mode=modes.get("plus", "normal")),
        NodeSpec("last", "toy.sum", {"add": 1.0}),
        NodeSpec("m", "toy.source", {"value": 5}, mode=modes.get("m", "normal")),
        NodeSpec("needy", "toy.sum", {"add": 0.0}),
        NodeSpec("spare", "toy.sum", {"add": 0.0}),
    ], edges=[
        EdgeSpec("s", "value", "dot", "in"), EdgeSpec("dot", "out", "plus", "a"),
        EdgeSpec("plus", "value", "last", "a"), EdgeSpec("m", "value", "needy", "a"),
        EdgeSpec("s", "value", "spare", "a"), EdgeSpec("m", "value", "spare", "b"),
    ])


def _run(session: HeadlessSession, doc: GraphDocument) -> tuple[str, dict]:
    plan = session.plan(doc)
    claimed: list[str] = []
    orders = session.executor.store
    real_claim = orders.claim

    def claim(order_id, keys, stale_after_s):  # type: ignore[no-untyped-def]
        claimed.extend(keys.values())
        return real_claim(order_id, keys, stale_after_s)

    orders.claim = claim  # type: ignore[method-assign]
    try:
        order_id, status = session.run(plan, project_id=session.library.project_id())
    finally:
        del orders.claim
    with session.library.db.session() as db:
        result = lineage.run_result(session.library, db, order_id)
    result["claimed"] = claimed
    result["keys"] = {n: plan.nodes[n].cache_key for n in plan.order}
    return status, result


def test_bypassed_and_muted_nodes_never_execute_nor_take_a_lease(session: HeadlessSession) -> None:
    status, result = _run(session, _doc({"plus": "bypass", "m": "mute"}))
    assert status == "succeeded"
    assert {n: v["status"] for n, v in result["nodes"].items()} == {
        "s": "executed", "plus": "bypassed", "last": "executed", "m": "muted", "needy": "muted", "spare": "executed"}
    assert sorted(toy_nodes.CALLS) == ["last", "s", "spare"]
    keys = result["keys"]
    assert keys["plus"] not in result["claimed"] and keys["m"] not in result["claimed"]
    assert sorted(result["claimed"]) == sorted(keys[n] for n in ("s", "last", "spare"))


def test_values_pass_through_a_bypassed_node_and_a_reroute(session: HeadlessSession) -> None:
    seen: dict[str, list] = {}
    session.signals.node_finished.connect(lambda _o, n, s, _e: seen.setdefault(n, []).append(s))
    _, normal = _run(session, _doc({}))
    library = session.library
    with library.db.session() as db:
        detail = lineage.order_detail(library, db, normal["order_id"])
    assert {i["node_id"]: i["status"] for i in detail["items"]}["plus"] == "executed"
    assert "dot" not in normal["nodes"]  # a reroute costs nothing and is not an order item
    toy_nodes.CALLS.clear()
    _, bypassed = _run(session, _doc({"plus": "bypass"}))
    items = session.executor.store.items(bypassed["order_id"])
    assert items["plus"]["status"] == "bypassed"
    assert items["plus"]["outputs"] == {"value": items["s"]["outputs"]["value"]} == {"value": [2.0]}
    assert sorted(toy_nodes.CALLS) == ["last"]  # s and spare are cached; last sees 2 instead of 12
    last = session.executor.store.decode_outputs(items["last"]["outputs"])
    assert last["value"] == [3.0]
    assert seen["plus"][-1] == "bypassed"

