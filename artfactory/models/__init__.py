"""Persistence: typed SQLAlchemy models, the database opener and Alembic migrations."""

from artfactory.models.db import Database, DatabaseOpenError
from artfactory.models.entities import (
    Base,
    Collection,
    Graph,
    Lease,
    Order,
    OrderItem,
    Price,
    Product,
    Project,
    QueueState,
    SchemaCacheEntry,
    collection_products,
    new_id,
    utcnow,
)

__all__ = [
    "Base",
    "Collection",
    "Database",
    "DatabaseOpenError",
    "Graph",
    "Lease",
    "Order",
    "OrderItem",
    "Price",
    "Product",
    "Project",
    "QueueState",
    "SchemaCacheEntry",
    "collection_products",
    "new_id",
    "utcnow",
]
