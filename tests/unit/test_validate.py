"""Validation: each problem is reported on its node with a code, and an invalid graph never plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from artfactory.engine.document import from_json
from artfactory.engine.plan import PlanError, build_plan
from artfactory.engine.validate import validate
from tests.support.toy_nodes import toy_registry


def _codes(doc: dict) -> set[tuple[str | None, str]]:
    return {(e.node_id, e.code) for e in validate(from_json(doc), toy_registry())}


def _edge(a: str, ap: str, b: str, bp: str) -> dict:
    return {"from": [a, ap], "to": [b, bp]}


def test_valid_graph_has_no_errors() -> None:
    doc = {"nodes": [{"id": "s", "type": "toy.source"}, {"id": "x", "type": "toy.sum"}],
           "edges": [_edge("s", "value", "x", "a")]}
    assert _codes(doc) == set()


def test_each_problem_has_its_code() -> None:
    doc = {
        "nodes": [
            {"id": "s", "type": "toy.source", "params": {"value": "high", "colour": 1}},
            {"id": "s", "type": "toy.source"},
            {"id": "u", "type": "toy.nothing"},
            {"id": "x", "type": "toy.sum", "params": {"sleep_ms": -5}},
            {"id": "y", "type": "toy.sum"},
        ],
        "edges": [
            _edge("s", "value", "x", "a"),
            _edge("s", "nope", "y", "a"),
            _edge("s", "value", "y", "zzz"),
            _edge("ghost", "value", "x", "b"),
        ],
    }
    codes = _codes(doc)
    assert ("s", "bad_param") in codes
    assert ("s", "unknown_param") in codes
    assert ("s", "duplicate_id") in codes
    assert ("u", "unknown_type") in codes
    assert ("x", "bad_param") in codes  # sleep_ms below its minimum
    assert ("s", "unknown_port") in codes
    assert ("y", "unknown_port") in codes
    assert ("x", "dangling_edge") in codes
    assert ("y", "missing_input") in codes


def test_type_mismatch_and_double_input() -> None:
    from artfactory.engine.nodetypes import NodeType, Port
    from artfactory.engine.registry import NodeRegistry
    from tests.support.toy_nodes import SOURCE, SUM

    text = NodeType(type="toy.text", title="T", run=lambda c, i, p: {"text": ["x"]}, outputs=(Port("text", "text"),))
    registry = NodeRegistry([SOURCE, SUM, text])
    doc = from_json({"nodes": [{"id": "t", "type": "toy.text"}, {"id": "s", "type": "toy.source"},
                               {"id": "x", "type": "toy.sum"}],
                     "edges": [_edge("t", "text", "x", "a"), _edge("s", "value", "x", "a")]})
    codes = {(e.node_id, e.code) for e in validate(doc, registry)}
    assert ("x", "type_mismatch") in codes
    assert ("x", "input_taken") in codes


def test_cycle_names_its_nodes(tmp_path: Path) -> None:
    doc = from_json({
        "nodes": [{"id": "a", "type": "toy.sum"}, {"id": "b", "type": "toy.sum"}, {"id": "c", "type": "toy.sum"}],
        "edges": [_edge("a", "value", "b", "a"), _edge("b", "value", "c", "a"), _edge("c", "value", "a", "a")],
    })
    errors = [e for e in validate(doc, toy_registry()) if e.code == "cycle"]
    # One error per cycle, on its earliest node, naming every node of a short cycle in order.
    assert [e.node_id for e in errors] == ["a"]
    assert errors[0].message.endswith("a → b → c → a")
    with pytest.raises(PlanError) as info:
        build_plan(doc, toy_registry(), home=tmp_path)
    assert {e.code for e in info.value.errors} == {"cycle"}
