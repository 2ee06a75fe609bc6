"""The gallery driven as a user would: paging, filters, lineage, re-run, compare, collections, import, video, delete."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PyQt6.QtCore import QEvent, QMimeData, QPoint, QPointF, QSize, Qt, QTimer, QUrl
from PyQt6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage, QMouseEvent
from PyQt6.QtMultimedia import (
    QMediaCaptureSession,
    QMediaFormat,
    QMediaPlayer,
    QMediaRecorder,
    QVideoFrame,
    QVideoFrameInput,
)
from PyQt6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from artfactory.engine import document
from artfactory.services import lineage
from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library
from artfactory.services.thumbnails import THUMBNAIL_SIZES, thumbnail_path
from artfactory.services.transfer import graph_from_export, import_paths
from artfactory.views.gallery import gallery_widget as gallery_widget_module
from artfactory.views.gallery import thumbs
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.gallery.import_dialog import ImportDialog
from artfactory.views.gallery.model import PAGE_SIZE, Role, decode_product_ids
from artfactory.views.gallery.sidebar import COLLECTION_COUNT, COLLECTION_ID
from artfactory.views.gallery.thumbs import ThumbnailLoader
from artfactory.views.viewer import viewer as viewer_module
from artfactory.views.viewer.compare import CompareWidget
from artfactory.views.viewer.media import ImageView
from artfactory.views.viewer.viewer import ProductViewer
from artfactory.workers.headless import HeadlessSession
from tests.unit.test_gallery_queries import make_products

GRAPH = {
    "format": "artfactory.graph", "version": 1, "name": "Fox posters",
    "nodes": [
        {"id": "prompt", "type": "prompt.lines", "params": {"text": "a red fox\na blue whale\nan owl at night"}},
        {"id": "gen", "type": "provider.local", "params": {"seed": 7, "width": 96, "height": 96}},
        {"id": "small", "type": "transform.resize", "params": {"width": 48, "height": 48, "mode": "fit"}},
        {"id": "keep", "type": "collection.add", "params": {"collection": "Foxes"}},
    ],
    "edges": [
        {"from": ["prompt", "text"], "to": ["gen", "prompt"]},
        {"from": ["gen", "image"], "to": ["small", "image"]},
        {"from": ["small", "image"], "to": ["keep", "media"]},
    ],
}


@pytest.fixture
def library(library_home: Path) -> Iterator[Library]:
    lib = Library.open(library_home)
    yield lib
    lib.close()


@pytest.fixture
def session(qapp: QApplication, library: Library) -> HeadlessSession:
    return HeadlessSession(library)


def run_graph(session: HeadlessSession, graph: dict[str, Any] = GRAPH) -> str:
    order_id, status = session.run(session.plan(document.from_json(graph)), project_id=session.library.project_id())
    assert status == "succeeded"
    return order_id


def make_widget(qtbot: QtBot, library: Library) -> GalleryWidget:
    widget = GalleryWidget(library)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()
    return widget


def wait_idle(qtbot: QtBot, widget: GalleryWidget) -> None:
    """Let queued queries, thumbnail results and timers run."""
    qtbot.wait(20)
    widget.loader.wait_idle()
    QApplication.processEvents()


def product_ids(widget: GalleryWidget) -> list[str]:
    return [row.id for row in widget.model.rows()]


# -- paging ------------------------------------------------------------------------------------------
def test_model_fetches_pages_on_demand_never_all_rows(qtbot: QtBot, library: Library) -> None:
    rows = make_products(library, 5000)
    widget = make_widget(qtbot, library)
    model, view = widget.model, widget.view
    assert model.total == 5000
    loaded = model.rowCount()
    assert 0 < loaded < 5000 and loaded % PAGE_SIZE == 0, "only the pages that fill the screen are loaded"
    assert model.canFetchMore()
    bar = view.verticalScrollBar()
    assert bar is not None
    seen = [loaded]
    while model.canFetchMore():
        bar.setValue(bar.maximum())  # the user drags the scroll bar to the end
        QApplication.processEvents()
        seen.append(model.rowCount())
        assert seen[-1] - seen[-2] <= PAGE_SIZE * 2, "a page or two per scroll to the end, not everything"
        assert len(seen) < 500
    assert model.rowCount() == 5000 and not model.canFetchMore()
    assert model.fetched_pages == -(-5000 // PAGE_SIZE), "each page was queried once"
    newest_first = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    assert product_ids(widget) == [r["id"] for r in newest_first]
    # The row count the view lays out with stays in step with the rows through removals, and a cell
    # cannot be edited in place (renaming goes through the gallery service).
    doomed = [newest_first[i]["id"] for i in (0, 1, 2, 700, 4999)]
    model.remove_products(doomed)
    assert model.rowCount() == len(model.rows()) == 4995 and model.total == 4995
    assert product_ids(widget) == [r["id"] for r in newest_first if r["id"] not in doomed]
    assert model.row_of(newest_first[3]["id"]) == 0 and model.row_of(doomed[3]) is None
    first = model.index(0)
    assert not model.flags(first) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(first, "renamed") and first.data() == newest_first[3]["name"]


def test_sidebar_filters_combine_and_search_is_debounced(qtbot: QtBot, library: Library) -> None:
    make_products(library, 1500)
    make_products(library, 100, seed=4, project="Client")
    widget = make_widget(qtbot, library)
    gallery, bar = Gallery(library), widget.sidebar
    assert widget.model.total == 1600

    bar.project.setCurrentIndex(bar.project.findText("Default"))
    bar.media.setCurrentIndex(bar.media.findData("image"))
    bar.rating.setCurrentIndex(bar.rating.findData(3))
    QApplication.processEvents()
    query = GalleryQuery(project_id=library.project_id(), media_type="image", min_rating=3)
    assert widget.model.total == gallery.count(query) > 0
    widget.model.load_all_for_test()
    assert {(r.media_type, r.rating >= 3) for r in widget.model.rows()} == {("image", True)}

    bar.node_type.setCurrentIndex(bar.node_type.findData("provider.fal"))
    bar.favourites.setChecked(True)
    QApplication.processEvents()
    query = query.with_(node_type="provider.fal", favourites_only=True)
    assert widget.model.total == gallery.count(query)

    total_before = widget.model.total
    bar.favourites.setChecked(False)
    QApplication.processEvents()
    qtbot.keyClicks(bar.search, "owl")
    QApplication.processEvents()
    assert widget.model.query.search == "", "typing does not query on every key"
    qtbot.waitUntil(lambda: widget.model.query.search == "owl", timeout=2000)
    assert widget.model.total == gallery.count(query.with_(favourites_only=False, search="owl"))
    assert widget.model.total != total_before or total_before == 0

    bar.dates.setCurrentIndex(bar.dates.findData("custom"))
    assert bar.custom_dates.isVisibleTo(bar)
    bar.reset()
    QApplication.processEvents()
    assert widget.model.total == 1600 and widget.model.query == widget.query()

    widget.sort.setCurrentIndex(widget.sort.findText("Name A–Z"))
    QApplication.processEvents()
    names = [r.name for r in widget.model.rows()]
    assert names == sorted(names)


# -- thumbnails and live updates ---------------------------------------------------------------------
def test_thumbnails_load_off_the_ui_thread_with_a_placeholder_first(qtbot: QtBot, library: Library,
                                                                   session: HeadlessSession) -> None:
    run_graph(session)
    victim = Gallery(library).page(GalleryQuery(), limit=1)[0].id
    for size in THUMBNAIL_SIZES:
        thumbnail_path(library.home, size, victim).unlink()
    widget = GalleryWidget(library)  # not shown yet: nothing painted, nothing requested
    qtbot.addWidget(widget)
    widget.model.fetchMore()
    index = widget.model.index(widget.model.row_of(victim) or 0)
    assert index.data(Role.THUMBNAIL) is None  # the placeholder is painted meanwhile
    qtbot.waitUntil(lambda: index.data(Role.THUMBNAIL) is not None, timeout=5000)
    assert thumbnail_path(library.home, "small", victim).is_file(), "the missing thumbnail was made"
    assert widget.loader.cached_bytes > 0


def test_new_products_appear_live_while_an_order_runs(qtbot: QtBot, library: Library,
                                                      session: HeadlessSession) -> None:
    widget = make_widget(qtbot, library)
    widget.attach_executor(session.executor)
    assert widget.model.total == 0
    order_id = run_graph(session)
    qtbot.waitUntil(lambda: widget.model.total == 6, timeout=3000)
    with library.db.session() as s:
        made = set(lineage.order_product_ids(s, order_id))
    assert set(product_ids(widget)) == made
    qtbot.waitUntil(lambda: widget.orders.orders.topLevelItemCount() == 1, timeout=3000)


def _thumbnail_file(library: Library, product_id: str, color: tuple[int, int, int]) -> None:
    path = thumbnail_path(library.home, "small", product_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (96, 96), color).save(path, "WEBP")


def test_thumbnail_cache_is_a_least_recently_used_cache_bounded_in_bytes(qtbot: QtBot, library: Library) -> None:
    ids = ["p0", "p1", "p2"]
    for n, product_id in enumerate(ids):
        _thumbnail_file(library, product_id, (80 * n, 90, 200))
    one = 96 * 96 * 4
    loader = ThumbnailLoader(library.home, edge=96, cache_bytes=int(one * 2.5), threads=1)

    def load(product_id: str) -> None:
        with qtbot.waitSignal(loader.loaded, check_params_cb=lambda pid: pid == product_id, timeout=5000):
            loader.request(product_id, "/no/source/needed", "image")

    load("p0")
    load("p1")
    assert loader.pixmap("p0") is not None  # looked at again: now the most recently used
    load("p2")
    assert loader.pixmap("p1") is None, "the least recently used went"
    assert loader.pixmap("p0") is not None and loader.pixmap("p2") is not None
    assert loader.cached_bytes == 2 * one <= int(one * 2.5)
    assert loader.pixmap("p2").size() == QSize(96, 96) and loader.pending() == 0


def test_scrolling_drops_thumbnail_requests_for_cells_scrolled_past(qtbot: QtBot, library: Library,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    make_products(library, 3000)
    gate = threading.Event()
    load = thumbs._Worker._load

    def held(self: Any, *args: Any) -> Any:  # the workers wait, so what is queued stays queued
        gate.wait(10)
        return load(self, *args)

    monkeypatch.setattr(thumbs._Worker, "_load", held)
    widget = make_widget(qtbot, library)
    view, model, loader = widget.view, widget.model, widget.loader
    try:
        assert loader.pending() > 0, "the first screen asked for its thumbnails"
        bar = view.verticalScrollBar()
        asked = 0
        for _ in range(6):  # a fast fling, a screen and more at a time
            bar.setValue(bar.value() + 2 * view.viewport().height())
            QApplication.processEvents()
            first, last = view.visible_rows()
            asked += last - first + 1
        on_screen = model.ids_between(*view.visible_rows())
        assert 0 < loader.pending() <= len(on_screen) + 3, "queued: what is on screen (and what workers hold)"
        assert asked > 2 * (len(on_screen) + 3), "far more cells went by than are queued"
    finally:
        gate.set()
        loader.wait_idle()


# -- lineage: open graph, re-run, compare --------------------------------------------------------------
def test_open_graph_and_rerun_from_a_product(qtbot: QtBot, library: Library, session: HeadlessSession) -> None:
    order_id = run_graph(session)
    widget = make_widget(qtbot, library)
    small = next(r for r in widget.model.rows() if r.name == "Small · 2")
    widget.select_products([small.id])
    assert widget.viewer.product_id == small.id
    assert widget.viewer.lineage.value("node") == "small (transform.resize)"
    assert order_id in widget.viewer.lineage.value("order") and "succeeded" in widget.viewer.lineage.value("order")
    assert widget.viewer.lineage.value("prompt") == "a blue whale"
    with qtbot.waitSignal(widget.open_graph_requested) as opened:
        widget.viewer.open_graph_action.trigger()
    assert opened.args == [order_id, "small"]
    with qtbot.waitSignal(widget.rerun_requested) as rerun:
        widget.viewer.rerun_action.trigger()
    assert rerun.args == [order_id]
    with qtbot.waitSignal(widget.product_activated) as activated:
        widget.view.activated.emit(widget.model.index(widget.model.row_of(small.id) or 0))
    assert activated.args == [small.id]


def rerun_with(session: HeadlessSession, order_id: str, sets: list[str]) -> str:
    library = session.library
    with library.db.session() as s:
        doc, pinned, project_id = lineage.rerun_document(library, s, order_id, sets, reroll=False)
    new_id, status = session.run(session.plan(doc, pinned_seeds=pinned), project_id=project_id,
                                 parent_order_id=order_id)
    assert status == "succeeded"
    return new_id


def test_rerun_with_tweaks_executes_only_the_tweaked_node_and_its_dependents(
        library: Library, session: HeadlessSession) -> None:
    first = run_graph(session)
    second = rerun_with(session, first, ["small.width=32"])
    with library.db.session() as s:
        detail = lineage.order_detail(library, s, second)
    assert detail["parent_order_id"] == first
    assert {i["node_id"]: i["status"] for i in detail["items"]} == {
        "prompt": "cached", "gen": "cached", "small": "executed", "keep": "executed"}


def test_the_lineage_panel_of_a_rerun_product_shows_where_it_came_from(qtbot: QtBot, library: Library,
                                                                       session: HeadlessSession) -> None:
    first = run_graph(session)
    second = rerun_with(session, first, ["small.width=32"])
    gen = next(r for r in Gallery(library).page(GalleryQuery(order_id=first)) if r.name == "Gen · 1")
    # Names are numbered through the project: the re-run's resizes are "Small · 4" to "· 6", never a second "Small · 1".
    small = next(r for r in Gallery(library).page(GalleryQuery(order_id=second)) if r.name == "Small · 4")
    names = [r.name for r in Gallery(library).page(GalleryQuery())]
    assert len(names) == len(set(names))
    widget = make_widget(qtbot, library)
    panel = widget.viewer.lineage
    widget.select_products([gen.id])
    assert (panel.value("seed"), panel.value("provider")) == ("7", "local")
    assert panel.value("model") == "procedural/illustration"
    assert panel.value("parent") == "—" and panel.value("size").startswith("96×96 · ")
    assert panel.value("created") not in ("", "—")
    widget.select_products([small.id])
    assert panel.value("prompt") == "a red fox" and panel.value("node") == "small (transform.resize)"
    assert second in panel.value("order") and "succeeded" in panel.value("order")
    assert first in panel.value("parent")
    assert panel.value("size").startswith("32×")
    params = {panel.params.topLevelItem(i).text(0): panel.params.topLevelItem(i).text(1)
              for i in range(panel.params.topLevelItemCount())}
    assert params == {"width": "32", "height": "48", "mode": "fit"}
    with qtbot.waitSignal(widget.viewer.order_requested) as clicked:
        panel.fields["parent"].linkActivated.emit(first)
    assert clicked.args == [first]


def test_compare_two_products_shows_param_and_graph_changes(qtbot: QtBot, library: Library,
                                                            session: HeadlessSession) -> None:
    first = run_graph(session)
    second = rerun_with(session, first, ["small.width=32"])
    gallery = Gallery(library)
    a = next(r for r in gallery.page(GalleryQuery(order_id=first)) if r.name == "Small · 1")
    b = next(r for r in gallery.page(GalleryQuery(order_id=second)) if r.name == "Small · 4")
    widget = make_widget(qtbot, library)
    widget.select_products([a.id, b.id])
    assert widget.compare_button.isEnabled()
    dialog = widget.compare_selected()
    assert dialog is not None
    qtbot.addWidget(dialog)
    compare: CompareWidget = dialog.compare
    rows = compare.rows()
    assert ("Params of the producing node", "width", "48", "32") in rows
    assert ("Graph snapshot", "width", "48", "32") in rows
    assert any(section == "Graph snapshot" and what.startswith("small (") for section, what, *_ in rows)
    assert not any(what.startswith("gen (") for _, what, *_ in rows), "the untouched node did not change"
    assert compare.left.view.has_image() and compare.right.view.has_image()
    compare.left.view.set_zoom(2.0)
    assert compare.right.view.zoom == pytest.approx(2.0)
    compare.swap()
    assert ("Params of the producing node", "width", "32", "48") in compare.rows()


# -- collections ------------------------------------------------------------------------------------
def drop(target: QWidget, mime: QMimeData, pos: QPointF) -> QDropEvent:
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(target, QDragEnterEvent(pos.toPoint(), actions, mime, buttons, mods))
    QApplication.sendEvent(target, QDragMoveEvent(pos.toPoint(), actions, mime, buttons, mods))
    event = QDropEvent(pos, actions, mime, buttons, mods)
    QApplication.sendEvent(target, event)
    return event


def test_dragging_products_onto_a_collection_adds_them(qtbot: QtBot, library: Library,
                                                       session: HeadlessSession) -> None:
    run_graph(session)
    widget = make_widget(qtbot, library)
    sidebar = widget.sidebar
    picks = sidebar.create_collection("Picks")
    assert picks is not None
    ids = product_ids(widget)[:2]
    widget.select_products(ids)
    mime = widget.model.mimeData(widget.view.selectedIndexes())
    assert decode_product_ids(mime) == ids and len(mime.urls()) == 2
    collections = sidebar.collections
    item = next(collections.item(i) for i in range(collections.count())
                if collections.item(i).data(COLLECTION_ID) == picks)
    viewport = collections.viewport()
    spot = QPointF(collections.visualItemRect(item).center())  # the list is rebuilt after a drop
    event = drop(viewport, mime, spot)
    assert event.isAccepted()
    assert Gallery(library).count(GalleryQuery(collection_id=picks)) == 2
    assert "Added 2 products" in widget.message_label.text()
    counts = {collections.item(i).data(COLLECTION_ID): collections.item(i).data(COLLECTION_COUNT)
              for i in range(collections.count())}
    assert counts[picks] == 2, "the sidebar shows the new count"

    not_products = QMimeData()
    not_products.setText("hello")
    assert not drop(viewport, not_products, spot).isAccepted()
    assert Gallery(library).count(GalleryQuery(collection_id=picks)) == 2

    sidebar.set_collection(picks)
    QApplication.processEvents()
    assert set(product_ids(widget)) == set(ids)
    widget.select_products(ids[:1])
    widget.remove_selected_from_collection()
    assert product_ids(widget) == ids[1:]
    assert Gallery(library).count(GalleryQuery(collection_id=picks)) == 1
    assert sidebar.rename_collection(picks, "Favourite picks")
    assert sidebar.collections.currentItem().text() == "Favourite picks"
    sidebar.delete_collection(picks)
    QApplication.processEvents()
    assert widget.model.query.collection_id is None and widget.model.total == 6


# -- import and export --------------------------------------------------------------------------------
def test_import_lists_impostor_corrupt_and_duplicate_files_and_imports_nothing_of_them(
        qtbot: QtBot, library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    Image.new("RGB", (40, 30), (200, 60, 20)).save(folder / "good.png")
    shutil.copy(folder / "good.png", folder / "same-again.png")
    (folder / "impostor.png").write_text("this is not an image, whatever its name says")
    (folder / "truncated.png").write_bytes((folder / "good.png").read_bytes()[:80])
    widget = make_widget(qtbot, library)
    dialog = widget.import_files([folder])
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10_000)
    dialog.wait()
    outcomes = {name: outcome for name, outcome, _ in dialog.rows()}
    assert outcomes == {"impostor.png": "Not an image or video", "truncated.png": "Corrupt",
                        "same-again.png": "Duplicate"}
    assert "Imported 1 file" in dialog.status.text()
    qtbot.waitUntil(lambda: widget.model.total == 1, timeout=2000)
    stored = [p for p in (library.home / "products").rglob("*") if p.is_file()]
    assert len(stored) == 1, "no file of a refused import is left in the library"
    assert list(library.storage.temp_dir.iterdir()) == []


def test_import_can_be_canceled_and_leaves_only_whole_products(qtbot: QtBot, library: Library,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        Image.new("RGB", (24, 24), (i * 30, 80, 160)).save(folder / f"img-{i}.png")
    seen: list[tuple[int, int]] = []
    dialog = ImportDialog(library, [folder], library.project_id())
    qtbot.addWidget(dialog)
    dialog.show()

    def on_progress(index: int, total: int, _name: str) -> None:
        seen.append((index, total))
        if index == 2:  # the user presses Cancel while the third file is being imported
            dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()

    # Blocking: the worker waits for the click, so where it stops does not depend on timing.
    dialog.worker.progress.connect(on_progress, Qt.ConnectionType.BlockingQueuedConnection)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10_000)
    dialog.wait()
    assert seen == [(0, 8), (1, 8), (2, 8)]
    assert dialog.canceled and len(dialog.result_value.products) == 3
    assert dialog.status.text() == "Imported 3 files · canceled before the end."
    assert (dialog.bar.minimum(), dialog.bar.maximum()) == (0, 1) and dialog.bar.value() == 1
    gallery = Gallery(library)
    rows = gallery.page(GalleryQuery())
    stored = sorted(p for p in (library.home / "products").rglob("*") if p.is_file())
    assert len(rows) == 3 and stored == sorted(library.storage.absolute(r.path) for r in rows)
    assert list(library.storage.temp_dir.iterdir()) == []
    dialog.buttons.button(QDialogButtonBox.StandardButton.Close).click()
    assert not dialog.isVisible()


def test_dropping_files_on_the_grid_imports_them(qtbot: QtBot, library: Library, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (20, 20), (0, 90, 200)).save(tmp_path / "drop.png")
    widget = make_widget(qtbot, library)
    started: list[Any] = []
    monkeypatch.setattr(widget, "import_files", lambda paths: started.append(paths))
    widget.view.files_dropped.disconnect()
    widget.view.files_dropped.connect(widget.import_files)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "drop.png"))])
    event = drop(widget.view.viewport(), mime, QPointF(50, 50))
    assert event.isAccepted()
    assert started == [[tmp_path / "drop.png"]]


def test_reveal_file_opens_the_folder_that_holds_it(qtbot: QtBot, library: Library, session: HeadlessSession,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run_graph(session)
    opened: list[QUrl] = []
    monkeypatch.setattr(viewer_module.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    widget = make_widget(qtbot, library)
    product = widget.model.row_at(0)
    widget.select_products([product.id])
    widget.viewer.reveal_action.trigger()
    assert [Path(url.toLocalFile()) for url in opened] == [library.storage.absolute(product.path).parent]


def test_export_carries_the_graph_in_the_png_and_the_sidecar(qtbot: QtBot, library: Library,
                                                             session: HeadlessSession, tmp_path: Path) -> None:
    order_id = run_graph(session)
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    product = next(r for r in Gallery(library).page(GalleryQuery()) if r.name == "Gen · 1")
    viewer.show_product(product.id)
    files = viewer.export_to(tmp_path / "out")
    png = next(f for f in files if f.suffix == ".png")
    sidecar = next(f for f in files if f.name.endswith(".artfactory.json"))
    with library.db.session() as s:
        snapshot = lineage.order_detail(library, s, order_id)["graph"]
    assert graph_from_export(png) == snapshot
    assert graph_from_export(sidecar) == snapshot
    assert document.from_json(graph_from_export(png)).node("gen") is not None


def _drag(view: QWidget, start: QPoint, end: QPoint) -> None:
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    for kind, pos, button, buttons in ((QEvent.Type.MouseButtonPress, start, left, left),
                                       (QEvent.Type.MouseMove, (start + end) / 2, none, left),
                                       (QEvent.Type.MouseMove, end, none, left),
                                       (QEvent.Type.MouseButtonRelease, end, left, none)):
        point = QPointF(pos)
        QApplication.sendEvent(view, QMouseEvent(kind, point, QPointF(view.mapToGlobal(pos)), button, buttons, mods))


def test_image_view_fits_shows_actual_size_zooms_and_pans(qtbot: QtBot, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (1600, 1200), (30, 120, 200)).save(big)
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    zooms: list[float] = []
    view.zoom_changed.connect(zooms.append)
    assert view.load(big) and view.has_image()
    assert view.fitting and view.zoom == pytest.approx(min(view.viewport().width() / 1600,
                                                           view.viewport().height() / 1200), rel=0.02)
    shown = view.mapFromScene(view.sceneRect()).boundingRect()
    assert view.viewport().rect().contains(shown.adjusted(1, 1, -1, -1)), "fit shows all of it"
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.zoom == 1.0 and not view.fitting and zooms[-1] == 1.0
    hbar = view.horizontalScrollBar()
    assert hbar.maximum() > 1000, "at 1:1 the image is far wider than the view"
    view.zoom_in()
    assert view.zoom == pytest.approx(1.25)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom == pytest.approx(0.8)
    view.set_zoom(1000)
    assert view.zoom == pytest.approx(32.0), "zoom is bounded"
    view.actual_size()
    before = (hbar.value(), view.verticalScrollBar().value())
    _drag(view.viewport(), QPoint(300, 200), QPoint(200, 150))  # grab the image and move it left and up
    assert (hbar.value(), view.verticalScrollBar().value()) == (before[0] + 100, before[1] + 50), "dragging pans"
    view.resize(600, 450)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.fitting and view.zoom < 0.5
    small = tmp_path / "small.png"
    Image.new("RGB", (50, 40), (200, 60, 20)).save(small)
    assert view.load(small) and view.zoom == 1.0, "a small image is shown at its size, not blown up"


# -- video ---------------------------------------------------------------------------------------------
def make_video(qtbot: QtBot, path: Path, frames: int = 15, size: QSize = QSize(64, 48)) -> bool:
    """A real MP4 (MPEG-4 part 2) made with Qt's own FFmpeg: frames pushed through QVideoFrameInput."""
    capture = QMediaCaptureSession()
    source = QVideoFrameInput()
    recorder = QMediaRecorder()
    capture.setVideoFrameInput(source)
    capture.setRecorder(recorder)
    fmt = QMediaFormat(QMediaFormat.FileFormat.MPEG4)
    fmt.setVideoCodec(QMediaFormat.VideoCodec.MPEG4)
    recorder.setMediaFormat(fmt)
    recorder.setOutputLocation(QUrl.fromLocalFile(str(path)))
    sent = [0]

    def push() -> None:
        if sent[0] >= frames:
            if recorder.recorderState() == QMediaRecorder.RecorderState.RecordingState:
                recorder.stop()
            return
        image = QImage(size, QImage.Format.Format_RGB32)
        image.fill(QColor.fromHsv(sent[0] * 20 % 360, 200, 220))
        frame = QVideoFrame(image)
        frame.setStartTime(sent[0] * 100_000)
        frame.setEndTime((sent[0] + 1) * 100_000)
        if source.sendVideoFrame(frame):
            sent[0] += 1

    timer = QTimer()
    timer.timeout.connect(push)
    recorder.record()
    timer.start(2)
    try:
        qtbot.waitUntil(lambda: sent[0] >= frames
                        and recorder.recorderState() == QMediaRecorder.RecorderState.StoppedState, timeout=10_000)
    except AssertionError:
        return False
    finally:
        timer.stop()
    return path.is_file() and path.stat().st_size > 1000


@pytest.fixture
def video_product(qtbot: QtBot, library: Library, tmp_path: Path) -> str:
    path = tmp_path / "clip.mp4"
    # The pinned Qt ships FFmpeg with an MPEG-4 encoder; a build without one is a broken install, not a skip.
    assert make_video(qtbot, path), "Qt Multimedia could not encode the test video (no FFmpeg MPEG-4 encoder)"
    result = import_paths(library, [path], project_id=library.project_id())
    assert not result.rejected, result.rejected
    assert result.products[0].media_type == "video"
    return result.products[0].id


def test_video_product_plays_pauses_seeks_and_gets_a_poster_thumbnail(qtbot: QtBot, library: Library,
                                                                      video_product: str) -> None:
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    viewer.resize(800, 600)
    viewer.show()
    changed: list[str] = []
    viewer.product_changed.connect(changed.append)
    viewer.show_product(video_product)
    video, states = viewer.video, QMediaPlayer.PlaybackState
    assert viewer.stack.currentWidget() is video
    # The first frame is shown as a poster (played muted, then paused) and saved as the thumbnails.
    qtbot.waitUntil(lambda: video.state == states.PausedState, timeout=10_000)
    qtbot.waitUntil(lambda: changed == [video_product], timeout=5000)
    for size in THUMBNAIL_SIZES:
        assert thumbnail_path(library.home, size, video_product).is_file()
    assert video.player.duration() == pytest.approx(1500, abs=150)
    video.play()
    qtbot.waitUntil(lambda: video.state == states.PlayingState, timeout=5000)
    qtbot.waitUntil(lambda: video.player.position() > 200, timeout=5000)
    video.pause()
    qtbot.waitUntil(lambda: video.state == states.PausedState, timeout=5000)
    video.seek(1000)
    qtbot.waitUntil(lambda: abs(video.player.position() - 1000) < 150, timeout=5000)
    assert video.slider.value() == video.player.position()
    video.toggle()
    qtbot.waitUntil(lambda: video.state == states.PlayingState, timeout=5000)
    qtbot.waitUntil(lambda: video.player.mediaStatus() == QMediaPlayer.MediaStatus.EndOfMedia, timeout=5000)
    viewer.show_product(None)
    assert video.state == states.StoppedState


def test_gallery_makes_video_thumbnails_from_a_frame(qtbot: QtBot, library: Library, video_product: str) -> None:
    widget = make_widget(qtbot, library)
    index = widget.model.index(widget.model.row_of(video_product) or 0)
    index.data(Role.THUMBNAIL)  # as painting does
    qtbot.waitUntil(lambda: index.data(Role.THUMBNAIL) is not None, timeout=10_000)
    assert thumbnail_path(library.home, "medium", video_product).is_file()


# -- delete, rating, orders -----------------------------------------------------------------------------
def test_delete_removes_file_thumbnails_and_rows_together(qtbot: QtBot, library: Library,
                                                          session: HeadlessSession,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run_graph(session)
    widget = make_widget(qtbot, library)
    gallery = Gallery(library)
    victim = next(r for r in widget.model.rows() if r.name == "Gen · 3")
    file = library.storage.absolute(victim.path)
    assert file.is_file() and thumbnail_path(library.home, "small", victim.id).is_file()
    widget.select_products([victim.id])
    asked: list[str] = []
    monkeypatch.setattr(gallery_widget_module, "confirm", lambda _w, _t, text: asked.append(text) or False)
    assert widget.delete_selected() == 0 and gallery.row(victim.id) is not None, "answering No keeps it"
    monkeypatch.setattr(gallery_widget_module, "confirm", lambda *_: True)
    assert widget.delete_selected() == 1
    assert asked and "cannot be undone" in asked[0]
    assert gallery.row(victim.id) is None
    assert not file.exists()
    assert not any(thumbnail_path(library.home, size, victim.id).exists() for size in THUMBNAIL_SIZES)
    assert victim.id not in product_ids(widget) and widget.model.total == 5
    assert widget.viewer.product_id != victim.id, "the viewer moves on to a neighbour"


def test_rating_and_favourite_from_the_viewer_update_the_grid(qtbot: QtBot, library: Library,
                                                              session: HeadlessSession) -> None:
    run_graph(session)
    widget = make_widget(qtbot, library)
    target = widget.model.rows()[0]
    widget.select_products([target.id])
    widget.viewer.set_rating(4)
    widget.viewer.favourite_action.trigger()
    row = widget.model.row_at(widget.model.row_of(target.id) or 0)
    assert (row.rating, row.favourite) == (4, True)
    widget.sidebar.favourites.setChecked(True)
    QApplication.processEvents()
    assert product_ids(widget) == [target.id]
    widget.select_products([target.id])
    widget.toggle_favourite()
    QApplication.processEvents()
    assert widget.model.total == 0


def test_orders_panel_lists_runs_and_filters_the_gallery_by_order(qtbot: QtBot, library: Library,
                                                                  session: HeadlessSession) -> None:
    first = run_graph(session)
    second = rerun_with(session, first, ["small.mode=fill"])
    widget = make_widget(qtbot, library)
    orders = widget.orders
    assert orders.orders.topLevelItemCount() == 2
    top = orders.orders.topLevelItem(0)
    assert top.data(0, Qt.ItemDataRole.UserRole + 1) == second
    assert top.text(2) == "4 nodes · 2 cached"
    orders.select_order(second)
    QApplication.processEvents()
    with library.db.session() as s:
        expected = set(lineage.order_product_ids(s, second))
    assert set(product_ids(widget)) == expected and len(expected) == 6, "its own and the cached products"
    assert orders.nodes.topLevelItemCount() == 4
    assert f"re-run of <a href='{first}'>" in orders.info.text()
    with QtBot.waitSignal(qtbot, widget.open_graph_requested) as opened:
        orders.open_button.click()
    assert opened.args[0] == second
    orders.clear_selection()
    QApplication.processEvents()
    assert widget.model.total == 9
