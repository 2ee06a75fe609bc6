"""The queue in the app: Run on a running graph queues, the window works through the queue, the Runs panel shows it."""

from __future__ import annotations

from typing import Any

from artfactory.engine.document import GraphDocument
from artfactory.models import Order
from artfactory.services.library import Library
from artfactory.services.queue import Queue
from artfactory.views.main_window import MainWindow
from artfactory.views.panels.runs_panel import ORDER_ROLE
from tests.ui.test_main_window import local_graph


def _status(library: Library, order_id: str) -> str:
    with library.db.session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return str(order.status)


def _queued_ids(library: Library) -> list[str]:
    return [e.order_id for e in Queue(library).entries()]


def _named(name: str, seed: int) -> GraphDocument:
    doc = local_graph()
    doc.name = name
    gen = doc.node("gen")
    assert gen is not None
    gen.params["seed"] = seed
    return doc


def test_run_on_a_running_graph_queues_and_then_runs(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph(latency_ms=1500)))
    graph = tab.controller
    first = window.run_graph()
    assert first is not None and graph.run_state.running
    second = window.run_graph()  # refused before the queue: "already running"
    assert second is not None and second != first
    assert "Queued" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    library = window.app.library
    assert _status(library, second) == "queued" and _queued_ids(library) == [second]
    section = window.runs_panel.queue_section
    assert section.list.count() == 1 and section.badge.text() == "1"
    assert section.list.item(0).data(ORDER_ROLE) == second  # type: ignore[union-attr]
    # It waits for the graph's run (one order per graph at a time), then runs on the same canvas.
    assert graph.run_state.order_id == first
    qtbot.waitUntil(lambda: graph.run_state.order_id == second, timeout=30_000)
    assert _status(library, first) == "succeeded"
    qtbot.waitUntil(lambda: _status(library, second) == "succeeded", timeout=30_000)
    qtbot.waitUntil(lambda: not graph.run_state.running, timeout=5_000)
    assert graph.run_state.order_status == "succeeded"
    assert section.list.count() == 0 and section.badge.text() == "0"
    assert window.app.runs.orders[second].status == "succeeded"


def test_panel_shows_cli_changes_reorders_removes_and_pauses(qtbot: Any, window: MainWindow) -> None:
    library = window.app.library
    other = Queue(library)  # as `artfactory queue add` does it, from outside the window
    other.set_paused(True)
    ids = [other.add(other.plan(_named(f"order {i}", 40 + i)), project_id=library.project_id()) for i in range(3)]
    section = window.runs_panel.queue_section
    qtbot.waitUntil(lambda: section.list.count() == 3, timeout=2_500)  # the window polls the library
    assert section.badge.text() == "3" and section.title.text() == "Queue (paused)"
    assert section.pause_button.text() == "Resume"
    texts = [item.text() for i in range(3) if (item := section.list.item(i)) is not None]
    assert texts == ["1. order 0", "2. order 1", "3. order 2"]
    assert not section.up_button.isEnabled() and not section.remove_button.isEnabled()

    section.list.setCurrentRow(0)
    assert not section.up_button.isEnabled() and section.down_button.isEnabled()
    section.down_button.click()
    assert _queued_ids(library) == [ids[1], ids[0], ids[2]]
    assert section.selected() == ids[0] and section.list.currentRow() == 1  # the selection follows the order
    section.up_button.click()
    assert _queued_ids(library) == [ids[0], ids[1], ids[2]]

    # A drop: the list's new order is written to the library.
    moved = section.list.takeItem(2)
    section.list.insertItem(0, moved)
    section.list.reordered.emit(section.list.order_ids())
    assert _queued_ids(library) == [ids[2], ids[0], ids[1]]
    assert section.list.item(0).text() == "1. order 2"  # type: ignore[union-attr]

    section.list.setCurrentRow(1)
    section.remove_button.click()
    assert _queued_ids(library) == [ids[2], ids[1]]
    assert section.list.count() == 2 and section.badge.text() == "2"
    with library.db.session() as s:
        assert s.get(Order, ids[0]) is None  # removed: it never ran

    other.remove(ids[1])  # the CLI takes one out: the panel follows within the poll
    qtbot.waitUntil(lambda: section.list.count() == 1, timeout=2_500)

    section.pause_button.click()  # resume: the window takes what is left
    assert not other.paused()
    qtbot.waitUntil(lambda: _status(library, ids[2]) == "succeeded", timeout=30_000)
    qtbot.waitUntil(lambda: section.list.count() == 0, timeout=2_500)
    assert section.title.text() == "Queue" and section.pause_button.text() == "Pause"
    assert window.app.runs.orders[ids[2]].status == "succeeded"  # it shows in the Runs tree


def test_pausing_keeps_queued_orders_waiting(qtbot: Any, window: MainWindow) -> None:
    library = window.app.library
    section = window.runs_panel.queue_section
    section.pause_button.click()
    assert Queue(library).paused() and section.title.text() == "Queue (paused)"
    queue = Queue(library)
    order_id = queue.add(queue.plan(_named("waits", 77)), project_id=library.project_id())
    qtbot.waitUntil(lambda: section.list.count() == 1, timeout=2_500)
    qtbot.wait(1_200)  # a poll or more later it still waits
    assert _status(library, order_id) == "queued"
    section.pause_button.click()
    qtbot.waitUntil(lambda: _status(library, order_id) == "succeeded", timeout=30_000)


def test_closing_cancels_runs_but_leaves_the_queue_for_later(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph(latency_ms=30_000)))
    first = window.run_graph()
    second = window.run_graph()
    assert first and second
    library = window.app.library
    window.app.runs.cancel_all()  # what closing the window does
    qtbot.waitUntil(lambda: _status(library, first) == "canceled", timeout=5_000)
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=5_000)
    qtbot.wait(1_200)  # the graph is free, a poll or more passes: the closing window takes nothing more
    assert _status(library, second) == "queued" and _queued_ids(library) == [second]


def test_queued_orders_are_in_the_queue_not_the_history(qtbot: Any, window: MainWindow) -> None:
    library = window.app.library
    queue = Queue(library)
    queue.set_paused(True)
    order_id = queue.add(queue.plan(_named("waiting", 90)), project_id=library.project_id())
    assert order_id not in window.app.runs.load_history()  # a removed queued order must not linger there
    queue.remove(order_id)
    assert order_id not in window.app.runs.orders
