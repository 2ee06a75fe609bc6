"""Lineage: orders and run answers as JSON-able dicts (typed statuses), products by the gallery's query, re-runs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from artfactory.engine import document as graph_document
from artfactory.engine.document import GraphDocument
from artfactory.engine.overrides import apply_overrides
from artfactory.engine.ports import product_ids_in
from artfactory.engine.status import NodeStatus, node_status, order_status
from artfactory.models import Order, OrderItem, Product, Project
from artfactory.models.entities import OrderInput
from artfactory.services.gallery import Gallery, GalleryQuery, order_product_ids, search_clause
from artfactory.services.library import Library
from artfactory.services.product_records import (
    Ancestry,
    LineageLink,
    NotFound,
    ProductLineage,
    iso_utc,
    product_ancestry,
    product_detail,
    product_lineage,
    product_summary,
)

# Product records and the product query live in product_records and gallery; these names stay importable here.
__all__ = ["Ancestry", "LineageLink", "NotFound", "ProductLineage", "list_products", "order_detail",
           "order_product_ids", "order_summary", "product_ancestry", "product_detail", "product_lineage",
           "product_summary", "query_products", "rerun_document", "run_result", "search_clause"]


def list_products(library: Library, session: Session, *, project_id: int | None = None, order_id: str | None = None,
                  collection: str | None = None, search: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[Product]:
    """Products newest first, filtered; `order_id` includes products an order reused from the cache.
    The gallery's query finds them (query_products), so the CLI lists what the gallery shows."""
    query = GalleryQuery(project_id=project_id, order_id=order_id, collection_name=collection, search=search or "")
    return query_products(library, session, query, limit=limit, offset=offset)


def query_products(library: Library, session: Session, query: GalleryQuery, *, limit: int | None = None,
                   offset: int = 0) -> list[Product]:
    """Whole product records for any gallery query (every gallery filter and sort), in its order."""
    return Gallery(library).products(session, query, offset=offset, limit=limit)


def order_summary(session: Session, order: Order) -> dict[str, Any]:
    counts: dict[NodeStatus, int] = {node_status(status): n for status, n in session.execute(
        select(OrderItem.status, func.count()).where(OrderItem.order_id == order.id).group_by(OrderItem.status)
    ).all()}
    project = session.get(Project, order.project_id)
    return {
        "id": order.id,
        "name": order.name,
        "status": order_status(order.status),
        "parent_order_id": order.parent_order_id,
        "project": project.name if project else None,
        "created_at": iso_utc(order.created_at),
        "started_at": iso_utc(order.started_at),
        "finished_at": iso_utc(order.finished_at),
        "nodes": sum(counts.values()),
        "node_counts": counts,
        "error": order.error,
    }


def order_detail(library: Library, session: Session, order_id: str) -> dict[str, Any]:
    """The order (`orders show`): summary, graph snapshot, per-node items with their cost, and the order's cost
    ("cost_usd": the sum over priced items, None when no item has a price)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    detail = order_summary(session, order)
    detail["graph"] = json.loads(order.snapshot)
    detail["snapshot_sha256"] = order.snapshot_sha256
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position))
    detail["items"] = [
        {
            "node_id": item.node_id, "type": item.node_type, "status": node_status(item.status), "error": item.error,
            "code": item.error_code, "params": item.params, "cache_key": item.cache_key,
            "products": product_ids_in(item.outputs), "remote_job_id": item.remote_job_id,
            "source_item_id": item.source_item_id, "progress": item.progress,
            "message": item.progress_message or "",
            "cost_usd": item.cost_usd, "cost_source": item.cost_source,
        }
        for item in items
    ]
    # The library products the order took in (input.product), so its lineage reaches back past its own nodes.
    detail["inputs"] = [{"node_id": node_id, "product_id": product_id} for node_id, product_id in session.execute(
        select(OrderInput.node_id, OrderInput.product_id).where(OrderInput.order_id == order_id)
        .order_by(OrderInput.node_id, OrderInput.position))]
    priced = [item["cost_usd"] for item in detail["items"] if item["cost_usd"] is not None]
    detail["cost_usd"] = sum(priced) if priced else None
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
    nodes = {item.node_id: {"status": node_status(item.status), "error": item.error,
                            "products": product_ids_in(item.outputs)}
             for item in items}
    products = _products_by_ids(session, order_product_ids(session, order_id))
    return {
        "order_id": order.id,
        "status": order_status(order.status),
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
