"""A link dropped on empty canvas opens the node search, filtered to node types that take it, and wires the pick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication, QLineEdit, QMenu

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.nodetypes import port_fits
from artfactory.services.library import Library
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.main_window import MainWindow
from tests.support.qt import drag, opened_window, when_popup_opens

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def pair() -> GraphDocument:
    return GraphDocument(name="t", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}}})


def open_tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.zoom_to_fit()
    tab.view.viewer.setFocus()
    return tab


def port_pos(view: GraphView, node_id: str, port: str, output: bool) -> QPoint:
    node = view.ng_nodes()[node_id]
    item = (node.outputs() if output else node.inputs())[port].view
    return view.viewer.mapFromScene(item.sceneBoundingRect().center())


def empty_spot(view: GraphView, start: QPoint) -> QPoint:
    """A point right of or below `start` with no node under it."""
    for offset in (QPoint(160, 0), QPoint(120, 140), QPoint(0, 200), QPoint(-120, 200)):
        if view.node_at(start + offset) is None:
            return start + offset
    raise AssertionError("no empty spot near the port")


def edges(tab: Any) -> set[tuple[str, str, str, str]]:
    return {(e.source, e.source_port, e.target, e.target_port) for e in tab.controller.doc.edges}


def test_a_link_dropped_on_empty_canvas_offers_compatible_nodes_and_wires(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, pair())
    view, graph = tab.view, tab.controller
    start = port_pos(view, "gen", "image", True)
    typed: list[str] = []

    def search(menu: QMenu) -> None:
        line = menu.findChild(QLineEdit)
        qtbot.keyClicks(line, "resiz")
        typed.append(line.text())
        qtbot.keyClick(line, Qt.Key.Key_Return)

    assert when_popup_opens(qtbot, lambda: drag(qtbot, view.viewer.viewport(), start, empty_spot(view, start)),
                            search), "the dropped link opened no search"
    offered = view.gestures.search_types
    registry = graph.registry
    takes_an_image = sorted(t.type for t in registry if any(port_fits("image", p.kind) for p in t.inputs))
    assert offered == takes_an_image
    assert "transform.resize" in offered and "prompt.text" not in offered and "provider.local" in offered
    new = [n for n in graph.doc.nodes if n.type == "transform.resize"]
    assert len(new) == 1
    assert ("gen", "image", new[0].id, "image") in edges(tab)
    assert view.selected_ids() == [new[0].id]
    graph.undo_stack.undo()  # one step: the node and its link go together
    assert [n.id for n in graph.doc.nodes] == ["prompt", "gen"] and edges(tab) == {("prompt", "text", "gen", "prompt")}


def test_a_link_dragged_back_from_an_input_offers_nodes_with_a_fitting_output(qtbot: Any, window: MainWindow) -> None:
    doc = pair()
    doc.edges = []
    tab = open_tab(window, doc)
    view, graph = tab.view, tab.controller
    start = port_pos(view, "gen", "prompt", False)  # an input, dragged back to where its source would be
    spot = start + QPoint(0, 220) if view.node_at(start + QPoint(0, 220)) is None else start + QPoint(-60, 260)

    def pick(menu: QMenu) -> None:
        line = menu.findChild(QLineEdit)
        qtbot.keyClicks(line, "lines")
        qtbot.keyClick(line, Qt.Key.Key_Return)

    assert when_popup_opens(qtbot, lambda: drag(qtbot, view.viewer.viewport(), start, spot), pick)
    offered = view.gestures.search_types
    assert offered and all(any(port_fits(p.kind, "text") for p in registry_type.outputs)
                           for registry_type in (graph.registry.get(t) for t in offered) if registry_type)
    assert "transform.resize" not in offered
    new = [n for n in graph.doc.nodes if n.type == "prompt.lines"]
    assert len(new) == 1 and (new[0].id, "text", "gen", "prompt") in edges(tab)


def test_the_plain_search_after_a_link_drop_offers_everything_and_wires_nothing(qtbot: Any,
                                                                              window: MainWindow) -> None:
    tab = open_tab(window, pair())
    view, graph = tab.view, tab.controller
    assert when_popup_opens(qtbot, lambda: view.gestures.show_link_search(QPoint(50, 50), "gen", "image", "out"),
                            lambda menu: None)  # dismissed without a pick
    assert len(view.gestures.search_types) < len(list(graph.registry))

    def search(menu: QMenu) -> None:
        line = menu.findChild(QLineEdit)
        qtbot.keyClicks(line, "resiz")
        qtbot.keyClick(line, Qt.Key.Key_Return)

    # The plain search (Tab, Ctrl+K, double-click); offscreen Qt leaves the closed popup the active window, so
    # it is opened directly rather than by a key.
    assert when_popup_opens(qtbot, lambda: view.show_search(QPoint(300, 250)), search)
    assert len(view.gestures.search_types) == len(list(graph.registry))
    assert edges(tab) == {("prompt", "text", "gen", "prompt")}  # the new resize node is not wired
    assert any(n.type == "transform.resize" for n in graph.doc.nodes)
