"""Lineage queries: products and orders as JSON-able dicts, and the document behind a re-run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from artfactory.engine import document as graph_document
from artfactory.engine.document import GraphDocument
from artfactory.engine.overrides import apply_overrides
from artfactory.models import Collection, Order, OrderItem, Product, Project, collection_products
from artfactory.services.library import Library
from artfactory.services.orders import product_ids_in


class NotFound(LookupError):
    """No product, order or collection with that id or name."""


def _iso(value: Any) -> str | None:
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
        "created_at": _iso(product.created_at),
        "order_status": order.status if order else None,
        "parent_order_id": order.parent_order_id if order else None,
        "graph": json.loads(order.snapshot) if order else None,
        "collections": list(collections),
    })
    return detail


def list_products(library: Library, session: Session, *, project_id: int | None = None, order_id: str | None = None,
                  collection: str | None = None, search: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[Product]:
    """Products newest first, filtered; `order_id` includes products an order reused from the cache."""
    query = select(Product)
    if project_id is not None:
        query = query.where(Product.project_id == project_id)
    if order_id is not None:
        ids = order_product_ids(session, order_id)
        query = query.where(Product.id.in_(ids))
    if collection is not None:
        query = query.join(collection_products, collection_products.c.product_id == Product.id).join(
            Collection, Collection.id == collection_products.c.collection_id).where(Collection.name == collection)
    if search:
        query = query.where(search_clause(session, search))
    query = query.order_by(Product.created_at.desc(), Product.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def search_clause(session: Session, words_text: str) -> Any:
    """FTS5 over prompts and names on SQLite (each word a prefix match); LIKE elsewhere."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in words_text).split() if w]
    if session.get_bind().dialect.name == "sqlite" and words:
        match = " ".join(f'"{w}"*' for w in words)
        return text("products.rowid IN (SELECT rowid FROM products_fts WHERE products_fts MATCH :match)").bindparams(
            match=match)
    like = f"%{words_text}%"
    return or_(Product.prompt.ilike(like), Product.name.ilike(like))


def order_product_ids(session: Session, order_id: str) -> list[str]:
    outputs = session.scalars(select(OrderItem.outputs).where(OrderItem.order_id == order_id)).all()
    ids: dict[str, None] = {}
    for out in outputs:
        for pid in product_ids_in(out):
            ids[pid] = None
    made = session.scalars(select(Product.id).where(Product.order_id == order_id)).all()
    for pid in made:
        ids[pid] = None
    return list(ids)


def order_summary(session: Session, order: Order) -> dict[str, Any]:
    counts = dict(session.execute(
        select(OrderItem.status, func.count()).where(OrderItem.order_id == order.id).group_by(OrderItem.status)
    ).all())
    project = session.get(Project, order.project_id)
    return {
        "id": order.id,
        "name": order.name,
        "status": order.status,
        "parent_order_id": order.parent_order_id,
        "project": project.name if project else None,
        "created_at": _iso(order.created_at),
        "started_at": _iso(order.started_at),
        "finished_at": _iso(order.finished_at),
        "nodes": sum(counts.values()),
        "node_counts": counts,
        "error": order.error,
    }


def order_detail(library: Library, session: Session, order_id: str) -> dict[str, Any]:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    detail = order_summary(session, order)
    detail["graph"] = json.loads(order.snapshot)
    detail["snapshot_sha256"] = order.snapshot_sha256
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position))
    detail["items"] = [
        {
            "node_id": item.node_id, "type": item.node_type, "status": item.status, "error": item.error,
            "code": item.error_code, "params": item.params, "cache_key": item.cache_key,
            "products": product_ids_in(item.outputs), "remote_job_id": item.remote_job_id,
            "source_item_id": item.source_item_id, "progress": item.progress,
        }
        for item in items
    ]
    products = _products_by_ids(session, order_product_ids(session, order_id))
    detail["products"] = [product_summary(library, p) for p in products]
    return detail


def _products_by_ids(session: Session, ids: Iterable[str]) -> list[Product]:
    wanted = list(ids)
    if not wanted:
        return []
    found = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def run_result(library: Library, session: Session, order_id: str) -> dict[str, Any]:
    """The CLI's run/rerun/resume answer (DESIGN §8)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position)).all()
    nodes = {item.node_id: {"status": item.status, "error": item.error, "products": product_ids_in(item.outputs)}
             for item in items}
    products = _products_by_ids(session, order_product_ids(session, order_id))
    return {
        "order_id": order.id,
        "status": order.status,
        "parent_order_id": order.parent_order_id,
        "nodes": nodes,
        "products": [product_summary(library, p) for p in products],
    }


def rerun_document(library: Library, session: Session, order_id: str, sets: Iterable[str],
                   reroll: bool) -> tuple[GraphDocument, dict[str, int], int]:
    """The parent order's snapshot with tweaks applied, and the seeds to keep (untouched parts reproduce)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    doc = graph_document.loads(order.snapshot, f"order {order_id}")
    doc, touched = apply_overrides(doc, sets, library.registry)
    pinned: dict[str, int] = {}
    if not reroll:
        for item in session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)):
            node_type = library.registry.get(item.node_type)
            seed_param = node_type.seed_param if node_type else None
            if seed_param and (item.node_id, seed_param) not in touched:
                seed = (item.params or {}).get(seed_param)
                if isinstance(seed, int) and seed >= 0:
                    pinned[item.node_id] = seed
    return doc, pinned, order.project_id
