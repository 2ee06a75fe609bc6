"""Moving a library to another database (SQLite ↔ PostgreSQL): every row, ids kept, counts and checksums checked."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.schema import sort_tables_and_constraints
from sqlalchemy.types import TypeDecorator

from artfactory.models.db import (
    DatabaseOpenError,
    connection_problem,
    current_revision,
    describe_url,
    head_revision,
    make_engine,
    normalize_url,
    open_database,
    read_only_url,
)
from artfactory.models.entities import Base
from artfactory.services.database_login import url_with_password
from artfactory.services.live import CHANNEL

BATCH_ROWS = 2000
# Tables a library database holds besides the models: Alembic's version row (the target gets its own) and SQLite's
# full-text index with its shadow tables (filled by the target's own triggers or generated columns), SQLite's own.
_NOT_COPIED = ("alembic_version", "products_fts", "sqlite_")
Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in the table


class MoveError(Exception):
    """The library cannot be moved; the message says which database, which table and why."""


@dataclass
class TableReport:
    name: str
    rows: int
    checksum: str
    target_rows: int = -1
    target_checksum: str = ""

    @property
    def matches(self) -> bool:
        return self.rows == self.target_rows and self.checksum == self.target_checksum

    def as_json(self) -> dict[str, Any]:
        return {"table": self.name, "rows": self.rows, "target_rows": self.target_rows, "checksum": self.checksum,
                "target_checksum": self.target_checksum, "matches": self.matches}


@dataclass
class MoveReport:
    source: str
    target: str
    tables: list[TableReport] = field(default_factory=list)
    replaced_rows: int = 0  # rows the target held and --replace deleted
    seconds: float = 0.0

    @property
    def verified(self) -> bool:
        return all(t.matches for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "verified": self.verified, "rows": self.rows,
                "replaced_rows": self.replaced_rows, "seconds": round(self.seconds, 3),
                "tables": [t.as_json() for t in self.tables]}


def check_url(url: str) -> str:
    """The normalized URL, or MoveError when it names no database this installation can open."""
    url = normalize_url(url.strip())
    try:
        parsed = make_url(url)
        parsed.get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError):
        raise MoveError(f"not a database URL this installation can open: {describe_url(url)} "
                        "(use postgresql://user@host/name or sqlite:////path/library.sqlite3)") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise MoveError(f"{describe_url(url)}: only SQLite and PostgreSQL libraries are supported")
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases or an in-memory one)."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def file_sha256(path: Path) -> str:
    """The SHA-256 of an SQLite library's bytes: the database file and its write-ahead log, when there is one."""
    digest = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.is_file():
            with open(part, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()


class _StoredJSON(TypeDecorator[Any]):
    """A JSON column whose text goes in as it is (no json.dumps of an already encoded value); PostgreSQL still
    receives it as json."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


def _raw_tables(dialect: str = "sqlite") -> list[tuple[Table, list[str]]]:
    """The models' tables in dependency order, with JSON columns typed as text (so the stored JSON text, SQL NULL
    and JSON null alike, is copied as it is), and per table the foreign-key columns that point to itself or to a
    later table: they are copied empty and filled once every row exists (graphs.preview_product_id,
    orders.parent_order_id)."""
    raw = MetaData()
    sorted_tables = _model_tables()
    order = [t.name for t in sorted_tables]
    out = []
    for table in sorted_tables:
        stored = _StoredJSON if dialect == "postgresql" else Text
        columns = [Column(c.name, stored if isinstance(c.type, JSON) else c.type, primary_key=c.primary_key,
                          autoincrement=False) for c in table.columns]
        late = [c.name for c in table.columns for fk in c.foreign_keys
                if order.index(fk.column.table.name) >= order.index(table.name)]
        assert all(table.c[c].nullable for c in late), f"{table.name}: a late foreign key must be nullable"
        out.append((Table(table.name, raw, *columns), late))
    return out


def _model_tables() -> list[Table]:
    """The models' tables, each after the tables it refers to where the references allow (graphs and products
    refer to each other; SQLAlchemy's sorted_tables warns about that cycle, this ordering just lists it)."""
    return [t for t, _ in sort_tables_and_constraints(Base.metadata.tables.values()) if t is not None]


def _select(table: Table, dialect: str) -> Any:
    # PostgreSQL hands json back parsed; a cast keeps the text exactly as stored.
    json_columns = {c.name for c in Base.metadata.tables[table.name].columns if isinstance(c.type, JSON)}
    columns = [cast(c, Text).label(c.name) if c.name in json_columns and dialect == "postgresql" else c
               for c in table.columns]
    return select(*columns).order_by(*table.primary_key.columns)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


class _Checksum:
    """An order-independent digest of a table's rows: the sum of each row's sha256 (databases sort text keys by
    their own collations, so the two sides need not read rows in the same order)."""

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        data = json.dumps([_canonical(v) for v in row.values()], ensure_ascii=False, default=str)
        self.total = (self.total + int.from_bytes(hashlib.sha256(data.encode()).digest(), "big")) % (1 << 256)
        self.rows += 1

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


def _batches(connection: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(_select(table, connection.dialect.name))
    for part in result.mappings().partitions(BATCH_ROWS):
        yield [dict(row) for row in part]


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _open_source(url: str) -> Engine:
    """The source, opened so that nothing in it can change: an SQLite file read-only (no checkpoint, no journal
    mode switch), a server database in read-only transactions."""
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file():
            raise MoveError(f"the library database {path} does not exist")
        return make_engine(read_only_url(path))
    engine = make_engine(url)
    return engine.execution_options(postgresql_readonly=True, isolation_level="REPEATABLE READ")


def _check_source(engine: Engine, where: str) -> None:
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            revision = current_revision(connection, tables)
    except SQLAlchemyError as exc:
        raise MoveError(f"the library database {where} cannot be read: {_reason(exc)}") from None
    if revision != head_revision():
        raise MoveError(f"the library database {where} has schema {revision or 'none'}, this version writes "
                        f"{head_revision()}: open the library once with this version to update it, then move it")
    known = set(Base.metadata.tables)
    unknown = sorted(t for t in tables if t not in known and not t.startswith(_NOT_COPIED))
    if unknown:
        raise MoveError(f"the library database {where} holds tables this version does not know "
                        f"({', '.join(unknown)}); nothing was copied")


def _reason(exc: BaseException) -> str:
    return connection_problem(exc)[:300]


def target_rows(engine: Engine) -> dict[str, int]:
    """Rows per table in an opened target (only tables that hold any)."""
    with engine.connect() as connection:
        counts = {t.name: _count(connection, t) for t, _ in _raw_tables(engine.dialect.name)}
    return {name: n for name, n in counts.items() if n}


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL: each serial id's sequence continues after the largest copied id (else the next insert fails)."""
    for table in _model_tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or pk[0].type.python_type is not int:
            continue
        name, column = table.name, pk[0].name
        sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": name, "c": column}).scalar()
        if sequence:
            connection.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column}") FROM "{name}"), 1), '
                                    f'(SELECT MAX("{column}") FROM "{name}") IS NOT NULL)'), {"s": sequence})


def move_library(source_url: str, target_url: str, *, replace: bool = False,
                 progress: Progress | None = None) -> MoveReport:
    """Copy every row of the library at `source_url` into `target_url` (created and migrated when new), then read
    the target back and compare counts and checksums per table. The source is only read. A target that already
    holds rows is refused unless `replace`, which deletes them first (in the same transaction as the copy)."""
    started = time.monotonic()
    # A server's password comes from the keychain when the URL names none.
    source_url, target_url = (url_with_password(check_url(u)) for u in (source_url, target_url))
    where, target_where = describe_url(source_url), describe_url(target_url)
    if _same_database(source_url, target_url):
        raise MoveError(f"the source and the target are the same database ({where})")
    source = _open_source(source_url)
    try:
        _check_source(source, where)
        try:
            target = open_database(target_url)
        except DatabaseOpenError as exc:
            raise MoveError(f"the target cannot be used: {exc}") from None
        try:
            report = _copy(source, target, where, target_where, replace, progress or (lambda *_: None))
        finally:
            target.dispose()
    finally:
        source.dispose()
    report.seconds = time.monotonic() - started
    return report


def _same_database(a: str, b: str) -> bool:
    pa, pb = sqlite_path(a), sqlite_path(b)
    if pa is not None or pb is not None:
        return pa is not None and pb is not None and pa.expanduser().resolve() == pb.expanduser().resolve()
    ua, ub = make_url(a), make_url(b)
    return (ua.host, ua.port, ua.database) == (ub.host, ub.port, ub.database)


def _copy(source: Engine, target: Engine, where: str, target_where: str, replace: bool,
          progress: Progress) -> MoveReport:
    report = MoveReport(where, target_where)
    tables = _raw_tables(target.dialect.name)
    held = target_rows(target)
    if held and not replace:
        listing = ", ".join(f"{name} {n}" for name, n in held.items())
        raise MoveError(f"the target {target_where} already holds a library ({listing} rows); nothing was copied. "
                        "Pass --replace to delete what it holds and copy over it")
    current = "?"
    try:
        with _snapshot(source) as src, target.begin() as dst:
            if held:
                for table, _ in reversed(tables):
                    dst.execute(table.delete())
                report.replaced_rows = sum(held.values())
            quiet = _quiet_triggers(dst, False)
            for table, late in tables:
                current = table.name
                report.tables.append(_copy_table(src, dst, table, late, progress))
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst)
                if quiet:
                    _quiet_triggers(dst, True)
                # One note instead of a notification per copied row: open apps re-read everything.
                dst.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": json.dumps({"kind": "resync"})})
    except DBAPIError as exc:
        raise MoveError(f"copying into {target_where} failed (table {current}): {_reason(exc)}; "
                        "the target was left as it was") from None
    with target.connect() as dst:
        for (table, _), entry in zip(tables, report.tables, strict=True):
            check = _Checksum()
            for batch in _batches(dst, table):
                for row in batch:
                    check.add(row)
            entry.target_rows, entry.target_checksum = check.rows, check.hex
    return report


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one moment of the source: an SQLite read transaction (the driver would
    otherwise read each table at a different moment), PostgreSQL's repeatable read (set on the engine)."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            yield connection
            return
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")  # we say BEGIN ourselves
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.exec_driver_sql("ROLLBACK")


_LIVE_TRIGGERS = (("products", "products_notify"), ("orders", "orders_notify"), ("orders", "orders_status_notify"))


def _quiet_triggers(connection: Connection, enable: bool) -> bool:
    """PostgreSQL: switch 0008's live-change triggers off for the copy (else one notification per row) or back on.
    Only a table's owner may; for anyone else the copy runs with them on. True when they were switched."""
    if connection.dialect.name != "postgresql":
        return False
    try:
        with connection.begin_nested():
            for table, trigger in _LIVE_TRIGGERS:
                connection.exec_driver_sql(f"ALTER TABLE {table} {'ENABLE' if enable else 'DISABLE'} TRIGGER {trigger}")
        return True
    except DBAPIError:
        return False


def _copy_table(src: Connection, dst: Connection, table: Table, late: list[str], progress: Progress) -> TableReport:
    total = _count(src, table)
    check = _Checksum()
    progress(table.name, 0, total)
    pending: list[dict[str, Any]] = []  # primary key + the late foreign keys of rows that have any
    keys = [c.name for c in table.primary_key.columns]
    for batch in _batches(src, table):
        for row in batch:
            check.add(row)
        if late:
            pending += [{**{f"k_{k}": row[k] for k in keys}, **{f"v_{c}": row[c] for c in late}}
                        for row in batch if any(row[c] is not None for c in late)]
            batch = [{**row, **dict.fromkeys(late)} for row in batch]
        dst.execute(table.insert(), batch)
        progress(table.name, check.rows, total)
    if pending:
        where = [table.c[k] == bindparam(f"k_{k}") for k in keys]
        dst.execute(table.update().where(*where).values({c: bindparam(f"v_{c}") for c in late}), pending)
    return TableReport(table.name, check.rows, check.hex)
