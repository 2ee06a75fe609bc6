"""Per-user UI state (QSettings), recent files, and autosave with crash recovery in the library's autosave/."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, QTimer, pyqtSignal

from artfactory.config import APP_NAME
from artfactory.engine import document as graph_document
from artfactory.engine.document import DocumentError, GraphDocument

UI_SETTINGS_ENV = "ARTFACTORY_UI_SETTINGS"
MAX_RECENT = 10
LOCK_NAME = "session-{pid}.lock"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to someone else
        return True
    return True


def ui_settings() -> QSettings:
    """Window layout, recent files and the chosen library folder; a file of its own when the
    environment names one (tests, screenshots and benchmarks never touch the user's real settings)."""
    path = os.environ.get(UI_SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, APP_NAME)


def recent_files() -> list[Path]:
    value = ui_settings().value("recentFiles", [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [Path(p) for p in items if isinstance(p, str) and p]


def remember_file(path: Path) -> list[Path]:
    path = Path(path).resolve()
    items = [path, *[p for p in recent_files() if p != path]][:MAX_RECENT]
    settings = ui_settings()
    settings.setValue("recentFiles", [str(p) for p in items])
    settings.sync()
    return items


def forget_file(path: Path) -> None:
    settings = ui_settings()
    settings.setValue("recentFiles", [str(p) for p in recent_files() if p != Path(path)])
    settings.sync()


@dataclass
class Recovered:
    """A graph left behind by a session that did not exit cleanly."""

    doc: GraphDocument
    original_path: Path | None
    saved_at: float
    files: tuple[Path, Path]


class Autosave(QObject):
    """Writes dirty graphs to autosave/ every `interval_s`; a clean exit removes them again.

    Each session holds a lock file named with its pid; autosaves of a session whose process is gone
    (a crash, a kill, a power cut) are offered for restore on the next start.
    """

    saved = pyqtSignal(int)  # number of graphs written

    def __init__(self, home: Path, interval_s: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = home / "autosave"
        self.pid = os.getpid()
        self._sources: dict[str, object] = {}  # key -> a GraphController-like object (doc, path, dirty)
        self._serial = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)
        self.set_interval(interval_s)

    def set_interval(self, interval_s: int) -> None:
        if interval_s > 0:
            self.timer.start(int(interval_s * 1000))
        else:
            self.timer.stop()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / LOCK_NAME.format(pid=self.pid)).write_text(str(time.time()), encoding="utf-8")

    def track(self, graph: object) -> str:
        self._serial += 1
        key = f"{self.pid}-{self._serial}"
        self._sources[key] = graph
        return key

    def untrack(self, graph: object) -> None:
        for key, source in list(self._sources.items()):
            if source is graph:
                del self._sources[key]
                self._remove(key)

    def save_now(self) -> int:
        written = 0
        for key, graph in self._sources.items():
            if not getattr(graph, "dirty", False):
                self._remove(key)
                continue
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                doc: GraphDocument = graph.doc  # type: ignore[attr-defined]
                doc.save(self.folder / f"{key}.json")
                path = getattr(graph, "path", None)
                info = {"path": str(path) if path else None, "saved_at": time.time(), "name": doc.name}
                (self.folder / f"{key}.info.json").write_text(json.dumps(info), encoding="utf-8")
                written += 1
            except OSError:
                continue  # the next tick tries again; autosave must never interrupt the user
        if written:
            self.saved.emit(written)
        return written

    def _remove(self, key: str) -> None:
        for suffix in (".json", ".info.json"):
            (self.folder / f"{key}{suffix}").unlink(missing_ok=True)

    def clean_exit(self) -> None:
        """Everything was saved or deliberately discarded: leave nothing to restore."""
        self.timer.stop()
        for key in list(self._sources):
            self._remove(key)
        self._sources.clear()
        (self.folder / LOCK_NAME.format(pid=self.pid)).unlink(missing_ok=True)

    def left_behind(self) -> list[Recovered]:
        """Autosaves of sessions that are no longer running, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for info_file in self.folder.glob("*.info.json"):
            key = info_file.name[: -len(".info.json")]
            pid = int(key.split("-", 1)[0]) if key.split("-", 1)[0].isdigit() else 0
            if pid == self.pid or (_alive(pid) and (self.folder / LOCK_NAME.format(pid=pid)).exists()):
                continue
            doc_file = self.folder / f"{key}.json"
            try:
                info = json.loads(info_file.read_text(encoding="utf-8"))
                doc = graph_document.load(doc_file)
            except (OSError, ValueError, DocumentError):
                continue
            original = Path(info["path"]) if isinstance(info, dict) and info.get("path") else None
            saved_at = float(info.get("saved_at", 0.0)) if isinstance(info, dict) else 0.0
            found.append(Recovered(doc, original, saved_at, (doc_file, info_file)))
        return sorted(found, key=lambda r: r.saved_at, reverse=True)

    def discard(self, recovered: list[Recovered]) -> None:
        for item in recovered:
            for path in item.files:
                path.unlink(missing_ok=True)
        for lock in self.folder.glob("session-*.lock"):
            pid = lock.stem.split("-", 1)[1]
            if pid.isdigit() and int(pid) != self.pid and not _alive(int(pid)):
                lock.unlink(missing_ok=True)
