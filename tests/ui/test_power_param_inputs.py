"""Parameters as inputs on the canvas: "Convert to input" in the Properties panel and the node menu, and back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtGui import QContextMenuEvent
from PyQt6.QtWidgets import QApplication, QMenu

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window, while_popup_open

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def graph_doc() -> GraphDocument:
    return GraphDocument(name="t", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
        NodeSpec("num", "value.number", {"value": 11}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [400, 0]}, "num": {"pos": [0, 300]}}})


def open_tab(win: MainWindow) -> Any:
    tab = win.add_graph(win.app.new_graph(graph_doc()))
    QApplication.processEvents()
    tab.view.zoom_to_fit()
    tab.view.select(["gen"])
    QApplication.processEvents()
    return tab


def ports(tab: Any, node_id: str) -> list[str]:
    return list(tab.view.ng_nodes()[node_id].inputs())


def test_convert_to_input_in_the_properties_panel_adds_a_port_and_back(window: MainWindow) -> None:
    tab = open_tab(window)
    graph, row = tab.controller, window.properties.rows["seed"]
    assert row.as_input.isVisible() and not row.as_input.isChecked()
    row.as_input.click()
    assert graph.doc.node("gen").param_inputs == ["seed"]
    assert "param:seed" in ports(tab, "gen")
    assert tuple(tab.view.ng_nodes()["gen"].inputs()["param:seed"].view.color[:3]) == theme.PORT_COLORS["number"]
    row = window.properties.rows["seed"]
    assert row.as_input.isChecked() and not row.field.isEnabled()  # read-only while it is an input

    # Typed like any input: a number fits, a text does not.
    assert graph.check_link("prompt", "text", "gen", "param:seed") == "Cannot connect text → number (param seed)"
    assert graph.connect_ports("num", "value", "gen", "param:seed") is None
    assert graph.validate() == []
    assert ("num", "value", "gen", "param:seed") in {(e.source, e.source_port, e.target, e.target_port)
                                                     for e in graph.doc.edges}
    view_links = [p.name() for p in tab.view.ng_nodes()["gen"].inputs()["param:seed"].connected_ports()]
    assert view_links == ["value"]

    # Back to a param: the port and its link go, in one undo step.
    window.properties.rows["seed"].as_input.click()
    assert graph.doc.node("gen").param_inputs == [] and "param:seed" not in ports(tab, "gen")
    assert all(e.target_port != "param:seed" for e in graph.doc.edges)
    assert window.properties.rows["seed"].field.isEnabled()
    graph.undo_stack.undo()
    assert graph.doc.node("gen").param_inputs == ["seed"] and "param:seed" in ports(tab, "gen")
    assert any(e.target_port == "param:seed" for e in graph.doc.edges)
    graph.undo_stack.undo()  # the link
    graph.undo_stack.undo()  # the conversion
    assert graph.doc.node("gen").param_inputs == [] and "param:seed" not in ports(tab, "gen")


def test_convert_to_input_from_the_node_menu(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window)
    view = tab.view
    rect = view.node_item("gen").sceneBoundingRect()
    at = view.viewer.mapFromScene(rect.center().x(), rect.bottom() - 8)
    viewport = view.viewer.viewport()

    def right_click() -> None:
        QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at,
                                                           viewport.mapToGlobal(at)))

    def convert(menu: QMenu) -> None:
        sub = menu.findChild(QMenu, "node_to_input")
        action = next(a for a in sub.actions() if a.text() == "width")
        action.trigger()

    assert while_popup_open(qtbot, right_click, convert)
    assert tab.controller.doc.node("gen").param_inputs == ["width"] and "param:width" in ports(tab, "gen")
    found: list[list[str]] = []

    def back(menu: QMenu) -> None:
        sub = menu.findChild(QMenu, "node_to_param")
        found.append([a.text() for a in sub.actions()])
        sub.actions()[0].trigger()

    assert while_popup_open(qtbot, right_click, back)
    assert found == [["width"]] and tab.controller.doc.node("gen").param_inputs == []


def test_param_inputs_are_saved_and_shown_after_loading(window: MainWindow, tmp_path: Any) -> None:
    from artfactory.engine import document as graph_document

    tab = open_tab(window)
    tab.controller.set_param_input("gen", "seed", True)
    tab.controller.connect_ports("num", "value", "gen", "param:seed")
    saved = graph_document.load(tab.controller.save(tmp_path / "p.json"))
    assert saved.node("gen").param_inputs == ["seed"]
    again = window.add_graph(window.app.new_graph(saved))
    QApplication.processEvents()
    port = again.view.ng_nodes()["gen"].inputs()["param:seed"]
    assert [p.name() for p in port.connected_ports()] == ["value"]


def test_after_a_run_the_field_shows_the_value_that_arrived(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window)
    graph = tab.controller
    graph.set_param_input("gen", "seed", True)
    assert graph.connect_ports("num", "value", "gen", "param:seed") is None
    row = window.properties.rows["seed"]
    assert row.field.editor.value() == 3 and not row.arrived.isVisible()
    assert window.run_graph()
    qtbot.waitUntil(lambda: not graph.run_state.running, timeout=30_000)
    assert str(graph.run_state.get("gen").status) == "executed"
    row = window.properties.rows["seed"]
    assert row.field.editor.value() == 11 and not row.field.isEnabled()
    assert row.arrived.text() == "arrived: 11"
    assert graph.doc.node("gen").params["seed"] == 3  # the document's own value is untouched
