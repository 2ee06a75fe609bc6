"""One product's record and lineage: what it is, where it came from, what it cost, which collections hold it."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from artfactory.engine.status import OrderStatus, order_status
from artfactory.models import Collection, Order, OrderItem, Product, collection_products
from artfactory.models.entities import OrderInput, ProductSource
from artfactory.services.library import Library


class NotFound(LookupError):
    """No product, order or collection with that id or name."""


def iso_utc(value: Any) -> str | None:
    """A stored UTC time as ISO 8601 with a Z, to the second; None stays None."""
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def product_summary(library: Library, product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "node_id": product.node_id,
        "path": str(library.storage.absolute(product.path)),
        "media_type": product.media_type,
        "width": product.width,
        "height": product.height,
        "sha256": product.sha256,
    }


@dataclass(frozen=True)
class LineageLink:
    """One step of lineage next to a product: a product it was made from or that was made from it ("product"), or
    an order that took it in ("order", with the node that did)."""

    kind: str  # "product" | "order"
    id: str | None  # the product (None for an order that took it in)
    order_id: str | None
    node_id: str | None
    node_type: str | None
    name: str
    media_type: str | None
    prompt: str
    created_at: str | None
    missing: bool = False  # a source product deleted since: "made from" outlives it

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def label(self) -> str:
        """One line for a list: the product's name (or the order) and where it was made."""
        if self.kind == "order":
            return f"order {self.order_id} · {self.node_id} ({self.node_type or 'input'})"
        if self.missing:
            return f"{self.id} (deleted)"
        where = f" · {self.node_type}" if self.node_type else ""
        return f"{self.name or self.id}{where}"


def _product_link(product: Product) -> LineageLink:
    return LineageLink("product", product.id, product.order_id, product.node_id, product.node_type,
                       product.name or "", product.media_type, product.prompt or "", iso_utc(product.created_at))


def _missing_link(product_id: str) -> LineageLink:
    return LineageLink("product", product_id, None, None, None, "", None, "", None, missing=True)


def source_ids(session: Session, product: Product) -> list[str]:
    """What a product was made from, in order: the product_sources index, else its metadata (a product stored
    outside a run, before the index knew it)."""
    ids = list(session.scalars(select(ProductSource.source_id).where(ProductSource.product_id == product.id)
                               .order_by(ProductSource.position, ProductSource.source_id)))
    if ids:
        return ids
    meta = product.meta if isinstance(product.meta, dict) else {}
    listed = meta.get("source_product_ids")
    return list(dict.fromkeys(i for i in (listed if isinstance(listed, list) else [])
                              if isinstance(i, str) and i and i != product.id))


def made_from(session: Session, product: Product) -> tuple[LineageLink, ...]:
    """The products `product` was made from, in order; a deleted one stays listed as missing."""
    ids = source_ids(session, product)
    if not ids:
        return ()
    found = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    return tuple(_product_link(found[i]) if i in found else _missing_link(i) for i in ids)


USED_IN_SHOWN = 500  # a product used in thousands of runs lists the newest this many


def used_in(session: Session, product_id: str) -> tuple[LineageLink, ...]:
    """Products made from `product_id` (oldest first), then the orders that took it in (input.product)."""
    made = session.scalars(
        select(Product).join(ProductSource, ProductSource.product_id == Product.id)
        .where(ProductSource.source_id == product_id).order_by(Product.created_at, Product.id)
        .limit(USED_IN_SHOWN)).all()
    links = [_product_link(p) for p in made]
    taken = session.execute(
        select(OrderInput.order_id, OrderInput.node_id, Order.name, Order.created_at, OrderItem.node_type)
        .join(Order, Order.id == OrderInput.order_id)
        .outerjoin(OrderItem, and_(OrderItem.order_id == OrderInput.order_id, OrderItem.node_id == OrderInput.node_id))
        .where(OrderInput.product_id == product_id).order_by(Order.created_at, OrderInput.order_id)
        .limit(USED_IN_SHOWN)).all()
    links += [LineageLink("order", None, order_id, node_id, node_type, name or "", None, "", iso_utc(created))
              for order_id, node_id, name, created, node_type in taken]
    return tuple(links)


@dataclass(frozen=True)
class AncestryStep:
    """A product on the walk back, how far back it is, and what it was made from."""

    depth: int
    product: LineageLink
    sources: tuple[str, ...]
    order_status: OrderStatus | None

    def to_json(self) -> dict[str, Any]:
        return {"depth": self.depth, **self.product.to_json(), "made_from": list(self.sources),
                "order_status": self.order_status.value if self.order_status is not None else None}


@dataclass(frozen=True)
class Ancestry:
    """A product's ancestry: every product it descends from, breadth first (depth 0 is the product itself), the
    orders they came from (newest first) and the first prompt — that of the furthest ancestor with a prompt."""

    id: str
    steps: tuple[AncestryStep, ...]
    orders: tuple[str, ...]
    first_prompt: str
    truncated: bool  # the walk stopped at ANCESTRY_LIMIT products

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "steps": [s.to_json() for s in self.steps], "orders": list(self.orders),
                "first_prompt": self.first_prompt, "truncated": self.truncated}


ANCESTRY_LIMIT = 1000


def product_ancestry(session: Session, product_id: str, limit: int = ANCESTRY_LIMIT) -> Ancestry:
    """Walk back from a product through what each was made from, across orders, to the first prompt."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}")
    steps: list[AncestryStep] = []
    seen = {product_id}
    frontier: list[tuple[str, Product | None]] = [(product_id, product)]
    statuses: dict[str, OrderStatus | None] = {}
    depth = 0
    truncated = False
    while frontier:
        wanted: list[str] = []
        for pid, row in frontier:
            if len(steps) >= limit:
                truncated = True
                break
            if row is None:  # deleted since: the walk cannot go further back on this side
                steps.append(AncestryStep(depth, _missing_link(pid), (), None))
                continue
            sources = source_ids(session, row)
            if row.order_id and row.order_id not in statuses:
                order = session.get(Order, row.order_id)
                statuses[row.order_id] = order_status(order.status) if order is not None else None
            steps.append(AncestryStep(depth, _product_link(row), tuple(sources), statuses.get(row.order_id or "")))
            wanted += [source for source in sources if source not in seen]
            seen.update(sources)
        if truncated:
            break
        found: dict[str, Product] = {}
        for start in range(0, len(wanted), 500):
            found.update((p.id, p) for p in session.scalars(
                select(Product).where(Product.id.in_(wanted[start:start + 500]))))
        frontier = [(pid, found.get(pid)) for pid in wanted]
        depth += 1
    orders = tuple(dict.fromkeys(s.product.order_id for s in steps if s.product.order_id))
    prompted = [s for s in steps if s.product.prompt]
    # Furthest back first; at one depth the oldest (times are to the second, so depth decides within one run).
    first = min(prompted, key=lambda s: (-s.depth, s.product.created_at or "")).product.prompt if prompted else ""
    return Ancestry(product_id, tuple(steps), orders, first, truncated)


@dataclass(frozen=True)
class ProductLineage:
    """A product and everything that explains it (DESIGN §5): which order, which node, which graph snapshot,
    which params, what its order item cost. `to_json()` is the `products show` document (DESIGN §8)."""

    id: str
    node_id: str | None
    path: str  # absolute
    media_type: str
    width: int | None
    height: int | None
    sha256: str
    order_id: str | None
    order_item_id: str | None
    node_type: str | None
    mime: str
    size_bytes: int
    duration: float | None  # seconds, for a video
    name: str
    prompt: str
    seed: int | None
    provider: str | None
    model: str | None
    params: dict[str, Any]  # the order item's resolved params (the product's own for an import)
    metadata: dict[str, Any]
    rating: int
    favourite: bool
    created_at: str | None  # ISO 8601 UTC with a Z
    order_status: OrderStatus | None
    parent_order_id: str | None
    graph: dict[str, Any] | None  # the order's graph snapshot document
    collections: tuple[str, ...]
    cost_usd: float | None  # what the producing order item cost; None when unpriced, cached at no cost or imported
    cost_source: str | None  # "provider" (reported) | "estimate" (price × units); None with no cost
    made_from: tuple[LineageLink, ...] = ()  # the products it was made from, in order (across orders)
    used_in: tuple[LineageLink, ...] = ()  # products made from it, then orders that took it in (input.product)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (statuses as their strings, collections as a list), keys in field order."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["order_status"] = self.order_status.value if self.order_status is not None else None
        data["collections"] = list(self.collections)
        data["made_from"] = [link.to_json() for link in self.made_from]
        data["used_in"] = [link.to_json() for link in self.used_in]
        return data


def product_lineage(library: Library, session: Session, product_id: str) -> ProductLineage:
    """The product's lineage; NotFound names a product that is not in the library."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}")
    order = session.get(Order, product.order_id) if product.order_id else None
    item = session.get(OrderItem, product.order_item_id) if product.order_item_id else None
    collections = session.scalars(
        select(Collection.name).join(collection_products, collection_products.c.collection_id == Collection.id)
        .where(collection_products.c.product_id == product_id).order_by(Collection.name)
    ).all()
    return ProductLineage(
        id=product.id,
        node_id=product.node_id,
        path=str(library.storage.absolute(product.path)),
        media_type=product.media_type,
        width=product.width,
        height=product.height,
        sha256=product.sha256,
        order_id=product.order_id,
        order_item_id=product.order_item_id,
        node_type=product.node_type,
        mime=product.mime,
        size_bytes=product.size_bytes or 0,
        duration=product.duration,
        name=product.name or "",
        prompt=product.prompt or "",
        seed=product.seed,
        provider=product.provider,
        model=product.model,
        # A product of a fanned-out param input records its own item's params (the value that arrived).
        params=dict((item.params if item is not None and not (product.meta or {}).get("sweep") else product.params)
                    or {}),
        metadata=dict(product.meta or {}),
        rating=product.rating or 0,
        favourite=bool(product.favourite),
        created_at=iso_utc(product.created_at),
        order_status=order_status(order.status) if order else None,
        parent_order_id=order.parent_order_id if order else None,
        graph=json.loads(order.snapshot) if order else None,
        collections=tuple(collections),
        cost_usd=item.cost_usd if item is not None else None,
        cost_source=item.cost_source if item is not None else None,
        made_from=made_from(session, product),
        used_in=used_in(session, product_id),
    )


def product_detail(library: Library, session: Session, product_id: str) -> dict[str, Any]:
    """The product's lineage as the JSON document of `products show` and of an export's sidecar."""
    return product_lineage(library, session, product_id).to_json()
