"""A library whose disk fills up mid-run: the order ends with a clear message, nothing aborts, nothing is lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QTimer
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from artfactory.controllers.app_controller import AppController
from artfactory.engine import executor as executor_module
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.executor import OrderRunner
from artfactory.engine.nodetypes import NodeType, Param, Port
from artfactory.engine.registry import NodeRegistry
from artfactory.models import Order
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.workers.headless import HeadlessSession
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.providers import provider_settings
from tests.support import toy_nodes
from tests.support.cli import GRAPHS, ROOT, cli_env, run_cli

WRITES = ("start_order", "mark_cached", "mark_running", "set_progress", "set_remote", "mark_items", "finish_item",
          "finish_order")


def disk_full() -> OperationalError:
    """What SQLAlchemy raises when SQLite cannot grow the database or its WAL."""
    return OperationalError("UPDATE order_items SET progress=?", {},
                            sqlite3.OperationalError("database or disk is full"))


class FullDisk:
    """Lets the first `after` writes through, then fails OrderStore writes the way a full disk does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Any, methods: tuple[str, ...] = WRITES,
                 after: int = 0, failures: int | None = None) -> None:
        self.after, self.failures = after, failures
        self.healed = False  # space was freed: writes go through again
        self.calls: list[str] = []
        self.failed: list[str] = []
        for name in methods:
            monkeypatch.setattr(target, name, self._wrap(name, getattr(target, name)))

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            full = not self.healed and len(self.calls) > self.after and (
                self.failures is None or len(self.failed) < self.failures)
            if full:
                self.failed.append(name)
                raise disk_full()
            return original(*args, **kwargs)

        return write


def _ticking(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    toy_nodes.CALLS.append(ctx.node_id)
    ticks = params["ticks"]
    for tick in range(ticks):
        ctx.progress(100.0 * tick / ticks, f"tick {tick}")
        ctx.sleep(0.02)
    return {"value": [float(ticks)]}


TICKING = NodeType(type="toy.ticking", title="Ticking", run=_ticking, inputs=(Port("a", "number", optional=True),),
                   outputs=(Port("value", "number"),), params=(Param("ticks", "int", 10),), provider="toy")


def registry() -> NodeRegistry:
    return NodeRegistry([toy_nodes.SOURCE, toy_nodes.SUM, TICKING])


def graph(ticks: int = 10) -> GraphDocument:
    """s feeds a ticking node (progress writes) and a failing branch (mark_items); j waits for the ticker."""
    return GraphDocument(nodes=[
        NodeSpec("s", "toy.source"), NodeSpec("t", "toy.ticking", {"ticks": ticks}), NodeSpec("j", "toy.sum"),
        NodeSpec("bad", "toy.sum", {"fail": "boom"}), NodeSpec("after", "toy.sum"),
    ], edges=[EdgeSpec("s", "value", "t", "a"), EdgeSpec("t", "value", "j", "a"),
              EdgeSpec("s", "value", "bad", "a"), EdgeSpec("bad", "value", "after", "a")])


@pytest.fixture
def session(library_home: Path) -> Iterator[HeadlessSession]:
    library = Library.open(library_home, registry=registry())
    toy_nodes.CALLS.clear()
    try:
        yield HeadlessSession(library, limits={"toy": 8})
    finally:
        library.close()


def run(session: HeadlessSession, doc: GraphDocument) -> tuple[OrderRunner, list[tuple[str, str]]]:
    """Run to the end; a run that would hang fails the test after 20 s instead of blocking the suite."""
    finished: list[tuple[str, str]] = []
    session.signals.order_finished.connect(lambda order_id, status: finished.append((order_id, status)))
    runners: list[OrderRunner] = []
    failsafe = QTimer()
    failsafe.setSingleShot(True)

    def on_runner(runner: OrderRunner) -> None:
        runners.append(runner)
        failsafe.timeout.connect(lambda: runner.finished.emit(runner.order_id, "hung"))
        failsafe.start(20_000)

    try:
        session.run(session.plan(doc), project_id=session.library.project_id(), on_runner=on_runner)
    finally:
        failsafe.stop()
    return runners[0], finished


def stored_order(library: Library, order_id: str) -> dict[str, Any]:
    with library.db.session() as db:
        order = db.get(Order, order_id)
        assert order is not None
        return {"status": order.status, "error": order.error, **lineage.run_result(library, db, order_id)}


# --- the order ends, whichever write fails ------------------------------------------------------------------


@pytest.mark.parametrize("method", [m for m in WRITES if m != "set_remote"])
def test_a_failed_write_anywhere_ends_the_order_with_the_disk_message(
        session: HeadlessSession, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    store = session.executor.store
    full = FullDisk(monkeypatch, store, (method,))
    runner, finished = run(session, graph())
    message = f"the library's disk is full: {session.library.home}"
    assert full.failed, f"{method} was never called"
    assert runner.storage_error == message
    assert finished == [(runner.order_id, runner.final_status)]  # the CLI prints its JSON, the window hears it
    assert not [n for n, s in runner.status.items() if s in ("pending", "running")]
    if method == "finish_order":  # not even the order's end could be written: `resume` will find it
        assert runner.final_status == "interrupted"
        assert stored_order(session.library, runner.order_id)["status"] == "running"
    else:
        assert runner.final_status == "failed"
        stored = stored_order(session.library, runner.order_id)
        assert stored["status"] == "failed" and stored["error"].startswith(message)
    report = runner.report(stored_order(session.library, runner.order_id))
    assert report["status"] == runner.final_status and report["error"] == message
    assert {n: v["status"] for n, v in report["nodes"].items()} == runner.status


def test_a_failed_progress_write_stops_the_running_node_and_skips_the_rest(
        session: HeadlessSession, monkeypatch: pytest.MonkeyPatch) -> None:
    FullDisk(monkeypatch, session.executor.store, ("set_progress",))
    started = time.monotonic()
    runner, _ = run(session, graph(ticks=500))  # ten seconds of ticking if nobody stopped it
    assert time.monotonic() - started < 3
    message = f"the library's disk is full: {session.library.home}"
    result = stored_order(session.library, runner.order_id)
    nodes = {n: (v["status"], v["error"]) for n, v in result["nodes"].items()}
    assert nodes["t"] == ("failed", f"stopped: {message}")
    assert nodes["j"] == ("skipped", f"not run: {message}")
    assert result["status"] == "failed" and result["error"].startswith(message)
    assert "j" not in toy_nodes.CALLS


def test_when_nothing_can_be_written_the_order_is_interrupted_and_resume_finishes_it(
        session: HeadlessSession, monkeypatch: pytest.MonkeyPatch) -> None:
    library = session.library
    full = FullDisk(monkeypatch, session.executor.store, after=1)  # start_order gets through, nothing else
    runner, _ = run(session, graph())
    assert full.calls[0] == "start_order" and runner.final_status == "interrupted"
    full.healed = True
    toy_nodes.CALLS.clear()
    store = OrderStore(library)
    with library.db.engine.begin() as conn:  # the process that ran it is gone
        conn.execute(update(Order).where(Order.id == runner.order_id).values(pid=2**22 + 12345))
    assert store.recover_interrupted() == [runner.order_id]
    items = store.items(runner.order_id)
    status = HeadlessSession(library, limits={"toy": 8}).resume(runner.order_id, session.plan(graph()),
                                                                library.project_id(), items)
    assert status == "partial"  # the "bad" branch fails as it always did; everything else is done
    result = stored_order(library, runner.order_id)
    assert {n: v["status"] for n, v in result["nodes"].items()} == {
        "s": "executed", "t": "executed", "j": "executed", "bad": "failed", "after": "skipped"}


def test_files_of_a_node_that_cannot_be_recorded_are_removed(library_home: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    library = Library.open(library_home)
    try:
        session = HeadlessSession(library)
        FullDisk(monkeypatch, session.executor.store, ("finish_item",), after=1)  # the prompt gets recorded
        doc = GraphDocument(nodes=[NodeSpec("p", "prompt.text", {"text": "a fox"}),
                                   NodeSpec("gen", "provider.local", {"seed": 1, "width": 64, "height": 64}),
                                   NodeSpec("small", "transform.resize", {"width": 16, "height": 16})],
                            edges=[EdgeSpec("p", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")])
        runner, _ = run(session, doc)
        session.executor.wait_idle(10_000)
    finally:
        library.close()
    assert runner.final_status == "failed"
    assert runner.errors["gen"] == f"could not be recorded: the library's disk is full: {library.home}"
    assert runner.status == {"p": "executed", "gen": "failed", "small": "skipped"}
    assert not [p for p in (library_home / "products").rglob("*") if p.is_file()]


# --- a paid remote job whose id cannot be stored ---------------------------------------------------------------


@pytest.fixture
def replicate_session(library_home: Path, fake_replicate_server: FakeReplicate, replicate_key: str,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[HeadlessSession]:
    monkeypatch.setattr(executor_module, "REMOTE_WRITE_RETRY_MS", (10, 20, 40, 80))  # same steps, shorter
    library = Library.open(library_home, settings=provider_settings(replicate=fake_replicate_server))
    try:
        yield HeadlessSession(library)
    finally:
        library.close()


def _replicate_graph() -> GraphDocument:
    return GraphDocument(nodes=[NodeSpec("p", "prompt.text", {"text": "a red fox"}),
                                NodeSpec("gen", "provider.replicate",
                                         {"model": "acme/painter", "input": {"num_outputs": 1}, "seed": 1})],
                         edges=[EdgeSpec("p", "text", "gen", "prompt")])


def test_a_job_id_that_can_never_be_stored_cancels_the_remote_job(
        replicate_session: HeadlessSession, fake_replicate_server: FakeReplicate,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_replicate_server
    fake.run_s = 30.0
    full = FullDisk(monkeypatch, replicate_session.executor.store, ("set_remote",))
    started = time.monotonic()
    runner, _ = run(replicate_session, _replicate_graph())
    assert time.monotonic() - started < 5
    assert full.failed == ["set_remote"] * 5  # the first attempt and four retries
    [job_id] = fake.predictions
    assert fake.accepted_creates == 1
    assert len(fake.cancel_requests()) == 1 and fake.predictions[job_id].canceled_at is not None
    home = replicate_session.library.home
    assert runner.errors["gen"] == (f"Replicate prediction {job_id} was started but its id could not be stored "
                                    f"(the library's disk is full: {home}); it was canceled")
    assert runner.remote_jobs["gen"]["job_id"] == job_id  # never lost, even unwritten
    assert runner.final_status == "failed"
    assert stored_order(replicate_session.library, runner.order_id)["nodes"]["gen"]["status"] == "failed"


def test_a_job_id_stored_on_a_retry_runs_on_with_one_create(
        replicate_session: HeadlessSession, fake_replicate_server: FakeReplicate,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.2
    full = FullDisk(monkeypatch, replicate_session.executor.store, ("set_remote",), failures=2)
    runner, _ = run(replicate_session, _replicate_graph())
    assert full.failed == ["set_remote", "set_remote"] and full.calls == ["set_remote"] * 3
    assert runner.final_status == "succeeded" and runner.storage_error is None
    [job_id] = fake.predictions
    assert fake.accepted_creates == 1 and fake.cancel_requests() == []
    item = replicate_session.executor.store.items(runner.order_id)["gen"]
    assert item["status"] == "executed" and item["remote_job_id"] == job_id


# --- the CLI ------------------------------------------------------------------------------------------------


def _one_error_line(err: str, message: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"artfactory: error: {message}"], err


def test_run_json_on_a_disk_that_fills_mid_run_exits_1_with_the_document(
        library_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    full = FullDisk(monkeypatch, OrderStore, ("finish_item",), after=1)  # the prompt is recorded, the picture not
    result = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    message = f"the library's disk is full: {library_home.resolve()}"
    assert result.code == 1 and full.failed == ["finish_item"]
    data = result.json
    assert data["status"] == "failed" and data["error"] == message
    assert data["nodes"]["prompt"]["status"] == "executed"
    assert data["nodes"]["gen"] == {"status": "failed", "error": f"could not be recorded: {message}",
                                    "products": []}
    assert {data["nodes"][n]["status"] for n in ("small", "keep")} == {"skipped"}
    _one_error_line(result.err, message)


def test_run_on_a_full_disk_before_the_order_exists_is_one_line(
        library_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    FullDisk(monkeypatch, OrderStore, ("create_order",))
    result = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    message = f"the library's disk is full: {library_home.resolve()}"
    assert result.code == 1 and result.json == {"error": message}
    _one_error_line(result.err, message)


def test_orders_list_and_resume_on_a_full_disk(library_home: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").code == 0
    FullDisk(monkeypatch, OrderStore, ("recover_interrupted",))
    message = f"the library's disk is full: {library_home.resolve()}"
    listed = run_cli(capsys, "orders", "list", "--json")
    assert listed.code == 0 and len(listed.json["orders"]) == 1  # reading needs no room
    assert listed.err.strip() == f"artfactory: warning: orders of ended runs not marked interrupted: {message}"
    resumed = run_cli(capsys, "resume", "--json")
    assert resumed.code == 1 and resumed.json == {"error": message}
    _one_error_line(resumed.err, message)


SLOT_RAISES = """
import sys
from pathlib import Path
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.support.toy_nodes import toy_registry

library = Library.open(Path(sys.argv[1]), registry=toy_registry())
session = HeadlessSession(library)

def broken_listener(order_id, node_id):
    raise RuntimeError("a listener broke")

session.signals.node_started.connect(broken_listener)
doc = GraphDocument(nodes=[NodeSpec("s", "toy.source"), NodeSpec("t", "toy.sum")],
                    edges=[EdgeSpec("s", "value", "t", "a")])
_, status = session.run(session.plan(doc), project_id=library.project_id())
print(status)
"""


def test_an_error_in_a_slot_during_a_headless_run_does_not_abort_the_process(tmp_path: Path) -> None:
    # Without an excepthook PyQt6 answers an exception in a slot with abort() (exit -6, no output).
    home = tmp_path / "lib"
    proc = subprocess.run([sys.executable, "-c", SLOT_RAISES, str(home)], env=cli_env(home), cwd=str(ROOT),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "succeeded"
    assert "internal error during the run: RuntimeError: a listener broke" in proc.stderr


# --- the window ---------------------------------------------------------------------------------------------


def test_the_window_shows_the_disk_error_and_stays_up(qtbot: Any, library_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    library = Library.open(library_home, registry=registry())
    try:
        app = AppController(library)
        runs = app.runs
        messages: list[str] = []
        runs.message.connect(messages.append)
        message = f"the library's disk is full: {library.home}"

        full = FullDisk(monkeypatch, OrderStore, ("create_order",))
        first = app.new_graph(graph())
        assert runs.run(first) is None
        assert messages[-1] == f"Not started: {message}"
        full.healed = True

        FullDisk(monkeypatch, runs.executor.store, ("set_progress",))
        second = app.new_graph(graph(ticks=200))
        assert runs.run(second) is not None
        qtbot.waitUntil(lambda: not second.run_state.running, timeout=10_000)
        assert second.run_state.order_status == "failed"
        assert messages[-1].endswith(f"failed: {message}")
        runs.executor.wait_idle(10_000)
    finally:
        library.close()

