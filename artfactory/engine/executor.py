"""The executor: ready-set scheduling of planned nodes onto a Qt thread pool, one writer on the owner thread."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, QTimer, pyqtSignal, pyqtSlot

from artfactory.engine.batch import NodeOutcome, discard_drafts, execute_node
from artfactory.engine.context import NodeContext, RemoteNotStored, remote_jobs_of
from artfactory.engine.cost import Cost
from artfactory.engine.document import GraphDocument
from artfactory.engine.nodetypes import Media
from artfactory.engine.plan import Plan, build_plan
from artfactory.engine.ports import CachedResult, Claims, LeaseHolder, RunServices
from artfactory.engine.status import NODE_BY_MODE, NodeProgress, NodeStatus, OrderStatus
from artfactory.signals import DomainSignals

log = logging.getLogger("artfactory.engine")
PROGRESS_WRITE_INTERVAL_S = 0.25
# Waits between attempts to store a remote job id (about 3.5 s in all): a paid job is worth a retry,
# and the worker waits for the answer before it polls, so a job is never left unrecorded and running.
REMOTE_WRITE_RETRY_MS = (100, 400, 1000, 2000)
REMOTE_ACK_TIMEOUT_S = 30.0
# A node whose work another run is executing looks again this often (one lease read per order and tick).
WAIT_POLL_MS = 250
LEASE_TTL_S = 15.0  # the default of settings.lease_ttl_s


@dataclass
class _RemoteAck:
    """The writer's answer to a worker that handed it a remote job id."""

    event: threading.Event = field(default_factory=threading.Event)
    stored: bool = False
    error: str = ""


class _Bridge(QObject):
    """Carries worker results to the owner thread (queued connections: the bridge lives there)."""

    done = pyqtSignal(object)  # NodeOutcome
    progress = pyqtSignal(str, float, str)  # node_id, percent, message
    remote = pyqtSignal(str, str, object, object)  # node_id, job_id, state, _RemoteAck
    thumbnails = pyqtSignal(object)  # list of product ids whose thumbnails are on disk


class _NodeTask(QRunnable):
    def __init__(self, runner: OrderRunner, node_id: str, ctx: NodeContext, inputs: dict[str, Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.runner_bridge = runner.bridge
        self.services = runner.services
        self.project_id = runner.project_id
        self.node = runner.plan.nodes[node_id]
        self.ctx = ctx
        self.inputs = inputs

    def run(self) -> None:
        try:
            outcome = execute_node(
                self.node.node_type, self.node.id, self.ctx, self.inputs, self.node.params,
                self.services.storage, project_id=self.project_id, redact=self.services.redact,
                find_existing=self._find_existing,
            )
        except BaseException as exc:  # the owner must always hear back, or the order would hang
            log.exception("worker for %s crashed", self.node.id)
            outcome = NodeOutcome(self.node.id, NodeStatus.FAILED, error=f"internal error: {exc!r}", code="internal")
        self.runner_bridge.done.emit(outcome)
        # Thumbnails come after the report, off the order's critical path; views that find one missing
        # make it themselves (ensure_thumbnails is idempotent) or listen for thumbnails_ready.
        if outcome.status == NodeStatus.EXECUTED and outcome.products and self.services.thumbnails is not None:
            self._thumbnails(outcome)
            self.runner_bridge.thumbnails.emit([d.id for d in outcome.products])

    def _find_existing(self, sha256: str) -> str | None:
        return self.services.orders.find_product_path(self.project_id, sha256)

    def _thumbnails(self, outcome: NodeOutcome) -> None:
        make = self.services.thumbnails
        if make is None:
            return
        for draft in outcome.products:
            if draft.stored.info.media_type not in ("image", "video"):  # a video's is its poster frame (PyAV)
                continue
            try:
                make(draft.id, self.services.storage.absolute(draft.stored.relative_path))
            except Exception as exc:  # a thumbnail is a convenience; the product stands without it
                log.warning("thumbnail for %s failed: %s", draft.id, exc)


class OrderRunner(QObject):
    """Runs one order: cached nodes answer at once, the rest start as soon as their inputs are ready."""

    finished = pyqtSignal(str, str)  # order_id, status

    def __init__(self, executor: Executor, plan: Plan, order_id: str, project_id: int,
                 finished_items: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__(executor)
        self.executor = executor
        self.services = executor.services
        self.store = executor.store
        self.signals = executor.signals
        self.plan = plan
        self.order_id = order_id
        self.project_id = project_id
        self.bridge = _Bridge(self)
        self.bridge.done.connect(self._on_done)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.remote.connect(self._on_remote)
        self.bridge.thumbnails.connect(self._on_thumbnails)
        self.item_ids = self.store.item_ids(order_id)
        self._resumed = dict(finished_items or {})
        self.status: dict[str, NodeStatus] = {node_id: NodeStatus.PENDING for node_id in plan.order}
        self.errors: dict[str, str] = {}
        self.values: dict[str, dict[str, list[Any]]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, int] = {}
        self._ready: list[str] = []
        self._running: dict[str, NodeContext] = {}
        # Nodes waiting for another run executing the same cache key (pending in the database meanwhile).
        self._waits: dict[str, LeaseHolder] = {}
        self._progress_written: dict[str, float] = {}
        self._canceled = False
        self._started = False
        self.final_status: OrderStatus | None = None
        # The first failed write (disk full, database refusing writes), as the user should read it; once
        # set, nothing new starts, running nodes are stopped and the order ends `failed` (or `interrupted`).
        self.storage_error: str | None = None
        self._halted: set[str] = set()  # running nodes stopped because of storage_error
        # Remote job ids as the workers reported them, kept here even when they could not be written.
        self.remote_jobs: dict[str, dict[str, Any]] = {}

    # -- public --------------------------------------------------------------------------------
    def start(self) -> None:
        self._write(self.store.start_order, self.order_id)
        self.signals.order_started.emit(self.order_id)
        plan = self.plan
        for node_id in plan.order:
            self._waiting[node_id] = len({link.source for link in plan.nodes[node_id].inputs})
        # Resumed orders keep what already finished; everything else may come from the cache.
        for node_id, item in self._resumed.items():
            if item.get("status") in (NodeStatus.EXECUTED, NodeStatus.CACHED) and node_id in self.status:
                self.status[node_id] = item["status"]
                self.outputs[node_id] = item.get("outputs") or {}
        # Muted nodes (and what needs them) end at once: no lease, no execution, no outputs (DESIGN §10).
        muted = [n for n in plan.order if plan.nodes[n].mode == "mute" and self.status[n] == NodeStatus.PENDING]
        if muted and self._write(self.store.mark_items, [self.item_ids[n] for n in muted], NodeStatus.MUTED):
            for node_id in muted:
                self.status[node_id] = NodeStatus.MUTED
                self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.MUTED, "")
        open_nodes = [n for n in plan.order if self.status[n] == NodeStatus.PENDING and plan.nodes[n].mode == "normal"]
        cached = {}
        if self.storage_error is None:
            try:
                hits = self.store.find_cached(plan.nodes[n].cache_key for n in open_nodes)
            except Exception as exc:  # the database is unusable: nothing can be recorded either
                self._write_failed(exc)
            else:
                cached = {n: hits[plan.nodes[n].cache_key] for n in open_nodes if plan.nodes[n].cache_key in hits}
                if not self._write(self.store.mark_cached, self.item_ids, cached):
                    cached = {}
        for node_id, hit in cached.items():
            self.status[node_id] = NodeStatus.CACHED
            self.outputs[node_id] = hit.outputs
        for node_id in plan.order:
            if self.status[node_id] in (NodeStatus.EXECUTED, NodeStatus.CACHED):
                self.signals.node_finished.emit(self.order_id, node_id, self.status[node_id], "")
                self._release_successors(node_id)
        self._ready = [n for n in plan.order if self.status[n] == NodeStatus.PENDING and self._waiting[n] == 0]
        self._started = True
        self._pump()

    def cancel(self) -> None:
        """Cancel the whole order: running nodes are told at once, pending ones never start."""
        if self.final_status is not None or self._canceled:
            return
        self._canceled = True
        self._waits.clear()
        pending = [n for n in self.plan.order if self.status[n] == NodeStatus.PENDING]
        for node_id in pending:
            self.status[node_id] = NodeStatus.CANCELED
        self._write(self.store.mark_items, [self.item_ids[n] for n in pending], NodeStatus.CANCELED,
                    "canceled by the user", "canceled")
        for node_id in pending:
            self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.CANCELED, "canceled by the user")
        self._ready.clear()
        for ctx in self._running.values():
            ctx.cancel_event.set()
        self._maybe_finish()

    def cancel_node(self, node_id: str) -> None:
        """Cancel one node; its dependents are skipped, the other branches go on."""
        if node_id in self._running:
            self._running[node_id].cancel_event.set()
        elif self.status.get(node_id) == NodeStatus.PENDING:
            if node_id in self._ready:
                self._ready.remove(node_id)
            self._waits.pop(node_id, None)
            self._set_final(node_id, NodeStatus.CANCELED, "canceled by the user", "canceled")
            self._skip_dependents(node_id)
            self._pump()

    @property
    def running_nodes(self) -> list[str]:
        return list(self._running)

    # -- scheduling ------------------------------------------------------------------------------
    def _release_successors(self, node_id: str) -> None:
        for successor in self.plan.graph.successors(node_id):
            self._waiting[successor] -= 1
            if self._waiting[successor] == 0 and self.status[successor] == NodeStatus.PENDING and self._started:
                self._ready.append(successor)

    def _pump(self) -> None:
        if self._canceled or self.storage_error is not None:
            self._maybe_finish()
            return
        still_waiting: list[str] = []
        launching: list[tuple[str, NodeContext, dict[str, Any]]] = []
        bypassed = [n for n in self._ready if self.plan.nodes[n].mode == "bypass"]
        if bypassed:
            self._ready = [n for n in self._ready if n not in bypassed]
            for node_id in bypassed:
                self._pass_through(node_id)
        for node_id in self._ready:
            group = self.plan.nodes[node_id].node_type.provider
            if not self.executor.acquire(group):
                still_waiting.append(node_id)
                continue
            prepared = self._prepare(node_id, group)
            if prepared is not None:
                launching.append(prepared)
        self._ready = still_waiting if self.storage_error is None else []
        answered = False
        if launching and self.storage_error is None:
            launching, answered = self._claim(launching)
        # One transaction marks every node of this wave running, before any of them starts.
        if launching and self.storage_error is None and self._write(
                self.store.mark_running, [self.item_ids[node_id] for node_id, _, _ in launching]):
            for node_id, ctx, inputs in launching:
                self._running[node_id] = ctx
                self.status[node_id] = NodeStatus.RUNNING
                self.signals.node_started.emit(self.order_id, node_id)
                self.executor.pool.start(_NodeTask(self, node_id, ctx, inputs))
        else:
            for node_id, _, _ in launching:  # never started: they stay pending and are skipped below
                self.executor.release(self.plan.nodes[node_id].node_type.provider)
        if answered:  # their successors may be ready now
            self._pump()
            return
        self._maybe_finish()

    def _pass_through(self, node_id: str) -> None:
        """A bypassed node whose sources are done: it hands their values on as its outputs (status bypassed)."""
        node = self.plan.nodes[node_id]
        outputs = {port: list((self.outputs.get(source) or {}).get(source_port, []))
                   for port, (source, source_port) in node.passthrough.items()}
        if not self._write(lambda: self.store.finish_item(
                self.item_ids[node_id], order_id=self.order_id, project_id=self.project_id,
                status=NodeStatus.BYPASSED, outputs=outputs)):
            return
        self.status[node_id] = NodeStatus.BYPASSED
        self.outputs[node_id] = outputs
        self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.BYPASSED, "")
        self._release_successors(node_id)

    # -- never twice: one run executes a cache key, the others wait for it ----------------------------
    def _claim(self, launching: list[tuple[str, NodeContext, dict[str, Any]]],
               ) -> tuple[list[tuple[str, NodeContext, dict[str, Any]]], bool]:
        """Claim the wave's cache keys in one transaction. Returns the nodes to start (this run holds their
        leases) and whether some were answered from a result that appeared meanwhile."""
        keys = {self.item_ids[n]: self.plan.nodes[n].cache_key for n, _, _ in launching}
        try:
            claims: Claims = self.store.claim(self.order_id, keys, self.executor.lease_ttl_s)
        except Exception as exc:
            self._write_failed(exc)
            for node_id, _, _ in launching:
                self.executor.release(self.plan.nodes[node_id].node_type.provider)
            return [], False
        starting = []
        answered = False
        for node_id, ctx, inputs in launching:
            item_id = self.item_ids[node_id]
            if item_id in claims.won:
                for index, job in claims.remote_jobs.get(item_id, {}).items():
                    ctx.remote_jobs.setdefault(index, job)  # re-attached: polled, not created again
                starting.append((node_id, ctx, inputs))
                continue
            self.executor.release(self.plan.nodes[node_id].node_type.provider)
            if item_id in claims.cached:
                self._answered(node_id, claims.cached[item_id])
                answered = True
            elif item_id in claims.held:
                self._wait_for(node_id, claims.held[item_id])
        if claims.won:
            self.executor.hold_leases()
        return starting, answered

    def _answered(self, node_id: str, hit: CachedResult) -> None:
        """Another run executed this node's work while it waited: its products are taken (status cached)."""
        self.status[node_id] = NodeStatus.CACHED
        self.outputs[node_id] = hit.outputs
        self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.CACHED, "")
        self._release_successors(node_id)
        self.executor.wake(self.plan.nodes[node_id].cache_key)  # a twin in this process waiting on it

    def _wait_for(self, node_id: str, holder: LeaseHolder) -> None:
        self._waits[node_id] = holder
        self.signals.node_progress.emit(
            NodeProgress(self.order_id, node_id, 0.0, f"waiting for order {holder.order_id} (same work)"))
        self.executor.watch_waits()

    def poll_waits(self) -> bool:
        """Look once at the runs this order waits for (one read); a node whose holder released its lease (done,
        failed, canceled) or is gone (crashed) tries its claim again. Returns whether nodes still wait."""
        self._waits = {n: h for n, h in self._waits.items() if self.status.get(n) == NodeStatus.PENDING}
        if not self._waits or self._canceled or self.storage_error is not None or self.final_status is not None:
            self._waits.clear()
            return False
        try:
            holders = self.store.lease_holders(self.plan.nodes[n].cache_key for n in self._waits)
        except Exception as exc:  # a read that failed (a busy database): the next tick looks again
            log.debug("could not read leases: %s", exc)
            return True
        ttl = self.executor.lease_ttl_s
        again = []
        for node_id, was in self._waits.items():
            now = holders.get(self.plan.nodes[node_id].cache_key)
            if now is None or now.item_id != was.item_id or self.store.is_stale(now, ttl):
                again.append(node_id)
        for node_id in again:
            del self._waits[node_id]
            self._ready.append(node_id)
        if again:
            self._pump()
        return bool(self._waits)

    def wake(self, cache_key: str) -> None:
        """A run of this process released `cache_key`: nodes waiting for it try again now, not at the next poll."""
        for node_id in [n for n in self._waits if self.plan.nodes[n].cache_key == cache_key]:
            del self._waits[node_id]
            if self.status[node_id] == NodeStatus.PENDING:
                self._ready.append(node_id)

    def _inputs_for(self, node_id: str) -> dict[str, Any]:
        node = self.plan.nodes[node_id]
        inputs: dict[str, Any] = {port.name: None for port in node.node_type.inputs}
        for link in node.inputs:
            values = self.values.get(link.source)
            if values is None:
                values = self.store.decode_outputs(self.outputs.get(link.source))
                self.values[link.source] = values
            inputs[link.port] = list(values.get(link.source_port, []))
        return inputs

    def _prepare(self, node_id: str, group: str | None) -> tuple[str, NodeContext, dict[str, Any]] | None:
        node = self.plan.nodes[node_id]
        services = self.services
        ctx = NodeContext(
            node_id=node_id, order_id=self.order_id, home=services.home, settings=services.settings,
            storage=services.storage, seed=node.seed,
            remote_jobs=remote_jobs_of(self._resumed.get(node_id) or {}),
        )
        bridge = self.bridge
        ctx.on_progress = lambda percent, message: bridge.progress.emit(node_id, percent, message)
        find_items = getattr(self.store, "find_item_products", None)
        if find_items is not None:  # read from the worker, like find_product_path
            project_id, type_name = self.project_id, node.node_type.type
            ctx.find_items = lambda keys: find_items(project_id, type_name, keys)
        # Persist every batch item's job, not just the latest, so a resumed batch pays for nothing twice.
        ctx.on_remote = lambda job_id, _state: self._remote_from_worker(
            node_id, job_id, {"jobs": {str(k): v for k, v in ctx.remote_jobs.items()}})
        try:
            inputs = self._inputs_for(node_id)
        except Exception as exc:  # e.g. a cached product vanished between planning and now
            self.executor.release(group)
            self._set_final(node_id, NodeStatus.FAILED, f"inputs could not be loaded: {exc}", "inputs")
            self._skip_dependents(node_id)
            return None
        return node_id, ctx, inputs

    def _remote_from_worker(self, node_id: str, job_id: str, state: dict[str, Any]) -> None:
        # Runs in the worker: wait until the writer has persisted the job id, so a crash right after
        # a paid create can resume by polling instead of creating again.
        ack = _RemoteAck()
        self.bridge.remote.emit(node_id, job_id, state, ack)
        if not ack.event.wait(REMOTE_ACK_TIMEOUT_S):
            # The writer is busy, not failing: it still stores the id (or stops this node if it cannot).
            log.warning("remote job id for %s not persisted within %.0f s", node_id, REMOTE_ACK_TIMEOUT_S)
        elif not ack.stored:
            # The provider client stops the job: a paid job nobody can find again must not run on.
            raise RemoteNotStored(ack.error)

    # -- worker reports (owner thread) -------------------------------------------------------------
    @pyqtSlot(str, str, object, object)
    def _on_remote(self, node_id: str, job_id: str, state: Any, ack: Any) -> None:
        self.remote_jobs[node_id] = {"job_id": job_id, **(state or {})}
        self._store_remote(node_id, job_id, dict(state or {}), ack, 0)

    def _store_remote(self, node_id: str, job_id: str, state: dict[str, Any], ack: _RemoteAck, attempt: int) -> None:
        try:
            self.store.set_remote(self.item_ids[node_id], job_id, state)
        except Exception as exc:
            if attempt < len(REMOTE_WRITE_RETRY_MS):
                log.info("could not store remote job %s of %s (%s); trying again", job_id, node_id,
                         self.store.describe_failure(exc))
                # Retried from the event loop, not by sleeping here: the window stays responsive meanwhile.
                QTimer.singleShot(REMOTE_WRITE_RETRY_MS[attempt],
                                  lambda: self._store_remote(node_id, job_id, state, ack, attempt + 1))
                return
            self._write_failed(exc)
            ack.error = self.store.describe_failure(exc)
            ack.event.set()
            self._maybe_finish()
            return
        ack.stored = True
        ack.event.set()

    @pyqtSlot(object)
    def _on_thumbnails(self, product_ids: list[str]) -> None:
        for product_id in product_ids:
            self.signals.thumbnails_ready.emit(product_id)

    @pyqtSlot(str, float, str)
    def _on_progress(self, node_id: str, percent: float, message: str) -> None:
        self.signals.node_progress.emit(NodeProgress(self.order_id, node_id, percent, message))
        now = time.monotonic()
        if now - self._progress_written.get(node_id, 0.0) >= PROGRESS_WRITE_INTERVAL_S:
            self._progress_written[node_id] = now
            if not self._write(self.store.set_progress, self.item_ids[node_id], percent, message):
                self._maybe_finish()

    @pyqtSlot(object)
    def _on_done(self, outcome: NodeOutcome) -> None:
        node_id = outcome.node_id
        self._running.pop(node_id, None)
        self.executor.release(self.plan.nodes[node_id].node_type.provider)
        cost = self._cost_of(outcome)
        if outcome.status == NodeStatus.EXECUTED:
            self._cost_per_product(outcome)
            try:
                self.store.finish_item(
                    self.item_ids[node_id], order_id=self.order_id, project_id=self.project_id,
                    status=NodeStatus.EXECUTED, outputs=outcome.encoded, products=outcome.products,
                    collection_adds=outcome.collection_adds, cost=cost,
                    **({"message": "\n".join(outcome.messages)} if outcome.messages else {}),
                )
            except Exception as exc:  # e.g. disk full: the node fails, its files go, the library stays whole
                log.info("could not record %s", node_id, exc_info=log.isEnabledFor(logging.DEBUG))
                discard_drafts(self.services.storage, outcome.products)
                if self.store.is_write_failure(exc):  # the library cannot take more: the order stops here
                    self._write_failed(exc)
                reason = self.store.describe_failure(exc)
                outcome = NodeOutcome(node_id, NodeStatus.FAILED, error=f"could not be recorded: {reason}",
                                      code="storage")
            else:
                self.status[node_id] = NodeStatus.EXECUTED
                self.values[node_id] = outcome.values
                self.outputs[node_id] = outcome.encoded
                for draft in outcome.products:
                    self.signals.product_created.emit(self.order_id, node_id, draft.id)
                self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.EXECUTED, "")
                self._release_successors(node_id)
        elif node_id in self._halted and outcome.status == NodeStatus.CANCELED:
            outcome = NodeOutcome(node_id, NodeStatus.FAILED, error=f"stopped: {self.storage_error}", code="storage")
        if outcome.status != NodeStatus.EXECUTED:
            self._set_final(node_id, outcome.status, outcome.error, outcome.code, cost)
            self._skip_dependents(node_id)
        self.executor.wake(self.plan.nodes[node_id].cache_key)
        self.executor.pump_all()

    def _cost_of(self, outcome: NodeOutcome) -> Cost | None:
        """What the node's remote jobs cost, for the ledger; pricing trouble never breaks a run."""
        costs = self.services.costs
        if not outcome.usage or costs is None:
            return None
        try:
            cost = costs.cost_of(outcome.usage)
        except Exception:
            log.warning("could not price what %s used; no cost recorded", outcome.node_id, exc_info=True)
            return None
        if cost is None:
            return None
        return Cost(cost.usd, cost.source, {**cost.detail, "usages": [u.as_dict() for u in outcome.usage]})

    def _cost_per_product(self, outcome: NodeOutcome) -> None:
        """Each product of a priced job gets its share of that job's cost in its metadata ("cost_usd"), so a
        shoot-out sheet can show cost per cell; the ledger keeps the node's total as before."""
        costs = self.services.costs
        if costs is None or not outcome.usage or not outcome.products:
            return
        by_job: dict[str, list[Any]] = {}
        for draft in outcome.products:
            job_id = draft.meta.get("job_id")
            if isinstance(job_id, str) and job_id:
                by_job.setdefault(job_id, []).append(draft)
        shares: dict[str, float] = {}
        for usage in outcome.usage:
            drafts = by_job.get(usage.job_id or "")
            if not drafts:
                continue
            try:
                priced = costs.cost_of([usage])
            except Exception:  # pricing trouble never breaks a run (as _cost_of)
                log.debug("could not price job %s", usage.job_id, exc_info=True)
                continue
            if priced is None or priced.usd is None:
                continue
            for draft in drafts:
                draft.meta["cost_usd"] = shares[draft.id] = round(priced.usd / len(drafts), 6)
        if shares:
            outcome.values = {port: [dataclasses.replace(v, cost_usd=shares[v.product_id])
                                     if isinstance(v, Media) and v.product_id in shares else v for v in values]
                              for port, values in outcome.values.items()}

    def _set_final(self, node_id: str, status: NodeStatus, error: str | None, code: str | None,
                   cost: Cost | None = None) -> None:
        self.status[node_id] = status
        self._waits.pop(node_id, None)
        if error:
            self.errors[node_id] = error
        self._write(self.store.mark_items, [self.item_ids[node_id]], status, error, code,
                    *((cost,) if cost is not None else ()))
        self.signals.node_finished.emit(self.order_id, node_id, status, error or "")

    def _skip_dependents(self, node_id: str) -> None:
        skipped = [n for n in self.plan.order
                   if n in self.plan.dependents(node_id) and self.status[n] == NodeStatus.PENDING]
        if not skipped:
            return
        self._skip(skipped, f"skipped: upstream node {node_id!r} {self.status[node_id]}", "skipped")

    def _skip(self, node_ids: list[str], reason: str, code: str) -> None:
        """Pending nodes that will not run: recorded in one write, then reported."""
        for node_id in node_ids:
            self.status[node_id] = NodeStatus.SKIPPED
            self.errors[node_id] = reason
            self._waits.pop(node_id, None)
            if node_id in self._ready:
                self._ready.remove(node_id)
        self._write(self.store.mark_items, [self.item_ids[n] for n in node_ids], NodeStatus.SKIPPED, reason, code)
        for node_id in node_ids:
            self.signals.node_finished.emit(self.order_id, node_id, NodeStatus.SKIPPED, reason)

    # -- failed writes ------------------------------------------------------------------------------
    def _write(self, write: Callable[..., Any], *args: Any) -> bool:
        """One store write from the owner thread. A failure must never escape into a Qt slot (PyQt6 would
        abort the process): it halts the order instead, and False tells the caller."""
        try:
            write(*args)
        except Exception as exc:
            self._write_failed(exc)
            return False
        return True

    def _write_failed(self, exc: BaseException) -> None:
        if self.storage_error is None:
            self.storage_error = self.store.describe_failure(exc)
            log.info("order %s stops: %s", self.order_id, self.storage_error)  # the CLI and the window say it
            log.debug("the failed write", exc_info=exc)
        else:
            log.debug("another failed write: %s", exc)
        # Nothing new starts; running nodes are told to stop (a remote job gets its cancel call).
        self._ready.clear()
        for node_id, ctx in self._running.items():
            self._halted.add(node_id)
            ctx.cancel_event.set()

    def _skip_unstarted(self) -> None:
        pending = [n for n in self.plan.order if self.status[n] == NodeStatus.PENDING]
        if not pending:
            return
        self._ready.clear()
        self._skip(pending, f"not run: {self.storage_error}", "storage")

    def report(self, result: dict[str, Any]) -> dict[str, Any]:
        """The run answer read back from the database, corrected by what this runner knows and could not
        write; with the storage error as `error` when there was one."""
        if self.storage_error is None:
            return result
        nodes = {node_id: dict(entry) for node_id, entry in (result.get("nodes") or {}).items()}
        for node_id, status in self.status.items():
            entry = nodes.setdefault(node_id, {"status": status, "error": None, "products": []})
            entry["status"] = status
            entry["error"] = self.errors.get(node_id, entry.get("error"))
        return {**result, "status": self.final_status or result.get("status"), "error": self.storage_error,
                "nodes": nodes}

    def _maybe_finish(self) -> None:
        if self.final_status is not None:
            return
        if self.storage_error is not None:
            self._skip_unstarted()
        if self._running or self._ready:
            return
        if any(s == NodeStatus.PENDING for s in self.status.values()) and not self._canceled:
            return
        # Bypassed and muted nodes did not run on purpose: an order whose other nodes succeeded succeeded.
        statuses = set(self.status.values()) - NODE_BY_MODE
        if self.storage_error is not None:
            final = OrderStatus.FAILED
        elif self._canceled:
            final = OrderStatus.CANCELED
        elif statuses <= {"executed", "cached"}:
            final = OrderStatus.SUCCEEDED
        elif statuses & {"executed", "cached"}:
            final = OrderStatus.PARTIAL
        else:
            final = OrderStatus.FAILED
        self.final_status = final
        failed = [f"{n}: {e}" for n, e in self.errors.items() if self.status[n] == NodeStatus.FAILED]
        reasons = ([self.storage_error] if self.storage_error else []) + failed
        if not self._write(self.store.finish_order, self.order_id, final, "; ".join(reasons)[:4000] or None):
            # Not even the order's end could be written: it stays open in the database, and once this process
            # is gone the next start (or `artfactory resume`) finds it interrupted and can finish it.
            self.final_status = final = OrderStatus.INTERRUPTED
        self.executor.forget(self)
        self.signals.order_finished.emit(self.order_id, final)
        self.finished.emit(self.order_id, final)


class Executor(QObject):
    """Starts orders on a shared worker pool with per-provider concurrency limits.

    `services` comes from artfactory.services.runs.run_services(library): the engine imports no service."""

    def __init__(self, services: RunServices, signals: DomainSignals | None = None, parent: QObject | None = None,
                 limits: Mapping[str, int] | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.store = services.orders
        self.signals = signals or DomainSignals(self)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(services.settings.pool_size())
        self.limits = dict(limits or services.settings.provider_limits())
        self._in_use: dict[str, int] = {}
        self.runners: dict[str, OrderRunner] = {}
        # Leases: a run that crashed stops refreshing its heartbeat, and after lease_ttl_s others take over.
        self.lease_ttl_s = float(getattr(services.settings, "lease_ttl_s", LEASE_TTL_S))
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(int(max(100.0, min(5000.0, self.lease_ttl_s * 1000 / 3))))
        self._heartbeat.timeout.connect(self._beat)
        self._wait_poll = QTimer(self)
        self._wait_poll.setInterval(WAIT_POLL_MS)
        self._wait_poll.timeout.connect(self._poll_waits)

    # -- provider slots ------------------------------------------------------------------------------
    def acquire(self, group: str | None) -> bool:
        if group is None:
            return True
        limit = max(1, self.limits.get(group, 4))
        if self._in_use.get(group, 0) >= limit:
            return False
        self._in_use[group] = self._in_use.get(group, 0) + 1
        return True

    def release(self, group: str | None) -> None:
        if group is not None:
            self._in_use[group] = max(0, self._in_use.get(group, 0) - 1)

    # -- leases ------------------------------------------------------------------------------------------
    def hold_leases(self) -> None:
        """This process holds leases now: keep their heartbeat fresh while it does."""
        if not self._heartbeat.isActive():
            self._heartbeat.start()

    def _beat(self) -> None:
        try:
            held = self.store.heartbeat()
        except Exception as exc:  # the next beat tries again; a lease only goes stale after lease_ttl_s
            log.debug("heartbeat failed: %s", exc)
            return
        if not held:
            self._heartbeat.stop()

    def wake(self, cache_key: str) -> None:
        if self._wait_poll.isActive():
            for runner in list(self.runners.values()):
                runner.wake(cache_key)

    def watch_waits(self) -> None:
        if not self._wait_poll.isActive():
            self._wait_poll.start()

    def _poll_waits(self) -> None:
        waiting = False
        for runner in list(self.runners.values()):
            waiting = runner.poll_waits() or waiting
        if not waiting:
            self._wait_poll.stop()

    def pump_all(self) -> None:
        for runner in list(self.runners.values()):
            runner._pump()

    def forget(self, runner: OrderRunner) -> None:
        self.runners.pop(runner.order_id, None)

    # -- starting orders -------------------------------------------------------------------------------
    def plan(self, doc: GraphDocument, *, pinned_seeds: Mapping[str, int] | None = None, reroll: bool = False,
             only: Iterable[str] | None = None, reroll_nodes: Iterable[str] = ()) -> Plan:
        store = self.store
        return build_plan(doc, self.services.registry, home=self.services.home, pinned_seeds=pinned_seeds,
                          seed_lookup=store.seed_for_request, reroll=reroll, only=only, reroll_nodes=reroll_nodes)

    def submit(self, plan: Plan, *, project_id: int, parent_order_id: str | None = None, reroll: bool = False,
               graph_id: int | None = None, start: bool = True) -> OrderRunner:
        order_id = self.store.create_order(plan, project_id=project_id, parent_order_id=parent_order_id,
                                           reroll=reroll, graph_id=graph_id)
        self.signals.order_created.emit(order_id)
        runner = OrderRunner(self, plan, order_id, project_id)
        self.runners[order_id] = runner
        if start:
            runner.start()
        return runner

    def resume(self, order_id: str, plan: Plan, project_id: int,
               items: Mapping[str, Mapping[str, Any]]) -> OrderRunner:
        runner = OrderRunner(self, plan, order_id, project_id, finished_items=items)
        self.runners[order_id] = runner
        runner.start()
        return runner

    def cancel_all(self) -> None:
        for runner in list(self.runners.values()):
            runner.cancel()

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        return self.pool.waitForDone(timeout_ms)
