"""Utility nodes: the reroute dot that keeps long links tidy (DESIGN §10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artfactory.engine.nodetypes import NodeType, Port, RunContext

REROUTE = "util.reroute"


def _run_reroute(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    # Never called by the executor: planning links a reroute's consumers straight to its source, so it costs
    # nothing and leaves every cache key as a direct link would. Kept correct for anything that calls it directly.
    value = inputs.get("in")
    return {"out": list(value) if isinstance(value, list | tuple) else [] if value is None else [value]}


UTIL_REROUTE = NodeType(
    type=REROUTE,
    title="Reroute",
    doc="A dot on a link: passes what arrives on to every link leaving it, of whatever type it is.",
    version=1,
    run=_run_reroute,
    inputs=(Port("in", "any", whole_list=True, doc="anything; the dot takes the type of what is linked"),),
    outputs=(Port("out", "any", doc="what arrived, unchanged"),),
)
