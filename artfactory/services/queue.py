"""The queue: orders waiting in the library (status queued, a position), shared by the app and the CLI."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from artfactory.engine import document
from artfactory.engine.document import GraphDocument
from artfactory.engine.plan import Plan, build_plan
from artfactory.engine.status import OrderStatus
from artfactory.models import Order, QueueState, utcnow
from artfactory.models.db import advisory_lock, insert_new
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore


class QueueError(Exception):
    """A queue request that cannot be done (an order that is not queued, a bad position): one clear line."""


@dataclass(frozen=True)
class QueueEntry:
    """A queued order as `queue list` and the Runs panel show it."""

    order_id: str
    position: int  # 1-based place in the queue
    name: str
    status: str
    project_id: int
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "position": self.position, "name": self.name, "status": self.status,
                "project_id": self.project_id, "created_at": self.created_at}


@dataclass
class TakenOrder:
    """An order `take_next` claimed for this process: what running it needs (seeds as resolved when queued)."""

    order_id: str
    project_id: int
    snapshot: str
    items: dict[str, dict[str, Any]]
    pinned_seeds: dict[str, int]


class Queue:
    """The library's queue. Every method is one short transaction, so two processes can share it."""

    def __init__(self, library: Library, store: OrderStore | None = None) -> None:
        self.library = library
        self.engine = library.db.engine
        self.store = store or OrderStore(library)

    # -- adding ------------------------------------------------------------------------------------
    def plan(self, doc: GraphDocument, *, pinned_seeds: dict[str, int] | None = None, reroll: bool = False,
             only: list[str] | None = None) -> Plan:
        """The plan a queued order keeps: random seeds are resolved now and recorded in its items."""
        return build_plan(doc, self.library.registry, home=self.library.home, pinned_seeds=pinned_seeds,
                          seed_lookup=self.store.seed_for_request, reroll=reroll, only=only)

    def plan_taken(self, taken: TakenOrder) -> Plan:
        """The plan of a claimed order: its snapshot with the seeds it was queued with, over the nodes it holds.
        Raises PlanError or DocumentError when the snapshot no longer plans (a node type gone)."""
        doc = document.loads(taken.snapshot, f"order {taken.order_id}")
        plan = self.plan(doc, pinned_seeds=taken.pinned_seeds)
        if not set(plan.order) <= set(taken.items):  # queued with part of the graph (Run on selected nodes)
            plan = self.plan(doc, pinned_seeds=taken.pinned_seeds, only=[n for n in taken.items if doc.node(n)])
        return plan

    def add(self, plan: Plan, *, project_id: int, parent_order_id: str | None = None, reroll: bool = False,
            graph_id: int | None = None) -> str:
        """Write the order (snapshot, items with resolved params) and put it at the end of the queue."""
        order_id = self.store.create_order(plan, project_id=project_id, parent_order_id=parent_order_id,
                                           reroll=reroll, graph_id=graph_id)
        with self.engine.begin() as conn:
            advisory_lock(conn, "queue positions")  # two machines adding at once get distinct places
            last = conn.execute(select(func.max(Order.queue_position))).scalar() or 0
            conn.execute(update(Order).where(Order.id == order_id).values(queue_position=last + 1, pid=None))
        return order_id

    # -- reading -------------------------------------------------------------------------------------
    def entries(self) -> list[QueueEntry]:
        """The queued orders, in the order they will run."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Order.id, Order.name, Order.status, Order.project_id, Order.created_at)
                .where(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
                .order_by(Order.queue_position, Order.created_at)).all()
        return [QueueEntry(oid, index, name or oid, status, project_id,
                           created.isoformat(timespec="seconds") if created else "")
                for index, (oid, name, status, project_id, created) in enumerate(rows, start=1)]

    def signature(self) -> tuple[bool, tuple[str, ...]]:
        """Paused, and the queued ids in order: one cheap read for views that poll for changes."""
        with self.engine.connect() as conn:
            ids = tuple(conn.execute(
                select(Order.id).where(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
                .order_by(Order.queue_position, Order.created_at)).scalars())
            paused = bool(conn.execute(select(QueueState.paused).where(QueueState.id == 1)).scalar())
        return paused, ids

    def paused(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(QueueState.paused).where(QueueState.id == 1)).scalar())

    # -- changing --------------------------------------------------------------------------------------
    def set_paused(self, paused: bool) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(update(QueueState).where(QueueState.id == 1).values(paused=paused)).rowcount
            if not changed:  # the first pause ever; another machine may be making the row right now
                conn.execute(insert_new(conn, QueueState.__table__).values(id=1, paused=paused))
                conn.execute(update(QueueState).where(QueueState.id == 1).values(paused=paused))

    def remove(self, order_id: str) -> None:
        """Take a queued order out of the queue (it is deleted: it never ran). Only queued orders."""
        with self.engine.begin() as conn:
            status = conn.execute(select(Order.status).where(Order.id == order_id)).scalar()
            if status is None:
                raise QueueError(f"no order {order_id!r}")
            if status != OrderStatus.QUEUED:
                raise QueueError(f"order {order_id!r} is {status}, not queued: only queued orders can be removed")
            gone = conn.execute(Order.__table__.delete().where(  # type: ignore[attr-defined]
                Order.id == order_id, Order.status == OrderStatus.QUEUED)).rowcount
        if not gone:  # taken by a runner between the read and the delete
            raise QueueError(f"order {order_id!r} has just started: only queued orders can be removed")

    def reorder(self, order_ids: list[str]) -> None:
        """Queued orders in this order first (as dragged in the Runs panel); any others keep theirs after them.
        Ids no longer queued are passed over."""
        with self.engine.begin() as conn:
            current = list(conn.execute(
                select(Order.id).where(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
                .order_by(Order.queue_position, Order.created_at)).scalars())
            wanted = [o for o in dict.fromkeys(order_ids) if o in set(current)]
            ordered = wanted + [o for o in current if o not in set(wanted)]
            for index, oid in enumerate(ordered, start=1):
                conn.execute(update(Order).where(Order.id == oid, Order.status == OrderStatus.QUEUED)
                             .values(queue_position=index))

    def move(self, order_id: str, position: int) -> int:
        """Put a queued order at `position` (1-based; clamped to the queue); the others keep their order.
        Returns the position it got."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(
                select(Order.id).where(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
                .order_by(Order.queue_position, Order.created_at)).scalars())
            if order_id not in ids:
                raise QueueError(f"order {order_id!r} is not in the queue")
            ids.remove(order_id)
            place = max(1, min(position, len(ids) + 1))
            ids.insert(place - 1, order_id)
            for index, oid in enumerate(ids, start=1):
                conn.execute(update(Order).where(Order.id == oid, Order.status == OrderStatus.QUEUED)
                             .values(queue_position=index))
        return place

    def take_next(self, skip: Collection[str] = ()) -> TakenOrder | None:
        """Claim the first queued order (not in `skip`) for this process, or None when the queue is paused or
        has nothing. The claim is one conditional UPDATE, so two processes never take the same order."""
        while True:
            with self.engine.begin() as conn:
                if conn.execute(select(QueueState.paused).where(QueueState.id == 1)).scalar():
                    return None
                query = (select(Order.id, Order.project_id, Order.snapshot)
                         .where(Order.status == OrderStatus.QUEUED, Order.queue_position.is_not(None))
                         .order_by(Order.queue_position, Order.created_at))
                if skip:
                    query = query.where(Order.id.not_in(list(skip)))
                row = conn.execute(query.limit(1)).first()
                if row is None:
                    return None
                taken = conn.execute(update(Order).where(Order.id == row.id, Order.status == OrderStatus.QUEUED)
                                     .values(status=OrderStatus.RUNNING, pid=os.getpid(),
                                             started_at=utcnow())).rowcount
            if taken:
                break  # else another process took it first: look again
        items = self.store.items(row.id)
        registry = self.library.registry
        pinned = {node: item["params"][nt.seed_param] for node, item in items.items()
                  if (nt := registry.get(item["node_type"])) and nt.seed_param
                  and isinstance((item["params"] or {}).get(nt.seed_param), int)}
        return TakenOrder(row.id, row.project_id, row.snapshot, items, pinned)
