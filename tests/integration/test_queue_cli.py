"""The queue from the CLI: add, list, pause, resume, remove, move, run — shared across processes."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artfactory.models import Order, OrderItem
from artfactory.services.library import Library
from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.cli import CliResult, run_cli, spawn_cli

pytestmark = pytest.mark.usefixtures("db_backend")  # SQLite and PostgreSQL


def _graph(tmp_path: Path, name: str = "q", seed: int = 1, latency_ms: int = 0) -> Path:
    path = tmp_path / f"{name}-{seed}.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": name,
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": f"a fox {name}"}},
                  {"id": "gen", "type": "provider.local",
                   "params": {"seed": seed, "width": 64, "height": 64, "latency_ms": latency_ms}},
                  {"id": "small", "type": "transform.resize", "params": {"width": 16, "height": 16}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "image"], "to": ["small", "image"]}],
    }))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    return run_cli(capsys, *args)


def _listing(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    done = _cli(capsys, "queue", "list", "--json")
    assert done.code == 0, done.err
    return dict(done.json)


def _add(capsys: pytest.CaptureFixture[str], graph: Path, *extra: str) -> str:
    done = _cli(capsys, "queue", "add", graph, "--json", *extra)
    assert done.code == 0, done.err
    assert done.json["status"] == "queued"
    return str(done.json["order_id"])


def test_add_list_move_remove_pause_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _add(capsys, _graph(tmp_path, "first", 1))
    second = _add(capsys, _graph(tmp_path, "second", 2), "--set", "gen.seed=22")
    third = _add(capsys, _graph(tmp_path, "third", 3))
    listing = _listing(capsys)
    assert listing["paused"] is False
    assert [(e["order_id"], e["position"], e["name"], e["status"]) for e in listing["queue"]] == [
        (first, 1, "first", "queued"), (second, 2, "second", "queued"), (third, 3, "third", "queued")]
    # Nothing ran: the orders wait with their items pending and the --set applied in the snapshot.
    shown = _cli(capsys, "orders", "show", second, "--json").json
    assert shown["status"] == "queued"
    assert {i["status"] for i in shown["items"]} == {"pending"}
    assert next(n for n in shown["graph"]["nodes"] if n["id"] == "gen")["params"]["seed"] == 22

    moved = _cli(capsys, "queue", "move", third, "1", "--json")
    assert moved.code == 0, moved.err
    assert [e["order_id"] for e in moved.json["queue"]] == [third, first, second]

    removed = _cli(capsys, "queue", "remove", first, "--json")
    assert removed.code == 0, removed.err
    assert [e["order_id"] for e in _listing(capsys)["queue"]] == [third, second]
    again = _cli(capsys, "queue", "remove", first, "--json")
    assert again.code == 2 and "no order" in again.err and len(again.err.strip().splitlines()) == 1

    assert _cli(capsys, "queue", "pause", "--json").json["paused"] is True
    idle = _cli(capsys, "queue", "run", "--json")
    assert idle.code == 0, idle.err
    assert idle.json == []  # paused: nothing was taken
    assert len(_listing(capsys)["queue"]) == 2

    assert _cli(capsys, "queue", "resume", "--json").json["paused"] is False
    done = _cli(capsys, "queue", "run", "--json")
    assert done.code == 0, done.err
    assert sorted(r["order_id"] for r in done.json) == sorted([third, second])
    assert {r["status"] for r in done.json} == {"succeeded"}
    assert all(r["nodes"]["gen"]["status"] == "executed" and r["products"] for r in done.json)
    assert _listing(capsys)["queue"] == []
    ran = _cli(capsys, "queue", "remove", second, "--json")
    assert ran.code == 2 and "not queued" in ran.err


def test_queued_seed_is_resolved_when_queued_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order_id = _add(capsys, _graph(tmp_path, "random", -1))
    queued = _cli(capsys, "orders", "show", order_id, "--json").json
    seed = next(i for i in queued["items"] if i["node_id"] == "gen")["params"]["seed"]
    assert isinstance(seed, int) and seed >= 0
    done = _cli(capsys, "queue", "run", "--json")
    assert done.code == 0, done.err
    ran = _cli(capsys, "orders", "show", order_id, "--json").json
    assert next(i for i in ran["items"] if i["node_id"] == "gen")["params"]["seed"] == seed


def test_run_exit_code_is_1_when_a_queued_order_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "bad",
        "nodes": [{"id": "img", "type": "input.image", "params": {"path": str(tmp_path / "missing.png")}}],
        "edges": []}))
    order_id = _add(capsys, path)
    done = _cli(capsys, "queue", "run", "--json")
    assert done.code == 1
    assert [(r["order_id"], r["status"]) for r in done.json] == [(order_id, "failed")]


def test_queue_survives_a_restart_and_recovery_leaves_it_alone(tmp_path: Path, library_home: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    adder = spawn_cli(library_home, "queue", "add", _graph(tmp_path, "later", 5), "--json")
    out, err = adder.communicate(timeout=60)
    assert adder.returncode == 0, err
    order_id = json.loads(out)["order_id"]
    # Another command's recovery (the adding process is gone) must not call the queued order interrupted.
    other = _cli(capsys, "run", _graph(tmp_path, "now", 6), "--json")
    assert other.code == 0, other.err
    assert [e["order_id"] for e in _listing(capsys)["queue"]] == [order_id]
    assert _cli(capsys, "orders", "show", order_id, "--json").json["status"] == "queued"
    lister = spawn_cli(library_home, "queue", "list", "--json")
    out, err = lister.communicate(timeout=60)
    assert lister.returncode == 0, err
    assert [e["order_id"] for e in json.loads(out)["queue"]] == [order_id]


def test_two_queue_runs_never_run_the_same_order(tmp_path: Path, library_home: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # One order at a time per process (a pool of one thread), so both processes keep coming back for more.
    (library_home / "settings.json").write_text(json.dumps({"worker_threads": 1}))
    queued = [_add(capsys, _graph(tmp_path, f"o{i}", 100 + i, latency_ms=300)) for i in range(6)]
    runners = [spawn_cli(library_home, "queue", "run", "--json") for _ in range(2)]
    answers = []
    for proc in runners:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        answers.append([r["order_id"] for r in json.loads(out)])
    assert answers[0] and answers[1]  # both took work
    assert not set(answers[0]) & set(answers[1])
    assert sorted(answers[0] + answers[1]) == sorted(queued)
    library = Library.open(library_home)
    try:
        with library.db.session() as db:
            started = db.query(OrderItem.order_id).filter(OrderItem.node_id == "gen",
                                                          OrderItem.status == "executed").all()
        assert sorted(o for (o,) in started) == sorted(queued)  # each executed exactly once
    finally:
        library.close()


def test_provider_limit_holds_across_queued_orders(tmp_path: Path, library_home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (library_home / "settings.json").write_text(json.dumps({"concurrency_local": 1}))
    queued = [_add(capsys, _graph(tmp_path, f"o{i}", 200 + i, latency_ms=200)) for i in range(3)]
    done = _cli(capsys, "queue", "run", "--json")
    assert done.code == 0, done.err
    library = Library.open(library_home)
    try:
        with library.db.session() as db:
            spans = sorted(db.query(OrderItem.started_at, OrderItem.finished_at).filter(
                OrderItem.order_id.in_(queued), OrderItem.node_id == "gen").all())
            orders = db.query(Order.started_at, Order.finished_at).filter(Order.id.in_(queued)).all()
    finally:
        library.close()
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # one local slot: the generations never overlap
    # ... although the orders themselves ran at once (the queue took all three), so the limit did the work.
    assert max(s for s, _ in orders) < min(f for _, f in orders)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReplicate]:
    server = FakeReplicate().start()
    monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
    try:
        yield server
    finally:
        server.stop()


def test_budget_guard_on_add_queues_nothing(fake: FakeReplicate, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "paid.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "paid",
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a fox"}},
                  {"id": "gen", "type": "provider.replicate",
                   "params": {"model": "acme/painter", "input": {"num_outputs": 1}, "seed": 5}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]}]}))
    set_price = _cli(capsys, "prices", "set", "replicate", "acme/painter", "0.004", "--unit", "output", "--json")
    assert set_price.code == 0, set_price.err
    refused = _cli(capsys, "queue", "add", path, "--max-usd", "0.001", "--json")
    assert refused.code == 2 and refused.json["code"] == "over_budget"
    assert len(refused.err.strip().splitlines()) == 1
    assert _listing(capsys)["queue"] == []
    assert _cli(capsys, "orders", "list", "--json").json["orders"] == []
    within = _cli(capsys, "queue", "add", path, "--max-usd", "0.004", "--json")
    assert within.code == 0, within.err
    assert [e["order_id"] for e in _listing(capsys)["queue"]] == [within.json["order_id"]]
    assert fake.accepted_creates == 0  # queued, not run


def test_take_next_claims_each_order_once_under_contention(tmp_path: Path, library_home: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from artfactory.services.queue import Queue

    queued = [_add(capsys, _graph(tmp_path, f"t{i}", 300 + i)) for i in range(12)]
    library = Library.open(library_home)
    taken: list[list[str]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def worker(index: int) -> None:
        queue = Queue(library)
        barrier.wait()
        while (order := queue.take_next()) is not None:
            taken[index].append(order.order_id)

    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        library.close()
    every = [o for part in taken for o in part]
    assert sorted(every) == sorted(queued)  # each claimed exactly once, none lost


def test_queue_run_stops_taking_when_paused_and_part_graph_orders_plan_back(
        tmp_path: Path, library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from artfactory.engine import document as graph_document
    from artfactory.engine.queue_pump import Claimed, QueuePump
    from artfactory.services.queue import Queue
    from artfactory.workers.headless import HeadlessSession

    library = Library.open(library_home)
    try:
        queue = Queue(library)
        project = library.project_id()
        doc = graph_document.load(_graph(tmp_path, "part", 400, latency_ms=100))
        partial = queue.add(queue.plan(doc, only=["gen"]), project_id=project)  # "Run selected branch", queued
        rest = [queue.add(queue.plan(graph_document.load(_graph(tmp_path, f"r{i}", 410 + i))), project_id=project)
                for i in range(2)]
        session = HeadlessSession(library)
        started: list[str] = []

        def take() -> Claimed | None:
            taken = queue.take_next()
            if taken is None:
                return None
            plan = queue.plan_taken(taken)
            assert set(plan.order) == set(taken.items)  # the queued part of the graph, nothing more
            return Claimed(taken.order_id, taken.project_id, plan, taken.items)

        pump = QueuePump(session.executor, take, max_orders=1)
        pump.starting.connect(lambda order_id, _runner: (started.append(order_id), queue.set_paused(True)))
        finished: list[tuple[str, str]] = []
        pump.order_done.connect(lambda order_id, status: finished.append((order_id, status)))
        drained: list[bool] = []
        pump.drained.connect(lambda: drained.append(True))
        pump.fill()
        deadline = time.monotonic() + 30
        while not drained and time.monotonic() < deadline:
            session.app.processEvents()
        assert drained and started == [partial] and finished == [(partial, "succeeded")]
        assert [e.order_id for e in queue.entries()] == rest  # paused: the others wait
        with library.db.session() as db:
            nodes = {n for (n,) in db.query(OrderItem.node_id).filter(OrderItem.order_id == partial)}
        assert nodes == {"p", "gen"}
    finally:
        library.close()


def test_ctrl_c_stops_queue_run_with_130_and_leaves_the_rest_queued(tmp_path: Path, library_home: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    (library_home / "settings.json").write_text(json.dumps({"worker_threads": 1}))
    slow = _add(capsys, _graph(tmp_path, "slow", 500, latency_ms=20_000))
    later = _add(capsys, _graph(tmp_path, "later", 501))
    proc = spawn_cli(library_home, "queue", "run", "--json")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _cli(capsys, "orders", "show", slow, "--json").json["status"] != "running":
        time.sleep(0.1)
    time.sleep(0.5)  # the node is under way
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 5
    assert [(r["order_id"], r["status"]) for r in json.loads(out)] == [(slow, "canceled")]
    assert [e["order_id"] for e in _listing(capsys)["queue"]] == [later]


def test_queue_add_takes_a_sweep_like_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`queue add --sweep` queues the swept graph: the queued order fans the node out like `run --sweep` does."""
    order_id = _add(capsys, _graph(tmp_path, "swept", 1), "--sweep", "gen.seed=3,4,5")
    ran = _cli(capsys, "queue", "run", "--json")
    assert ran.code == 0, ran.err
    result = next(r for r in ran.json if r["order_id"] == order_id)
    assert result["status"] == "succeeded"
    assert len(result["nodes"]["gen"]["products"]) == 3
    bad = _cli(capsys, "queue", "add", _graph(tmp_path, "bad", 2), "--sweep", "nope.seed=1,2", "--json")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1
    assert _listing(capsys)["queue"] == []
