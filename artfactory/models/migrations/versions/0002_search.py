"""Full-text search over product prompts and names (SQLite FTS5), backfilled from existing rows.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# An external-content FTS5 table kept in step by triggers, so search never scans products.
_SQLITE = [
    """CREATE VIRTUAL TABLE products_fts USING fts5(
        prompt, name, content='products', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
        INSERT INTO products_fts(rowid, prompt, name) VALUES (new.rowid, new.prompt, new.name);
    END""",
    """CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, prompt, name) VALUES ('delete', old.rowid, old.prompt, old.name);
    END""",
    """CREATE TRIGGER products_fts_au AFTER UPDATE OF prompt, name ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, prompt, name) VALUES ('delete', old.rowid, old.prompt, old.name);
        INSERT INTO products_fts(rowid, prompt, name) VALUES (new.rowid, new.prompt, new.name);
    END""",
    "INSERT INTO products_fts(products_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
    else:
        op.create_index("ix_products_prompt", "products", ["prompt"])
    op.create_index("ix_products_rating", "products", ["project_id", "favourite", "rating"])


def downgrade() -> None:
    op.drop_index("ix_products_rating", "products")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("products_fts_au", "products_fts_ad", "products_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    else:
        op.drop_index("ix_products_prompt", "products")
