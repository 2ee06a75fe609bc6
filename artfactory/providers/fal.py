"""fal queue over httpx: submit, follow the returned status/response/cancel URLs, results, schema."""

from __future__ import annotations

import logging
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import Param
from artfactory.lazy import lazy_module
from artfactory.providers.downloads import is_file_ref
from artfactory.providers.http import (
    TRANSIENT_CODES,
    ApiSession,
    CancelCheck,
    MalformedAnswer,
    ProviderError,
    create_once,
    describe_body,
    error_from_response,
    json_object,
    make_client,
    parse_progress,
    poll_through_outages,
    request_idempotent,
    sleep_cancellable,
)
from artfactory.providers.registry import Finished, MediaInputs, NodeSpec, Progress, ProviderSpec, UrlSetting
from artfactory.services.prices import UnitPrice

if TYPE_CHECKING:
    import httpx
else:  # ~0.15 s to import (it loads its own command line): only a request needs it, not `artfactory nodes`
    httpx = lazy_module("httpx")

log = logging.getLogger("artfactory.providers.fal")

PROVIDER = "fal"
PROBE_ENDPOINT = "fal-ai/fast-sdxl"  # any public endpoint: the key check asks it about a request that isn't
NIL_REQUEST_ID = "00000000-0000-0000-0000-000000000000"
PENDING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
# Statuses fal does not document for the queue but some answers carry; treated as a failed end.
FAILED_ENDS = frozenset({"FAILED", "ERROR", "CANCELED", "CANCELLED"})
# fal.run runs models; the per-endpoint OpenAPI documents are served from fal.ai/api.
FAL_RUN_DEFAULT = "https://fal.run"
FAL_SCHEMA_BASE = "https://fal.ai/api"
QUEUE_URL = UrlSetting("fal_queue_url", "ARTFACTORY_FAL_QUEUE_URL", "https://queue.fal.run")
REST_URL = UrlSetting("fal_rest_url", "ARTFACTORY_FAL_REST_URL", FAL_RUN_DEFAULT)
# fal's platform API (model prices); the key goes there too.
API_URL = UrlSetting("fal_api_url", "ARTFACTORY_FAL_API_URL", "https://api.fal.ai")
# fal's storage API: an upload is initiated there (with the key), then PUT to the signed URL it answers (without).
STORAGE_URL = UrlSetting("fal_storage_url", "ARTFACTORY_FAL_STORAGE_URL", "https://rest.fal.ai")
STORAGE_TYPE = "fal-cdn-v3"
MAX_UPLOAD_BYTES = 90 * 1024 * 1024  # fal's clients send larger files in parts; one PUT stays under this
UPLOAD_TIMEOUT_S = 300.0
# The header of a result answer saying how many units (of the endpoint's price unit) fal billed.
BILLABLE_UNITS_HEADER = "x-fal-billable-units"

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_ENDPOINT_RE = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})+$")


def parse_endpoint(endpoint: str) -> str:
    """A validated endpoint id such as "fal-ai/flux/dev" (owner/app plus an optional sub-path)."""
    text = (endpoint or "").strip().strip("/")
    if not _ENDPOINT_RE.match(text):
        raise ProviderError(f"fal endpoint {endpoint!r} is not of the form owner/app[/path]", "validation")
    return text


def app_id(endpoint: str) -> str:
    """owner/app: the part the queue's request URLs use (the sub-path is dropped there)."""
    return "/".join(endpoint.split("/")[:2])


def output_files(result: Any) -> list[str]:
    """File URLs in a fal result: every File object's `url` ({"images": [{"url"}]}, {"video": {"url"}}…)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            url = value.get("url")
            if isinstance(url, str) and is_file_ref(url):
                found.append(url)
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(result)
    return found


def log_messages(logs: Any) -> list[str]:
    """Log lines from a status answer: a list of {message, level, timestamp} or a plain string."""
    if isinstance(logs, str):
        return [ln.strip() for ln in logs.splitlines() if ln.strip()]
    if isinstance(logs, list):
        out = []
        for entry in logs:
            message = entry.get("message") if isinstance(entry, dict) else entry
            if message:
                out.append(str(message).strip())
        return out
    return []


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _marked_final(what: str) -> Callable[[httpx.Response], ProviderError | None]:
    """fal marks answers not worth repeating with X-Fal-Retryable: false; they end the call at once."""

    def final(response: httpx.Response) -> ProviderError | None:
        if response.headers.get("x-fal-retryable", "").lower() != "false":
            return None
        error = error_from_response(response, PROVIDER, what)
        # Final is not an outage: it must not be ridden out by poll_through_outages either.
        return ProviderError(str(error), "remote_failed" if error.code in TRANSIENT_CODES else error.code,
                             status=error.status)

    return final


def _request_failed(rid: Any) -> Callable[[httpx.Response], ProviderError | None]:
    """A result answer carrying fal's error_type (body or X-Fal-Error-Type) is the request's failure.

    The request is over (its status said COMPLETED; fal already retried it on its side), so the same
    answer comes back every time: it fails the node with fal's `detail`, whatever the HTTP status.
    """

    def final(response: httpx.Response) -> ProviderError | None:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        error_type = response.headers.get("x-fal-error-type") or (
            body.get("error_type") if isinstance(body, dict) else None)
        if not error_type and response.headers.get("x-fal-retryable", "").lower() != "false":
            return None
        status = response.status_code
        detail = describe_body(response) or f"HTTP {status}"
        kind = f" [{error_type}]" if error_type else ""
        if error_type == "client_cancelled":
            code = "remote_canceled"
        elif status in (400, 409, 413, 415, 422):
            code = "validation"
        else:
            code = "remote_failed"
        # The request is over on fal's side: never re-attached.
        return ProviderError(f"fal request {rid} failed{kind}: {detail}", code, status=status,
                             ended="canceled" if code == "remote_canceled" else "failed")

    return final


def schema_url(settings: Any, endpoint: str) -> str:
    base = REST_URL.read(settings)
    if base == FAL_RUN_DEFAULT:
        base = FAL_SCHEMA_BASE
    query = urllib.parse.urlencode({"endpoint_id": endpoint})
    return f"{base}/openapi/queue/openapi.json?{query}"


class FalClient(ApiSession):
    """One user's fal queue session. Plain JSON over httpx, per DESIGN §7."""

    JOB_NOUN = "fal request"
    JOB_ID_FIELD = "request_id"

    def __init__(self, settings: Any, key: str, cancelled: CancelCheck | None = None) -> None:
        self._key = key
        super().__init__(settings, QUEUE_URL.read(settings), {"Authorization": f"Key {key}"}, cancelled)

    def _job_url(self, job: dict[str, Any], key: str, suffix: str) -> str:
        """The status/response/cancel URL fal gave us, or the documented one rebuilt from the ids."""
        given = job.get(key)
        # Followed as given (they may drop the endpoint's sub-path), but the key only goes to fal's
        # own queue origin; anything else is rebuilt from the documented pattern.
        if isinstance(given, str) and given and _same_origin(given, self.base):
            return given
        rid = job.get("request_id") or job.get("job_id")
        endpoint = job.get("endpoint") or ""
        if not endpoint:
            raise ProviderError(f"fal request {rid}: no {key} to follow", "bad_response")
        return f"{self.base}/{app_id(endpoint)}/requests/{rid}{suffix}"

    def check_key(self) -> None:
        """Ask the queue about a request that cannot exist: "not found" means the key was accepted.

        fal has no account endpoint on the queue API; 401/403 raise the usual authentication error.
        """
        url = f"{self.base}/{PROBE_ENDPOINT}/requests/{NIL_REQUEST_ID}/status"
        try:
            self._call("GET", url, "check the API key")
        except ProviderError as exc:
            if exc.status not in (400, 404, 422):
                raise

    def _call(self, method: str, url: str, what: str, *, cancellable: bool = True,
              final: Callable[[httpx.Response], ProviderError | None] | None = None,
              **kwargs: Any) -> httpx.Response:
        return request_idempotent(
            self._client, method, url, provider=PROVIDER, what=what, policy=self.policy,
            cancelled=self.cancelled if cancellable else (lambda: False), limiter=self.limiter,
            final=final or _marked_final(what), **kwargs,
        )

    def submit(self, endpoint: str, input: dict[str, Any],
               on_abandoned: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Put a request on the queue, once (see http.create_once); returns request_id and its URLs."""
        endpoint = parse_endpoint(endpoint)
        headers = {**self.headers, "Content-Type": "application/json"}

        def abandoned(response: httpx.Response) -> None:
            if response.is_success and on_abandoned is not None:
                try:
                    on_abandoned({**response.json(), "endpoint": endpoint})
                except (ValueError, TypeError):
                    pass

        response = create_once(
            self.settings, headers, "POST", f"{self.base}/{endpoint}", provider=PROVIDER,
            what=f"submit a request to {endpoint}", policy=self.policy, cancelled=self.cancelled,
            on_abandoned=abandoned, limiter=self.limiter, json=input,
        )
        try:
            job = _json_object(response, f"submit to {endpoint}")
        except MalformedAnswer:
            job = {}  # accepted (2xx) all the same: said below, and never sent again
        if not job.get("request_id"):
            raise ProviderError(
                "fal accepted the request but its answer could not be read or has no request_id; it may be "
                "running and billed, so it was not sent again — check your dashboard before re-running",
                "uncertain_create",
            )
        job["endpoint"] = endpoint
        return job

    def status(self, job: dict[str, Any]) -> dict[str, Any]:
        url = self._job_url(job, "status_url", "/status")
        response = self._call("GET", url, f"fetch the status of request {job.get('request_id')}",
                              params={"logs": "1"})
        return _json_object(response, "a status request")

    def result(self, job: dict[str, Any]) -> dict[str, Any]:
        return self.result_and_billing(job)[0]

    def result_and_billing(self, job: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
        """The request's result and the units fal billed for it (its x-fal-billable-units header), if sent."""
        url = self._job_url(job, "response_url", "")
        rid = job.get("request_id")
        response = self._call("GET", url, f"fetch the result of request {rid}", final=_request_failed(rid))
        return _json_object(response, "a result request"), billable_units(response.headers.get(BILLABLE_UNITS_HEADER))

    def cancel(self, job: dict[str, Any]) -> bool:
        """PUT cancel_url; an already finished (False) or unknown (True) request is not an error."""
        url = self._job_url(job, "cancel_url", "/cancel")
        try:
            self._call("PUT", url, f"cancel request {job.get('request_id')}", cancellable=False)
        except ProviderError as exc:
            if exc.status == 404:  # NOT_FOUND: nothing left to stop
                return True
            if exc.status in (400, 409):  # ALREADY_COMPLETED
                return False
            raise
        return True

    def twin(self) -> FalClient:
        return FalClient(self.settings, self._key)

    def wait(self, job: dict[str, Any],
             on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the status until COMPLETED; raise the error a completed-with-error status carries."""
        interval = min(0.25, float(self.settings.poll_interval_s))
        name = f"fal request {job.get('request_id')}"
        while True:
            status = poll_through_outages(lambda: self.status(job), settings=self.settings,
                                          cancelled=self.cancelled, job=name)
            if on_update is not None:
                on_update(status)
            state = str(status.get("status", "")).upper()
            if state == "COMPLETED":
                if status.get("error"):
                    raise _status_error(job, status)
                return status
            if state in FAILED_ENDS:
                raise _status_error(job, status)
            if state not in PENDING:
                log.info("fal request %s: unknown status %r, still polling", job.get("request_id"), state)
            sleep_cancellable(interval, self.cancelled)
            interval = min(float(self.settings.poll_interval_s), interval * 1.5)

    # --- the job protocol the cloud node drives (registry.JobClient) ---

    def create_job(self, model: str, input: dict[str, Any], params: Any,
                   on_abandoned: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self.submit(model, input, on_abandoned=on_abandoned)

    def resume_state(self, job: dict[str, Any], model: str) -> dict[str, Any]:
        return {"endpoint": job.get("endpoint") or parse_endpoint(model),
                "urls": {k: job[k] for k in ("status_url", "response_url", "cancel_url") if job.get(k)}}

    def resume_job(self, remembered: dict[str, Any], model: str) -> dict[str, Any]:
        endpoint = parse_endpoint(model)
        urls = remembered.get("urls") or {}
        return {"request_id": remembered["job_id"], "endpoint": remembered.get("endpoint") or endpoint, **urls}

    def poll_job(self, job: dict[str, Any], on_update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self.wait(job, on_update)

    def fetch_outputs(self, job: dict[str, Any], final: dict[str, Any], times: dict[str, str]) -> Finished:
        rid = str(job["request_id"])
        result, billed = poll_through_outages(lambda: self.result_and_billing(job), settings=self.settings,
                                              cancelled=self.cancelled, job=f"fal request {rid}")
        files = output_files(result)
        seed = result.get("seed")
        timings: dict[str, Any] = dict(times)
        if isinstance(result.get("timings"), dict):
            timings.update({k: v for k, v in result["timings"].items() if isinstance(v, int | float)})
        metrics = final.get("metrics")
        if isinstance(metrics, dict) and isinstance(metrics.get("inference_time"), int | float):
            timings["inference_time"] = metrics["inference_time"]
        return Finished(
            job_id=rid,
            files=files,
            usage=result_usage(str(job.get("endpoint") or ""), result, len(files), billed, rid),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            meta={"endpoint": job.get("endpoint"), "request_id": rid, "timings": timings},
        )

    def upload(self, path: Path, mime: str) -> str:
        """Put a file in fal storage and return its URL for a request's input: `POST {storage}/storage/upload/
        initiate?storage_type=fal-cdn-v3` with {file_name, content_type} answers {upload_url, file_url}; the bytes
        are PUT to upload_url (a signed URL: the key is not sent there). Both steps may be repeated safely."""
        what = f"upload the input file {path.name}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProviderError(f"cannot {what}: {exc.strerror}", "validation") from None
        base = STORAGE_URL.read(self.settings)
        response = self._call("POST", f"{base}/storage/upload/initiate", what, params={"storage_type": STORAGE_TYPE},
                              json={"file_name": path.name, "content_type": mime})
        answer = _json_object(response, what)
        upload_url, file_url = answer.get("upload_url"), answer.get("file_url")
        if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in (upload_url, file_url)):
            raise ProviderError(f"fal storage answered the upload of {path.name} without upload_url and file_url",
                                "bad_response")
        timeout = max(float(self.settings.request_timeout_s), UPLOAD_TIMEOUT_S)
        with make_client(self.settings, timeout_s=timeout) as client:
            request_idempotent(client, "PUT", str(upload_url), provider=PROVIDER, what=what, policy=self.policy,
                               cancelled=self.cancelled, limiter=self.limiter, content=data,
                               headers={"Content-Type": mime})
        return str(file_url)

    def get_endpoint_schema(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's input schema from fal's per-endpoint OpenAPI document."""
        endpoint = parse_endpoint(endpoint)
        # The document is public; the key is not sent to a host other than the queue.
        with make_client(self.settings) as client:
            response = request_idempotent(
                client, "GET", schema_url(self.settings, endpoint), provider=PROVIDER,
                what=f"fetch the schema of {endpoint}", policy=self.policy, cancelled=self.cancelled,
                limiter=self.limiter,
            )
        document = _json_object(response, "a schema request")
        return input_schema_from_openapi(document, endpoint)


def input_schema_from_openapi(document: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """{"input": schema, "components": {...}} for the POST that submits to `endpoint`."""
    components = (document.get("components") or {}).get("schemas") or {}
    paths = document.get("paths") or {}
    candidates = [f"/{endpoint}", f"/{endpoint}/"]
    ordered = [p for p in candidates if p in paths] + [p for p in paths if p not in candidates]
    for path in ordered:
        post = (paths.get(path) or {}).get("post") if isinstance(paths.get(path), dict) else None
        if not isinstance(post, dict):
            continue
        content = ((post.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
        schema = content.get("schema")
        if not isinstance(schema, dict):
            continue
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            schema = components.get(ref.rsplit("/", 1)[-1])
        if isinstance(schema, dict):
            return {"endpoint": endpoint, "input": _ordered(schema), "components": components}
    raise ProviderError(f"fal endpoint {endpoint}: its OpenAPI document has no input schema", "bad_response")


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with fal's field order (`x-fal-order-properties`) written into each property as `x-order`."""
    order = schema.get("x-fal-order-properties")
    properties = schema.get("properties")
    if not isinstance(order, list) or not isinstance(properties, dict):
        return schema
    rank = {name: index for index, name in enumerate(order) if isinstance(name, str)}
    return {**schema, "properties": {
        name: {**prop, "x-order": rank[name]} if isinstance(prop, dict) and name in rank and "x-order" not in prop
        else prop
        for name, prop in properties.items()
    }}


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    return json_object(response, PROVIDER, what)


def _status_error(job: dict[str, Any], status: dict[str, Any]) -> ProviderError:
    rid = job.get("request_id") or job.get("job_id")
    error = status.get("error") or status.get("detail") or status.get("status")
    error_type = status.get("error_type")
    kind = f" [{error_type}]" if error_type else ""
    lines = log_messages(status.get("logs"))
    tail = f" (last log line: {lines[-1][:200]})" if lines and not status.get("error") else ""
    code = "remote_canceled" if str(status.get("status", "")).upper() in ("CANCELED", "CANCELLED") or \
        error_type == "client_cancelled" else "remote_failed"
    return ProviderError(f"fal request {rid} failed{kind}: {error}{tail}", code,
                         ended="canceled" if code == "remote_canceled" else "failed")


def progress(status: dict[str, Any]) -> Progress | None:
    """A queue status as the progress bar shows it: queue position, then tqdm percentage and last log line."""
    state = str(status.get("status", "")).upper()
    if state == "IN_QUEUE":
        position = status.get("queue_position")
        return Progress(0.0, f"in queue (position {position})" if position is not None else "in queue", "queued")
    if state == "IN_PROGRESS":
        lines = log_messages(status.get("logs"))
        return Progress(parse_progress("\n".join(lines)), lines[-1][:200] if lines else "running")
    if state == "COMPLETED":
        return Progress(None, "", "done")
    return None


# --- money -------------------------------------------------------------------------------------

# fal bills images per megapixel rounded up per image, a megapixel being 1024×1024 (a 1024×1024 image is 1).
MEGAPIXEL = 1024 * 1024
IMAGE_SIZE_PRESETS = {
    "square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}


def billable_units(header: str | None) -> float | None:
    """The quantity in fal's x-fal-billable-units header (in the unit the endpoint is priced in), if any."""
    try:
        value = float(str(header).strip()) if header is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _megapixels(width: Any, height: Any) -> int | None:
    if isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0:
        return max(1, math.ceil(float(width) * float(height) / MEGAPIXEL - 1e-9))
    return None


def _size_megapixels(size: Any) -> int:
    """Billed megapixels of one image of this `image_size` (a preset name or {width, height}); 1 when unknown."""
    if isinstance(size, str) and size in IMAGE_SIZE_PRESETS:
        return _megapixels(*IMAGE_SIZE_PRESETS[size]) or 1
    if isinstance(size, Mapping):
        return _megapixels(size.get("width"), size.get("height")) or 1
    return 1


def _seconds(value: Any) -> float | None:
    """A video duration input ("5", "5s", 5) in seconds."""
    text = str(value).strip().lower().rstrip("s") if value is not None else ""
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def shipped_price(endpoint: str) -> UnitPrice | None:
    return next((p for p in PRICES if p.model == endpoint), None)


def result_usage(endpoint: str, result: Mapping[str, Any], outputs: int, billed: float | None,
                 request_id: str) -> Usage:
    """What a finished request used: its outputs and their megapixels (from the result's image sizes), and,
    when fal states it (x-fal-billable-units), the billed quantity in the unit the endpoint is priced in."""
    units: dict[str, float] = {"output": float(outputs), "request": 1.0}
    images = result.get("images")
    images = images if isinstance(images, list) else []
    sized = [_megapixels(i.get("width"), i.get("height")) for i in images if isinstance(i, Mapping)]
    if sized and all(mp is not None for mp in sized):
        units["megapixel"] = float(sum(mp for mp in sized if mp is not None))
    price = shipped_price(endpoint)
    reported = False
    if billed is not None and price is not None:
        # fal states the quantity in the unit the endpoint is priced in (the shipped book says which).
        units[price.unit] = billed
        reported = True
    return Usage(PROVIDER, endpoint, units, reported=reported, job_id=request_id)


def estimate(model: str, input_body: Mapping[str, Any], params: Mapping[str, Any]) -> Usage:
    """What one request to endpoint `model` with this input is expected to use: its images (num_images,
    default 1), their billed megapixels (image_size preset or {width, height}; ~1 MP otherwise), a video's
    seconds when the input gives its duration, one request."""
    endpoint = str(model or "").strip().strip("/")
    try:
        outputs = max(1, int(input_body.get("num_images") or 1))
    except (TypeError, ValueError):
        outputs = 1
    units: dict[str, float] = {"output": float(outputs), "request": 1.0,
                               "megapixel": float(outputs * _size_megapixels(input_body.get("image_size")))}
    seconds = _seconds(input_body.get("duration"))
    if seconds is not None:
        units["second"] = seconds
    return Usage(PROVIDER, endpoint, units)


PRICE_DATE = "2025-06-01"
_NOTE = "fal price page, June 2025 ({what})"
# endpoint: (unit, usd, what the page says, typical seconds for per-second prices)
_SHIPPED: dict[str, tuple[str, float, str, float | None]] = {
    "fal-ai/flux/dev": ("megapixel", 0.025, "per megapixel, rounded up per image", None),
    "fal-ai/flux/schnell": ("megapixel", 0.003, "per megapixel, rounded up per image", None),
    "fal-ai/flux-lora": ("megapixel", 0.035, "per megapixel, rounded up per image", None),
    "fal-ai/flux-pro/v1.1": ("megapixel", 0.04, "per megapixel, rounded up per image", None),
    "fal-ai/flux-pro/v1.1-ultra": ("output", 0.06, "per image", None),
    "fal-ai/flux-pro/kontext": ("output", 0.04, "per image", None),
    "fal-ai/flux-pro/kontext/max": ("output", 0.08, "per image", None),
    "fal-ai/recraft-v3": ("output", 0.04, "per image", None),
    "fal-ai/ideogram/v2": ("output", 0.08, "per image", None),
    "fal-ai/imagen4/preview": ("output", 0.05, "per image", None),
    "fal-ai/minimax/video-01": ("output", 0.5, "per video", None),
    "fal-ai/kling-video/v1.6/standard/text-to-video": ("second", 0.045, "per second of video", 5.0),
    "fal-ai/kling-video/v1.6/pro/text-to-video": ("second", 0.095, "per second of video", 5.0),
    "fal-ai/kling-video/v2.1/master/text-to-video": ("second", 0.28, "per second of video", 5.0),
    "fal-ai/veo3": ("second", 0.75, "per second of video", 8.0),
}
PRICES: tuple[UnitPrice, ...] = tuple(
    UnitPrice(PROVIDER, endpoint, unit, usd, "shipped", PRICE_DATE, _NOTE.format(what=what), typical_seconds=typical)
    for endpoint, (unit, usd, what, typical) in _SHIPPED.items()
)
# fal's pricing API names its units; ours are output, megapixel, second and request.
_UNITS = {"image": "output", "images": "output", "video": "output", "videos": "output",
          "megapixel": "megapixel", "megapixels": "megapixel", "mp": "megapixel",
          "second": "second", "seconds": "second", "video_second": "second", "video_seconds": "second"}
PRICING_BATCH = 50  # endpoint ids per pricing request (fal accepts up to 50)
MAX_PRICING_PAGES = 20


def price_unit(fal_unit: Any) -> str:
    """Our unit for one of fal's pricing units (image → output, megapixels → megapixel, ...); else request."""
    return _UNITS.get(str(fal_unit or "").strip().lower().replace(" ", "_"), "request")


def published_prices(settings: Any, key: str | None, models: tuple[str, ...]) -> list[UnitPrice]:
    """The prices fal publishes for these endpoints (GET {api}/v1/models/pricing?endpoint_id=...), in USD.

    Empty when there is nothing to ask (no key, no endpoint id among `models`); ProviderError when fal
    cannot be asked. A model that is not an endpoint id (a user's own key) is left out."""
    endpoints = sorted({m.strip().strip("/") for m in models if _ENDPOINT_RE.match(str(m or "").strip().strip("/"))})
    if not key or not endpoints:
        return []
    base = API_URL.read(settings)
    today = datetime.now(UTC).date().isoformat()
    found: list[UnitPrice] = []
    with FalClient(settings, key) as client:
        for start in range(0, len(endpoints), PRICING_BATCH):
            query: list[tuple[str, str]] = [("endpoint_id", e) for e in endpoints[start:start + PRICING_BATCH]]
            for _page in range(MAX_PRICING_PAGES):
                response = client._call("GET", f"{base}/v1/models/pricing", "read the published prices",
                                        params=query)
                data = _json_object(response, "a pricing request")
                for entry in data.get("prices") or []:
                    if not isinstance(entry, Mapping) or not entry.get("endpoint_id"):
                        continue
                    usd = entry.get("unit_price")
                    if str(entry.get("currency") or "USD").upper() != "USD" or isinstance(usd, bool) \
                            or not isinstance(usd, int | float) or usd < 0:
                        continue
                    found.append(UnitPrice(PROVIDER, str(entry["endpoint_id"]), price_unit(entry.get("unit")),
                                           float(usd), "provider", today,
                                           f"fal pricing API, {today} (per {entry.get('unit') or 'request'})"))
                cursor = data.get("next_cursor")
                if not data.get("has_more") or not cursor:
                    break
                query = [*[q for q in query if q[0] != "cursor"], ("cursor", str(cursor))]
    return found


def check_connection(settings: Any, key: str) -> str:
    with FalClient(settings, key) as client:
        client.check_key()
        return "Connected to fal: the key was accepted"


def upload_file(settings: Any, key: str, path: Path, mime: str, cancelled: CancelCheck | None) -> str:
    with FalClient(settings, key, cancelled) as client:
        return client.upload(path, mime)


def fetch_schema(settings: Any, key: str | None, endpoint: str) -> dict[str, Any]:
    # The schema documents are public: no key needed.
    with FalClient(settings, key or "") as client:
        return client.get_endpoint_schema(endpoint)


SPEC = ProviderSpec(
    id=PROVIDER,
    name="fal",
    key_env="FAL_KEY",
    keychain_user=PROVIDER,
    base_url=QUEUE_URL,
    other_urls=(REST_URL, API_URL, STORAGE_URL),
    default_concurrency=4,
    concurrency_setting="concurrency_fal",
    client=FalClient,
    progress=progress,
    check_connection=check_connection,
    fetch_schema=fetch_schema,
    prices=PRICES,
    published_prices=published_prices,
    estimate=estimate,
    media=MediaInputs(max_bytes=MAX_UPLOAD_BYTES, upload=upload_file),
    node=NodeSpec(
        model=Param("endpoint", "string", "fal-ai/flux/dev", "fal endpoint id, e.g. fal-ai/flux/dev",
                    required=True),
        model_hint="choose a fal endpoint (for example fal-ai/flux/dev)",
        image_field="image_url",
        doc="Runs an endpoint on the fal queue; every file it returns becomes a product.",
    ),
)
