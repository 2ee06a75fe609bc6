"""The budget guard on Run: over the threshold, past the monthly budget or unpriced → a dialog; Cancel sends
nothing, Run anyway runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel

from artfactory.models import Order
from artfactory.services.library import Library
from artfactory.views.dialogs.plan_dialog import BudgetDialog
from artfactory.views.main_window import MainWindow
from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.money import Item, seed_orders
from tests.support.qt import opened_window
from tests.ui.money_fixtures import fake, library, open_money_graph, wait_finished  # noqa: F401


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:  # noqa: F811
    with opened_window(qtbot, library) as win:
        yield win


def _orders(library: Library) -> int:  # noqa: F811
    with library.db.session() as db:
        return db.query(Order).count()


def _asked(window: MainWindow, graph_lines: int = 4, model: str = "acme/painter") -> BudgetDialog:
    tab = open_money_graph(window, lines=graph_lines, model=model)
    window.select_tab(tab)
    assert window.run_graph() is None  # not started: it asks first
    dialog = window.budget_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_over_the_threshold_cancel_sends_nothing(qtbot: Any, window: MainWindow, library: Library,  # noqa: F811
                                                 fake: FakeReplicate) -> None:  # noqa: F811
    window.app.update_settings(confirm_above_usd=0.01, budget_monthly_usd=0.0)
    dialog = _asked(window)  # ≈ $0.016 > $0.01
    assert "≈ $0.016" in dialog.findChild(QLabel, "BudgetHeading").text()
    assert "above the $0.01 you asked to confirm" in dialog.reasons.text()
    assert dialog.cancel_button.isDefault()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    assert fake.accepted_creates == 0 and fake.create_requests() == []
    assert _orders(library) == 0


def test_run_anyway_runs(qtbot: Any, window: MainWindow, library: Library,  # noqa: F811
                         fake: FakeReplicate) -> None:  # noqa: F811
    window.app.update_settings(confirm_above_usd=0.005)
    dialog = _asked(window, graph_lines=2)  # ≈ $0.008
    tab = window.current_tab()
    assert tab is not None
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert wait_finished(qtbot, window, tab) == "succeeded"
    assert fake.accepted_creates == 2 and _orders(library) == 1


def test_under_the_threshold_runs_without_asking(qtbot: Any, window: MainWindow,
                                                 fake: FakeReplicate) -> None:  # noqa: F811
    window.app.update_settings(confirm_above_usd=1.0, budget_monthly_usd=0.0)
    tab = open_money_graph(window, lines=2)
    window.select_tab(tab)
    assert window.run_graph() is not None and window.budget_dialog is None
    assert wait_finished(qtbot, window, tab) == "succeeded"
    assert fake.accepted_creates == 2


def test_past_the_monthly_budget_asks(qtbot: Any, window: MainWindow, library: Library,  # noqa: F811
                                      fake: FakeReplicate) -> None:  # noqa: F811
    now = datetime.now(UTC).replace(tzinfo=None)
    seed_orders(library, [[Item(4.99, finished=now)]])  # spent this month already
    window.app.update_settings(confirm_above_usd=1.0, budget_monthly_usd=5.0)
    dialog = _asked(window)  # $4.99 + ≈ $0.016 > $5
    assert "monthly budget of $5.00" in dialog.reasons.text() and "$4.99 so far" in dialog.reasons.text()
    dialog.reject()
    assert fake.accepted_creates == 0


def test_unpriced_paid_nodes_ask_while_a_budget_is_set(qtbot: Any, window: MainWindow,
                                                       fake: FakeReplicate) -> None:  # noqa: F811
    window.app.update_settings(confirm_above_usd=1.0, budget_monthly_usd=50.0)
    dialog = _asked(window, model="acme/animator")  # nobody priced it: the estimate is $0 plus an unknown
    assert "1 node will bill but has no price (gen)" in dialog.reasons.text()
    rows = [dialog.tree.topLevelItem(i).text(3) for i in range(dialog.tree.topLevelItemCount())]
    assert "unpriced" in rows
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Esc is Cancel
    qtbot.wait(200)
    assert not dialog.isVisible() and fake.accepted_creates == 0



def test_unpriced_paid_nodes_run_unasked_without_a_monthly_budget(qtbot: Any, window: MainWindow,
                                                                 fake: FakeReplicate) -> None:  # noqa: F811
    window.app.update_settings(confirm_above_usd=1.0, budget_monthly_usd=0.0)
    tab = open_money_graph(window, lines=1, model="acme/animator")
    window.select_tab(tab)
    assert window.run_graph() is not None and window.budget_dialog is None
    assert wait_finished(qtbot, window, tab) == "succeeded"
    assert fake.accepted_creates == 1
