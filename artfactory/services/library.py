"""A library: its root folder, settings, database and file storage, opened together."""

from __future__ import annotations

import logging
from pathlib import Path

from artfactory.config import Settings, load_settings, resolve_home
from artfactory.engine.registry import NodeRegistry, default_registry
from artfactory.models import Database, DatabaseOpenError, Project
from artfactory.models.db import database_url_for
from artfactory.services.storage import LibraryStorage

log = logging.getLogger("artfactory")
DEFAULT_PROJECT = "Default"


class LibraryError(Exception):
    """The library cannot be opened; the message names the place and the reason."""


class Library:
    """Everything a run, a query or a window needs about one library root."""

    def __init__(self, home: Path, settings: Settings, db: Database, storage: LibraryStorage,
                 registry: NodeRegistry) -> None:
        self.home = home
        self.settings = settings
        self.db = db
        self.storage = storage
        self.registry = registry

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
        try:
            storage.ensure_layout()
        except OSError as exc:
            raise LibraryError(f"library folder {root} is not writable: {exc.strerror}") from None
        try:
            db = Database(database_url_for(root, settings.database_url))
        except DatabaseOpenError as exc:
            raise LibraryError(str(exc)) from None
        return cls(root, settings, db, storage, registry or default_registry())

    def project_id(self, name: str = DEFAULT_PROJECT) -> int:
        """The id of a project by name, created on first use."""
        with self.db.session() as session:
            project = session.query(Project).filter_by(name=name).one_or_none()
            if project is None:
                project = Project(name=name)
                session.add(project)
                session.flush()
            return project.id

    def close(self) -> None:
        self.db.close()
