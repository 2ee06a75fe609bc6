"""Cloud provider nodes: one `provider.<id>` node per registered provider, all run by one generic function."""

from __future__ import annotations

import base64
import copy
import mimetypes
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from artfactory.engine.context import RemoteNotStored
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import Media, NewMedia, NodeCanceled, NodeError, NodeType, Param, Port, RunContext
from artfactory.providers import registry
from artfactory.providers.downloads import download, is_file_ref
from artfactory.providers.http import CancelCheck, ProviderError, remembered_job
from artfactory.providers.registry import Finished, ProviderSpec
from artfactory.services.secrets import MissingKeyError, SecretsError, get_key

# The remote job fills the progress bar up to here; downloading the outputs fills the rest.
REMOTE_SHARE = 90.0
# Inputs larger than this are refused before encoding: a data: URI is a third bigger than its file,
# and providers reject very large request bodies anyway.
MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024
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


def _image_data_uri(value: Any) -> str:
    """An input image as a data: URI (the one way to send a local file to both APIs without uploads)."""
    if isinstance(value, str) and is_file_ref(value):
        return value
    path = getattr(value, "path", None) or getattr(value, "file", None)
    if path is None:
        raise NodeError(f"the image input is not a file (got {type(value).__name__})", "bad_input")
    media_type = getattr(value, "media_type", "image")
    if isinstance(value, Media) and media_type != "image":
        raise NodeError(f"the image input got a {media_type}, this node sends images only", "bad_input")
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_IMAGE_BYTES:
            raise NodeError(f"input image {path.name} is {size // (1024 * 1024)} MB; the limit is "
                            f"{MAX_INPUT_IMAGE_BYTES // (1024 * 1024)} MB", "bad_input")
        data = path.read_bytes()
    except OSError as exc:
        raise NodeError(f"input image {path.name} cannot be read: {exc.strerror}", "bad_input") from None
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def build_input(spec: ProviderSpec, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON input sent to the provider.

    Starts from the free-form `input` param; a non-empty `prompt` port value overrides input["prompt"]
    (the wire is the more specific, per-item source); an image goes in as a data: URI under
    `image_field` (default: the field the provider declares); `seed` is sent only when >= 0.
    """
    body = copy.deepcopy(dict(params.get("input") or {}))
    prompt = inputs.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        body["prompt"] = prompt
    image = inputs.get("image")
    if image is not None:
        field = str(params.get("image_field") or "").strip() or spec.node.image_field
        body[field] = _image_data_uri(image)
    seed = params.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        body["seed"] = seed
    return body


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
    body = build_input(spec, inputs, params)
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
    Port("image", "image", optional=True, doc="sent as a data: URI under image_field"),
)
_SEED = Param("seed", "int", -1, "seed sent to the model; -1 = let the model choose (not sent)", minimum=-1)
_INPUT = Param("input", "object", {}, "model input as JSON; the prompt and image ports fill their fields")
# One NodeType per spec, made once: the node registry tells types apart by identity.
_made: dict[str, tuple[ProviderSpec, NodeType]] = {}


def node_type_for(spec: ProviderSpec) -> NodeType:
    """The `provider.<id>` node of a registered provider."""
    made = _made.get(spec.id)
    if made is not None and made[0] is spec:
        return made[1]

    def run(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
        return run_cloud(spec, ctx, inputs, params)

    image_field = Param("image_field", "string", "",
                        f"input field for the image port; empty = \"{spec.node.image_field}\"")
    node_type = NodeType(
        type=spec.node_type,
        title=spec.name,
        run=run,
        inputs=_INPUTS,
        outputs=(Port("media", "media"),),
        params=(spec.node.model, _INPUT, _SEED, *spec.node.extra_params, image_field),
        doc=spec.node.doc,
        provider=spec.id,
    )
    _made[spec.id] = (spec, node_type)
    return node_type


def node_types() -> list[NodeType]:
    """The node catalogue's cloud provider nodes: one per registered cloud provider."""
    return [node_type_for(spec) for spec in registry.cloud()]


def cloud_node(provider: str) -> NodeType:
    """The node type of one provider by id (tests, plugins)."""
    return node_type_for(registry.get(provider))
