"""Subgraphs on the canvas: group (Ctrl+Shift+G), ungroup, open (double-click), run status rolled up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QInputDialog

from artfactory.controllers import subgraphs
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.status import NodeStatus
from artfactory.services.library import Library
from artfactory.views.canvas import node_menu
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window

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
        NodeSpec("tiny", "transform.resize", {"width": 16, "height": 16}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image"),
              EdgeSpec("small", "image", "tiny", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}, "small": {"pos": [640, 0]},
                         "tiny": {"pos": [960, 0]}}})


def open_tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.zoom_to_fit()
    tab.view.viewer.setFocus()
    return tab


def snapshot(tab: Any) -> Any:
    doc = tab.controller.doc
    return ([n.to_json() for n in doc.nodes], [e.to_json() for e in doc.edges],
            {k: v.to_json() for k, v in doc.subgraphs.items()}, dict(doc.meta.get("canvas", {})))


def run_and_wait(qtbot: Any, win: MainWindow) -> str:
    order_id = win.run_graph()
    assert order_id
    tab = win.current_tab()
    assert tab is not None
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)
    return order_id


def name_dialog(monkeypatch: pytest.MonkeyPatch, answer: str, asked: list[str]) -> None:
    def get_text(_parent: Any, _title: str, _label: str, text: str = "") -> tuple[str, bool]:
        asked.append(text)
        return answer, True
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))


def test_ctrl_shift_g_groups_the_selection_into_one_typed_subgraph_node_and_undo_restores(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    before = snapshot(tab)
    asked: list[str] = []
    name_dialog(monkeypatch, "Upscale", asked)
    view.select(["gen", "small"])
    qtbot.keyClick(view.viewer, Qt.Key.Key_G,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert asked == ["Group"]  # a sensible default name
    doc = graph.doc
    assert [n.id for n in doc.nodes] == ["prompt", "upscale", "tiny"]
    assert doc.node("upscale").type == "subgraph" and doc.node("upscale").params == {"name": "Upscale"}
    body = doc.subgraphs["Upscale"]
    assert [n.id for n in body.nodes] == ["gen", "small"]
    assert [(p.name, p.type) for p in body.inputs] == [("prompt", "text")]
    assert [(p.name, p.type) for p in body.outputs] == [("image", "image")]
    assert {(e.source, e.target) for e in doc.edges} == {("prompt", "upscale"), ("upscale", "tiny")}
    # On the canvas: one node titled by its subgraph, ports named and coloured like the inner ones, links drawn.
    node = view.ng_nodes()["upscale"]
    assert node.view.name == "Upscale"
    assert list(node.inputs()) == ["prompt"] and list(node.outputs()) == ["image"]
    assert node.inputs()["prompt"].connected_ports() and node.outputs()["image"].connected_ports()
    assert type(node).AF_INPUTS == (("prompt", "text", False),) and type(node).AF_OUTPUTS == (("image", "image"),)
    assert view.selected_ids() == ["upscale"]
    assert graph.validate() == []
    # Links to the subgraph node are checked against its ports' types.
    assert graph.check_link("prompt", "text", "upscale", "prompt") is None
    assert "no input" in (graph.check_link("prompt", "text", "upscale", "nope") or "")
    # One undo step brings back every node, link and position exactly.
    assert graph.undo_stack.count() == 1
    graph.undo_stack.undo()
    assert snapshot(tab) == before
    assert set(view.ng_nodes()) == {"prompt", "gen", "small", "tiny"}
    graph.undo_stack.redo()
    assert "upscale" in view.ng_nodes() and "Upscale" in graph.doc.subgraphs


def test_a_selection_that_cannot_be_grouped_says_why_in_one_line(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    tab = open_tab(window, chain())
    messages: list[str] = []
    tab.controller.message.connect(messages.append)
    name_dialog(monkeypatch, "Gap", [])
    tab.view.select(["gen", "tiny"])  # "small" sits between them
    window.menu_actions["group"].trigger()
    assert [n.id for n in tab.controller.doc.nodes] == ["prompt", "gen", "small", "tiny"]
    assert tab.controller.undo_stack.count() == 0
    assert len(messages) == 1 and messages[0].startswith("Cannot group:") and "small" in messages[0]
    assert "\n" not in messages[0]


def test_ungroup_from_the_node_menu_puts_the_nodes_back_and_is_undoable(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    before = snapshot(tab)
    view.select(["gen", "small"])
    from artfactory.views.canvas import subgraph_nav
    outer = subgraph_nav.group_selection(view, window, name="Upscale")
    assert outer == "upscale"
    grouped = snapshot(tab)
    menu = node_menu.build(view, outer)
    names = [a.objectName() for a in menu.actions()]
    assert "node_group" in names and "node_ungroup" in names
    assert "node_ungroup" not in [a.objectName() for a in node_menu.build(view, "tiny").actions()]
    next(a for a in menu.actions() if a.objectName() == "node_ungroup").trigger()
    doc = graph.doc
    assert [n.id for n in doc.nodes] == ["prompt", "gen", "small", "tiny"]
    assert doc.subgraphs == {} and "subgraph_canvas" not in doc.meta
    assert {(e.source, e.source_port, e.target, e.target_port) for e in doc.edges} == \
        {(e["from"][0], e["from"][1], e["to"][0], e["to"][1]) for e in before[1]}
    # Back where they were (the subgraph node did not move, so neither does their middle).
    assert graph.position("gen") == (320.0, 0.0) and graph.position("small") == (640.0, 0.0)
    assert set(view.ng_nodes()) == {"prompt", "gen", "small", "tiny"}
    assert sorted(view.selected_ids()) == ["gen", "small"]
    graph.undo_stack.undo()
    assert snapshot(tab) == grouped
    graph.undo_stack.undo()
    assert snapshot(tab) == before


def test_grouped_graph_runs_from_the_cache_and_the_subgraph_node_rolls_up_its_inner_runs(
        qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, chain())
    view, graph = tab.view, tab.controller
    run_and_wait(qtbot, window)
    flat_keys = {n: item["cache_key"] for n, item in window.app.runs.executor.store.items(
        graph.run_state.order_id).items()}
    view.select(["gen", "small"])
    from artfactory.views.canvas import subgraph_nav
    assert subgraph_nav.group_selection(view, window, name="Upscale") == "upscale"
    order_id = run_and_wait(qtbot, window)
    items = window.app.runs.executor.store.items(order_id)
    # Wrapping re-executes nothing: the inner nodes report as OUTER/INNER with the flat run's cache keys.
    assert set(items) == {"prompt", "upscale/gen", "upscale/small", "tiny"}
    assert {n: i["status"] for n, i in items.items()} == dict.fromkeys(items, "cached")
    assert items["upscale/gen"]["cache_key"] == flat_keys["gen"]
    assert items["upscale/small"]["cache_key"] == flat_keys["small"]
    # The Runs panel lists them as outer/inner.
    assert {"upscale/gen", "upscale/small"} <= set(window.app.runs.orders[order_id].nodes)
    # The subgraph node shows the roll-up: cached, with what its output made.
    run = subgraphs.rolled_up(graph, "upscale")
    assert run is not None and run.status == NodeStatus.CACHED
    assert run.products == graph.run_state.get("upscale/small").products and run.products
    assert view.node_item("upscale").product_ids == [p for p, _ in run.products]


def test_roll_up_is_running_while_any_inner_node_runs_and_failed_if_one_failed(qtbot: Any,
                                                                               window: MainWindow) -> None:
    tab = open_tab(window, chain())
    graph = tab.controller
    from artfactory.views.canvas import subgraph_nav
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    state = graph.run_state
    state.begin("o1", ["prompt", "upscale/gen", "upscale/small", "tiny"])
    assert subgraphs.rolled_up(graph, "upscale").status == NodeStatus.PENDING
    state.update("upscale/gen", status=NodeStatus.RUNNING, percent=50.0)
    assert subgraphs.rolled_up(graph, "upscale").status == NodeStatus.RUNNING
    assert subgraphs.rolled_up(graph, "upscale").percent == 25.0
    assert tab.view.node_item("upscale").status == NodeStatus.RUNNING
    state.update("upscale/gen", status=NodeStatus.EXECUTED)
    assert subgraphs.rolled_up(graph, "upscale").status == NodeStatus.RUNNING  # small still to do
    state.update("upscale/small", status=NodeStatus.CACHED)
    assert subgraphs.rolled_up(graph, "upscale").status == NodeStatus.EXECUTED
    state.update("upscale/small", status=NodeStatus.FAILED, error="too small")
    rolled = subgraphs.rolled_up(graph, "upscale")
    assert rolled.status == NodeStatus.FAILED and rolled.error == "small: too small"
    assert tab.view.node_item("upscale").status == NodeStatus.FAILED


def enter(window: MainWindow, tab: Any, node_id: str) -> Any:
    """Double-click the node (as NodeGraphQt reports it) and return the tab that became current."""
    tab.view.viewer.node_double_clicked.emit(tab.view.ng_nodes()[node_id].id)
    QApplication.processEvents()
    return window.current_tab()


def test_double_click_enters_a_subgraph_edits_write_back_with_undo_and_the_breadcrumb_goes_back(
        qtbot: Any, window: MainWindow) -> None:
    from PyQt6.QtWidgets import QToolButton

    from artfactory.views.canvas import subgraph_nav
    tab = open_tab(window, chain())
    root = tab.controller
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    inner_tab = enter(window, tab, "upscale")
    assert inner_tab is not tab and isinstance(inner_tab.controller, subgraphs.SubgraphController)
    inside = inner_tab.controller
    assert set(inner_tab.view.ng_nodes()) == {"gen", "small"}
    assert window.tabs.tabText(window.tabs.indexOf(inner_tab)).startswith("chain ▸ Upscale")
    # The inner nodes sit where they sat before grouping.
    assert inside.position("gen") == (320.0, 0.0)
    # A param edit inside is an edit of the parent document's subgraph, one undo step of the parent.
    steps = root.undo_stack.count()
    assert inside.set_param("small", "width", 48)
    body = root.doc.subgraphs["Upscale"]
    assert next(n for n in body.nodes if n.id == "small").params["width"] == 48
    assert root.dirty and root.undo_stack.count() == steps + 1
    window.menu_actions["undo"].trigger()
    assert next(n for n in body.nodes if n.id == "small").params["width"] == 32
    # Adding and linking inside land in the subgraph too.
    assert tab.view.node_item("upscale").summary[0] == "2 nodes inside"
    new_id = inner_tab.view.add_node("transform.resize", (900.0, 0.0))
    assert new_id in [n.id for n in body.nodes] and new_id in inner_tab.view.ng_nodes()
    assert tab.view.node_item("upscale").summary[0] == "3 nodes inside"
    assert inside.connect_ports("small", "image", new_id, "image") is None
    assert any(e.target == new_id for e in body.edges)
    # Double-clicking again brings back the same tab; the first crumb goes back to the graph.
    tab.view.select([])
    window.select_tab(tab)
    assert enter(window, tab, "upscale") is inner_tab
    crumb = inner_tab.findChild(QToolButton, "Crumb0")
    assert crumb is not None and crumb.text() == "chain"
    crumb.click()
    assert window.current_tab() is tab
    # Undoing the grouping itself takes the subgraph away: its tab closes.
    while "Upscale" in root.doc.subgraphs:
        root.undo_stack.undo()
    QApplication.processEvents()
    assert inner_tab not in window.graph_tabs()
    assert [n.id for n in root.doc.nodes] == ["prompt", "gen", "small", "tiny"]


def test_run_from_inside_a_subgraph_runs_its_graph_and_shows_the_inner_statuses(qtbot: Any,
                                                                                window: MainWindow) -> None:
    from artfactory.views.canvas import subgraph_nav
    tab = open_tab(window, chain())
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    inner_tab = enter(window, tab, "upscale")
    dialog = window.show_plan()  # the plan of the graph the subgraph belongs to
    assert dialog is not None and dialog.graph is tab.controller
    dialog.close()
    order_id = window.run_graph()
    assert order_id
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)
    assert set(window.app.runs.orders[order_id].nodes) == {"prompt", "upscale/gen", "upscale/small", "tiny"}
    assert inner_tab.controller.run_state.get("small").status == NodeStatus.EXECUTED
    assert inner_tab.view.node_item("small").status == NodeStatus.EXECUTED
    assert tab.view.node_item("upscale").status == NodeStatus.EXECUTED


def test_a_problem_inside_a_subgraph_shows_on_its_node_and_the_runs_panel_finds_inner_nodes(
        qtbot: Any, window: MainWindow) -> None:
    from artfactory.views.canvas import subgraph_nav
    tab = open_tab(window, chain())
    graph = tab.controller
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    inside = enter(window, tab, "upscale").controller
    inside.delete(["small"])  # the subgraph's output came from it
    errors = graph.validate()
    assert errors and graph.issues.get("upscale")
    assert any("small" in message for message in graph.issues["upscale"])
    window.select_tab(tab)
    inside.undo_stack.undo()
    assert graph.validate() == []
    small = next(n for n in graph.doc.subgraphs["Upscale"].nodes if n.id == "small")
    small.params["width"] = -3  # as a hand-edited file could hold it
    assert [e.node_id for e in graph.validate()] == ["upscale/small"]
    assert graph.issues["upscale"][0].startswith("small: ") and not graph.graph_issues
    small.params["width"] = 32
    assert graph.validate() == []
    order_id = run_and_wait(qtbot, window)
    tab.view.select([])
    window.show_node(order_id, "upscale/small")
    assert window.current_tab() is tab and tab.view.selected_ids() == ["upscale"]


def test_saving_in_a_subgraph_tab_saves_its_graph_with_the_edit(qtbot: Any, window: MainWindow,
                                                                 tmp_path: Any) -> None:
    from artfactory.engine import document as graph_document
    from artfactory.views.canvas import subgraph_nav
    tab = open_tab(window, chain())
    (tmp_path / "graphs").mkdir()
    path = tmp_path / "graphs" / "chain.json"
    tab.controller.save(path)
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    inner_tab = enter(window, tab, "upscale")
    inner_tab.controller.set_param("small", "width", 40)
    assert inner_tab.controller.path == path
    window.menu_actions["save"].trigger()
    saved = graph_document.load(path)
    assert [n.id for n in saved.nodes] == ["prompt", "upscale", "tiny"]
    assert next(n for n in saved.subgraphs["Upscale"].nodes if n.id == "small").params["width"] == 40
    assert saved.meta["subgraph_canvas"]["Upscale"]["gen"]["pos"] == [320, 0]
    assert not tab.controller.dirty and not inner_tab.controller.dirty
    assert [p.name for p in (tmp_path / "graphs").iterdir()] == ["chain.json"]
