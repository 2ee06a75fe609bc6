"""The schema comes only from Alembic migrations; bad or newer databases are refused with clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from artfactory.models import Database, DatabaseOpenError
from artfactory.models.db import head_revision, make_engine, upgrade_to


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_fresh_library_is_migrated_to_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(_url(tmp_path / "lib.sqlite3"))
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"projects", "graphs", "orders", "order_items", "products", "collections",
                "collection_products", "schema_cache", "products_fts"} <= tables
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("pragma foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("pragma busy_timeout").scalar() >= 5000
        indexes = {i["name"] for i in inspect(conn).get_indexes("products")}
        assert {"ix_products_project_created", "ix_products_order", "ix_products_node", "ix_products_sha256"} <= indexes
    db.close()


def test_upgrade_from_the_first_revision_keeps_rows_and_backfills_search(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = make_engine(_url(path))
    upgrade_to(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("insert into projects (id, name, created_at) values (1, 'Default', '2026-01-01')"))
        conn.execute(text(
            "insert into products (id, project_id, batch_index, name, path, sha256, media_type, mime, size_bytes, "
            "prompt, params, metadata, rating, favourite, created_at) values ('p1', 1, 0, 'old', 'x.png', 'ab', "
            "'image', 'image/png', 1, 'a crimson lighthouse', '{}', '{}', 0, 0, '2026-01-01')"))
    engine.dispose()
    db = Database(_url(path))  # opening upgrades automatically
    with db.engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        hits = conn.execute(text("select rowid from products_fts where products_fts match 'crimson'")).all()
        assert len(hits) == 1
    db.close()


def test_newer_library_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    Database(_url(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("update alembic_version set version_num = '9999_future'")
    with pytest.raises(DatabaseOpenError, match="newer Art Factory"):
        Database(_url(path))


@pytest.mark.parametrize("content", [b"this is not a database at all" * 10, b"SQLite format 3\x00" + b"\x00" * 50])
def test_corrupt_database_is_a_clear_error_not_a_new_library(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(content)
    with pytest.raises(DatabaseOpenError) as info:
        Database(_url(path))
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # nothing was overwritten


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("create table notes (x)")
    with pytest.raises(DatabaseOpenError, match="not an Art Factory library"):
        Database(_url(path))


def test_cli_reports_a_corrupt_library_in_one_line(library_home: Path, capsys) -> None:
    from tests.support.cli import run_cli

    (library_home / "library.sqlite3").write_bytes(b"garbage" * 100)
    result = run_cli(capsys, "orders", "list")
    assert result.code == 2
    assert "library.sqlite3" in result.err and result.err.count("\n") == 1
