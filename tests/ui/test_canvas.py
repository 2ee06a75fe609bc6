"""The canvas as a user drives it: search, connect, edit, undo, copy/paste, delete, move, layout, backdrops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt
from PyQt6.QtGui import QDropEvent
from PyQt6.QtWidgets import QApplication, QLineEdit, QMenu, QSpinBox

from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.canvas.gestures import NODES_MIME
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.canvas.node_classes import STABLE_ID, ng_type_name
from artfactory.views.main_window import MainWindow
from tests.support.qt import drag, opened_window, while_popup_open

# NodeGraphQt compares Qt versions with distutils' LooseVersion whenever a menu command is added.
pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    # Shortcuts and key presses reach only the active window.
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def graph_tab(win: MainWindow, doc: GraphDocument | None = None) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.viewer.setFocus()
    return tab


def two_nodes() -> GraphDocument:
    return GraphDocument(name="t", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
        NodeSpec("small", "transform.resize", {"width": 32, "height": 32}),
    ], meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}, "small": {"pos": [640, 0]}}})


def port_pos(view: GraphView, node_id: str, port: str, output: bool) -> QPoint:
    node = view._nodes[node_id]
    item = (node.outputs() if output else node.inputs())[port].view
    return view.viewer.mapFromScene(item.sceneBoundingRect().center())


def edges(graph: GraphController) -> set[tuple[str, str, str, str]]:
    return {(e.source, e.source_port, e.target, e.target_port) for e in graph.doc.edges}


def view_edges(view: GraphView) -> set[tuple[str, str, str, str]]:
    shown = set()
    for node_id, node in view._nodes.items():
        for name, port in node.inputs().items():
            for other in port.connected_ports():
                shown.add((view._ids[other.node().id], other.name(), node_id, name))
    return shown


# --- tests --------------------------------------------------------------------------------------------


def test_every_node_type_appears_with_typed_colour_coded_ports(window: MainWindow) -> None:
    registry = window.app.registry
    doc = GraphDocument(nodes=[NodeSpec(f"n{i}", t.type) for i, t in enumerate(registry)])
    tab = graph_tab(window, doc)
    assert len(tab.view._nodes) == len(registry) >= 15
    for i, node_type in enumerate(registry):
        node = tab.view._nodes[f"n{i}"]
        assert node.get_property(STABLE_ID) == f"n{i}"
        assert node.type_ == ng_type_name(node_type.type)
        for port in node_type.inputs:
            assert tuple(node.inputs()[port.name].view.color[:3]) == theme.PORT_COLORS[port.kind]
        for port in node_type.outputs:
            assert tuple(node.outputs()[port.name].view.color[:3]) == theme.PORT_COLORS[port.kind]
    # The graph had no positions: it was laid out, so no two nodes overlap.
    rects = [n.view.sceneBoundingRect() for n in tab.view._nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_tab_search_adds_the_node_with_a_stable_id(qtbot: Any, window: MainWindow) -> None:
    tab = graph_tab(window)
    viewer = tab.view.viewer
    qtbot.mouseMove(viewer.viewport(), QPoint(300, 250))
    typed: list[str] = []

    def search(menu: QMenu) -> None:
        line = menu.findChild(QLineEdit)
        qtbot.keyClicks(line, "resiz")
        typed.append(line.text())
        qtbot.keyClick(line, Qt.Key.Key_Return)

    assert while_popup_open(qtbot, lambda: qtbot.keyClick(viewer, Qt.Key.Key_Tab), search), "Tab opened no search"
    graph = tab.controller
    assert typed == ["resiz"]
    assert [(n.id, n.type) for n in graph.doc.nodes] == [("resize", "transform.resize")]
    assert tab.view._nodes["resize"].get_property(STABLE_ID) == "resize"
    assert tab.view.selected_ids() == ["resize"]
    graph.undo_stack.undo()
    assert graph.doc.nodes == [] and tab.view._nodes == {}


def test_drag_connects_compatible_ports_and_refuses_others_with_a_message(qtbot: Any, window: MainWindow) -> None:
    tab = graph_tab(window, two_nodes())
    view, graph = tab.view, tab.controller
    view.zoom_to_fit()
    drag(qtbot, view.viewer.viewport(), port_pos(view, "prompt", "text", True), port_pos(view, "gen", "prompt", False))
    assert edges(graph) == {("prompt", "text", "gen", "prompt")}

    drag(qtbot, view.viewer.viewport(), port_pos(view, "prompt", "text", True), port_pos(view, "small", "image", False))
    assert edges(graph) == {("prompt", "text", "gen", "prompt")}
    assert window.statusBar().currentMessage() == "Cannot connect text → image"
    assert view_edges(view) == edges(graph)

    drag(qtbot, view.viewer.viewport(), port_pos(view, "gen", "image", True), port_pos(view, "small", "image", False))
    assert edges(graph) == {("prompt", "text", "gen", "prompt"), ("gen", "image", "small", "image")}
    # Dragging a link's end off its input disconnects it; undo brings it back.
    start = port_pos(view, "small", "image", False)
    drag(qtbot, view.viewer.viewport(), start, start + QPoint(0, 120))
    assert ("gen", "image", "small", "image") not in edges(graph)
    graph.undo_stack.undo()
    assert ("gen", "image", "small", "image") in edges(graph)
    assert view_edges(view) == edges(graph)


def test_loaded_links_are_validated_in_our_model(window: MainWindow) -> None:
    doc = two_nodes()
    doc.edges = [EdgeSpec("prompt", "text", "small", "image")]  # text into image: a bad file
    tab = graph_tab(window, doc)
    assert window.run_graph() is None
    assert any("takes image but prompt.text gives text" in m for m in tab.controller.issues["small"])
    item = tab.view.node_item("small")
    assert item is not None and item.errors and item._badge.isVisible()
    assert "problem" in window.statusBar().currentMessage()


def test_edit_a_param_in_the_form_then_undo(qtbot: Any, window: MainWindow) -> None:
    tab = graph_tab(window, two_nodes())
    tab.view.select(["gen"])
    qtbot.waitUntil(lambda: "width" in window.properties.rows, timeout=2000)
    spin = window.properties.rows["width"].field.editor
    assert isinstance(spin, QSpinBox) and spin.value() == 64
    spin.setValue(640)
    assert tab.controller.doc.node("gen").params["width"] == 640
    assert "width 640" in " ".join(tab.view.node_item("gen").summary)
    tab.view.viewer.setFocus()
    qtbot.keyClick(tab.view.viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tab.controller.doc.node("gen").params["width"] == 64
    assert spin.value() == 64
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(tab.view.viewer, Qt.Key.Key_Z, redo)
    assert tab.controller.doc.node("gen").params["width"] == 640


def test_out_of_range_value_is_refused(window: MainWindow) -> None:
    tab = graph_tab(window, two_nodes())
    assert not tab.controller.set_param("gen", "width", 5)
    assert tab.controller.doc.node("gen").params["width"] == 64
    assert "at least 64" in window.statusBar().currentMessage()


def test_copy_paste_and_duplicate_get_fresh_ids_and_keep_valid_links(window: MainWindow) -> None:
    doc = two_nodes()
    doc.edges = [EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")]
    tab = graph_tab(window, doc)
    graph = tab.controller
    tab.view.select(["prompt", "gen"])
    window.menu_actions["copy"].trigger()
    window.menu_actions["paste"].trigger()
    new = sorted(set(n.id for n in graph.doc.nodes) - {"prompt", "gen", "small"})
    assert new == ["local_generator", "prompt_2"]
    assert ("prompt_2", "text", "local_generator", "prompt") in edges(graph)
    assert graph.doc.node("local_generator").params == {"seed": 3, "width": 64, "height": 64}
    assert sorted(tab.view.selected_ids()) == new
    tab.view.select(["small"])
    window.menu_actions["duplicate"].trigger()
    assert graph.doc.node("resize") is not None
    assert view_edges(tab.view) == edges(graph)
    graph.undo_stack.undo()
    graph.undo_stack.undo()
    assert {n.id for n in graph.doc.nodes} == {"prompt", "gen", "small"}


def test_delete_removes_nodes_and_links_and_undo_restores_them(qtbot: Any, window: MainWindow) -> None:
    doc = two_nodes()
    doc.edges = [EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")]
    tab = graph_tab(window, doc)
    before = tab.controller.doc.dumps()
    tab.view.select(["gen"])
    qtbot.keyClick(tab.view.viewer, Qt.Key.Key_Delete)
    assert tab.controller.doc.node("gen") is None and tab.controller.doc.edges == []
    assert "gen" not in tab.view._nodes
    tab.controller.undo_stack.undo()
    assert tab.controller.doc.dumps() == before
    assert view_edges(tab.view) == edges(tab.controller)


def test_moving_a_node_is_recorded_and_undoable(qtbot: Any, window: MainWindow) -> None:
    tab = graph_tab(window, two_nodes())
    tab.view.zoom_to_fit()
    item = tab.view.node_item("prompt")
    start = tab.view.viewer.mapFromScene(item.sceneBoundingRect().topLeft() + QPointF(60, 10))
    drag(qtbot, tab.view.viewer.viewport(), start, start + QPoint(40, 90))
    moved = tab.controller.position("prompt")
    assert moved is not None and moved != (0.0, 0.0)
    tab.controller.undo_stack.undo()
    assert tab.controller.position("prompt") == (0.0, 0.0)
    assert tuple(item.xy_pos) == (0.0, 0.0)


def test_auto_layout_places_nodes_left_to_right_by_dependency(window: MainWindow) -> None:
    doc = two_nodes()
    doc.edges = [EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")]
    doc.meta = {}
    tab = graph_tab(window, doc)
    graph = tab.controller
    xs = [graph.position(n)[0] for n in ("prompt", "gen", "small")]  # type: ignore[index]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert not graph.dirty  # placing nodes that had no position is part of loading, not an edit
    graph._write_position("node", "small", (-500.0, 900.0))
    window.menu_actions["layout"].trigger()
    assert graph.position("small")[0] > graph.position("gen")[0]  # type: ignore[index]


def test_backdrop_with_title_frames_the_selection(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    tab = graph_tab(window, two_nodes())
    tab.view.select(["prompt", "gen"])
    window.menu_actions["backdrop"].trigger()
    [backdrop] = tab.controller.backdrops()
    x, _y, w, _h = backdrop["rect"]
    node = tab.view.node_item("gen")
    assert x < node.xy_pos[0] and x + w > node.xy_pos[0] + node.width
    monkeypatch.setattr("artfactory.views.canvas.graph_view.QInputDialog.getText",
                        lambda *a, **k: ("Generation", True))
    tab.view.rename_backdrop(backdrop["id"])
    assert tab.controller.backdrop(backdrop["id"])["title"] == "Generation"
    assert tab.view._backdrops[backdrop["id"]].view.name == "Generation"
    tab.controller.undo_stack.undo()
    tab.controller.undo_stack.undo()
    assert tab.controller.backdrops() == [] and tab.view._backdrops == {}


def test_node_dropped_from_the_library_is_created_where_it_lands(window: MainWindow) -> None:
    tab = graph_tab(window)
    mime = window.library_panel.tree.mimeData([window.library_panel.tree.topLevelItem(0).child(0)])
    assert mime.hasFormat(NODES_MIME)
    drop = QDropEvent(QPointF(200, 150), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    tab.view.viewer.dropEvent(drop)  # Qt ignores a drop with no drag in progress, so deliver it directly
    [node] = tab.controller.doc.nodes
    expected = tab.view.viewer.mapToScene(QPoint(200, 150))
    assert tab.controller.position(node.id) == (float(int(expected.x())), float(int(expected.y())))


def test_paste_of_foreign_text_changes_nothing(window: MainWindow) -> None:
    tab = graph_tab(window, two_nodes())
    mime = QMimeData()
    mime.setText("not nodes")
    QApplication.clipboard().setMimeData(mime)
    window.menu_actions["paste"].trigger()
    assert len(tab.controller.doc.nodes) == 3
    assert "Nothing to paste" in window.statusBar().currentMessage()


def test_provider_node_form_comes_from_the_model_schema(qtbot: Any, window: MainWindow) -> None:
    from artfactory.services import secrets
    from tests.fixtures import fake_replicate

    server = fake_replicate.FakeReplicate().start()
    try:
        window.app.library.settings.replicate_base_url = server.url
        secrets.set_key("replicate", fake_replicate.TOKEN)
        tab = graph_tab(window, GraphDocument(nodes=[NodeSpec("paint", "provider.replicate",
                                                               {"model": "acme/painter"})]))
        tab.view.select(["paint"])
        panel = window.properties
        qtbot.waitUntil(lambda: hasattr(panel, "schema_button") and panel.schema_button.isEnabled(), timeout=2000)
        panel.schema_button.click()  # fetched on a worker: the UI stays responsive meanwhile
        qtbot.waitUntil(lambda: "width" in panel.input_rows, timeout=10_000)
        assert "prompt" not in panel.input_rows  # the prompt port fills it
        scheduler = panel.input_rows["scheduler"].field.editor
        assert scheduler.count() > 1 and scheduler.itemText(0) == "DDIM"
        width = panel.input_rows["width"].field.editor
        assert isinstance(width, QSpinBox) and width.maximum() == 1440
        width.setValue(768)
        assert tab.controller.doc.node("paint").params["input"] == {"width": 768}
        tab.controller.undo_stack.undo()
        assert tab.controller.param_value("paint", "input") == {}
        assert width.value() != 768
        assert len(server.requests_to("GET", "/v1/models/acme/painter")) == 1
    finally:
        server.stop()
