"""What the engine needs from the rest of the app (order persistence, product storage) and the values it hands over."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from artfactory.engine.nodetypes import Media

if TYPE_CHECKING:
    from artfactory.engine.context import CollectionAdd
    from artfactory.engine.cost import Cost, CostBook
    from artfactory.engine.plan import Plan
    from artfactory.engine.registry import NodeRegistry

# The engine imports no service: services implement these protocols and artfactory.services.runs.run_services()
# wires the concrete ones into an Executor, in one place.


class ProductStorageError(Exception):
    """A product file could not be accepted, read or written; the message names the file and the reason."""


class StoredInfo(Protocol):
    """What a stored file really is (judged from its bytes)."""

    @property
    def media_type(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def duration(self) -> float | None: ...


class StoredProduct(Protocol):
    """A file now in the library; `deduplicated` means identical bytes were already there."""

    @property
    def relative_path(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def info(self) -> StoredInfo: ...
    @property
    def deduplicated(self) -> bool: ...


class ProductStorage(Protocol):
    """Where node results are written as files. Failures raise ProductStorageError (or OSError)."""

    @property
    def temp_dir(self) -> Path: ...

    def absolute(self, relative_path: str) -> Path: ...

    def store(self, source: Path, *, project_id: int, product_id: str, move: bool = False,
              find_existing: Callable[[str], str | None] | None = None,
              display_name: str | None = None) -> StoredProduct: ...

    def store_image(self, image: Any, *, format: str = "png", quality: int = 95, project_id: int, product_id: str,
                    find_existing: Callable[[str], str | None] | None = None) -> StoredProduct: ...

    def delete_file(self, relative_path: str) -> None: ...


@dataclass
class ProductDraft:
    """A stored file waiting for its product row; made in a worker, written by the writer."""

    id: str
    node_id: str
    node_type: str
    batch_index: int
    stored: StoredProduct
    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass
class CachedResult:
    """A finished order item whose outputs another node with the same cache key may reuse."""

    item_id: str
    outputs: dict[str, Any]
    params: dict[str, Any]
    order_id: str | None = None  # the order whose item answered (for `shared_with`)


@dataclass(frozen=True)
class LeaseHolder:
    """The run executing a cache key right now (a row of the leases table)."""

    order_id: str
    item_id: str
    owner: str  # "host:pid"
    age_s: float = 0.0  # seconds since its last heartbeat


@dataclass
class Claims:
    """What `OrderPersistence.claim` did with the nodes of one launch wave (keyed by item id).

    `won`: this run holds the lease and executes; `held`: another live run executes the same work, so the node
    waits; `cached`: the work finished elsewhere meanwhile, the item is now `cached` (and needs no lease);
    `remote_jobs`: recorded accepted jobs of earlier runs of the same key, re-attached (already persisted)."""

    won: set[str] = field(default_factory=set)
    held: dict[str, LeaseHolder] = field(default_factory=dict)
    cached: dict[str, CachedResult] = field(default_factory=dict)
    remote_jobs: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


def encode_value(value: Any) -> Any:
    if isinstance(value, Media):
        return {"product": value.product_id}
    return value


def encode_outputs(outputs: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Port values as stored in an order item: media become {"product": id}."""
    return {port: [encode_value(v) for v in values] for port, values in outputs.items()}


def product_ids_in(outputs: Mapping[str, Sequence[Any]] | None) -> list[str]:
    """Product ids referenced by encoded outputs, in order, without repeats."""
    seen: dict[str, None] = {}
    for values in (outputs or {}).values():
        for value in values:
            if isinstance(value, dict) and "product" in value:
                seen[value["product"]] = None
    return list(seen)


class OrderPersistence(Protocol):
    """Every write an order makes and the reads a run needs. Writes come from the owner thread only;
    `find_product_path` is also called from worker threads."""

    def create_order(self, plan: Plan, *, project_id: int, parent_order_id: str | None = None,
                     reroll: bool = False, graph_id: int | None = None) -> str: ...
    def item_ids(self, order_id: str) -> dict[str, str]: ...
    def items(self, order_id: str) -> dict[str, dict[str, Any]]: ...
    def find_cached(self, keys: Iterable[str]) -> Mapping[str, CachedResult]: ...
    def seed_for_request(self, request_key: str, seed_param: str) -> int | None: ...
    def find_product_path(self, project_id: int, sha256: str) -> str | None: ...
    def start_order(self, order_id: str) -> None: ...
    def finish_order(self, order_id: str, status: str, error: str | None = None) -> None: ...
    def mark_cached(self, item_ids: Mapping[str, str], hits: Mapping[str, CachedResult]) -> None: ...
    def mark_running(self, item_ids: Iterable[str]) -> None: ...
    def claim(self, order_id: str, keys: Mapping[str, str], stale_after_s: float) -> Claims:
        """Claim the leases of nodes about to execute (item id -> cache key), all in one transaction: insert, or
        take over a lease whose owner is gone (no heartbeat for `stale_after_s`, or a dead process here)."""
        ...
    def lease_holders(self, keys: Iterable[str]) -> dict[str, LeaseHolder]:
        """Who holds these cache keys now (one read); a key nobody holds is absent."""
        ...
    def is_stale(self, holder: LeaseHolder, stale_after_s: float) -> bool:
        """Whether the run holding a lease is gone (its heartbeat too old, or its process here dead)."""
        ...
    def heartbeat(self) -> int:
        """Refresh the heartbeat of every lease this process holds; returns how many it holds."""
        ...
    def recorded_jobs(self, cache_key: str) -> dict[int, dict[str, Any]]:
        """Accepted remote jobs an earlier unfinished run of this cache key recorded and may be re-attached."""
        ...
    def set_progress(self, item_id: str, percent: float, message: str) -> None: ...
    def set_remote(self, item_id: str, job_id: str, state: Mapping[str, Any]) -> None: ...
    def mark_items(self, item_ids: Iterable[str], status: str, error: str | None = None,
                   code: str | None = None, cost: Cost | None = None) -> None: ...
    def finish_item(self, item_id: str, *, order_id: str, project_id: int, status: str,
                    outputs: dict[str, Any] | None = None, error: str | None = None, code: str | None = None,
                    products: Sequence[ProductDraft] = (), collection_adds: Sequence[CollectionAdd] = (),
                    cost: Cost | None = None, message: str | None = None) -> None: ...
    def decode_outputs(self, outputs: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]: ...
    def is_write_failure(self, exc: BaseException) -> bool:
        """Whether a failed write means the library cannot take more (a full disk, a database refusing writes)."""
        ...
    def describe_failure(self, exc: BaseException) -> str:
        """A failed write as one line for the user, naming what failed and where."""
        ...


class RunSettings(Protocol):
    """The settings an executor reads; nodes get the whole settings object through their context."""

    def pool_size(self) -> int: ...
    def provider_limits(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class RunServices:
    """Everything an Executor uses from outside the engine, built once by the app (run_services())."""

    home: Path
    settings: RunSettings
    registry: NodeRegistry
    storage: ProductStorage
    orders: OrderPersistence
    # Error texts go to the database, the CLI and exports: this removes any key that rides along.
    redact: Callable[[str], str]
    # Makes the thumbnails of a stored image (product id, its file); called from a worker after the node reports.
    thumbnails: Callable[[str, Path], object] | None = None
    # Prices what a provider node's jobs used, for the ledger (providers.pricing); None records no cost.
    costs: CostBook | None = None
