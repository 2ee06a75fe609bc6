"""A library: its root folder, settings, database and file storage, opened together."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select

from artfactory.config import Settings, load_settings, resolve_home
from artfactory.engine.document import name_problem
from artfactory.engine.registry import NodeRegistry, default_registry
from artfactory.models import Database, DatabaseOpenError, Project
from artfactory.models.db import DATABASE_FILE, database_url_for, insert_new
from artfactory.services.storage import LibraryStorage

log = logging.getLogger("artfactory")
DEFAULT_PROJECT = "Default"


class LibraryError(Exception):
    """The library cannot be opened; the message names the place and the reason."""


def library_writable(root: Path) -> bool:
    """Whether this process may write the library folder and its database file."""
    database = root / DATABASE_FILE
    return os.access(root, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


class Library:
    """Everything a run, a query or a window needs about one library root."""

    def __init__(self, home: Path, settings: Settings, db: Database, storage: LibraryStorage,
                 registry: NodeRegistry) -> None:
        self.home = home
        self.settings = settings
        self.db = db
        self.storage = storage
        self.registry = registry
        self.read_only = False  # see library_writable()

    @classmethod
    def open(cls, home: str | Path | None = None, settings: Settings | None = None,
             registry: NodeRegistry | None = None) -> Library:
        root = resolve_home(home)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"library folder {root} cannot be created: {exc.strerror}") from None
        if not root.is_dir():
            raise LibraryError(f"library folder {root} is not a folder")
        settings = settings or load_settings(root)
        products = Path(settings.products_dir) if settings.products_dir else None  # `library relocate`
        storage = LibraryStorage(root, settings.max_file_bytes, products)
        # A library this process may not write (chmod a-w, a read-only share) is still browsed: nothing is
        # created or migrated and SQLite opens read-only; a command that writes fails saying so.
        read_only = not library_writable(root)
        if not read_only:
            try:
                storage.ensure_layout()
            except OSError as exc:
                raise LibraryError(f"library folder {root} is not writable: {exc.strerror}") from None
        url = database_url_for(root, settings.database_url)
        if settings.database_url:  # a server's password comes from the keychain, never from the settings
            from artfactory.services.database_login import url_with_password

            url = url_with_password(url)
        try:
            db = Database(url, read_only=read_only and not settings.database_url)
        except DatabaseOpenError as exc:
            raise LibraryError(str(exc)) from None
        library = cls(root, settings, db, storage, registry or default_registry())
        library.read_only = read_only
        return library

    def project_id(self, name: str = DEFAULT_PROJECT) -> int:
        """The id of a project by name, created on first use."""
        problem = name_problem(name, "a project name")
        if problem:
            raise LibraryError(problem)
        find = select(Project.id).where(Project.name == name)
        with self.db.engine.begin() as conn:
            found = conn.execute(find).scalar()
            if found is None:  # another process or machine may create it at the same moment: either row will do
                conn.execute(insert_new(conn, Project.__table__).values(name=name))
                found = conn.execute(find).scalar_one()
            return int(found)

    def close(self) -> None:
        self.db.close()
