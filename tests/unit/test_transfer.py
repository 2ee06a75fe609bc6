"""Import into the library: whole products or nothing, even when the database write fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from artfactory.models import Product
from artfactory.services.library import Library
from artfactory.services.transfer import import_paths

pytestmark = pytest.mark.usefixtures("db_backend")  # SQLite and PostgreSQL


@pytest.fixture
def library(library_home: Path) -> Iterator[Library]:
    lib = Library.open(library_home)
    yield lib
    lib.close()


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (32, 24), colour).save(path)
    return path


def product_files(library: Library) -> list[Path]:
    return sorted(p for p in library.storage.products_dir.rglob("*") if p.is_file())


def test_a_failed_database_write_leaves_no_file_behind(library: Library, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    good = picture(tmp_path / "good.png", (200, 30, 30))
    doomed = picture(tmp_path / "doomed.png", (30, 200, 30))
    project = library.project_id()
    import_paths(library, [good], project_id=project)
    assert len(product_files(library)) == 1

    real_commit = library.db.sessions.class_.commit

    def full_disk(session: object) -> None:
        raise OperationalError("INSERT INTO products", {}, Exception("database or disk is full"))

    monkeypatch.setattr(library.db.sessions.class_, "commit", full_disk)
    result = import_paths(library, [doomed], project_id=project)
    monkeypatch.setattr(library.db.sessions.class_, "commit", real_commit)

    assert result.products == []
    [(path, reason)] = result.rejected
    assert path == doomed and "could not be recorded" in reason and "disk is full" in reason
    assert len(product_files(library)) == 1  # only the earlier, whole product
    with library.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 1
    # The same file imports cleanly once the disk has room again.
    again = import_paths(library, [doomed], project_id=project)
    assert len(again.products) == 1 and len(product_files(library)) == 2
