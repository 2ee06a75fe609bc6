"""Value nodes, param inputs (document, validation, planning, fan-out) and the sweep labels of the contact sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artfactory.engine.batch import param_sweep, run_batch
from artfactory.engine.context import NodeContext
from artfactory.engine.document import DocumentError, EdgeSpec, GraphDocument, NodeSpec, from_json, loads
from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port
from artfactory.engine.plan import build_plan
from artfactory.engine.registry import default_registry
from artfactory.engine.validate import validate
from nodes.transform import cell_labels, swept_keys, xy_axes
from nodes.values import range_values


def _ctx(tmp_path: Path, node_id: str = "n") -> NodeContext:
    return NodeContext(node_id=node_id, order_id="o", home=tmp_path, settings=None, storage=None)


def _run_value(tmp_path: Path, type_name: str, **params: Any) -> list[Any]:
    node_type = default_registry().get(type_name)
    assert node_type is not None
    resolved = {**node_type.defaults(), **params}
    return run_batch(node_type, _ctx(tmp_path), {}, resolved)["value"]


def test_value_nodes_send_their_values(tmp_path: Path) -> None:
    assert _run_value(tmp_path, "value.number", value=3.0) == [3]
    assert _run_value(tmp_path, "value.number", value=0.5) == [0.5]
    assert _run_value(tmp_path, "value.text", value="ink") == ["ink"]
    assert _run_value(tmp_path, "value.list", values=[1, "two", 3.5]) == [1, "two", 3.5]
    assert _run_value(tmp_path, "value.range", start=0.0, stop=4.0, step=1.0) == [0, 1, 2, 3]
    assert _run_value(tmp_path, "value.seed", mode="fixed", seed=42) == [42]
    assert range_values(0, 1, 0.1) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert range_values(10, 0, -5) == [10, 5]


def _doc(nodes: list[dict], edges: list[tuple[str, str, str, str]] = ()) -> GraphDocument:
    return from_json({"format": "artfactory.graph", "version": 1, "name": "t", "nodes": nodes,
                      "edges": [{"from": [a, b], "to": [c, d]} for a, b, c, d in edges], "meta": {}})


def _codes(doc: GraphDocument) -> list[tuple[str | None, str]]:
    return [(e.node_id, e.code) for e in validate(doc, default_registry())]


@pytest.mark.parametrize(("params", "message"), [
    ({"step": 0.0}, "must not be 0"),
    ({"start": 0.0, "stop": 4.0, "step": -1.0}, "wrong way"),
    ({"start": 0.0, "stop": 5000.0, "step": 1.0}, "at most 1,000"),
])
def test_bad_range_step_is_a_validation_error(params: dict, message: str) -> None:
    errors = validate(_doc([{"id": "r", "type": "value.range", "params": params}]), default_registry())
    assert [(e.node_id, e.code) for e in errors] == [("r", "bad_param")]
    assert "'step'" in errors[0].message and message in errors[0].message


@pytest.mark.parametrize("values", [{"a": 1}, "1,2", [[1]], list(range(1001)), [{"x": 1}]])
def test_value_list_takes_a_json_array_of_plain_values(values: Any) -> None:
    assert _codes(_doc([{"id": "l", "type": "value.list", "params": {"values": values}}])) == [("l", "bad_param")]


def test_param_inputs_round_trip_and_are_omitted_when_empty() -> None:
    doc = _doc([{"id": "g", "type": "provider.local", "params": {}, "param_inputs": ["seed", "style", "seed"]},
                {"id": "p", "type": "prompt.text", "params": {"text": "x"}}])
    assert doc.node("g").param_inputs == ["seed", "style"]
    saved = loads(doc.dumps())
    assert saved.node("g").param_inputs == ["seed", "style"]
    assert "param_inputs" not in doc.node("p").to_json()
    with pytest.raises(DocumentError, match="param_inputs"):
        _doc([{"id": "g", "type": "provider.local", "params": {}, "param_inputs": "seed"}])


SWEEP_NODES = [
    {"id": "p", "type": "prompt.text", "params": {"text": "a fox"}},
    {"id": "seeds", "type": "value.list", "params": {"values": [1, 2]}},
    {"id": "word", "type": "value.text", "params": {"value": "neon"}},
    {"id": "gen", "type": "provider.local", "params": {"width": 64, "height": 64}},
]


def test_param_edges_validate() -> None:
    ok = _doc(SWEEP_NODES, [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:seed"),
                            ("word", "value", "gen", "param:style")])
    assert _codes(ok) == []
    unknown = _doc(SWEEP_NODES, [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:colour")])
    errors = validate(unknown, default_registry())
    assert [(e.node_id, e.code) for e in errors] == [("gen", "unknown_param")]
    assert "colour" in errors[0].message and "seed" in errors[0].message
    # text cannot carry a whole number; an image cannot carry any param
    mismatch = _doc(SWEEP_NODES, [("p", "text", "gen", "prompt"), ("word", "value", "gen", "param:seed")])
    errors = validate(mismatch, default_registry())
    assert [(e.node_id, e.code) for e in errors] == [("gen", "type_mismatch")]
    assert "'seed'" in errors[0].message and "gives text" in errors[0].message
    image = _doc([*SWEEP_NODES, {"id": "g2", "type": "provider.local", "params": {}}],
                 [("p", "text", "gen", "prompt"), ("p", "text", "g2", "prompt"), ("gen", "image", "g2", "param:width")])
    assert _codes(image) == [("g2", "type_mismatch")]
    twice = _doc(SWEEP_NODES, [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:seed"),
                               ("seeds", "value", "gen", "param:seed")])
    assert ("gen", "input_taken") in _codes(twice)
    names = _doc([{"id": "gen", "type": "provider.local", "params": {}, "param_inputs": ["nope"]},
                  {"id": "p", "type": "prompt.text", "params": {"text": "x"}}], [("p", "text", "gen", "prompt")])
    assert _codes(names) == [("gen", "unknown_param")]


def test_a_param_edge_enters_the_cache_key(tmp_path: Path) -> None:
    edges = [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:seed")]
    first = build_plan(_doc(SWEEP_NODES, edges), default_registry(), home=tmp_path)
    nodes = [dict(n, params={"values": [1, 3]}) if n["id"] == "seeds" else n for n in SWEEP_NODES]
    second = build_plan(_doc(nodes, edges), default_registry(), home=tmp_path)
    unlinked = build_plan(_doc(SWEEP_NODES, edges[:1]), default_registry(), home=tmp_path)
    keys = {first.nodes["gen"].cache_key, second.nodes["gen"].cache_key, unlinked.nodes["gen"].cache_key}
    assert len(keys) == 3
    again = build_plan(_doc(SWEEP_NODES, edges), default_registry(), home=tmp_path)
    assert again.nodes["gen"].cache_key == first.nodes["gen"].cache_key  # the swept seed is concrete


def _recorder() -> tuple[NodeType, list[dict]]:
    calls: list[dict] = []

    def run(ctx: Any, inputs: Any, params: Any) -> dict[str, list[Any]]:
        calls.append({"inputs": dict(inputs), "params": dict(params), "seed": ctx.seed_for()})
        return {"out": [NewMedia(meta={})]}

    node_type = NodeType(type="t.rec", title="rec", run=run, inputs=(Port("a", "text", optional=True),),
                         outputs=(Port("out", "image"),),
                         params=(Param("n", "int", 0, minimum=0, maximum=10), Param("s", "string", "x"),
                                 Param("seed", "int", 0, minimum=-1)), seed_param="seed")
    return node_type, calls


def test_param_inputs_fan_out_every_combination_and_zip_with_inputs(tmp_path: Path) -> None:
    node_type, calls = _recorder()
    params = {"n": 0, "s": "x", "seed": 100}
    out = run_batch(node_type, _ctx(tmp_path, "g"), {"a": None, "param:n": [1, 2], "param:s": ["u", "v", "w"]},
                    params)["out"]
    assert [(c["params"]["n"], c["params"]["s"]) for c in calls] == [
        (1, "u"), (1, "v"), (1, "w"), (2, "u"), (2, "v"), (2, "w")]
    assert out[4].meta["sweep"] == {"g.n": 2, "g.s": "v"} and out[4].params == {"n": 2, "s": "v", "seed": 100}
    calls.clear()
    run_batch(node_type, _ctx(tmp_path), {"a": ["p", "q"], "param:n": [3, 4]}, params)
    assert [(c["inputs"]["a"], c["params"]["n"]) for c in calls] == [("p", 3), ("q", 4)]
    calls.clear()
    run_batch(node_type, _ctx(tmp_path), {"a": ["p", "q"], "param:n": [5]}, params)  # one value is broadcast
    assert [(c["inputs"]["a"], c["params"]["n"]) for c in calls] == [("p", 5), ("q", 5)]
    with pytest.raises(NodeError) as mismatch:
        run_batch(node_type, _ctx(tmp_path), {"a": ["p", "q"], "param:n": [1, 2, 3]}, params)
    assert mismatch.value.code == "batch_mismatch"


def test_a_swept_seed_is_the_items_seed_exactly(tmp_path: Path) -> None:
    node_type, calls = _recorder()
    ctx = _ctx(tmp_path)
    ctx.seed = 100
    run_batch(node_type, ctx, {"param:seed": [7, 9]}, {"n": 0, "s": "x", "seed": 100})
    assert [c["seed"] for c in calls] == [7, 9]
    calls.clear()
    run_batch(node_type, ctx, {"a": ["p", "q"]}, {"n": 0, "s": "x", "seed": 100})  # unswept: seed + index
    assert [c["seed"] for c in calls] == [100, 101]


@pytest.mark.parametrize(("values", "shown"), [([1, 11], "11"), (["x"], "'x'"), ([2.5], "2.5")])
def test_a_value_the_param_cannot_take_is_bad_param_naming_both(tmp_path: Path, values: list, shown: str) -> None:
    node_type, calls = _recorder()
    with pytest.raises(NodeError) as exc:
        run_batch(node_type, _ctx(tmp_path, "gen"), {"param:n": values}, {"n": 0, "s": "x", "seed": 0})
    assert exc.value.code == "bad_param"
    assert "'n'" in str(exc.value) and shown in str(exc.value) and "gen" in str(exc.value)
    assert calls == []  # checked before anything runs (nothing paid for half a sweep)


def test_param_sweep_of_nothing_is_one_empty_item() -> None:
    node_type, _ = _recorder()
    assert param_sweep(node_type, "g", {}) == [{}]
    assert param_sweep(node_type, "g", {"param:n": []}) == []


def _media(sweep: dict, prompt: str = "a fox") -> Media:
    return Media(product_id="p", path=Path("x.png"), media_type="image", width=64, height=64, prompt=prompt,
                 sweep=sweep)


def test_labels_name_the_values_that_vary() -> None:
    items = [_media({"gen.seed": s, "gen.style": st, "gen.width": 64}) for s in (1, 2) for st in ("ink", "neon")]
    assert swept_keys(items) == ["gen.seed", "gen.style"]
    assert cell_labels(items, swept_keys(items)) == [
        "seed 1 · style ink", "seed 1 · style neon", "seed 2 · style ink", "seed 2 · style neon"]
    rows, cols, places = xy_axes(items, swept_keys(items))
    assert rows == ["seed 1", "seed 2"] and cols == ["style ink", "style neon"]
    assert places == [(0, 0), (0, 1), (1, 0), (1, 1)]
    plain = [_media({}, "a cat"), _media({}, "a  dog")]
    assert cell_labels(plain, swept_keys(plain)) == ["1  a cat", "2  a dog"]
    assert xy_axes(plain, []) is None
    clash = [_media({"a.seed": 1, "b.seed": 1}), _media({"a.seed": 2, "b.seed": 3})]
    assert cell_labels(clash, swept_keys(clash)) == ["a.seed 1 · b.seed 1", "a.seed 2 · b.seed 3"]


def test_value_seed_random_is_resolved_recorded_and_rerolled(tmp_path: Path) -> None:
    doc = GraphDocument(nodes=[NodeSpec("s", "value.seed", {"mode": "random", "seed": 5})])
    recorded = build_plan(doc, default_registry(), home=tmp_path, seed_lookup=lambda key, name: 1234)
    assert recorded.nodes["s"].params["seed"] == 1234
    fixed = GraphDocument(nodes=[NodeSpec("s", "value.seed", {"mode": "fixed", "seed": 5})])
    assert build_plan(fixed, default_registry(), home=tmp_path, seed_lookup=lambda k, n: 1234).nodes["s"].params[
        "seed"] == 5
    edges = [EdgeSpec("s", "value", "g", "param:seed")]
    assert edges[0].to_json() == {"from": ["s", "value"], "to": ["g", "param:seed"]}
