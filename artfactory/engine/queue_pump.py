"""Working through the queue on one Executor: orders taken one by one, several at once, limits shared."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from artfactory.engine.executor import Executor, OrderRunner
from artfactory.engine.plan import Plan

log = logging.getLogger("artfactory.queue")


@dataclass
class Claimed:
    """An order the take callback claimed from the queue and planned, ready to start."""

    order_id: str
    project_id: int
    plan: Plan
    items: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class QueuePump(QObject):
    """Starts claimed orders on the executor while fewer than `max_orders` of them run. All orders share the
    executor, so each provider's concurrency limit holds across the whole queue.

    `take()` claims and plans the next order (None: the queue is empty or paused, or nothing may start now)."""

    starting = pyqtSignal(str, object)  # order id, OrderRunner: before it starts (cached nodes report in start)
    order_done = pyqtSignal(str, str)  # order id, status
    drained = pyqtSignal()  # nothing running and nothing more to take

    def __init__(self, executor: Executor, take: Callable[[], Claimed | None], max_orders: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.executor = executor
        self.take = take
        self.max_orders = max(1, max_orders)
        self.active: dict[str, OrderRunner] = {}
        self.stopped = False  # no more orders are taken (running ones finish)
        self._filling = False

    def fill(self) -> int:
        """Take and start orders while there is room; the number started."""
        if self._filling:
            return 0
        self._filling = True
        started = 0
        try:
            while len(self.active) < self.max_orders and not self.stopped:
                claimed = self.take()
                if claimed is None:
                    break
                runner = OrderRunner(self.executor, claimed.plan, claimed.order_id, claimed.project_id,
                                     finished_items=claimed.items)
                self.executor.runners[claimed.order_id] = runner
                self.active[claimed.order_id] = runner
                runner.finished.connect(self._on_finished)
                self.starting.emit(claimed.order_id, runner)
                runner.start()
                started += 1
        finally:
            self._filling = False
        if not self.active:
            self.drained.emit()
        return started

    def _on_finished(self, order_id: str, status: str) -> None:
        self.active.pop(order_id, None)
        self.order_done.emit(order_id, status)
        # From the event loop, not inside the finishing runner's call stack.
        QTimer.singleShot(0, self.fill)
