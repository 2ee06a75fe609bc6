"""Typed SQLAlchemy models: projects, graphs, orders, order items, products, collections."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

_id_lock = threading.Lock()
_id_counter = secrets.randbits(32)


def new_id() -> str:
    """A 20-hex-digit id that sorts by creation time: 48-bit ms clock + a 32-bit counter from a random start.

    The counter keeps ids made in the same millisecond apart within a process; its random start
    keeps two processes apart."""
    global _id_counter
    with _id_lock:
        _id_counter = (_id_counter + 1) & 0xFFFFFFFF
        counter = _id_counter
    return f"{time.time_ns() // 1_000_000:012x}{counter:08x}"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


collection_products = Table(
    "collection_products",
    Base.metadata,
    Column("collection_id", ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("added_at", DateTime, nullable=False, default=utcnow),
    Index("ix_collection_products_product", "product_id"),
)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Graph(Base):
    """A saved graph document; kind 'template' makes it show in the template browser."""

    __tablename__ = "graphs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="graph")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    preview_product_id: Mapped[str | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("kind", "name", name="uq_graphs_kind_name"),)


class Order(Base):
    """One run of a graph: the exact snapshot that ran, its status and its parent for re-runs."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    graph_id: Mapped[int | None] = mapped_column(ForeignKey("graphs.id", ondelete="SET NULL"))
    parent_order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    snapshot: Mapped[str] = mapped_column(Text)
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    reroll: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer, default=os.getpid)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set while the order waits in the queue (and kept after it was taken); None for orders run at once.
    queue_position: Mapped[int | None] = mapped_column(Integer)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position"
    )

    __table_args__ = (
        Index("ix_orders_project_created", "project_id", "created_at"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_parent", "parent_order_id"),
        Index("ix_orders_queue", "status", "queue_position"),
    )


class OrderItem(Base):
    """One node's execution inside an order: resolved params, cache key, status, outputs."""

    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    node_id: Mapped[str] = mapped_column(String(200))
    node_type: Mapped[str] = mapped_column(String(100))
    type_version: Mapped[int] = mapped_column(Integer, default=1)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_key: Mapped[str] = mapped_column(String(64))
    cache_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(50))
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source_item_id: Mapped[str | None] = mapped_column(String(20))
    remote_job_id: Mapped[str | None] = mapped_column(String(200))
    remote_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 0004: what this execution cost (provider-reported metrics or price × units) and, for a node answered by
    # another run's in-flight execution, that run's order id.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    cost_source: Mapped[str | None] = mapped_column(String(20))  # "provider" | "estimate"
    cost_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # provider, model, units, unit price, jobs
    shared_with: Mapped[str | None] = mapped_column(String(20))

    order: Mapped[Order] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("order_id", "node_id", name="uq_order_items_order_node"),
        Index("ix_order_items_cache_key", "cache_key", "status"),
        Index("ix_order_items_request_key", "request_key"),
        Index("ix_order_items_remote_job", "remote_job_id"),
        Index("ix_order_items_cost", "finished_at", "cost_usd"),
    )


class Product(Base):
    """A file made by an order item (or imported), with everything needed to explain it."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_item_id: Mapped[str | None] = mapped_column(ForeignKey("order_items.id", ondelete="SET NULL"))
    node_id: Mapped[str | None] = mapped_column(String(200))
    node_type: Mapped[str | None] = mapped_column(String(100))
    batch_index: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300), default="")
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    thumbnails: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(300))
    seed: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    rating: Mapped[int] = mapped_column(Integer, default=0)
    favourite: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_products_project_created", "project_id", "created_at"),
        Index("ix_products_order", "order_id"),
        Index("ix_products_node", "node_id"),
        Index("ix_products_node_type", "node_type"),
        Index("ix_products_sha256", "project_id", "sha256"),
        Index("ix_products_provider", "provider", "model"),
        Index("ix_products_media_type", "media_type"),
        Index("ix_products_rating", "project_id", "favourite", "rating"),
        # 0003: gallery sort orders and facets (see that migration).
        Index("ix_products_created", "created_at", "id"),
        Index("ix_products_name", "name", "id"),
        Index("ix_products_size", "size_bytes", "id"),
        Index("ix_products_project_name", "project_id", "name", "id"),
        Index("ix_products_project_size", "project_id", "size_bytes", "id"),
        Index("ix_products_project_media", "project_id", "media_type", "created_at"),
        Index("ix_products_project_node_type", "project_id", "node_type"),
        Index("ix_products_project_provider", "project_id", "provider", "model"),
    )


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    products: Mapped[list[Product]] = relationship(secondary=collection_products)

    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_collections_project_name"),)


class Price(Base):
    """A price the provider publishes (source "provider") or the user set (source "user"); shipped prices live in
    the provider modules. One row per (provider, model, source)."""

    __tablename__ = "prices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(20))  # output | second | megapixel | request
    usd: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("provider", "model", "source", name="uq_prices_provider_model_source"),)


class Lease(Base):
    """A cache key being executed right now by one order item: other runs wait for it instead of paying again.

    The owner ("host:pid") refreshes `heartbeat_at`; a lease whose heartbeat is stale belongs to a crashed run and
    may be taken over (the recorded remote job is then re-attached, not created anew)."""

    __tablename__ = "leases"

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(300))
    acquired_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_leases_order", "order_id"), Index("ix_leases_owner", "owner"))


class QueueState(Base):
    """The queue's one row: whether it is paused (a missing row means running)."""

    __tablename__ = "queue_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class SchemaCacheEntry(Base):
    """A provider's input schema for one model or endpoint, kept for a time-to-live."""

    __tablename__ = "schema_cache"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ProductSource(Base):
    """A product was made from another (its metadata's "source_product_ids", indexed both ways, 0006).
    The source is not a foreign key: "made from" outlives a deleted source."""

    __tablename__ = "product_sources"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_product_sources_source", "source_id"),)


class OrderInput(Base):
    """An existing product an order took in (input.product, a drop from the gallery), 0006."""

    __tablename__ = "order_inputs"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_order_inputs_product", "product_id"),)
