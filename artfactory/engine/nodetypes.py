"""How a node type is declared: typed ports, typed params with defaults, a version and a run function."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from artfactory.engine.document import bad_text

if TYPE_CHECKING:
    from PIL import Image

    from artfactory.engine.cost import Usage

# "any": a port whose values are checked where they land (value.list, whose items may be numbers or text).
# "mask": a one-channel image (white = the area to change); an image arriving there is converted when the node runs.
PORT_KINDS = ("text", "image", "video", "media", "number", "any", "mask")
_LARGEST_INT = 2**63 - 1
PARAM_KINDS = ("string", "text", "int", "float", "bool", "choice", "object", "path", "list")
MAX_LIST_ITEMS = 1000  # a "list" param (value.list): one execution downstream per item


def port_fits(source: str, target: str) -> bool:
    """Whether an output of kind `source` may feed an input of kind `target` (DESIGN §3)."""
    if source == target:
        return True
    if target == "any":
        return True
    if source == "any":  # plain values only: their items are checked where they land
        return target in ("text", "number")
    if target == "media" and source in ("image", "video", "mask"):
        return True
    # A mask is an image with one channel, so it fits any image input; an image (or a media item, checked when
    # the node runs) fits a mask input and is reduced to one channel then: its alpha if real, else its luminance.
    if source == "mask":
        return target == "image"
    if target == "mask":
        return source in ("image", "media")
    # A media output may feed an image or video input; each item is checked when the node runs.
    return source == "media" and target in ("image", "video")


def frames_hint(source: str, target: str) -> str:
    """The fix to name when a video meets an image-only input: image nodes work on frames, not clips."""
    return "; extract frames first with video.frames" if source == "video" and target in ("image", "mask") else ""


# Which port kinds can carry a value into a param of each kind (a param input, DESIGN §10).
_PARAM_CARRIERS = {
    "int": ("number", "any"), "float": ("number", "any"), "bool": ("any",),
    "string": ("text", "any"), "text": ("text", "any"), "choice": ("text", "any"), "path": ("text", "any"),
    "object": ("any",),
}
PARAM_INPUT_PREFIX = "param:"


def param_carries(port_kind: str, param_kind: str) -> bool:
    """Whether an output of kind `port_kind` may feed a param of kind `param_kind` through a param input."""
    return port_kind in _PARAM_CARRIERS.get(param_kind, ())


def param_port_kind(param_kind: str) -> str:
    """The port kind a param shows as an input: number for numbers, text for text, any for the rest."""
    return "number" if param_kind in ("int", "float") else "text" if param_kind in (
        "string", "text", "choice", "path") else "any"


@dataclass(frozen=True)
class Port:
    name: str
    kind: str
    optional: bool = False
    whole_list: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PORT_KINDS:
            raise ValueError(f"port {self.name!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Param:
    """A node parameter: its type, default, range or choices and a one-line doc."""

    name: str
    kind: str
    default: Any = None
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"param {self.name!r}: unknown kind {self.kind!r}")

    def coerce(self, value: Any) -> Any:
        """The value in this param's type, or ValueError with a message a user understands."""
        kind = self.kind
        if kind in ("string", "text", "path", "choice"):
            if not isinstance(value, str):
                raise ValueError(f"expects text, got {_json_type(value)}")
            problem = bad_text(value)
            if problem:  # it could never be stored, hashed or sent; say so now, not as a crash mid-run
                raise ValueError(problem)
            if kind == "path" and "\x00" in value:
                raise ValueError("contains a NUL character, which no file path can hold")
            if kind == "choice" and self.choices and value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {value!r}")
            if self.required and not value.strip():
                raise ValueError("is required")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expects true or false, got {_json_type(value)}")
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"expects a whole number, got {_json_type(value)}")
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(f"expects a whole number, got {value}")
                value = int(value)
            if abs(value) > _LARGEST_INT:  # beyond what the database and the providers take
                raise ValueError(f"is too large ({len(str(abs(value))):,} digits)")
            self._check_range(value)
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"expects a number, got {_json_type(value)}")
            try:
                value = float(value)
            except OverflowError:
                raise ValueError(f"is too large ({len(str(abs(value))):,} digits)") from None
            if not math.isfinite(value):
                raise ValueError("expects a finite number")
            self._check_range(value)
            return value
        if kind == "list":
            return _coerce_list(value)
        if kind == "object":
            if not isinstance(value, dict):
                raise ValueError(f"expects an object, got {_json_type(value)}")
            try:  # what canonical(), the cache key and the database will do with it
                json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("holds text that is not valid Unicode (a lone surrogate such as \\ud800)") from None
            except ValueError:
                raise ValueError("holds a number JSON cannot carry (NaN or infinity)") from None
            return value
        raise ValueError(f"unsupported kind {kind}")  # pragma: no cover - guarded in __post_init__

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {_fmt(self.minimum)}, got {_fmt(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {_fmt(self.maximum)}, got {_fmt(value)}")

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (for forms and `--json` listings)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "doc": self.doc}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.required:
            out["required"] = True
        return out


def _coerce_list(value: Any) -> list[Any]:
    """A "list" param: a JSON array of numbers, text or booleans, at most MAX_LIST_ITEMS of them."""
    if not isinstance(value, list):
        raise ValueError(f"expects a list (a JSON array such as [1, 2, 3]), got {_json_type(value)}")
    if len(value) > MAX_LIST_ITEMS:
        raise ValueError(f"has {len(value):,} items; at most {MAX_LIST_ITEMS:,}")
    for index, item in enumerate(value):
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"item {index + 1} is not a finite number")
        if not isinstance(item, str | int | float | bool):
            raise ValueError(f"item {index + 1} is {_json_type(item)}; items must be numbers, text or booleans")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > _LARGEST_INT:
            raise ValueError(f"item {index + 1} is too large")
        problem = bad_text(item)
        if problem:
            raise ValueError(f"item {index + 1} {problem}")
    return list(value)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = repr(value) if len(value) <= 60 else f"{value[:50]!r}… ({len(value):,} characters)"
        return f"the text {shown}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class Media:
    """An image or video travelling on a port: a stored product and what it carries for lineage."""

    product_id: str
    path: Path
    media_type: str
    width: int | None = None
    height: int | None = None
    prompt: str = ""
    seed: int | None = None
    # The swept values that made this item ({"gen.seed": 3}), from param inputs upstream (product metadata "sweep").
    sweep: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # What making it took, where the provider said (seconds of its own timing) and what it cost (the ledger's
    # price of its job), for a shoot-out sheet; None when unknown.
    seconds: float | None = None
    cost_usd: float | None = None
    # The name its origin gave it ("IMG_0042.jpg", a product's name), carried down the graph in product metadata
    # "title" so a contact sheet of a folder's photos can label each cell with it.
    title: str = field(default="", hash=False, compare=False)


def media_facts(meta: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    """(seconds, cost in USD) of a product from its metadata: the provider's own run time (Replicate predict_time,
    fal inference_time, else completed − created) and the "cost_usd" priced for its job."""
    meta = meta if isinstance(meta, Mapping) else {}
    found = meta.get("timings")
    timings: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    seconds: Any = timings.get("predict_time", timings.get("inference_time"))
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        seconds = _elapsed(timings.get("created"), timings.get("completed"))
    cost = meta.get("cost_usd")
    return (float(seconds) if seconds is not None else None,
            float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None)


def _elapsed(start: Any, end: Any) -> float | None:
    from datetime import datetime

    try:
        seconds = (datetime.fromisoformat(str(end).replace("Z", "+00:00"))
                   - datetime.fromisoformat(str(start).replace("Z", "+00:00"))).total_seconds()
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


@dataclass
class NewMedia:
    """A file a node made: either a Pillow image to encode or a finished file in temp/ to adopt."""

    image: Image.Image | None = None
    file: Path | None = None
    format: str = "png"
    quality: int = 95
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    # The params of the batch item that made it, when they differ from the node's (a param input fanned it out).
    params: dict[str, Any] | None = None


class NodeError(Exception):
    """A failure a user can act on; the message is shown on the node as is."""

    def __init__(self, message: str, code: str = "node_failed") -> None:
        super().__init__(message)
        self.code = code


class NodeCanceled(Exception):
    """Raised inside a node when its order or the node itself was cancelled."""


class RunContext(Protocol):
    """What a running node may use; the executor provides it."""

    node_id: str
    order_id: str
    home: Path
    settings: Any
    storage: Any
    previous_remote: dict[str, Any] | None
    item_index: int

    @property
    def canceled(self) -> bool: ...

    def check_canceled(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def progress(self, percent: float, message: str = "") -> None: ...

    def seed_for(self, index: int | None = None) -> int: ...

    def remember_remote(self, job_id: str, state: dict[str, Any]) -> None: ...

    def report_usage(self, usage: Usage) -> None: ...

    def add_to_collection(self, name: str, items: Sequence[Media]) -> None: ...

    def log(self, message: str) -> None: ...


RunFunction = Callable[[RunContext, Mapping[str, Any], Mapping[str, Any]], Mapping[str, Sequence[Any]]]
ExternalKey = Callable[[Mapping[str, Any], Path], str]


@dataclass(frozen=True)
class NodeType:
    """A node type of the catalogue.

    `run(ctx, inputs, params)` is called once per batch item (inputs zipped, single items broadcast;
    a `whole_list` input receives the whole list) and returns a list of values per output port; the
    lists of all calls are concatenated. Text ports carry str, number ports float, media ports
    `Media` (pass-through) or `NewMedia` (made here; the executor stores it as a product).
    """

    type: str
    title: str
    run: RunFunction
    version: int = 1
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    params: tuple[Param, ...] = ()
    doc: str = ""
    provider: str | None = None
    seed_param: str | None = None
    external_key: ExternalKey | None = None
    # Checks across params after each is coerced: (param, message) problems, reported as `bad_param`.
    check_params: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None
    # Whether these params ask for a fresh random seed although the seed param is concrete (value.seed random).
    random_seed: Callable[[Mapping[str, Any]], bool] | None = None
    # Its outputs are products already in the library that the order takes in (input.product): recorded per order
    # (order_inputs), so a product's "used in" names the orders that took it.
    takes_in: bool = False
    # Input ports a node has beyond `inputs`, made from its params (a provider node's schema fields that take
    # files); it must tolerate raw, unchecked params. Validation, planning and runs see them through inputs_for().
    extra_inputs: Callable[[Mapping[str, Any]], tuple[Port, ...]] | None = None

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def inputs_for(self, params: Mapping[str, Any] | None) -> tuple[Port, ...]:
        """The input ports of a node of this type with these params: the declared ones, then its extra ones."""
        if self.extra_inputs is None or not params:
            return self.inputs
        taken = {p.name for p in self.inputs}
        return (*self.inputs, *(p for p in self.extra_inputs(params) if p.name not in taken))

    def input_for(self, name: str, params: Mapping[str, Any] | None) -> Port | None:
        return next((p for p in self.inputs_for(params) if p.name == name), None)

    def specialized(self, params: Mapping[str, Any] | None) -> NodeType:
        """This type with a node's extra inputs made declared ones (what a planned node runs with); itself when
        there are none. Never registered: the registry keeps the declared type."""
        inputs = self.inputs_for(params)
        if inputs is self.inputs or len(inputs) == len(self.inputs):
            return self
        return replace(self, inputs=inputs, extra_inputs=None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "version": self.version,
            "doc": self.doc,
            "inputs": [{"name": p.name, "kind": p.kind, "optional": p.optional} for p in self.inputs],
            "outputs": [{"name": p.name, "kind": p.kind} for p in self.outputs],
            "params": [p.describe() for p in self.params],
        }
