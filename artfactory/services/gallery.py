"""Gallery queries and actions: combinable filters, keyset paging, facets, deletes, collections, compare."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, delete, exists, false, func, insert, or_, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from artfactory.engine.document import name_problem
from artfactory.engine.ports import product_ids_in
from artfactory.engine.status import NodeStatus, OrderStatus, node_status, order_status
from artfactory.models import Collection, Order, OrderItem, Product, Project, collection_products, utcnow
from artfactory.models.db import insert_new
from artfactory.services.library import Library
from artfactory.services.product_records import NotFound, ProductLineage, product_lineage
from artfactory.services.thumbnails import delete_thumbnails

PROMPT_SNIPPET = 160
SMALL_SET = 5000  # id sets up to this size are sorted in memory rather than probed along an index
# A search matching up to this many products is counted from its matches (a rowid lookup each) rather
# than by walking an index of every product in scope and probing the matches (bench/gallery.py).
SEARCH_COUNT_DRIVES = 20_000
# A page is found faster from the search's matches than by walking the sort order when the other filters
# keep fewer than one match in this many: the walk would pass that many products per row it keeps.
SPARSE_MATCHES = 20
_CHUNK = 500  # stays under every database's bound-parameter limit

PRODUCTS = cast(Table, Product.__table__)
COLLECTIONS = cast(Table, Collection.__table__)
P = PRODUCTS.c
CP = collection_products.c


class GalleryError(Exception):
    """An action the user asked for that cannot be done; the message says why."""


class SortKey(StrEnum):
    DATE = "date"
    NAME = "name"
    SIZE = "size"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


_SORT_COLUMNS = {SortKey.DATE: P.created_at, SortKey.NAME: P.name, SortKey.SIZE: P.size_bytes}


@dataclass(frozen=True)
class GalleryQuery:
    """Which products, in which order: the one product query behind the gallery, lineage and the CLI's
    `products list`. Every filter set here applies together (AND)."""

    project_id: int | None = None
    collection_id: int | None = None
    collection_name: str | None = None  # any collection so named (of project_id, when that is set)
    order_id: str | None = None
    node_type: str | None = None
    provider: str | None = None
    model: str | None = None
    media_type: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    min_rating: int = 0
    favourites_only: bool = False
    search: str = ""
    sort: SortKey = SortKey.DATE
    descending: bool = True

    def with_(self, **changes: Any) -> GalleryQuery:
        return replace(self, **changes)


class GalleryRow(NamedTuple):
    """One gallery cell's worth of product data: small enough to hold a few thousand at once."""

    id: str
    name: str
    path: str
    media_type: str
    width: int | None
    height: int | None
    prompt: str
    created_at: datetime
    rating: int
    favourite: bool
    size_bytes: int


_ROW_COLUMNS = (P.id, P.name, P.path, P.media_type, P.width, P.height,
                func.substr(P.prompt, 1, PROMPT_SNIPPET), P.created_at, P.rating, P.favourite, P.size_bytes)


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort value and id of its last row (keyset paging)."""

    value: Any
    id: str

    @classmethod
    def after(cls, row: GalleryRow, sort: SortKey) -> Cursor:
        value = {SortKey.DATE: row.created_at, SortKey.NAME: row.name, SortKey.SIZE: row.size_bytes}[sort]
        return cls(value, row.id)


class CollectionInfo(NamedTuple):
    id: int
    name: str
    project_id: int
    total: int


class Facet(NamedTuple):
    value: str
    total: int


class ProviderFacet(NamedTuple):
    provider: str
    model: str | None
    total: int


class OrderRow(NamedTuple):
    id: str
    name: str
    status: OrderStatus
    project_id: int
    parent_order_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    node_counts: dict[NodeStatus, int]
    products: int

    @property
    def nodes(self) -> int:
        return sum(self.node_counts.values())


@dataclass(frozen=True)
class ValueChange:
    key: str
    kind: ChangeKind
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    kind: ChangeKind
    node_type: str
    params: list[ValueChange] = field(default_factory=list)


@dataclass
class ProductDiff:
    """What differs between two products: their own fields, their params, and the graphs that made them."""

    a: ProductLineage
    b: ProductLineage
    fields: list[ValueChange]
    params: list[ValueChange]
    nodes: list[NodeChange]
    edges_added: list[str]
    edges_removed: list[str]

    @property
    def same_graph(self) -> bool:
        return not (self.nodes or self.edges_added or self.edges_removed)


class Gallery:
    """The gallery's window on a library. Read methods are safe from any thread (one session each)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.db = library.db
        self._sqlite = self.db.engine.dialect.name == "sqlite"
        self._match_counts: dict[str, int] = {}
        self._counts: dict[GalleryQuery, int] = {}  # the last count of each query, for planning its pages

    # -- browsing ------------------------------------------------------------------------------
    def _conditions(self, session: Session, query: GalleryQuery, counting: bool = False) -> tuple[list[Any], bool]:
        """The WHERE terms of a query, and whether its full-text matches drive it: then no index on
        products may (SQLite would rather walk one of them and probe the matches, which costs the
        same for 50 matches as for 50,000)."""
        where: list[Any] = []
        # A small id set (an order, a small collection) is the cheapest place to start; "+ 0" keeps
        # SQLite from preferring the project index (most rows) over it when it has no statistics.
        small_set = False
        if query.collection_id is not None:
            in_collection = select(CP.product_id).where(CP.collection_id == query.collection_id)
            if self._members(session, query.collection_id) <= SMALL_SET:
                where.append(P.id.in_(in_collection))
                small_set = True
            else:  # walk the sort index and probe the membership primary key instead
                where.append(exists(in_collection.where(CP.product_id == P.id)))
        if query.collection_name is not None:
            named = select(COLLECTIONS.c.id).where(COLLECTIONS.c.name == query.collection_name)
            if query.project_id is not None:
                named = named.where(COLLECTIONS.c.project_id == query.project_id)
            where.append(P.id.in_(select(CP.product_id).where(CP.collection_id.in_(named))))
        if query.order_id:
            # An order's products include those it reused from the cache (made by an earlier order).
            ids = order_product_ids(session, query.order_id)
            where.append(P.id.in_(ids) if ids else false())
            small_set = True
        search_drives = False
        if query.search.strip():
            search = search_clause(session, query.search)
            where.append(search)
            if self._sqlite and not small_set:
                matches = self._search_matches(session, search)
                if counting:
                    search_drives = matches <= SEARCH_COUNT_DRIVES
                else:
                    known = self._counts.get(_unsorted(query))
                    search_drives = matches <= SMALL_SET or (known is not None and known * SPARSE_MATCHES <= matches)
        c = _unindexed if search_drives else _indexed
        if query.project_id is not None:
            where.append((P.project_id + 0 if small_set else c(P.project_id)) == query.project_id)
        if query.node_type:
            where.append(c(P.node_type) == query.node_type)
        if query.provider:
            where.append(c(P.provider) == query.provider)
        if query.model:
            where.append(c(P.model) == query.model)
        if query.media_type:
            where.append(c(P.media_type) == query.media_type)
        if query.created_from is not None:
            where.append(c(P.created_at) >= query.created_from)
        if query.created_to is not None:
            where.append(c(P.created_at) < query.created_to)
        if query.min_rating > 0:
            where.append(c(P.rating) >= query.min_rating)
        if query.favourites_only:
            where.append(c(P.favourite).is_(True))
        return where, search_drives

    def _search_matches(self, session: Session, search: Any) -> int:
        """How many products a full-text search matches, all projects and filters aside. Only the plan
        depends on it, so a count a little out of date (cached per search) does no harm."""
        match = search.compile().params.get("match")
        if match is None:
            return SEARCH_COUNT_DRIVES + 1
        if match not in self._match_counts:
            if len(self._match_counts) >= 64:
                self._match_counts.clear()
            total = session.execute(text("SELECT count(*) FROM products_fts WHERE products_fts MATCH :match"),
                                    {"match": match}).scalar()
            self._match_counts[match] = int(total or 0)
        return self._match_counts[match]

    @staticmethod
    def _members(session: Session, collection_id: int) -> int:
        stmt = select(func.count()).select_from(collection_products).where(CP.collection_id == collection_id)
        return int(session.execute(stmt).scalar() or 0)

    def count(self, query: GalleryQuery) -> int:
        with self.db.session() as session:
            if query.collection_id is not None and self._collection_only(session, query):
                return self._members(session, query.collection_id)
            where, _ = self._conditions(session, query, counting=True)
            stmt = select(func.count()).select_from(PRODUCTS).where(*where)
            total = int(session.execute(stmt).scalar() or 0)
        if len(self._counts) >= 64:
            self._counts.clear()
        self._counts[_unsorted(query)] = total
        return total

    @staticmethod
    def _collection_only(session: Session, query: GalleryQuery) -> bool:
        """True when a collection is the only filter: its membership rows alone give the count (a
        collection only ever holds products of its own project, see add_to_collection)."""
        others = replace(query, collection_id=None, project_id=None, sort=SortKey.DATE, descending=True)
        if others != GalleryQuery():
            return False
        if query.project_id is None:
            return True
        owner = session.execute(select(COLLECTIONS.c.project_id)
                                .where(COLLECTIONS.c.id == query.collection_id)).scalar()
        return bool(owner == query.project_id)

    def page(self, query: GalleryQuery, offset: int = 0, limit: int = 200,
             after: Cursor | None = None) -> list[GalleryRow]:
        """Rows in the query's order. Pass `after` (the previous page's last row) for keyset paging,
        which costs the same at row 99,000 as at row 0; `offset` is for random access."""
        with self.db.session() as session:
            stmt = self._select(session, select(*_ROW_COLUMNS), query, offset, limit, after)
            return [GalleryRow(*row) for row in session.execute(stmt)]

    def products(self, session: Session, query: GalleryQuery, offset: int = 0,
                 limit: int | None = None) -> list[Product]:
        """Whole product records in the query's order, read in the caller's session (lineage, the CLI)."""
        return list(session.scalars(self._select(session, select(Product), query, offset, limit)))

    def _select(self, session: Session, stmt: Select[Any], query: GalleryQuery, offset: int, limit: int | None,
                after: Cursor | None = None) -> Select[Any]:
        """`stmt` narrowed to the query's products, in its order, one page of them."""
        where, search_drives = self._conditions(session, query)
        c = _unindexed if search_drives else _indexed
        column, row_id = c(_SORT_COLUMNS[query.sort]), c(P.id)
        stmt = stmt.where(*where)
        if after is not None:
            key, mark = tuple_(column, row_id), tuple_(after.value, after.id)
            stmt = stmt.where(key < mark if query.descending else key > mark)
        if query.descending:
            stmt = stmt.order_by(column.desc(), row_id.desc())
        else:
            stmt = stmt.order_by(column.asc(), row_id.asc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if after is None and offset:
            stmt = stmt.offset(offset)
        return stmt

    def newer_than(self, query: GalleryQuery, newest: GalleryRow | None,
                   limit: int = 500) -> list[GalleryRow]:
        """Rows made after `newest` that match the query, newest first: live updates during a run."""
        fresh = query.with_(sort=SortKey.DATE, descending=False)
        rows = self.page(fresh, limit=limit, after=Cursor.after(newest, SortKey.DATE) if newest else None)
        return rows[::-1]

    def project_of(self, product_id: str) -> int | None:
        with self.db.session() as session:
            return session.execute(select(P.project_id).where(P.id == product_id)).scalar()

    def origin(self, product_id: str) -> tuple[str | None, str | None]:
        """(order id, node id) of the run and node that made a product; (None, None) for imports."""
        with self.db.session() as session:
            found = session.execute(select(P.order_id, P.node_id).where(P.id == product_id)).first()
        return (found[0], found[1]) if found else (None, None)

    def row(self, product_id: str) -> GalleryRow | None:
        with self.db.session() as session:
            found = session.execute(select(*_ROW_COLUMNS).where(P.id == product_id)).first()
            return GalleryRow(*found) if found else None

    # -- facets --------------------------------------------------------------------------------
    def projects(self) -> list[tuple[int, str]]:
        with self.db.session() as session:
            rows = session.execute(select(Project.id, Project.name).order_by(Project.name))
            return [(pid, name) for pid, name in rows]

    def collections(self, project_id: int | None = None) -> list[CollectionInfo]:
        counts = select(CP.collection_id, func.count().label("n")).group_by(CP.collection_id).subquery()
        stmt = (select(Collection.id, Collection.name, Collection.project_id, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.collection_id == Collection.id)
                .order_by(func.lower(Collection.name)))
        if project_id is not None:
            stmt = stmt.where(Collection.project_id == project_id)
        with self.db.session() as session:
            return [CollectionInfo(*row) for row in session.execute(stmt)]

    def providers(self, project_id: int | None = None) -> list[ProviderFacet]:
        stmt = select(P.provider, P.model, func.count()).where(P.provider.is_not(None))
        if project_id is not None:
            stmt = stmt.where(P.project_id == project_id)
        stmt = stmt.group_by(P.provider, P.model).order_by(P.provider, P.model)
        with self.db.session() as session:
            return [ProviderFacet(*row) for row in session.execute(stmt)]

    def node_types(self, project_id: int | None = None) -> list[Facet]:
        stmt = select(P.node_type, func.count()).where(P.node_type.is_not(None))
        if project_id is not None:
            stmt = stmt.where(P.project_id == project_id)
        stmt = stmt.group_by(P.node_type).order_by(P.node_type)
        with self.db.session() as session:
            return [Facet(*row) for row in session.execute(stmt)]

    # -- product actions -----------------------------------------------------------------------
    def rate(self, product_ids: Sequence[str], rating: int) -> None:
        if not 0 <= rating <= 5:
            raise GalleryError(f"a rating is 0 to 5 stars, not {rating}")
        self._update(product_ids, rating=rating)

    def set_favourite(self, product_ids: Sequence[str], favourite: bool) -> None:
        self._update(product_ids, favourite=favourite)

    def _update(self, product_ids: Sequence[str], **values: Any) -> None:
        with self.db.engine.begin() as conn:
            for chunk in _chunks(product_ids):
                conn.execute(update(PRODUCTS).where(P.id.in_(chunk)).values(**values))

    def delete_products(self, product_ids: Sequence[str]) -> int:
        """Delete products with their thumbnails and files, together: a file that identical products
        share (dedupe) goes only with the last of them. Files are parked in temp/ until the rows are
        gone, so a failure part-way restores them and leaves the library as it was."""
        storage = self.library.storage
        parked: list[tuple[Path, Path]] = []
        try:
            with self.db.engine.begin() as conn:
                rows: list[Any] = []
                for chunk in _chunks(product_ids):
                    rows += conn.execute(select(P.id, P.path).where(P.id.in_(chunk))).all()
                    conn.execute(delete(PRODUCTS).where(P.id.in_(chunk)))
                paths = {path for _, path in rows}
                kept: set[str] = set()
                for chunk in _chunks(sorted(paths)):
                    kept.update(conn.execute(select(P.path).where(P.path.in_(chunk))).scalars())
                for rel in sorted(paths - kept):
                    source = storage.absolute(rel)
                    if source.is_file():
                        target = storage.temp_path(".deleted")
                        os.replace(source, target)
                        parked.append((source, target))
        except BaseException:
            for source, target in parked:
                os.replace(target, source)
            raise
        for _, target in parked:
            target.unlink(missing_ok=True)
        for product_id, _ in rows:
            delete_thumbnails(self.library.home, product_id)
        return len(rows)

    # -- collections ---------------------------------------------------------------------------
    def create_collection(self, project_id: int, name: str) -> int:
        name = _collection_name(name)
        try:
            with self.db.engine.begin() as conn:
                result = conn.execute(insert(COLLECTIONS).values(
                    project_id=project_id, name=name, created_at=utcnow()))
                key = result.inserted_primary_key
                assert key is not None
                return int(key[0])
        except IntegrityError:
            raise GalleryError(f"a collection named {name!r} already exists") from None

    def rename_collection(self, collection_id: int, name: str) -> None:
        name = _collection_name(name)
        try:
            with self.db.engine.begin() as conn:
                conn.execute(update(COLLECTIONS).where(COLLECTIONS.c.id == collection_id).values(name=name))
        except IntegrityError:
            raise GalleryError(f"a collection named {name!r} already exists") from None

    def delete_collection(self, collection_id: int) -> None:
        """The collection goes; its products stay in the library."""
        with self.db.engine.begin() as conn:
            conn.execute(delete(collection_products).where(CP.collection_id == collection_id))
            conn.execute(delete(COLLECTIONS).where(Collection.id == collection_id))

    def add_to_collection(self, collection_id: int, product_ids: Sequence[str]) -> int:
        """Adds the products of the collection's project not yet in it; returns how many were added."""
        wanted = list(dict.fromkeys(product_ids))
        added = 0
        with self.db.engine.begin() as conn:
            owner = conn.execute(select(COLLECTIONS.c.project_id)
                                 .where(COLLECTIONS.c.id == collection_id)).scalar()
            if owner is None:
                raise GalleryError("that collection no longer exists")
            for chunk in _chunks(wanted):
                # A collection belongs to a project and holds only that project's products.
                present = set(conn.execute(select(P.id).where(P.id.in_(chunk), P.project_id == owner))
                              .scalars())
                existing = set(conn.execute(select(CP.product_id).where(
                    CP.collection_id == collection_id, CP.product_id.in_(chunk))).scalars())
                rows = [{"collection_id": collection_id, "product_id": pid, "added_at": utcnow()}
                        for pid in chunk if pid in present and pid not in existing]
                if rows:  # another machine may add some of them meanwhile: those are skipped, not an error
                    result = conn.execute(insert_new(conn, collection_products), rows)
                    added += result.rowcount if result.rowcount >= 0 else len(rows)
        return added

    def remove_from_collection(self, collection_id: int, product_ids: Sequence[str]) -> None:
        with self.db.engine.begin() as conn:
            for chunk in _chunks(product_ids):
                conn.execute(delete(collection_products).where(
                    CP.collection_id == collection_id, CP.product_id.in_(chunk)))

    # -- orders --------------------------------------------------------------------------------
    def order_history(self, project_id: int | None = None, limit: int = 300) -> list[OrderRow]:
        """Newest orders first with node counts per status and how many products each made."""
        stmt = select(Order.id, Order.name, Order.status, Order.project_id, Order.parent_order_id,
                      Order.created_at, Order.started_at, Order.finished_at)
        if project_id is not None:
            stmt = stmt.where(Order.project_id == project_id)
        stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
        with self.db.session() as session:
            orders = session.execute(stmt).all()
            ids = [row.id for row in orders]
            counts: dict[str, dict[NodeStatus, int]] = {}
            made: dict[str, int] = {}
            for chunk in _chunks(ids):
                statuses = (select(OrderItem.order_id, OrderItem.status, func.count())
                            .where(OrderItem.order_id.in_(chunk))
                            .group_by(OrderItem.order_id, OrderItem.status))
                for oid, status, n in session.execute(statuses):
                    counts.setdefault(oid, {})[node_status(status)] = n
                products = select(P.order_id, func.count()).where(P.order_id.in_(chunk)).group_by(P.order_id)
                made.update((oid, n) for oid, n in session.execute(products))
        return [OrderRow(row.id, row.name, order_status(row.status), row.project_id, row.parent_order_id,
                         row.created_at, row.started_at, row.finished_at, node_counts=counts.get(row.id, {}),
                         products=made.get(row.id, 0))
                for row in orders]

    # -- compare -------------------------------------------------------------------------------
    def diff_products(self, a_id: str, b_id: str) -> ProductDiff:
        with self.db.session() as session:
            try:
                a = product_lineage(self.library, session, a_id)
                b = product_lineage(self.library, session, b_id)
            except NotFound as exc:
                raise GalleryError(str(exc)) from None
        fields = [change for key in _COMPARED_FIELDS
                  for change in _diff_values(key, getattr(a, key), getattr(b, key))]
        params = _diff_dicts(a.params, b.params)
        nodes, added, removed = diff_graphs(a.graph, b.graph)
        return ProductDiff(a, b, fields, params, nodes, added, removed)


_COMPARED_FIELDS = ("prompt", "seed", "provider", "model", "node_id", "node_type", "media_type", "width",
                    "height", "size_bytes", "order_id", "created_at")


def diff_graphs(a: dict[str, Any] | None,
                b: dict[str, Any] | None) -> tuple[list[NodeChange], list[str], list[str]]:
    """Nodes added, removed or changed (type or params) and edges added or removed, matched by node id."""
    a_nodes = {n["id"]: n for n in (a or {}).get("nodes", [])}
    b_nodes = {n["id"]: n for n in (b or {}).get("nodes", [])}
    changes: list[NodeChange] = []
    for node_id in sorted(a_nodes.keys() | b_nodes.keys()):
        old, new = a_nodes.get(node_id), b_nodes.get(node_id)
        if old is None and new is not None:
            changes.append(NodeChange(node_id, ChangeKind.ADDED, new.get("type", ""),
                                      _diff_dicts({}, new.get("params") or {})))
        elif new is None and old is not None:
            changes.append(NodeChange(node_id, ChangeKind.REMOVED, old.get("type", ""),
                                      _diff_dicts(old.get("params") or {}, {})))
        elif old is not None and new is not None:
            params = _diff_dicts(old.get("params") or {}, new.get("params") or {})
            if old.get("type") != new.get("type"):
                params.insert(0, ValueChange("type", ChangeKind.CHANGED, old.get("type"), new.get("type")))
            if params:
                changes.append(NodeChange(node_id, ChangeKind.CHANGED, new.get("type", ""), params))
    a_edges, b_edges = _edges(a), _edges(b)
    return changes, sorted(b_edges - a_edges), sorted(a_edges - b_edges)


def _edges(graph: dict[str, Any] | None) -> set[str]:
    out = set()
    for edge in (graph or {}).get("edges", []):
        (src, src_port), (dst, dst_port) = edge["from"], edge["to"]
        out.add(f"{src}.{src_port} → {dst}.{dst_port}")
    return out


def _diff_values(key: str, before: Any, after: Any) -> list[ValueChange]:
    if before == after:
        return []
    if before is None:
        return [ValueChange(key, ChangeKind.ADDED, None, after)]
    if after is None:
        return [ValueChange(key, ChangeKind.REMOVED, before, None)]
    return [ValueChange(key, ChangeKind.CHANGED, before, after)]


def _diff_dicts(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[ValueChange]:
    """Changes between two param dicts; nested objects (a provider's `input`) give dotted keys."""
    changes: list[ValueChange] = []
    for key in sorted(a.keys() | b.keys(), key=str):
        name = f"{prefix}{key}"
        old, new = a.get(key), b.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _diff_dicts(old, new, f"{name}.")
        elif key not in b:
            changes.append(ValueChange(name, ChangeKind.REMOVED, old, None))
        elif key not in a:
            changes.append(ValueChange(name, ChangeKind.ADDED, None, new))
        elif json.dumps(old, sort_keys=True, default=str) != json.dumps(new, sort_keys=True, default=str):
            changes.append(ValueChange(name, ChangeKind.CHANGED, old, new))
    return changes


def search_clause(session: Session, words_text: str) -> Any:
    """Full-text search over prompts and names, each word a prefix match, case and accents aside: FTS5 on SQLite,
    the tsvector of migration 0007 on PostgreSQL; LIKE elsewhere."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in words_text).split() if w]
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and words:
        match = " ".join(f'"{w}"*' for w in words)
        return text("products.rowid IN (SELECT rowid FROM products_fts WHERE products_fts MATCH :match)").bindparams(
            match=match)
    if dialect == "postgresql" and words:
        # Words hold letters and digits only, so nothing in them is tsquery syntax; the configuration folds the
        # query words the way it folded the products'.
        return text("products.search_vector @@ to_tsquery('artfactory_search', :tsquery)").bindparams(
            tsquery=" & ".join(f"{w}:*" for w in words))
    like = f"%{words_text}%"
    return or_(Product.prompt.ilike(like), Product.name.ilike(like))


def order_product_ids(session: Session, order_id: str) -> list[str]:
    """An order's products: those it made and those it reused from the cache, in the order its items name them."""
    outputs = session.scalars(select(OrderItem.outputs).where(OrderItem.order_id == order_id)).all()
    ids: dict[str, None] = {}
    for out in outputs:
        for pid in product_ids_in(out):
            ids[pid] = None
    made = session.scalars(select(Product.id).where(Product.order_id == order_id)).all()
    for pid in made:
        ids[pid] = None
    return list(ids)


def _unsorted(query: GalleryQuery) -> GalleryQuery:
    return replace(query, sort=SortKey.DATE, descending=True)


def _indexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return column


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`+column`: the same value to SQLite, but no index of the column can serve the term."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _collection_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise GalleryError("a collection needs a name")
    if len(name) > 200:
        raise GalleryError("a collection name is at most 200 characters")
    problem = name_problem(name, "a collection name")
    if problem:
        raise GalleryError(problem)
    return name


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
