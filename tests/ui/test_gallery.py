"""The gallery driven as a user would: paging, filters, lineage, re-run, compare, collections, import, video, delete."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PyQt6.QtCore import QMimeData, QPointF, QSize, Qt, QTimer, QUrl
from PyQt6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PyQt6.QtMultimedia import (
    QMediaCaptureSession,
    QMediaFormat,
    QMediaPlayer,
    QMediaRecorder,
    QVideoFrame,
    QVideoFrameInput,
)
from PyQt6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from artfactory.engine import document
from artfactory.services import lineage
from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library
from artfactory.services.thumbnails import THUMBNAIL_SIZES, thumbnail_path
from artfactory.services.transfer import graph_from_export, import_paths
from artfactory.views.gallery import gallery_widget as gallery_widget_module
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.gallery.model import PAGE_SIZE, Role, decode_product_ids
from artfactory.views.gallery.sidebar import COLLECTION_ID
from artfactory.views.viewer.compare import CompareWidget
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
    newest_first = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    assert product_ids(widget) == [r["id"] for r in newest_first]


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


# -- lineage: open graph, re-run, compare --------------------------------------------------------------
def test_open_graph_and_rerun_from_a_product(qtbot: QtBot, library: Library, session: HeadlessSession) -> None:
    order_id = run_graph(session)
    widget = make_widget(qtbot, library)
    small = next(r for r in widget.model.rows() if r.name == "small-2")
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


def test_compare_two_products_shows_param_and_graph_changes(qtbot: QtBot, library: Library,
                                                            session: HeadlessSession) -> None:
    first = run_graph(session)
    second = rerun_with(session, first, ["small.width=32"])
    gallery = Gallery(library)
    a = next(r for r in gallery.page(GalleryQuery(order_id=first)) if r.name == "small-1")
    b = next(r for r in gallery.page(GalleryQuery(order_id=second)) if r.name == "small-1")
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


def test_export_carries_the_graph_in_the_png_and_the_sidecar(qtbot: QtBot, library: Library,
                                                             session: HeadlessSession, tmp_path: Path) -> None:
    order_id = run_graph(session)
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    product = next(r for r in Gallery(library).page(GalleryQuery()) if r.name == "gen-1")
    viewer.show_product(product.id)
    files = viewer.export_to(tmp_path / "out")
    png = next(f for f in files if f.suffix == ".png")
    sidecar = next(f for f in files if f.name.endswith(".artfactory.json"))
    with library.db.session() as s:
        snapshot = lineage.order_detail(library, s, order_id)["graph"]
    assert graph_from_export(png) == snapshot
    assert graph_from_export(sidecar) == snapshot
    assert document.from_json(graph_from_export(png)).node("gen") is not None


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
    if not make_video(qtbot, path):
        pytest.skip("this Qt build cannot encode a test video (no FFmpeg MPEG-4 encoder)")
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
    victim = next(r for r in widget.model.rows() if r.name == "gen-3")
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
