"""Cloud provider nodes: one `provider.<id>` node per registered provider, all run by one generic function."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from artfactory.engine.context import RemoteNotStored
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import NewMedia, NodeCanceled, NodeError, NodeType, Param, Port, RunContext
from artfactory.providers import registry
from artfactory.providers.downloads import download
from artfactory.providers.http import CancelCheck, ProviderError, remembered_job
from artfactory.providers.registry import Finished, ProviderSpec
from artfactory.providers.uploads import FIELD_KINDS, LIST_SUFFIX, FileSender
from artfactory.services.secrets import MissingKeyError, SecretsError, get_key

# The remote job fills the progress bar up to here; downloading the outputs fills the rest.
REMOTE_SHARE = 90.0
# A create answered after the node was cancelled gets its cancel; wait this long for that one.
LATE_CANCEL_FOREGROUND_S = 30.0
# Output answers that say a finished job's files are gone for good.
GONE_STATUSES = (404, 410)


def _key(provider: str) -> str:
    """The provider key, or NodeError("missing_key") before any request is made."""
    try:
        key = get_key(provider)
    except SecretsError as exc:
        raise NodeError(str(exc), "missing_key") from None
    if not key:
        raise NodeError(str(MissingKeyError(provider)), "missing_key")
    return key


def media_fields(params: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(field, port kind, whole list) of each well-formed entry of a node's `media_inputs` param, in order.

    Raw params are taken as they come (the canvas asks before validation): malformed entries are skipped here and
    named by check_media_inputs."""
    value = params.get(MEDIA_INPUTS) if isinstance(params, Mapping) else None
    if not isinstance(value, Mapping):
        return []
    found = []
    for name, kind in value.items():
        if not isinstance(name, str) or not isinstance(kind, str) or _field_problem(name):
            continue
        is_list = kind.endswith(LIST_SUFFIX)
        base = kind[: -len(LIST_SUFFIX)] if is_list else kind
        if base in FIELD_KINDS:
            found.append((name, base, is_list))
    return found


def _field_problem(name: str) -> str | None:
    if not name.strip() or len(name) > 100 or any(c in name for c in "/\\:\n\r\t "):
        return "is not a usable input field name"
    if name in ("prompt", "seed"):
        return "is filled by the node itself"
    return None


def check_media_inputs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of the `media_inputs` param: each entry must be FIELD: KIND with KIND one of FIELD_KINDS."""
    value = params.get(MEDIA_INPUTS)
    if not isinstance(value, Mapping):
        return []
    problems = []
    kinds = ", ".join(FIELD_KINDS)
    for name, kind in value.items():
        base = kind[: -len(LIST_SUFFIX)] if isinstance(kind, str) and kind.endswith(LIST_SUFFIX) else kind
        problem = _field_problem(str(name))
        if problem:
            problems.append((MEDIA_INPUTS, f"field {str(name)[:60]!r} {problem}"))
        elif base not in FIELD_KINDS:
            problems.append((MEDIA_INPUTS, f"field {name!r} has kind {str(kind)[:40]!r}; kinds: {kinds} "
                                           f"(with {LIST_SUFFIX} for a list)"))
    return problems[:10]


def image_field(spec: ProviderSpec, params: Mapping[str, Any]) -> str:
    """The input field the node's `image` port fills."""
    return str(params.get("image_field") or "").strip() or spec.node.image_field


def file_ports(spec: ProviderSpec, params: Mapping[str, Any]) -> tuple[Port, ...]:
    """The node's ports for its model's file fields (its `media_inputs`), but the one the image port fills."""
    filled = image_field(spec, params) if isinstance(params, Mapping) else spec.node.image_field
    return tuple(
        Port(name, kind, optional=True, whole_list=is_list,
             doc=f"sent as input.{name}" + (" (the whole batch, as a list)" if is_list else ""))
        for name, kind, is_list in media_fields(params) if name != filled and name not in ("prompt", "image")
    )


def build_input(spec: ProviderSpec, inputs: Mapping[str, Any], params: Mapping[str, Any],
                files: FileSender | None = None) -> dict[str, Any]:
    """The JSON input sent to the provider.

    Starts from the free-form `input` param; a non-empty `prompt` port value overrides input["prompt"]
    (the wire is the more specific, per-item source); the image port's file goes under `image_field`
    (default: the field the provider declares) and each file port's under its field — as `files` sends
    them (a data: URI, an uploaded file's URL, a local path); `seed` is sent only when >= 0.
    """
    body = copy.deepcopy(dict(params.get("input") or {}))
    prompt = inputs.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        body["prompt"] = prompt
    image = inputs.get("image")
    if image is not None:
        body[image_field(spec, params)] = _send(files, spec, image, image_field(spec, params), "image")
    for port in file_ports(spec, params):
        value = inputs.get(port.name)
        if value is None:
            continue
        if port.whole_list:
            body[port.name] = [_send(files, spec, item, port.name, port.kind) for item in value]
        else:
            body[port.name] = _send(files, spec, value, port.name, port.kind)
    seed = params.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        body["seed"] = seed
    return body


def _send(files: FileSender | None, spec: ProviderSpec, value: Any, field: str, kind: str) -> str:
    if files is None:  # no key, no order: files go inline (nothing is uploaded without both)
        files = FileSender(replace(spec, media=replace(spec.media, upload=None)), settings=None, key="", order_id="")
    return files.send(value, field, kind)


def elide_data(value: Any) -> Any:
    """The input with data: URIs shortened, so product metadata stays small and readable."""
    if isinstance(value, str) and value.startswith("data:") and "," in value:
        header, payload = value.split(",", 1)
        return f"{header},… ({len(payload) * 3 // 4} bytes)"
    if isinstance(value, dict):
        return {k: elide_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [elide_data(v) for v in value]
    return value


def _progress_reporter(ctx: RunContext) -> Callable[[float, str], None]:
    last: list[tuple[float, str]] = []

    def report(percent: float, message: str) -> None:
        scaled = percent * REMOTE_SHARE / 100.0
        if not last or last[0] != (scaled, message):
            last[:] = [(scaled, message)]
            ctx.progress(scaled, message)

    return report


def _download_all(ctx: RunContext, provider: str, refs: Sequence[str], job_id: str) -> list[Path]:
    """Every output into temp/, verified; on any failure the ones already fetched are removed."""
    if not refs:
        raise NodeError(f"{provider} job {job_id} finished without any file output", "bad_output")
    paths: list[Path] = []
    try:
        for index, ref in enumerate(refs):
            ctx.check_canceled()
            percent = REMOTE_SHARE + (100.0 - REMOTE_SHARE) * index / len(refs)
            ctx.progress(percent, f"downloading output {index + 1} of {len(refs)}")
            paths.append(download(ref, ctx.storage, ctx, f"{provider} output {index + 1} of job {job_id}",
                                  settings=ctx.settings))
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    return paths


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the one run function ----------------------------------------------------------------------


class CloudNodeError(NodeError):
    """A provider node's failure; `usage` is what the failed job used as the provider reported it (Replicate
    bills a failed prediction for its time), so the ledger records what the failure cost."""

    def __init__(self, message: str, code: str = "node_failed", usage: Sequence[Usage] = ()) -> None:
        super().__init__(message, code)
        self.usage: list[Usage] = list(usage)


def _mark_ended(ctx: RunContext, job_id: str, state: Mapping[str, Any], how: str) -> None:
    """Record that the job is over for good ("failed", "canceled", "expired"), so no run re-attaches to it.

    It goes through ctx.remember_remote like the first record; when that cannot be stored the node's own
    error still wins (the next run then meets the job's end again, and records it then)."""
    try:
        ctx.remember_remote(job_id, {**{k: v for k, v in state.items() if k != "job_id"}, "ended": how})
    except RemoteNotStored as exc:
        ctx.log(f"could not record that job {job_id} ended ({exc})")


def _job_failed(ctx: RunContext, client: Any, job: dict[str, Any] | None, job_id: str, state: Mapping[str, Any],
                exc: ProviderError, *, stage: str, resumed: bool, finished: Finished | None) -> ProviderError:
    """The error of a job that failed after it was recorded, once the job's fate is settled.

    The provider said it ended → recorded as ended. A re-attached job's outputs are gone (404/410) → recorded
    as expired. The job vanished → expired. Polling gave up on a job still running (an outage past its window,
    any other failure) → the job is canceled, and recorded as canceled once the provider confirmed it;
    when the cancel does not get through, the job stays recorded so the next run re-attaches instead of
    paying again."""
    noun = getattr(client, "JOB_NOUN", "job")
    if exc.ended:
        _mark_ended(ctx, job_id, state, exc.ended)
        return exc
    if stage == "download" and resumed and exc.status in GONE_STATUSES:
        _mark_ended(ctx, job_id, state, "expired")
        return ProviderError(f"the outputs of {noun} {job_id} are no longer available (HTTP {exc.status}); the "
                             "next run creates a new one", "expired", status=exc.status, ended="expired",
                             usage=finished.usage if finished is not None else None)
    if stage != "poll":
        return exc  # the job finished: it stays recorded, and the next run fetches its outputs again
    if exc.code == "not_found":
        _mark_ended(ctx, job_id, state, "expired")
        return ProviderError(f"{exc}; the next run creates a new {noun}", exc.code, status=exc.status,
                             ended="expired")
    confirm = getattr(client, "cancel_confirmed", None)
    if job is None or exc.code == "auth" or not getattr(client, "CANCELS_REMOTELY", False) or confirm is None:
        return exc
    outcome = confirm(job)
    if outcome == "canceled":
        _mark_ended(ctx, job_id, state, "canceled")
        return ProviderError(f"{exc}; {noun} {job_id} was canceled", exc.code, status=exc.status,
                             ended="canceled")
    if outcome == "finished":
        return ProviderError(f"{exc}; {noun} {job_id} had already finished: the next run fetches its outputs "
                             "instead of paying again", exc.code, status=exc.status)
    return ProviderError(f"{exc}; canceling {noun} {job_id} did not get through either, so it may still run: "
                         "the next run picks it up instead of paying again", exc.code, status=exc.status)


def _run_job(spec: ProviderSpec, ctx: RunContext, key: str, model: str, body: dict[str, Any],
             params: Mapping[str, Any], on_update: Callable[[dict[str, Any]], None],
             times: dict[str, str]) -> tuple[Finished, list[Path]]:
    """Create (or, when the context remembers one, re-attach to) the job, poll it to its end, fetch its outputs.

    The job id is handed to `ctx.remember_remote` right after the create is accepted and before any
    waiting, so a crash resumes by polling (and when it cannot be stored, the job is canceled). On
    cancel the remote job gets its cancel call; a create answered after the cancel is canceled too.
    A job that ends for good (see _job_failed) is recorded as ended, so no later run re-attaches to it.
    """
    cancelled: CancelCheck = lambda: bool(ctx.canceled)  # noqa: E731 - read live on every check
    previous = remembered_job(ctx)
    with spec.client(ctx.settings, key, cancelled) as client:
        job: dict[str, Any] | None = None
        if previous is not None:
            job_id, state = str(previous["job_id"]), dict(previous)
            ctx.log(f"resuming {client.JOB_NOUN} {job_id} (no new create)")
        else:
            def late(created: dict[str, Any]) -> None:
                if created.get(client.JOB_ID_FIELD):
                    client.cancel_soon(created, foreground_s=LATE_CANCEL_FOREGROUND_S)

            job = client.create_job(model, body, params, late)
            job_id = str(job.get(client.JOB_ID_FIELD))
            state = {"provider": spec.id, **client.resume_state(job, model),
                     "item_index": getattr(ctx, "item_index", 0)}
            client.remember_or_stop(ctx, job, state)
        stage, finished = "poll", None
        try:
            if job is None:
                assert previous is not None
                job = client.resume_job(previous, model)
            final = client.poll_job(job, on_update)
            stage = "outputs"
            finished = client.fetch_outputs(job, final, times)
            stage = "download"
            return finished, _download_all(ctx, spec.id, finished.files, finished.job_id)
        except NodeCanceled:
            if stage == "poll":  # a job that already finished is paid for: it stays, for the next run to fetch
                if job is not None:
                    client.cancel_soon(job)
                _mark_ended(ctx, job_id, state, "canceled")
            raise
        except ProviderError as exc:
            raise _job_failed(ctx, client, job, job_id, state, exc, stage=stage, resumed=previous is not None,
                              finished=finished) from None
        except NodeError as exc:
            if exc.code == "bad_output" and finished is not None and not finished.files:
                # Finished without any file: fetching it again can never help, and it was paid for.
                _mark_ended(ctx, job_id, state, "failed")
                raise CloudNodeError(str(exc), exc.code, [finished.usage] if finished.usage else []) from None
            raise


def run_cloud(spec: ProviderSpec, ctx: RunContext, inputs: Mapping[str, Any],
              params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Run one batch item on the provider: every file the job returns becomes a product.

    What the job used goes to ctx.report_usage once (the provider's own figures, else the files counted);
    a failure the provider reported with figures carries them on the error (CloudNodeError.usage)."""
    model_param = spec.node.model.name
    model = str(params.get(model_param) or "").strip()
    if not model:
        raise NodeError(spec.node.model_hint or f"choose a {spec.name} {model_param}", "bad_input")
    key = _key(spec.id)
    files = FileSender(spec, settings=ctx.settings, key=key, order_id=str(getattr(ctx, "order_id", "") or ""),
                       cancelled=lambda: bool(ctx.canceled), resuming=remembered_job(ctx) is not None,
                       on_upload=lambda message: ctx.progress(0.0, message))
    try:
        body = build_input(spec, inputs, params, files)
    except ProviderError as exc:  # an upload that did not get through (its message names the file)
        raise CloudNodeError(str(exc), exc.code) from None
    report = _progress_reporter(ctx)
    times: dict[str, str] = {"created": _now_iso()}

    def on_update(status: dict[str, Any]) -> None:
        shown = spec.progress(status)
        if shown is None:
            return
        if shown.phase in ("running", "done"):
            times.setdefault("started", _now_iso())
        if shown.phase == "done":
            times["completed"] = _now_iso()
            return
        report(shown.percent or 0.0, shown.message)

    try:
        finished, paths = _run_job(spec, ctx, key, model, body, params, on_update, times)
    except ProviderError as exc:
        raise CloudNodeError(str(exc), exc.code, [exc.usage] if exc.usage is not None else []) from None
    usage = finished.usage or Usage(spec.id, model, {"output": float(len(paths))}, job_id=finished.job_id)
    report_usage = getattr(ctx, "report_usage", None)
    if callable(report_usage):
        report_usage(usage)
    seed = finished.seed if finished.seed is not None else body.get("seed")
    meta = {
        "provider": spec.id,
        "model": model,
        "job_id": finished.job_id,  # ties each file to its job's priced usage (cost per product)
        **finished.meta,
        "prompt": body.get("prompt", ""),
        "seed": seed,
        "input": elide_data(body),
    }
    ctx.progress(100.0, "done")
    return {"media": [NewMedia(file=path, meta={**meta, "output_index": i}) for i, path in enumerate(paths)]}


# --- node types --------------------------------------------------------------------------------

_INPUTS = (
    Port("prompt", "text", doc="goes into input.prompt (overrides a prompt set in the input object)"),
    Port("image", "image", optional=True, doc="sent under image_field (a data: URI, or uploaded when large)"),
)
_SEED = Param("seed", "int", -1, "seed sent to the model; -1 = let the model choose (not sent)", minimum=-1)
_INPUT = Param("input", "object", {}, "model input as JSON; the prompt and image ports fill their fields")
MEDIA_INPUTS = "media_inputs"
_MEDIA_INPUTS = Param(MEDIA_INPUTS, "object", {},
                      "the model's file fields that are input ports, as FIELD: KIND (image, mask, video, media; "
                      "KIND[] takes the whole batch as a list); filled when the model's schema is loaded")
# One NodeType per spec, made once: the node registry tells types apart by identity.
_made: dict[str, tuple[ProviderSpec, NodeType]] = {}


def node_type_for(spec: ProviderSpec) -> NodeType:
    """The `provider.<id>` node of a registered provider."""
    made = _made.get(spec.id)
    if made is not None and made[0] is spec:
        return made[1]

    def run(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
        return run_cloud(spec, ctx, inputs, params)

    image_field_param = Param("image_field", "string", "",
                        f"input field for the image port; empty = \"{spec.node.image_field}\"")
    node_type = NodeType(
        type=spec.node_type,
        title=spec.name,
        run=run,
        inputs=_INPUTS,
        outputs=(Port("media", "media"),),
        params=(spec.node.model, _INPUT, _SEED, *spec.node.extra_params, image_field_param, _MEDIA_INPUTS),
        doc=spec.node.doc,
        provider=spec.id,
        check_params=check_media_inputs,
        extra_inputs=lambda params: file_ports(spec, params),
    )
    _made[spec.id] = (spec, node_type)
    return node_type


def node_types() -> list[NodeType]:
    """The node catalogue's cloud provider nodes: one per registered cloud provider."""
    return [node_type_for(spec) for spec in registry.cloud()]


def cloud_node(provider: str) -> NodeType:
    """The node type of one provider by id (tests, plugins)."""
    return node_type_for(registry.get(provider))
