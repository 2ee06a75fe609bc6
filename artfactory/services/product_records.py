"""One product's record as a JSON-able dict: what it is, where it came from, which collections hold it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def product_detail(library: Library, session: Session, product_id: str) -> dict[str, Any]:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}")
    order = session.get(Order, product.order_id) if product.order_id else None
    item = session.get(OrderItem, product.order_item_id) if product.order_item_id else None
    collections = session.scalars(
        select(Collection.name).join(collection_products, collection_products.c.collection_id == Collection.id)
        .where(collection_products.c.product_id == product_id).order_by(Collection.name)
    ).all()
    detail = product_summary(library, product)
    detail.update({
        "order_id": product.order_id,
        "order_item_id": product.order_item_id,
        "node_type": product.node_type,
        "mime": product.mime,
        "size_bytes": product.size_bytes,
        "name": product.name,
        "prompt": product.prompt,
        "seed": product.seed,
        "provider": product.provider,
        "model": product.model,
        "params": item.params if item is not None else product.params,
        "metadata": product.meta,
        "rating": product.rating,
        "favourite": product.favourite,
        "created_at": iso_utc(product.created_at),
        "order_status": order.status if order else None,
        "parent_order_id": order.parent_order_id if order else None,
        "graph": json.loads(order.snapshot) if order else None,
        "collections": list(collections),
    })
    return detail
