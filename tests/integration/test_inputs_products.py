"""input.product and lineage across orders through the CLI: made_from, used_in, order_inputs, ancestry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from artfactory.models.entities import OrderInput, ProductSource
from artfactory.services.library import Library
from tests.support.cli import GRAPHS, run_cli

pytestmark = pytest.mark.usefixtures("db_backend")  # lineage queries on SQLite and PostgreSQL alike


def _graph(tmp_path: Path, take: dict, name: str = "take.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "take",
        "nodes": [{"id": "take", "type": "input.product", "params": take},
                  {"id": "gray", "type": "transform.grayscale", "params": {}},
                  {"id": "prompt", "type": "prompt.text", "params": {"text": "the same fox, at night"}},
                  {"id": "redo", "type": "provider.local", "params": {"seed": 5, "width": 64, "height": 64}}],
        "edges": [{"from": ["take", "media"], "to": ["gray", "image"]},
                  {"from": ["gray", "image"], "to": ["redo", "image"]},
                  {"from": ["prompt", "text"], "to": ["redo", "prompt"]}]}))
    return path


@pytest.fixture
def fox(library_home: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    result = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    assert result.code == 0, result.err
    return result.json


def test_products_from_another_order_flow_in_and_lineage_crosses_orders(
        tmp_path: Path, library_home: Path, fox: dict, capsys: pytest.CaptureFixture[str]) -> None:
    small = fox["nodes"]["small"]["products"][0]
    result = run_cli(capsys, "run", _graph(tmp_path, {"products": small}), "--json")
    assert result.code == 0, result.err
    run = result.json
    assert run["nodes"]["take"]["products"] == [small]  # the product itself, not a copy
    gray = run["nodes"]["gray"]["products"][0]
    redo = run["nodes"]["redo"]["products"][0]

    shown = run_cli(capsys, "products", "show", gray, "--json").json
    assert [(link["kind"], link["id"], link["order_id"]) for link in shown["made_from"]] == [
        ("product", small, fox["order_id"])]
    used = run_cli(capsys, "products", "show", small, "--json").json["used_in"]
    assert ("product", gray) in [(link["kind"], link["id"]) for link in used]
    assert ("order", run["order_id"], "take") in [(link["kind"], link["order_id"], link["node_id"]) for link in used]

    order = run_cli(capsys, "orders", "show", run["order_id"], "--json").json
    assert order["inputs"] == [{"node_id": "take", "product_id": small}]
    ancestry = run_cli(capsys, "products", "ancestry", redo, "--json").json
    walk = [(step["depth"], step["id"]) for step in ancestry["steps"]]
    gen = fox["nodes"]["gen"]["products"][0]
    assert walk[:4] == [(0, redo), (1, gray), (2, small), (3, gen)]
    assert ancestry["orders"] == [run["order_id"], fox["order_id"]]
    first_prompt = "a red fox under a golden sunset, poster"  # the fox graph's prompt, an order back
    assert ancestry["first_prompt"] == first_prompt
    human = run_cli(capsys, "products", "ancestry", redo)
    assert human.code == 0 and f"first prompt: {first_prompt}" in human.out


def test_a_whole_collection_by_name_and_its_cache_key(tmp_path: Path, library_home: Path, fox: dict,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    graph = _graph(tmp_path, {"collection": "Foxes"})
    first = run_cli(capsys, "run", graph, "--json").json
    kept = fox["nodes"]["keep"]["products"]
    assert first["nodes"]["take"]["products"] == kept
    again = run_cli(capsys, "run", graph, "--json").json
    assert {n["status"] for n in again["nodes"].values()} == {"cached"}  # unchanged inputs never re-execute
    # The collection gains a product: the key changes and the node runs again with it.
    extra = fox["nodes"]["gen"]["products"][0]
    tweak = tmp_path / "add.json"
    tweak.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "add",
        "nodes": [{"id": "take", "type": "input.product", "params": {"products": extra}},
                  {"id": "keep", "type": "collection.add", "params": {"collection": "Foxes"}}],
        "edges": [{"from": ["take", "media"], "to": ["keep", "media"]}]}))
    assert run_cli(capsys, "run", tweak, "--json").code == 0
    grown = run_cli(capsys, "run", graph, "--json").json
    assert grown["nodes"]["take"]["status"] == "executed"
    assert grown["nodes"]["take"]["products"] == [*kept, extra]

    library = Library.open(library_home)
    try:
        with library.db.session() as db:
            rows = db.execute(select(OrderInput.node_id, OrderInput.product_id, OrderInput.position)
                              .where(OrderInput.order_id == again["order_id"])).all()
            sources = db.scalars(select(ProductSource.source_id).where(
                ProductSource.product_id == first["nodes"]["gray"]["products"][0])).all()
    finally:
        library.close()
    # A cached input.product still records what the order took in.
    assert sorted(rows, key=lambda r: r[2]) == [("take", pid, i) for i, pid in enumerate(kept)]
    assert sources == [kept[0]]


def test_unknown_products_and_collections_fail_the_node_by_name(tmp_path: Path, library_home: Path, fox: dict,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", _graph(tmp_path, {"products": "nosuchproduct"}), "--json")
    assert result.code == 1
    assert result.json["nodes"]["take"]["error"] == "input.product: no product 'nosuchproduct' in the library"
    result = run_cli(capsys, "run", _graph(tmp_path, {"collection": "Wolves"}), "--json")
    assert result.json["nodes"]["take"]["error"] == "input.product: no collection 'Wolves'"
    bad = run_cli(capsys, "validate", _graph(tmp_path, {}), "--json").json
    assert not bad["valid"] and bad["errors"][0]["node_id"] == "take"


def test_ancestry_of_an_unknown_product_is_one_line(library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "products", "ancestry", "nope")
    assert result.code != 0 and result.err.strip().endswith("no product 'nope'")
    assert "Traceback" not in result.err
