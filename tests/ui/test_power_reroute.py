"""Reroute dots: a double-click (or Alt-click) on a link splits it with a util.reroute node; links stay typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def chain() -> GraphDocument:
    return GraphDocument(name="t", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
        NodeSpec("small", "transform.resize", {"width": 64, "height": 64}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [400, 0]}, "small": {"pos": [800, 0]}}})


def open_tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.zoom_to_fit()
    tab.view.viewer.setFocus()
    return tab


def link_middle(view: GraphView, node_id: str, port: str) -> QPoint:
    """The middle of the link into an input, in viewport pixels."""
    pipe = view.ng_nodes()[node_id].inputs()[port].view.connected_pipes[0]
    return view.viewer.mapFromScene(pipe.mapToScene(pipe.path().pointAtPercent(0.5)))


def edges(tab: Any) -> set[tuple[str, str, str, str]]:
    return {(e.source, e.source_port, e.target, e.target_port) for e in tab.controller.doc.edges}


def test_double_click_on_a_link_inserts_a_reroute_in_one_undo_step(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    at = link_middle(view, "small", "image")
    viewport, left = view.viewer.viewport(), Qt.MouseButton.LeftButton
    qtbot.mousePress(viewport, left, pos=at)
    qtbot.mouseRelease(viewport, left, pos=at)
    qtbot.mouseDClick(viewport, left, pos=at)
    qtbot.mouseRelease(viewport, left, pos=at)
    qtbot.wait(10)
    reroutes = [n.id for n in graph.doc.nodes if n.type == "util.reroute"]
    assert reroutes == ["reroute"]
    assert edges(tab) == {("prompt", "text", "gen", "prompt"), ("gen", "image", "reroute", "in"),
                          ("reroute", "out", "small", "image")}
    assert graph.validate() == []
    graph.undo_stack.undo()
    assert [n.id for n in graph.doc.nodes] == ["prompt", "gen", "small"]
    assert edges(tab) == {("prompt", "text", "gen", "prompt"), ("gen", "image", "small", "image")}


def test_alt_click_on_a_link_inserts_a_reroute(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    at = link_middle(tab.view, "gen", "prompt")
    qtbot.mouseClick(tab.view.viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, at)
    qtbot.wait(10)
    assert ("prompt", "text", "reroute", "in") in edges(tab) and ("reroute", "out", "gen", "prompt") in edges(tab)


def test_links_stay_typed_through_reroutes(window: MainWindow) -> None:
    tab = open_tab(window, chain())
    graph = tab.controller
    first = graph.insert_reroute(EdgeSpec("gen", "image", "small", "image"), (600.0, 200.0))
    assert first is not None and graph.carried_kind(first) == "image"
    # A second dot on the reroute's outgoing link: still an image all the way.
    second = graph.insert_reroute(EdgeSpec(first, "out", "small", "image"), (700.0, 200.0))
    assert second is not None and graph.carried_kind(second) == "image"
    pipe = tab.view.ng_nodes()["small"].inputs()["image"].view.connected_pipes[0]
    assert tuple(pipe.color[:3]) == theme.PORT_COLORS["image"]  # drawn as an image link, not an "any" one
    # A text cannot leave an image-carrying reroute into... a text input, nor can text enter it.
    assert graph.check_link(second, "out", "gen", "prompt") == "Cannot connect image → text"
    assert graph.check_link("prompt", "text", first, "in") == \
        f"Cannot connect text → image (through the reroute {first})"
    assert graph.connect_ports("prompt", "text", first, "in") is not None
    assert ("gen", "image", first, "in") in edges(tab)
    # An unfed reroute takes whatever comes.
    loose = graph.add_node("util.reroute", (0.0, 300.0))
    assert loose is not None and graph.carried_kind(loose) == "any"
    assert graph.check_link(loose, "out", "small", "image") is None
    assert graph.check_link("prompt", "text", loose, "in") is None


def test_a_reroute_is_a_dot_on_the_link_where_it_was_clicked(qtbot: Any, window: MainWindow) -> None:
    """Drawn as a small dot (no title, no port names) centred on the clicked point, its ports on its rim, and a
    link can still be dragged from it and into it (the pipes end at the dot)."""
    from artfactory.views.canvas.node_item import RerouteItem

    tab = open_tab(window, chain())
    view = tab.view
    at = link_middle(view, "small", "image")
    clicked = view.viewer.mapToScene(at)
    qtbot.mouseClick(view.viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, at)
    qtbot.wait(10)
    item = view.node_item("reroute")
    assert isinstance(item, RerouteItem)
    rect = item.sceneBoundingRect()
    assert rect.width() <= RerouteItem.DOT + 1 and rect.height() <= RerouteItem.DOT + 1
    assert abs(rect.center().x() - clicked.x()) < 2 and abs(rect.center().y() - clicked.y()) < 2
    assert not item.title_item.isVisible()
    assert all(not text.isVisible() for text in item.port_text_items().values())
    (port_in,), (port_out,) = item.inputs, item.outputs
    centre_in, centre_out = port_in.sceneBoundingRect().center(), port_out.sceneBoundingRect().center()
    assert abs(centre_in.x() - rect.left()) < 2 and abs(centre_out.x() - rect.right()) < 2
    assert abs(centre_in.y() - rect.center().y()) < 2 and abs(centre_out.y() - rect.center().y()) < 2
    # The pipes now end at the dot: both links are drawn to ports on its rim.
    node = view.ng_nodes()["reroute"]
    assert node.inputs()["in"].view.connected_pipes and node.outputs()["out"].view.connected_pipes
