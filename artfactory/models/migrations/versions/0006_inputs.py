"""Lineage across orders: which products each product was made from, and which products each order consumed.

`product_sources` is the index of a product's metadata "source_product_ids" (backfilled here), so "made from" and
"used in" are indexed lookups in both directions. `order_inputs` records every existing product an order took in
(input.product, a gallery drop), so "used in" also names orders whose nodes made nothing from it yet.
Neither table has a foreign key to the source product: history outlives a deleted source.

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "product_sources",
        sa.Column("product_id", sa.String(20), sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source_id", sa.String(20), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_product_sources_source", "product_sources", ["source_id"])
    op.create_table(
        "order_inputs",
        sa.Column("order_id", sa.String(20), sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("node_id", sa.String(200), primary_key=True),
        sa.Column("product_id", sa.String(20), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_order_inputs_product", "order_inputs", ["product_id"])
    _backfill_sources()


def _backfill_sources() -> None:
    bind = op.get_bind()
    sources = sa.table("product_sources", sa.column("product_id"), sa.column("source_id"), sa.column("position"))
    result = bind.execute(sa.text(
        "SELECT id, metadata FROM products WHERE CAST(metadata AS TEXT) LIKE '%source_product_ids%'"))
    while rows := result.fetchmany(BATCH):
        found = []
        for product_id, raw in rows:
            try:
                meta = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                continue
            ids = meta.get("source_product_ids") if isinstance(meta, dict) else None
            seen: set[str] = set()
            for position, source in enumerate(ids if isinstance(ids, list) else []):
                if isinstance(source, str) and source and source != product_id and source not in seen:
                    seen.add(source)
                    found.append({"product_id": product_id, "source_id": source, "position": position})
        if found:
            bind.execute(sources.insert(), found)


def downgrade() -> None:
    op.drop_index("ix_order_inputs_product", "order_inputs")
    op.drop_table("order_inputs")
    op.drop_index("ix_product_sources_source", "product_sources")
    op.drop_table("product_sources")
