"""Issue 11 item 3: the engine imports no service (it runs on what run_services wires in) and one product query."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
import pytest
from PIL import Image

from artfactory.engine.ports import ProductStorageError
from artfactory.services import lineage, secrets
from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.services.runs import run_services
from artfactory.services.storage import StorageError
from artfactory.services.thumbnails import THUMBNAIL_SIZES, thumbnail_path
from tests.unit.test_gallery_queries import make_products

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("artfactory", "nodes")


@pytest.fixture
def library(library_home: Path) -> Iterator[Library]:
    lib = Library.open(library_home)
    yield lib
    lib.close()


@pytest.mark.parametrize("upper", ["artfactory.services", "nodes", "artfactory.providers", "artfactory.workers"])
def test_the_engine_imports_nothing_above_it(graph: grimp.ImportGraph, upper: str) -> None:
    chain = graph.find_shortest_chain(importer="artfactory.engine", imported=upper, as_packages=True)
    assert chain is None, f"the engine reaches {upper}: {' -> '.join(chain or ())}"


def test_the_layers_contract_orders_services_above_the_engine() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    flat = [name.strip(" ()") for layer in layers for name in layer.replace("|", ":").split(":")]
    order = [flat.index(m) for m in ("nodes", "artfactory.providers", "artfactory.services", "artfactory.engine",
                                     "artfactory.models")]
    assert order == sorted(order)


def test_run_services_wires_the_library_in(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = run_services(library)
    assert isinstance(services.orders, OrderStore)
    assert services.storage is library.storage and services.registry is library.registry
    assert services.home == library.home and services.settings is library.settings
    # Key redaction is the real one: a key in the environment never reaches an order's error text.
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_" + "k" * 37)
    assert services.redact is secrets.redact
    assert "r8_" + "k" * 37 not in services.redact(f"echoed r8_{'k' * 37}")
    # Thumbnails are made under the library's home.
    source = tmp_path / "p.png"
    Image.new("RGB", (300, 200), "red").save(source)
    assert services.thumbnails is not None
    services.thumbnails("p1", source)
    assert all(thumbnail_path(library.home, size, "p1").is_file() for size in THUMBNAIL_SIZES)


def test_order_store_answers_the_engine_reads(library: Library) -> None:
    store = run_services(library).orders
    rows = make_products(library, 3)
    project_id = rows[0]["project_id"]
    assert store.find_product_path(project_id, rows[1]["sha256"]) == rows[1]["path"]
    assert store.find_product_path(project_id, "f" * 64) is None
    full = OSError(28, "No space left on device")
    assert store.is_write_failure(full)
    assert store.describe_failure(full) == f"the library's disk is full: {library.home}"


def test_storage_errors_are_the_engines_product_storage_errors() -> None:
    # execute_node reports a ProductStorageError as a storage failure of the node, not an internal error.
    assert issubclass(StorageError, ProductStorageError)


def _ids(rows: list[Any]) -> list[str]:
    return [r.id for r in rows]


def test_cli_products_list_is_the_gallery_query(library: Library) -> None:
    rows = make_products(library, 120)
    other = make_products(library, 30, seed=5, project="Other")
    gallery = Gallery(library)
    default_id, other_id = rows[0]["project_id"], other[0]["project_id"]
    # A collection name used in two projects: without --project both count, as before.
    picks = {default_id: [r["id"] for r in rows[::7]], other_id: [r["id"] for r in other[::3]]}
    for project_id, ids in picks.items():
        gallery.add_to_collection(gallery.create_collection(project_id, "Keep"), ids)
    order_id = rows[4]["order_id"]
    with library.db.session() as session:
        everything = lineage.list_products(library, session)
        assert _ids(everything) == _ids(gallery.page(GalleryQuery(), limit=1000))
        assert len(everything) == 150
        named = lineage.list_products(library, session, collection="Keep")
        assert set(_ids(named)) == set(picks[default_id]) | set(picks[other_id])
        assert _ids(named) == _ids(gallery.page(GalleryQuery(collection_name="Keep"), limit=1000))
        mine = lineage.list_products(library, session, project_id=default_id, collection="Keep", limit=5, offset=2)
        by_id = GalleryQuery(project_id=default_id, collection_id=gallery.collections(default_id)[0].id)
        assert _ids(mine) == _ids(gallery.page(by_id, offset=2, limit=5))
        assert _ids(lineage.list_products(library, session, order_id=order_id)) == _ids(
            gallery.page(GalleryQuery(order_id=order_id), limit=1000))
        fox = lineage.list_products(library, session, search="fox", project_id=default_id)
        assert fox and _ids(fox) == _ids(gallery.page(GalleryQuery(project_id=default_id, search="fox"), limit=1000))
        # Any gallery filter works for the CLI too, with whole records (full prompt, provider, sha256).
        rated = GalleryQuery(min_rating=3, media_type="image", provider="fal")
        found = lineage.query_products(library, session, rated)
        assert found and _ids(found) == _ids(gallery.page(rated, limit=1000))
        assert all(p.rating >= 3 and p.provider == "fal" and p.sha256 for p in found)
        assert lineage.product_summary(library, found[0])["sha256"] == found[0].sha256
