"""Seeding a library with costed order items (what the ledger writes after paid runs), for spend and money UI tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from artfactory.models import Collection, Order, OrderItem, Product, collection_products, new_id
from artfactory.services.library import Library


@dataclass
class Item:
    """One order item to seed: its cost, where the money went and when it finished."""

    usd: float | None
    provider: str = "replicate"
    model: str = "black-forest-labs/flux-schnell"
    finished: datetime = datetime(2026, 11, 5, 12, 0)
    source: str = "provider"
    collections: tuple[str, ...] = ()
    products: int = 1
    called_provider: bool = True  # False: a local node (no cost detail at all)


def seed_orders(library: Library, orders: list[list[Item]], project: str = "Default") -> list[str]:
    """Insert one order per list (created in list order, a second apart) with its items and products; returns the
    order ids. Bulk inserts: thousands of rows take a fraction of a second."""
    project_id = library.project_id(project)
    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    product_rows: list[dict[str, Any]] = []
    links: list[tuple[str, str]] = []  # (collection name, product id)
    for index, items in enumerate(orders):
        order_id = new_id()
        created = min((i.finished for i in items), default=datetime(2026, 11, 1))
        order_rows.append({"id": order_id, "project_id": project_id, "name": f"order {index}", "snapshot": "{}",
                           "snapshot_sha256": "0" * 64, "status": "succeeded",
                           "created_at": created.replace(microsecond=index % 1_000_000)})
        for position, item in enumerate(items):
            item_id = new_id()
            detail = {"provider": item.provider, "model": item.model, "units": {"output": 1}} \
                if item.called_provider else None
            item_rows.append({"id": item_id, "order_id": order_id, "position": position, "node_id": f"n{position}",
                              "node_type": "provider.replicate", "type_version": 1, "params": {},
                              "request_key": item_id, "cache_key": item_id, "status": "executed",
                              "progress": 1.0, "progress_message": "", "finished_at": item.finished,
                              "cost_usd": item.usd, "cost_source": item.source if item.usd is not None else None,
                              "cost_detail": detail})
            for _ in range(item.products):
                product_id = new_id()
                product_rows.append({"id": product_id, "project_id": project_id, "order_id": order_id,
                                     "order_item_id": item_id, "node_id": f"n{position}", "batch_index": 0,
                                     "name": "", "path": f"products/{product_id}.png", "sha256": product_id,
                                     "media_type": "image", "mime": "image/png", "size_bytes": 0, "prompt": "",
                                     "params": {}, "meta": {}, "rating": 0, "favourite": False,
                                     "created_at": item.finished})
                links.extend((name, product_id) for name in item.collections)
    with library.db.session() as db:
        names = sorted({name for name, _ in links})
        ids: dict[str, int] = {}
        for name in names:
            collection = Collection(project_id=project_id, name=name)
            db.add(collection)
            db.flush()
            ids[name] = collection.id
        if order_rows:
            db.execute(insert(Order), order_rows)
        if item_rows:
            db.execute(insert(OrderItem), item_rows)
        if product_rows:
            db.execute(insert(Product), product_rows)
        if links:
            db.execute(insert(collection_products), [{"collection_id": ids[name], "product_id": pid,
                                                      "added_at": datetime(2026, 11, 1)} for name, pid in links])
    return [row["id"] for row in order_rows]
