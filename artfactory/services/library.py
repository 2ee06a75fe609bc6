"""A library: its root folder, settings, database and file storage, opened together."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from artfactory.config import Settings, load_settings, resolve_home
from artfactory.engine.document import name_problem
from artfactory.engine.registry import NodeRegistry, default_registry
from artfactory.models import Database, DatabaseOpenError, Project
from artfactory.models.db import DATABASE_FILE, database_url_for
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
        storage = LibraryStorage(root, settings.max_file_bytes)
        # A library this process may not write (chmod a-w, a read-only share) is still browsed: nothing is
        # created or migrated and SQLite opens read-only; a command that writes fails saying so.
        read_only = not library_writable(root)
        if not read_only:
            try:
                storage.ensure_layout()
            except OSError as exc:
                raise LibraryError(f"library folder {root} is not writable: {exc.strerror}") from None
        try:
            db = Database(database_url_for(root, settings.database_url),
                          read_only=read_only and not settings.database_url)
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
        with self.db.session() as session:
            project = session.query(Project).filter_by(name=name).one_or_none()
            if project is None:
                project = Project(name=name)
                session.add(project)
                session.flush()
            return project.id

    def close(self) -> None:
        self.db.close()
