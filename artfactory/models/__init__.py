"""Persistence: typed SQLAlchemy models, the database opener and Alembic migrations."""

from artfactory.models.db import Database, DatabaseOpenError
from artfactory.models.entities import (
    Base,
    Collection,
    Graph,
    Order,
    OrderItem,
    Product,
    Project,
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
    "Order",
    "OrderItem",
    "Product",
    "Project",
    "SchemaCacheEntry",
    "collection_products",
    "new_id",
    "utcnow",
]
