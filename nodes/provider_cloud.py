"""Cloud provider nodes: provider.replicate and provider.fal, run through our own httpx clients."""

from __future__ import annotations

import base64
import copy
import mimetypes
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port, RunContext
from artfactory.providers import fal, replicate
from artfactory.providers.downloads import download
from artfactory.providers.http import ProviderError
from artfactory.services.secrets import MissingKeyError, SecretsError, get_key

# The remote job fills the progress bar up to here; downloading the outputs fills the rest.
REMOTE_SHARE = 90.0
# Inputs larger than this are refused before encoding: a data: URI is a third bigger than its file,
# and providers reject very large request bodies anyway.
MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024
DEFAULT_IMAGE_FIELD = {"replicate": "image", "fal": "image_url"}


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
    if isinstance(value, str) and replicate.is_file_ref(value):
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


def build_input(provider: str, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON input sent to the provider.

    Starts from the free-form `input` param; a non-empty `prompt` port value overrides input["prompt"]
    (the wire is the more specific, per-item source); an image goes in as a data: URI under
    `image_field` (default "image" for Replicate, "image_url" for fal); `seed` is sent only when >= 0.
    """
    body = copy.deepcopy(dict(params.get("input") or {}))
    prompt = inputs.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        body["prompt"] = prompt
    image = inputs.get("image")
    if image is not None:
        field = str(params.get("image_field") or "").strip() or DEFAULT_IMAGE_FIELD[provider]
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


# --- Replicate ---------------------------------------------------------------------------------


def run_replicate(ctx: RunContext, inputs: Mapping[str, Any],
                  params: Mapping[str, Any]) -> dict[str, list[Any]]:
    model = str(params.get("model") or "").strip()
    if not model:
        raise NodeError("choose a Replicate model (owner/name or owner/name:version)", "bad_input")
    token = _key("replicate")
    body = build_input("replicate", inputs, params)
    report = _progress_reporter(ctx)

    def on_update(prediction: dict[str, Any]) -> None:
        status = prediction.get("status")
        if status == "starting":
            report(0.0, "starting")
        elif status == "processing":
            logs = prediction.get("logs")
            report(replicate.parse_progress(logs) or 0.0, replicate.last_log_line(logs) or "processing")

    try:
        prediction = replicate.run_prediction(ctx, token, model, body, wait_s=int(params.get("wait") or 0),
                                              on_update=on_update)
        pid = str(prediction.get("id"))
        paths = _download_all(ctx, "replicate", replicate.output_files(prediction.get("output")), pid)
    except ProviderError as exc:
        raise NodeError(str(exc), exc.code) from None
    seed = replicate.seed_from_logs(prediction.get("logs"))
    if seed is None:
        seed = body.get("seed")
    metrics = prediction.get("metrics") or {}
    meta = {
        "provider": "replicate",
        "model": model,
        "version": prediction.get("version"),
        "prompt": body.get("prompt", ""),
        "seed": seed,
        "input": elide_data(body),
        "prediction_id": pid,
        "timings": {
            "created": prediction.get("created_at"),
            "started": prediction.get("started_at"),
            "completed": prediction.get("completed_at"),
            **({"predict_time": metrics["predict_time"]} if "predict_time" in metrics else {}),
        },
    }
    ctx.progress(100.0, "done")
    return {"media": [NewMedia(file=path, meta={**meta, "output_index": i}) for i, path in enumerate(paths)]}


# --- fal ---------------------------------------------------------------------------------------


def run_fal(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    endpoint = str(params.get("endpoint") or "").strip()
    if not endpoint:
        raise NodeError("choose a fal endpoint (for example fal-ai/flux/dev)", "bad_input")
    key = _key("fal")
    body = build_input("fal", inputs, params)
    report = _progress_reporter(ctx)
    times: dict[str, str] = {"created": _now_iso()}

    def on_update(status: dict[str, Any]) -> None:
        state = str(status.get("status", "")).upper()
        if state == "IN_QUEUE":
            position = status.get("queue_position")
            report(0.0, f"in queue (position {position})" if position is not None else "in queue")
        elif state == "IN_PROGRESS":
            times.setdefault("started", _now_iso())
            lines = fal.log_messages(status.get("logs"))
            report(replicate.parse_progress("\n".join(lines)) or 0.0, lines[-1][:200] if lines else "running")
        elif state == "COMPLETED":
            times.setdefault("started", _now_iso())
            times["completed"] = _now_iso()

    try:
        job, result = fal.run_request(ctx, key, endpoint, body, on_update=on_update)
        rid = str(job["request_id"])
        paths = _download_all(ctx, "fal", fal.output_files(result), rid)
    except ProviderError as exc:
        raise NodeError(str(exc), exc.code) from None
    seed = result.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        seed = body.get("seed")
    timings: dict[str, Any] = dict(times)
    if isinstance(result.get("timings"), dict):
        timings.update({k: v for k, v in result["timings"].items() if isinstance(v, int | float)})
    metrics = (job.get("final_status") or {}).get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("inference_time"), int | float):
        timings["inference_time"] = metrics["inference_time"]
    meta = {
        "provider": "fal",
        "model": endpoint,
        "endpoint": endpoint,
        "prompt": body.get("prompt", ""),
        "seed": seed,
        "input": elide_data(body),
        "request_id": rid,
        "timings": timings,
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

REPLICATE = NodeType(
    type="provider.replicate",
    title="Replicate",
    run=run_replicate,
    inputs=_INPUTS,
    outputs=(Port("media", "media"),),
    params=(
        Param("model", "string", "", "owner/name (official model) or owner/name:version", required=True),
        _INPUT,
        _SEED,
        Param("wait", "int", 0,
              "Prefer: wait seconds (0-60). 0 = answer at once and poll: the prediction id is saved before "
              "any waiting, so a crash resumes it and a cancel reaches it", minimum=0, maximum=60),
        Param("image_field", "string", "", "input field for the image port; empty = \"image\""),
    ),
    doc="Runs a model on Replicate; every file it returns becomes a product.",
    provider="replicate",
)

FAL = NodeType(
    type="provider.fal",
    title="fal",
    run=run_fal,
    inputs=_INPUTS,
    outputs=(Port("media", "media"),),
    params=(
        Param("endpoint", "string", "fal-ai/flux/dev", "fal endpoint id, e.g. fal-ai/flux/dev",
              required=True),
        _INPUT,
        _SEED,
        Param("image_field", "string", "", "input field for the image port; empty = \"image_url\""),
    ),
    doc="Runs an endpoint on the fal queue; every file it returns becomes a product.",
    provider="fal",
)
