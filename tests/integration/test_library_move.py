"""`library migrate` (SQLite ↔ PostgreSQL, every row, verified, source untouched) and `library relocate`."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from artfactory.models.entities import Base
from artfactory.services.live import Change, ChangeListener
from tests.support.cli import GRAPHS, run_cli

FOX = GRAPHS / "fox-posters.json"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_library(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> dict[str, Any]:
    """Orders with a re-run (parent), products in a collection, lineage rows, imports and a rating."""
    first = run_cli(capsys, "run", FOX, "--json")
    assert first.code == 0, first.err
    second = run_cli(capsys, "rerun", first.json["order_id"], "--set", "gen.seed=8", "--json")
    assert second.code == 0, second.err
    from PIL import Image

    Image.new("RGB", (24, 16), (200, 10, 10)).save(tmp_path / "red.png")
    imported = run_cli(capsys, "import", tmp_path / "red.png", "--collection", "Picked", "--json")
    assert imported.code == 0, imported.err
    return {"orders": [first.json["order_id"], second.json["order_id"]]}


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model table as the models read it (dates, JSON, booleans), in primary-key order."""
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.tables.values():
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted((tuple(row) for row in rows), key=lambda r: json.dumps(r, default=str))
    engine.dispose()
    return out


def test_migrate_to_postgresql_and_back_copies_every_row_and_leaves_the_source_untouched(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path, postgres_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    made = _make_library(capsys, tmp_path)
    source = library_home / "library.sqlite3"
    before = _sha(source)
    original = _dump(f"sqlite:///{source}")
    assert all(original[t] for t in ("orders", "order_items", "products", "collections", "collection_products",
                                     "product_sources", "projects"))

    heard: queue.Queue[Change] = queue.Queue()  # an app already open on the target
    listener = ChangeListener(postgres_url, heard.put)
    listener.start()
    assert listener.listening.wait(5)
    try:
        result = run_cli(capsys, "library", "migrate", "--to", postgres_url, "--json")
        assert heard.get(timeout=3) == Change("resync")  # one note for the copy, not one per row
        with pytest.raises(queue.Empty):
            heard.get(timeout=0.3)
    finally:
        listener.stop()
    assert result.code == 0, result.err
    report = result.json
    assert report["verified"] and report["source_sha256"]["unchanged"]
    assert {t["table"]: t["rows"] for t in report["tables"]} == {t: len(rows) for t, rows in original.items()}
    assert _sha(source) == before
    assert "pg-test-password" not in result.out + result.err
    assert _dump(postgres_url) == original
    engine = create_engine(postgres_url)
    with engine.connect() as conn:  # the live-change triggers are back on after the copy
        assert set(conn.execute(text("SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE '%notify'"))) == {
            ("products_notify", "O"), ("orders_notify", "O"), ("orders_status_notify", "O")}
    engine.dispose()

    # The app's commands work on the copy: same listing, lineage, search; new rows get fresh ids.
    listed = run_cli(capsys, "products", "list", "--json").json
    monkeypatch.setenv("ARTFACTORY_DATABASE_URL", postgres_url)
    assert run_cli(capsys, "products", "list", "--json").json == listed
    shown = run_cli(capsys, "orders", "show", made["orders"][1], "--json").json
    assert shown["parent_order_id"] == made["orders"][0]
    assert run_cli(capsys, "products", "list", "--search", "fox", "--json").json["products"]
    from PIL import Image

    Image.new("RGB", (20, 20), (0, 0, 250)).save(tmp_path / "blue.png")
    added = run_cli(capsys, "import", tmp_path / "blue.png", "--collection", "Brand new", "--project", "Other",
                    "--json")
    assert added.code == 0, added.err  # before the sequences were reset: duplicate key on collections/projects

    # And back to SQLite: every row as it is on PostgreSQL.
    back = tmp_path / "back" / "library.sqlite3"
    result = run_cli(capsys, "library", "migrate", "--to", f"sqlite:///{back}", "--json")
    assert result.code == 0, result.err
    assert result.json["verified"]
    assert _dump(f"sqlite:///{back}") == _dump(postgres_url)
    with sqlite3.connect(back) as conn:  # the full-text index was rebuilt by the target's own triggers
        assert conn.execute("SELECT count(*) FROM products_fts WHERE products_fts MATCH 'fox*'").fetchone()[0] > 0


def test_migrate_refuses_a_target_that_holds_a_library_unless_replace(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path, postgres_url: str) -> None:
    _make_library(capsys, tmp_path)
    assert run_cli(capsys, "library", "migrate", "--to", postgres_url, "--json").code == 0
    again = run_cli(capsys, "library", "migrate", "--to", postgres_url)
    assert again.code == 1
    [line] = again.err.strip().splitlines()
    assert "already holds a library" in line and "--replace" in line and "pg-test-password" not in line
    replaced = run_cli(capsys, "library", "migrate", "--to", postgres_url, "--replace", "--json")
    assert replaced.code == 0, replaced.err
    assert replaced.json["verified"] and replaced.json["replaced_rows"] == replaced.json["rows"]


def test_migrate_explains_a_bad_target_in_one_line_without_the_password(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path, postgres_server: Any) -> None:
    _make_library(capsys, tmp_path)
    unknown = run_cli(capsys, "library", "migrate", "--to", "nosuchdb://x/y")
    assert unknown.code == 1 and "not a database URL" in unknown.err
    wrong = postgres_server.url("postgres").replace("pg-test-password", "s3cret-wrong")
    refused = run_cli(capsys, "library", "migrate", "--to", wrong)
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "s3cret-wrong" not in refused.err and "Traceback" not in refused.err
    same = run_cli(capsys, "library", "migrate", "--to", f"sqlite:///{library_home / 'library.sqlite3'}")
    assert same.code == 1 and "same database" in same.err


def _paths(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "library.sqlite3") as conn:
        return conn.execute("SELECT id, path FROM products ORDER BY id").fetchall()


def test_relocate_moves_the_products_folder_without_rewriting_rows_or_files(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path) -> None:
    _make_library(capsys, tmp_path)
    rows = _paths(library_home)
    files = {rel: (library_home / rel).stat() for _, rel in rows}
    shared = tmp_path / "nas" / "studio-products"

    result = run_cli(capsys, "library", "relocate", "--products", shared, "--move", "--json")
    assert result.code == 0, result.err
    assert result.json["checked"] == len(rows) and result.json["products_dir"] == str(shared.resolve())
    assert _paths(library_home) == rows  # no row rewritten
    for rel, stat in files.items():
        moved = (shared / rel.removeprefix("products/")).stat()
        assert (moved.st_ino, moved.st_mtime_ns, moved.st_size) == (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        assert not (library_home / rel).exists()
    assert not [p for p in (library_home / "products").rglob("*") if not p.is_dir()]
    listed = run_cli(capsys, "products", "list", "--json").json["products"]
    assert all(Path(p["path"]).is_file() and Path(p["path"]).is_relative_to(shared.resolve()) for p in listed)
    fresh = run_cli(capsys, "run", FOX, "--set", "gen.seed=99", "--json")
    assert fresh.code == 0, fresh.err
    assert all(Path(p["path"]).is_relative_to(shared.resolve()) for p in fresh.json["products"])


def test_relocate_refuses_a_folder_without_the_files_and_switches_nothing(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path) -> None:
    _make_library(capsys, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run_cli(capsys, "library", "relocate", "--products", empty)
    assert refused.code == 1 and "not switched" in refused.err and "products/" in refused.err
    settings = library_home / "settings.json"
    assert not settings.exists() or not json.loads(settings.read_text()).get("products_dir")
    listed = run_cli(capsys, "products", "list", "--json").json["products"]
    assert all(Path(p["path"]).is_file() for p in listed)


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than the library (a NAS mount, here tmpfs), removed afterwards."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second writable filesystem (/dev/shm) here")
    folder = Path(tempfile.mkdtemp(prefix="artfactory-nas-", dir=shm))
    yield folder / "products"
    shutil.rmtree(folder, ignore_errors=True)


def test_relocate_onto_another_filesystem_copies_verified_and_new_products_land_there(
        capsys: pytest.CaptureFixture[str], library_home: Path, tmp_path: Path, other_filesystem: Path) -> None:
    _make_library(capsys, tmp_path)
    rows = _paths(library_home)
    digests = {rel: _sha(library_home / rel) for _, rel in rows}
    result = run_cli(capsys, "library", "relocate", "--products", other_filesystem, "--move", "--json")
    assert result.code == 0, result.err
    assert {rel: _sha(other_filesystem / rel.removeprefix("products/")) for rel in digests} == digests
    assert not [p for p in (library_home / "products").rglob("*") if p.is_file()]
    fresh = run_cli(capsys, "run", FOX, "--set", "gen.seed=123", "--json")  # stored across filesystems
    assert fresh.code == 0, fresh.err
    for product in fresh.json["products"]:
        assert Path(product["path"]).is_relative_to(other_filesystem.resolve())
        assert _sha(Path(product["path"])) == product["sha256"]
    assert not [p for p in other_filesystem.rglob(".*.part")]
