"""Initial schema: projects, graphs, orders, order items, products, collections, schema cache.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("graph_id", sa.Integer, nullable=True),
        sa.Column("parent_order_id", sa.String(20), sa.ForeignKey("orders.id", ondelete="SET NULL")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reroll", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_orders_project_created", "orders", ["project_id", "created_at"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_parent", "orders", ["parent_order_id"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("order_id", sa.String(20), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("node_type", sa.String(100), nullable=False),
        sa.Column("type_version", sa.Integer, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("request_key", sa.String(64), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("error_code", sa.String(50)),
        sa.Column("outputs", sa.JSON),
        sa.Column("source_item_id", sa.String(20)),
        sa.Column("remote_job_id", sa.String(200)),
        sa.Column("remote_state", sa.JSON),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("progress_message", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.UniqueConstraint("order_id", "node_id", name="uq_order_items_order_node"),
    )
    op.create_index("ix_order_items_cache_key", "order_items", ["cache_key", "status"])
    op.create_index("ix_order_items_request_key", "order_items", ["request_key"])
    op.create_index("ix_order_items_remote_job", "order_items", ["remote_job_id"])
    op.create_table(
        "products",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("order_id", sa.String(20), sa.ForeignKey("orders.id", ondelete="SET NULL")),
        sa.Column("order_item_id", sa.String(20), sa.ForeignKey("order_items.id", ondelete="SET NULL")),
        sa.Column("node_id", sa.String(200)),
        sa.Column("node_type", sa.String(100)),
        sa.Column("batch_index", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(10), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("duration", sa.Float),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("thumbnails", sa.JSON),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("provider", sa.String(50)),
        sa.Column("model", sa.String(300)),
        sa.Column("seed", sa.Integer),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("favourite", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_products_project_created", "products", ["project_id", "created_at"])
    op.create_index("ix_products_order", "products", ["order_id"])
    op.create_index("ix_products_node", "products", ["node_id"])
    op.create_index("ix_products_node_type", "products", ["node_type"])
    op.create_index("ix_products_sha256", "products", ["project_id", "sha256"])
    op.create_index("ix_products_provider", "products", ["provider", "model"])
    op.create_index("ix_products_media_type", "products", ["media_type"])
    op.create_table(
        "graphs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("preview_product_id", sa.String(20), sa.ForeignKey("products.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_graphs_kind_name"),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_collections_project_name"),
    )
    op.create_table(
        "collection_products",
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("product_id", sa.String(20), sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_collection_products_product", "collection_products", ["product_id"])
    op.create_table(
        "schema_cache",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("schema_cache", "collection_products", "collections", "graphs", "products", "order_items",
                  "orders", "projects"):
        op.drop_table(table)
