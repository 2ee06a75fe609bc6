"""Bypass and mute on the canvas: Ctrl+B / Ctrl+M, the node menu and the toolbar; drawn, undoable, saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QContextMenuEvent
from PyQt6.QtWidgets import QApplication, QMenu, QToolBar

from artfactory.engine import document as graph_document
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window, while_popup_open

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:  # shortcuts reach only the active window
        yield win


def chain() -> GraphDocument:
    return GraphDocument(name="chain", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
        NodeSpec("small", "transform.resize", {"width": 32, "height": 32}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}, "small": {"pos": [640, 0]}}})


def open_tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.zoom_to_fit()
    tab.view.viewer.setFocus()
    return tab


def modes(tab: Any) -> dict[str, str]:
    return {n.id: n.mode for n in tab.controller.doc.nodes}


def item(view: GraphView, node_id: str) -> Any:
    return view.node_item(node_id)


def test_ctrl_b_bypasses_the_selection_draws_it_and_undo_restores(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    view.select(["small"])
    qtbot.keyClick(view.viewer, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert modes(tab) == {"prompt": "normal", "gen": "normal", "small": "bypass"}
    drawn = item(view, "small")
    assert drawn.mode == "bypass" and drawn.opacity() < 1.0
    assert drawn.mode_badge.isVisible() and drawn.mode_badge.text == "BYPASS"
    assert item(view, "gen").mode == "normal" and not item(view, "gen").mode_badge.isVisible()
    assert graph.undo_stack.undoText() == "Bypass 1 node"

    qtbot.keyClick(view.viewer, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)  # again: back to normal
    assert modes(tab)["small"] == "normal" and item(view, "small").opacity() == 1.0
    graph.undo_stack.undo()
    assert modes(tab)["small"] == "bypass"
    graph.undo_stack.undo()
    assert modes(tab)["small"] == "normal"
    assert not item(view, "small").mode_badge.isVisible() and item(view, "small").mode == "normal"


def test_ctrl_m_mutes_several_nodes_in_one_undo_step(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    view.select(["gen", "small"])
    before = graph.undo_stack.count()
    qtbot.keyClick(view.viewer, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert modes(tab) == {"prompt": "normal", "gen": "mute", "small": "mute"}
    assert graph.undo_stack.count() == before + 1
    for node_id in ("gen", "small"):
        assert item(view, node_id).mode_badge.text == "MUTED" and item(view, node_id).opacity() <= 0.5
    # A mixed selection is muted as a whole, not flipped node by node.
    view.select(["prompt", "gen"])
    window.menu_actions["mute"].trigger()  # the toolbar's and the Edit menu's action
    assert modes(tab) == {"prompt": "mute", "gen": "mute", "small": "mute"}
    graph.undo_stack.undo()
    graph.undo_stack.undo()
    assert set(modes(tab).values()) == {"normal"}
    assert not any(item(view, n).mode_badge.isVisible() for n in ("prompt", "gen", "small"))


def test_bypass_and_mute_are_in_the_toolbar_and_the_canvas_menu(window: MainWindow) -> None:
    actions = window.menu_actions
    assert actions["bypass"].shortcut().toString() == "Ctrl+B"
    assert actions["mute"].shortcut().toString() == "Ctrl+M"
    toolbar = window.findChild(QToolBar, "MainToolbar")
    assert actions["bypass"] in toolbar.actions() and actions["mute"] in toolbar.actions()
    tab = open_tab(window, chain())
    canvas_menu = tab.view.context_menu().actions()
    assert actions["bypass"] in canvas_menu and actions["mute"] in canvas_menu


def test_the_node_menu_toggles_bypass_and_shows_the_state(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    view = tab.view
    rect = view.node_item("gen").sceneBoundingRect()
    at = view.viewer.mapFromScene(rect.center().x(), rect.bottom() - 8)
    viewport = view.viewer.viewport()

    def right_click() -> None:
        QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at,
                                                           viewport.mapToGlobal(at)))

    checked: list[bool] = []

    def bypass(menu: QMenu) -> None:
        action = next(a for a in menu.actions() if a.objectName() == "node_bypass")
        checked.append(action.isChecked())
        action.trigger()

    assert while_popup_open(qtbot, right_click, bypass)
    assert modes(tab)["gen"] == "bypass"
    assert while_popup_open(qtbot, right_click, bypass)
    assert checked == [False, True] and modes(tab)["gen"] == "normal"


def test_modes_are_saved_in_the_document_and_drawn_after_loading(window: MainWindow, tmp_path: Path) -> None:
    tab = open_tab(window, chain())
    tab.controller.toggle_mode(["gen"], "mute")
    tab.controller.toggle_mode(["small"], "bypass")
    path = tab.controller.save(tmp_path / "modes.json")
    saved = graph_document.load(path)
    assert {n.id: n.mode for n in saved.nodes} == {"prompt": "normal", "gen": "mute", "small": "bypass"}
    again = open_tab(window, saved)
    assert item(again.view, "gen").mode_badge.text == "MUTED"
    assert item(again.view, "small").mode_badge.text == "BYPASS"
    assert item(again.view, "prompt").mode == "normal"


def test_a_duplicated_bypassed_node_stays_bypassed(window: MainWindow) -> None:
    tab = open_tab(window, chain())
    tab.controller.toggle_mode(["small"], "bypass")
    (copy_id,) = tab.view.duplicate(["small"])
    assert tab.controller.node_mode(copy_id) == "bypass"


def test_run_statuses_bypassed_and_muted_colour_the_node(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    graph, view = tab.controller, tab.view
    graph.run_state.update("gen", status="muted")
    graph.run_state.update("small", status="bypassed")
    assert item(view, "gen").status == "muted" and item(view, "gen").status_label() == "muted"
    assert item(view, "small").status == "bypassed"


def test_toggle_with_nothing_selected_says_so(window: MainWindow) -> None:
    tab = open_tab(window, chain())
    tab.view.select([])
    messages: list[str] = []
    tab.controller.message.connect(messages.append)
    window.menu_actions["bypass"].trigger()
    assert set(modes(tab).values()) == {"normal"}
    assert messages == ["Select the nodes to bypass first"]
