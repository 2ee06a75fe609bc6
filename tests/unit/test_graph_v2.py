"""Graph format version 2 (DESIGN §10): migration, node modes, reroutes and subgraphs as validation and planning
see them; cache keys stay those of the plain graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artfactory.engine import document
from artfactory.engine.document import DocumentError, EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.graph_power import GroupError, flatten, group_into_subgraph, ungroup
from artfactory.engine.plan import Plan, build_plan
from artfactory.engine.registry import default_registry
from artfactory.engine.validate import validate

REGISTRY = default_registry()


def _doc(*, small_mode: str = "normal") -> GraphDocument:
    """prompt → gen → small → gray; gen2 takes `other`'s text; the shape the tests vary."""
    return GraphDocument(name="t", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": 7, "width": 64, "height": 64}),
        NodeSpec("small", "transform.resize", {"width": 32, "height": 32}, mode=small_mode),
        NodeSpec("gray", "transform.grayscale", {}),
    ], edges=[
        EdgeSpec("prompt", "text", "gen", "prompt"),
        EdgeSpec("gen", "image", "small", "image"),
        EdgeSpec("small", "image", "gray", "image"),
    ])


def _plan(doc: GraphDocument, tmp_path: Path, **kwargs: object) -> Plan:
    return build_plan(doc, REGISTRY, home=tmp_path, **kwargs)  # type: ignore[arg-type]


def _keys(plan: Plan) -> dict[str, str]:
    return {node_id: node.cache_key for node_id, node in plan.nodes.items()}


def _codes(doc: GraphDocument) -> list[tuple[str | None, str]]:
    return [(e.node_id, e.code) for e in validate(doc, REGISTRY)]


# -- format version 2 ------------------------------------------------------------------------------------------
def test_version_1_documents_migrate_explicitly_and_load_unchanged() -> None:
    v1 = json.loads(_doc().dumps())
    v1["version"] = 1
    migrated = document._migrate_1_to_2(dict(v1))
    assert migrated == {**v1, "version": 2}
    assert document.MIGRATIONS[1] is document._migrate_1_to_2
    loaded = document.from_json(v1)
    assert [(n.id, n.type, n.params, n.mode) for n in loaded.nodes] == [
        (n.id, n.type, n.params, "normal") for n in _doc().nodes]
    assert loaded.to_json()["version"] == 2 == document.VERSION


def test_saved_with_version_2_and_mode_only_when_not_normal(tmp_path: Path) -> None:
    doc = _doc(small_mode="bypass")
    data = doc.to_json()
    assert data["version"] == 2
    assert [n.get("mode") for n in data["nodes"]] == [None, None, "bypass", None]
    assert "subgraphs" not in data
    path = tmp_path / "g.json"
    doc.save(path)
    assert document.load(path).node("small").mode == "bypass"  # type: ignore[union-attr]


def test_a_newer_version_and_a_bad_mode_are_refused_clearly() -> None:
    data = _doc().to_json()
    with pytest.raises(DocumentError, match="version 3 is newer than this Art Factory understands"):
        document.from_json({**data, "version": 3}, "g.json")
    data["nodes"][2]["mode"] = "sleep"
    with pytest.raises(DocumentError, match=r"g.json: node 'small': 'mode' must be one of normal, bypass, mute, "
                                            r"got 'sleep'"):
        document.from_json(data, "g.json")
    doc = _doc()
    doc.nodes[2].mode = "sleep"  # made in code, not read from a file: validation says it
    assert ("small", "bad_mode") in _codes(doc)


# -- bypass and mute --------------------------------------------------------------------------------------------
def test_bypassed_node_hands_its_input_on_with_the_keys_of_a_direct_link(tmp_path: Path) -> None:
    normal = _keys(_plan(_doc(), tmp_path))
    plan = _plan(_doc(small_mode="bypass"), tmp_path)
    direct = _doc()
    direct.nodes.pop(2)
    direct.edges[1:] = [EdgeSpec("gen", "image", "gray", "image")]
    assert plan.nodes["small"].mode == "bypass"
    assert plan.nodes["small"].passthrough == {"image": ("gen", "image")}
    assert plan.nodes["gray"].cache_key == _keys(_plan(direct, tmp_path))["gray"] != normal["gray"]
    # Un-bypassing gives back exactly the old keys, so the old results are cache hits again.
    assert _keys(_plan(_doc(), tmp_path)) == normal
    assert plan.nodes["small"].cache_key not in normal.values()


def test_node_without_a_pair_to_pass_on_cannot_be_bypassed() -> None:
    doc = _doc()
    doc.nodes[0].mode = "bypass"  # prompt.text has no input at all
    errors = [e for e in validate(doc, REGISTRY) if e.code == "cannot_bypass"]
    assert [e.node_id for e in errors] == ["prompt"]
    assert "cannot be bypassed" in errors[0].message
    doc = _doc()
    doc.nodes[1].mode = "bypass"  # provider.local: its image input is optional and not linked here
    assert ("gen", "cannot_bypass") in _codes(doc)


def test_mute_takes_what_needs_it_along_and_spares_optional_inputs(tmp_path: Path) -> None:
    doc = _doc()
    doc.nodes.append(NodeSpec("init", "input.image", {"path": "x.png"}, mode="mute"))
    doc.nodes.append(NodeSpec("gen2", "provider.local", {"seed": 3, "width": 64, "height": 64}))
    doc.edges += [EdgeSpec("prompt", "text", "gen2", "prompt"), EdgeSpec("init", "image", "gen2", "image")]
    plan = _plan(doc, tmp_path)
    assert plan.nodes["init"].mode == "mute"
    assert plan.nodes["gen2"].mode == "normal" and [i.port for i in plan.nodes["gen2"].inputs] == ["prompt"]
    no_init = _doc()
    no_init.nodes.append(NodeSpec("gen2", "provider.local", {"seed": 3, "width": 64, "height": 64}))
    no_init.edges.append(EdgeSpec("prompt", "text", "gen2", "prompt"))
    assert plan.nodes["gen2"].cache_key == _keys(_plan(no_init, tmp_path))["gen2"]
    doc.nodes[1].mode = "mute"  # gen: small and gray need it
    plan = _plan(doc, tmp_path)
    assert {n for n, node in plan.nodes.items() if node.mode == "mute"} == {"init", "gen", "small", "gray"}
    assert plan.nodes["prompt"].mode == "normal"


# -- reroutes ---------------------------------------------------------------------------------------------------
def _rerouted(hops: int) -> GraphDocument:
    doc = _doc()
    doc.edges = [e for e in doc.edges if e.source != "small"]
    previous = ("small", "image")
    for i in range(hops):
        doc.nodes.append(NodeSpec(f"dot{i}", "util.reroute", {}))
        doc.edges.append(EdgeSpec(*previous, f"dot{i}", "in"))
        previous = (f"dot{i}", "out")
    doc.edges.append(EdgeSpec(*previous, "gray", "image"))
    return doc


def test_reroutes_are_transparent_to_cache_keys_and_not_planned(tmp_path: Path) -> None:
    direct = _keys(_plan(_doc(), tmp_path))
    for hops in (1, 3):
        plan = _plan(_rerouted(hops), tmp_path)
        assert _keys(plan) == direct
        assert [(i.port, i.source) for i in plan.nodes["gray"].inputs] == [("image", "small")]


def test_types_are_checked_through_chains_of_reroutes() -> None:
    doc = _rerouted(2)
    assert validate(doc, REGISTRY) == []
    doc.nodes.append(NodeSpec("gen2", "provider.local", {}))
    doc.edges.append(EdgeSpec("dot1", "out", "gen2", "prompt"))  # an image through two dots into a text input
    errors = [e for e in validate(doc, REGISTRY) if e.code == "type_mismatch"]
    assert [(e.node_id, e.message) for e in errors] == [
        ("gen2", "input 'prompt' takes text but dot1.out gives image")]
    lone = _doc()
    lone.nodes.append(NodeSpec("dot", "util.reroute", {}))
    assert ("dot", "missing_input") in _codes(lone)


# -- subgraphs --------------------------------------------------------------------------------------------------
def test_grouping_keeps_every_cache_key_and_names_inner_nodes_outer_inner(tmp_path: Path) -> None:
    flat_keys = _keys(_plan(_doc(), tmp_path))
    wrapped, outer = group_into_subgraph(_doc(), ["small", "gray"], "Post", REGISTRY)
    assert outer == "post"
    data = wrapped.to_json()
    assert data["subgraphs"]["Post"]["inputs"] == [{"name": "image", "type": "image", "to": ["small", "image"]}]
    assert [n["id"] for n in data["nodes"]] == ["prompt", "gen", "post"]
    reloaded = document.loads(wrapped.dumps())
    plan = _plan(reloaded, tmp_path)
    assert _keys(plan) == {("post/" + k if k in ("small", "gray") else k): v for k, v in flat_keys.items()}
    assert plan.order == ["prompt", "gen", "post/small", "post/gray"]
    # `only` on the subgraph node runs its inner nodes and what they need.
    assert set(_plan(reloaded, tmp_path, only=["post"]).order) == {"prompt", "gen", "post/small", "post/gray"}
    back = ungroup(reloaded, "post")
    assert back.to_json() == _doc().to_json()


def test_nested_subgraphs_and_a_muted_subgraph(tmp_path: Path) -> None:
    inner, _ = group_into_subgraph(_doc(), ["small", "gray"], "Post", REGISTRY)
    outer, outer_id = group_into_subgraph(inner, ["gen", "post"], "Make", REGISTRY)
    plan = _plan(outer, tmp_path)
    assert plan.order == ["prompt", "make/gen", "make/post/small", "make/post/gray"]
    assert list(_keys(plan).values()) == list(_keys(_plan(_doc(), tmp_path)).values())
    outer.node(outer_id).mode = "mute"  # type: ignore[union-attr]
    plan = _plan(outer, tmp_path)
    assert [n for n in plan.order if plan.nodes[n].mode == "mute"] == ["make/gen", "make/post/small",
                                                                       "make/post/gray"]


def test_subgraph_errors_name_the_outer_inner_path_and_recursion_and_unknown_names() -> None:
    wrapped, _ = group_into_subgraph(_doc(), ["small", "gray"], "Post", REGISTRY)
    wrapped.subgraphs["Post"].nodes[0].params["width"] = "wide"
    assert ("post/small", "bad_param") in _codes(wrapped)
    wrapped.subgraphs["Post"].nodes[0].params["width"] = 32
    wrapped.subgraphs["Post"].nodes.append(NodeSpec("again", "subgraph", {"name": "Post"}))
    errors = [e for e in validate(wrapped, REGISTRY) if e.code == "subgraph_recursion"]
    assert [(e.node_id, e.message) for e in errors] == [("post/again", "subgraph 'Post' contains itself "
                                                                       "(Post → Post)")]
    missing = _doc()
    missing.nodes.append(NodeSpec("box", "subgraph", {"name": "Nope"}))
    assert [(e.node_id, e.code, e.message) for e in validate(missing, REGISTRY)] == [
        ("box", "unknown_subgraph", "no subgraph named 'Nope' in this document (subgraphs: none)")]
    wrapped2, _ = group_into_subgraph(_doc(), ["small", "gray"], "Post", REGISTRY)
    wrapped2.edges.append(EdgeSpec("gen", "image", "post", "mask"))
    assert ("post", "unknown_port") in _codes(wrapped2)


def test_grouping_refuses_what_would_make_a_cycle_or_clash() -> None:
    with pytest.raises(GroupError, match="'small' is between selected nodes"):
        group_into_subgraph(_doc(), ["gen", "gray"], "X", REGISTRY)
    wrapped, _ = group_into_subgraph(_doc(), ["gray"], "Post", REGISTRY)
    with pytest.raises(GroupError, match="already exists"):
        group_into_subgraph(wrapped, ["gen"], "Post", REGISTRY)
    with pytest.raises(GroupError, match="not a subgraph node"):
        ungroup(wrapped, "gen")


def test_documents_without_subgraphs_are_not_copied_to_flatten() -> None:
    doc = _doc()
    assert flatten(doc).document is doc


def test_grouping_places_the_new_node_amid_the_selection_and_ungroup_keeps_inner_modes() -> None:
    doc = _doc(small_mode="bypass")
    doc.meta = {"canvas": {"small": {"pos": [100, 0]}, "gray": {"pos": [300, 40]}}}
    wrapped, outer = group_into_subgraph(doc, ["small", "gray"], "Post", REGISTRY)
    assert wrapped.meta["canvas"][outer] == {"pos": [200.0, 20.0]}
    assert doc.meta == {"canvas": {"small": {"pos": [100, 0]}, "gray": {"pos": [300, 40]}}}  # not changed in place
    back = ungroup(wrapped, outer)
    assert back.node("small").mode == "bypass" and outer not in back.meta["canvas"]  # type: ignore[union-attr]
    assert back.subgraphs == {}
