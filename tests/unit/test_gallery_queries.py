"""Gallery queries without Qt: every filter and combinations against a brute-force answer, paging, facets, actions."""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import insert, inspect, select, text

from artfactory.models import Collection, Order, Product, collection_products, new_id
from artfactory.models.entities import Product as ProductEntity
from artfactory.services import gallery as gallery_module
from artfactory.services import lineage
from artfactory.services.gallery import (
    _ROW_COLUMNS,
    _SORT_COLUMNS,
    ChangeKind,
    Cursor,
    Gallery,
    GalleryError,
    GalleryQuery,
    P,
    SortKey,
    diff_graphs,
)
from artfactory.services.library import Library
from artfactory.services.thumbnails import ensure_thumbnails, thumbnail_path

WORDS = ["fox", "whale", "forest", "neon", "city", "sunset", "owl", "castle", "dragon", "ocean", "desert", "robot"]
NODE_TYPES = [("provider.local", "local", "procedural/illustration"), ("transform.resize", None, None),
              ("provider.fal", "fal", "fal-ai/flux/dev"), ("provider.replicate", "replicate", "owner/model"),
              ("import", "import", None)]
START = datetime(2025, 1, 1)
pytestmark = pytest.mark.usefixtures("db_backend")


_SYNTHETIC = itertools.count()


def _synthetic_id() -> str:
    return f"{new_id()[:12]}{next(_SYNTHETIC):08x}"


def make_products(library: Library, count: int, *, seed: int = 3, project: str = "Default",
                  orders: int = 10) -> list[dict[str, Any]]:
    """`count` synthetic product rows in one executemany (with `orders` orders to hang them on), as dicts."""
    rng = random.Random(seed)
    project_id = library.project_id(project)
    # Ids as the app makes them (20 characters, PostgreSQL enforces the column's length): the clock part of
    # new_id() and a counter, so they stay unique and in creation order across calls.
    order_rows = [{"id": _synthetic_id(), "project_id": project_id, "name": f"run {i}",
                   "snapshot": json.dumps({"format": "artfactory.graph", "version": 1, "nodes": [], "edges": []}),
                   "snapshot_sha256": "0" * 64, "status": "succeeded", "reroll": False,
                   "created_at": START + timedelta(hours=i)} for i in range(orders)]
    rows = []
    for i in range(count):
        node_type, provider, model = NODE_TYPES[i % len(NODE_TYPES)]
        created = START + timedelta(minutes=7 * i + rng.randrange(5))
        rows.append({
            "id": _synthetic_id(), "project_id": project_id, "order_id": order_rows[i % orders]["id"],
            "node_id": "gen", "node_type": node_type, "batch_index": 0, "name": f"{rng.choice(WORDS)}-{i:05d}",
            "path": f"products/{project_id}/missing/{i}.png", "sha256": f"{i:064x}",
            "media_type": "video" if i % 17 == 0 else "image", "mime": "image/png", "width": 64, "height": 64,
            "size_bytes": rng.randrange(1000, 5_000_000), "prompt": " ".join(rng.sample(WORDS, 3)),
            "provider": provider, "model": model, "seed": i, "params": {}, "metadata": {},
            "rating": rng.choice([0, 0, 0, 1, 2, 3, 4, 5]), "favourite": rng.random() < 0.1, "created_at": created,
        })
    with library.db.engine.begin() as conn:
        conn.execute(insert(Order), order_rows)
        conn.execute(insert(Product.__table__), rows)
    return rows


@pytest.fixture
def library(library_home: Path) -> Library:
    lib = Library.open(library_home)
    yield lib
    lib.close()


@pytest.fixture
def rows(library: Library) -> list[dict[str, Any]]:
    return make_products(library, 1500)


def ids_of(page: list[Any]) -> list[str]:
    return [r.id for r in page]


def all_pages(gallery: Gallery, query: GalleryQuery, limit: int = 97) -> list[Any]:
    out: list[Any] = []
    while True:
        page = gallery.page(query, limit=limit, after=Cursor.after(out[-1], query.sort) if out else None)
        out += page
        if len(page) < limit:
            return out


def expected(rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], sort: SortKey = SortKey.DATE,
             descending: bool = True) -> list[str]:
    key = {SortKey.DATE: "created_at", SortKey.NAME: "name", SortKey.SIZE: "size_bytes"}[sort]
    chosen = sorted((r for r in rows if keep(r)), key=lambda r: (r[key], r["id"]), reverse=descending)
    return [r["id"] for r in chosen]


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_cover_every_row_once_in_order(library: Library, rows: list[dict[str, Any]],
                                                    sort: SortKey, descending: bool) -> None:
    gallery = Gallery(library)
    query = GalleryQuery(sort=sort, descending=descending)
    got = all_pages(gallery, query)
    assert ids_of(got) == expected(rows, lambda r: True, sort, descending)
    assert gallery.count(query) == len(rows)
    # Offset paging (random access) agrees with keyset paging.
    assert ids_of(gallery.page(query, offset=500, limit=50)) == ids_of(got[500:550])


def _in_collection(library: Library, name: str, ids: list[str]) -> int:
    gallery = Gallery(library)
    collection_id = gallery.create_collection(library.project_id(), name)
    assert gallery.add_to_collection(collection_id, ids) == len(set(ids))
    return collection_id


@pytest.mark.parametrize("small_set", [5000, 100], ids=["sorted-in-memory", "probed-along-an-index"])
def test_each_filter_and_combinations_match_a_brute_force_answer(library: Library, rows: list[dict[str, Any]],
                                                                 small_set: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Both query shapes for collections, and for searches both plans: driven by the matches or by an index.
    monkeypatch.setattr(gallery_module, "SMALL_SET", small_set)
    monkeypatch.setattr(gallery_module, "SEARCH_COUNT_DRIVES", small_set)
    gallery = Gallery(library)
    other = make_products(library, 200, seed=9, project="Client")
    everything = rows + other
    big = _in_collection(library, "Big", [r["id"] for r in rows[::2]])
    small = _in_collection(library, "Small", [r["id"] for r in rows[::50]])
    members = {big: {r["id"] for r in rows[::2]}, small: {r["id"] for r in rows[::50]}}
    order_id = rows[3]["order_id"]
    default, client = library.project_id(), library.project_id("Client")
    since, until = START + timedelta(days=2), START + timedelta(days=4)

    def has(r: dict[str, Any], word: str) -> bool:
        """FTS semantics: the word is a prefix of some token of the prompt or the name."""
        return any(token.startswith(word) for token in (r["prompt"] + " " + r["name"]).replace("-", " ").split())

    cases: list[tuple[GalleryQuery, Callable[[dict[str, Any]], bool]]] = [
        (GalleryQuery(project_id=default), lambda r: r["project_id"] == default),
        (GalleryQuery(collection_id=big), lambda r: r["id"] in members[big]),
        (GalleryQuery(collection_id=small), lambda r: r["id"] in members[small]),
        (GalleryQuery(order_id=order_id), lambda r: r["order_id"] == order_id),
        (GalleryQuery(node_type="transform.resize"), lambda r: r["node_type"] == "transform.resize"),
        (GalleryQuery(provider="fal"), lambda r: r["provider"] == "fal"),
        (GalleryQuery(provider="local", model="procedural/illustration"),
         lambda r: r["model"] == "procedural/illustration"),
        (GalleryQuery(media_type="video"), lambda r: r["media_type"] == "video"),
        (GalleryQuery(created_from=since, created_to=until), lambda r: since <= r["created_at"] < until),
        (GalleryQuery(min_rating=4), lambda r: r["rating"] >= 4),
        (GalleryQuery(favourites_only=True), lambda r: r["favourite"]),
        (GalleryQuery(search="owl"), lambda r: has(r, "owl")),
        (GalleryQuery(search="fox cit"), lambda r: has(r, "fox") and has(r, "cit")),
        # combinations
        (GalleryQuery(project_id=default, media_type="image", min_rating=3),
         lambda r: r["project_id"] == default and r["media_type"] == "image" and r["rating"] >= 3),
        (GalleryQuery(collection_id=big, search="neon", favourites_only=True),
         lambda r: r["id"] in members[big] and r["favourite"] and has(r, "neon")),
        (GalleryQuery(collection_id=small, node_type="provider.local", project_id=default),
         lambda r: r["id"] in members[small] and r["node_type"] == "provider.local"),
        (GalleryQuery(collection_id=big, project_id=client), lambda r: False),
        (GalleryQuery(order_id=order_id, min_rating=1, media_type="image"),
         lambda r: r["order_id"] == order_id and r["rating"] >= 1 and r["media_type"] == "image"),
        (GalleryQuery(provider="local", created_from=since, search="forest", sort=SortKey.NAME, descending=False),
         lambda r: r["provider"] == "local" and r["created_at"] >= since and has(r, "forest")),
        (GalleryQuery(project_id=client, sort=SortKey.SIZE), lambda r: r["project_id"] == client),
        (GalleryQuery(project_id=client, collection_id=small, min_rating=2, sort=SortKey.NAME), lambda r: False),
    ]
    for query, keep in cases:
        want = expected(everything, keep, query.sort, query.descending)
        assert gallery.count(query) == len(want), query
        assert ids_of(all_pages(gallery, query)) == want, query
    assert sum(1 for query, keep in cases if expected(everything, keep)) >= len(cases) - 2, "cases must select rows"


def test_an_empty_order_and_a_deleted_collection_match_nothing(library: Library, rows: list[dict[str, Any]]) -> None:
    gallery = Gallery(library)
    assert gallery.count(GalleryQuery(order_id="nope")) == 0
    assert gallery.page(GalleryQuery(order_id="nope")) == []
    assert gallery.count(GalleryQuery(collection_id=999)) == 0


def _plan(library: Library, stmt: Any) -> str:
    with library.db.session() as session:
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        return " | ".join(row[3] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_queries_walk_an_index_never_the_whole_table(library: Library, rows: list[dict[str, Any]],
                                                     db_backend: str) -> None:
    """EXPLAIN QUERY PLAN: each sort order reads an index in order; no temp b-tree sorts the whole set."""
    if db_backend != "sqlite":
        pytest.skip("SQLite's query planner: the plans asserted here are SQLite's")
    gallery = Gallery(library)
    for sort in SortKey:
        for project_id in (None, library.project_id()):
            query = GalleryQuery(project_id=project_id, sort=sort)
            with library.db.session() as session:
                where, search_drives = gallery._conditions(session, query)
            column = _SORT_COLUMNS[sort]
            plan = _plan(library, select(*_ROW_COLUMNS).where(*where).order_by(column.desc(), P.id.desc()).limit(200))
            assert not search_drives
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_a_search_with_few_matches_starts_from_them_and_a_broad_one_walks_the_sort_order(
        library: Library, rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, db_backend: str) -> None:
    """Few matches: look each up by rowid (cost ∝ matches). Many: walk the sort index and probe the matches,
    which finds a page of them quickly. The answer is the same either way (see the brute-force test)."""
    if db_backend != "sqlite":
        pytest.skip("SQLite's query planner: PostgreSQL plans a search itself from its statistics")
    monkeypatch.setattr(gallery_module, "SMALL_SET", 100)
    monkeypatch.setattr(gallery_module, "SEARCH_COUNT_DRIVES", 100)
    gallery = Gallery(library)
    rare = next(r for r in rows if r["name"].startswith("owl"))
    broad = GalleryQuery(project_id=library.project_id(), search="o", media_type="image")  # "owl", "ocean"
    narrow = broad.with_(search=rare["name"].replace("-", " "))  # "owl 00042": one product
    for query, drives in ((narrow, True), (broad, False)):
        for counting in (False, True):
            with library.db.session() as session:
                where, search_drives = gallery._conditions(session, query, counting=counting)
            assert search_drives is drives, query
            plan = _plan(library, select(P.id).where(*where).limit(10))
            assert ("INTEGER PRIMARY KEY (rowid=?)" in plan) is drives, plan
            assert ("ix_products_project" in plan or "ix_products_rating" in plan) is not drives, plan
    assert ids_of(gallery.page(narrow)) == [rare["id"]] and gallery.count(narrow) == 1

    # Other filters that keep few of many matches: once the query is counted, its pages start from the matches.
    sparse = broad.with_(min_rating=4, favourites_only=True)
    walked = all_pages(gallery, sparse)
    with library.db.session() as session:
        assert not gallery._conditions(session, sparse)[1]
        matches = gallery._search_matches(session, lineage.search_clause(session, sparse.search))
    total = gallery.count(sparse)
    assert total * gallery_module.SPARSE_MATCHES <= matches, "the case must be sparse"
    with library.db.session() as session:
        assert gallery._conditions(session, sparse.with_(sort=SortKey.NAME))[1], "the count is known for any sort"
    assert ids_of(all_pages(gallery, sparse)) == ids_of(walked) and len(walked) == total > 0


def test_new_indexes_are_in_the_schema_and_the_models(library: Library) -> None:
    names = {ix["name"] for ix in inspect(library.db.engine).get_indexes("products")}
    modelled = {ix.name for ix in ProductEntity.__table__.indexes}
    for name in ("ix_products_created", "ix_products_name", "ix_products_size", "ix_products_project_media",
                 "ix_products_project_node_type", "ix_products_project_provider"):
        assert name in names and name in modelled


def test_newer_than_returns_only_products_made_after_the_newest_row(library: Library,
                                                                    rows: list[dict[str, Any]]) -> None:
    gallery = Gallery(library)
    query = GalleryQuery()
    newest = gallery.page(query, limit=1)[0]
    assert gallery.newer_than(query, newest) == []
    later = make_products(library, 5, seed=11)
    with library.db.engine.begin() as conn:  # make them the newest
        for i, row in enumerate(later):
            conn.execute(Product.__table__.update().where(Product.id == row["id"])
                         .values(created_at=datetime(2030, 1, 1) + timedelta(minutes=i)))
    fresh = gallery.newer_than(query, newest)
    assert ids_of(fresh) == [r["id"] for r in reversed(later)]


def test_facets_count_per_collection_provider_and_node_type(library: Library, rows: list[dict[str, Any]]) -> None:
    gallery = Gallery(library)
    collection_id = _in_collection(library, "Picks", [r["id"] for r in rows[:7]])
    assert [(c.id, c.name, c.total) for c in gallery.collections()] == [(collection_id, "Picks", 7)]
    by_type = {f.value: f.total for f in gallery.node_types()}
    assert by_type == {t: sum(r["node_type"] == t for r in rows) for t, _, _ in NODE_TYPES}
    providers = {(f.provider, f.model): f.total for f in gallery.providers()}
    assert providers[("fal", "fal-ai/flux/dev")] == sum(r["provider"] == "fal" for r in rows)
    assert (None, None) not in providers
    assert [name for _, name in gallery.projects()] == ["Default"]


def test_rating_favourite_and_collection_edits(library: Library, rows: list[dict[str, Any]]) -> None:
    gallery = Gallery(library)
    ids = [r["id"] for r in rows[:3]]
    gallery.rate(ids, 5)
    gallery.set_favourite(ids[:1], True)
    assert {r.id: (r.rating, r.favourite) for r in map(gallery.row, ids) if r} == {
        ids[0]: (5, True), ids[1]: (5, rows[1]["favourite"]), ids[2]: (5, rows[2]["favourite"])}
    with pytest.raises(GalleryError):
        gallery.rate(ids, 6)
    first = gallery.create_collection(library.project_id(), "  Best   of ")
    assert gallery.collections()[0].name == "Best of"
    with pytest.raises(GalleryError, match="already exists"):
        gallery.create_collection(library.project_id(), "Best of")
    with pytest.raises(GalleryError, match="needs a name"):
        gallery.create_collection(library.project_id(), "  ")
    second = gallery.create_collection(library.project_id(), "Second")
    with pytest.raises(GalleryError, match="already exists"):
        gallery.rename_collection(second, "Best of")
    gallery.rename_collection(second, "Runner-up")
    assert gallery.add_to_collection(first, ids + ids) == 3
    assert gallery.add_to_collection(first, ids) == 0  # already there
    other = make_products(library, 2, seed=5, project="Client")
    assert gallery.add_to_collection(first, [r["id"] for r in other]) == 0  # another project's products
    gallery.remove_from_collection(first, ids[:1])
    assert gallery.count(GalleryQuery(collection_id=first)) == 2
    gallery.delete_collection(first)
    assert [c.name for c in gallery.collections()] == ["Runner-up"]
    assert gallery.row(ids[1]) is not None  # products outlive their collection
    with pytest.raises(GalleryError):
        gallery.add_to_collection(first, ids)


def _store(library: Library, color: tuple[int, int, int], find_existing: Any = None) -> tuple[str, str]:
    """A real image product; returns (product id, relative path)."""
    project_id = library.project_id()
    product_id = new_id()
    source = library.home / f"src-{product_id}.png"
    Image.new("RGB", (32, 24), color).save(source)
    stored = library.storage.store(source, project_id=project_id, product_id=product_id, find_existing=find_existing)
    with library.db.engine.begin() as conn:
        conn.execute(insert(Product.__table__), [{
            "id": product_id, "project_id": project_id, "path": stored.relative_path, "sha256": stored.sha256,
            "media_type": "image", "mime": "image/png", "width": 32, "height": 24, "size_bytes": stored.size_bytes,
            "prompt": "", "name": product_id, "params": {}, "metadata": {}, "rating": 0, "favourite": False,
            "batch_index": 0, "created_at": datetime.now()}])
    ensure_thumbnails(library.home, product_id, library.storage.absolute(stored.relative_path))
    return product_id, stored.relative_path


def test_delete_removes_rows_files_and_thumbnails_but_keeps_a_shared_file(library: Library) -> None:
    gallery = Gallery(library)
    lone, lone_path = _store(library, (200, 10, 10))
    first, shared_path = _store(library, (10, 200, 10))
    twin, twin_path = _store(library, (10, 200, 10), find_existing=lambda sha: shared_path)
    assert twin_path == shared_path  # deduplicated: two products, one file
    collection_id = _in_collection(library, "Keep", [lone, first])

    assert gallery.delete_products([lone, first]) == 2
    assert gallery.row(lone) is None and gallery.row(first) is None
    assert not library.storage.absolute(lone_path).exists()
    assert library.storage.absolute(shared_path).exists(), "the twin still needs the file"
    for size in ("small", "medium", "large"):
        assert not thumbnail_path(library.home, size, lone).exists()
        assert thumbnail_path(library.home, size, twin).exists()
    assert gallery.count(GalleryQuery(collection_id=collection_id)) == 0
    with library.db.session() as session:
        assert session.scalars(select(collection_products.c.product_id)).all() == []

    gallery.delete_products([twin])
    assert not library.storage.absolute(shared_path).exists()
    assert list(library.storage.temp_dir.iterdir()) == []  # nothing parked is left behind


def test_delete_is_all_or_nothing_when_a_file_cannot_be_moved(library: Library,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    gallery = Gallery(library)
    stored = [_store(library, (i * 40, 2, 3)) for i in range(3)]
    real_replace = os.replace
    calls: list[Any] = []

    def flaky(source: Any, target: Any) -> None:
        calls.append(source)
        if len(calls) == 2:  # the second file cannot be parked: as on a full or read-only disk
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(gallery_module.os, "replace", flaky)
    with pytest.raises(OSError, match="No space"):
        gallery.delete_products([product_id for product_id, _ in stored])
    monkeypatch.setattr(gallery_module.os, "replace", real_replace)
    for product_id, rel in stored:
        assert gallery.row(product_id) is not None
        assert library.storage.absolute(rel).is_file()
        assert thumbnail_path(library.home, "small", product_id).is_file()
    assert gallery.delete_products([product_id for product_id, _ in stored]) == 3


def _order_with(library: Library, graph: dict[str, Any], params: dict[str, Any], prompt: str) -> str:
    order_id = new_id()
    project_id = library.project_id()
    with library.db.engine.begin() as conn:
        conn.execute(insert(Order), [{"id": order_id, "project_id": project_id, "name": "g",
                                      "snapshot": json.dumps(graph), "snapshot_sha256": "0" * 64,
                                      "status": "succeeded", "reroll": False, "created_at": datetime.now()}])
        product_id = new_id()
        conn.execute(insert(Product.__table__), [{
            "id": product_id, "project_id": project_id, "order_id": order_id, "node_id": "gen",
            "node_type": "provider.local", "path": f"products/x/{product_id}.png", "sha256": "1" * 64,
            "media_type": "image", "mime": "image/png", "width": 8, "height": 8, "size_bytes": 1, "prompt": prompt,
            "name": "gen-1", "params": params, "metadata": {}, "rating": 0, "favourite": False, "batch_index": 0,
            "seed": params.get("seed"), "created_at": datetime.now()}])
    return product_id


def test_diff_products_lists_field_param_and_graph_changes(library: Library) -> None:
    base = {"format": "artfactory.graph", "version": 1, "name": "g",
            "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a fox"}},
                      {"id": "gen", "type": "provider.local", "params": {"seed": 7, "width": 512}},
                      {"id": "old", "type": "transform.blur", "params": {"radius": 2}}],
            "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                      {"from": ["gen", "image"], "to": ["old", "image"]}]}
    tweaked = json.loads(json.dumps(base))
    tweaked["nodes"][1]["params"] = {"seed": 7, "width": 768, "style": "poster"}
    tweaked["nodes"][2] = {"id": "new", "type": "transform.grayscale", "params": {}}
    tweaked["edges"][1] = {"from": ["gen", "image"], "to": ["new", "image"]}
    a = _order_with(library, base, {"seed": 7, "width": 512, "input": {"steps": 4}}, "a fox")
    b = _order_with(library, tweaked, {"seed": 7, "width": 768, "style": "poster", "input": {"steps": 8}}, "a fox")
    diff = Gallery(library).diff_products(a, b)
    assert {(c.key, c.kind) for c in diff.params} == {("width", ChangeKind.CHANGED), ("style", ChangeKind.ADDED),
                                                      ("input.steps", ChangeKind.CHANGED)}
    assert "prompt" not in {c.key for c in diff.fields} and "order_id" in {c.key for c in diff.fields}
    nodes = {n.node_id: n for n in diff.nodes}
    assert nodes["old"].kind == ChangeKind.REMOVED and nodes["new"].kind == ChangeKind.ADDED
    assert [(c.key, c.before, c.after) for c in nodes["gen"].params] == [("style", None, "poster"),
                                                                          ("width", 512, 768)]
    assert diff.edges_added == ["gen.image → new.image"] and diff.edges_removed == ["gen.image → old.image"]
    assert not diff.same_graph
    same = Gallery(library).diff_products(a, a)
    assert same.same_graph and not same.params and not same.fields
    with pytest.raises(GalleryError):
        Gallery(library).diff_products(a, "missing")


def test_diff_graphs_sees_a_changed_node_type() -> None:
    a = {"nodes": [{"id": "t", "type": "transform.blur", "params": {"radius": 2}}], "edges": []}
    b = {"nodes": [{"id": "t", "type": "transform.sharpen", "params": {"radius": 2}}], "edges": []}
    nodes, added, removed = diff_graphs(a, b)
    assert [(n.node_id, n.kind, [c.key for c in n.params]) for n in nodes] == [("t", ChangeKind.CHANGED, ["type"])]
    assert added == removed == []


def test_order_history_counts_nodes_by_status_and_products(library: Library, rows: list[dict[str, Any]]) -> None:
    history = Gallery(library).order_history()
    assert len(history) == 10
    assert [o.created_at for o in history] == sorted((o.created_at for o in history), reverse=True)
    assert sum(o.products for o in history) == len(rows)
    assert all(o.nodes == 0 and o.node_counts == {} for o in history)  # synthetic orders have no items
    with library.db.session() as session:
        assert session.scalars(select(Collection)).all() == []
