"""Lineage as a user walks it in the main window: product → its graph → a tweaked re-run → export → restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.models import Order
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.main_window import MainWindow
from artfactory.views.viewer.product_dialog import ProductDialog

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


def poster_graph() -> GraphDocument:
    return GraphDocument(name="Poster", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox in a snowy forest"}),
        NodeSpec("gen", "provider.local", {"width": 96, "height": 96}),  # random seed: resolved and recorded
        NodeSpec("small", "transform.resize", {"width": 48, "height": 48}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")])


def run_to_end(qtbot: Any, win: MainWindow, tab: GraphTab) -> str:
    win.tabs.setCurrentWidget(tab)
    order_id = win.run_graph()
    assert order_id
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=60_000)
    assert tab.controller.run_state.order_status == "succeeded"
    return order_id


def statuses(tab: GraphTab) -> dict[str, str]:
    return {n.id: tab.controller.run_state.get(n.id).status for n in tab.controller.doc.nodes}  # type: ignore[union-attr]


def product_of(win: MainWindow, tab: GraphTab, node_id: str) -> str:
    run = tab.controller.run_state.get(node_id)
    assert run is not None and run.products
    return run.products[0][0]


def show_in_gallery(qtbot: Any, win: MainWindow, product_id: str) -> None:
    gallery = win.show_gallery()
    gallery.refresh()
    assert gallery.reveal(product_id)
    qtbot.waitUntil(lambda: gallery.viewer.product_id == product_id, timeout=3000)


def test_the_gallery_is_a_tab_beside_the_canvases(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    run_to_end(qtbot, window, tab)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.gallery
    assert window.current_tab() is None and not window.menu_actions["run"].isEnabled()
    # Products made by the run show up without a manual refresh (live while orders run).
    qtbot.waitUntil(lambda: window.gallery.model.total == 2, timeout=5000)
    bar = window.tabs.tabBar()
    assert bar is not None and bar.tabButton(window.tabs.indexOf(window.gallery), bar.ButtonPosition.RightSide) is None


def test_open_graph_from_a_product_selects_and_highlights_its_node(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    order_id = run_to_end(qtbot, window, tab)
    product_id = product_of(window, tab, "gen")
    tab.controller.set_param("small", "width", 40)  # the open graph moves on; the order's snapshot does not
    show_in_gallery(qtbot, window, product_id)
    before = len(window.graph_tabs())
    window.gallery.viewer.open_graph_action.trigger()
    assert len(window.graph_tabs()) == before + 1
    opened = window.current_tab()
    assert opened is not None and opened is not tab
    assert [n.id for n in opened.controller.doc.nodes] == ["prompt", "gen", "small"]
    assert opened.controller.doc.node("small").params["width"] == 48  # type: ignore[union-attr]
    assert opened.view.selected_ids() == ["gen"]
    assert opened.view.node_item("gen").highlighted  # type: ignore[union-attr]
    assert not opened.view.node_item("small").highlighted  # type: ignore[union-attr]
    assert opened.controller.parent_order_id is None and order_id in window.statusBar().currentMessage()


def test_rerun_with_tweaks_reuses_every_cached_node_and_links_the_order(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    first = run_to_end(qtbot, window, tab)
    show_in_gallery(qtbot, window, product_of(window, tab, "small"))
    window.gallery.viewer.rerun_action.trigger()
    rerun = window.current_tab()
    assert rerun is not None and rerun is not tab and rerun.controller.parent_order_id == first
    assert rerun.controller.dirty  # not saved anywhere: closing asks
    rerun.controller.set_param("small", "width", 32)
    second = run_to_end(qtbot, window, rerun)
    # The random seed of `gen` was kept, so only the tweaked node ran.
    assert statuses(rerun) == {"prompt": "cached", "gen": "cached", "small": "executed"}
    with window.app.library.db.session() as session:
        order = session.get(Order, second)
        assert order is not None and order.parent_order_id == first
    detail = window.app.product_detail(product_of(window, rerun, "small"))
    assert (detail.width, detail.parent_order_id) == (32, first)


def test_a_node_thumbnail_opens_the_product_window_with_lineage(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    order_id = run_to_end(qtbot, window, tab)
    product_id = product_of(window, tab, "small")
    tab.view.product_activated.emit(product_id)  # what a click on the node's thumbnail sends
    dialog = window.product_window
    assert isinstance(dialog, ProductDialog) and dialog.isVisible()
    assert dialog.detail is not None and (dialog.detail.order_id, dialog.detail.node_id) == (order_id, "small")
    assert dialog.viewer.lineage.value("prompt") == "a red fox in a snowy forest"
    dialog.viewer.open_graph_action.trigger()  # from the window straight back to the producing node
    opened = window.current_tab()
    assert opened is not None and opened.view.selected_ids() == ["small"]
    assert window.open_product("0" * 20) is None  # a product that is gone: a clear message, no window
    assert window.last_error is not None and "no longer in the library" in window.last_error.text()
    window.last_error.close()


def drop_files(tab: GraphTab, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    tab.view.viewer.dropEvent(event)  # Qt ignores a drop with no drag in progress, so deliver it directly


def test_export_then_drop_on_the_canvas_restores_the_graph(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    run_to_end(qtbot, window, tab)
    show_in_gallery(qtbot, window, product_of(window, tab, "gen"))
    files = window.gallery.export_selected(tmp_path / "out")
    png = next(f for f in files if f.suffix == ".png")
    sidecar = next(f for f in files if f.name.endswith(".artfactory.json"))
    original = tab.controller.doc

    for carrier in (png, sidecar):
        before = len(window.graph_tabs())
        drop_files(tab, [carrier])
        assert len(window.graph_tabs()) == before + 1
        restored = window.current_tab()
        assert restored is not None and restored.controller.path is None  # never saved over the export
        assert [(n.id, n.type) for n in restored.controller.doc.nodes] == [(n.id, n.type) for n in original.nodes]
        assert restored.controller.doc.edges == original.edges
        window.tabs.setCurrentWidget(tab)

    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.new("RGB", (8, 8), "white").save(plain)
    before = len(window.graph_tabs())
    drop_files(tab, [plain])
    # An image that carries no graph is imported and taken in by an input.product node (issue 14), not opened.
    qtbot.waitUntil(lambda: any(n.type == "input.product" for n in tab.controller.doc.nodes), timeout=10_000)
    assert len(window.graph_tabs()) == before and window.last_error is None


def test_reveal_finds_a_product_beyond_the_loaded_pages_through_its_order(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    order_id = run_to_end(qtbot, window, tab)
    first = product_of(window, tab, "gen")
    for text in ("a blue whale", "a green owl", "a grey cat"):  # newer products push the first one down
        tab.controller.set_param("prompt", "text", text)
        run_to_end(qtbot, window, tab)
    gallery = window.show_gallery()
    gallery.model.page_size = 2
    gallery.refresh()
    assert gallery.reveal(first, max_pages=1)
    assert gallery.selected_ids() == [first] and gallery.viewer.product_id == first
    assert gallery.model.total == 2 and gallery.sidebar.order_id == order_id


def test_an_empty_grid_says_what_to_do_next(qtbot: Any, window: MainWindow) -> None:
    gallery = window.show_gallery()
    assert gallery.model.total == 0 and gallery.view.empty_text == gallery.view.EMPTY_LIBRARY
    tab = window.add_graph(window.app.new_graph(poster_graph()))
    run_to_end(qtbot, window, tab)
    window.show_gallery()
    gallery.refresh()
    assert gallery.model.total == 2
    gallery.sidebar.search.setText("zebra submarine")
    gallery.sidebar.search.returnPressed.emit()
    qtbot.waitUntil(lambda: gallery.model.total == 0, timeout=3000)
    assert gallery.view.empty_text == gallery.view.EMPTY_FILTER
