"""Running one node over its batch: zip + broadcast, media checks, storing what it made as product drafts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artfactory.engine.context import CollectionAdd, NodeContext
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import Media, NewMedia, NodeCanceled, NodeError, NodeType
from artfactory.engine.ports import ProductDraft, ProductStorage, ProductStorageError, encode_outputs
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
                f"input {port_name!r} of {node_type.type} takes an {port.kind} but received a "
                f"{value.media_type} (product {value.product_id})", code="media_type",
            )


def run_batch(node_type: NodeType, ctx: NodeContext, inputs: Mapping[str, list[Any] | None],
              params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Call the node once per batch item and concatenate what it returns per output port."""
    for name, values in inputs.items():
        if values is not None:
            _check_media(node_type, name, values)
    count = batch_size(node_type, inputs)
    outputs: dict[str, list[Any]] = {port.name: [] for port in node_type.outputs}
    for index in range(count):
        ctx.check_canceled()
        ctx.begin_item(index)
        item_inputs: dict[str, Any] = {}
        for name, values in inputs.items():
            if values is None:
                item_inputs[name] = None
            elif _whole_list(node_type, name):
                item_inputs[name] = list(values)
            else:
                item_inputs[name] = values[0] if len(values) == 1 else values[index]
        result = node_type.run(ctx, item_inputs, params)
        for port, produced in (result or {}).items():
            if port not in outputs:
                raise NodeError(f"{node_type.type} returned an undeclared output {port!r}", code="internal")
            outputs[port].extend(produced)
    return outputs


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
                                     batch_index=len(drafts), stored=stored, params=dict(params), meta=meta,
                                     name=item.name)
                drafts.append(draft)
                seed = meta.get("seed")
                out.append(Media(product_id=product_id, path=storage.absolute(stored.relative_path),
                                 media_type=stored.info.media_type, width=stored.info.width,
                                 height=stored.info.height, prompt=str(meta.get("prompt") or ""),
                                 seed=seed if isinstance(seed, int) else None))
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
                           usage=list(ctx.usage))
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
