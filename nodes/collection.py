"""Collection nodes: file the products flowing through into a named collection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artfactory.engine.document import name_problem
from artfactory.engine.nodetypes import Media, NodeError, NodeType, Param, Port, RunContext

MAX_NAME = 200


def _run_add(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    name = " ".join(params["collection"].split())
    if not name:
        raise NodeError("collection.add needs a collection name", "bad_param")
    if len(name) > MAX_NAME:
        raise NodeError(f"collection.add: the collection name is {len(name)} characters; "
                        f"the limit is {MAX_NAME}", "bad_param")
    problem = name_problem(name, "a collection name")
    if problem:
        raise NodeError(f"collection.add: {problem}", "bad_param")
    items = inputs.get("media")
    items = list(items) if isinstance(items, list | tuple) else [] if items is None else [items]
    for item in items:
        if not isinstance(item, Media):
            raise NodeError("collection.add expects stored images or videos but received "
                            f"{type(item).__name__}", "bad_input")
    if items:
        # One add for the whole batch: the writer applies it when the node ends, atomically.
        ctx.add_to_collection(name, items)
    return {"media": items}


COLLECTION_ADD = NodeType(
    type="collection.add",
    title="Add to collection",
    doc="Adds every incoming product to a collection (created if absent) and passes them on.",
    version=1,
    run=_run_add,
    inputs=(Port("media", "media", whole_list=True, doc="the products to file"),),
    outputs=(Port("media", "media", doc="the same products, unchanged"),),
    params=(Param("collection", "string", "", required=True,
                  doc="Name of the collection; created if absent."),),
)
