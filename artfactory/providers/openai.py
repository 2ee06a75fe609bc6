"""OpenAI Images over httpx: one synchronous generation or edit per node, no job to poll or resume."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.context import RemoteNotStored
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import Param
from artfactory.lazy import lazy_module
from artfactory.providers.http import (
    ApiSession,
    CancelCheck,
    ProviderError,
    error_from_response,
    make_client,
    request_idempotent,
    run_cancellable,
    safe_url,
    sleep_cancellable,
)
from artfactory.providers.registry import Finished, MediaInputs, NodeSpec, Progress, ProviderSpec, UrlSetting
from artfactory.services.prices import UnitPrice

if TYPE_CHECKING:
    import httpx
else:  # ~0.15 s to import (it loads its own command line): only a request needs it, not `artfactory nodes`
    httpx = lazy_module("httpx")

log = logging.getLogger("artfactory.providers.openai")

PROVIDER = "openai"
NAME = "OpenAI"
BASE_URL = UrlSetting("openai_base_url", "ARTFACTORY_OPENAI_BASE_URL", "https://api.openai.com")
DEFAULT_MODEL = "gpt-image-1"
MODELS = ("gpt-image-1", "dall-e-3", "dall-e-2")
SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536", "256x256", "512x512", "1792x1024", "1024x1792")
QUALITIES = ("auto", "high", "medium", "low", "hd", "standard")
BACKGROUNDS = ("auto", "transparent", "opaque")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
# A generation answers only when the images are done (often 30-120 s): a create may wait at least this
# long, whatever the general request timeout, since a timeout here leaves a request that may be billed.
MIN_CREATE_TIMEOUT_S = 180.0
# Input fields the Images API does not take: the seed (the node's port/param) and the files sent apart.
NOT_SENT = frozenset({"seed", "image", "mask"})
MAX_FILE_BYTES = 50 * 1024 * 1024  # the edits endpoint's documented limit per image

UNCERTAIN_TAIL = ("it may have been billed, and OpenAI image requests are not idempotent (there is no job to "
                  "look up), so it was not sent again; re-running will create, and bill, a new request")

# The input schema, declared here so the properties form works offline (OpenAI publishes no per-model schema).
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "description": "What to draw (or, with an image, how to edit it).",
                   "x-order": 0},
        "size": {"type": "string", "enum": list(SIZES), "default": "auto", "x-order": 1,
                 "description": "Image size; gpt-image-1: auto, 1024x1024, 1536x1024, 1024x1536; "
                                "dall-e-3: 1024x1024, 1792x1024, 1024x1792; dall-e-2: 256x256 to 1024x1024."},
        "quality": {"type": "string", "enum": list(QUALITIES), "default": "auto", "x-order": 2,
                    "description": "gpt-image-1: auto, high, medium, low; dall-e-3: hd, standard."},
        "n": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1, "x-order": 3,
              "description": "How many images (dall-e-3 makes one)."},
        "background": {"type": "string", "enum": list(BACKGROUNDS), "default": "auto", "x-order": 4,
                       "description": "gpt-image-1 only: transparent needs png or webp."},
        "output_format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "png", "x-order": 5,
                          "description": "gpt-image-1 only: the file format of the images."},
        # The edits endpoint's files (multipart): they come through the node's image and mask ports.
        "image": {"type": "string", "format": "binary", "x-order": 6,
                  "description": "The image to edit (PNG, WebP or JPEG; up to 50 MB)."},
        "mask": {"type": "string", "format": "binary", "x-order": 7,
                 "description": "Where the image is redrawn: white in a mask product (transparent in an RGBA "
                                "PNG); the same size as the image."},
    },
}


def _error_message(response: httpx.Response) -> tuple[str, str]:
    """OpenAI's own words from an error answer ({"error": {"message", "type", "code"}}) and its code."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        code = error.get("code") or error.get("type") or ""
        return " ".join(str(error["message"]).split()), str(code)
    return "", ""


def openai_error(response: httpx.Response, what: str) -> ProviderError:
    """A ProviderError for an unsuccessful answer, with OpenAI's message when it sent one."""
    generic = error_from_response(response, PROVIDER, what)
    message, code = _error_message(response)
    if not message:
        return generic
    status = response.status_code
    kind = f" [{code}]" if code else ""
    if generic.code == "auth":
        text = (f"authentication failed for {NAME} (HTTP {status}): {message}{kind} — check the key with "
                f"`artfactory keys set {PROVIDER}`")
    elif 400 <= status < 500 and status != 429:
        text = f"{NAME} refused to {what} (HTTP {status}): {message}{kind}"
    else:
        text = f"{NAME} could not {what} (HTTP {status}): {message}{kind}"
    return ProviderError(text, generic.code, status=status)


def _decode_data_uri(uri: str, what: str) -> tuple[bytes, str]:
    """The bytes and media type of a data: URI (how the cloud node hands over an input image)."""
    header, _, payload = uri.partition(",")
    mime = header[5:].split(";")[0] or "image/png"
    try:
        data = base64.b64decode(payload, validate=True) if ";base64" in header else payload.encode()
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(f"the {what} is not valid base64: {exc}", "validation") from None
    return data, mime


def _file_part(value: Any, what: str) -> tuple[str, bytes, str]:
    """A multipart file (name, bytes, type) from a data: URI or a local path; URLs cannot be uploaded."""
    if isinstance(value, str) and value.startswith("data:"):
        data, mime = _decode_data_uri(value, what)
        extension = mimetypes.guess_extension(mime) or ".png"
        return f"{what}{extension}", data, mime
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        raise ProviderError(f"OpenAI edits need the {what} as a local file, not a URL ({safe_url(value)})",
                            "validation")
    path = Path(str(value)).expanduser()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProviderError(f"the {what} {path.name} is over OpenAI's 50 MB limit", "validation")
        data = path.read_bytes()
    except OSError as exc:
        raise ProviderError(f"the {what} {path} cannot be read: {exc.strerror}", "validation") from None
    return path.name, data, mimetypes.guess_type(path.name)[0] or "image/png"


def openai_mask(data: bytes) -> bytes:
    """A mask as OpenAI reads it: a PNG whose transparent pixels are redrawn. A one-channel mask (a mask product:
    white = change) becomes black RGBA with alpha = 255 - its value; an image with an alpha channel passes."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in ("L", "1"):
                return data
            alpha = image.convert("L").point(lambda v: 255 - v)
            size = image.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(f"the mask cannot be read as an image: {exc}", "validation") from None
    out = Image.new("RGBA", size, (0, 0, 0, 255))
    out.putalpha(alpha)
    buffer = io.BytesIO()
    out.save(buffer, "PNG")
    return buffer.getvalue()


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class OpenAIClient(ApiSession):
    """One OpenAI Images session. The create is synchronous: it answers with the images themselves.

    The cloud runner's steps map onto it so that the request id is stored BEFORE anything is sent:
    `create_job` only prepares the request (a local id, nothing sent), the runner stores that id, and
    `poll_job` sends it. So a crash during the request leaves a stored id, and the resumed node fails as
    uncertain (`resume_job`) instead of silently sending — and billing — the request again.
    """

    JOB_NOUN = "OpenAI image request"
    JOB_ID_FIELD = "id"
    CANCELS_REMOTELY = False  # a sent image request runs to its end: there is nothing to cancel

    def __init__(self, settings: Any, key: str, cancelled: CancelCheck | None = None) -> None:
        self._key = key
        super().__init__(settings, BASE_URL.read(settings), {"Authorization": f"Bearer {key}"}, cancelled)

    def twin(self) -> OpenAIClient:
        return OpenAIClient(self.settings, self._key)

    def cancel(self, job: dict[str, Any]) -> bool:
        """Nothing to call: OpenAI has no cancel for an image request (a sent one runs to its end)."""
        if job.get("sent"):
            log.warning("%s %s was abandoned after it was sent; it may still be billed", self.JOB_NOUN,
                        job.get("id"))
        return False

    def _abandoned(self, job: dict[str, Any]) -> None:
        self.cancel(job)

    def remember_or_stop(self, ctx: Any, job: dict[str, Any], state: dict[str, Any]) -> None:
        """Store the request id before anything is sent; when it cannot be stored, nothing is sent at all."""
        try:
            ctx.remember_remote(str(job["id"]), state)
        except RemoteNotStored as exc:
            raise ProviderError(f"the {self.JOB_NOUN} was not sent: its id could not be stored ({exc}), and "
                                "without it a crash could not be told apart from a finished request",
                                "storage") from None

    def models(self) -> list[str]:
        """GET /v1/models: the ids the key may use (costs nothing; the connection test)."""
        response = request_idempotent(
            self._client, "GET", f"{self.base}/v1/models", provider=PROVIDER, what="list the models",
            policy=self.policy, cancelled=self.cancelled, limiter=self.limiter,
            final=lambda r: openai_error(r, "list the models") if not r.is_success else None,
        )
        data = _json_object(response, "the model list")
        return [str(m.get("id")) for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]

    # --- the one paid call -------------------------------------------------------------------------

    def send(self, job: dict[str, Any]) -> dict[str, Any]:
        """POST the prepared request. Repeated only when OpenAI answered with an error (429, 5xx) or the
        connection never opened; once the request may have reached OpenAI without an answer, it is not."""
        endpoint = job["endpoint"]
        what = "edit the image" if endpoint == "edits" else "create images"
        url = f"{self.base}/v1/images/{endpoint}"
        timeout = max(float(getattr(self.settings, "request_timeout_s", 60.0)), MIN_CREATE_TIMEOUT_S)
        last_error: ProviderError | None = None
        attempts = max(1, self.policy.attempts)
        for attempt in range(attempts):
            self.limiter.acquire(self.cancelled)
            kwargs: dict[str, Any] = (
                {"data": job["form"], "files": job["files"]} if endpoint == "edits" else {"json": job["body"]})

            def post(kwargs: dict[str, Any] = kwargs) -> httpx.Response:
                with make_client(self.settings, self.headers, timeout) as client:
                    response = client.post(url, **kwargs)
                    response.read()
                    return response

            job["sent"] = True
            response: httpx.Response | None = None
            try:
                response = run_cancellable(post, self.cancelled, on_abandon=lambda _r: self._abandoned(job))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Not one byte of the request left this machine: safe to try again.
                reason = str(exc).strip() or type(exc).__name__
                last_error = ProviderError(f"cannot reach {NAME} to {what}: {reason} ({safe_url(url)})", "network")
            except httpx.TimeoutException:
                raise ProviderError(f"{NAME} did not answer in time to {what}; {UNCERTAIN_TAIL}",
                                    "uncertain_create") from None
            except httpx.TransportError as exc:
                reason = str(exc).strip() or type(exc).__name__
                raise ProviderError(f"the connection to {NAME} broke after the request to {what} was sent "
                                    f"({reason}); {UNCERTAIN_TAIL}", "uncertain_create") from None
            except httpx.InvalidURL as exc:  # refused before anything was sent
                raise ProviderError(f"cannot {what}: {exc} ({safe_url(url)})", "validation") from None
            except httpx.HTTPError as exc:
                raise ProviderError(f"{NAME} answered in a way we could not read while trying to {what} "
                                    f"({exc}); {UNCERTAIN_TAIL}", "uncertain_create") from None
            else:
                if response.is_success:
                    return {**_json_object(response, f"the request to {what}"),
                            "request_id": response.headers.get("x-request-id")}
                error = openai_error(response, what)
                _, code = _error_message(response)
                # An HTTP error answer means OpenAI did not make the images: a busy server (429, 5xx) is
                # worth another try; a used-up quota (also 429) and every other 4xx are not.
                # An error answer made nothing: the request is over and must not be re-attached.
                error.ended = "failed"
                if not (response.status_code == 429 or response.status_code >= 500) or \
                        code == "insufficient_quota":
                    raise error
                last_error = error
            if attempt + 1 >= attempts:
                break
            delay = self.policy.delay(attempt, response)
            log.info("%s: %s not done (%s); retrying in %.2fs", PROVIDER, what, last_error, delay)
            sleep_cancellable(delay, self.cancelled)
        assert last_error is not None
        # Every attempt was refused or never reached OpenAI: no images were made, the request is over.
        raise ProviderError(f"{last_error} — gave up after {attempts} attempts", last_error.code,
                            status=last_error.status, ended="failed")

    # --- the job protocol the cloud node drives (registry.JobClient) ---------------------------------

    def create_job(self, model: str, input: dict[str, Any], params: Mapping[str, Any],
                   on_abandoned: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Prepare the request (nothing is sent yet; see the class doc): generations, or edits with an image."""
        model = model.strip()
        field = str(params.get("image_field") or "").strip() or SPEC.node.image_field
        body = {k: v for k, v in input.items() if k not in NOT_SENT | {field} and v is not None}
        body["model"] = model
        if not str(body.get("prompt") or "").strip():
            raise ProviderError("OpenAI needs a prompt: connect one to the prompt port or set input.prompt",
                                "validation")
        image = input.get(field)
        # The mask port (input.mask) is more specific than the node's mask path param, like the prompt port.
        mask = input.get("mask") or str(params.get("mask") or "").strip()
        job: dict[str, Any] = {"id": f"openai-{uuid.uuid4().hex}", "model": model, "sent": False}
        if image is None:
            if mask:
                raise ProviderError("a mask needs an image to edit: connect one to the image port", "validation")
            return {**job, "endpoint": "generations", "body": body}
        files = [("image", _file_part(image, "image"))]
        if mask:
            name, data, mime = _file_part(mask, "mask")
            converted = openai_mask(data)
            files.append(("mask", (name if converted is data else f"{Path(name).stem}.png", converted,
                                   mime if converted is data else "image/png")))
        form = {k: _form_value(v) for k, v in body.items()}
        return {**job, "endpoint": "edits", "form": form, "files": files}

    def resume_state(self, job: dict[str, Any], model: str) -> dict[str, Any]:
        # Only what the resumed node needs to say what happened; never the prompt's images.
        return {"model": model, "endpoint": job.get("endpoint"), "synchronous": True}

    def resume_job(self, remembered: dict[str, Any], model: str) -> dict[str, Any]:
        """There is no job to re-attach to: the request may have been sent before the crash, so fail."""
        endpoint = remembered.get("endpoint") or "generations"
        # Said once: the request is marked as ended, so the next run creates a new one.
        raise ProviderError(
            f"{self.JOB_NOUN} {remembered.get('job_id')} (images/{endpoint}) was under way when the app "
            f"stopped, and OpenAI keeps no job to come back to: {UNCERTAIN_TAIL}", "uncertain_create",
            ended="expired")

    def poll_job(self, job: dict[str, Any], on_update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        on_update({"status": "in_progress"})
        answer = self.send(job)
        on_update({"status": "completed"})
        return answer

    def fetch_outputs(self, job: dict[str, Any], final: dict[str, Any], times: dict[str, str]) -> Finished:
        items = [d for d in final.get("data") or [] if isinstance(d, dict)]
        fmt = str(final.get("output_format") or (job.get("body") or job.get("form") or {}).get("output_format")
                  or "png").lower()
        mime = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}.get(fmt, "image/png")
        files: list[str] = []
        for item in items:
            if isinstance(item.get("b64_json"), str) and item["b64_json"]:
                # Stored through the shared download helper: decoded, size-checked and verified as media.
                files.append(f"data:{mime};base64,{item['b64_json']}")
            elif isinstance(item.get("url"), str) and item["url"]:
                files.append(item["url"])
        sent = job.get("body") or job.get("form") or {}
        meta: dict[str, Any] = {"request_id": final.get("request_id") or job["id"], "endpoint": job["endpoint"],
                                "timings": dict(times)}
        for name in ("size", "quality", "background", "output_format"):
            value = final.get(name) or sent.get(name)
            if value:
                meta[name] = value
        revised = [str(d["revised_prompt"]) for d in items if d.get("revised_prompt")]
        if revised:
            meta["revised_prompt"] = revised[0]
            if len(set(revised)) > 1:
                meta["revised_prompts"] = revised
        if isinstance(final.get("usage"), dict):
            meta["usage"] = final["usage"]
        if final.get("created") is not None:
            meta["created"] = final["created"]
        model = str(job.get("model") or sent.get("model") or DEFAULT_MODEL)
        key = price_key(model, final.get("quality") or sent.get("quality"), final.get("size") or sent.get("size"))
        usage = Usage(PROVIDER, key, {"output": float(len(files)), "request": 1.0}, job_id=str(job["id"]))
        return Finished(job_id=str(job["id"]), files=files, meta=meta, usage=usage)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"{NAME} answered {what} with something that is not a JSON object", "bad_response")
    return data


def progress(status: dict[str, Any]) -> Progress | None:
    """The synchronous request as the progress bar shows it: no percentage until the answer comes."""
    state = status.get("status")
    if state == "in_progress":
        return Progress(None, "OpenAI is making the images (no progress until it answers)")
    if state == "completed":
        return Progress(None, "", "done")
    return None


# --- money -------------------------------------------------------------------------------------

# What the API uses when quality or size is "auto" or not sent, as far as the price goes: gpt-image-1 picks
# its quality itself (the answer says which; the estimate assumes the dearest), the DALL·E models are standard.
_DEFAULT_QUALITY = {"gpt-image-1": "high", "dall-e-3": "standard", "dall-e-2": "standard"}
DEFAULT_SIZE = "1024x1024"


def price_key(model: str, quality: Any = None, size: Any = None) -> str:
    """The price-book key of one image: "<model>:<quality>:<size>", e.g. "gpt-image-1:high:1024x1024"."""
    model = str(model or DEFAULT_MODEL).strip()
    quality_text = str(quality or "").strip().lower()
    if quality_text in ("", "auto"):
        quality_text = _DEFAULT_QUALITY.get(model, "standard")
    size_text = str(size or "").strip().lower()
    if size_text in ("", "auto"):
        size_text = DEFAULT_SIZE
    return f"{model}:{quality_text}:{size_text}"


def estimate(model: str, input_body: Mapping[str, Any], params: Mapping[str, Any]) -> Usage:
    """What one request is expected to use: n images (1 by default; dall-e-3 makes one) at its size and
    quality, priced per image."""
    model = str(model or DEFAULT_MODEL).strip()
    try:
        count = max(1, int(input_body.get("n") or 1))
    except (TypeError, ValueError):
        count = 1
    if model == "dall-e-3":
        count = 1
    key = price_key(model, input_body.get("quality"), input_body.get("size"))
    return Usage(PROVIDER, key, {"output": float(count), "request": 1.0})


PRICE_DATE = "2025-06-01"
_PER_IMAGE = {
    # gpt-image-1 is billed by tokens; these are the per-image figures the price page gives.
    "gpt-image-1": {"low": {"1024x1024": 0.011, "1024x1536": 0.016, "1536x1024": 0.016},
                    "medium": {"1024x1024": 0.042, "1024x1536": 0.063, "1536x1024": 0.063},
                    "high": {"1024x1024": 0.167, "1024x1536": 0.25, "1536x1024": 0.25}},
    "dall-e-3": {"standard": {"1024x1024": 0.04, "1024x1792": 0.08, "1792x1024": 0.08},
                 "hd": {"1024x1024": 0.08, "1024x1792": 0.12, "1792x1024": 0.12}},
    "dall-e-2": {"standard": {"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02}},
}
PRICES: tuple[UnitPrice, ...] = tuple(
    UnitPrice(PROVIDER, f"{model}:{quality}:{size}", "output", usd, "shipped", PRICE_DATE,
              f"OpenAI price page, June 2025 ({model}, {quality} quality, {size}, per image)")
    for model, qualities in _PER_IMAGE.items() for quality, sizes in qualities.items() for size, usd in sizes.items()
)


def check_connection(settings: Any, key: str) -> str:
    with OpenAIClient(settings, key) as client:
        count = len(client.models())
        return f"Connected to OpenAI: the key was accepted ({count} models available)"


def fetch_schema(settings: Any, key: str | None, model: str) -> dict[str, Any]:
    # Declared here, not fetched: OpenAI publishes no per-model input schema, and the form must work offline.
    return {"model": model.strip() or DEFAULT_MODEL, "models": list(MODELS), "input": INPUT_SCHEMA,
            "components": {}}


SPEC = ProviderSpec(
    id=PROVIDER,
    name=NAME,
    key_env="OPENAI_API_KEY",
    keychain_user=PROVIDER,
    key_pattern=r"\bsk-[A-Za-z0-9_\-]{20,}",  # OpenAI keys start with sk- (sk-proj-, sk-svcacct-, ...)
    base_url=BASE_URL,
    default_concurrency=2,
    concurrency_setting=None,
    client=OpenAIClient,
    progress=progress,
    check_connection=check_connection,
    fetch_schema=fetch_schema,
    prices=PRICES,
    estimate=estimate,
    # The edits endpoint takes the files themselves (multipart): the input carries their local paths.
    media=MediaInputs(max_bytes=MAX_FILE_BYTES, local_files=True),
    node=NodeSpec(
        model=Param("model", "string", DEFAULT_MODEL, f"OpenAI image model: {', '.join(MODELS)}", required=True),
        model_hint=f"choose an OpenAI image model (for example {DEFAULT_MODEL})",
        extra_params=(
            Param("mask", "path", "", "PNG mask for an edit (its transparent areas are redrawn); needs an image "
                  "input; empty = none"),
        ),
        image_field="image",
        doc="Makes images with the OpenAI Images API (an edit when an image is connected); every image it "
            "returns becomes a product. A request cut off after it was sent is never repeated.",
    ),
)
