"""Failed library writes (a full disk, a database that refuses writes) as one clear line for the user."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

# ENOSPC and its quota twin: both mean "no room left" to the user.
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_SPACE_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded", "disk full")


def _reason(exc: BaseException) -> str:
    # SQLAlchemy's text carries the SQL statement and parameters; the driver's own words are enough.
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(original, OSError) and original.strerror:
        return original.strerror
    return str(original).strip() or type(original).__name__


def is_disk_full(exc: BaseException) -> bool:
    """Whether a failed write failed because the disk (or the user's quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return True
        if any(words in _reason(current).lower() for words in _NO_SPACE_WORDS):
            return True
        current = current.orig if isinstance(current, DBAPIError) else (current.__cause__ or current.__context__)
    return False


def is_write_failure(exc: BaseException) -> bool:
    """A failure of the library's storage itself (a full disk, a database that cannot write), not a bug."""
    return is_disk_full(exc) or isinstance(exc, OperationalError | sqlite3.OperationalError)


def describe_write_failure(exc: BaseException, home: Path | str) -> str:
    """One line naming what failed and where: "the library's disk is full: /path" and the like."""
    if is_disk_full(exc):
        return f"the library's disk is full: {home}"
    return f"the library at {home} could not be written: {_reason(exc)}"
