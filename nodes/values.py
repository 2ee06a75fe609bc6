"""Value nodes: a number, a text, a list, a range or a seed, to feed param inputs and make sweeps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from artfactory.engine.nodetypes import MAX_LIST_ITEMS, NodeError, NodeType, Param, Port, RunContext

Outputs = dict[str, list[Any]]
MAX_SEED = 2**31 - 1


def _number(value: float) -> int | float:
    """Whole numbers travel as ints, so 3 arriving at an int param (or a label) reads 3, not 3.0."""
    return int(value) if float(value).is_integer() else value


def _run_number(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    return {"value": [_number(params["value"])]}


def _run_text(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    return {"value": [params["value"]]}


def _run_list(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    values = list(params["values"])
    if not values:
        # An empty batch would silently make nothing downstream; say so instead.
        raise NodeError("value.list has no values to send on; give it a JSON array such as [1, 2, 3]",
                        "empty_input")
    return {"value": values}


def _count(start: float, stop: float, step: float) -> int:
    # A hair of tolerance: 0 to 1 by 0.1 is ten values, although (1 - 0) / 0.1 is 10.000000000000002.
    return max(0, math.ceil((stop - start) / step - 1e-9))


def range_values(start: float, stop: float, step: float) -> list[int | float]:
    """start, start + step, … while before `stop` (exclusive), as Python's range but for any number."""
    count = _count(start, stop, step)
    return [_number(round(start + i * step, 12)) for i in range(count)]


def _range_problems(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    start, stop, step = params["start"], params["stop"], params["step"]
    if step == 0:
        return [("step", "must not be 0")]
    if (stop - start) / step <= 0:
        return [("step", f"goes the wrong way: from {_number(start)} by {_number(step)} never reaches "
                         f"{_number(stop)} (no values)")]
    count = _count(start, stop, step)
    if count > MAX_LIST_ITEMS:
        return [("step", f"makes {count:,} values; at most {MAX_LIST_ITEMS:,} (use a larger step)")]
    return []


def _run_range(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    problems = _range_problems(params)
    if problems:  # validation refuses these first; kept for a direct call
        raise NodeError(f"value.range: {problems[0][0]} {problems[0][1]}", "bad_param")
    return {"value": list(range_values(params["start"], params["stop"], params["step"]))}


def _run_seed(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    # The planner resolved "random" (and -1) to a concrete seed and recorded it; "increment" is bumped by the app
    # after each run, so here every mode is the seed the params hold.
    return {"value": [int(params["seed"])]}


VALUE_NUMBER = NodeType(
    type="value.number", title="Number", doc="One number, to feed a param input (seed, size, strength…).",
    run=_run_number, outputs=(Port("value", "number", doc="the number"),),
    params=(Param("value", "float", 0.0, doc="The number to send."),),
)

VALUE_TEXT = NodeType(
    type="value.text", title="Text value", doc="One text, to feed a param input (a style, a model, a colour…).",
    run=_run_text, outputs=(Port("value", "text", doc="the text"),),
    params=(Param("value", "string", "", doc="The text to send."),),
)

VALUE_LIST = NodeType(
    type="value.list", title="List",
    doc="A list of values (numbers or text); into a param input it runs the node once per value (a sweep).",
    run=_run_list, outputs=(Port("value", "any", doc="one item per value"),),
    params=(Param("values", "list", [1, 2, 3], doc="A JSON array, e.g. [1, 2, 3] or [\"ink\", \"neon\"]."),),
)

VALUE_RANGE = NodeType(
    type="value.range", title="Range",
    doc="Numbers from start up to (not including) stop by step, at most 1,000 of them; a sweep over a number.",
    run=_run_range, outputs=(Port("value", "number", doc="one item per number"),),
    params=(
        Param("start", "float", 0.0, doc="The first number."),
        Param("stop", "float", 4.0, doc="Where to stop; not included."),
        Param("step", "float", 1.0, doc="The distance between numbers; negative counts down."),
    ),
    check_params=_range_problems,
)

VALUE_SEED = NodeType(
    type="value.seed", title="Seed",
    doc="A seed: fixed, random each run (recorded, so a re-run is cached; reroll draws anew) or incremented by "
        "the app after each run.",
    run=_run_seed, outputs=(Port("value", "number", doc="the seed"),),
    params=(
        Param("mode", "choice", "fixed", choices=("fixed", "random", "increment"),
              doc="fixed: always this seed; random: a new one unless the run is identical; increment: +1 per run."),
        Param("seed", "int", 0, minimum=-1, maximum=MAX_SEED, doc="The seed; -1 picks a random one."),
    ),
    seed_param="seed",
    random_seed=lambda params: params.get("mode") == "random",
)
