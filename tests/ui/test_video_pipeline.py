"""An assembled MP4 in the app: the viewer plays it, the gallery shows its PyAV poster frame without Qt's grabber."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtMultimedia import QMediaPlayer
from pytestqt.qtbot import QtBot

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.thumbnails import THUMBNAIL_SIZES, thumbnail_path
from artfactory.services.transfer import import_paths
from artfactory.views.gallery import thumbs
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.gallery.model import Role
from artfactory.views.viewer.viewer import ProductViewer
from artfactory.workers.headless import HeadlessSession
from tests.support.videos import make_video


def assembled(library: Library) -> str:
    """A 2 s H.264 MP4 (24 frames at 12 fps) made by video.assemble from provider.local images."""
    doc = GraphDocument(
        nodes=[NodeSpec("prompt", "prompt.lines", {"text": "\n".join(f"a lantern {i}" for i in range(24))}),
               NodeSpec("gen", "provider.local", {"seed": 3, "width": 64, "height": 64}),
               NodeSpec("movie", "video.assemble", {"fps": 12})],
        edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "movie", "images")])
    session = HeadlessSession(library)
    order_id, status = session.run(session.plan(doc), project_id=library.project_id())
    assert status == "succeeded"
    with library.db.session() as db:
        (movie,) = lineage.run_result(library, db, order_id)["nodes"]["movie"]["products"]
    return str(movie)


def test_the_viewer_plays_an_assembled_mp4(qtbot: QtBot, library: Library) -> None:
    product_id = assembled(library)
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    viewer.resize(640, 480)
    viewer.show()
    viewer.show_product(product_id)
    video, states = viewer.video, QMediaPlayer.PlaybackState
    assert viewer.stack.currentWidget() is video
    qtbot.waitUntil(lambda: video.state == states.PausedState, timeout=10_000)  # the first frame decoded
    assert video.player.error() == QMediaPlayer.Error.NoError
    assert video.player.duration() == pytest.approx(2000, abs=150)
    assert viewer.lineage.value("size").endswith(" · 2.0 s · 12 fps · h264 · no audio")
    video.play()
    qtbot.waitUntil(lambda: video.player.position() > 300, timeout=5000)
    video.pause()


def test_a_frame_shows_where_in_its_video_it_was_taken(qtbot: QtBot, library: Library, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    doc = GraphDocument(nodes=[NodeSpec("clip", "input.video", {"path": str(clip)}),
                               NodeSpec("still", "video.thumbnail", {"time": 0.5})],
                        edges=[EdgeSpec("clip", "video", "still", "video")])
    session = HeadlessSession(library)
    order_id, _ = session.run(session.plan(doc), project_id=library.project_id())
    with library.db.session() as db:
        nodes = lineage.run_result(library, db, order_id)["nodes"]
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    viewer.show_product(nodes["still"]["products"][0])
    assert viewer.lineage.value("size").endswith(" · frame 6 at 0.50 s")
    viewer.show_product(nodes["clip"]["products"][0])
    assert " · 12 fps · h264 · no audio" in viewer.lineage.value("size")


def test_the_gallery_thumbnails_a_video_with_pyav(qtbot: QtBot, library: Library, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0, size=(96, 64))
    result = import_paths(library, [clip], project_id=library.project_id())
    (product,) = result.products
    assert not thumbnail_path(library.home, "medium", product.id).exists()
    grabbed: list[str] = []
    monkeypatch.setattr(thumbs.VideoPosterGrabber, "request", lambda _self, pid, _src: grabbed.append(pid))
    widget = GalleryWidget(library)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: widget.model.row_of(product.id) is not None, timeout=5000)
    index = widget.model.index(widget.model.row_of(product.id) or 0)
    index.data(Role.THUMBNAIL)  # as painting does
    qtbot.waitUntil(lambda: index.data(Role.THUMBNAIL) is not None, timeout=10_000)
    assert grabbed == [], "the poster came from PyAV, not from playing the video in Qt"
    for size in THUMBNAIL_SIZES:
        assert thumbnail_path(library.home, size, product.id).is_file()
