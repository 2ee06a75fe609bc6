"""Replicate over httpx: create (model or version form), poll, cancel, outputs, progress and schema."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from artfactory.engine.nodetypes import NodeCanceled
from artfactory.providers.http import (
    ApiSession,
    CancelCheck,
    ProviderError,
    create_once,
    poll_through_outages,
    remembered_job,
    request_idempotent,
    sleep_cancellable,
)

log = logging.getLogger("artfactory.providers.replicate")

PROVIDER = "replicate"
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
MAX_PREFER_WAIT_S = 60
# Give a best-effort cancel this long in the foreground; the rest of its retries run in background,
# so a cancelled node still stops within the 1 s promise.

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_MODEL_RE = re.compile(rf"^({_NAME})/({_NAME})(?::([A-Za-z0-9]+))?$")
_VERSION_ONLY_RE = re.compile(r"^[0-9a-f]{32,128}$")
_PERCENT_RE = re.compile(r"(\d{1,3}(?:\.\d+)?)%\|")
_SEED_RE = re.compile(r"(?i)\bseed\b\s*(?:[:=]|\bis\b)?\s*(-?\d{1,20})\b")


@dataclass(frozen=True)
class ModelRef:
    """A model as the user writes it: "owner/name", "owner/name:version" or a bare version id."""

    owner: str
    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        text = (text or "").strip()
        if _VERSION_ONLY_RE.match(text):
            return cls("", "", text)
        match = _MODEL_RE.match(text)
        if not match:
            raise ProviderError(
                f"Replicate model {text!r} is not of the form owner/name or owner/name:version", "validation"
            )
        return cls(match.group(1), match.group(2), match.group(3))

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}" if self.owner else self.version or ""

    def __str__(self) -> str:
        if self.owner and self.version:
            return f"{self.owner}/{self.name}:{self.version}"
        return self.slug


def parse_progress(logs: str | None) -> float | None:
    """The last tqdm-style percentage ("42%|████") in a prediction's logs, if any."""
    if not logs:
        return None
    found = _PERCENT_RE.findall(logs)
    if not found:
        return None
    return max(0.0, min(100.0, float(found[-1])))


def seed_from_logs(logs: str | None) -> int | None:
    """The seed a model reports in its logs ("Using seed: 1234"), which Replicate has no field for."""
    if not logs:
        return None
    found = _SEED_RE.findall(logs)
    return int(found[-1]) if found else None


def last_log_line(logs: str | None) -> str:
    if not logs:
        return ""
    # tqdm rewrites its line with \r; the text after the last \r is what a terminal would show.
    lines = [ln.rsplit("\r", 1)[-1].strip() for ln in logs.splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1][:200] if lines else ""


def is_file_ref(value: str) -> bool:
    head = value[:16].lower()
    if head.startswith("data:"):
        return "," in value[:4096]
    return head.startswith(("https://", "http://")) and not any(ch.isspace() for ch in value[:4096])


def output_files(output: Any) -> list[str]:
    """File references (http(s) URLs, data: URIs) in an output: a string, a list, or an object."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if is_file_ref(value):
                found.append(value)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(output)
    return found


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class ReplicateClient(ApiSession):
    """One user's Replicate API session. Not a vendor SDK: plain JSON over httpx, per DESIGN §7."""

    JOB_NOUN = "Replicate prediction"
    JOB_ID_FIELD = "id"

    def __init__(self, settings: Any, token: str, cancelled: CancelCheck | None = None) -> None:
        self._token = token
        super().__init__(settings, settings.replicate_base_url, {"Authorization": f"Bearer {token}"}, cancelled)

    def _url(self, given: str | None, fallback_path: str) -> str:
        # Follow URLs the API hands back, but only on the API's own origin: the token goes with them.
        if given and _same_origin(given, self.base):
            return given
        return f"{self.base}{fallback_path}"

    def account(self) -> str:
        """Who the token belongs to (`GET /v1/account`): proves the key works without paying for anything."""
        data = self._get_json(f"{self.base}/v1/account", "check the API token")
        return str(data.get("username") or data.get("name") or "your account")

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = request_idempotent(
            self._client, "GET", url, provider=PROVIDER, what=what, policy=self.policy,
            cancelled=self.cancelled, limiter=self.limiter,
        )
        return _json_object(response, what)

    # --- predictions ---

    def create(self, model: str, input: dict[str, Any], *, wait_s: int = 0,
               on_abandoned: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Create a prediction once (see http.create_once); the answer may still be starting/processing."""
        ref = ModelRef.parse(model)
        if ref.version:
            url, body = f"{self.base}/v1/predictions", {"version": ref.version, "input": input}
        else:
            url = f"{self.base}/v1/models/{ref.owner}/{ref.name}/predictions"
            body = {"input": input}
        headers = {**self.headers, "Content-Type": "application/json"}
        wait_s = max(0, min(MAX_PREFER_WAIT_S, int(wait_s)))
        timeout_s = float(self.settings.request_timeout_s)
        if wait_s:
            headers["Prefer"] = f"wait={wait_s}"
            # The server holds the request up to wait_s; our read timeout must outlast it.
            timeout_s = max(timeout_s, wait_s + 15.0)

        def abandoned(response: httpx.Response) -> None:
            if response.is_success and on_abandoned is not None:
                try:
                    on_abandoned(response.json())
                except ValueError:
                    pass

        response = create_once(
            self.settings, headers, "POST", url, provider=PROVIDER,
            what=f"create a prediction for {ref}", policy=self.policy, cancelled=self.cancelled,
            on_abandoned=abandoned, limiter=self.limiter, timeout_s=timeout_s, json=body,
        )
        prediction = _json_object(response, f"create a prediction for {ref}")
        if not prediction.get("id"):
            raise ProviderError(
                "Replicate accepted the prediction but its answer has no id; it may be running — check "
                "your dashboard before re-running", "bad_response",
            )
        return prediction

    def get(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """The current state of a prediction (by its urls.get, or by id)."""
        pid = prediction.get("id") or prediction.get("job_id")
        urls = prediction.get("urls") or {}
        url = self._url(urls.get("get"), f"/v1/predictions/{pid}")
        return self._get_json(url, f"fetch prediction {pid}")

    def cancel(self, prediction: dict[str, Any]) -> None:
        """Ask Replicate to stop a prediction (POST urls.cancel); a finished one is left alone."""
        pid = prediction.get("id") or prediction.get("job_id")
        urls = prediction.get("urls") or {}
        url = self._url(urls.get("cancel"), f"/v1/predictions/{pid}/cancel")
        # A cancel is idempotent, so it may be retried; it must not be stopped by the cancel flag.
        try:
            request_idempotent(
                self._client, "POST", url, provider=PROVIDER, what=f"cancel prediction {pid}",
                policy=self.policy, cancelled=lambda: False, limiter=self.limiter,
            )
        except ProviderError as exc:
            if exc.status not in (404, 409, 422):  # already finished or gone: nothing to stop
                raise

    def twin(self) -> ReplicateClient:
        return ReplicateClient(self.settings, self._token)

    def wait(self, prediction: dict[str, Any],
             on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll until the prediction reaches a terminal status; NodeCanceled when cancelled."""
        interval = min(0.25, float(self.settings.poll_interval_s))
        while True:
            if on_update is not None:
                on_update(prediction)
            if prediction.get("status") in TERMINAL:
                return prediction
            sleep_cancellable(interval, self.cancelled)
            prediction = poll_through_outages(partial(self.get, prediction), settings=self.settings,
                                              cancelled=self.cancelled,
                                              job=f"Replicate prediction {prediction.get('id')}")
            interval = min(float(self.settings.poll_interval_s), interval * 1.5)

    # --- models ---

    def get_model_schema(self, model: str) -> dict[str, Any]:
        """The model's input schema: {"input": Input, "components": {...}, "version": id, "model": ref}."""
        ref = ModelRef.parse(model)
        if not ref.owner:
            raise ProviderError("a schema needs owner/name, not a bare version id", "validation")
        if ref.version:
            data = self._get_json(
                f"{self.base}/v1/models/{ref.owner}/{ref.name}/versions/{ref.version}",
                f"fetch model {ref}",
            )
            version = data
        else:
            data = self._get_json(f"{self.base}/v1/models/{ref.owner}/{ref.name}", f"fetch model {ref}")
            version = data.get("latest_version") or {}
        openapi = version.get("openapi_schema") if isinstance(version, dict) else None
        if not isinstance(openapi, dict):
            raise ProviderError(f"Replicate model {ref} has no published input schema", "not_found")
        schemas = (openapi.get("components") or {}).get("schemas") or {}
        input_schema = schemas.get("Input")
        if not isinstance(input_schema, dict):
            raise ProviderError(f"Replicate model {ref}: its schema has no Input", "bad_response")
        return {"model": str(ref), "version": version.get("id"), "input": input_schema, "components": schemas}


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"Replicate answered {what} with something that is not a JSON object",
                            "bad_response")
    return data


def failure_error(prediction: dict[str, Any]) -> ProviderError:
    """The error for a prediction that ended failed / canceled / aborted, in Replicate's words."""
    pid = prediction.get("id", "?")
    status = prediction.get("status")
    error = prediction.get("error")
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or str(error)
    detail = f": {error}" if error else ""
    if status == "canceled":
        return ProviderError(f"Replicate prediction {pid} was canceled{detail}", "remote_canceled")
    if status == "aborted":
        return ProviderError(
            f"Replicate prediction {pid} was aborted before it started{detail}", "remote_canceled"
        )
    if not detail:
        line = last_log_line(prediction.get("logs"))
        detail = f" (last log line: {line})" if line else ""
    return ProviderError(f"Replicate prediction {pid} failed{detail}", "remote_failed")


def run_prediction(ctx: Any, token: str, model: str, input: dict[str, Any], *, wait_s: int = 0,
                   on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Create (or, when the context remembers one, resume) a prediction and wait for it to succeed.

    The prediction id is handed to `ctx.remember_remote` right after the create is accepted and before
    any waiting, so a crash resumes by polling (and when it cannot be stored, the prediction is canceled).
    On cancel the remote job gets its cancel call.
    Returns the succeeded prediction; any other end raises ProviderError.
    """
    cancelled: CancelCheck = lambda: bool(ctx.canceled)  # noqa: E731 - read live on every check
    previous = remembered_job(ctx)
    with ReplicateClient(ctx.settings, token, cancelled) as client:
        if previous is not None:
            resumed = {"id": previous["job_id"], "urls": previous.get("urls") or {}}
            ctx.log(f"resuming Replicate prediction {resumed['id']} (no new create)")
            try:
                prediction = client.get(resumed)
            except NodeCanceled:
                client.cancel_soon(resumed)
                raise
        else:
            def late(prediction: dict[str, Any]) -> None:
                # The create was answered after the node had been cancelled: stop that job too.
                if prediction.get("id"):
                    client.cancel_soon(prediction, foreground_s=30.0)

            prediction = client.create(model, input, wait_s=wait_s, on_abandoned=late)
            client.remember_or_stop(ctx, prediction, {
                "provider": PROVIDER, "model": model, "urls": prediction.get("urls") or {},
                "item_index": getattr(ctx, "item_index", 0),
            })
        try:
            prediction = client.wait(prediction, on_update)
        except NodeCanceled:
            client.cancel_soon(prediction)
            raise
        if prediction.get("status") != "succeeded":
            raise failure_error(prediction)
        return prediction
