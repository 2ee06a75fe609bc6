"""Full-text prompt search on PostgreSQL: a generated tsvector over prompt and name with a GIN index, folded like
SQLite's products_fts from 0002 (nothing changes on SQLite).

SQLite's FTS5 (unicode61, remove_diacritics 2) splits at every character that is not a letter or digit, ignores case
and accents; the gallery asks for each word as a prefix. PostgreSQL's parser would keep `foo.png`, `a-b` or
`x@y.org` whole, so punctuation and symbols become spaces first (explicit code point ranges: the result must not
depend on the server's locale), combining marks are dropped, and the `artfactory_search` configuration lowercases
and, with the `unaccent` extension, strips accents. Without that extension (PostgreSQL built without contrib, no
right to create it) search still works, only accents then count. Known difference: FTS5 (Unicode 6.1 tables) takes
an emoji newer than that for a letter, so `emoji🦊fox` is one word there and two here.

Revision ID: 0007
Revises: 0006
"""

import logging

from alembic import op
from sqlalchemy import Connection

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CONFIG = "artfactory_search"
# ASCII punctuation and symbols, Latin-1 punctuation (¡…¿ × ÷), general punctuation, symbols and arrows up to the
# CJK punctuation block, and emoji: separators to FTS5's unicode61 as well.
SEPARATORS = (r"[!-/:-@\[-`{-~\u00a0-\u00bf\u00d7\u00f7\u2000-\u2bff\u3000-\u303f\ufe10-\ufe6f\uff01-\uff0f"
              r"\uff1a-\uff20\U0001f000-\U0001faff]+")
COMBINING_MARKS = r"[\u0300-\u036f]+"
WORD_TOKENS = "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart"
log = logging.getLogger("alembic.runtime.migration")


def search_document(columns: str) -> str:
    """The SQL expression the generated column and an ad-hoc query share: the text as FTS5 would tokenize it."""
    return (f"to_tsvector('{CONFIG}'::regconfig, regexp_replace(regexp_replace({columns}, "
            f"'{COMBINING_MARKS}', '', 'g'), '{SEPARATORS}', ' ', 'g'))")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    unaccent = _create_unaccent(bind)
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.simple)")
    if unaccent:
        op.execute(f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR {WORD_TOKENS} WITH unaccent, simple")
    op.execute("DROP INDEX IF EXISTS ix_products_prompt")
    op.execute(f"""ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS
        ({search_document("coalesce(prompt, '') || ' ' || coalesce(name, '')")}) STORED""")
    op.execute("CREATE INDEX ix_products_search ON products USING GIN (search_vector)")


def _create_unaccent(connection: Connection) -> bool:
    """Whether the unaccent dictionary is there (created here when the server has it and we may)."""
    available = connection.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'").scalar()
    if not available:
        log.warning("PostgreSQL has no unaccent extension (contrib): search will not fold accents")
        return False
    try:
        with connection.begin_nested():  # a refused CREATE EXTENSION must not abort the whole migration
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except Exception as exc:  # e.g. no CREATE right on the database: search works without it
        log.warning("cannot create the unaccent extension (%s): search will not fold accents",
                    str(getattr(exc, "orig", exc)).splitlines()[0])
        return False
    return True


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_products_search")
    op.execute("ALTER TABLE products DROP COLUMN IF EXISTS search_vector")
    op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
    op.create_index("ix_products_prompt", "products", ["prompt"])
