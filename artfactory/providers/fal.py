"""fal queue over httpx: submit, follow the returned status/response/cancel URLs, results, schema."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from artfactory.engine.nodetypes import NodeCanceled
from artfactory.providers.http import (
    TRANSIENT_CODES,
    ApiSession,
    CancelCheck,
    ProviderError,
    create_once,
    describe_body,
    error_from_response,
    make_client,
    poll_through_outages,
    remembered_job,
    request_idempotent,
    sleep_cancellable,
)
from artfactory.providers.replicate import is_file_ref

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
    base = str(getattr(settings, "fal_rest_url", "") or FAL_RUN_DEFAULT).rstrip("/")
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
        super().__init__(settings, settings.fal_queue_url, {"Authorization": f"Key {key}"}, cancelled)

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
            return {"endpoint": endpoint, "input": schema, "components": components}
    raise ProviderError(f"fal endpoint {endpoint}: its OpenAPI document has no input schema", "bad_response")


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


def run_request(ctx: Any, key: str, endpoint: str, input: dict[str, Any],
                on_update: Callable[[dict[str, Any]], None] | None = None,
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit (or resume a remembered) request, wait for it and fetch its result: (job, result).

    The request id and its URLs go to `ctx.remember_remote` right after the submit is accepted (and when
    they cannot be stored, the request is canceled).
    """
    cancelled: CancelCheck = lambda: bool(ctx.canceled)  # noqa: E731 - read live on every check
    previous = remembered_job(ctx)
    endpoint = parse_endpoint(endpoint)
    with FalClient(ctx.settings, key, cancelled) as client:
        if previous is not None:
            urls = previous.get("urls") or {}
            job = {"request_id": previous["job_id"], "endpoint": previous.get("endpoint") or endpoint, **urls}
            ctx.log(f"resuming fal request {job['request_id']} (no new submit)")
        else:
            def late(job: dict[str, Any]) -> None:
                # Answered after the node was cancelled: take the request off the queue as well.
                if job.get("request_id"):
                    client.cancel_soon(job, foreground_s=30.0)

            job = client.submit(endpoint, input, on_abandoned=late)
            client.remember_or_stop(ctx, job, {
                "provider": PROVIDER, "endpoint": endpoint,
                "urls": {k: job[k] for k in ("status_url", "response_url", "cancel_url") if job.get(k)},
                "item_index": getattr(ctx, "item_index", 0),
            })
        try:
            status = client.wait(job, on_update)
            result = poll_through_outages(lambda: client.result(job), settings=ctx.settings,
                                          cancelled=cancelled, job=f"fal request {job['request_id']}")
        except NodeCanceled:
            client.cancel_soon(job)
            raise
        job["final_status"] = status
        return job, result
