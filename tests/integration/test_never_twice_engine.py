"""Never twice, in the engine: leases on cache keys (wait, share, take over), re-attached jobs, the ledger write.

"Another process" is a second OrderStore on the same library with another owner name: it claims, heartbeats,
records jobs and releases exactly as a second `artfactory run` would (the CLI tests in test_never_twice.py
use real processes)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QTimer
from sqlalchemy import select

from artfactory.config import Settings
from artfactory.engine.cost import Cost, Usage
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.executor import OrderRunner
from artfactory.engine.nodetypes import NodeError, NodeType, Param, Port
from artfactory.engine.registry import NodeRegistry
from artfactory.engine.status import NodeProgress
from artfactory.models import Lease, OrderItem
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.workers.headless import HeadlessSession
from tests.support import toy_nodes

SEEN_REMOTE: list[dict[str, Any] | None] = []
SEEN_LOCK = threading.Lock()


def _remote(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A stand-in for a provider node: notes the job it would re-attach to, reports what it used."""
    with SEEN_LOCK:
        SEEN_REMOTE.append(dict(ctx.previous_remote) if ctx.previous_remote else None)
    toy_nodes.CALLS.append(ctx.node_id)
    if params["sleep_ms"]:
        ctx.sleep(params["sleep_ms"] / 1000)
    usage = Usage("acme", "acme/painter", {"second": 2.5}, reported=True, job_id="job-ok")
    if params["fail"]:
        exc = NodeError("the provider said: out of memory", code="remote_failed")
        exc.usage = [usage]  # type: ignore[attr-defined]  # what H2's provider errors carry
        raise exc
    ctx.report_usage(usage)
    return {"value": [params["add"]]}


REMOTE = NodeType(type="toy.remote", title="Remote", run=_remote, inputs=(Port("a", "number", optional=True),),
                  outputs=(Port("value", "number"),),
                  params=(Param("add", "float", 1.0), Param("sleep_ms", "int", 0, minimum=0),
                          Param("fail", "bool", False)), provider="toy")


class Book:
    """A CostBook: 0.001 $ a second; `broken` makes it raise like a pricing bug would."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.calls: list[list[Usage]] = []

    def cost_of(self, usages: Sequence[Usage]) -> Cost | None:
        self.calls.append(list(usages))
        if self.broken:
            raise RuntimeError("price table is corrupt")
        seconds = sum(u.units.get("second", 0.0) for u in usages)
        return Cost(round(seconds * 0.001, 6), "provider", {"provider": "acme", "model": "acme/painter",
                                                            "unit_usd": 0.001})


pytestmark = pytest.mark.usefixtures("db_backend")  # SQLite and PostgreSQL


@pytest.fixture
def library(library_home: Path) -> Iterator[Library]:
    lib = Library.open(library_home, settings=Settings(lease_ttl_s=1.0, database_url=os.environ.get(
                           "ARTFACTORY_DATABASE_URL", "")),
                       registry=NodeRegistry([toy_nodes.SOURCE, toy_nodes.SUM, REMOTE]))
    toy_nodes.CALLS.clear()
    SEEN_REMOTE.clear()
    try:
        yield lib
    finally:
        lib.close()


@pytest.fixture
def session(library: Library) -> HeadlessSession:
    return HeadlessSession(library, limits={"toy": 8})


def _graph(sleep_ms: int = 0, fail: bool = False) -> GraphDocument:
    return GraphDocument(nodes=[NodeSpec("s", "toy.source", {"value": 2.0}),
                                NodeSpec("work", "toy.remote", {"sleep_ms": sleep_ms, "fail": fail}),
                                NodeSpec("after", "toy.sum", {"add": 1.0})],
                         edges=[EdgeSpec("s", "value", "work", "a"), EdgeSpec("work", "value", "after", "a")])


def _items(library: Library, order_id: str) -> dict[str, dict[str, Any]]:
    return OrderStore(library).items(order_id)


def _leases(library: Library) -> list[tuple[str, str]]:
    with library.db.engine.connect() as conn:
        return [(r.cache_key, r.order_id) for r in conn.execute(select(Lease.cache_key, Lease.order_id))]


class Elsewhere:
    """Another run on the same library (another process, as far as leases can tell)."""

    def __init__(self, session: HeadlessSession, doc: GraphDocument, node_id: str = "work") -> None:
        self.store = OrderStore(session.library)
        self.store.owner = "another-host:4242"
        plan = session.plan(doc)
        self.key = plan.nodes[node_id].cache_key
        self.order_id = self.store.create_order(plan, project_id=session.library.project_id())
        self.item_id = self.store.item_ids(self.order_id)[node_id]
        claims = self.store.claim(self.order_id, {self.item_id: self.key}, 15.0)
        assert claims.won == {self.item_id}
        self.store.mark_running([self.item_id])
        self._beat = QTimer()
        self._beat.timeout.connect(self.store.heartbeat)

    def keep_alive(self) -> None:
        self._beat.start(100)

    def stop(self) -> None:
        self._beat.stop()


def _after(seconds: float, then: Callable[[], None]) -> QTimer:
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(then)
    timer.start(int(seconds * 1000))
    return timer


def _waiting_messages(session: HeadlessSession) -> list[tuple[str, str]]:
    """(node id, message) of every "waiting for order ..." progress report."""
    seen: list[tuple[str, str]] = []

    def on_progress(progress: NodeProgress) -> None:
        if progress.message.startswith("waiting for order"):
            seen.append((progress.node_id, progress.message))

    session.signals.node_progress.connect(on_progress)
    return seen


# --- waiting and sharing ------------------------------------------------------------------------------


def test_two_orders_in_one_process_execute_shared_work_once(session: HeadlessSession, library: Library) -> None:
    waits = _waiting_messages(session)
    plan = session.plan(_graph(sleep_ms=300))
    first = session.executor.submit(plan, project_id=library.project_id())
    second = session.executor.submit(session.plan(_graph(sleep_ms=300)), project_id=library.project_id())
    assert session.wait(second) == "succeeded" and session.wait(first) == "succeeded"
    assert toy_nodes.CALLS.count("work") == 1 and toy_nodes.CALLS.count("after") == 1
    mine, theirs = _items(library, first.order_id), _items(library, second.order_id)
    assert mine["work"]["status"] == "executed" and mine["work"]["shared_with"] is None
    assert theirs["work"]["status"] == "cached" and theirs["work"]["shared_with"] == first.order_id
    assert theirs["work"]["source_item_id"] == mine["work"]["id"]
    assert theirs["work"]["outputs"] == mine["work"]["outputs"]
    assert theirs["after"]["status"] == "cached"
    # Every node of the second order waited for the first (the source too: cheap, but the same work).
    assert dict(waits) == {n: f"waiting for order {first.order_id} (same work)" for n in ("s", "work", "after")}
    assert _leases(library) == []


def test_a_waiting_node_takes_the_result_a_run_elsewhere_finishes(session: HeadlessSession,
                                                                  library: Library) -> None:
    other = Elsewhere(session, _graph())
    other.keep_alive()
    waits = _waiting_messages(session)

    def finish_elsewhere() -> None:
        other.store.finish_item(other.item_id, order_id=other.order_id, project_id=library.project_id(),
                                status="executed", outputs={"value": [1.0]})

    timer = _after(0.5, finish_elsewhere)
    started = time.monotonic()
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    other.stop()
    assert status == "succeeded" and time.monotonic() - started >= 0.45
    assert "work" not in toy_nodes.CALLS  # the other run did the work
    item = _items(library, order_id)["work"]
    assert (item["status"], item["shared_with"], item["source_item_id"]) == ("cached", other.order_id,
                                                                             other.item_id)
    assert waits == [("work", f"waiting for order {other.order_id} (same work)")]
    assert timer is not None and _leases(library) == []


def test_a_waiting_node_executes_when_the_run_elsewhere_fails(session: HeadlessSession, library: Library) -> None:
    other = Elsewhere(session, _graph())
    other.keep_alive()
    timer = _after(0.5, lambda: other.store.mark_items([other.item_id], "failed", "boom", "told"))
    started = time.monotonic()
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    other.stop()
    assert status == "succeeded" and time.monotonic() - started >= 0.45
    assert toy_nodes.CALLS.count("work") == 1
    assert _items(library, order_id)["work"]["status"] == "executed"
    assert timer is not None and _leases(library) == []


def test_a_live_holder_keeps_its_lease_past_the_ttl_by_heartbeats(session: HeadlessSession,
                                                                  library: Library) -> None:
    # TTL 1 s; the work takes 2.5 s: without heartbeats the second order would take over and run it again.
    first = session.executor.submit(session.plan(_graph(sleep_ms=2500)), project_id=library.project_id())
    second = session.executor.submit(session.plan(_graph(sleep_ms=2500)), project_id=library.project_id())
    assert session.wait(second) == "succeeded" and session.wait(first) == "succeeded"
    assert toy_nodes.CALLS.count("work") == 1
    assert _items(library, second.order_id)["work"]["shared_with"] == first.order_id


def test_cancel_of_a_waiting_order_takes_effect_within_a_second(session: HeadlessSession,
                                                                library: Library) -> None:
    other = Elsewhere(session, _graph())
    other.keep_alive()
    waits = _waiting_messages(session)
    canceled: list[float] = []
    runners: list[OrderRunner] = []
    timer = QTimer()

    def cancel_once_waiting() -> None:
        if waits and not canceled:
            canceled.append(time.monotonic())
            runners[0].cancel()

    timer.timeout.connect(cancel_once_waiting)
    timer.start(20)
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id(),
                                   on_runner=runners.append)
    ended = time.monotonic()
    timer.stop()
    other.stop()
    assert status == "canceled" and ended - canceled[0] < 1.0
    items = _items(library, order_id)
    assert (items["work"]["status"], items["after"]["status"]) == ("canceled", "canceled")
    assert "work" not in toy_nodes.CALLS
    assert _leases(library) == [(other.key, other.order_id)]  # the other run's lease is not ours to drop


def test_cancel_of_one_waiting_node_skips_its_dependents(session: HeadlessSession, library: Library) -> None:
    other = Elsewhere(session, _graph())
    other.keep_alive()
    waits = _waiting_messages(session)
    runners: list[OrderRunner] = []
    timer = QTimer()
    timer.timeout.connect(lambda: waits and runners[0].status["work"] == "pending" and runners[0].cancel_node("work"))
    timer.start(20)
    started = time.monotonic()
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id(),
                                   on_runner=runners.append)
    timer.stop()
    other.stop()
    assert status == "partial" and time.monotonic() - started < 1.5
    items = _items(library, order_id)
    assert (items["s"]["status"], items["work"]["status"], items["after"]["status"]) == (
        "executed", "canceled", "skipped")


# --- a crashed holder ------------------------------------------------------------------------------------


def test_a_crashed_holder_is_taken_over_after_the_ttl_and_its_job_re_attached(session: HeadlessSession,
                                                                              library: Library) -> None:
    started = time.monotonic()  # before the holder's last heartbeat: the TTL counts from that
    other = Elsewhere(session, _graph())  # never heartbeats again: it crashed right after the create
    job = {"job_id": "pred-1", "provider": "replicate", "item_index": 0, "get_url": "http://127.0.0.1:9/p"}
    other.store.set_remote(other.item_id, "pred-1", {"jobs": {"0": job}})
    waits = _waiting_messages(session)
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    took = time.monotonic() - started
    assert status == "succeeded" and 0.9 <= took < 3.0  # waited for the TTL (1 s), then took over
    assert waits and [job] == SEEN_REMOTE  # polled the recorded job instead of creating one
    item = _items(library, order_id)["work"]
    assert item["status"] == "executed" and item["remote_job_id"] == "pred-1"
    assert item["remote_state"] == {"jobs": {"0": job}}
    assert _leases(library) == []


DEAD_HERE = f"{socket.gethostname()}:{2**22 + 12345}"  # a process of this host that is gone (pid beyond pid_max)


def test_recover_removes_leases_of_dead_processes_here(session: HeadlessSession, library: Library) -> None:
    other = Elsewhere(session, _graph())
    with library.db.engine.begin() as conn:
        conn.execute(Lease.__table__.update().values(owner=DEAD_HERE))
    assert _leases(library) == [(other.key, other.order_id)]
    OrderStore(library).recover_interrupted()
    assert _leases(library) == []


def test_a_dead_holder_on_this_host_is_taken_over_without_waiting_for_the_ttl(session: HeadlessSession,
                                                                              library: Library) -> None:
    Elsewhere(session, _graph())
    with library.db.engine.begin() as conn:
        conn.execute(Lease.__table__.update().values(owner=DEAD_HERE))
    waits = _waiting_messages(session)
    started = time.monotonic()
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    assert status == "succeeded" and time.monotonic() - started < 0.9 and waits == []
    assert _items(library, order_id)["work"]["status"] == "executed" and toy_nodes.CALLS.count("work") == 1


def test_an_ended_job_is_never_re_attached(session: HeadlessSession, library: Library) -> None:
    store = OrderStore(library)
    plan = session.plan(_graph())
    key = plan.nodes["work"].cache_key
    old = store.create_order(plan, project_id=library.project_id())
    old_item = store.item_ids(old)["work"]
    ended = {"job_id": "pred-9", "provider": "replicate", "item_index": 0, "ended": "failed"}
    store.set_remote(old_item, "pred-9", {"jobs": {"0": ended}})
    store.mark_items([old_item], "failed", "the prediction failed", "remote_failed")
    assert store.recorded_jobs(key) == {}
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    assert status == "succeeded" and SEEN_REMOTE == [None]
    assert _items(library, order_id)["work"]["remote_job_id"] is None


def test_recorded_jobs_come_from_the_newest_unfinished_run(session: HeadlessSession, library: Library) -> None:
    store = OrderStore(library)
    plan = session.plan(_graph())
    key = plan.nodes["work"].cache_key

    def order_with(jobs: dict[str, dict[str, Any]], status: str) -> str:
        order_id = store.create_order(plan, project_id=library.project_id())
        item = store.item_ids(order_id)["work"]
        store.set_remote(item, jobs[max(jobs)]["job_id"], {"jobs": jobs})
        store.mark_items([item], status, "x", "x")
        time.sleep(0.002)  # created_at orders the runs
        return item

    order_with({"0": {"job_id": "a0"}}, "failed")
    assert store.recorded_jobs(key) == {0: {"job_id": "a0"}}
    order_with({"0": {"job_id": "b0"}, "1": {"job_id": "b1", "ended": "expired"}}, "failed")
    assert store.recorded_jobs(key) == {0: {"job_id": "b0"}}  # the newer run knows better; ended ones are out
    order_with({"0": {"job_id": "c0"}}, "canceled")
    assert store.recorded_jobs(key) == {}  # canceled by the user: its job was canceled remotely


# --- the ledger ------------------------------------------------------------------------------------------------


def _with_costs(session: HeadlessSession, book: Book | None) -> None:
    session.executor.services = replace(session.executor.services, costs=book)


def test_an_executed_node_records_what_it_cost(session: HeadlessSession, library: Library) -> None:
    book = Book()
    _with_costs(session, book)
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    assert status == "succeeded"
    items = _items(library, order_id)
    work = items["work"]
    assert (work["cost_usd"], work["cost_source"]) == (0.0025, "provider")
    assert work["cost_detail"]["model"] == "acme/painter" and work["cost_detail"]["unit_usd"] == 0.001
    assert work["cost_detail"]["usages"] == [{"provider": "acme", "model": "acme/painter", "units": {"second": 2.5},
                                             "reported": True, "job_id": "job-ok", "cost_usd": None}]
    assert items["s"]["cost_usd"] is None and items["after"]["cost_usd"] is None  # no provider: no cost
    assert len(book.calls) == 1  # only the node that used something was priced


def test_a_failed_node_records_what_its_failed_job_cost(session: HeadlessSession, library: Library) -> None:
    _with_costs(session, Book())
    order_id, status = session.run(session.plan(_graph(fail=True)), project_id=library.project_id())
    assert status == "partial"
    work = _items(library, order_id)["work"]
    assert work["status"] == "failed" and "out of memory" in work["error"]
    assert (work["cost_usd"], work["cost_source"]) == (0.0025, "provider")
    assert [u["job_id"] for u in work["cost_detail"]["usages"]] == ["job-ok"]


def test_a_pricing_error_never_breaks_the_run(session: HeadlessSession, library: Library,
                                              caplog: pytest.LogCaptureFixture) -> None:
    _with_costs(session, Book(broken=True))
    with caplog.at_level(logging.WARNING, logger="artfactory.engine"):
        order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    assert status == "succeeded"
    work = _items(library, order_id)["work"]
    assert work["status"] == "executed" and work["cost_usd"] is None and work["cost_source"] is None
    assert "could not price" in caplog.text


def test_without_a_cost_book_nothing_is_recorded(session: HeadlessSession, library: Library) -> None:
    session.executor.services = replace(session.executor.services, costs=None)
    order_id, status = session.run(session.plan(_graph()), project_id=library.project_id())
    assert status == "succeeded" and _items(library, order_id)["work"]["cost_source"] is None
    with library.db.engine.connect() as conn:
        assert conn.execute(select(OrderItem.cost_usd).where(OrderItem.cost_usd.is_not(None))).first() is None
