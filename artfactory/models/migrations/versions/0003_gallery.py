"""Gallery indexes: every sort order and facet answers from an index at 100,000 products.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (name, columns). The trailing id makes (sort value, id) keyset paging a pure index walk; the
# project-first twins serve the usual one-project gallery, the others "All projects".
INDEXES = [
    ("ix_products_created", ["created_at", "id"]),
    ("ix_products_name", ["name", "id"]),
    ("ix_products_size", ["size_bytes", "id"]),
    ("ix_products_project_name", ["project_id", "name", "id"]),
    ("ix_products_project_size", ["project_id", "size_bytes", "id"]),
    ("ix_products_project_media", ["project_id", "media_type", "created_at"]),
    ("ix_products_project_node_type", ["project_id", "node_type"]),
    ("ix_products_project_provider", ["project_id", "provider", "model"]),
]


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "products", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, "products")
