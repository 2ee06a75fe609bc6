"""Prompt nodes: fixed text, one prompt per line, wildcard templates and joining two texts."""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import NodeError, NodeType, Param, Port, RunContext

if TYPE_CHECKING:  # dynamicprompts and pyparsing take ~0.1 s to import: loaded when a template is expanded
    from dynamicprompts.commands import Command
    from dynamicprompts.parser.config import ParserConfig

Outputs = dict[str, list[Any]]
MAX_NESTING = 20  # far beyond any real template; 50 levels already overflow the wildcard parser

# `{input}` is swapped for this private-use character before expansion and for the input text after it,
# so braces or `|` typed in the input never reach the wildcard parser.
_PLACEHOLDER = "\ue000"
_PARSER_LOCK = threading.Lock()


@cache
def _parser_config() -> ParserConfig:
    """The wildcard parser's settings, with its (cached) parser built: once, on the first template."""
    from dynamicprompts.parser.config import ParserConfig
    from dynamicprompts.parser.parse import get_cached_parser

    # Wildcard files (`__name__`) are not part of the contract; an unmatchable wrap keeps `__init__` literal text.
    config = ParserConfig(wildcard_wrap="\ue001\ue001")
    # dynamicprompts trips a pyparsing deprecation warning while building the parser, which is theirs to fix
    # and would otherwise surface in every run's log; the lock keeps two workers from building it at once.
    with _PARSER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        get_cached_parser(config)
    return config


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _run_text(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    return {"text": [params["text"]]}


def _run_lines(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    lines = [line.strip() for line in params["text"].splitlines() if line.strip()]
    if not lines:
        # An empty batch would silently make nothing downstream; say so instead.
        raise NodeError("prompt.lines has no non-empty line to send on; write one prompt per line",
                        "empty_input")
    return {"text": lines}


def _count(command: Command) -> int | None:
    """How many prompts a parsed template expands to, or None when that is not simple to know."""
    from dynamicprompts.commands import LiteralCommand, SequenceCommand, VariantCommand

    if isinstance(command, LiteralCommand):
        return 1
    if isinstance(command, SequenceCommand):
        total = 1
        for token in command.tokens:
            part = _count(token)
            if part is None:
                return None
            total *= part
        return total
    if isinstance(command, VariantCommand):
        counts = [_count(value) for value in command.values]
        if any(c is None for c in counts):
            return None
        n = len(counts)
        lo, hi = min(command.min_bound, n), min(command.max_bound, n)
        if lo == hi == 1:
            return sum(c for c in counts if c is not None)
        if all(c == 1 for c in counts):
            # `{2$$a|b|c}` picks ordered combinations without repeats: n!/(n-k)! for each k in range.
            return sum(math.perm(n, k) for k in range(lo, hi + 1))
    return None


def _nesting(template: str) -> int:
    """The deepest level of `{` inside `{` in the template."""
    depth = deepest = 0
    for char in template:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth = max(0, depth - 1)
    return deepest


def expand_template(template: str, value: str, limit: int) -> list[str]:
    """Every combination of the template's `{a|b}` alternatives, with `{input}` replaced by `value`."""
    marked = template.replace(_PLACEHOLDER, "").replace("{input}", _PLACEHOLDER)
    depth = _nesting(marked)
    if depth > MAX_NESTING:
        # The wildcard parser recurses per level and would overflow Python's stack (a crash, not a message).
        raise NodeError(f"prompt.template nests {{…}} {depth} levels deep; at most {MAX_NESTING} are allowed",
                        "template_syntax")
    from dynamicprompts.generators import CombinatorialPromptGenerator
    from dynamicprompts.parser.parse import parse
    from pyparsing import ParseBaseException

    generator = CombinatorialPromptGenerator(parser_config=_parser_config())
    try:
        prompts = generator.generate(marked, max_prompts=limit + 1)
    except RecursionError:  # pragma: no cover - MAX_NESTING keeps templates well inside the stack
        raise NodeError("prompt.template is nested too deeply to expand", "template_syntax") from None
    except ParseBaseException as exc:
        near = template[max(0, exc.loc - 10): exc.loc + 10]
        raise NodeError(
            f"prompt.template cannot read its template near position {exc.loc} ({near!r}): "
            "check that every '{' has a matching '}'", "template_syntax",
        ) from None
    if len(prompts) > limit:
        try:
            count = _count(parse(marked, parser_config=_parser_config()))
        except ParseBaseException:  # pragma: no cover - it parsed a moment ago
            count = None
        how_many = f"{count}" if count is not None else f"more than {limit}"
        raise NodeError(
            f"prompt.template would make {how_many} prompts, over its limit of {limit}; "
            "raise 'limit' or use fewer alternatives", "too_many_prompts",
        )
    clean = value.replace(_PLACEHOLDER, "")
    return [p.replace(_PLACEHOLDER, clean) for p in prompts]


def _run_template(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    prompts = expand_template(params["template"], _text(inputs.get("input")), params["limit"])
    if not prompts:
        raise NodeError("prompt.template is empty; write a template such as 'a {red|blue} fox'",
                        "empty_input")
    return {"text": prompts}


def _run_combine(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    parts = [p.strip() for p in (_text(inputs.get("a")), _text(inputs.get("b"))) if p.strip()]
    return {"text": [params["separator"].join(parts)]}


PROMPT_TEXT = NodeType(
    type="prompt.text",
    title="Prompt",
    doc="A fixed prompt text.",
    version=1,
    run=_run_text,
    outputs=(Port("text", "text", doc="the prompt"),),
    params=(Param("text", "text", "", doc="The prompt to send on."),),
)

PROMPT_LINES = NodeType(
    type="prompt.lines",
    title="Prompt lines",
    doc="One prompt per non-empty line: a batch of prompts.",
    version=1,
    run=_run_lines,
    outputs=(Port("text", "text", doc="one item per non-empty line"),),
    params=(Param("text", "text", "", doc="One prompt per line; blank lines are skipped."),),
)

PROMPT_TEMPLATE = NodeType(
    type="prompt.template",
    title="Prompt template",
    doc="Expands {a|b} alternatives into every combination; {input} takes the incoming text.",
    version=1,
    run=_run_template,
    inputs=(Port("input", "text", optional=True, doc="text for {input}"),),
    outputs=(Port("text", "text", doc="one item per combination"),),
    params=(
        Param("template", "text", "{input}", required=True,
              doc="Template text; {a|b} picks each alternative in turn, {input} is the incoming text."),
        Param("limit", "int", 100, minimum=1, maximum=10000,
              doc="Refuse templates that expand to more prompts than this."),
    ),
)

PROMPT_COMBINE = NodeType(
    type="prompt.combine",
    title="Combine prompts",
    doc="Joins two texts with a separator, skipping empty ones.",
    version=1,
    run=_run_combine,
    inputs=(Port("a", "text", doc="first part"), Port("b", "text", doc="second part")),
    outputs=(Port("text", "text", doc="the joined text"),),
    params=(Param("separator", "string", ", ", doc="Put between the two parts."),),
)
