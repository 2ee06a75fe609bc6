"""The executor on real Qt threads: ready-set order, exactly-once, failure, cancel, limits and the cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec, from_json
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.support import toy_nodes
from tests.support.toy_nodes import toy_registry
from tests.unit.test_plan_keys import dags


@pytest.fixture
def session(library_home: Path) -> HeadlessSession:
    library = Library.open(library_home, registry=toy_registry())
    toy_nodes.CALLS.clear()
    yield HeadlessSession(library, limits={"toy": 8})
    library.close()


def _run(session: HeadlessSession, doc: GraphDocument, **kwargs) -> tuple[str, str, dict]:
    plan = session.plan(doc, **{k: v for k, v in kwargs.items() if k in ("reroll", "pinned_seeds", "only")})
    order_id, status = session.run(plan, project_id=session.library.project_id())
    with session.library.db.session() as db:
        result = lineage.run_result(session.library, db, order_id)
    return order_id, status, {n: v["status"] for n, v in result["nodes"].items()}


def _events(session: HeadlessSession) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    session.signals.node_started.connect(lambda _o, n: events.append(("start", n)))
    session.signals.node_finished.connect(lambda _o, n, s, _e: events.append((s, n)))
    return events


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=dags())
def test_random_dags_run_each_node_once_after_its_inputs(session: HeadlessSession, doc: GraphDocument) -> None:
    toy_nodes.CALLS.clear()
    events = _events(session)
    _, status, nodes = _run(session, doc, reroll=True)
    assert status == "succeeded"
    executed = [n for n, s in nodes.items() if s == "executed"]
    assert sorted(toy_nodes.CALLS) == sorted(executed)  # exactly once each
    finished_at = {n: i for i, (kind, n) in enumerate(events) if kind in ("executed", "cached")}
    started_at = {n: i for i, (kind, n) in enumerate(events) if kind == "start"}
    for edge in doc.edges:
        if edge.target in started_at:
            assert finished_at[edge.source] < started_at[edge.target]


def _diamond(**params: dict) -> GraphDocument:
    return GraphDocument(
        nodes=[NodeSpec("s", "toy.source"), NodeSpec("slow", "toy.sum", params.get("slow", {})),
               NodeSpec("fast", "toy.sum", params.get("fast", {})), NodeSpec("after_fast", "toy.sum"),
               NodeSpec("join", "toy.sum", params.get("join", {}))],
        edges=[EdgeSpec("s", "value", "slow", "a"), EdgeSpec("s", "value", "fast", "a"),
               EdgeSpec("fast", "value", "after_fast", "a"), EdgeSpec("slow", "value", "join", "a"),
               EdgeSpec("after_fast", "value", "join", "b")],
    )


def test_ready_set_not_generation_barriers(session: HeadlessSession) -> None:
    events = _events(session)
    _run(session, _diamond(slow={"sleep_ms": 400}))
    order = [e for e in events]
    assert order.index(("start", "after_fast")) < order.index(("executed", "slow"))


def test_failure_skips_dependents_only_and_order_is_partial(session: HeadlessSession) -> None:
    order_id, status, nodes = _run(session, _diamond(fast={"fail": "boom"}))
    assert status == "partial"
    assert nodes == {"s": "executed", "slow": "executed", "fast": "failed", "after_fast": "skipped",
                     "join": "skipped"}
    with session.library.db.session() as db:
        detail = lineage.order_detail(session.library, db, order_id)
    items = {i["node_id"]: i for i in detail["items"]}
    assert items["fast"]["error"] == "told to fail: boom"
    assert "fast" in items["join"]["error"]
    assert detail["status"] == "partial"


def test_identical_rerun_executes_nothing_and_tweak_only_descendants(session: HeadlessSession) -> None:
    doc = _diamond()
    _run(session, doc)
    toy_nodes.CALLS.clear()
    _, status, nodes = _run(session, doc)
    assert status == "succeeded" and set(nodes.values()) == {"cached"} and toy_nodes.CALLS == []
    doc.nodes[2].params["add"] = 3.0  # "fast"
    _, _, nodes = _run(session, doc)
    assert sorted(toy_nodes.CALLS) == ["after_fast", "fast", "join"]
    assert nodes["slow"] == "cached" and nodes["s"] == "cached"


def test_cache_survives_a_restart(library_home: Path) -> None:
    doc = _diamond()
    first = Library.open(library_home, registry=toy_registry())
    _run(HeadlessSession(first), doc)
    first.close()
    toy_nodes.CALLS.clear()
    second = Library.open(library_home, registry=toy_registry())
    _, _, nodes = _run(HeadlessSession(second), doc)
    assert set(nodes.values()) == {"cached"} and toy_nodes.CALLS == []
    second.close()


def test_cancel_takes_effect_within_a_second(session: HeadlessSession) -> None:
    from PyQt6.QtCore import QTimer

    doc = _diamond(slow={"sleep_ms": 30_000})
    plan = session.plan(doc)
    started = time.monotonic()
    canceled_at: list[float] = []

    def on_runner(runner) -> None:
        def cancel() -> None:
            canceled_at.append(time.monotonic())
            runner.cancel()

        QTimer.singleShot(300, cancel)

    order_id, status = session.run(plan, project_id=session.library.project_id(), on_runner=on_runner)
    assert status == "canceled"
    assert time.monotonic() - canceled_at[0] < 1.0
    assert time.monotonic() - started < 5
    with session.library.db.session() as db:
        nodes = lineage.run_result(session.library, db, order_id)["nodes"]
    assert nodes["slow"]["status"] == "canceled" and nodes["join"]["status"] in ("canceled", "skipped")


def test_provider_concurrency_limit(library_home: Path) -> None:
    library = Library.open(library_home, registry=toy_registry())
    session = HeadlessSession(library, limits={"toy": 2})
    doc = GraphDocument(nodes=[NodeSpec("s", "toy.source")] + [
        NodeSpec(f"n{i}", "toy.sum", {"sleep_ms": 150, "add": i}) for i in range(6)],
        edges=[EdgeSpec("s", "value", f"n{i}", "a") for i in range(6)])
    running = {"now": 0, "max": 0}

    def started(_o: str, node: str) -> None:
        if node.startswith("n"):
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])

    def finished(_o: str, node: str, _s: str, _e: str) -> None:
        if node.startswith("n"):
            running["now"] -= 1

    session.signals.node_started.connect(started)
    session.signals.node_finished.connect(finished)
    t0 = time.monotonic()
    _, status, _ = _run(session, doc)
    assert status == "succeeded" and running["max"] == 2
    assert time.monotonic() - t0 >= 0.45  # three waves of two
    library.close()


def test_batch_zip_and_broadcast(session: HeadlessSession) -> None:
    doc = from_json({"nodes": [{"id": "many", "type": "toy.source", "params": {"values": {"items": [1, 2, 3]}}},
                               {"id": "one", "type": "toy.source", "params": {"value": 10}},
                               {"id": "sum", "type": "toy.sum"}],
                     "edges": [{"from": ["many", "value"], "to": ["sum", "a"]},
                               {"from": ["one", "value"], "to": ["sum", "b"]}]})
    order_id, status, _ = _run(session, doc)
    assert status == "succeeded"
    items = session.executor.store.items(order_id)
    assert items["sum"]["outputs"] == {"value": [11.0, 12.0, 13.0]}


def test_batch_mismatch_fails_clearly(session: HeadlessSession) -> None:
    doc = from_json({"nodes": [{"id": "a", "type": "toy.source", "params": {"values": {"items": [1, 2, 3]}}},
                               {"id": "b", "type": "toy.source", "params": {"values": {"items": [1, 2]}}},
                               {"id": "sum", "type": "toy.sum"}],
                     "edges": [{"from": ["a", "value"], "to": ["sum", "a"]},
                               {"from": ["b", "value"], "to": ["sum", "b"]}]})
    order_id, status, nodes = _run(session, doc)
    assert status == "partial" and nodes["sum"] == "failed"
    error = session.executor.store.items(order_id)["sum"]["error"]
    assert "a has 3" in error and "b has 2" in error


@pytest.mark.timeout(30)  # before the fix the handler waited on its own write lock, then hung
def test_ctrl_c_in_the_middle_of_a_database_write_cancels_cleanly(library_home: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Python runs the SIGINT handler between two bytecodes of whatever the main thread was doing, here
    inside an open write transaction: the cancel must wait for the event loop instead of writing there."""
    import signal

    from artfactory.models import utcnow
    from artfactory.services.orders import OrderStore

    calls: list[int] = []

    def mark_running_then_ctrl_c(store: OrderStore, item_ids: object) -> None:
        ids = list(item_ids)  # type: ignore[call-overload]
        calls.append(len(ids))
        with store.engine.begin() as conn:
            store._update_items(conn, [{"_id": i, "status": "running", "started_at": utcnow(), "error": None,
                                        "error_code": None} for i in ids])
            if len(calls) == 2:  # the wave that starts the slow node
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(OrderStore, "mark_running", mark_running_then_ctrl_c)
    library = Library.open(library_home)
    try:
        session = HeadlessSession(library)
        doc = GraphDocument(nodes=[
            NodeSpec("p", "prompt.text", {"text": "a lighthouse"}),
            NodeSpec("slow", "provider.local", {"seed": 1, "width": 64, "height": 64, "latency_ms": 20_000}),
        ], edges=[EdgeSpec("p", "text", "slow", "prompt")])
        started = time.monotonic()
        order_id, status = session.run(session.plan(doc), project_id=library.project_id(), handle_sigint=True)
        assert time.monotonic() - started < 5  # no wait on our own write lock
        assert status == "canceled" and session.interrupted and len(calls) == 2
        items = session.executor.store.items(order_id)
        assert (items["p"]["status"], items["slow"]["status"]) == ("executed", "canceled")
    finally:
        library.close()
