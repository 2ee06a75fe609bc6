"""Cheap deterministic node types for engine tests: numbers and text flowing through a DAG."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from artfactory.engine.nodetypes import NodeError, NodeType, Param, Port
from artfactory.engine.registry import NodeRegistry

CALLS: list[str] = []
CALLS_LOCK = threading.Lock()


def _record(ctx: Any) -> None:
    with CALLS_LOCK:
        CALLS.append(ctx.node_id)


def _source(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    _record(ctx)
    return {"value": [float(v) for v in params["values"].get("items", [params["value"]])]}


def _sum(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    _record(ctx)
    if params["fail"]:
        raise NodeError(f"told to fail: {params['fail']}", code="told")
    if params["sleep_ms"]:
        ctx.sleep(params["sleep_ms"] / 1000)
    total = params["add"] + sum(v for v in (inputs.get("a"), inputs.get("b")) if v is not None)
    return {"value": [total]}


def _seeded(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    _record(ctx)
    return {"value": [float(ctx.seed_for())]}


SOURCE = NodeType(
    type="toy.source", title="Number", run=_source,
    outputs=(Port("value", "number"),),
    params=(Param("value", "float", 1.0), Param("values", "object", {})),
)
SUM = NodeType(
    type="toy.sum", title="Sum", run=_sum,
    inputs=(Port("a", "number"), Port("b", "number", optional=True)),
    outputs=(Port("value", "number"),),
    params=(Param("add", "float", 0.0), Param("fail", "string", ""), Param("sleep_ms", "int", 0, minimum=0)),
    provider="toy",
)
SEEDED = NodeType(
    type="toy.seeded", title="Seeded", run=_seeded, outputs=(Port("value", "number"),),
    params=(Param("seed", "int", -1, minimum=-1),), seed_param="seed",
)


def toy_registry() -> NodeRegistry:
    return NodeRegistry([SOURCE, SUM, SEEDED])
