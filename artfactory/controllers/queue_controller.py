"""The app's side of the queue: queue orders, work through the queue while open, and poll it for the CLI's changes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PyQt6.QtCore import QObject, QTimer, pyqtSignal, pyqtSlot

from artfactory.engine import document as graph_document
from artfactory.engine.plan import Plan, PlanError
from artfactory.engine.queue_pump import Claimed, QueuePump
from artfactory.engine.status import OrderStatus
from artfactory.services.queue import Queue, QueueEntry, QueueError
from artfactory.services.write_errors import describe_write_failure, is_write_failure

if TYPE_CHECKING:
    from artfactory.controllers.graph_controller import GraphController
    from artfactory.engine.executor import Executor, OrderRunner
    from artfactory.services.library import Library


class QueueHost(Protocol):
    """What the queue uses of the RunController that owns it (a protocol: the run controller imports this module)."""

    executor: Executor
    library: Library

    @property
    def orders(self) -> Mapping[str, Any]: ...  # the orders it is running, by id

    @property
    def message(self) -> Any: ...  # a pyqtSignal(str): one line for the status bar

    def adopt(self, runner: OrderRunner, graph: GraphController | None,
              fingerprints: Mapping[str, str] | None = None) -> Any: ...

log = logging.getLogger("artfactory.queue")
POLL_MS = 1000  # the CLI's changes show within about a second


@dataclass
class _Mine:
    """A queued order this window added: the graph it came from and that graph's fingerprints then."""

    graph: GraphController
    fingerprints: Mapping[str, str]


class QueueController(QObject):
    """Shares the library's queue with `artfactory queue`; orders start on the RunController's executor."""

    changed = pyqtSignal()  # the entries or the paused flag changed

    def __init__(self, runs: QueueHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs = runs
        self.queue = Queue(runs.library)
        self.entries: list[QueueEntry] = []
        self.paused = False
        self._signature: tuple[bool, tuple[str, ...]] | None = None
        self._mine: dict[str, _Mine] = {}
        executor = runs.executor
        self.pump = QueuePump(executor, self._take, executor.pool.maxThreadCount(), self)
        self.pump.starting.connect(self._on_starting)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        # "Poll soon" is a child timer, not QTimer.singleShot(0, self.poll): a child dies with this controller, so
        # no poll can reach a window that is already gone (the executor's signals may outlive it).
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.poll)
        # Any order's end may free a graph whose queued order waits for it.
        executor.signals.order_finished.connect(self._order_finished)
        if not runs.library.read_only:
            self.timer.start()
            self._soon.start()

    @pyqtSlot(str, str)
    def _order_finished(self, _order_id: str, _status: str) -> None:
        self._soon.start()

    # --- reading ------------------------------------------------------------------------------------
    def poll(self) -> None:
        """One cheap read; the entries are re-read and `changed` emitted only when something moved. Then
        start what may start."""
        try:
            signature = self.queue.signature()
        except Exception as exc:  # a busy or vanished database: the next tick looks again
            log.debug("could not read the queue: %s", exc)
            return
        if signature != self._signature:
            self.refresh(signature)
        if not self.paused and self.entries:
            self.fill()

    def refresh(self, signature: tuple[bool, tuple[str, ...]] | None = None) -> None:
        self._signature = signature or self.queue.signature()
        self.paused = self._signature[0]
        self.entries = self.queue.entries()
        queued = {e.order_id for e in self.entries}
        for order_id in [o for o in self._mine if o not in queued and o not in self.runs.orders]:
            del self._mine[order_id]  # removed, or taken by another process
        self.changed.emit()

    def is_mine(self, order_id: str) -> bool:
        return order_id in self._mine

    # --- changing -------------------------------------------------------------------------------------
    def add(self, plan: Plan, graph: GraphController, project_id: int) -> tuple[str, int]:
        """Queue a planned order of `graph`; its id and place in the queue. It starts when `graph` is free."""
        order_id = self.queue.add(plan, project_id=project_id, parent_order_id=graph.parent_order_id)
        self._mine[order_id] = _Mine(graph, dict(graph.fingerprints()))
        self.refresh()
        place = next((e.position for e in self.entries if e.order_id == order_id), len(self.entries))
        return order_id, place

    def set_paused(self, paused: bool) -> None:
        self._guarded(self.queue.set_paused, paused)
        self.poll()

    def remove(self, order_id: str) -> bool:
        return self._guarded(self.queue.remove, order_id)

    def move(self, order_id: str, position: int) -> bool:
        return self._guarded(self.queue.move, order_id, position)

    def reorder(self, order_ids: list[str]) -> bool:
        return self._guarded(self.queue.reorder, order_ids)

    def forget_graph(self, graph: GraphController) -> None:
        """A closed tab: its queued orders still run, without a canvas to draw on."""
        for order_id in [o for o, mine in self._mine.items() if mine.graph is graph]:
            del self._mine[order_id]

    def _guarded(self, change: Any, *args: Any) -> bool:
        try:
            change(*args)
        except QueueError as exc:
            self.runs.message.emit(str(exc))
            self.refresh()
            return False
        except Exception as exc:
            if not is_write_failure(exc):
                raise
            reason = describe_write_failure(exc, self.runs.library.home)
            self.runs.message.emit(f"The queue cannot be changed: {reason}")
            return False
        self.refresh()
        return True

    # --- working through it -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Take no more orders (the window closes); what is queued stays queued for the next start or the CLI."""
        self.timer.stop()
        self._soon.stop()
        self.pump.stopped = True

    def fill(self) -> None:
        if self.runs.library.read_only or self.pump.stopped:
            return
        try:
            started = self.pump.fill()
        except Exception as exc:
            if not is_write_failure(exc):
                raise
            log.info("could not take a queued order: %s", exc)
            return
        if started:
            self.refresh()

    def _busy(self) -> list[str]:
        """Queued orders of this window whose graph is running: they wait for it (one order per graph at a time)."""
        return [o for o, mine in self._mine.items() if mine.graph.run_state.running]

    def _take(self) -> Claimed | None:
        while True:
            taken = self.queue.take_next(skip=self._busy())
            if taken is None:
                return None
            try:
                plan = self.queue.plan_taken(taken)
            except (PlanError, graph_document.DocumentError) as exc:
                self.queue.store.finish_order(taken.order_id, OrderStatus.FAILED, str(exc))
                self.runs.message.emit(f"Queued order {taken.order_id} cannot run: {exc}")
                continue
            return Claimed(taken.order_id, taken.project_id, plan, taken.items)

    def _on_starting(self, order_id: str, runner: Any) -> None:
        mine = self._mine.pop(order_id, None)
        self.runs.adopt(runner, mine.graph if mine else None, mine.fingerprints if mine else None)
