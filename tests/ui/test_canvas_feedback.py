"""What the canvas tells the user: framing on open, clean repaints, out-of-date results, link-drag hints,
GUI words for a missing key, readable product names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QColor, QKeyEvent
from PyQt6.QtWidgets import QApplication

from artfactory.controllers.gui_errors import for_gui
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.providers.http import error_from_response
from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.canvas.graph_view import GraphView
from artfactory.views.canvas.node_item import FOOTER_H, STALE_OPACITY
from artfactory.views.dialogs.preferences import KEYS_PAGE, PreferencesDialog
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window, when_popup_opens

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    # As at start-up: an empty graph tab is current when the user opens a file.
    with opened_window(qtbot, library, new_graph=True) as win:
        yield win


def chain(prompt: str = "a red fox") -> GraphDocument:
    return GraphDocument(name="chain", nodes=[
        NodeSpec("prompt", "prompt.lines", {"text": prompt}),
        NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
        NodeSpec("small", "transform.resize", {"width": 32, "height": 32}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}, "small": {"pos": [640, 0]}}})


def far_away(offset: float) -> GraphDocument:
    """Nodes far from the origin and spread wider than the view: only a real fit shows them all."""
    return GraphDocument(name="far", nodes=[NodeSpec(f"n{i}", "prompt.text", {"text": "x"}) for i in range(3)],
                         meta={"canvas": {"n0": {"pos": [offset + 3000, 2000]}, "n1": {"pos": [offset + 5200, 2400]},
                                          "n2": {"pos": [offset + 4000, 3600]}}})


def all_in_view(view: GraphView) -> bool:
    viewer = view.viewer
    visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    return bool(view._nodes) and all(visible.contains(n.view.sceneBoundingRect()) for n in view._nodes.values())


def press_ctrl(widget: Any) -> None:
    """Ctrl, then Shift, go down (as on the way to Ctrl+Shift+S). Qt 6 reports a modifier key's own press
    without its modifier, so the Shift press is the one that makes NodeGraphQt write "CTRL: Deselect Nodes"."""
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Control, ctrl))
    QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Shift, ctrl | shift))


def run_and_wait(qtbot: Any, win: MainWindow) -> None:
    assert win.run_graph()
    tab = win.current_tab()
    assert tab is not None
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)


# --- 15: framing, repaint, modifier hint -------------------------------------------------------------------


def test_an_opened_graph_is_framed(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "far.json"
    far_away(0).save(path)
    tab = window.files.open_file(path)
    assert tab is not None
    qtbot.waitUntil(lambda: all_in_view(tab.view), timeout=2000)
    # Open Recent goes through the same door; a second file opened over a graph tab is framed too.
    other = tmp_path / "other.json"
    far_away(-20000).save(other)
    window.files._open_recent(other)
    second = window.current_tab()
    assert second is not None and second is not tab
    qtbot.waitUntil(lambda: all_in_view(second.view), timeout=2000)


def test_restored_graphs_are_framed_when_their_tab_shows(qtbot: Any, window: MainWindow) -> None:
    # Restored graphs come up in tabs behind one another: each is framed when the user gets to it.
    tabs = [window.add_graph(window.app.new_graph(far_away(offset))) for offset in (-30000, 30000)]
    for tab in tabs:
        window.tabs.setCurrentWidget(tab)
        qtbot.waitUntil(lambda tab=tab: all_in_view(tab.view), timeout=2000)


def test_a_node_that_shrinks_leaves_no_ghost_of_its_footer(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    tab = window.add_graph(window.app.new_graph(chain()))
    qtbot.wait(50)
    item = tab.view.node_item("gen")
    assert item is not None
    item.set_run("executed", 100.0, [], [("p1", tmp_path / "missing.png")])  # a thumbnail row: the node grows
    qtbot.wait(50)
    tall = item.sceneBoundingRect()
    old_footer = QPointF(tall.center().x(), tall.bottom() - FOOTER_H / 2)
    item.set_run(None, 0.0, [], [])  # and shrinks again
    qtbot.wait(50)
    assert not item.sceneBoundingRect().contains(old_footer)
    # What is on screen (the window's backing store, not a fresh render) shows the canvas there.
    viewer = tab.view.viewer
    at = viewer.viewport().mapTo(window, viewer.mapFromScene(old_footer))
    screen = window.screen()
    assert screen is not None
    shot = screen.grabWindow(window.winId()).toImage()
    ratio = shot.devicePixelRatio()
    pixel = shot.pixelColor(round(at.x() * ratio), round(at.y() * ratio))
    assert pixel.name() != QColor(theme.NODE_BODY).name(), "the old footer is still painted"


def test_the_ctrl_hint_goes_when_focus_moves_away(qtbot: Any, window: MainWindow) -> None:
    tab = window.current_tab()
    assert tab is not None
    viewer = tab.view.viewer
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus, timeout=2000)
    press_ctrl(viewer)
    assert viewer._cursor_text.isVisible() and "CTRL" in viewer._cursor_text.toPlainText()
    window.properties.setFocus()  # e.g. Save As opened its dialog: the keys' release goes there
    qtbot.waitUntil(lambda: not viewer.hasFocus(), timeout=2000)
    assert not viewer._cursor_text.isVisible()
    assert not viewer.CTRL_state  # the next click is a plain click, not a Ctrl (deselect) click


def test_the_ctrl_hint_goes_after_a_ctrl_click(qtbot: Any, window: MainWindow) -> None:
    tab = window.current_tab()
    assert tab is not None
    viewer = tab.view.viewer
    viewer.setFocus()
    press_ctrl(viewer)
    assert viewer._cursor_text.isVisible()
    qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, QPoint(40, 40))
    qtbot.waitUntil(lambda: not viewer._cursor_text.isVisible(), timeout=1000)


# --- 16: out of date after an edit ------------------------------------------------------------------------


def test_a_param_edit_marks_the_node_and_its_descendants_out_of_date(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(chain()))
    graph, view = tab.controller, tab.view
    run_and_wait(qtbot, window)
    for node_id in ("gen", "small"):
        item = view.node_item(node_id)
        assert item is not None and item.status == "executed" and not item.stale
        assert item._thumbs and item._thumbs[0].image_opacity == 1.0 and item.status_label() == "executed · 1"

    assert graph.set_param("gen", "seed", 99)
    assert [n for n in ("prompt", "gen", "small") if graph.run_state.stale(n)] == ["gen", "small"]
    for node_id in ("gen", "small"):
        item = view.node_item(node_id)
        assert item is not None and item.stale
        assert item._thumbs[0].image_opacity == pytest.approx(STALE_OPACITY) and item._thumbs[0].stale
        assert item.status_label() == "out of date"
    assert not view.node_item("prompt").stale  # type: ignore[union-attr]

    # Undo puts the params back as they ran: the results are current again (not kept out of date).
    graph.undo_stack.undo()
    assert not any(graph.run_state.stale(n) for n in ("prompt", "gen", "small"))
    assert view.node_item("small")._thumbs[0].image_opacity == 1.0  # type: ignore[union-attr]
    assert view.node_item("small").status_label() == "executed · 1"  # type: ignore[union-attr]

    # A relinked input is an edit too; the next run makes everything current.
    graph.undo_stack.redo()
    run_and_wait(qtbot, window)
    assert not any(graph.run_state.stale(n) for n in ("prompt", "gen", "small"))


def test_an_edit_in_the_properties_panel_marks_out_of_date(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(chain()))
    run_and_wait(qtbot, window)
    tab.view.select(["small"])
    qtbot.waitUntil(lambda: "width" in window.properties.rows, timeout=2000)
    window.properties.rows["width"].field.editor.setValue(48)
    assert tab.controller.run_state.stale("small") and not tab.controller.run_state.stale("gen")
    assert tab.view.node_item("small").stale  # type: ignore[union-attr]


# --- 17: link drag hints, missing key, product names ----------------------------------------------------------


def test_dragging_a_link_lights_compatible_ports_and_dims_the_rest(qtbot: Any, window: MainWindow) -> None:
    doc = chain()
    doc.edges = []
    tab = window.add_graph(window.app.new_graph(doc))
    view = tab.view
    view.zoom_to_fit()
    qtbot.wait(20)
    viewport = view.viewer.viewport()

    def port(node_id: str, name: str, output: bool) -> Any:
        node = view._nodes[node_id]
        return (node.outputs() if output else node.inputs())[name].view

    start = port("prompt", "text", True)
    press = view.viewer.mapFromScene(start.sceneBoundingRect().center())
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=press)
    qtbot.mouseMove(viewport, press + QPoint(60, 90))
    fits, refused = port("gen", "prompt", False), port("small", "image", False)
    assert fits.graphicsEffect() is not None and fits.opacity() == 1.0  # text → text: lit
    assert refused.graphicsEffect() is None and refused.opacity() < 0.5  # text → image: dimmed
    assert port("gen", "image", True).opacity() < 0.5  # an output cannot take an output
    # Dropped on empty canvas: the node search for what takes a text opens; dismissed, nothing changes.
    assert when_popup_opens(qtbot, lambda: qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton,
                                                               pos=press + QPoint(60, 90)), lambda menu: None)
    qtbot.wait(10)
    for node_id, name, output in (("gen", "prompt", False), ("small", "image", False), ("gen", "image", True)):
        item = port(node_id, name, output)
        assert item.graphicsEffect() is None and item.opacity() == 1.0  # the normal look is back
    assert tab.controller.doc.edges == []


def test_a_missing_key_sends_the_user_to_preferences(qtbot: Any, window: MainWindow) -> None:
    doc = GraphDocument(name="cloud", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a fox"}),
        NodeSpec("cloud", "provider.replicate", {"model": "owner/model"}),
    ], edges=[EdgeSpec("prompt", "text", "cloud", "prompt")])
    tab = window.add_graph(window.app.new_graph(doc))
    run_and_wait(qtbot, window)
    run = tab.controller.run_state.get("cloud")
    assert run is not None and run.status == "failed"
    assert run.error == "No API key for Replicate — add it in Preferences → API keys"
    assert "artfactory" not in run.error  # no CLI command for a GUI user
    assert tab.view.node_item("cloud").errors == [run.error]  # type: ignore[union-attr]
    order = window.app.runs.orders[tab.controller.run_state.order_id]  # type: ignore[index]
    assert order.nodes["cloud"].error == run.error  # the Runs panel
    assert "Preferences → API keys" in window.statusBar().currentMessage()  # type: ignore[union-attr]
    assert window.key_button.isVisible() and "Replicate" in window.key_button.text()

    window.key_button.click()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PreferencesDialog) and w.isVisible())
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == KEYS_PAGE
    qtbot.waitUntil(lambda: dialog.keys["replicate"].field.hasFocus(), timeout=2000)
    assert not window.key_button.isVisible()
    dialog.reject()


def test_product_names_are_the_node_title_and_an_index(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(chain("a red fox\na blue owl")))
    tab.controller.rename_node("gen", "Fox art")
    run_and_wait(qtbot, window)
    order_id = tab.controller.run_state.order_id
    rows = Gallery(window.app.library).page(GalleryQuery(order_id=order_id))
    assert sorted(r.name for r in rows) == ["Fox art · 1", "Fox art · 2", "Small · 1", "Small · 2"]


def test_a_refused_key_points_to_preferences_too() -> None:
    refused = error_from_response(httpx.Response(401, json={"detail": "Invalid token"}), "replicate", "start the job")
    shown = for_gui(refused.code, str(refused), "replicate")
    assert "artfactory keys" not in shown and shown.endswith("check the key in Preferences → API keys")
    assert "Invalid token" in shown  # the provider's own words stay
