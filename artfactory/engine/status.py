"""Node and order statuses (DESIGN §4) as string enums, and a node's progress as one typed value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NodeStatus(StrEnum):
    """What became of one node in an order; stored as its string value (order_items.status)."""

    PENDING = "pending"
    RUNNING = "running"
    EXECUTED = "executed"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"
    # DESIGN §10: a bypassed node passed its inputs through; a muted one (and what needs it) did not run.
    BYPASSED = "bypassed"
    MUTED = "muted"

    @property
    def finished(self) -> bool:
        return self in NODE_FINISHED

    @property
    def made_products(self) -> bool:
        """The node has its outputs: it ran now or an earlier run's products were reused."""
        return self in NODE_DONE


class OrderStatus(StrEnum):
    """Where one order (a run of a graph) stands; stored as its string value (orders.status)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"

    @property
    def open(self) -> bool:
        return self in ORDER_OPEN


# A node with outputs (ran, or reused from the cache).
NODE_DONE: frozenset[NodeStatus] = frozenset({NodeStatus.EXECUTED, NodeStatus.CACHED})
# A node that will not change any more in this order.
NODE_FINISHED: frozenset[NodeStatus] = frozenset(
    {NodeStatus.EXECUTED, NodeStatus.CACHED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELED,
     NodeStatus.BYPASSED, NodeStatus.MUTED})
# Nodes that did not run on purpose (DESIGN §10); an order whose other nodes all succeeded still succeeds.
NODE_BY_MODE: frozenset[NodeStatus] = frozenset({NodeStatus.BYPASSED, NodeStatus.MUTED})
# A node still to do or under way.
NODE_OPEN: frozenset[NodeStatus] = frozenset({NodeStatus.PENDING, NodeStatus.RUNNING})
# An order still to start or under way (an interrupted one waits for `resume`, it is not open).
ORDER_OPEN: frozenset[OrderStatus] = frozenset({OrderStatus.QUEUED, OrderStatus.RUNNING})
# An order that ended (successfully or not) and will not run again by itself.
ORDER_FINISHED: frozenset[OrderStatus] = frozenset(
    {OrderStatus.SUCCEEDED, OrderStatus.PARTIAL, OrderStatus.FAILED, OrderStatus.CANCELED})


def node_status(value: str) -> NodeStatus:
    """A stored or signalled node status as the enum; ValueError names an unknown one."""
    try:
        return NodeStatus(value)
    except ValueError:
        raise ValueError(f"unknown node status {value!r}") from None


def order_status(value: str) -> OrderStatus:
    """A stored or signalled order status as the enum; ValueError names an unknown one."""
    try:
        return OrderStatus(value)
    except ValueError:
        raise ValueError(f"unknown order status {value!r}") from None


@dataclass(frozen=True, slots=True)
class NodeProgress:
    """One progress report of a running node (DESIGN §4 node_progress): percent is 0–100."""

    order_id: str
    node_id: str
    percent: float
    message: str = ""

    def __post_init__(self) -> None:
        # Nodes report what providers say; a bar never goes below empty or past full.
        object.__setattr__(self, "percent", max(0.0, min(100.0, float(self.percent))))
