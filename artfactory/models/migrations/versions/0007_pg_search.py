"""Full-text prompt search on PostgreSQL: a generated tsvector over prompt and name with a GIN index (the
counterpart of SQLite's products_fts from 0002; nothing changes on SQLite).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_products_prompt")
    op.execute("""ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS
        (to_tsvector('simple', coalesce(prompt, '') || ' ' || coalesce(name, ''))) STORED""")
    op.execute("CREATE INDEX ix_products_search ON products USING GIN (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_products_search")
    op.execute("ALTER TABLE products DROP COLUMN IF EXISTS search_vector")
    op.create_index("ix_products_prompt", "products", ["prompt"])
