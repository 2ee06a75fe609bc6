"""fal queue over httpx: submit, follow the returned status/response/cancel URLs, results, schema."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Param
from artfactory.lazy import lazy_module
from artfactory.providers.downloads import is_file_ref
from artfactory.providers.http import (
    TRANSIENT_CODES,
    ApiSession,
    CancelCheck,
    ProviderError,
    create_once,
    describe_body,
    error_from_response,
    make_client,
    parse_progress,
    poll_through_outages,
    request_idempotent,
    sleep_cancellable,
)
from artfactory.providers.registry import Finished, NodeSpec, Progress, ProviderSpec, UrlSetting

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
        return ProviderError(f"fal request {rid} failed{kind}: {detail}", code, status=status)

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
        job = _json_object(response, f"submit to {endpoint}")
        if not job.get("request_id"):
            raise ProviderError(
                "fal accepted the request but its answer has no request_id; it may be running — check "
                "your dashboard before re-running", "bad_response",
            )
        job["endpoint"] = endpoint
        return job

    def status(self, job: dict[str, Any]) -> dict[str, Any]:
        url = self._job_url(job, "status_url", "/status")
        response = self._call("GET", url, f"fetch the status of request {job.get('request_id')}",
                              params={"logs": "1"})
        return _json_object(response, "a status request")

    def result(self, job: dict[str, Any]) -> dict[str, Any]:
        url = self._job_url(job, "response_url", "")
        rid = job.get("request_id")
        response = self._call("GET", url, f"fetch the result of request {rid}", final=_request_failed(rid))
        return _json_object(response, "a result request")

    def cancel(self, job: dict[str, Any]) -> None:
        """PUT cancel_url; an already finished or unknown request is not an error."""
        url = self._job_url(job, "cancel_url", "/cancel")
        try:
            self._call("PUT", url, f"cancel request {job.get('request_id')}", cancellable=False)
        except ProviderError as exc:
            if exc.status not in (400, 404, 409):  # ALREADY_COMPLETED / NOT_FOUND
                raise

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
        result = poll_through_outages(lambda: self.result(job), settings=self.settings,
                                      cancelled=self.cancelled, job=f"fal request {rid}")
        seed = result.get("seed")
        timings: dict[str, Any] = dict(times)
        if isinstance(result.get("timings"), dict):
            timings.update({k: v for k, v in result["timings"].items() if isinstance(v, int | float)})
        metrics = final.get("metrics")
        if isinstance(metrics, dict) and isinstance(metrics.get("inference_time"), int | float):
            timings["inference_time"] = metrics["inference_time"]
        return Finished(
            job_id=rid,
            files=output_files(result),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            meta={"endpoint": job.get("endpoint"), "request_id": rid, "timings": timings},
        )

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
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"fal answered {what} with something that is not a JSON object", "bad_response")
    return data


def _status_error(job: dict[str, Any], status: dict[str, Any]) -> ProviderError:
    rid = job.get("request_id") or job.get("job_id")
    error = status.get("error") or status.get("detail") or status.get("status")
    error_type = status.get("error_type")
    kind = f" [{error_type}]" if error_type else ""
    lines = log_messages(status.get("logs"))
    tail = f" (last log line: {lines[-1][:200]})" if lines and not status.get("error") else ""
    code = "remote_canceled" if str(status.get("status", "")).upper() in ("CANCELED", "CANCELLED") or \
        error_type == "client_cancelled" else "remote_failed"
    return ProviderError(f"fal request {rid} failed{kind}: {error}{tail}", code)


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


def check_connection(settings: Any, key: str) -> str:
    with FalClient(settings, key) as client:
        client.check_key()
        return "Connected to fal: the key was accepted"


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
    other_urls=(REST_URL,),
    default_concurrency=4,
    concurrency_setting="concurrency_fal",
    client=FalClient,
    progress=progress,
    check_connection=check_connection,
    fetch_schema=fetch_schema,
    node=NodeSpec(
        model=Param("endpoint", "string", "fal-ai/flux/dev", "fal endpoint id, e.g. fal-ai/flux/dev",
                    required=True),
        model_hint="choose a fal endpoint (for example fal-ai/flux/dev)",
        image_field="image_url",
        doc="Runs an endpoint on the fal queue; every file it returns becomes a product.",
    ),
)
