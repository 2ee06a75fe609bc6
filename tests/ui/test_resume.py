"""Orders an earlier exit left open are finished from the window, not only with `artfactory resume`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from artfactory.models import Order
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window
from tests.ui.test_main_window import local_graph


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def left_open_by_a_dead_process(window: MainWindow) -> str:
    """An order as a killed process leaves it: `running`, owned by a pid that is gone."""
    runs = window.app.runs
    plan = runs.executor.plan(local_graph())
    store = OrderStore(window.app.library)
    order_id = store.create_order(plan, project_id=window.app.library.project_id())
    dead = subprocess.Popen(["true"])
    dead.wait()
    with window.app.library.db.engine.begin() as conn:
        conn.execute(update(Order).where(Order.id == order_id).values(status="running", pid=dead.pid))
    return order_id


def order_status(library: Library, order_id: str) -> str:
    with library.db.session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return str(order.status)


def test_the_resume_button_finishes_an_interrupted_order_in_the_window(qtbot: Any, window: MainWindow) -> None:
    order_id = left_open_by_a_dead_process(window)
    interrupted = OrderStore(window.app.library).recover_interrupted()  # what start-up does
    assert interrupted == [order_id]
    window.offer_resume(len(interrupted))
    message = window.statusBar().currentMessage()  # type: ignore[union-attr]
    assert "1 order was interrupted" in message and "artfactory" not in message  # a GUI place, not a command
    assert window.resume_button.isVisible()

    window.resume_button.click()
    assert not window.resume_button.isVisible()
    qtbot.waitUntil(lambda: order_status(window.app.library, order_id) == "succeeded", timeout=30_000)
    info = window.app.runs.orders[order_id]
    qtbot.waitUntil(lambda: info.status == "succeeded", timeout=5_000)
    assert {n.status for n in info.nodes.values()} == {"executed"}
    tree = window.runs_panel.tree
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    assert sum(1 for r in rows if r is not None and order_id in r.toolTip(0)) == 1  # the live row, no history twin
    assert window.app.runs.resume_interrupted() == []
    window.resume_interrupted()
    assert "No interrupted orders" in window.statusBar().currentMessage()  # type: ignore[union-attr]


def test_resume_keeps_what_had_finished(qtbot: Any, window: MainWindow) -> None:
    # A first run leaves every node in the cache; the interrupted order then finishes without executing anything.
    runs = window.app.runs
    tab = window.add_graph(window.app.new_graph(local_graph()))
    assert runs.run(tab.controller) is not None
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)
    order_id = left_open_by_a_dead_process(window)
    started = runs.resume_interrupted()
    assert started == [order_id]
    qtbot.waitUntil(lambda: order_status(window.app.library, order_id) == "succeeded", timeout=30_000)
    assert {n.status for n in runs.orders[order_id].nodes.values()} == {"cached"}
