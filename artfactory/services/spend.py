"""What the library has spent: recorded order item costs summed by day, provider, model, collection and order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select

from artfactory.models import Collection, Order, OrderItem, Product, collection_products
from artfactory.services.library import Library

DIGITS = 6  # sums of float prices: enough for a tenth of a cent per thousand items, no binary noise


def month_start(today: date | None = None) -> date:
    """The first day of this (UTC) month: where "this month" in the Spend panel and the budget begins."""
    today = today or datetime.now(UTC).date()
    return today.replace(day=1)


def spend(library: Library, since: date | None = None, project_id: int | None = None) -> dict[str, Any]:
    """Recorded costs (order_items.cost_usd) since `since` (inclusive, by the day the item finished), for one
    project or all: total, by provider, model, day (ISO date), collection and order (newest first), and how many
    items called a provider whose price was unknown (no cost recorded). One SQL aggregate per breakdown."""
    # An item's day is when it finished; one that never recorded its end counts on its order's day.
    when = func.coalesce(OrderItem.finished_at, OrderItem.started_at, Order.created_at)
    provider = OrderItem.cost_detail["provider"].as_string()
    model = OrderItem.cost_detail["model"].as_string()
    usd = func.sum(OrderItem.cost_usd)

    def scoped(query: Any, priced: bool = True) -> Any:
        query = query.select_from(OrderItem).join(Order, Order.id == OrderItem.order_id)
        # Unpriced: called a provider (its cost detail names one; a JSON null is not SQL NULL), no price known.
        query = query.where(OrderItem.cost_usd.is_not(None)) if priced else \
            query.where(OrderItem.cost_usd.is_(None), provider.is_not(None))
        if since is not None:
            query = query.where(when >= datetime.combine(since, time.min))
        if project_id is not None:
            query = query.where(Order.project_id == project_id)
        return query

    def grouped(db: Any, column: Any) -> dict[str, float]:
        rows = db.execute(scoped(select(column, usd)).group_by(column)).all()
        return _biggest_first({str(key) if key is not None else "unknown": float(value or 0.0)
                               for key, value in rows})

    # An item counts once per collection however many of its products are in it.
    pairs = select(collection_products.c.collection_id.label("collection_id"),
                   Product.order_item_id.label("item_id")) \
        .join(Product, Product.id == collection_products.c.product_id) \
        .where(Product.order_item_id.is_not(None)).distinct().subquery("pairs")
    with library.db.session() as db:
        total, count = db.execute(scoped(select(usd, func.count()))).one()
        by_provider = grouped(db, provider)
        by_model = grouped(db, model)
        by_collection = _biggest_first({str(name): float(value or 0.0) for name, value in db.execute(
            scoped(select(Collection.name, usd)).join(pairs, pairs.c.item_id == OrderItem.id)
            .join(Collection, Collection.id == pairs.c.collection_id).group_by(Collection.name)).all()})
        day = func.date(when)
        by_day = db.execute(scoped(select(day, usd)).group_by(day).order_by(day)).all()
        orders = db.execute(scoped(select(OrderItem.order_id, usd)).group_by(OrderItem.order_id)
                            .order_by(func.max(Order.created_at).desc(), OrderItem.order_id.desc())).all()
        unpriced_items = int(db.execute(scoped(select(func.count()), priced=False)).scalar_one())
    return {
        "since": since.isoformat() if since else None,
        "total_usd": _round(total),
        "priced_items": int(count or 0),
        "unpriced_items": unpriced_items,
        "by_provider": by_provider,
        "by_model": by_model,
        "by_day": {str(key): _round(value) for key, value in by_day},
        "by_collection": by_collection,
        "orders": [{"id": order_id, "usd": _round(value)} for order_id, value in orders],
    }


def format_usd(value: float | None, approx: bool = False) -> str:
    """Dollars as people read them: two decimals, more for small amounts ($0.50, $0.012, $0.0032, $1,234.50)."""
    if value is None:
        return "not priced"
    if abs(value) >= 1 or value == 0:
        text = f"${value:,.2f}"
    else:
        digits = f"{value:.4f}".rstrip("0")
        text = "$" + (digits if len(digits.split(".")[1]) >= 2 else f"{value:.2f}")
    return ("≈ " if approx else "") + text


def _biggest_first(sums: dict[str, float]) -> dict[str, float]:
    return {key: _round(value) for key, value in sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))}


def _round(value: float | None) -> float:
    return round(float(value or 0.0), DIGITS)
