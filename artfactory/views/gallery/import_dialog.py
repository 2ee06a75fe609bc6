"""Importing files and folders: a worker thread with progress and cancel, then a summary of what was refused."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.services.library import Library
from artfactory.services.transfer import ImportResult, import_paths
from artfactory.views import theme


def outcome_of(reason: str) -> str:
    """The kind of refusal, in the user's words, from the storage layer's reason."""
    text = reason.lower()
    if "damaged" in text or "truncated" in text or "corrupt" in text:
        return "Corrupt"
    if "not an image" in text or "not an allowed type" in text or "images are not" in text:
        return "Not an image or video"
    return "Refused"


class ImportWorker(QObject):
    """Runs transfer.import_paths off the UI thread; every file is imported whole or not at all."""

    progress = pyqtSignal(int, int, str)  # index, total, file name
    finished = pyqtSignal(object)  # ImportResult

    def __init__(self, library: Library, paths: Sequence[Path], project_id: int, collection: str | None) -> None:
        super().__init__()
        self.library = library
        self.paths = list(paths)
        self.project_id = project_id
        self.collection = collection
        self.cancel_event = threading.Event()

    @pyqtSlot()
    def run(self) -> None:
        result = ImportResult()
        try:
            result = import_paths(self.library, self.paths, project_id=self.project_id, collection=self.collection,
                                  canceled=self.cancel_event.is_set,
                                  progress=lambda i, n, path: self.progress.emit(i, n, Path(path).name))
        except Exception as exc:  # an unexpected failure still ends the dialog with a message
            result.rejected.append((Path("…"), f"import stopped: {exc}"))
        self.finished.emit(result)


class ImportDialog(QDialog):
    """Shows progress while importing, then what came in, what was a duplicate and what was refused."""

    imported = pyqtSignal(list)  # ids of new products

    def __init__(self, library: Library, paths: Sequence[Path], project_id: int, collection: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import")
        self.setMinimumWidth(560)
        self.result_value: ImportResult | None = None
        self.canceled = False
        layout = QVBoxLayout(self)
        layout.setSpacing(theme.SPACING)
        self.status = QLabel(f"Preparing {len(paths)} item{'s' if len(paths) != 1 else ''}…")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        self.summary = QTreeWidget()
        self.summary.setHeaderLabels(["File", "Outcome", "Reason"])
        self.summary.setRootIsDecorated(False)
        header = self.summary.header()
        assert header is not None
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.summary.setVisible(False)
        layout.addWidget(self.summary, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self._cancel_or_close)
        layout.addWidget(self.buttons)

        self._thread = QThread(self)
        self.worker = ImportWorker(library, paths, project_id, collection)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.finished.connect(self._thread.quit)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning() and self.result_value is None

    def cancel(self) -> None:
        """Stop after the file being imported now (which completes or leaves nothing behind)."""
        self.canceled = True
        self.worker.cancel_event.set()
        self.status.setText("Canceling after the current file…")

    def _cancel_or_close(self) -> None:
        if self.result_value is None:
            self.cancel()
        else:
            self.accept()

    def reject(self) -> None:  # Esc and the window's close button
        self._cancel_or_close()

    @pyqtSlot(int, int, str)
    def _on_progress(self, index: int, total: int, name: str) -> None:
        self.bar.setRange(0, total)
        self.bar.setValue(index)
        if not self.canceled:
            self.status.setText(f"Importing {index + 1} of {total}: {name}")

    @pyqtSlot(object)
    def _on_finished(self, result: ImportResult) -> None:
        self.result_value = result
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        # A duplicate is listed among the products too (as the product it matched): count it once.
        listed = Counter(p.id for p in result.products)
        matched = Counter(product_id for _, product_id in result.duplicates)
        new = [product_id for product_id in listed if listed[product_id] > matched[product_id]]
        parts = [f"Imported {len(new)} file{'s' if len(new) != 1 else ''}"]
        if result.duplicates:
            parts.append(f"{len(result.duplicates)} already in the library")
        if result.rejected:
            parts.append(f"{len(result.rejected)} refused")
        if self.canceled:
            parts.append("canceled before the end")
        self.status.setText(" · ".join(parts) + ".")
        for path, reason in result.rejected:
            self._row(path, outcome_of(reason), reason, theme.STATUS_COLORS["failed"])
        for path, product_id in result.duplicates:
            self._row(path, "Duplicate", f"identical to product {product_id}", theme.STATUS_COLORS["skipped"])
        self.summary.setVisible(self.summary.topLevelItemCount() > 0)
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.adjustSize()
        self.imported.emit(new)

    def _row(self, path: Path, outcome: str, reason: str, color: str) -> None:
        item = QTreeWidgetItem([path.name, outcome, reason])
        item.setToolTip(0, str(path))
        item.setToolTip(2, reason)
        item.setForeground(1, QBrush(QColor(color)))
        item.setData(0, Qt.ItemDataRole.UserRole, str(path))
        self.summary.addTopLevelItem(item)

    def rows(self) -> list[tuple[str, str, str]]:
        """The summary as (file, outcome, reason) rows."""
        out = []
        for index in range(self.summary.topLevelItemCount()):
            item = self.summary.topLevelItem(index)
            if item is not None:
                out.append((item.text(0), item.text(1), item.text(2)))
        return out

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the worker thread is done (tests and shutdown)."""
        return self._thread.wait(timeout_ms)
