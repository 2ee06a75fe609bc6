"""The library database's password in the keychain (never in settings, logs or messages); its connection test."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from artfactory.models.db import (
    DatabaseOpenError,
    connection_problem,
    current_revision,
    describe_url,
    head_revision,
    known_revisions,
    make_engine,
    normalize_url,
    parse_url,
    url_without_password,
)
from artfactory.services.secrets import (
    SERVICE,
    InsecureKeychainError,
    SecretsError,
    _keychain_error,
    _keyring,
    keychain_problem,
    remember_secret,
)

log = logging.getLogger("artfactory")


def _server_url(url: str) -> bool:
    """Whether the URL names a database server (one that may ask for a password), not a file."""
    return bool(url) and not normalize_url(url).startswith("sqlite")


def keychain_user(url: str) -> str:
    """The keychain entry of a database login: `database:user@host:port/name` under the service "artfactory"."""
    parsed = parse_url(url)
    port = parsed.port or (5432 if parsed.get_backend_name() == "postgresql" else "")
    return f"database:{parsed.username or ''}@{parsed.host or 'localhost'}:{port}/{parsed.database or ''}"


def split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password (fit for settings) and the password it held, if any."""
    if not _server_url(url):
        return url, None
    parsed = parse_url(url)
    if parsed.password is None:
        return url, None
    password = str(parsed.password)
    remember_secret(password)
    return url_without_password(url), password


def stored_password(url: str) -> str | None:
    """The keychain's password for this login; raises SecretsError when the keychain cannot be read."""
    try:
        value = _keyring().get_password(SERVICE, keychain_user(url))
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise _keychain_error("read", exc) from None
    remember_secret(value)
    return value or None


def store_password(url: str, password: str) -> None:
    """Keep the password of this login in the system keychain; InsecureKeychainError when there is none."""
    remember_secret(password)
    problem = keychain_problem()
    if problem:
        raise InsecureKeychainError(f"the database password was not stored: {problem}; put it in ~/.pgpass or "
                                    "PGPASSWORD instead")
    try:
        _keyring().set_password(SERVICE, keychain_user(url), password)
    except Exception as exc:  # backends raise their own types
        raise _keychain_error("write to", exc) from None


def forget_password(url: str) -> bool:
    """Remove the stored password of this login; True when there was one."""
    try:
        if _keyring().get_password(SERVICE, keychain_user(url)) is None:
            return False
        _keyring().delete_password(SERVICE, keychain_user(url))
    except Exception as exc:  # backends raise their own types
        raise _keychain_error("delete from", exc) from None
    return True


def url_with_password(url: str) -> str:
    """The URL to connect with: a server URL that names a user but no password gets the keychain's password.
    Without one libpq still tries PGPASSWORD and ~/.pgpass; a keychain that cannot be read is logged, not fatal."""
    if not _server_url(url):
        return url
    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):
        return url  # opening it says what is wrong, without repeating it
    if parsed.password is not None:
        remember_secret(str(parsed.password))
        return url
    if not parsed.username:
        return url
    try:
        password = stored_password(url)
    except SecretsError as exc:
        log.warning("the library database password cannot be read: %s", exc)
        return url
    return parsed.set(password=password).render_as_string(hide_password=False) if password else url


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def check_database(url: str, password: str | None = None) -> ConnectionCheck:
    """Connect once (nothing is created or migrated) and say what is there: an Art Factory library, an empty
    database it will set up, or why it cannot be used. `password` is the one typed, else the keychain's."""
    try:
        if password:
            remember_secret(password)
            url = parse_url(url).set(password=password).render_as_string(hide_password=False)
        else:
            url = url_with_password(url)
        where = describe_url(url)
        engine = make_engine(url)
    except DatabaseOpenError as exc:
        return ConnectionCheck(False, str(exc))
    except (ArgumentError, ImportError) as exc:
        return ConnectionCheck(False, f"the URL cannot be used: {type(exc).__name__}")
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar() \
                if conn.dialect.name == "postgresql" else None
            tables = set(inspect(conn).get_table_names())
            current = current_revision(conn, tables)
    except DBAPIError as exc:
        return ConnectionCheck(False, f"{where}: {connection_problem(exc)}")
    finally:
        engine.dispose()
    server = f"PostgreSQL {version}" if version else where
    if current is None:
        if tables - {"alembic_version"}:
            return ConnectionCheck(False, f"connected to {server}, but the database holds tables of something "
                                          "else (not an Art Factory library)")
        return ConnectionCheck(True, f"connected to {server}: an empty database, set up as a library on first use")
    if current not in known_revisions():
        return ConnectionCheck(False, f"connected to {server}: the library was made by a newer Art Factory "
                                      f"(schema {current})")
    state = "up to date" if current == head_revision() else f"schema {current}, updated on first use"
    return ConnectionCheck(True, f"connected to {server}: an Art Factory library ({state})")
