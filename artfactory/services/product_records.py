"""One product's record and lineage: what it is, where it came from, what it cost, which collections hold it."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from artfactory.engine.status import OrderStatus, order_status
from artfactory.models import Collection, Order, OrderItem, Product, collection_products
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

    def to_json(self) -> dict[str, Any]:
        """The JSON document (statuses as their strings, collections as a list), keys in field order."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["order_status"] = self.order_status.value if self.order_status is not None else None
        data["collections"] = list(self.collections)
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
    )


def product_detail(library: Library, session: Session, product_id: str) -> dict[str, Any]:
    """The product's lineage as the JSON document of `products show` and of an export's sidecar."""
    return product_lineage(library, session, product_id).to_json()
