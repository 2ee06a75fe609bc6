"""A node's own right-click menu, renaming a node, and double-click on empty canvas to add a node there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtGui import QContextMenuEvent
from PyQt6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMenu

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.main_window import MainWindow

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


def three_nodes() -> GraphDocument:
    return GraphDocument(name="t", nodes=[
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


def node_point(view: GraphView, node_id: str) -> QPoint:
    """A point on the node's body (below the title, clear of its ports)."""
    rect = view._nodes[node_id].view.sceneBoundingRect()
    return view.viewer.mapFromScene(rect.center().x(), rect.bottom() - 8)


def with_popup(qtbot: Any, trigger: Callable[[], None], inside: Callable[[QMenu], None]) -> list[str]:
    """Run `inside` on the first popup menu that appears after `trigger` (at once or from the event loop);
    returns the menu's object name."""
    seen: list[str] = []
    poll = QTimer()
    poll.setInterval(5)

    def check() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu) and not seen:
            seen.append(popup.objectName())
            poll.stop()
            try:
                inside(popup)
            finally:
                popup.close()

    poll.timeout.connect(check)
    poll.start()
    trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    poll.stop()
    qtbot.wait(5)
    return seen


def double_click(qtbot: Any, view: GraphView, at: QPoint) -> None:
    """What a mouse sends: press, release, double-click (the second press), release."""
    viewport, left = view.viewer.viewport(), Qt.MouseButton.LeftButton
    qtbot.mousePress(viewport, left, pos=at)
    qtbot.mouseRelease(viewport, left, pos=at)
    qtbot.mouseDClick(viewport, left, pos=at)
    qtbot.mouseRelease(viewport, left, pos=at)


def right_click(view: GraphView, at: QPoint) -> None:
    viewport = view.viewer.viewport()
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, viewport.mapToGlobal(at)))


def choose(name: str) -> Callable[[QMenu], None]:
    def inside(menu: QMenu) -> None:
        action = next(a for a in menu.actions() if a.objectName() == f"node_{name}")
        assert action.isEnabled(), name
        action.trigger()
    return inside


# --- the menu -----------------------------------------------------------------------------------------


def test_right_click_selects_the_node_and_shows_its_own_menu(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view = tab.view
    view.select(["prompt"])
    texts: list[str] = []
    menus = with_popup(qtbot, lambda: right_click(view, node_point(view, "gen")),
                       lambda menu: texts.extend(a.text() for a in menu.actions() if not a.isSeparator()))
    assert menus == ["NodeMenu"]
    assert view.selected_ids() == ["gen"]  # selected before the menu opened
    assert texts[:3] == ["Rename…", "Duplicate", "Delete"]
    assert "Show Products in Gallery" in texts and "Copy ID  (gen)" in texts
    assert "Auto-Layout" not in " ".join(texts).replace("&", "")  # not the canvas menu

    # On empty canvas the canvas menu still opens.
    assert with_popup(qtbot, lambda: right_click(view, QPoint(5, 5)), lambda menu: None) != ["NodeMenu"]


def test_menu_delete_removes_the_node_and_undo_restores_it(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view, graph = tab.view, tab.controller
    with_popup(qtbot, lambda: right_click(view, node_point(view, "gen")), choose("delete"))
    assert [n.id for n in graph.doc.nodes] == ["prompt", "small"] and "gen" not in view._nodes
    assert graph.doc.edges == []
    graph.undo_stack.undo()
    assert [n.id for n in graph.doc.nodes] == ["prompt", "gen", "small"] and "gen" in view._nodes
    assert len(graph.doc.edges) == 2


def test_menu_acts_on_the_whole_selection_when_the_node_is_in_it(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view, graph = tab.view, tab.controller
    view.select(["gen", "small"])
    with_popup(qtbot, lambda: right_click(view, node_point(view, "small")), choose("duplicate"))
    assert [n.id for n in graph.doc.nodes] == ["prompt", "gen", "small", "local_generator", "resize"]
    assert EdgeSpec("local_generator", "image", "resize", "image") in graph.doc.edges  # the link between them too
    assert sorted(view.selected_ids()) == ["local_generator", "resize"]
    graph.undo_stack.undo()
    assert [n.id for n in graph.doc.nodes] == ["prompt", "gen", "small"]


def test_rename_from_the_menu_shows_the_title_saves_it_and_undoes(qtbot: Any, window: MainWindow,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tab = open_tab(window, three_nodes())
    view, graph = tab.view, tab.controller
    asked: list[str] = []

    def answer(*args: Any, **kwargs: Any) -> tuple[str, bool]:
        asked.append(kwargs.get("text", ""))
        return "  Fox   thumbnails ", True

    monkeypatch.setattr(QInputDialog, "getText", answer)
    with_popup(qtbot, lambda: right_click(view, node_point(view, "small")), choose("rename"))
    assert asked == ["Resize"]
    assert graph.doc.meta["canvas"]["small"]["title"] == "Fox thumbnails"
    assert view._nodes["small"].view.name == "Fox thumbnails"
    assert graph.doc.node("small") is not None  # the id, the identity, stays
    graph.undo_stack.undo()
    assert "title" not in graph.doc.meta["canvas"]["small"]
    assert view._nodes["small"].view.name == "Resize"
    graph.undo_stack.redo()
    # A copy keeps the title; the title survives a save and load through the document's meta.
    view.select(["small"])
    (new_id,) = tab.duplicate()
    assert view._nodes[new_id].view.name == "Fox thumbnails"


def test_double_click_on_the_title_renames_in_place(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view, graph = tab.view, tab.controller
    item = view._nodes["gen"].view
    title = item.title_item
    at = view.viewer.mapFromScene(title.sceneBoundingRect().center())
    qtbot.mouseDClick(view.viewer.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert title.textInteractionFlags() & Qt.TextInteractionFlag.TextEditable
    title.setFocus()
    cursor = title.textCursor()
    cursor.select(cursor.SelectionType.Document)
    title.setTextCursor(cursor)
    qtbot.keyClicks(view.viewer.viewport(), "Hero")
    qtbot.keyClick(view.viewer.viewport(), Qt.Key.Key_Backspace)  # an edit key, not the window's Delete
    qtbot.keyClick(view.viewer.viewport(), Qt.Key.Key_Return)
    assert graph.node_title("gen") == "Her"
    assert graph.doc.node("gen") is not None
    assert item.name == "Her"
    graph.undo_stack.undo()
    assert graph.node_title("gen") == "" and item.name == "Local generator"


def test_copy_id_puts_the_stable_id_on_the_clipboard(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    with_popup(qtbot, lambda: right_click(tab.view, node_point(tab.view, "small")), choose("copy_id"))
    clipboard = QApplication.clipboard()
    assert clipboard is not None and clipboard.text() == "small"


def test_show_products_opens_the_gallery_on_what_the_node_made(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view = tab.view
    disabled: list[bool] = []
    with_popup(qtbot, lambda: right_click(view, node_point(view, "gen")), lambda menu: disabled.append(
        not next(a for a in menu.actions() if a.objectName() == "node_products").isEnabled()))
    assert disabled == [True]  # nothing made yet

    assert window.run_graph()
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)
    made = view.node_products("gen")
    assert len(made) == 1
    with_popup(qtbot, lambda: right_click(view, node_point(view, "gen")), choose("products"))
    assert window.tabs.currentWidget() is window.gallery
    qtbot.waitUntil(lambda: window.gallery.selected_ids() == made, timeout=3000)
    assert window.gallery.sidebar.order_id == tab.controller.run_state.order_id


# --- double-click on empty canvas ---------------------------------------------------------------------


def test_double_click_on_empty_canvas_adds_the_searched_node_there(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    view, graph = tab.view, tab.controller
    spot = QPoint(120, view.viewer.viewport().height() - 120)
    assert view.node_at(spot) is None

    def search(menu: QMenu) -> None:
        line = menu.findChild(QLineEdit)
        assert line is not None
        qtbot.keyClicks(line, "grays")
        qtbot.keyClick(line, Qt.Key.Key_Return)

    with_popup(qtbot, lambda: double_click(qtbot, view, spot), search)
    assert [n.type for n in graph.doc.nodes][-1] == "transform.grayscale"
    new_id = graph.doc.nodes[-1].id
    expected = view.viewer.mapToScene(spot)
    x, y = graph.position(new_id)  # type: ignore[misc]
    assert abs(x - expected.x()) < 2 and abs(y - expected.y()) < 2
    assert not view.viewer.LMB_state and not view.viewer._rubber_band.isVisible()
    graph.undo_stack.undo()
    assert len(graph.doc.nodes) == 3


def test_double_click_on_a_node_still_opens_its_properties(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, three_nodes())
    activated: list[str] = []
    tab.view.node_activated.connect(activated.append)
    double_click(qtbot, tab.view, node_point(tab.view, "small"))
    qtbot.wait(20)
    assert activated == ["small"]
    assert QApplication.activePopupWidget() is None


def test_after_the_node_menu_the_canvas_knows_the_right_button_is_up(qtbot: Any, window: MainWindow) -> None:
    """The menu takes the right button's release; NodeGraphQt must not go on thinking the button is down."""
    tab = open_tab(window, three_nodes())
    view = tab.view
    at = node_point(view, "gen")
    qtbot.mousePress(view.viewer.viewport(), Qt.MouseButton.RightButton, pos=at)
    assert view.viewer.RMB_state
    assert with_popup(qtbot, lambda: right_click(view, at), lambda menu: None) == ["NodeMenu"]
    assert not view.viewer.RMB_state
