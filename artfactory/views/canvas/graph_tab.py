"""A canvas tab: one graph's view plus the edit commands that act on its selection and the clipboard."""

from __future__ import annotations

import json

from PyQt6.QtCore import QMimeData
from PyQt6.QtWidgets import QApplication, QVBoxLayout, QWidget

from artfactory.controllers.graph_controller import FRAGMENT_FORMAT, GraphController
from artfactory.views.canvas.graph_view import GraphView

FRAGMENT_MIME = "application/x-artfactory-fragment"


class GraphTab(QWidget):
    def __init__(self, controller: GraphController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        controller.setParent(self)  # the graph lives and dies with its tab, not with the garbage collector
        self.view = GraphView(controller, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.autosave_key = ""

    def copy(self) -> int:
        ids = self.view.selected_ids()
        if not ids:
            return 0
        text = json.dumps(self.controller.fragment(ids), indent=1, ensure_ascii=False)
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
        mime.setText(text)  # pasteable into another Art Factory window or a text editor
        clipboard = QApplication.clipboard()
        if clipboard is not None:
            clipboard.setMimeData(mime)
        return len(ids)

    def paste(self) -> list[str]:
        clipboard = QApplication.clipboard()
        mime = clipboard.mimeData() if clipboard is not None else None
        if mime is None:
            return []
        raw = bytes(mime.data(FRAGMENT_MIME).data()).decode("utf-8") if mime.hasFormat(FRAGMENT_MIME) \
            else mime.text()
        try:
            fragment = json.loads(raw)
        except ValueError:
            fragment = None
        if not (isinstance(fragment, dict) and fragment.get("format") == FRAGMENT_FORMAT):
            self.controller.message.emit("Nothing to paste: the clipboard holds no Art Factory nodes")
            return []
        new_ids = self.controller.paste(fragment, at=self.view.drop_point())
        self.view.select(new_ids)
        return new_ids

    def duplicate(self) -> list[str]:
        return self.view.duplicate(self.view.selected_ids())

    def delete_selection(self) -> None:
        self.controller.delete(self.view.selected_ids(), self.view.selected_backdrops())
