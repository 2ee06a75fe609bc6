"""Money: what each order item cost, prices (provider-published and the user's own), and in-flight leases.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_items") as batch:
        batch.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cost_source", sa.String(20), nullable=True))
        batch.add_column(sa.Column("cost_detail", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("shared_with", sa.String(20), nullable=True))
    op.create_index("ix_order_items_cost", "order_items", ["finished_at", "cost_usd"])
    op.create_table(
        "prices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("usd", sa.Float(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("provider", "model", "source", name="uq_prices_provider_model_source"),
    )
    op.create_table(
        "leases",
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("item_id", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_leases_order", "leases", ["order_id"])
    op.create_index("ix_leases_owner", "leases", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_leases_owner", "leases")
    op.drop_index("ix_leases_order", "leases")
    op.drop_table("leases")
    op.drop_table("prices")
    op.drop_index("ix_order_items_cost", "order_items")
    with op.batch_alter_table("order_items") as batch:
        batch.drop_column("shared_with")
        batch.drop_column("cost_detail")
        batch.drop_column("cost_source")
        batch.drop_column("cost_usd")
