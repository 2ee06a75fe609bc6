"""Orders and their items in the database: the single writer behind every run, and cache look-ups."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, text, update

from artfactory.engine.context import reattachable, remote_jobs_of
from artfactory.engine.cost import Cost
from artfactory.engine.nodetypes import Media, media_facts
from artfactory.engine.plan import Plan
from artfactory.engine.ports import (
    CachedResult,
    Claims,
    LeaseHolder,
    ProductDraft,
    encode_outputs,
    encode_value,
    product_ids_in,
)
from artfactory.engine.status import NodeStatus, OrderStatus
from artfactory.models import Collection, Lease, Order, OrderItem, Product, collection_products, new_id, utcnow
from artfactory.models.db import insert_new
from artfactory.models.entities import OrderInput, ProductSource
from artfactory.services.library import Library
from artfactory.services.write_errors import describe_write_failure, is_write_failure

# Defined by the engine (whose OrderPersistence this store implements); importable from here as before.
__all__ = ["CachedResult", "InterruptedOrder", "OrderStore", "ProductDraft", "encode_outputs", "encode_value",
           "id_words", "product_ids_in", "product_labels"]

FINISHED_ITEM = (NodeStatus.EXECUTED, NodeStatus.CACHED)
# An earlier item in one of these states gave up its remote jobs: they are not re-attached (canceled ones were
# canceled remotely; finished ones were consumed).
NOT_REATTACHED = (NodeStatus.EXECUTED, NodeStatus.CACHED, NodeStatus.CANCELED)
log = logging.getLogger("artfactory.orders")
LABELS_KEPT = 64  # orders whose product labels stay in memory (one order runs at a time per graph)
OPEN_ORDER = (OrderStatus.QUEUED, OrderStatus.RUNNING)
# Whether a start-up has anything to recover: plain SQL, since compiling the ORM queries below costs more than
# the rest of a cached run's start-up, and nearly always there is nothing left open.
_ANYTHING_OPEN = text(
    f"SELECT 1 FROM orders WHERE status IN ({', '.join(repr(s.value) for s in OPEN_ORDER)}) "
    f"AND NOT (status = '{OrderStatus.QUEUED.value}' AND queue_position IS NOT NULL) "
    "UNION ALL SELECT 1 FROM leases LIMIT 1")


@dataclass
class InterruptedOrder:
    """An order a dead process left open, as `OrderStore.interrupted_orders` finds it."""

    order_id: str
    project_id: int
    snapshot: str
    items: dict[str, dict[str, Any]]
    pinned_seeds: dict[str, int]


def product_labels(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Readable names for what each node of a graph document makes, unique within it.

    A node's own title (set on the canvas) if it has one, else its id in words ("small" → "Small",
    "resize_2" → "Resize 2"); where two would read the same, the id is added: "Fox (gen)".
    """
    meta = snapshot.get("meta")
    canvas = meta.get("canvas") if isinstance(meta, dict) else None
    canvas = canvas if isinstance(canvas, dict) else {}
    nodes = snapshot.get("nodes")
    ids = [n["id"] for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)] \
        if isinstance(nodes, list) else []
    labels = {}
    for node_id in ids:
        entry = canvas.get(node_id)
        title = entry.get("title") if isinstance(entry, dict) else None
        labels[node_id] = " ".join(title.split()) if isinstance(title, str) and title.strip() else id_words(node_id)
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label.casefold()] = seen.get(label.casefold(), 0) + 1
    return {n: f"{label} ({n})" if seen[label.casefold()] > 1 else label for n, label in labels.items()}


def id_words(node_id: str) -> str:
    """A node id as words: "small" → "Small", "resize_2" → "Resize 2", "outer/inner" → "Outer / Inner"."""
    parts = [re.sub(r"[_\s]+", " ", part).strip() for part in node_id.split("/")]
    return " / ".join(p[:1].upper() + p[1:] for p in parts if p) or node_id


def _owner_dead_here(owner: str) -> bool:
    """Whether a lease owner ("host:pid") is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def _cost_columns(cost: Cost | None) -> dict[str, Any]:
    if cost is None:
        return {}
    detail = json.loads(json.dumps(cost.detail, default=str)) if cost.detail else {}
    return {"cost_usd": cost.usd, "cost_source": cost.source, "cost_detail": detail}


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class OrderStore:
    """Every write an order makes (the engine's OrderPersistence). Call it from one thread (the app's or the
    CLI's main thread); only the reads the protocol names for workers may come from elsewhere."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.engine = library.db.engine
        self._labels: dict[str, dict[str, str]] = {}  # order id -> node id -> product label
        # Leases (in-flight cache keys) this store's runs hold: item id -> (cache key, order id). The owner names
        # this process so other runs can tell a crash (stale heartbeat, dead pid) from a run still at work.
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._held: dict[str, tuple[str, str]] = {}
        leases: Table = Lease.__table__  # type: ignore[assignment]
        self._leases = leases
        dialect = self.engine.dialect.name
        # Only the library's own dialect is imported (the PostgreSQL one costs ~45 ms of every CLI start).
        insert_for = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert \
            if dialect in ("sqlite", "postgresql") else None
        self._insert_lease = (insert_for(leases).on_conflict_do_nothing(index_elements=[leases.c.cache_key])
                              if insert_for is not None else None)
        self._release_lease = leases.delete().where(leases.c.cache_key == bindparam("k"),
                                                    leases.c.item_id == bindparam("i"))
        self._leases_of = select(leases).where(leases.c.cache_key.in_(bindparam("keys", expanding=True)))
        orders: Table = Order.__table__  # type: ignore[assignment]
        items: Table = OrderItem.__table__  # type: ignore[assignment]
        # Earlier items of won keys: a result that appeared meanwhile, or recorded remote jobs to re-attach.
        self._earlier_items = (
            select(items.c.id, items.c.order_id, items.c.cache_key, items.c.status, items.c.outputs,
                   items.c.remote_job_id, items.c.remote_state, orders.c.created_at)
            .join(orders, orders.c.id == items.c.order_id)
            .where(items.c.cache_key.in_(bindparam("keys", expanding=True)),
                   or_(and_(items.c.status.in_(FINISHED_ITEM), items.c.outputs.is_not(None)),
                       items.c.remote_job_id.is_not(None)))
        )
        # Hot-path statements are built once on the table (not the ORM entity) so each execution reuses
        # SQLAlchemy's compiled form: per-node persistence must stay well under a millisecond.
        self._set_item: dict[tuple[str, ...], Any] = {
            columns: items.update().where(items.c.id == bindparam("_id")).values(
                {c: bindparam(c) for c in columns})
            for columns in (
                ("status", "started_at", "error", "error_code"),
                ("progress", "progress_message"),
                ("remote_job_id", "remote_state"),
                ("status", "error", "error_code", "finished_at"),
                ("status", "outputs", "error", "error_code", "finished_at", "progress"),
                ("status", "outputs", "params", "source_item_id", "progress", "started_at", "finished_at"),
            )
        }

    def _update_items(self, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            columns = tuple(k for k in rows[0] if k != "_id")
            statement = self._set_item.get(columns)
            if statement is None:  # a rarer shape (with costs, shared_with, a waiting message): built once
                items: Table = OrderItem.__table__  # type: ignore[assignment]
                statement = self._set_item[columns] = items.update().where(items.c.id == bindparam("_id")).values(
                    {c: bindparam(c) for c in columns})
            conn.execute(statement, list(rows))

    # -- creating ----------------------------------------------------------------------------
    def create_order(self, plan: Plan, *, project_id: int, parent_order_id: str | None = None,
                     reroll: bool = False, graph_id: int | None = None) -> str:
        snapshot = plan.document.dumps()
        order_id = new_id()
        now = utcnow()
        rows = [
            {
                "id": new_id(), "order_id": order_id, "position": index, "node_id": node.id,
                "node_type": node.node_type.type, "type_version": node.node_type.version,
                "params": node.params, "request_key": node.request_key, "cache_key": node.cache_key,
                "status": NodeStatus.PENDING, "progress": 0.0, "progress_message": "",
            }
            for index, node in enumerate(plan.nodes[n] for n in plan.order)
        ]
        self._remember_labels(order_id, json.loads(snapshot))
        with self.engine.begin() as conn:
            conn.execute(insert(Order.__table__), [{  # type: ignore[arg-type]
                "id": order_id, "project_id": project_id, "graph_id": graph_id,
                "parent_order_id": parent_order_id, "name": plan.document.name, "snapshot": snapshot,
                "snapshot_sha256": hashlib.sha256(snapshot.encode("utf-8")).hexdigest(),
                "status": OrderStatus.QUEUED, "reroll": reroll, "pid": os.getpid(), "created_at": now,
            }])
            if rows:
                conn.execute(insert(OrderItem.__table__), rows)  # type: ignore[arg-type]
        return order_id

    def item_ids(self, order_id: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(OrderItem.node_id, OrderItem.id).where(OrderItem.order_id == order_id))
            return {node_id: item_id for node_id, item_id in rows}

    def items(self, order_id: str) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(OrderItem).where(OrderItem.order_id == order_id)).mappings()
            return {row["node_id"]: dict(row) for row in rows}

    # -- cache ---------------------------------------------------------------------------------
    def find_cached(self, keys: Iterable[str]) -> dict[str, CachedResult]:
        """The newest finished result per cache key whose products still exist."""
        wanted = list(dict.fromkeys(keys))
        with self.engine.connect() as conn:
            return self._find_cached(conn, wanted)

    def _find_cached(self, conn: Any, wanted: Sequence[str]) -> dict[str, CachedResult]:
        found: dict[str, CachedResult] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = conn.execute(
                select(OrderItem.cache_key, OrderItem.id, OrderItem.outputs, OrderItem.params,
                       OrderItem.source_item_id, OrderItem.order_id)
                .where(OrderItem.cache_key.in_(chunk), OrderItem.status.in_(FINISHED_ITEM),
                       OrderItem.outputs.is_not(None))
                .order_by(OrderItem.finished_at.desc())
            )
            candidates: dict[str, list[tuple[str, dict[str, Any], dict[str, Any], str]]] = {}
            for key, item_id, outputs, params, source, order_id in rows:
                candidates.setdefault(key, []).append((source or item_id, outputs, params, order_id))
            for key, options in candidates.items():
                for item_id, outputs, params, order_id in options:
                    if self._products_present(conn, product_ids_in(outputs)):
                        found[key] = CachedResult(item_id, outputs, params, order_id)
                        break
        return found

    def _products_present(self, conn: Any, product_ids: list[str]) -> bool:
        if not product_ids:
            return True
        rows = conn.execute(select(Product.id, Product.path).where(Product.id.in_(product_ids))).all()
        if len(rows) != len(product_ids):
            return False
        storage = self.library.storage
        return all(storage.absolute(path).is_file() for _, path in rows)

    def find_product_path(self, project_id: int, sha256: str) -> str | None:
        """The stored path of a product with these bytes in the project (storage deduplicates against it).
        Read-only, from worker threads too: WAL lets it run beside the writer."""
        with self.engine.connect() as conn:
            return conn.execute(select(Product.path).where(
                Product.project_id == project_id, Product.sha256 == sha256).limit(1)).scalar()

    def is_write_failure(self, exc: BaseException) -> bool:
        return is_write_failure(exc)

    def describe_failure(self, exc: BaseException) -> str:
        return describe_write_failure(exc, self.library.home)

    def seed_for_request(self, request_key: str, seed_param: str) -> int | None:
        """The seed a random-seed node got the last time it was asked the same thing."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(OrderItem.params).where(OrderItem.request_key == request_key,
                                               OrderItem.status.in_(FINISHED_ITEM))
                .order_by(OrderItem.finished_at.desc()).limit(1)
            ).first()
        if row is None:
            return None
        seed = (row[0] or {}).get(seed_param)
        return seed if isinstance(seed, int) and seed >= 0 else None

    # -- status changes (each persisted at once) -------------------------------------------------
    def start_order(self, order_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(Order).where(Order.id == order_id)
                         .values(status=OrderStatus.RUNNING, started_at=utcnow(), pid=os.getpid(), error=None))

    def finish_order(self, order_id: str, status: str, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(Order).where(Order.id == order_id)
                         .values(status=status, finished_at=utcnow(), error=error))
            self._record_inputs(conn, order_id)
            # Whatever the order still held (a node that never reported back) is free for other runs now.
            conn.execute(delete(Lease).where(Lease.order_id == order_id))
        for item_id in [i for i, (_, o) in self._held.items() if o == order_id]:
            del self._held[item_id]

    def _record_inputs(self, conn: Any, order_id: str) -> None:
        """The library products the order took in (the outputs of its executed or cached nodes whose type
        `takes_in`, e.g. input.product) as order_inputs rows, so "used in" names the order; written again on a
        resumed order's end."""
        types = [t.type for t in self.library.registry if t.takes_in]
        if not types:
            return
        rows: list[dict[str, Any]] = []
        for node_id, outputs in conn.execute(select(OrderItem.node_id, OrderItem.outputs).where(
                OrderItem.order_id == order_id, OrderItem.node_type.in_(types),
                OrderItem.status.in_(FINISHED_ITEM))):
            rows += [{"order_id": order_id, "node_id": node_id, "product_id": product_id, "position": position}
                     for position, product_id in enumerate(product_ids_in(outputs))]
        conn.execute(delete(OrderInput).where(OrderInput.order_id == order_id))
        if rows:
            conn.execute(insert(OrderInput), rows)

    def mark_cached(self, item_ids: Mapping[str, str], hits: Mapping[str, CachedResult]) -> None:
        """Bulk: nodes answered from the cache, in one transaction."""
        if not hits:
            return
        now = utcnow()
        rows = [{"_id": item_ids[node_id], "status": NodeStatus.CACHED, "outputs": hit.outputs, "params": hit.params,
                 "source_item_id": hit.item_id, "progress": 100.0, "started_at": now, "finished_at": now}
                for node_id, hit in hits.items()]
        with self.engine.begin() as conn:
            self._update_items(conn, rows)

    def mark_running(self, item_ids: Iterable[str]) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            self._update_items(conn, [{"_id": item_id, "status": NodeStatus.RUNNING, "started_at": now, "error": None,
                                       "error_code": None} for item_id in item_ids])

    # -- leases: one run executes a cache key, the others wait for it ---------------------------------
    def claim(self, order_id: str, keys: Mapping[str, str], stale_after_s: float) -> Claims:
        """Claim the leases of one launch wave (item id -> cache key) in one transaction.

        Each key is inserted, or taken over when its holder is gone. A key whose result appeared meanwhile
        (another run finished it) is answered from the cache at once; a won key gets the accepted remote jobs an
        earlier unfinished run recorded (persisted into the item now, so a crash keeps them)."""
        claims = Claims()
        if not keys:
            return claims
        wanted: dict[str, list[str]] = {}  # cache key -> item ids (one graph may hold the same work twice)
        for item_id, key in keys.items():
            wanted.setdefault(key, []).append(item_id)
        won: dict[str, str] = {}  # cache key -> item id
        with self.engine.begin() as conn:
            now = lease_clock(conn)
            rows = [{"cache_key": key, "order_id": order_id, "item_id": ids[0], "owner": self.owner,
                     "acquired_at": now, "heartbeat_at": now} for key, ids in wanted.items()]
            inserted = self._insert_leases(conn, rows)
            current = {} if inserted == len(rows) else {
                row.cache_key: row for row in conn.execute(self._leases_of, {"keys": list(wanted)})}
            for key, ids in wanted.items():
                row = current.get(key)
                holder = None if row is None else LeaseHolder(row.order_id, row.item_id, row.owner,
                                                              (now - row.heartbeat_at).total_seconds())
                if holder is None or holder.item_id == ids[0] or self._take_over(conn, key, holder, ids[0],
                                                                                    order_id, now, stale_after_s):
                    won[key] = ids[0]
                    holder = LeaseHolder(order_id, ids[0], self.owner)
                    ids = ids[1:]
                for item_id in ids:
                    claims.held[item_id] = holder
            if won:
                self._settle_won(conn, order_id, won, claims, now)
            waiting = [{"_id": i, "progress_message": f"waiting for order {h.order_id} (same work)"}
                       for i, h in claims.held.items()]
            self._update_items(conn, waiting)
        self._held.update((item_id, (key, order_id)) for key, item_id in won.items() if item_id in claims.won)
        return claims

    def _insert_leases(self, conn: Any, rows: list[dict[str, Any]]) -> int:
        """Insert the leases nobody holds; returns how many went in (-1: unknown, look them up)."""
        if self._insert_lease is not None:
            count = conn.execute(self._insert_lease, rows).rowcount
            return count if isinstance(count, int) else -1
        taken = set(conn.execute(select(self._leases.c.cache_key).where(
            self._leases.c.cache_key.in_([r["cache_key"] for r in rows]))).scalars())
        free = [r for r in rows if r["cache_key"] not in taken]
        if free:
            conn.execute(insert(self._leases), free)
        return len(free)

    def _take_over(self, conn: Any, key: str, holder: LeaseHolder, item_id: str, order_id: str, now: Any,
                   stale_after_s: float) -> bool:
        """Compare-and-swap a lease whose holder is gone (crashed, or ended without releasing it) to this item."""
        if not self.is_stale(holder, stale_after_s):
            status = conn.execute(select(OrderItem.status).where(OrderItem.id == holder.item_id)).scalar()
            if status in (NodeStatus.PENDING, NodeStatus.RUNNING):
                return False
        leases = self._leases
        taken = conn.execute(update(leases).where(
            leases.c.cache_key == key, leases.c.item_id == holder.item_id, leases.c.owner == holder.owner,
        ).values(order_id=order_id, item_id=item_id, owner=self.owner, acquired_at=now, heartbeat_at=now)).rowcount
        if taken:
            log.info("took over %s from %s (order %s): its run is gone", key[:12], holder.owner, holder.order_id)
        return bool(taken)

    def _settle_won(self, conn: Any, order_id: str, won: dict[str, str], claims: Claims, now: Any) -> None:
        """For won keys: answer from a result that appeared meanwhile, else re-attach recorded remote jobs."""
        rows = conn.execute(self._earlier_items, {"keys": list(won)}).all()
        finished = {row.cache_key for row in rows if row.status in FINISHED_ITEM and row.outputs is not None}
        hits = self._find_cached(conn, sorted(finished)) if finished else {}
        # Shared with the order that executed the work (not another waiter that was answered before us).
        executed_by = dict(conn.execute(select(OrderItem.id, OrderItem.order_id).where(
            OrderItem.id.in_([hit.item_id for hit in hits.values()]))).all()) if hits else {}
        cached_rows = []
        for key, hit in hits.items():
            item_id = won.pop(key)
            source_order = executed_by.get(hit.item_id, hit.order_id)
            hit = CachedResult(hit.item_id, hit.outputs, hit.params, source_order)
            claims.cached[item_id] = hit
            cached_rows.append({"_id": item_id, "status": NodeStatus.CACHED, "outputs": hit.outputs,
                                "params": hit.params,
                                "source_item_id": hit.item_id, "progress": 100.0, "started_at": now,
                                "finished_at": now, "progress_message": "",
                                "shared_with": source_order if source_order != order_id else None})
            conn.execute(self._release_lease, [{"k": key, "i": item_id}])
        self._update_items(conn, cached_rows)
        newest: dict[str, Any] = {}
        for row in rows:
            if row.remote_job_id is not None and row.cache_key in won and (
                    row.cache_key not in newest or row.created_at > newest[row.cache_key].created_at):
                newest[row.cache_key] = row
        persist = []
        for key, item_id in won.items():
            claims.won.add(item_id)
            row = newest.get(key)
            if row is None or row.status in NOT_REATTACHED:
                continue
            jobs = reattachable(remote_jobs_of({"remote_job_id": row.remote_job_id, "remote_state": row.remote_state}))
            if not jobs:
                continue
            claims.remote_jobs[item_id] = jobs
            if row.id != item_id:
                last = jobs[max(jobs)]
                persist.append({"_id": item_id, "remote_job_id": last["job_id"],
                                "remote_state": {"jobs": {str(k): v for k, v in jobs.items()}}})
        self._update_items(conn, persist)

    def lease_holders(self, keys: Iterable[str]) -> dict[str, LeaseHolder]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        leases = self._leases
        with self.engine.connect() as conn:
            now = lease_clock(conn)
            rows = conn.execute(select(leases.c.cache_key, leases.c.order_id, leases.c.item_id, leases.c.owner,
                                       leases.c.heartbeat_at).where(leases.c.cache_key.in_(wanted))).all()
        return {key: LeaseHolder(order_id, item_id, owner, (now - beat).total_seconds())
                for key, order_id, item_id, owner, beat in rows}

    def is_stale(self, holder: LeaseHolder, stale_after_s: float) -> bool:
        if holder.owner == self.owner:
            # This process: a lease this store holds is alive even when a busy event loop delayed its heartbeat.
            return holder.item_id not in self._held and holder.age_s > stale_after_s
        return holder.age_s > stale_after_s or _owner_dead_here(holder.owner)

    def heartbeat(self) -> int:
        if not self._held:
            return 0
        with self.engine.begin() as conn:
            conn.execute(update(self._leases).where(self._leases.c.owner == self.owner)
                         .values(heartbeat_at=lease_clock(conn)))
        return len(self._held)

    def recorded_jobs(self, cache_key: str) -> dict[int, dict[str, Any]]:
        """Accepted remote jobs of the newest earlier run of this cache key that recorded any, unless that run
        finished or was canceled; jobs the provider reported ended are left out."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(OrderItem.status, OrderItem.remote_job_id, OrderItem.remote_state)
                .join(Order, Order.id == OrderItem.order_id)
                .where(OrderItem.cache_key == cache_key, OrderItem.remote_job_id.is_not(None))
                .order_by(Order.created_at.desc()).limit(1)
            ).first()
        if row is None or row.status in NOT_REATTACHED:
            return {}
        return reattachable(remote_jobs_of({"remote_job_id": row.remote_job_id, "remote_state": row.remote_state}))

    def set_progress(self, item_id: str, percent: float, message: str) -> None:
        with self.engine.begin() as conn:
            self._update_items(conn, [{"_id": item_id, "progress": percent, "progress_message": message[:2000]}])

    def set_remote(self, item_id: str, job_id: str, state: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            self._update_items(conn, [{"_id": item_id, "remote_job_id": job_id, "remote_state": dict(state)}])

    def mark_items(self, item_ids: Iterable[str], status: str, error: str | None = None,
                   code: str | None = None, cost: Cost | None = None) -> None:
        """Items ending without outputs (failed, canceled, skipped); `cost` is what their remote jobs used. Their
        leases go in the same transaction, so a waiting run sees the end and the cache together."""
        ids = list(item_ids)
        if not ids:
            return
        now = utcnow()
        costs = _cost_columns(cost)
        with self.engine.begin() as conn:
            self._update_items(conn, [{"_id": i, "status": status, "error": error, "error_code": code,
                                       "finished_at": now, **costs} for i in ids])
            self._release(conn, ids)
        self._forget(ids)

    def _release(self, conn: Any, item_ids: Sequence[str]) -> None:
        held = [{"k": self._held[i][0], "i": i} for i in item_ids if i in self._held]
        if held:
            conn.execute(self._release_lease, held)

    def _forget(self, item_ids: Sequence[str]) -> None:
        for item_id in item_ids:
            self._held.pop(item_id, None)

    def finish_item(self, item_id: str, *, order_id: str, project_id: int, status: str,
                    outputs: dict[str, Any] | None = None, error: str | None = None, code: str | None = None,
                    products: Sequence[ProductDraft] = (), collection_adds: Sequence[Any] = (),
                    cost: Cost | None = None, message: str | None = None) -> None:
        """A node's end: its products, collection adds, status, cost, its closing message (what it skipped, say)
        and the release of its lease in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            if products:
                labels = self._order_labels(conn, order_id)
                names = self._free_names(conn, project_id, products, labels)
                conn.execute(insert(Product), [self._product_row(d, order_id, item_id, project_id, now, names)
                                               for d in products])
                sources = source_rows(products)
                if sources:
                    conn.execute(insert(ProductSource), sources)
            for add in collection_adds:
                self._add_to_collection(conn, project_id, add.name, add.product_ids)
            self._update_items(conn, [{"_id": item_id, "status": status, "outputs": outputs, "error": error,
                                       "error_code": code, "finished_at": now,
                                       "progress": 100.0 if status == NodeStatus.EXECUTED else 0.0,
                                       **_cost_columns(cost),
                                       **({"progress_message": message[:4000]} if message else {})}])
            self._release(conn, [item_id])
        self._forget([item_id])

    def _remember_labels(self, order_id: str, snapshot: Any) -> dict[str, str]:
        labels = product_labels(snapshot) if isinstance(snapshot, dict) else {}
        self._labels[order_id] = labels
        while len(self._labels) > LABELS_KEPT:
            del self._labels[next(iter(self._labels))]
        return labels

    def _order_labels(self, conn: Any, order_id: str) -> dict[str, str]:
        if order_id in self._labels:
            return self._labels[order_id]
        # An order resumed after a restart: its labels come from its snapshot.
        snapshot = conn.execute(select(Order.snapshot).where(Order.id == order_id)).scalar()
        try:
            data = json.loads(snapshot) if snapshot else None
        except ValueError:
            data = None
        return self._remember_labels(order_id, data)

    @staticmethod
    def _free_names(conn: Any, project_id: int, drafts: Sequence[ProductDraft],
                    labels: Mapping[str, str]) -> dict[str, str]:
        """Names for unnamed drafts, by product id: the node's title and the next free number in the project
        ("Small · 5" after four earlier ones), so two runs of one graph never show two "Small · 1"."""
        by_label: dict[str, list[ProductDraft]] = {}
        for d in drafts:
            if not d.name:
                by_label.setdefault(labels.get(d.node_id) or id_words(d.node_id), []).append(d)
        names: dict[str, str] = {}
        for label, group in by_label.items():
            prefix = f"{label} · "
            in_project = Product.project_id == project_id
            # An index range scan (ix_products_project_name), not a LIKE over the table.
            taken = conn.execute(select(func.count()).select_from(Product).where(
                in_project, Product.name >= prefix, Product.name < prefix + "\U0010ffff")).scalar() or 0
            number = taken + 1
            group.sort(key=lambda d: d.batch_index)
            while True:  # after deletions a later number may still be in use: step past it
                wanted = [f"{prefix}{number + i}" for i in range(len(group))]
                used = set(conn.execute(select(Product.name).where(in_project, Product.name.in_(wanted))).scalars())
                if not used:
                    break
                number += len(group)
            names.update((d.id, name) for d, name in zip(group, wanted, strict=True))
        return names

    @staticmethod
    def _product_row(d: ProductDraft, order_id: str, item_id: str, project_id: int, now: Any,
                     names: Mapping[str, str] | None = None) -> dict[str, Any]:
        info = d.stored.info
        meta = d.meta
        seed = meta.get("seed")
        return {
            "id": d.id, "project_id": project_id, "order_id": order_id, "order_item_id": item_id,
            "node_id": d.node_id, "node_type": d.node_type, "batch_index": d.batch_index,
            "name": d.name or (names or {}).get(d.id) or f"{id_words(d.node_id)} · {d.batch_index + 1}",
            "path": d.stored.relative_path,
            "sha256": d.stored.sha256, "media_type": info.media_type, "mime": info.mime,
            "width": info.width, "height": info.height, "duration": info.duration,
            "size_bytes": d.stored.size_bytes, "thumbnails": None,
            "prompt": str(meta.get("prompt") or ""), "provider": meta.get("provider"), "model": meta.get("model"),
            "seed": seed if isinstance(seed, int) and -(2**63) <= seed < 2**63 else None,
            "params": d.params, "metadata": json.loads(json.dumps(meta, default=str)),
            "rating": 0, "favourite": False, "created_at": now,
        }

    @staticmethod
    def _add_to_collection(conn: Any, project_id: int, name: str, product_ids: Sequence[str]) -> None:
        named = select(Collection.id).where(Collection.project_id == project_id, Collection.name == name)
        collection_id = conn.execute(named).scalar()
        if collection_id is None:
            # Runs on other machines may create it at the same moment: whoever is first makes it, all use it.
            conn.execute(insert_new(conn, Collection.__table__).values(
                project_id=project_id, name=name, created_at=utcnow()))
            collection_id = conn.execute(named).scalar()
        existing = set(conn.execute(select(collection_products.c.product_id).where(
            collection_products.c.collection_id == collection_id,
            collection_products.c.product_id.in_(list(product_ids)))).scalars())
        rows = [{"collection_id": collection_id, "product_id": pid, "added_at": utcnow()}
                for pid in dict.fromkeys(product_ids) if pid not in existing]
        if rows:
            conn.execute(insert_new(conn, collection_products), rows)

    # -- reading values back -------------------------------------------------------------------
    def decode_outputs(self, outputs: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
        """Encoded outputs back to port values, media as Media with absolute paths."""
        ids = product_ids_in(outputs)
        media: dict[str, Media] = {}
        if ids:
            with self.engine.connect() as conn:
                for row in conn.execute(select(Product).where(Product.id.in_(ids))).mappings():
                    media[row["id"]] = Media(
                        product_id=row["id"], path=self.library.storage.absolute(row["path"]),
                        media_type=row["media_type"], width=row["width"], height=row["height"],
                        prompt=row["prompt"], seed=row["seed"], sweep=_sweep_of(row),
                        seconds=media_facts(_meta_of(row))[0], cost_usd=media_facts(_meta_of(row))[1],
                        title=_title_of(row),
                    )
        decoded: dict[str, list[Any]] = {}
        for port, values in (outputs or {}).items():
            decoded[port] = [media[v["product"]] if isinstance(v, dict) and "product" in v else v for v in values]
        return decoded

    def find_item_products(self, project_id: int, node_type: str, keys: Sequence[str]) -> dict[str, list[Media]]:
        """Products made before for batch item keys (product metadata "item_key"), newest first per key, whose
        files are still there; a sweep re-runs only the items whose key is new."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        item_key = Product.meta["item_key"].as_string()
        found: dict[str, list[Media]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Product.id, Product.path, Product.media_type, Product.width, Product.height, Product.prompt,
                       Product.seed, Product.meta, Product.order_item_id, item_key.label("item_key"))
                .where(Product.project_id == project_id, Product.node_type == node_type, item_key.in_(wanted))
                .order_by(Product.created_at.desc(), Product.batch_index)).mappings().all()
        chosen: dict[str, str] = {}  # key -> the order item whose products answer it (the newest)
        for row in rows:
            key = row["item_key"]
            if chosen.setdefault(key, row["order_item_id"]) != row["order_item_id"]:
                continue
            path = self.library.storage.absolute(row["path"])
            if not path.is_file():
                found.pop(key, None)
                chosen[key] = ""  # a file gone: the item runs again
                continue
            found.setdefault(key, []).append(Media(
                product_id=row["id"], path=path, media_type=row["media_type"], width=row["width"],
                height=row["height"], prompt=row["prompt"], seed=row["seed"], sweep=_sweep_of(row),
                seconds=media_facts(_meta_of(row))[0], cost_usd=media_facts(_meta_of(row))[1],
                title=_title_of(row)))
        return found

    # -- interrupted orders ----------------------------------------------------------------------
    def recover_interrupted(self, active: Iterable[str] = ()) -> list[str]:
        """Orders left open by a process that is gone become `interrupted`; their running items pending."""
        active_ids = set(active)
        with self.engine.connect() as conn:
            if conn.execute(_ANYTHING_OPEN).first() is None:
                return []
        with self.engine.begin() as conn:
            # An order waiting in the queue (it has a position) is not open work of a process: it stays queued.
            waiting = and_(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
            rows = conn.execute(select(Order.id, Order.pid).where(Order.status.in_(OPEN_ORDER), ~waiting)).all()
            dead = [oid for oid, pid in rows
                    if oid not in active_ids and (pid != os.getpid() and not _pid_alive(pid))]
            if dead:
                conn.execute(update(Order).where(Order.id.in_(dead)).values(status=OrderStatus.INTERRUPTED))
                conn.execute(update(OrderItem)
                             .where(OrderItem.order_id.in_(dead), OrderItem.status == NodeStatus.RUNNING)
                             .values(status=NodeStatus.PENDING))
                conn.execute(delete(Lease).where(Lease.order_id.in_(dead)))
            # Leases of processes of this host that are gone: their work is free to be taken (and re-attached).
            gone = [o for o in conn.execute(select(Lease.owner).distinct()).scalars() if _owner_dead_here(o)]
            if gone:
                conn.execute(delete(Lease).where(Lease.owner.in_(gone)))
        return dead

    def interrupted_orders(self, order_ids: Sequence[str] = ()) -> list[InterruptedOrder]:
        """Interrupted orders (all, or those named), oldest first, with what a resume needs: the snapshot, the
        items as they stand and the seeds they had resolved, so nothing finished or paid for is done again."""
        with self.engine.connect() as conn:
            query = select(Order.id, Order.snapshot, Order.project_id).where(Order.status == OrderStatus.INTERRUPTED)
            if order_ids:
                query = query.where(Order.id.in_(list(order_ids)))
            rows = conn.execute(query.order_by(Order.created_at)).all()
        registry = self.library.registry
        found = []
        for order_id, snapshot, project_id in rows:
            items = self.items(order_id)
            pinned = {node: item["params"][nt.seed_param] for node, item in items.items()
                      if (nt := registry.get(item["node_type"])) and nt.seed_param
                      and isinstance((item["params"] or {}).get(nt.seed_param), int)}
            found.append(InterruptedOrder(order_id, project_id, snapshot, items, pinned))
        return found

    def delete_order(self, order_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(Order).where(Order.id == order_id))


def lease_clock(conn: Any) -> datetime:
    """Now, for lease times (UTC): on PostgreSQL the server's clock, shared by every machine on the library, so a
    machine whose clock runs ahead never takes a live lease for a stale one; SQLite's machine is the only one."""
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT timezone('UTC', clock_timestamp())").scalar()
    return utcnow()


def source_rows(drafts: Sequence[ProductDraft]) -> list[dict[str, Any]]:
    """product_sources rows for new products: each one's metadata "source_product_ids" (what it was made from),
    in order, without repeats or itself."""
    rows: list[dict[str, Any]] = []
    for draft in drafts:
        ids = draft.meta.get("source_product_ids")
        seen: set[str] = set()
        for position, source in enumerate(ids if isinstance(ids, list) else []):
            if isinstance(source, str) and source and source != draft.id and source not in seen:
                seen.add(source)
                rows.append({"product_id": draft.id, "source_id": source, "position": position})
    return rows


def _meta_of(row: Any) -> Any:
    """A product row's metadata JSON (its column is "metadata", its attribute "meta")."""
    return row.get("meta", row.get("metadata"))


def _title_of(row: Any) -> str:
    """The name a product's origin gave it (metadata "title", e.g. the photo's file name), "" when none."""
    meta = _meta_of(row)
    title = meta.get("title") if isinstance(meta, dict) else None
    return title if isinstance(title, str) else ""


def _sweep_of(row: Any) -> dict[str, Any]:
    """The swept values recorded in a product's metadata ("sweep"), so they travel on from a cached node too."""
    meta = _meta_of(row)
    sweep = meta.get("sweep") if isinstance(meta, dict) else None
    return dict(sweep) if isinstance(sweep, dict) else {}
