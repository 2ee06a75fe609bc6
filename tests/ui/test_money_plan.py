"""The Plan view and the cost badges on paid nodes: estimated, cached · free, unpriced; kept current after edits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import Qt

from artfactory.controllers.money_controller import DEBOUNCE_MS
from artfactory.services.library import Library
from artfactory.views.main_window import MainWindow
from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.qt import opened_window
from tests.ui.money_fixtures import (  # noqa: F401 - fixtures are found by name
    badge,
    fake,
    library,
    open_money_graph,
    wait_badge,
    wait_finished,
)


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:  # noqa: F811
    library.settings.confirm_above_usd = 100.0  # these tests run without the budget dialog
    with opened_window(qtbot, library) as win:
        yield win


def test_badges_show_the_estimate_and_follow_edits(qtbot: Any, window: MainWindow, fake: FakeReplicate) -> None:  # noqa: F811
    tab = open_money_graph(window, lines=4)
    wait_badge(qtbot, tab, "gen", "≈ $0.016")  # 4 prompt lines × 1 output × $0.004
    assert badge(tab, "p") == "" and badge(tab, "small") == ""  # free nodes carry no badge
    item = tab.view.node_item("gen")
    assert item is not None and "$0.004 per output" in item.cost_badge.toolTip()

    # An edit re-plans after a short pause (debounced), not per keystroke.
    tab.controller.set_param("p", "text", "one\ntwo")
    started = time.monotonic()
    wait_badge(qtbot, tab, "gen", "≈ $0.008")
    assert time.monotonic() - started >= DEBOUNCE_MS / 1000 * 0.9
    tab.controller.set_param("gen", "model", "acme/animator")  # a model nobody priced
    wait_badge(qtbot, tab, "gen", "unpriced")
    assert fake.accepted_creates == 0 and fake.requests == []  # planning sent nothing


def test_after_a_run_the_paid_node_is_cached_and_free(qtbot: Any, window: MainWindow,
                                                      fake: FakeReplicate) -> None:  # noqa: F811
    tab = open_money_graph(window, lines=2)
    wait_badge(qtbot, tab, "gen", "≈ $0.008")
    window.select_tab(tab)
    assert window.run_graph() is not None
    assert wait_finished(qtbot, window, tab) == "succeeded"
    assert fake.accepted_creates == 2
    wait_badge(qtbot, tab, "gen", "cached · free")


def test_plan_dialog_lists_actions_costs_and_unpriced_nodes(qtbot: Any, window: MainWindow,
                                                            fake: FakeReplicate) -> None:  # noqa: F811
    tab = open_money_graph(window, lines=3)
    window.select_tab(tab)
    assert window.menu_actions["plan"].isEnabled()
    window.menu_actions["plan"].trigger()
    dialog = window.plan_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 3, timeout=5000)
    rows = {row[0]: row for row in dialog.rows()}
    gen = next(row for name, row in rows.items() if name.endswith("(gen)") or name == "gen")
    assert gen[1:4] == ["execute", "yes", "≈ $0.012"]
    assert "replicate · acme/painter" in gen[4]
    prompt = next(row for name, row in rows.items() if "(p)" in name or name == "p")
    assert prompt[1:4] == ["execute", "no", "—"]
    assert "3 nodes execute (1 paid)" in dialog.heading.text() and "≈ $0.012" in dialog.heading.text()
    assert dialog.unpriced.text() == ""

    tab.controller.set_param("gen", "model", "acme/animator")  # the open dialog follows the edit
    qtbot.waitUntil(lambda: "gen" in dialog.unpriced.text(), timeout=5000)
    assert "without a price" in dialog.unpriced.text()
    assert fake.accepted_creates == 0


def test_plan_of_a_graph_with_problems_says_so(qtbot: Any, window: MainWindow,
                                               fake: FakeReplicate) -> None:  # noqa: F811
    tab = open_money_graph(window)
    tab.controller.delete(["p"])  # the paid node's required prompt is gone
    window.select_tab(tab)
    dialog = window.show_plan()
    assert dialog is not None
    qtbot.waitUntil(lambda: "problems" in dialog.heading.text(), timeout=5000)
    assert "gen: required input 'prompt'" in dialog.heading.text()
    assert not dialog.run_button.isEnabled()
    wait_badge(qtbot, tab, "gen", "")


def test_a_price_set_in_preferences_updates_the_badges(qtbot: Any, window: MainWindow,
                                                        fake: FakeReplicate) -> None:  # noqa: F811
    tab = open_money_graph(window, lines=4, model="acme/animator")
    wait_badge(qtbot, tab, "gen", "unpriced")
    page = window.show_preferences().prices
    editor = page.edit_price(new=True)
    assert editor is not None
    editor.provider.setCurrentIndex(editor.provider.findData("replicate"))
    editor.model.setText("acme/animator")
    editor.usd.setValue(0.01)
    editor.save()
    wait_badge(qtbot, tab, "gen", "≈ $0.04")


def test_a_finished_run_shows_its_recorded_cost_in_the_spend_panel(qtbot: Any, window: MainWindow,
                                                                   fake: FakeReplicate) -> None:  # noqa: F811
    panel = window.show_spend()
    qtbot.waitUntil(lambda: panel.data is not None, timeout=5000)
    assert panel.total.text() == "This month: $0.00"
    tab = open_money_graph(window, lines=3)
    window.select_tab(tab)
    assert window.run_graph() is not None
    assert wait_finished(qtbot, window, tab) == "succeeded"
    # The ledger recorded 3 outputs × $0.004; the panel re-reads it once the order has finished.
    qtbot.waitUntil(lambda: panel.total.text() == "This month: $0.012", timeout=5000)
    assert panel.rows("by_model") == [("acme/painter", "$0.012")]
    assert panel.rows("by_provider") == [("replicate", "$0.012")]


def test_run_from_the_plan_dialog(qtbot: Any, window: MainWindow, fake: FakeReplicate) -> None:  # noqa: F811
    assert window.menu_actions["plan"] in window.toolbar.actions()
    assert window.menu_actions["plan"].shortcut().toString() == "Ctrl+Shift+P"
    tab = open_money_graph(window, lines=1)
    window.select_tab(tab)
    dialog = window.show_plan()
    assert dialog is not None
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=5000)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert wait_finished(qtbot, window, tab) == "succeeded"
    assert fake.accepted_creates == 1
    qtbot.waitUntil(lambda: window.plan_dialog is None, timeout=2000)  # it closed (and was deleted)
