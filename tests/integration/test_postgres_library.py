"""A library on PostgreSQL: migrations both ways, connection errors without the password, FTS5's search results."""

from __future__ import annotations

import logging
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from PIL import Image
from sqlalchemy import Engine, insert, inspect, text
from sqlalchemy.exc import SAWarning

from artfactory.models import Database, DatabaseOpenError, Order, OrderItem, Product
from artfactory.models.db import (
    _alembic_config,
    describe_url,
    head_revision,
    make_engine,
    normalize_url,
    upgrade_to,
)
from artfactory.models.entities import Base
from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library, LibraryError
from tests.support.postgres import PASSWORD

BACKENDS = ["sqlite", "postgresql"]


def _empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'lib.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def _revisions() -> list[str]:
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(_alembic_config()).walk_revisions()))]


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


def _version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("select version_num from alembic_version")).scalar()


# --- migrations ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_every_migration_runs_up_and_down_one_step_at_a_time(backend: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    engine = make_engine(_empty_database(backend, tmp_path, request))
    revisions = _revisions()
    assert revisions[0] == "0001" and revisions[-1] == head_revision()
    try:
        for revision in revisions:
            upgrade_to(engine, revision)
            assert _version(engine) == revision
        for previous in reversed(["base", *revisions[:-1]]):
            _downgrade(engine, previous)
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
            if previous == "base":
                assert tables <= {"alembic_version"}, tables
            else:
                assert _version(engine) == previous
        upgrade_to(engine, "head")
        with engine.connect() as conn, warnings.catch_warnings():
            # The models' foreign keys form a cycle (orders ↔ products): sorting them is not needed to compare.
            warnings.simplefilter("ignore", SAWarning)
            # The schema the migrations made is the schema the models describe (PostgreSQL checks every type).
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata)
                     if not _search_support(d) and not _known_drift(d)]
        assert diffs == []
    finally:
        engine.dispose()


def _known_drift(diff: Any) -> bool:
    """orders.graph_id: the model declares a foreign key to graphs that migration 0001 never made (on both
    databases alike; nothing relies on it). Listed here so that any other drift fails the test."""
    return bool(diff[0] == "add_fk" and diff[1].parent.name == "orders"
                and [c.name for c in diff[1].columns] == ["graph_id"])


def _search_support(diff: Any) -> bool:
    """Full-text search lives outside the models: FTS5 tables on SQLite, the generated column on PostgreSQL."""
    text_of = repr(diff)
    return any(name in text_of for name in ("products_fts", "search_vector", "ix_products_search"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_from_the_first_revision_keeps_rows_and_makes_them_searchable(backend: str, tmp_path: Path,
                                                                              request: pytest.FixtureRequest) -> None:
    url = _empty_database(backend, tmp_path, request)
    engine = make_engine(url)
    upgrade_to(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("insert into projects (id, name, created_at) values (1, 'Default', '2026-01-01')"))
        conn.execute(text(
            "insert into products (id, project_id, batch_index, name, path, sha256, media_type, mime, size_bytes, "
            "prompt, params, metadata, rating, favourite, created_at) values ('p1', 1, 0, 'old', 'x.png', 'ab', "
            "'image', 'image/png', 1, 'a Crimson lighthouse at the Café', '{}', '{}', 0, false, '2026-01-01')"))
    engine.dispose()
    db = Database(url)  # opening upgrades automatically
    try:
        assert _version(db.engine) == head_revision()
        with db.session() as session:
            assert session.get(Product, "p1") is not None
        library = _library_on(db)
        gallery = Gallery(library)
        for words in ("crimson", "CAFE", "light", "café lig"):
            assert [r.id for r in gallery.page(GalleryQuery(search=words))] == ["p1"], words
        assert gallery.page(GalleryQuery(search="lighthouses")) == []
    finally:
        db.close()


def _library_on(db: Database) -> Any:
    """Just enough of a Library for Gallery queries on an already opened database."""
    return type("LibraryStub", (), {"db": db})()


def test_two_processes_opening_a_new_postgresql_library_at_once_migrate_it_once(postgres_url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Database(postgres_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = make_engine(postgres_url)
    assert _version(engine) == head_revision()
    engine.dispose()


# --- URLs and connection errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["postgresql://u@h:5/db", "postgres://u@h:5/db", "postgresql+psycopg2://u@h:5/db"])
def test_plain_postgresql_urls_mean_the_psycopg_driver(given: str) -> None:
    assert normalize_url(given) == "postgresql+psycopg://u@h:5/db"
    assert normalize_url("sqlite:////x/library.sqlite3") == "sqlite:////x/library.sqlite3"


def test_a_plain_postgres_url_opens_the_library(postgres_url: str, library_home: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFACTORY_DATABASE_URL", postgres_url.replace("postgresql+psycopg://", "postgres://"))
    library = Library.open(library_home)
    try:
        assert library.db.engine.dialect.name == "postgresql"
        assert library.project_id() == library.project_id("Default")
    finally:
        library.close()


def _refused(url: str, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.DEBUG), pytest.raises(DatabaseOpenError) as caught:
        Database(url)
    message = str(caught.value)
    assert "\n" not in message
    for secret in (PASSWORD, "s3cret-Wrong"):
        assert secret not in message and secret not in caplog.text
    return message


def test_a_wrong_password_is_named_and_never_shown(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    message = _refused(postgres_url.replace(PASSWORD, "s3cret-Wrong"), caplog)
    assert "refused the password for user artfactory" in message
    assert describe_url(postgres_url) in message  # where: user@host:port/name


def test_a_refused_connection_and_a_missing_database_are_one_clear_line(postgres_server: Any, postgres_url: str,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.postgres import _free_port

    message = _refused(f"postgresql://artfactory:s3cret-Wrong@127.0.0.1:{_free_port()}/lib", caplog)
    assert "connection refused" in message and "127.0.0.1" in message
    message = _refused(postgres_url.rsplit("/", 1)[0] + "/no_such_library", caplog)
    assert 'database "no_such_library" does not exist' in message


@pytest.mark.parametrize("url", ["postgresql://artfactory:s3cret-Wrong@127.0.0.1:notaport/lib",
                                 "not a url at all s3cret-Wrong", "mysql://artfactory:s3cret-Wrong@h/lib"])
def test_a_bad_url_is_refused_without_repeating_it(url: str, caplog: pytest.LogCaptureFixture) -> None:
    message = _refused(url, caplog)
    assert "library database URL" in message


def test_the_cli_reports_a_wrong_password_in_one_line(postgres_url: str, library_home: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.cli import run_cli

    result = run_cli(capsys, "--database", postgres_url.replace(PASSWORD, "s3cret-Wrong"), "orders", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "refused the password" in result.err
    assert "s3cret-Wrong" not in result.err + result.out


# --- full-text search: PostgreSQL finds what FTS5 finds ------------------------------------------------------------

PROMPTS = [
    "A red fox in the snow, poster",
    "Café terrace at night — Van Gogh style",
    "CAFE RACER motorcycle, chrome",
    "naïve painting of Zürich's old town",
    "São Paulo skyline; neon-lit streets",
    "Ångström-scale crystal lattice",
    "crème brûlée close-up, 85mm",
    "fox_v2.png upscaled",
    "red-fox mascot for example.com",
    "e\u0301clair (decomposed accent) pastry",
    "Éclair au chocolat",
    "東京 night market 🌃 lanterns",
    "owl #42 on a branch",
    "über-realistic portrait",
    "emoji 🦊 fox sticker",  # (FTS5 keeps an emoji newer than Unicode 6.1 glued to a word: not so here)
    "Photo of Foxes and foxgloves",
    "a dog",
]
QUERIES = ["fox", "FOX", "Fox gl", "foxe", "red fox", "red-fox", "cafe", "CAFÉ", "café ter", "naive", "zurich",
           "Zür", "sao paulo", "angstrom", "creme brulee", "brûl", "eclair", "ÉCLAIR", "v2", "png", "example",
           "com", "42", "owl 4", "東京", "neon lit", "lanterns", "uber", "über", "85mm", "85", "sticker", "emoji",
           "night", "x", "missing", "foxgloves and", "d", "a"]


def _search_library(url: str, home: Path, settings: Any) -> Library:
    settings.database_url = url
    library = Library.open(home, settings=settings)
    project_id = library.project_id()
    start = datetime(2026, 1, 1)
    with library.db.engine.begin() as conn:
        conn.execute(insert(Order), [{"id": "o" * 20, "project_id": project_id, "name": "run", "snapshot": "{}",
                                      "snapshot_sha256": "0" * 64, "status": "succeeded", "reroll": False,
                                      "created_at": start}])
        conn.execute(insert(Product.__table__), [{
            "id": f"p{i:019d}", "project_id": project_id, "order_id": "o" * 20, "node_id": "gen",
            "node_type": "provider.local", "batch_index": 0, "name": f"image {i:02d}",
            "path": f"products/{i}.png", "sha256": f"{i:064x}", "media_type": "image", "mime": "image/png",
            "size_bytes": 10, "prompt": prompt, "params": {}, "metadata": {}, "rating": 0, "favourite": False,
            "created_at": start + timedelta(minutes=i)} for i, prompt in enumerate(PROMPTS)])
    return library


def test_postgresql_search_finds_exactly_what_sqlite_fts5_finds(postgres_url: str, tmp_path: Path) -> None:
    from artfactory.config import Settings

    sqlite_lib = _search_library(f"sqlite:///{tmp_path / 'a' / 'library.sqlite3'}", tmp_path / "a", Settings())
    pg_lib = _search_library(postgres_url, tmp_path / "b", Settings())
    try:
        found: dict[str, dict[str, list[str]]] = {}
        for name, library in (("sqlite", sqlite_lib), ("postgresql", pg_lib)):
            gallery = Gallery(library)
            found[name] = {q: sorted(r.id for r in gallery.page(GalleryQuery(search=q), limit=100))
                           for q in QUERIES}
            for q in QUERIES:
                assert gallery.count(GalleryQuery(search=q)) == len(found[name][q]), (name, q)
        differences = {q: (found["sqlite"][q], found["postgresql"][q]) for q in QUERIES
                       if found["sqlite"][q] != found["postgresql"][q]}
        assert differences == {}, "\n".join(f"{q}: {a} vs {b}" for q, (a, b) in differences.items())

        def prompts(q: str) -> set[str]:
            return {PROMPTS[int(pid[1:])] for pid in found["postgresql"][q]}

        # What the user expects, so the comparison cannot pass by both finding nothing.
        assert prompts("cafe") == prompts("CAFÉ") == {PROMPTS[1], PROMPTS[2]}
        assert prompts("eclair") == {PROMPTS[9], PROMPTS[10]}  # precomposed and decomposed accents alike
        assert prompts("zurich") == prompts("Zür") == {PROMPTS[3]}
        assert prompts("png") == {PROMPTS[7]} and prompts("com") == {PROMPTS[8]}
        assert prompts("foxe") == {PROMPTS[15]} and PROMPTS[14] in prompts("fox")
        assert prompts("東京") == {PROMPTS[11]} and prompts("missing") == set()
    finally:
        sqlite_lib.close()
        pg_lib.close()


# --- choosing the database: --database, settings, keychain -----------------------------------------------------

def test_database_option_before_or_after_the_command_uses_that_database_for_this_command_only(
        postgres_url: str, library_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from tests.support.cli import run_cli

    picture = tmp_path / "shared.png"
    Image.new("RGB", (40, 30), (10, 120, 200)).save(picture)
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    imported = run_cli(capsys, "--database", plain, "import", picture, "--json")
    assert imported.code == 0, imported.err
    [product] = imported.json["products"]
    listed = run_cli(capsys, "products", "list", "--json", "--database", plain)
    assert [p["id"] for p in listed.json["products"]] == [product["id"]]
    assert "ARTFACTORY_DATABASE_URL" not in os.environ  # nothing left behind for the rest of this process
    assert run_cli(capsys, "products", "list", "--json").json["products"] == []  # the library's own SQLite file
    bad = run_cli(capsys, "--database", "mysql://someone:s3cret-Wrong@db/lib", "orders", "list")
    assert bad.code == 2 and bad.err.startswith("artfactory: error: --database ") and "s3cret-Wrong" not in bad.err


def test_settings_never_keep_a_database_password(library_home: Path) -> None:
    from artfactory.config import Settings, load_settings, save_settings

    save_settings(library_home, Settings(database_url="postgresql://team:s3cret-Wrong@db.example:5433/art"))
    assert "s3cret-Wrong" not in (library_home / "settings.json").read_text(encoding="utf-8")
    assert load_settings(library_home).database_url == "postgresql://team@db.example:5433/art"


def test_the_password_comes_from_the_keychain(postgres_url: str, library_home: Path) -> None:
    from artfactory.config import Settings
    from artfactory.services import database_login

    without, password = database_login.split_password(postgres_url)
    assert password == PASSWORD and PASSWORD not in without
    settings = Settings(database_url=without)
    with pytest.raises(LibraryError, match="asks for a password and none is set"):
        Library.open(library_home, settings=settings)
    database_login.store_password(without, PASSWORD)
    assert database_login.keychain_user(without).startswith("database:artfactory@127.0.0.1:")
    library = Library.open(library_home, settings=settings)
    try:
        assert library.db.engine.dialect.name == "postgresql"
    finally:
        library.close()
    assert database_login.check_database(without).ok
    assert database_login.forget_password(without) and not database_login.forget_password(without)


def test_a_machine_whose_clock_runs_ahead_never_takes_a_live_lease(postgres_url: str, library_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Lease ages come from the server's clock: a machine an hour ahead still sees a fresh heartbeat as fresh
    (judged by its own clock it would take the lease over and pay a second time)."""
    from artfactory.config import Settings
    from artfactory.services import orders
    from artfactory.services.orders import OrderStore

    library = Library.open(library_home, settings=Settings(database_url=postgres_url))
    try:
        key = "k" * 64
        with library.db.engine.begin() as conn:  # the run holding the lease is at work: its item is running
            conn.execute(insert(Order), [{"id": "order-here", "project_id": library.project_id(), "name": "run",
                                          "snapshot": "{}", "snapshot_sha256": "0" * 64, "status": "running",
                                          "reroll": False, "created_at": datetime(2026, 1, 1)}])
            conn.execute(insert(OrderItem), [{"id": "item-here", "order_id": "order-here", "position": 0,
                                              "node_id": "gen", "node_type": "provider.replicate", "type_version": 1,
                                              "params": {}, "request_key": key, "cache_key": key,
                                              "status": "running", "progress": 0.0, "progress_message": ""}])
        here = OrderStore(library)
        assert here.claim("order-here", {"item-here": key}, 15.0).won == {"item-here"}
        elsewhere = OrderStore(library)
        elsewhere.owner = "machine-with-a-fast-clock:4242"
        real = orders.utcnow
        monkeypatch.setattr(orders, "utcnow", lambda: real() + timedelta(hours=1))
        claims = elsewhere.claim("order-there", {"item-there": key}, 15.0)
        assert claims.won == set() and claims.held["item-there"].order_id == "order-here"
    finally:
        library.close()
