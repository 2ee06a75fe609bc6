"""What the canvas shows about the latest run of one graph: status, progress, error and products per node."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

FINISHED = ("executed", "cached", "failed", "skipped", "canceled")


@dataclass
class NodeRun:
    status: str = "pending"
    percent: float = 0.0
    message: str = ""
    error: str = ""
    # (product id, medium thumbnail path) in output order; the path may not exist (e.g. a video)
    products: list[tuple[str, Path]] = field(default_factory=list)


class RunState(QObject):
    """Observable per-node run state; the run controller writes it, the canvas binds to it."""

    node_changed = pyqtSignal(str)  # node id
    reset = pyqtSignal()
    finished = pyqtSignal(str)  # order status

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.order_id: str | None = None
        self.order_status: str | None = None
        self.nodes: dict[str, NodeRun] = {}

    @property
    def running(self) -> bool:
        return self.order_id is not None and self.order_status in ("queued", "running")

    def begin(self, order_id: str, node_ids: list[str]) -> None:
        """A new order starts: every planned node is pending, the others keep what they showed before."""
        self.order_id = order_id
        self.order_status = "running"
        for node_id in node_ids:
            self.nodes[node_id] = NodeRun()
        self.reset.emit()

    def get(self, node_id: str) -> NodeRun | None:
        return self.nodes.get(node_id)

    def update(self, node_id: str, *, status: str | None = None, percent: float | None = None,
               message: str | None = None, error: str | None = None,
               products: list[tuple[str, Path]] | None = None) -> None:
        run = self.nodes.setdefault(node_id, NodeRun())
        if status is not None:
            run.status = status
            if status in FINISHED:
                run.percent = 100.0 if status in ("executed", "cached") else run.percent
        if percent is not None:
            run.percent = max(0.0, min(100.0, percent))
        if message is not None:
            run.message = message
        if error is not None:
            run.error = error
        if products is not None:
            run.products = products
        self.node_changed.emit(node_id)

    def finish(self, status: str) -> None:
        self.order_status = status
        self.finished.emit(status)

    def forget(self, node_id: str) -> None:
        if self.nodes.pop(node_id, None) is not None:
            self.node_changed.emit(node_id)
