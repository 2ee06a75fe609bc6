"""`artfactory --selftest`: prove an installation (source tree or frozen app) works, one line per step."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

SELFTEST_GRAPH = "fox-posters.json"


class StepFailed(Exception):
    pass


def _step(name: str, action: Callable[[], str], results: list[tuple[str, bool, str]]) -> bool:
    started = time.perf_counter()
    with _callback_errors() as raised:
        try:
            detail = action()
        except Exception as exc:  # a failing step is reported, not raised: the summary names it
            raised.append(exc)
            if os.environ.get("ARTFACTORY_SELFTEST_DEBUG"):
                traceback.print_exc()
    ok = not raised
    if raised:
        detail = f"{type(raised[0]).__name__}: {raised[0]}"
    elapsed = (time.perf_counter() - started) * 1000
    results.append((name, ok, detail))
    print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail} ({elapsed:.0f} ms)", flush=True)
    return ok


@contextmanager
def _callback_errors() -> Iterator[list[BaseException]]:
    """Collect exceptions raised in Qt slots and worker threads while a step runs.

    Without a hook PyQt6 aborts the process on such an error, and the selftest could not name the step.
    """
    raised: list[BaseException] = []

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        raised.append(exc)
        if os.environ.get("ARTFACTORY_SELFTEST_DEBUG"):
            traceback.print_exception(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    saved = sys.excepthook, threading.excepthook
    sys.excepthook, threading.excepthook = hook, thread_hook
    try:
        yield raised
    finally:
        sys.excepthook, threading.excepthook = saved


def run_selftest(home: str | os.PathLike[str] | None = None) -> int:
    """Exit 0 when every step passes; otherwise 1, with the failing step named on stderr."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")  # the audio-device probing is noise here
    scratch = Path(tempfile.mkdtemp(prefix="artfactory-selftest-"))
    root = Path(home) if home is not None else scratch / "library"
    results: list[tuple[str, bool, str]] = []
    state: dict[str, Any] = {}
    from PyQt6.QtWidgets import QApplication

    from artfactory.controllers.session import UI_SETTINGS_ENV

    # The window saves its layout on close: into a scratch file, never over the user's own.
    saved_ui_settings = os.environ.get(UI_SETTINGS_ENV)
    os.environ[UI_SETTINGS_ENV] = str(scratch / "ui.ini")
    # The GUI application comes first, so the headless run below reuses it instead of a QCoreApplication.
    state["app"] = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        ok = _step("migrate", lambda: _migrate(root, state), results)
        ok = ok and _step("run example graph", lambda: _run_graph(state), results)
        ok = ok and _step("main window", lambda: _window(state), results)
        ok = ok and _step("video playback", _media_backend, results)
        ok = ok and _step("video encode", lambda: _video_encode(scratch), results)
        ok = ok and _step("postgresql driver", _postgres_driver, results)
        ok = ok and _step("about", lambda: _about(state), results)
    finally:
        library = state.get("library")
        if library is not None:
            library.close()
        if saved_ui_settings is None:
            os.environ.pop(UI_SETTINGS_ENV, None)
        else:
            os.environ[UI_SETTINGS_ENV] = saved_ui_settings
        shutil.rmtree(scratch, ignore_errors=True)
    failed = [name for name, passed, _ in results if not passed]
    if failed:
        print(f"selftest FAILED at step: {failed[0]}", file=sys.stderr)
        return 1
    print(f"selftest passed: {len(results)} steps")
    return 0


def _migrate(root: Path, state: dict[str, Any]) -> str:
    from artfactory.models.db import head_revision
    from artfactory.services.library import Library

    library = Library.open(root)
    state["library"] = library
    return f"library at {root} on schema {head_revision()}, {len(library.registry)} node types"


def _run_graph(state: dict[str, Any]) -> str:
    from artfactory.config import shipped_graphs_dir
    from artfactory.engine import document
    from artfactory.engine.status import OrderStatus
    from artfactory.services import lineage
    from artfactory.workers.headless import HeadlessSession

    library = state["library"]
    path = shipped_graphs_dir() / SELFTEST_GRAPH
    doc = document.load(path)
    session = HeadlessSession(library)
    order_id, status = session.run(session.plan(doc), project_id=library.project_id())
    if status != OrderStatus.SUCCEEDED:
        raise StepFailed(f"order {order_id} ended {status}")
    with library.db.session() as db:
        result = lineage.run_result(library, db, order_id)
    missing = [p["path"] for p in result["products"] if not Path(p["path"]).is_file()]
    if missing:
        raise StepFailed(f"product files missing: {missing}")
    return f"{doc.name}: {len(result['nodes'])} nodes, {len(result['products'])} products"


def _window(state: dict[str, Any]) -> str:
    from PyQt6.QtWidgets import QApplication, QGraphicsView

    from artfactory.app import create_main_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):
        raise StepFailed("a non-GUI Qt application is already running")
    window = create_main_window(state["library"])
    window.files.new_graph()  # as at start-up: an empty graph on the node canvas
    window.show()
    app.processEvents()
    title = window.windowTitle()
    canvases = [view for view in window.findChildren(QGraphicsView) if type(view).__module__.startswith("NodeGraphQt")]
    window.close()
    app.processEvents()
    if "Art Factory" not in title:
        raise StepFailed(f"unexpected window title {title!r}")
    if not canvases:
        raise StepFailed("the window has no node canvas (NodeGraphQt did not load)")
    return f"opened and closed offscreen ({title}, with the node canvas)"


def _media_backend() -> str:
    """Qt Multimedia finds its FFmpeg backend, without which the viewer cannot play a video product."""
    from PyQt6.QtMultimedia import QMediaFormat, QMediaPlayer

    player = QMediaPlayer()
    available = player.isAvailable()
    player.deleteLater()
    if not available:
        raise StepFailed("no Qt Multimedia backend (is the FFmpeg plugin and its libraries bundled?)")
    decoders = QMediaFormat().supportedVideoCodecs(QMediaFormat.ConversionMode.Decode)
    return f"Qt Multimedia backend with {len(decoders)} video decoders"


def _video_encode(scratch: Path) -> str:
    """PyAV (the video nodes' FFmpeg) writes an H.264 MP4 and reads its frames back."""
    from PIL import Image

    from nodes.video_io import Mp4Writer, decoded_frames, open_video

    path = scratch / "selftest.mp4"
    writer = Mp4Writer(path, width=64, height=48, fps=12, crf=23)
    for shade in range(0, 240, 40):
        writer.add_image(Image.new("RGB", (64, 48), (shade, 80, 200 - shade // 2)))
    writer.close()
    container = open_video(path, "selftest", "selftest.mp4")
    try:
        frames = sum(1 for _ in decoded_frames(container, "selftest", "selftest.mp4"))
    finally:
        container.close()
    if frames != 6:
        raise StepFailed(f"wrote 6 frames, read back {frames}")
    return f"H.264 MP4 written and read back ({frames} frames, {path.stat().st_size} bytes)"


def _postgres_driver() -> str:
    """The PostgreSQL driver a team library needs is there (a URL is parsed and a dialect loaded; nothing connects)."""
    import psycopg
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://selftest@127.0.0.1:1/selftest")
    name = engine.dialect.driver
    engine.dispose()
    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__} implementation) through SQLAlchemy's {name}"


def _about(state: dict[str, Any]) -> str:
    """The About dialog lists every bundled library with its version and licence (read from package metadata,
    which a frozen build only has if the spec copied it)."""
    from PyQt6.QtWidgets import QApplication

    from artfactory.controllers.app_controller import BUNDLED, AppController
    from artfactory.views.dialogs.info import AboutDialog

    controller = AppController(state["library"])
    dialog = AboutDialog(controller)
    dialog.show()
    QApplication.processEvents()
    rows = [dialog.libraries.topLevelItem(i) for i in range(dialog.libraries.topLevelItemCount())]
    listed = {_canonical(row.text(0)): (row.text(1), row.text(2)) for row in rows if row is not None}
    dialog.close()
    dialog.deleteLater()
    missing = [name for name in BUNDLED if _canonical(name) not in listed]
    if missing:
        raise StepFailed(f"no package metadata for {', '.join(missing)}")
    unknown = [name for name, (version, licence) in listed.items() if version in ("", "?") or not licence]
    if unknown:
        raise StepFailed(f"no version or licence for {', '.join(unknown)}")
    return f"version {controller.version()}, {len(listed)} bundled libraries with their licences"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
