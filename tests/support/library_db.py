"""Reading and writing a test library's database behind the app's back, on SQLite or PostgreSQL alike.

The database is the one a library at `home` opens: ARTFACTORY_DATABASE_URL when set (see the `db_backend`
fixture), else the SQLite file in the library root.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, create_engine, text
from sqlalchemy.exc import DBAPIError


def library_url(home: Path) -> str | None:
    """The library's database URL, or None while its SQLite file does not exist yet."""
    configured = os.environ.get("ARTFACTORY_DATABASE_URL")
    if configured:
        return configured
    path = home / "library.sqlite3"
    return f"sqlite:///{path}" if path.exists() else None


@cache
def _engine(url: str) -> Engine:
    # NullPool-like behaviour is not needed: one small pool per URL for the whole run.
    return create_engine(url, connect_args={"timeout": 5} if url.startswith("sqlite") else {"connect_timeout": 5})


def library_rows(home: Path, sql: str, **params: Any) -> list[RowMapping]:
    """The rows of a query (name them like r["column"]); [] while the database or its schema is not there yet."""
    url = library_url(home)
    if url is None:
        return []
    try:
        with _engine(url).connect() as conn:
            return list(conn.execute(text(sql), params).mappings())
    except DBAPIError:  # the schema may be on its way
        return []


def library_execute(home: Path, sql: str, **params: Any) -> None:
    url = library_url(home)
    assert url is not None, f"no library database at {home}"
    with _engine(url).begin() as conn:
        conn.execute(text(sql), params)
