"""Bypass, mute, reroutes and subgraphs through saved files and the CLI (DESIGN §10): statuses in the run JSON and
the order's items, and a cache that stays exact (nothing re-executes that did not change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artfactory.engine import document
from artfactory.engine.graph_power import group_into_subgraph
from artfactory.engine.registry import default_registry
from tests.support.cli import run_cli

NODES = [
    {"id": "prompt", "type": "prompt.text", "params": {"text": "a red fox"}},
    {"id": "gen", "type": "provider.local", "params": {"seed": 7, "width": 64, "height": 64}},
    {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}},
    {"id": "gray", "type": "transform.grayscale", "params": {}},
    {"id": "other", "type": "prompt.text", "params": {"text": "a blue owl"}},
    {"id": "gen2", "type": "provider.local", "params": {"seed": 3, "width": 64, "height": 64}},
]
EDGES = [
    {"from": ["prompt", "text"], "to": ["gen", "prompt"]},
    {"from": ["gen", "image"], "to": ["small", "image"]},
    {"from": ["small", "image"], "to": ["gray", "image"]},
    {"from": ["other", "text"], "to": ["gen2", "prompt"]},
]


def _graph(tmp_path: Path, modes: dict[str, str] | None = None, edges: list | None = None,
           extra_nodes: list | None = None, name: str = "g.json") -> Path:
    nodes = [dict(n, **({"mode": modes[n["id"]]} if modes and n["id"] in modes else {})) for n in NODES]
    path = tmp_path / name
    path.write_text(json.dumps({"format": "artfactory.graph", "version": 2, "name": "modes", "meta": {},
                                "nodes": nodes + (extra_nodes or []), "edges": edges or EDGES}))
    return path


def _statuses(run: dict) -> dict[str, str]:
    return {node_id: entry["status"] for node_id, entry in run["nodes"].items()}


def test_bypass_and_mute_statuses_products_and_a_succeeded_order(tmp_path: Path, capsys) -> None:
    run = run_cli(capsys, "run", _graph(tmp_path, {"small": "bypass", "other": "mute"}), "--json")
    assert run.code == 0, run.err
    data = run.json
    assert data["status"] == "succeeded"
    assert _statuses(data) == {"prompt": "executed", "gen": "executed", "small": "bypassed", "gray": "executed",
                               "other": "muted", "gen2": "muted"}
    # The bypassed node's products are the ones it passed through; the grayscale got the full-size image.
    assert data["nodes"]["small"]["products"] == data["nodes"]["gen"]["products"]
    gray = next(p for p in data["products"] if p["node_id"] == "gray")
    assert (gray["width"], gray["height"]) == (64, 64)
    assert {p["node_id"] for p in data["products"]} == {"gen", "gray"}
    # The order's items (the database, `orders show`) say the same.
    detail = run_cli(capsys, "orders", "show", data["order_id"], "--json").json
    items = {item["node_id"]: item["status"] for item in detail["items"]}
    assert items == _statuses(data)
    assert detail["status"] == "succeeded"
    text = run_cli(capsys, "orders", "show", data["order_id"])
    assert text.code == 0 and "bypassed" in text.out and "muted" in text.out


def test_plan_reports_bypassed_and_muted_as_free(tmp_path: Path, capsys) -> None:
    result = run_cli(capsys, "plan", _graph(tmp_path, {"small": "bypass", "other": "mute"}), "--json")
    assert result.code == 0, result.err
    nodes = result.json["nodes"]
    assert {k: (v["action"], v["paid"]) for k, v in nodes.items() if k in ("small", "other", "gen2")} == {
        "small": ("bypassed", False), "other": ("muted", False), "gen2": ("muted", False)}
    shown = run_cli(capsys, "plan", _graph(tmp_path, {"small": "bypass", "other": "mute"}))
    assert shown.code == 0, shown.err
    assert "bypassed" in shown.out and "muted" in shown.out


def test_un_bypassing_finds_the_old_results_in_the_cache(tmp_path: Path, capsys) -> None:
    first = run_cli(capsys, "run", _graph(tmp_path), "--json").json
    bypassed = run_cli(capsys, "run", _graph(tmp_path, {"small": "bypass"}), "--json").json
    assert _statuses(bypassed)["gray"] == "executed"  # a different image reaches it
    again = run_cli(capsys, "run", _graph(tmp_path), "--json").json
    assert set(_statuses(again).values()) == {"cached"}
    assert [p["id"] for p in again["products"]] == [p["id"] for p in first["products"]]
    # And bypassing once more finds the bypassed run's grayscale.
    twice = run_cli(capsys, "run", _graph(tmp_path, {"small": "bypass"}), "--json").json
    assert _statuses(twice) == {**{n: "cached" for n in _statuses(twice)}, "small": "bypassed"}


def test_inserting_reroutes_re_executes_nothing(tmp_path: Path, capsys) -> None:
    run_cli(capsys, "run", _graph(tmp_path), "--json")
    dots = [{"id": "dot1", "type": "util.reroute", "params": {}}, {"id": "dot2", "type": "util.reroute"}]
    edges = [e for e in EDGES if e["from"] != ["small", "image"]] + [
        {"from": ["small", "image"], "to": ["dot1", "in"]}, {"from": ["dot1", "out"], "to": ["dot2", "in"]},
        {"from": ["dot2", "out"], "to": ["gray", "image"]}]
    result = run_cli(capsys, "run", _graph(tmp_path, edges=edges, extra_nodes=dots, name="dots.json"), "--json")
    assert result.code == 0, result.err
    assert _statuses(result.json) == {n["id"]: "cached" for n in NODES}  # reroutes cost nothing and do not report
    bad = [*edges, {"from": ["dot2", "out"], "to": ["gen2", "image"]},
           {"from": ["dot1", "out"], "to": ["gen2", "prompt"]}]
    bad = [e for e in bad if e != {"from": ["other", "text"], "to": ["gen2", "prompt"]}]
    refused = run_cli(capsys, "run", _graph(tmp_path, edges=bad, extra_nodes=dots, name="bad.json"))
    assert refused.code != 0
    assert "gen2: input 'prompt' takes text but dot1.out gives image" in refused.err


def test_wrapping_into_a_subgraph_re_executes_nothing_and_reports_outer_inner(tmp_path: Path, capsys) -> None:
    flat_path = _graph(tmp_path)
    first = run_cli(capsys, "run", flat_path, "--json").json
    wrapped, outer = group_into_subgraph(document.load(flat_path), ["small", "gray"], "Post", default_registry())
    wrapped_path = tmp_path / "wrapped.json"
    wrapped.save(wrapped_path)
    saved = json.loads(wrapped_path.read_text())
    assert saved["version"] == 2 and set(saved["subgraphs"]) == {"Post"}
    result = run_cli(capsys, "run", wrapped_path, "--json")
    assert result.code == 0, result.err
    data = result.json
    assert _statuses(data) == {"prompt": "cached", "gen": "cached", "post/small": "cached", "post/gray": "cached",
                               "other": "cached", "gen2": "cached"}
    assert [p["id"] for p in data["products"]] == [p["id"] for p in first["products"]]
    # A change inside the subgraph executes the inner nodes, named OUTER/INNER in products and lineage.
    wrapped.subgraphs["Post"].nodes[0].params["width"] = 16
    wrapped.save(wrapped_path)
    changed = run_cli(capsys, "run", wrapped_path, "--json").json
    assert _statuses(changed)["post/small"] == "executed" and _statuses(changed)["gen"] == "cached"
    small = next(p for p in changed["products"] if p["node_id"] == "post/small")
    assert small["width"] == 16
    lineage = run_cli(capsys, "products", "show", small["id"], "--json").json
    assert lineage["node_id"] == "post/small" and lineage["order_id"] == changed["order_id"]
    assert outer == "post"


@pytest.mark.parametrize("bad, message", [
    ({"id": "box", "type": "subgraph", "params": {"name": "Nope"}}, "box: no subgraph named 'Nope'"),
    ({"id": "gray2", "type": "transform.grayscale", "params": {}, "mode": "bypass"}, "gray2: required input"),
])
def test_bad_subgraphs_and_modes_are_refused_in_one_line(tmp_path: Path, capsys, bad: dict, message: str) -> None:
    result = run_cli(capsys, "run", _graph(tmp_path, extra_nodes=[bad]))
    assert result.code != 0
    assert message in result.err and "Traceback" not in result.err
    mode = _graph(tmp_path, {"small": "asleep"}, name="mode.json")
    refused = run_cli(capsys, "run", mode)
    assert refused.code != 0 and "'mode' must be one of normal, bypass, mute, got 'asleep'" in refused.err


def test_a_bypassed_node_whose_source_failed_is_skipped_and_the_order_is_partial(tmp_path: Path, capsys) -> None:
    nodes = [{"id": "photo", "type": "input.image", "params": {"path": str(tmp_path / "missing.png")}},
             {"id": "small", "type": "transform.resize", "params": {"width": 8, "height": 8}, "mode": "bypass"},
             {"id": "gray", "type": "transform.grayscale", "params": {}},
             {"id": "prompt", "type": "prompt.text", "params": {"text": "still runs"}}]
    edges = [{"from": ["photo", "image"], "to": ["small", "image"]},
             {"from": ["small", "image"], "to": ["gray", "image"]}]
    path = tmp_path / "fail.json"
    path.write_text(json.dumps({"format": "artfactory.graph", "version": 2, "name": "f", "nodes": nodes,
                                "edges": edges}))
    data = run_cli(capsys, "run", path, "--json").json
    assert data["status"] == "partial"
    assert _statuses(data) == {"photo": "failed", "small": "skipped", "gray": "skipped", "prompt": "executed"}
