"""`artfactory --selftest`: prove an installation (source tree or frozen app) works, one line per step."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SELFTEST_GRAPH = "fox-posters.json"


class StepFailed(Exception):
    pass


def _step(name: str, action: Callable[[], str], results: list[tuple[str, bool, str]]) -> bool:
    started = time.perf_counter()
    try:
        detail = action()
        ok = True
    except Exception as exc:  # a failing step is reported, not raised: the summary names it
        detail = f"{type(exc).__name__}: {exc}"
        if os.environ.get("ARTFACTORY_SELFTEST_DEBUG"):
            traceback.print_exc()
        ok = False
    elapsed = (time.perf_counter() - started) * 1000
    results.append((name, ok, detail))
    print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail} ({elapsed:.0f} ms)", flush=True)
    return ok


def run_selftest(home: str | os.PathLike[str] | None = None) -> int:
    """Exit 0 when every step passes; otherwise 1, with the failing step named on stderr."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    temporary = home is None
    root = Path(tempfile.mkdtemp(prefix="artfactory-selftest-")) if temporary else Path(home)  # type: ignore[arg-type]
    results: list[tuple[str, bool, str]] = []
    state: dict[str, Any] = {}
    from PyQt6.QtWidgets import QApplication

    # The GUI application comes first, so the headless run below reuses it instead of a QCoreApplication.
    state["app"] = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        ok = _step("migrate", lambda: _migrate(root, state), results)
        ok = ok and _step("run example graph", lambda: _run_graph(state), results)
        ok = ok and _step("main window", lambda: _window(state), results)
    finally:
        library = state.get("library")
        if library is not None:
            library.close()
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
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
    from artfactory.services import lineage
    from artfactory.workers.headless import HeadlessSession

    library = state["library"]
    path = shipped_graphs_dir() / SELFTEST_GRAPH
    doc = document.load(path)
    session = HeadlessSession(library)
    order_id, status = session.run(session.plan(doc), project_id=library.project_id())
    if status != "succeeded":
        raise StepFailed(f"order {order_id} ended {status}")
    with library.db.session() as db:
        result = lineage.run_result(library, db, order_id)
    missing = [p["path"] for p in result["products"] if not Path(p["path"]).is_file()]
    if missing:
        raise StepFailed(f"product files missing: {missing}")
    return f"{doc.name}: {len(result['nodes'])} nodes, {len(result['products'])} products"


def _window(state: dict[str, Any]) -> str:
    from PyQt6.QtWidgets import QApplication

    from artfactory.app import create_main_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):
        raise StepFailed("a non-GUI Qt application is already running")
    window = create_main_window(state["library"])
    window.show()
    app.processEvents()
    title = window.windowTitle()
    window.close()
    app.processEvents()
    if "Art Factory" not in title:
        raise StepFailed(f"unexpected window title {title!r}")
    return f"opened and closed offscreen ({title})"
