"""LISTEN/NOTIFY on a shared PostgreSQL library: migration 0008's triggers and the reconnecting listener thread."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from artfactory.models.db import Database, upgrade_to
from artfactory.services.live import Change, ChangeListener, supports_live_changes


def _conn(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _next(changes: queue.Queue[Change], timeout: float = 3.0) -> Change:
    return changes.get(timeout=timeout)


@pytest.fixture
def library_db(postgres_server: Any) -> Any:
    db = Database(postgres_server.fresh_library_database())
    yield db
    db.close()


def _seed(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, created_at) VALUES (1, 'Default', now())"))
        conn.execute(text("INSERT INTO orders (id, project_id, name, snapshot, snapshot_sha256, status, reroll, "
                          "created_at) VALUES ('o1', 1, 'x', '{}', 'sha', 'queued', false, now())"))


def _add_product(db: Database, product_id: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO products (id, project_id, order_id, batch_index, name, path, sha256, "
                          "media_type, mime, size_bytes, prompt, params, metadata, rating, favourite, created_at) "
                          "VALUES (:id, 1, 'o1', 0, 'n', 'products/x.png', 's', 'image', 'image/png', 1, 'p', "
                          "'{}', '{}', 0, false, now())"), {"id": product_id})


def test_the_triggers_notify_product_and_order_status_changes(library_db: Database) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    listener = ChangeListener(library_db.url, changes.put)
    listener.start()
    try:
        assert listener.listening.wait(5)
        _seed(library_db)
        assert _next(changes) == Change("order", "insert", "o1", 1, "queued")
        _add_product(library_db, "p1")
        assert _next(changes) == Change("product", "insert", "p1", 1, "")
        with library_db.engine.begin() as conn:
            conn.execute(text("UPDATE orders SET started_at = now() WHERE id = 'o1'"))  # not a status change
            conn.execute(text("UPDATE orders SET status = 'running' WHERE id = 'o1'"))
            conn.execute(text("UPDATE products SET rating = 4 WHERE id = 'p1'"))
            conn.execute(text("DELETE FROM products WHERE id = 'p1'"))
        assert _next(changes) == Change("order", "update", "o1", 1, "running")
        assert _next(changes) == Change("product", "update", "p1", 1, "")
        assert _next(changes) == Change("product", "delete", "p1", 1, "")
        with pytest.raises(queue.Empty):
            changes.get(timeout=0.5)
    finally:
        listener.stop()
    assert not listener.running


def test_the_listener_reconnects_after_losing_its_connection_and_says_so(library_db: Database) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    listener = ChangeListener(library_db.url, changes.put)
    listener.start()
    try:
        assert listener.listening.wait(5)
        with _conn(library_db.url) as admin:  # what a server restart or a dropped NAS link does to it
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")
        assert _next(changes, timeout=8) == Change("reconnected")
        assert listener.connections == 2
        _seed(library_db)
        assert _next(changes).kind == "order"
    finally:
        started = time.monotonic()
        listener.stop()
        assert time.monotonic() - started < 2 and not listener.running


def test_migration_0008_goes_down_and_up_on_postgresql(library_db: Database) -> None:
    def triggers() -> set[str]:
        with library_db.engine.connect() as conn:
            return set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%notify'")).scalars())

    assert triggers() == {"products_notify", "orders_notify", "orders_status_notify"}
    upgrade_to(library_db.engine, "0008")
    from alembic import command

    from artfactory.models.db import _alembic_config

    with library_db.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0007")
    assert triggers() == set()
    upgrade_to(library_db.engine)
    assert triggers() == {"products_notify", "orders_notify", "orders_status_notify"}


def test_only_postgresql_libraries_have_live_changes(tmp_path: Path) -> None:
    assert supports_live_changes("postgresql+psycopg://u@h/db")
    assert not supports_live_changes(f"sqlite:///{tmp_path / 'library.sqlite3'}")
