"""The queue: a position for queued orders and one row saying whether the queue is paused.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("queue_position", sa.Integer(), nullable=True))
    op.create_index("ix_orders_queue", "orders", ["status", "queue_position"])
    op.create_table(
        "queue_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("queue_state")
    op.drop_index("ix_orders_queue", "orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("queue_position")
