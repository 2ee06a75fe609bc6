"""Running one node over its batch: zip + broadcast, media checks, storing what it made as product drafts."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artfactory.engine.context import CollectionAdd, NodeContext
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import (
    PARAM_INPUT_PREFIX,
    Media,
    NewMedia,
    NodeCanceled,
    NodeError,
    NodeType,
    frames_hint,
    media_facts,
)
from artfactory.engine.ports import ProductDraft, ProductStorage, ProductStorageError, encode_outputs, encode_value
from artfactory.engine.status import NodeStatus
from artfactory.models import new_id

log = logging.getLogger("artfactory.engine")


@dataclass
class NodeOutcome:
    """What a worker hands back to the writer when a node ends."""

    node_id: str
    status: NodeStatus  # executed | failed | canceled
    values: dict[str, list[Any]] = field(default_factory=dict)
    products: list[ProductDraft] = field(default_factory=list)
    collection_adds: list[CollectionAdd] = field(default_factory=list)
    error: str | None = None
    code: str | None = None
    usage: list[Usage] = field(default_factory=list)  # what its remote jobs used (also on failure, when known)
    messages: list[str] = field(default_factory=list)  # what the node logged (e.g. the files a folder skipped)

    @property
    def encoded(self) -> dict[str, list[Any]]:
        return encode_outputs(self.values)


def batch_size(node_type: NodeType, inputs: Mapping[str, list[Any] | None]) -> int:
    """Items to run: zip of the mapped inputs where a single item is broadcast (DESIGN §3)."""
    lengths = {name: len(values) for name, values in inputs.items()
               if values is not None and not _whole_list(node_type, name)}
    if not lengths:
        return 1
    if any(n == 0 for n in lengths.values()):
        return 0
    longest = max(lengths.values())
    uneven = {name: n for name, n in lengths.items() if n not in (1, longest)}
    if uneven:
        sizes = ", ".join(f"{name} has {n}" for name, n in sorted(lengths.items()))
        raise NodeError(f"batch sizes do not match ({sizes}); each input needs 1 item or the same count",
                        code="batch_mismatch")
    return longest


def _whole_list(node_type: NodeType, port_name: str) -> bool:
    port = node_type.input(port_name)
    return bool(port and port.whole_list)


def _check_media(node_type: NodeType, port_name: str, values: Sequence[Any]) -> None:
    port = node_type.input(port_name)
    if port is None or port.kind not in ("image", "video"):
        return
    for value in values:
        if isinstance(value, Media) and value.media_type != port.kind:
            raise NodeError(
                f"input {port_name!r} of {node_type.type} takes {_a(port.kind)} but received "
                f"{_a(value.media_type)} (product {value.product_id})" + frames_hint(value.media_type, port.kind),
                code="media_type",
            )


def _masks_converted(node_type: NodeType, ctx: NodeContext, inputs: dict[str, list[Any] | None],
                     ) -> dict[str, list[Any] | None]:
    """Every value on a `mask` input as a one-channel file (DESIGN §3): an image is converted, a mask passes."""
    mask_ports = [p.name for p in node_type.inputs if p.kind == "mask" and inputs.get(p.name) is not None]
    if not mask_ports:
        return inputs
    from artfactory.engine.masks import as_mask

    temp_dir = getattr(ctx.storage, "temp_dir", None)
    converted = dict(inputs)
    for name in mask_ports:
        converted[name] = [as_mask(value, temp_dir, node=node_type.type, port=name) for value in inputs[name] or ()]
    return converted


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def param_sweep(node_type: NodeType, node_id: str, inputs: Mapping[str, list[Any] | None],
                ) -> list[dict[str, Any]]:
    """The param values arriving on "param:NAME" inputs, one dict per execution, each value checked against its
    param (NodeError `bad_param` naming param and value). Lists of several values combine into every combination
    (the node's params in declared order, the last varying fastest), so two lists make rows × columns."""
    arriving: list[tuple[str, list[Any]]] = []
    for param in node_type.params:
        values = inputs.get(PARAM_INPUT_PREFIX + param.name)
        if values is None:
            continue
        checked = []
        for value in values:
            try:
                checked.append(param.coerce(value))
            except ValueError as exc:
                raise NodeError(f"param {param.name!r} of {node_id} received {_shown(value)} through its input, "
                                f"which it cannot take: {exc}", code="bad_param") from None
        arriving.append((param.name, checked))
    combos: list[dict[str, Any]] = [{}]
    for name, values in arriving:
        combos = [{**combo, name: value} for combo in combos for value in values]
    return combos


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "…"


def _item_title(item_inputs: Mapping[str, Any]) -> str:
    """The title of the first medium an item received (its first input's), which what it makes inherits."""
    for value in item_inputs.values():
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, Media) and first.title:
            return first.title
    return ""


def _item_sweep(node_id: str, node_type: NodeType, item_inputs: Mapping[str, Any],
                combo: Mapping[str, Any]) -> dict[str, Any]:
    """What made one item: the sweeps of the media it received (per item, not whole lists) and its own
    param-input values as {"NODE.PARAM": value}."""
    sweep: dict[str, Any] = {}
    for name, value in item_inputs.items():
        if isinstance(value, Media) and not _whole_list(node_type, name):
            sweep.update(value.sweep)
    sweep.update({f"{node_id}.{name}": value for name, value in combo.items()})
    return sweep


def run_batch(node_type: NodeType, ctx: NodeContext, inputs: Mapping[str, list[Any] | None],
              params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Call the node once per batch item and concatenate what it returns per output port. Values on param
    inputs ("param:NAME") replace those params per item and fan the node out like any batch (DESIGN §10)."""
    swept = {name: values for name, values in inputs.items() if name.startswith(PARAM_INPUT_PREFIX)}
    inputs = {name: values for name, values in inputs.items() if name not in swept}
    for name, values in inputs.items():
        if values is not None:
            _check_media(node_type, name, values)
    inputs = _masks_converted(node_type, ctx, inputs)
    combos = param_sweep(node_type, ctx.node_id, swept) if swept else [{}]
    count = batch_size(node_type, inputs)
    if not combos:
        count = 0
    elif len(combos) != 1 and count not in (0, 1, len(combos)):
        raise NodeError(f"batch sizes do not match (the param inputs make {len(combos)} items, the other inputs "
                        f"{count}); each needs 1 item or the same count", code="batch_mismatch")
    elif count == 1:
        count = len(combos)
    seed_name = node_type.seed_param

    def item(index: int) -> tuple[dict[str, Any], dict[str, Any], Mapping[str, Any]]:
        """Batch item `index`: its inputs, its param-input values and its params; the context moves to it."""
        ctx.begin_item(index)
        item_inputs: dict[str, Any] = {}
        for name, values in inputs.items():
            if values is None:
                item_inputs[name] = None
            elif _whole_list(node_type, name):
                item_inputs[name] = list(values)
            else:
                item_inputs[name] = values[0] if len(values) == 1 else values[index]
        combo = combos[0] if len(combos) == 1 else combos[index]
        # A seed that arrived on an input is the item's seed exactly (a sweep over seeds 3, 4 shows 3 and 4).
        seed = combo.get(seed_name) if seed_name else None
        ctx.item_seed = seed if isinstance(seed, int) and seed >= 0 else None
        return item_inputs, combo, ({**params, **combo} if combo else params)

    # A fanned-out sweep remembers each item's product by an item key, so changing one value of a list runs
    # only the items that changed; the others take the products made before.
    keys: list[str | None] = [None] * count
    reused: dict[str, list[Media]] = {}
    if swept and ctx.find_items is not None and _one_media_output(node_type):
        for index in range(count):
            item_inputs, _, item_params = item(index)
            keys[index] = item_key(node_type, item_inputs, item_params, ctx)
        reused = ctx.find_items([k for k in keys if k is not None])
    outputs: dict[str, list[Any]] = {port.name: [] for port in node_type.outputs}
    for index in range(count):
        ctx.check_canceled()
        item_inputs, combo, item_params = item(index)
        key = keys[index]
        if key is not None and reused.get(key):
            outputs[node_type.outputs[0].name].extend(reused[key])
            ctx.log(f"item {index + 1}: same as before, product reused")
            continue
        result = node_type.run(ctx, item_inputs, item_params)
        sweep = _item_sweep(ctx.node_id, node_type, item_inputs, combo)
        title = _item_title(item_inputs)
        for port, produced in (result or {}).items():
            if port not in outputs:
                raise NodeError(f"{node_type.type} returned an undeclared output {port!r}", code="internal")
            for made in produced:
                if isinstance(made, NewMedia):
                    if sweep:
                        made.meta["sweep"] = {**sweep, **(made.meta.get("sweep") or {})}
                    if title:
                        made.meta.setdefault("title", title)
                    if combo:
                        made.params = dict(item_params)
                    if key is not None:
                        made.meta["item_key"] = key
            outputs[port].extend(produced)
    ctx.item_seed = None
    return outputs


def _one_media_output(node_type: NodeType) -> bool:
    return len(node_type.outputs) == 1 and node_type.outputs[0].kind in ("image", "video", "media", "mask")


def item_key(node_type: NodeType, item_inputs: Mapping[str, Any], item_params: Mapping[str, Any],
             ctx: NodeContext) -> str:
    """One batch item's key: node type and version, the item's params and seed, and what it received (media by
    product id). Two items with the same key make the same product."""
    payload = {
        "type": node_type.type, "version": node_type.version, "params": dict(item_params),
        "seed": ctx.seed_for() if node_type.seed_param else None,
        "inputs": {name: _encoded(value) for name, value in item_inputs.items()},
        "external": node_type.external_key(item_params, ctx.home) if node_type.external_key else None,
    }
    # The same canonical JSON as engine.plan's cache keys (plan is not imported: it brings networkx along).
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "item:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encoded(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_encoded(v) for v in value]
    return encode_value(value)


def store_new_media(node_type: NodeType, node_id: str, values: dict[str, list[Any]], storage: ProductStorage,
                    *, project_id: int, params: Mapping[str, Any], find_existing: Any = None,
                    ) -> tuple[dict[str, list[Any]], list[ProductDraft]]:
    """Turn every NewMedia into a stored file + product draft; outputs then carry Media only."""
    drafts: list[ProductDraft] = []
    stored_values: dict[str, list[Any]] = {}
    try:
        for port, items in values.items():
            out: list[Any] = []
            for item in items:
                if not isinstance(item, NewMedia):
                    out.append(item)
                    continue
                product_id = new_id()
                kwargs = {"project_id": project_id, "product_id": product_id, "find_existing": find_existing}
                if item.image is not None:
                    stored = storage.store_image(item.image, format=item.format, quality=item.quality, **kwargs)
                elif item.file is not None:
                    inside_temp = _is_inside(item.file, storage.temp_dir)
                    stored = storage.store(Path(item.file), move=inside_temp, display_name=item.name or None,
                                           **kwargs)
                else:
                    raise NodeError(f"{node_type.type} returned an empty media result", code="internal")
                meta = dict(item.meta)
                meta.setdefault("node_type", node_type.type)
                draft = ProductDraft(id=product_id, node_id=node_id, node_type=node_type.type,
                                     batch_index=len(drafts), stored=stored,
                                     params=dict(params if item.params is None else item.params), meta=meta,
                                     name=item.name)
                drafts.append(draft)
                seed = meta.get("seed")
                out.append(Media(product_id=product_id, path=storage.absolute(stored.relative_path),
                                 media_type=stored.info.media_type, width=stored.info.width,
                                 height=stored.info.height, prompt=str(meta.get("prompt") or ""),
                                 seed=seed if isinstance(seed, int) else None,
                                 sweep=dict(meta.get("sweep") or {}), seconds=media_facts(meta)[0],
                                 title=str(meta.get("title") or "")))
            stored_values[port] = out
    except BaseException:
        discard_drafts(storage, drafts)
        raise
    return stored_values, drafts


def discard_drafts(storage: ProductStorage, drafts: Sequence[ProductDraft]) -> None:
    """Remove files written for a node that did not finish, so no orphan stays in the library."""
    for draft in drafts:
        if not draft.stored.deduplicated:
            try:
                storage.delete_file(draft.stored.relative_path)
            except (OSError, ProductStorageError):
                log.warning("could not remove %s", draft.stored.relative_path)


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def execute_node(node_type: NodeType, node_id: str, ctx: NodeContext, inputs: Mapping[str, list[Any] | None],
                 params: Mapping[str, Any], storage: ProductStorage, *, project_id: int,
                 redact: Callable[[str], str], find_existing: Any = None) -> NodeOutcome:
    """Run a node to its outcome; never raises (a worker thread must always report back). `redact` takes
    keys out of error texts (services.secrets.redact in the app)."""
    try:
        values = run_batch(node_type, ctx, inputs, params)
        ctx.check_canceled()
        stored_values, drafts = store_new_media(node_type, node_id, values, storage, project_id=project_id,
                                                params=params, find_existing=find_existing)
        return NodeOutcome(node_id, NodeStatus.EXECUTED, stored_values, drafts, list(ctx.collection_adds),
                           usage=list(ctx.usage), messages=list(ctx.messages))
    except NodeCanceled:
        return NodeOutcome(node_id, NodeStatus.CANCELED, error="canceled", code="canceled", usage=list(ctx.usage))
    except NodeError as exc:
        # Error texts go to the database, the CLI and exports: no key may ride along (plugins included).
        return NodeOutcome(node_id, NodeStatus.FAILED, error=redact(str(exc)), code=exc.code, usage=used(ctx, exc))
    except ProductStorageError as exc:
        return NodeOutcome(node_id, NodeStatus.FAILED, error=str(exc), code="storage", usage=list(ctx.usage))
    except MemoryError:
        return NodeOutcome(node_id, NodeStatus.FAILED, error="out of memory", code="memory", usage=list(ctx.usage))
    except Exception as exc:
        log.exception("node %s (%s) crashed", node_id, node_type.type)
        return NodeOutcome(node_id, NodeStatus.FAILED, error=redact(f"internal error in {node_type.type}: {exc!r}"),
                           code="internal", usage=list(ctx.usage))


def used(ctx: NodeContext, exc: BaseException) -> list[Usage]:
    """What a node's jobs used: those that finished (ctx.usage) and the one a failure reported (the error's
    `usage`, set by provider clients when the provider's answer carried metrics); each job once."""
    usage = list(ctx.usage)
    seen = {u.job_id for u in usage if u.job_id}
    extra = getattr(exc, "usage", None)
    for item in extra if isinstance(extra, list | tuple) else ():
        if isinstance(item, Usage) and not (item.job_id and item.job_id in seen):
            usage.append(item)
            seen.add(item.job_id)
    return usage
