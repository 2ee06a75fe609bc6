"""Runs: plan and submit a graph to the Executor, and turn its signals into run state for views."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.gui_errors import KEY_CODES, KEYS_PLACE, for_gui
from artfactory.controllers.queue_controller import QueueController
from artfactory.engine import document as graph_document
from artfactory.engine.executor import Executor, OrderRunner
from artfactory.engine.graph_power import SEPARATOR
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX
from artfactory.engine.plan import Plan, PlanError
from artfactory.engine.status import (
    NODE_OPEN,
    ORDER_OPEN,
    NodeProgress,
    NodeStatus,
    OrderStatus,
    node_status,
    order_status,
)
from artfactory.models import Order
from artfactory.providers.pricing import run_services_with_costs
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore, product_ids_in
from artfactory.services.thumbnails import thumbnail_path
from artfactory.services.write_errors import describe_write_failure, is_write_failure

ACTIVE = ORDER_OPEN


@dataclass
class NodeRow:
    """One node of an order as the runs panel lists it: its status, latest progress report and error."""

    order_id: str
    node_id: str
    status: NodeStatus = NodeStatus.PENDING
    progress: NodeProgress | None = None  # the latest report; None until the node reports
    error: str = ""

    @property
    def percent(self) -> float:
        if self.status.made_products:
            return 100.0
        return self.progress.percent if self.progress is not None and self.status != NodeStatus.PENDING else 0.0

    @property
    def message(self) -> str:
        return self.progress.message if self.progress is not None else ""


@dataclass
class OrderInfo:
    """An order as the runs panel lists it."""

    order_id: str
    name: str
    status: OrderStatus
    created: float
    nodes: dict[str, NodeRow] = field(default_factory=dict)
    history: bool = False  # loaded from the database, not started in this session

    @property
    def done(self) -> int:
        return sum(1 for n in self.nodes.values() if n.status not in NODE_OPEN)

    def node(self, node_id: str) -> NodeRow:
        row = self.nodes.get(node_id)
        if row is None:
            row = self.nodes[node_id] = NodeRow(self.order_id, node_id)
        return row


class RunController(QObject):
    """Owns the Executor for the app; one order per graph at a time (Run on a running graph queues the next)."""

    order_added = pyqtSignal(str)  # order id
    history_added = pyqtSignal(str)  # order id: an order another app or CLI run started (a shared library)
    order_changed = pyqtSignal(str)
    node_changed = pyqtSignal(str, str)  # order id, node id
    message = pyqtSignal(str)
    key_needed = pyqtSignal(str)  # provider: a node failed for want of a (valid) API key

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.executor = Executor(run_services_with_costs(library), parent=self)
        self.orders: dict[str, OrderInfo] = {}
        self._graphs: dict[str, GraphController] = {}
        self._runners: dict[str, OrderRunner] = {}
        self._project_id: int | None = None
        signals = self.executor.signals
        signals.node_started.connect(self._on_node_started)
        signals.node_progress.connect(self._on_node_progress)
        signals.node_finished.connect(self._on_node_finished)
        signals.order_finished.connect(self._on_order_finished)
        # Thumbnails are made after a node reports (off the order's critical path); nodes redraw then.
        if hasattr(signals, "thumbnails_ready"):
            signals.thumbnails_ready.connect(self._on_thumbnails_ready)
        self._shown: dict[str, set[tuple[str, str]]] = {}  # product id -> (order id, node id)s showing it
        self._key_missing: set[str] = set()  # orders with a node that failed for want of a key
        self.queue = QueueController(self, self)  # after the executor: it starts queued orders on it

    # --- starting and stopping ---------------------------------------------------------------
    def run(self, graph: GraphController, only: list[str] | None = None) -> str | None:
        """Validate, plan and submit — or queue, when the graph is running; the order id, or None when the graph
        has problems."""
        errors = graph.validate()
        if errors:
            count = len(errors)
            self.message.emit(f"Not started: the graph has {count} problem{'s' if count != 1 else ''} "
                              f"(marked on the nodes) — {errors[0]}")
            return None
        try:
            # Seed control: "random each run" nodes get a fresh seed however concrete the param is.
            plan = self.executor.plan(graph.doc.copy(), only=only, pinned_seeds=graph.pinned_seeds,
                                      reroll_nodes=graph.seed_nodes("random"))
        except PlanError as exc:  # validated above; a race with the registry is all that is left
            self.message.emit(f"Not started: {exc}")
            return None
        if not plan.order:
            self.message.emit("Nothing to run: select a node first")
            return None
        if graph.run_state.running:
            return self._queue(graph, plan)
        try:
            if self._project_id is None:
                self._project_id = self.library.project_id()
            runner = self.executor.submit(plan, project_id=self._project_id,
                                          parent_order_id=graph.parent_order_id, start=False)
        except Exception as exc:  # e.g. a full disk: the order cannot even be written down
            if not is_write_failure(exc):
                raise
            self.message.emit(f"Not started: {describe_write_failure(exc, self.library.home)}")
            return None
        order_id = runner.order_id
        self._graphs[order_id] = graph
        self._runners[order_id] = runner
        info = OrderInfo(order_id, graph.doc.name or graph.title(), OrderStatus.RUNNING, time.time(),
                         {n: NodeRow(order_id, n) for n in plan.order})
        self.orders[order_id] = info
        graph.last_seeds.update({n: p.seed for n, p in plan.nodes.items() if isinstance(p.seed, int)})
        # "increment" moves on to the next seed now, before the run records what the nodes show: the result
        # is not out of date, and the next Run makes a new one.
        graph.seeds_after_run(plan.order)
        graph.run_state.begin(order_id, list(plan.order), graph.fingerprints())
        self.order_added.emit(order_id)
        runner.start()  # cached nodes report at once, inside start(); the state above must exist first
        if info.status == OrderStatus.RUNNING:
            scope = f"{len(plan.order)} node{'s' if len(plan.order) != 1 else ''}"
            self.message.emit(f"Running {info.name} ({scope})…")
        return order_id

    def _queue(self, graph: GraphController, plan: Plan) -> str | None:
        """Run on a running graph: the order waits in the library's queue and starts when the graph is free."""
        try:
            if self._project_id is None:
                self._project_id = self.library.project_id()
            order_id, place = self.queue.add(plan, graph, self._project_id)
        except Exception as exc:
            if not is_write_failure(exc):
                raise
            self.message.emit(f"Not queued: {describe_write_failure(exc, self.library.home)}")
            return None
        graph.last_seeds.update({n: p.seed for n, p in plan.nodes.items() if isinstance(p.seed, int)})
        graph.seeds_after_run(plan.order)  # the queued order has its seeds: "increment" moves on, as for a run
        name = graph.doc.name or graph.title()
        paused = " (the queue is paused)" if self.queue.paused else ""
        self.message.emit(f"Queued {name} at position {place}: it runs when this graph's run ends{paused}")
        return order_id

    def adopt(self, runner: OrderRunner, graph: GraphController | None,
              fingerprints: Mapping[str, str] | None = None) -> OrderInfo:
        """Track a queued order about to start, drawn on `graph` (the one it was queued from) if any."""
        order_id, plan = runner.order_id, runner.plan
        self._runners[order_id] = runner
        name = (graph.doc.name or graph.title()) if graph is not None else (plan.document.name or order_id)
        info = OrderInfo(order_id, name, OrderStatus.RUNNING, time.time(),
                         {n: NodeRow(order_id, n) for n in plan.order})
        self.orders[order_id] = info
        if graph is not None:
            self._graphs[order_id] = graph
            graph.run_state.begin(order_id, list(plan.order),
                                  fingerprints if fingerprints is not None else graph.fingerprints())
        self.order_added.emit(order_id)
        self.message.emit(f"Running {name} (from the queue)…")
        return info

    def resume_interrupted(self) -> list[str]:
        """Finish the orders an earlier exit left open, in this window; what had finished (or was paid for and
        has a remote job id) is kept, the rest runs. The ids of the orders started."""
        # Recovery reads more of the library's orders than the executor's OrderPersistence Protocol names.
        store = OrderStore(self.library)
        try:
            store.recover_interrupted(self.active_orders())
            orders = store.interrupted_orders()
        except Exception as exc:
            if not is_write_failure(exc):
                raise
            self.message.emit(f"Not resumed: {describe_write_failure(exc, self.library.home)}")
            return []
        started: list[str] = []
        for order in orders:
            if order.order_id in self._runners:
                continue
            try:
                doc = graph_document.loads(order.snapshot, f"order {order.order_id}")
                plan = self.executor.plan(doc, pinned_seeds=order.pinned_seeds)
            except (PlanError, graph_document.DocumentError) as exc:
                store.finish_order(order.order_id, OrderStatus.FAILED, str(exc))
                self.message.emit(f"Order {order.order_id} cannot be resumed: {exc}")
                continue
            self.orders[order.order_id] = OrderInfo(order.order_id, doc.name or order.order_id, OrderStatus.RUNNING,
                                                    time.time(), {n: NodeRow(order.order_id, n) for n in plan.order})
            self.order_added.emit(order.order_id)
            runner = self.executor.resume(order.order_id, plan, order.project_id, order.items)
            if runner.final_status is None:  # an order whose every node was done has finished inside start()
                self._runners[order.order_id] = runner
            started.append(order.order_id)
        if started:
            self.message.emit(f"Resuming {len(started)} interrupted order{'s' if len(started) != 1 else ''}…")
        return started

    def cancel(self, order_id: str) -> bool:
        runner = self._runners.get(order_id)
        if runner is None:
            return False
        runner.cancel()
        self.message.emit("Canceling…")
        return True

    def cancel_graph(self, graph: GraphController) -> bool:
        order_id = graph.run_state.order_id
        return bool(order_id and graph.run_state.running and self.cancel(order_id))

    def cancel_node(self, order_id: str, node_id: str) -> bool:
        runner = self._runners.get(order_id)
        if runner is None:
            return False
        runner.cancel_node(node_id)
        return True

    def active_orders(self) -> list[str]:
        return [o for o, info in self.orders.items() if info.status in ACTIVE]

    def cancel_all(self) -> None:
        """The window closes: every order is canceled, and nothing more is taken from the queue (it stays there)."""
        self.queue.stop()
        for order_id in self.active_orders():
            self.cancel(order_id)

    def graph_of(self, order_id: str) -> GraphController | None:
        return self._graphs.get(order_id)

    def forget_graph(self, graph: GraphController) -> None:
        """A closed tab: its orders run on, but nobody draws them any more."""
        for order_id, owner in list(self._graphs.items()):
            if owner is graph:
                del self._graphs[order_id]
        self.queue.forget_graph(graph)

    def apply_limits(self) -> None:
        """Per-provider concurrency from the (possibly just edited) settings."""
        self.executor.limits = dict(self.library.settings.provider_limits())
        self.executor.pump_all()

    # --- history -------------------------------------------------------------------------------
    def load_history(self, limit: int = 25) -> list[str]:
        """Recent orders from the database (newest first) for the runs panel."""
        added = []
        with self.library.db.session() as session:
            waiting = (Order.status == OrderStatus.QUEUED) & Order.queue_position.is_not(None)  # the queue shows them
            query = (session.query(Order).filter(~waiting).order_by(Order.created_at.desc(), Order.id.desc())
                     .limit(limit))
            for order in query:
                if order.id in self.orders:
                    continue
                summary = lineage.order_summary(session, order)
                created = order.created_at.timestamp() if order.created_at else 0.0
                self.orders[order.id] = OrderInfo(order.id, summary["name"] or order.id, order_status(order.status),
                                                  created, history=True)
                added.append(order.id)
        return added

    def note_changed_orders(self, orders: dict[str, str]) -> None:
        """Orders another process added or moved on (live changes of a shared library): new ones are listed,
        listed ones show their new status. Orders this app runs report through the executor instead."""
        for order_id, status in orders.items():
            if order_id in self._runners:
                continue
            info = self.orders.get(order_id)
            if info is None:
                if status and self._load_order(order_id):
                    self.history_added.emit(order_id)
                continue
            if not status or not info.history:
                continue  # deleted (the row stays until the panel reloads, as for a local delete), or this app's own
            info.status = order_status(status)
            if info.nodes:  # opened in the panel: its nodes' statuses are re-read too
                info.nodes.clear()
                self.load_items(order_id)
            else:
                self.order_changed.emit(order_id)
        self.queue.poll()  # a queued order taken or added elsewhere

    def resync_history(self) -> None:
        """After live changes may have been missed (a reconnect): re-read the statuses of the listed history orders
        and list newer ones."""
        history = [o for o, info in self.orders.items() if info.history]
        with self.library.db.session() as session:
            statuses = dict(session.query(Order.id, Order.status).filter(Order.id.in_(history)).all()) if history \
                else {}
        self.note_changed_orders({o: s for o, s in statuses.items() if order_status(s) != self.orders[o].status})
        for order_id in reversed(self.load_history()):
            self.history_added.emit(order_id)

    def _load_order(self, order_id: str) -> bool:
        with self.library.db.session() as session:
            order = session.get(Order, order_id)
            if order is None or (order.status == OrderStatus.QUEUED and order.queue_position is not None):
                return False  # gone again, or waiting in the queue (the queue section lists it)
            summary = lineage.order_summary(session, order)
            created = order.created_at.timestamp() if order.created_at else 0.0
            self.orders[order.id] = OrderInfo(order.id, summary["name"] or order.id, order_status(order.status),
                                              created, history=True)
        return True

    def load_items(self, order_id: str) -> None:
        """Per-node statuses of a history order, read when the user opens it."""
        info = self.orders.get(order_id)
        if info is None or info.nodes:
            return
        with self.library.db.session() as session:
            detail = lineage.order_detail(self.library, session, order_id)
        for item in detail["items"]:
            stored = float(item["progress"] or 0.0)  # percent; very old rows kept a fraction of 1
            progress = NodeProgress(order_id, item["node_id"], stored if stored > 1 else stored * 100,
                                    item.get("progress_message") or "")
            info.nodes[item["node_id"]] = NodeRow(order_id, item["node_id"], node_status(item["status"]), progress,
                                                  item["error"] or "")
        self.order_changed.emit(order_id)

    def product_ids(self, order_id: str, node_id: str) -> list[str]:
        runner = self._runners.get(order_id)
        if runner is not None and node_id in runner.outputs:  # a live order: no database read per node
            return product_ids_in(runner.outputs[node_id])
        items = self.executor.store.items(order_id)
        item = items.get(node_id)
        return product_ids_in(item.get("outputs")) if item else []

    # --- executor signals (GUI thread) ------------------------------------------------------------------
    def _node(self, order_id: str, node_id: str) -> NodeRow | None:
        info = self.orders.get(order_id)
        return info.node(node_id) if info else None

    def _on_node_started(self, order_id: str, node_id: str) -> None:
        node = self._node(order_id, node_id)
        if node is None:
            return
        node.status, node.progress, node.error = NodeStatus.RUNNING, NodeProgress(order_id, node_id, 0.0), ""
        self._graph_update(order_id, node_id, status=NodeStatus.RUNNING, percent=0.0, message="", error="")
        self.node_changed.emit(order_id, node_id)

    def _on_node_progress(self, progress: NodeProgress) -> None:
        order_id, node_id = progress.order_id, progress.node_id
        node = self._node(order_id, node_id)
        if node is None:
            return
        node.progress = progress
        self._graph_update(order_id, node_id, percent=progress.percent, message=progress.message)
        self.node_changed.emit(order_id, node_id)

    def _on_node_finished(self, order_id: str, node_id: str, signalled: str, error: str) -> None:
        node = self._node(order_id, node_id)
        if node is None:
            return
        status = node_status(signalled)
        if status == NodeStatus.FAILED:
            error = self._translate(order_id, node_id, error)
        node.status, node.error = status, error
        if status.made_products and node.progress is not None:
            node.progress = replace(node.progress, percent=100.0)
        products = None
        if status.made_products and order_id in self._graphs:
            home = self.library.home
            products = [(pid, thumbnail_path(home, "medium", pid)) for pid in self.product_ids(order_id, node_id)]
            for pid, _path in products:
                self._shown.setdefault(pid, set()).add((order_id, node_id))
            self._note_arrived_params(order_id, node_id)
        self._graph_update(order_id, node_id, status=status, error=error, products=products,
                           percent=100.0 if status.made_products else None)
        self.node_changed.emit(order_id, node_id)

    def _note_arrived_params(self, order_id: str, node_id: str) -> None:
        """The values that came in through the node's param inputs ("param:NAME"), for the Properties panel."""
        graph, runner = self._graphs.get(order_id), self._runners.get(order_id)
        if graph is None or runner is None:
            return
        for edge in graph.doc.edges:
            if edge.target == node_id and edge.target_port.startswith(PARAM_INPUT_PREFIX):
                values = (runner.outputs.get(edge.source) or {}).get(edge.source_port)
                if isinstance(values, list):
                    graph.arrived_params.setdefault(node_id, {})[edge.target_port[len(PARAM_INPUT_PREFIX):]] = values

    def _on_order_finished(self, order_id: str, signalled: str) -> None:
        status = order_status(signalled)
        info = self.orders.get(order_id)
        runner = self._runners.pop(order_id, None)
        if info is not None:
            info.status = status
            self.order_changed.emit(order_id)
        graph = self._graphs.get(order_id)
        if graph is not None and graph.run_state.order_id == order_id:
            graph.run_state.finish(status)
        name = info.name if info else order_id
        failed = [n for n, p in (info.nodes.items() if info else ()) if p.status == NodeStatus.FAILED]
        detail = f": {len(failed)} node{'s' if len(failed) != 1 else ''} failed" if failed else ""
        if order_id in self._key_missing:
            self._key_missing.discard(order_id)
            detail += f" — add the API key in {KEYS_PLACE}"
        if runner is not None and runner.storage_error:  # the one thing the user must act on
            detail = f": {runner.storage_error}"
        self.message.emit(f"{name} {status}{detail}")

    def _translate(self, order_id: str, node_id: str, error: str) -> str:
        """The GUI's words for a failure whose fix is a place in the app (the engine's text names CLI commands)."""
        item = self.executor.store.items(order_id).get(node_id) or {}  # a failure is rare: one read is fine
        code = str(item.get("error_code") or "")
        if code not in KEY_CODES:
            return error
        runner = self._runners.get(order_id)
        planned = runner.plan.nodes.get(node_id) if runner is not None else None
        provider = planned.node_type.provider if planned is not None else None
        self._key_missing.add(order_id)
        self.key_needed.emit(provider or "")
        return for_gui(code, error, provider)

    def _on_thumbnails_ready(self, product_id: str) -> None:
        for order_id, node_id in self._shown.pop(product_id, set()):
            graph = self._graphs.get(order_id)
            run = graph.run_state.get(node_id) if graph and graph.run_state.order_id == order_id else None
            if graph is not None and run is not None:
                graph.run_state.update(node_id, products=list(run.products))

    def _graph_update(self, order_id: str, node_id: str, **changes: Any) -> None:
        graph = self._graphs.get(order_id)
        # An inner node of a subgraph (OUTER/INNER) is kept too: its subgraph node rolls it up.
        if graph is not None and graph.run_state.order_id == order_id and \
                graph.doc.node(node_id.split(SEPARATOR, 1)[0]) is not None:
            graph.run_state.update(node_id, **changes)
