"""What the canvas shows about the latest run of one graph: status, progress, error and products per node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from artfactory.engine.status import NODE_FINISHED, ORDER_OPEN, NodeStatus, OrderStatus, node_status, order_status

FINISHED = NODE_FINISHED


@dataclass
class NodeRun:
    status: NodeStatus = NodeStatus.PENDING
    percent: float = 0.0
    message: str = ""
    error: str = ""
    # (product id, medium thumbnail path) in output order; the path may not exist (e.g. a video)
    products: list[tuple[str, Path]] = field(default_factory=list)
    inputs: str = ""  # the node's fingerprint (params and everything upstream) when the run planned it


class RunState(QObject):
    """Observable per-node run state; the run controller writes it, the canvas binds to it."""

    node_changed = pyqtSignal(str)  # node id
    reset = pyqtSignal()
    finished = pyqtSignal(str)  # order status

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.order_id: str | None = None
        self.order_status: OrderStatus | None = None
        self.nodes: dict[str, NodeRun] = {}
        self._current: dict[str, str] = {}  # the document's fingerprints now

    @property
    def tracks_edits(self) -> bool:
        """Whether a run recorded what it ran on (then edits can make nodes out of date)."""
        return any(run.inputs for run in self.nodes.values())

    @property
    def running(self) -> bool:
        return self.order_id is not None and self.order_status in ORDER_OPEN

    def begin(self, order_id: str, node_ids: list[str], inputs: Mapping[str, str] | None = None) -> None:
        """A new order starts: every planned node is pending, the others keep what they showed before.

        `inputs` are the planned nodes' fingerprints: a later edit that changes one makes it out of date."""
        self.order_id = order_id
        self.order_status = OrderStatus.RUNNING
        for node_id in node_ids:
            self.nodes[node_id] = NodeRun(inputs=(inputs or {}).get(node_id, ""))
        if inputs:
            self._current.update(inputs)
        self.reset.emit()

    def stale(self, node_id: str) -> bool:
        """The node finished, but what it shows was made from params or inputs that have changed since."""
        run = self.nodes.get(node_id)
        return bool(run and run.inputs and run.status in FINISHED and self._current.get(node_id) != run.inputs)

    def set_current(self, fingerprints: Mapping[str, str]) -> None:
        """The document changed: nodes whose out-of-date state flips are redrawn (undo can flip it back)."""
        before = {node_id: self.stale(node_id) for node_id in self.nodes}
        self._current = dict(fingerprints)
        for node_id, was in before.items():
            if self.stale(node_id) != was:
                self.node_changed.emit(node_id)

    def get(self, node_id: str) -> NodeRun | None:
        return self.nodes.get(node_id)

    def update(self, node_id: str, *, status: NodeStatus | str | None = None, percent: float | None = None,
               message: str | None = None, error: str | None = None,
               products: list[tuple[str, Path]] | None = None) -> None:
        run = self.nodes.setdefault(node_id, NodeRun())
        if status is not None:
            run.status = node_status(status)
            if run.status.made_products:
                run.percent = 100.0
        if percent is not None:
            run.percent = max(0.0, min(100.0, percent))
        if message is not None:
            run.message = message
        if error is not None:
            run.error = error
        if products is not None:
            run.products = products
        self.node_changed.emit(node_id)

    def finish(self, status: OrderStatus | str) -> None:
        self.order_status = order_status(status)
        self.finished.emit(self.order_status.value)

    def forget(self, node_id: str) -> None:
        if self.nodes.pop(node_id, None) is not None:
            self.node_changed.emit(node_id)
