"""Opening a library database: engine with SQLite pragmas, Alembic upgrade, and refusal of bad files."""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # alembic takes ~0.1 s to import: loaded only to create, migrate or refuse a database
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DATABASE_FILE = "library.sqlite3"
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 10
POOL_SIZE = 5
POOL_OVERFLOW = 10
POOL_RECYCLE_S = 1800
MIGRATION_LOCK = 0x4172_7446  # "ArtF": the advisory lock key held while a PostgreSQL library is migrated


class DatabaseOpenError(Exception):
    """The library database cannot be used; the message says which file and why."""


def _alembic_config(connection: Any | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]+)?=\s*(None|"[^"]*"|'[^']*')\s*(?:#.*)?$""", re.M)


@cache
def plain_head_revision() -> str | None:
    """The head revision read from the migration files without alembic, or None when they are not a plain
    chain that this simple reading can be sure of (alembic then decides)."""
    revisions: dict[str, str | None] = {}
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((key, value) for key, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue  # __init__.py
        if "down_revision" not in found:
            return None  # e.g. a merge (a tuple of parents)
        revisions[found["revision"].strip("'\"")] = None if found["down_revision"] == "None" else \
            found["down_revision"].strip("'\"")
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


def current_revision(connection: Connection, tables: set[str]) -> str | None:
    """The schema revision stored in the database, as alembic's MigrationContext reports it."""
    if "alembic_version" not in tables:
        return None
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    if len(rows) <= 1:
        return rows[0] if rows else None
    from alembic.runtime.migration import MigrationContext  # several heads: alembic's own error

    return MigrationContext.configure(connection).get_current_revision()


def _up_to_date(current: str | None) -> bool:
    """The database is on the newest schema: decided without alembic when the files say what that is."""
    plain = plain_head_revision()
    return current is not None and current == (plain if plain is not None else head_revision())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No journal_mode change: that is a write. Foreign keys and the busy timeout still apply to reads.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def read_only_url(path: Path, immutable: bool = False) -> str:
    """An SQLite URL that opens the file for reading only, whoever runs it (root included).
    `immutable` also skips the WAL index, which cannot be made in a folder nobody may write."""
    flag = "immutable=1" if immutable else "mode=ro"
    return f"sqlite:///file:{quote(path.as_posix())}?{flag}&uri=true"


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` (as libpq, psql and hosting dashboards write them) mean the psycopg
    driver, the one this installation ships; any other URL is left as it is."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgres", "postgresql", "postgresql+psycopg2"):
        return f"postgresql+psycopg://{rest}"
    return url


def parse_url(url: str) -> URL:
    """The URL parsed, or DatabaseOpenError with a message that never repeats the URL (it may hold a password)."""
    try:
        return make_url(normalize_url(url))
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise DatabaseOpenError("the library database URL is not a database URL (such as "
                                "postgresql://user@host/name or sqlite:////path/library.sqlite3)") from None


def url_without_password(url: str) -> str:
    """The URL with any password taken out (a malformed URL is left as it is: opening it says what is wrong)."""
    if url.startswith("sqlite"):
        return url
    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):
        return url
    if parsed.password is None:
        return url
    stripped = parsed._replace(password=None).render_as_string(hide_password=False)
    return url.split("://", 1)[0] + stripped[stripped.index("://"):]  # the scheme as the user wrote it


def describe_url(url: str) -> str:
    """Where a database is, for messages: the SQLite file, else `kind://user@host:port/name` without the password."""
    if url.startswith("sqlite:///"):
        return url.split("///", 1)[1]
    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):
        return "the configured database"
    kind = parsed.get_backend_name()
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{kind}://{user}{parsed.host or 'localhost'}{port}/{parsed.database or ''}"


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        read_only = "mode=ro" in url or "immutable=1" in url
        event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
        return engine
    if parse_url(url).get_backend_name() == "postgresql":
        # A shared server: a few pooled connections per process (workers, the gallery and a listener
        # share them), checked before use so a restarted server or a dropped VPN costs a reconnect, not an
        # error; recycled before the usual idle timeouts of poolers and firewalls; a dead host is an error
        # after CONNECT_TIMEOUT_S, not a frozen window.
        return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                             pool_recycle=POOL_RECYCLE_S, pool_timeout=30,
                             connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "artfactory"})
    return create_engine(url, pool_pre_ping=True)


def database_url_for(home: Path, configured: str = "") -> str:
    return normalize_url(configured) if configured else f"sqlite:///{home / DATABASE_FILE}"


def _describe(url: str) -> str:
    return describe_url(url)


def connection_problem(exc: BaseException) -> str:
    """One line saying why a database could not be used, from the driver's error: no password, no URL (both may be
    in it), no "(Background on this error ...)" footer."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    text = " ".join(lines) or type(orig).__name__
    lowered = text.lower()
    # libpq's long form: 'connection failed: connection to server at "h" (1.2.3.4), port 5432 failed: REASON'
    text = re.sub(r'^(connection failed: )?(connection to server (at|on socket) .*? failed: )', "", text)
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    if "password authentication failed" in lowered:
        user = re.search(r'for user "([^"]*)"', text)
        return f"the server refused the password{' for user ' + user.group(1) if user else ''} (wrong password?)"
    if "no password supplied" in lowered or "password is required" in lowered:
        return "the server asks for a password and none is set (Preferences → Library database stores one)"
    if "connection refused" in lowered:
        return "connection refused: is PostgreSQL running there and listening on that port?"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "unknown host name"
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"no answer within {CONNECT_TIMEOUT_S} s (host down, or a firewall in the way?)"
    return text if len(text) <= 300 else text[:297] + "…"


def advisory_lock(connection: Connection, name: str) -> None:
    """Until this transaction ends, other transactions asking for the same `name` wait: on PostgreSQL an advisory
    lock, so runs on several machines do a check-then-insert one at a time; on SQLite the write lock."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif connection.dialect.name == "sqlite":
        # A write that changes nothing takes the database's write lock now, before the check, not at the insert.
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num WHERE 0")


def insert_new(connection: Connection, table: Any) -> Any:
    """INSERT that skips rows whose key or unique value is already there: another machine may have added the
    same membership or name a moment ago, which is the outcome wanted, not an error."""
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):  # only the library's own dialect module is imported
        return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table).on_conflict_do_nothing()
    from sqlalchemy import insert

    return insert(table)


def upgrade_to(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several machines may open a new shared library at once: one migrates, the others wait here and
            # then find it done (alembic reads the version after the lock; PostgreSQL's DDL is transactional).
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        command.upgrade(_alembic_config(connection), revision)


def open_database(url: str, *, upgrade: bool = True, read_only: bool = False) -> Engine:
    """An engine on an up-to-date library database, or DatabaseOpenError naming the file and reason.
    `read_only` (a library folder this process may not write): SQLite opens the file read-only and nothing
    is created or migrated; a database that needs a migration is then refused with the reason."""
    url = normalize_url(url)
    where = _describe(url)
    if not url.startswith("sqlite"):
        parse_url(url)  # a malformed URL: said without repeating it
    if read_only and url.startswith("sqlite:///"):
        return _open_read_only(Path(where))
    if url.startswith("sqlite:///"):
        path = Path(where)
        if path.exists() and not path.is_file():
            raise DatabaseOpenError(f"library database {path} is not a file")
        if path.is_file() and path.stat().st_size > 0:
            with path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise DatabaseOpenError(
                        f"library database {path} is not a SQLite database (corrupt or foreign file)")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(url)
    except (ArgumentError, ImportError) as exc:  # NoSuchModuleError is an ArgumentError: an unknown kind
        kind = url.split(":", 1)[0]
        problem = f"needs a driver that is not installed ({exc.name})" if isinstance(exc, ImportError) \
            else "names a database kind this installation does not know"
        raise DatabaseOpenError(f"the library database URL ({kind}://…) {problem}") from None
    try:
        with engine.connect() as connection:
            if url.startswith("sqlite"):
                result = connection.exec_driver_sql("PRAGMA quick_check").scalar()
                if result != "ok":
                    raise DatabaseOpenError(f"library database {where} is corrupt: {result}")
            tables = set(inspect(connection).get_table_names())
            current = current_revision(connection, tables)
    except (DatabaseError, OperationalError, InterfaceError) as exc:
        engine.dispose()
        if url.startswith("sqlite"):
            reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
            raise DatabaseOpenError(f"library database {where} cannot be read: {reason}") from None
        raise DatabaseOpenError(f"library database {where} cannot be opened: {connection_problem(exc)}") from None
    if _up_to_date(current):  # the usual case, settled without loading alembic
        return engine
    if current is None and tables - {"alembic_version"}:
        engine.dispose()
        raise DatabaseOpenError(f"{where} holds tables but is not an Art Factory library (no schema version)")
    if current is not None and current not in known_revisions():
        engine.dispose()
        raise DatabaseOpenError(
            f"library database {where} was made by a newer Art Factory (schema {current}); "
            f"this version knows up to {head_revision()} — please update the app"
        )
    if upgrade and current != head_revision():
        try:
            upgrade_to(engine)
        except (DatabaseError, OperationalError, InterfaceError) as exc:
            engine.dispose()
            raise DatabaseOpenError(f"library database {where} cannot be brought to schema {head_revision()}: "
                                    f"{connection_problem(exc)}") from None
    return engine


def _open_read_only(path: Path) -> Engine:
    if not path.is_file():
        raise DatabaseOpenError(f"library database {path} does not exist and the library folder is read-only")
    last: Exception | None = None
    for immutable in (False, True):
        engine = make_engine(read_only_url(path, immutable))
        try:
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                current = current_revision(connection, tables)
        except (DatabaseError, OperationalError) as exc:
            engine.dispose()
            last = exc
            continue
        if not _up_to_date(current) or not tables:
            engine.dispose()
            raise DatabaseOpenError(
                f"library database {path} is read-only and needs an update to schema {head_revision()} "
                f"(it has {current or 'none'}); open it once where it can be written")
        return engine
    reason = str(getattr(last, "orig", None) or last)
    raise DatabaseOpenError(f"library database {path} cannot be read: {reason}")


class Database:
    """An opened library database and its session factory."""

    def __init__(self, url: str, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self.engine = open_database(url, read_only=read_only)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()
