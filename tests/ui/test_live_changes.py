"""A shared PostgreSQL library: what a CLI run in another process makes shows in an open window within 2 s."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from artfactory.services.library import Library
from tests.support.cli import GRAPHS, spawn_cli
from tests.support.qt import opened_window

FOX = GRAPHS / "fox-posters.json"
LIVE_S = 2.0  # the promise: other galleries show a change within 2 s


@pytest.fixture
def pg_library(library_home: Path, ui_ini: Path, postgres_server: Any,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Library]:
    monkeypatch.setenv("ARTFACTORY_DATABASE_URL", postgres_server.fresh_library_database())
    lib = Library.open(library_home)
    yield lib
    lib.close()


def _run_elsewhere(qtbot: Any, home: Path, *args: str) -> dict[str, Any]:
    """A CLI run in another process while this one's event loop keeps turning; its JSON answer."""
    proc = spawn_cli(home, "run", FOX, "--json", *args)
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return dict(json.loads(out))


def test_a_cli_run_in_another_process_shows_in_the_gallery_and_runs_panel_within_2_s(
        qtbot: Any, pg_library: Library, library_home: Path) -> None:
    with opened_window(qtbot, pg_library) as win:
        assert win.app.live.active
        gallery, panel = win.gallery, win.runs_panel
        assert gallery.model.total == 0
        answer = _run_elsewhere(qtbot, library_home)
        finished = time.monotonic()  # the order's final status and every product are committed by now
        order_id, product_ids = answer["order_id"], [p["id"] for p in answer["products"]]

        def shown() -> None:
            assert all(gallery.model.row_of(p) is not None for p in product_ids)
            assert order_id in panel._items and panel._items[order_id].text(1) == "succeeded"

        qtbot.waitUntil(shown, timeout=int(LIVE_S * 1000))
        assert time.monotonic() - finished < LIVE_S
        assert gallery.model.total == len(product_ids)

        # A change another process makes to a product (a rating) shows too.
        first = product_ids[0]
        with psycopg.connect(pg_library.db.url.replace("+psycopg", ""), autocommit=True) as other:
            other.execute("UPDATE products SET rating = 5 WHERE id = %s", (first,))
        changed = time.monotonic()
        qtbot.waitUntil(lambda: gallery.model.row_at(gallery.model.row_of(first)).rating == 5,  # type: ignore[arg-type]
                        timeout=int(LIVE_S * 1000))
        assert time.monotonic() - changed < LIVE_S


def test_a_sqlite_library_keeps_its_own_refresh_and_starts_no_listener(qtbot: Any, library: Library,
                                                                       library_home: Path) -> None:
    with opened_window(qtbot, library) as win:
        assert not win.app.live.active and win.app.live.listener is None
        with sqlite3.connect(library_home / "library.sqlite3") as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%notify%'").fetchone()[0] == 0


def test_changes_missed_while_the_connection_was_down_show_once_it_is_back(qtbot: Any, pg_library: Library) -> None:
    with opened_window(qtbot, pg_library) as win, \
            psycopg.connect(pg_library.db.url.replace("+psycopg", ""), autocommit=True) as other:
        listener = win.app.live.listener
        assert listener is not None and listener.listening.wait(5)
        project = pg_library.project_id()
        other.execute("INSERT INTO orders (id, project_id, name, snapshot, snapshot_sha256, status, reroll, "
                      "created_at) VALUES ('o-elsewhere', %s, 'elsewhere', '{}', 'sha', 'running', false, now())",
                      (project,))
        panel = win.runs_panel
        qtbot.waitUntil(lambda: "o-elsewhere" in panel._items, timeout=int(LIVE_S * 1000))
        # Changes whose notifications never arrive (as while a connection is down) ...
        other.execute("ALTER TABLE orders DISABLE TRIGGER orders_status_notify")
        other.execute("ALTER TABLE products DISABLE TRIGGER products_notify")
        other.execute("UPDATE orders SET status = 'failed' WHERE id = 'o-elsewhere'")
        other.execute("INSERT INTO products (id, project_id, order_id, batch_index, name, path, sha256, media_type, "
                      "mime, size_bytes, prompt, params, metadata, rating, favourite, created_at) VALUES ('p-missed', "
                      "%s, 'o-elsewhere', 0, 'n', 'products/x.png', 's', 'image', 'image/png', 1, '', '{}', '{}', 0, "
                      "false, now())", (project,))
        other.execute("ALTER TABLE orders ENABLE TRIGGER orders_status_notify")
        other.execute("ALTER TABLE products ENABLE TRIGGER products_notify")
        qtbot.wait(300)
        assert panel._items["o-elsewhere"].text(1) == "running" and win.gallery.model.row_of("p-missed") is None
        # ... show once the listener has reconnected (the server dropped it) and re-read.
        other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
                      "AND pid <> pg_backend_pid()")
        qtbot.waitUntil(lambda: panel._items["o-elsewhere"].text(1) == "failed"
                        and win.gallery.model.row_of("p-missed") is not None, timeout=5000)
