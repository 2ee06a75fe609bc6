"""The run context handed to a node: cancellation, progress, seeds, remote-job memory, side effects."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import Media, NodeCanceled, NodeError

log = logging.getLogger("artfactory.engine")

ProgressCallback = Callable[[float, str], None]
RemoteCallback = Callable[[str, dict[str, Any]], None]


class RemoteNotStored(NodeError):
    """remember_remote could not persist the job id; the message says why (e.g. the disk is full)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code="storage")


def remote_jobs_of(item: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """The remote jobs an order item had started, by batch index (from its remote_job_id and remote_state)."""
    state = item.get("remote_state") or {}
    jobs = state.get("jobs") if isinstance(state, dict) else None
    if isinstance(jobs, dict):
        return {int(k): dict(v) for k, v in jobs.items() if isinstance(v, dict) and v.get("job_id")}
    if item.get("remote_job_id") and isinstance(state, dict):  # a single job recorded without per-item state
        return {int(state.get("item_index", 0)): {**state, "job_id": item["remote_job_id"]}}
    return {}


def reattachable(jobs: Mapping[int, Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """The jobs a new run may poll instead of paying again: those the provider did not report ended
    (failed, canceled, outputs expired)."""
    return {index: dict(job) for index, job in jobs.items() if not job.get("ended")}


@dataclass
class CollectionAdd:
    """A request to add products to a named collection, applied by the writer after the node ends."""

    name: str
    product_ids: list[str]


@dataclass
class NodeContext:
    """Concrete RunContext. The executor wires the callbacks to Qt signals; tests may use it as is."""

    node_id: str
    order_id: str
    home: Path
    settings: Any
    storage: Any
    seed: int | None = None
    item_index: int = 0
    item_seed: int | None = None  # the current item's seed when it arrived through a param input (a sweep)
    previous_remote: dict[str, Any] | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    on_progress: ProgressCallback | None = None
    on_remote: RemoteCallback | None = None
    remote_jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    collection_adds: list[CollectionAdd] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)  # what the node's remote jobs used, for the ledger
    # Products made before for batch item keys (engine.batch.item_key): a sweep re-runs only changed items.
    find_items: Callable[[list[str]], dict[str, list[Media]]] | None = None

    @property
    def canceled(self) -> bool:
        return self.cancel_event.is_set()

    def check_canceled(self) -> None:
        if self.cancel_event.is_set():
            raise NodeCanceled(self.node_id)

    def sleep(self, seconds: float) -> None:
        """Wait, waking at once when the node is cancelled."""
        if seconds > 0 and self.cancel_event.wait(seconds):
            raise NodeCanceled(self.node_id)
        self.check_canceled()

    def progress(self, percent: float, message: str = "") -> None:
        if self.on_progress is not None:
            self.on_progress(max(0.0, min(100.0, float(percent))), message)

    def seed_for(self, index: int | None = None) -> int:
        """The seed of a batch item (default: the current one): the node's resolved seed plus its index."""
        if index is None and self.item_seed is not None:
            return self.item_seed
        base = self.seed if self.seed is not None else 0
        return (base + (self.item_index if index is None else index)) % (2**31)

    def begin_item(self, index: int) -> None:
        """Move to batch item `index`; its own remote job (if a crash left one) becomes previous_remote."""
        self.item_index = index
        if self.remote_jobs:
            self.previous_remote = self.remote_jobs.get(index)

    def remember_remote(self, job_id: str, state: dict[str, Any]) -> None:
        """Persist a remote job id before waiting on it, so a crash resumes by polling, not resubmitting.

        Jobs are kept per batch item: after a crash every item polls its own job instead of paying again.
        Raises RemoteNotStored when the id cannot be persisted: the caller must then stop the job."""
        self.previous_remote = {"job_id": job_id, **state}
        self.remote_jobs[self.item_index] = self.previous_remote
        if self.on_remote is not None:
            self.on_remote(job_id, state)

    def report_usage(self, usage: Usage) -> None:
        """Record what one remote job used (units, the provider's own metrics); the writer prices it."""
        self.usage.append(usage)

    def add_to_collection(self, name: str, items: Sequence[Media]) -> None:
        self.collection_adds.append(CollectionAdd(name, [m.product_id for m in items]))

    def log(self, message: str) -> None:
        self.messages.append(message)
        log.info("%s: %s", self.node_id, message)
