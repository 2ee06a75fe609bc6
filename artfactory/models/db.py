"""Opening a library database: engine with SQLite pragmas, Alembic upgrade, and refusal of bad files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # alembic takes ~0.1 s to import: loaded only to create, migrate or refuse a database
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DATABASE_FILE = "library.sqlite3"
BUSY_TIMEOUT_MS = 10_000


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


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        read_only = "mode=ro" in url or "immutable=1" in url
        event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def database_url_for(home: Path, configured: str = "") -> str:
    return configured or f"sqlite:///{home / DATABASE_FILE}"


def _describe(url: str) -> str:
    return url.split("///", 1)[1] if url.startswith("sqlite:///") else url.split("@")[-1]


def upgrade_to(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def open_database(url: str, *, upgrade: bool = True, read_only: bool = False) -> Engine:
    """An engine on an up-to-date library database, or DatabaseOpenError naming the file and reason.
    `read_only` (a library folder this process may not write): SQLite opens the file read-only and nothing
    is created or migrated; a database that needs a migration is then refused with the reason."""
    where = _describe(url)
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
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if url.startswith("sqlite"):
                result = connection.exec_driver_sql("PRAGMA quick_check").scalar()
                if result != "ok":
                    raise DatabaseOpenError(f"library database {where} is corrupt: {result}")
            tables = set(inspect(connection).get_table_names())
            current = current_revision(connection, tables)
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        raise DatabaseOpenError(f"library database {where} cannot be read: {reason}") from None
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
        upgrade_to(engine)
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
