"""Library products as a graph input: ids or a collection resolved to stored files, for input.product's run and key."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from artfactory.models import Collection, Product, Project, collection_products
from artfactory.services.library import Library, LibraryError

MAX_PRODUCTS = 10_000
_ID = re.compile(r"[A-Za-z0-9_-]{1,20}")


class ProductInputError(Exception):
    """The products cannot be taken: an unknown id, a missing collection or file; the message says which."""


@dataclass(frozen=True)
class ProductRef:
    """A library product as input.product hands it on."""

    id: str
    sha256: str
    path: Path  # absolute
    media_type: str
    width: int | None
    height: int | None
    prompt: str
    seed: int | None
    name: str = ""


def product_ids_of(text: str) -> list[str]:
    """Product ids from a param: separated by spaces, commas, semicolons or new lines; repeats dropped."""
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text or "") if part))


# Libraries this process opened for runs (services.runs registers them): a plan reads the products through the
# open database instead of opening it again.
_OPEN: weakref.WeakValueDictionary[Path, Library] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


def register(library: Library) -> None:
    with _OPEN_LOCK:
        _OPEN[Path(library.home).resolve()] = library


@contextmanager
def _engine_for(home: Path) -> Iterator[tuple[Engine, Library]]:
    with _OPEN_LOCK:
        library = _OPEN.get(Path(home).resolve())
    if library is not None:
        yield library.db.engine, library
        return
    try:
        opened = Library.open(home)
    except LibraryError as exc:
        raise ProductInputError(str(exc)) from None
    try:
        yield opened.db.engine, opened
    finally:
        opened.close()


def resolve_products(home: Path, ids_text: str = "", collection: str = "", project: str = "") -> list[ProductRef]:
    """The products named by id (in the order given) followed by those of the collection (in the order they were
    added). ProductInputError names what is missing."""
    ids = product_ids_of(ids_text)
    name = " ".join((collection or "").split())
    if not ids and not name:
        raise ProductInputError("names no product: give product ids or a collection")
    bad = [i for i in ids if not _ID.fullmatch(i)]
    if bad:
        raise ProductInputError(f"{bad[0]!r} is not a product id")
    with _engine_for(home) as (engine, library), engine.connect() as conn:
        wanted = list(ids)
        if name:
            query = select(Collection.id, Project.name).join(Project, Project.id == Collection.project_id) \
                .where(Collection.name == name)
            if project.strip():
                query = query.where(Project.name == project.strip())
            found = conn.execute(query).all()
            if not found:
                where = f" in project {project.strip()!r}" if project.strip() else ""
                raise ProductInputError(f"no collection {name!r}{where}")
            if len(found) > 1:
                projects = ", ".join(sorted(repr(p) for _, p in found))
                raise ProductInputError(f"collection {name!r} exists in projects {projects}; set the node's "
                                        "project param")
            members = conn.execute(
                select(collection_products.c.product_id).where(collection_products.c.collection_id == found[0][0])
                .order_by(collection_products.c.added_at, collection_products.c.product_id)).scalars().all()
            if not members and not ids:
                raise ProductInputError(f"collection {name!r} holds no products")
            wanted += [m for m in members if m not in ids]
        if len(wanted) > MAX_PRODUCTS:
            raise ProductInputError(f"names {len(wanted):,} products; at most {MAX_PRODUCTS:,}")
        rows = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for row in conn.execute(select(Product.id, Product.sha256, Product.path, Product.media_type,
                                           Product.width, Product.height, Product.prompt, Product.seed,
                                           Product.name)
                                    .where(Product.id.in_(chunk))):
                rows[row.id] = row
        missing = [i for i in wanted if i not in rows]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ProductInputError(f"no product {missing[0]!r} in the library{more}")
        storage = library.storage
        return [ProductRef(r.id, r.sha256, storage.absolute(r.path), r.media_type, r.width, r.height,
                           r.prompt or "", r.seed, r.name or "") for r in (rows[i] for i in wanted)]
