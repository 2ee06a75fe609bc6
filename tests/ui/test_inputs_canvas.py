"""Inputs on the canvas and lineage in the viewer: gallery and desktop drops, Made from / Used in, the ancestry view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from artfactory.services.library import Library
from artfactory.services.transfer import import_paths
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.gallery.model import PRODUCT_MIME
from artfactory.views.main_window import MainWindow
from artfactory.views.viewer.ancestry import AncestryDialog
from artfactory.views.viewer.viewer import ProductViewer
from tests.support.cli import GRAPHS, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


def _drop(tab: GraphTab, mime: QMimeData, at: QPointF) -> None:
    event = QDropEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    tab.view.viewer.dropEvent(event)  # Qt ignores a drop with no drag in progress, so deliver it directly


def _png(path: Path, colour: str) -> Path:
    Image.new("RGB", (24, 16), colour).save(path)
    return path


def _input_nodes(tab: GraphTab, type_name: str) -> list[Any]:
    return [n for n in tab.controller.doc.nodes if n.type == type_name]


def test_products_dragged_from_the_gallery_become_an_input_product_node_at_the_drop_point(
        qtbot: Any, window: MainWindow, library: Library, tmp_path: Path) -> None:
    imported = import_paths(library, [_png(tmp_path / "a.png", "red"), _png(tmp_path / "b.png", "blue")],
                            project_id=library.project_id())
    ids = [p.id for p in imported.products]
    gallery = window.show_gallery()
    gallery.refresh()
    model = gallery.model
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    indexes = [model.index(row, 0) for row in range(model.rowCount())]
    mime = model.mimeData(indexes)  # what a drag out of the gallery carries: product ids and the files' URLs
    assert mime.hasFormat(PRODUCT_MIME) and mime.hasUrls()
    tab = window.files.new_graph()
    assert tab is not None
    tabs_before = len(window.graph_tabs())
    view = tab.view.viewer
    at = QPointF(140, 90)
    scene = view.mapToScene(at.toPoint())
    _drop(tab, mime, at)
    [node] = _input_nodes(tab, "input.product")
    assert sorted(node.params["products"].split()) == sorted(ids)
    assert tab.controller.position(node.id) == pytest.approx((int(scene.x()), int(scene.y())))
    assert len(window.graph_tabs()) == tabs_before  # nothing was opened as a graph
    assert tab.view.selected_ids() == [node.id]
    tab.controller.undo_stack.undo()
    assert not _input_nodes(tab, "input.product")
    tab.controller.undo_stack.redo()
    assert len(_input_nodes(tab, "input.product")) == 1


def test_desktop_images_are_imported_and_taken_in_and_a_folder_becomes_input_folder(
        qtbot: Any, window: MainWindow, library: Library, tmp_path: Path) -> None:
    tab = window.files.new_graph()
    assert tab is not None
    photos = tmp_path / "photos"
    photos.mkdir()
    files = [_png(tmp_path / "sky.png", "skyblue"), _png(tmp_path / "sea.png", "navy")]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in [*files, photos]])
    tabs_before = len(window.graph_tabs())
    _drop(tab, mime, QPointF(60, 60))
    [folder_node] = _input_nodes(tab, "input.folder")
    assert folder_node.params["folder"] == str(photos)
    qtbot.waitUntil(lambda: bool(_input_nodes(tab, "input.product")), timeout=10_000)
    [node] = _input_nodes(tab, "input.product")
    ids = node.params["products"].split()
    with library.db.session() as db:
        from artfactory.models import Product

        names = [db.get(Product, i).name for i in ids]  # type: ignore[union-attr]
    assert names == ["sky", "sea"]
    assert len(window.graph_tabs()) == tabs_before
    # Dropped again: nothing new is stored, the node takes the same products (duplicates are recognised).
    _drop(tab, mime, QPointF(200, 60))
    qtbot.waitUntil(lambda: len(_input_nodes(tab, "input.product")) == 2, timeout=10_000)
    assert _input_nodes(tab, "input.product")[1].params["products"].split() == ids


def test_a_dropped_graph_file_still_opens_as_a_graph(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    tab = window.files.new_graph()
    assert tab is not None
    graph = tmp_path / "fox.json"
    graph.write_text((GRAPHS / "fox-posters.json").read_text())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(graph))])
    before = len(window.graph_tabs())
    _drop(tab, mime, QPointF(10, 10))
    opened = window.current_tab()
    assert opened is not None and opened.controller.path == graph.resolve()
    assert len(window.graph_tabs()) >= before  # the untouched empty tab makes way for it
    assert not _input_nodes(opened, "input.product")


def _two_orders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    fox = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    small = fox["nodes"]["small"]["products"][0]
    graph = tmp_path / "take.json"
    graph.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "take",
        "nodes": [{"id": "take", "type": "input.product", "params": {"products": small}},
                  {"id": "gray", "type": "transform.grayscale", "params": {}}],
        "edges": [{"from": ["take", "media"], "to": ["gray", "image"]}]}))
    run = run_cli(capsys, "run", graph, "--json").json
    return {"gen": fox["nodes"]["gen"]["products"][0], "small": small, "gray": run["nodes"]["gray"]["products"][0],
            "order": run["order_id"]}


def test_the_lineage_panel_lists_made_from_and_used_in_and_walks_them(
        qtbot: Any, library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _two_orders(tmp_path, capsys)
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    viewer.show_product(ids["gray"])
    panel = viewer.lineage
    assert f"href='product:{ids['small']}'" in panel.value("made_from")
    assert panel.value("used_in") == "—"
    panel.fields["made_from"].linkActivated.emit(f"product:{ids['small']}")  # a click on the link
    assert viewer.product_id == ids["small"]
    used = panel.value("used_in")
    assert f"href='product:{ids['gray']}'" in used and f"order {ids['order']}" in used
    orders: list[str] = []
    viewer.order_requested.connect(orders.append)
    panel.fields["used_in"].linkActivated.emit(ids["order"])
    assert orders == [ids["order"]]


def test_the_ancestry_view_walks_back_to_the_first_prompt(
        qtbot: Any, library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _two_orders(tmp_path, capsys)
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    viewer.show_product(ids["gray"])
    assert "ancestry:" in viewer.lineage.value("ancestry")
    viewer.lineage.fields["ancestry"].linkActivated.emit(f"ancestry:{ids['gray']}")
    dialog = viewer.ancestry_dialog
    assert isinstance(dialog, AncestryDialog) and dialog.isVisible()
    tree = dialog.tree
    top = tree.topLevelItem(0)
    assert top is not None and tree.topLevelItemCount() == 1
    chain = [top.data(0, Qt.ItemDataRole.UserRole)]
    item = top
    while item.childCount():
        item = item.child(0)
        chain.append(item.data(0, Qt.ItemDataRole.UserRole))
    assert chain == [ids["gray"], ids["small"], ids["gen"]]
    assert "2 order(s)" in dialog.summary.text()
    assert "a red fox under a golden sunset, poster" in dialog.summary.text()
    tree.itemActivated.emit(item, 0)  # double-click the first product: the viewer shows it
    assert viewer.product_id == ids["gen"]
    dialog.close()
