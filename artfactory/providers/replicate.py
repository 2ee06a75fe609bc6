"""Replicate over httpx: create (model or version form), poll, cancel, outputs, progress and schema."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import NodeCanceled, Param
from artfactory.lazy import lazy_module
from artfactory.providers.downloads import is_file_ref
from artfactory.providers.http import (
    ApiSession,
    CancelCheck,
    MalformedAnswer,
    ProviderError,
    create_once,
    json_object,
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

log = logging.getLogger("artfactory.providers.replicate")

PROVIDER = "replicate"
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
MAX_PREFER_WAIT_S = 60
UPLOAD_TIMEOUT_S = 300.0  # an input file of up to 100 MB on a slow uplink
BASE_URL = UrlSetting("replicate_base_url", "ARTFACTORY_REPLICATE_BASE_URL", "https://api.replicate.com")
__all__ = ["SPEC", "ModelRef", "ReplicateClient", "is_file_ref", "parse_progress"]

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_MODEL_RE = re.compile(rf"^({_NAME})/({_NAME})(?::([A-Za-z0-9]+))?$")
_VERSION_ONLY_RE = re.compile(r"^[0-9a-f]{32,128}$")
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
        super().__init__(settings, BASE_URL.read(settings), {"Authorization": f"Bearer {token}"}, cancelled)

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
        try:
            prediction = _json_object(response, f"create a prediction for {ref}")
        except MalformedAnswer:
            prediction = {}  # accepted (2xx) all the same: said below, and never sent again
        if not prediction.get("id"):
            raise ProviderError(
                "Replicate accepted the prediction but its answer could not be read or has no id; it may be "
                "running and billed, so it was not sent again — check your dashboard before re-running",
                "uncertain_create",
            )
        return prediction

    def get(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """The current state of a prediction (by its urls.get, or by id)."""
        pid = prediction.get("id") or prediction.get("job_id")
        urls = prediction.get("urls") or {}
        url = self._url(urls.get("get"), f"/v1/predictions/{pid}")
        return self._get_json(url, f"fetch prediction {pid}")

    def cancel(self, prediction: dict[str, Any]) -> bool:
        """Ask Replicate to stop a prediction (POST urls.cancel); a finished one is left alone (False)."""
        pid = prediction.get("id") or prediction.get("job_id")
        urls = prediction.get("urls") or {}
        url = self._url(urls.get("cancel"), f"/v1/predictions/{pid}/cancel")
        # A cancel is idempotent, so it may be retried; it must not be stopped by the cancel flag.
        try:
            response = request_idempotent(
                self._client, "POST", url, provider=PROVIDER, what=f"cancel prediction {pid}",
                policy=self.policy, cancelled=lambda: False, limiter=self.limiter,
            )
        except ProviderError as exc:
            if exc.status == 404:  # gone: nothing left to stop
                return True
            if exc.status in (409, 422):  # already finished: nothing to stop
                return False
            raise
        try:
            answer = response.json()
        except (ValueError, UnicodeDecodeError):
            answer = None
        # The answer is the prediction: one that had already succeeded keeps its outputs.
        return not (isinstance(answer, dict) and answer.get("status") == "succeeded")

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

    # --- the job protocol the cloud node drives (registry.JobClient) ---

    def create_job(self, model: str, input: dict[str, Any], params: Any,
                   on_abandoned: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self.create(model, input, wait_s=int(params.get("wait") or 0), on_abandoned=on_abandoned)

    def resume_state(self, job: dict[str, Any], model: str) -> dict[str, Any]:
        return {"model": model, "urls": job.get("urls") or {}}

    def resume_job(self, remembered: dict[str, Any], model: str) -> dict[str, Any]:
        resumed = {"id": remembered["job_id"], "urls": remembered.get("urls") or {}}
        try:
            # Like every poll, the first look at a re-attached prediction rides out an outage.
            return poll_through_outages(partial(self.get, resumed), settings=self.settings,
                                        cancelled=self.cancelled, job=f"Replicate prediction {resumed['id']}")
        except NodeCanceled:
            self.cancel_soon(resumed)
            raise

    def poll_job(self, job: dict[str, Any], on_update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        prediction = self.wait(job, on_update)
        if prediction.get("status") != "succeeded":
            raise failure_error(prediction)
        return prediction

    def fetch_outputs(self, job: dict[str, Any], final: dict[str, Any], times: dict[str, str]) -> Finished:
        # The prediction carries its outputs and its own timestamps: nothing more to fetch.
        metrics = final.get("metrics") or {}
        files = output_files(final.get("output"))
        return Finished(
            job_id=str(final.get("id")),
            files=files,
            usage=prediction_usage({**job, **final}, outputs=len(files)),
            seed=seed_from_logs(final.get("logs")),
            meta={
                "version": final.get("version"),
                "prediction_id": str(final.get("id")),
                "timings": {
                    "created": final.get("created_at"),
                    "started": final.get("started_at"),
                    "completed": final.get("completed_at"),
                    **({"predict_time": metrics["predict_time"]} if "predict_time" in metrics else {}),
                },
            },
        )

    # --- input files ---

    def upload(self, path: Path, mime: str) -> str:
        """Upload a file to the Files API (`POST /v1/files`, multipart field `content`) and return its `urls.get`,
        which a prediction's input takes in place of the file. Repeating it is harmless (a second copy of the same
        bytes costs nothing), so it is retried like any idempotent call."""
        what = f"upload the input file {path.name}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProviderError(f"cannot {what}: {exc.strerror}", "validation") from None
        timeout = max(float(self.settings.request_timeout_s), UPLOAD_TIMEOUT_S)
        response = request_idempotent(
            self._client, "POST", f"{self.base}/v1/files", provider=PROVIDER, what=what, policy=self.policy,
            cancelled=self.cancelled, limiter=self.limiter, files={"content": (path.name, data, mime)},
            timeout=timeout,
        )
        answer = _json_object(response, what)
        url = (answer.get("urls") or {}).get("get") if isinstance(answer.get("urls"), dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderError(f"Replicate took {path.name} but its answer has no urls.get to use it by",
                                "bad_response")
        return url

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
    return json_object(response, PROVIDER, what)


def model_key(model: str) -> str:
    """The price-book key of a model: "owner/name" without the version (a bare version id stays as it is)."""
    text = str(model or "").strip()
    try:
        return ModelRef.parse(text).slug
    except ProviderError:
        return text.split(":", 1)[0]


def prediction_usage(prediction: Mapping[str, Any], outputs: int | None = None) -> Usage:
    """What a prediction used: its file outputs and, as Replicate reports it, `metrics.predict_time`.

    Replicate bills official models per output and the others per second of hardware time (predict_time);
    both are kept, so either price applies. Reported when the prediction states its predict_time."""
    metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), Mapping) else {}
    seconds = metrics.get("predict_time") if isinstance(metrics, Mapping) else None
    count = len(output_files(prediction.get("output"))) if outputs is None else outputs
    units: dict[str, float] = {"output": float(count)}
    timed = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if isinstance(seconds, int | float) and timed:
        units["second"] = float(seconds)
    return Usage(PROVIDER, model_key(str(prediction.get("model") or prediction.get("version") or "")), units,
                 reported=timed, job_id=str(prediction.get("id") or ""))


def failure_error(prediction: dict[str, Any]) -> ProviderError:
    """The error for a prediction that ended failed / canceled / aborted, in Replicate's words.

    It carries the end (the job is never re-attached) and, when Replicate reports the time the prediction
    ran, what it used: Replicate bills a failed or canceled prediction for that time."""
    pid = prediction.get("id", "?")
    status = prediction.get("status")
    error = prediction.get("error")
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or str(error)
    detail = f": {error}" if error else ""
    usage = prediction_usage(prediction)
    used = usage if usage.reported else None
    if status == "canceled":
        return ProviderError(f"Replicate prediction {pid} was canceled{detail}", "remote_canceled",
                             ended="canceled", usage=used)
    if status == "aborted":
        return ProviderError(
            f"Replicate prediction {pid} was aborted before it started{detail}", "remote_canceled",
            ended="canceled", usage=used,
        )
    if not detail:
        line = last_log_line(prediction.get("logs"))
        detail = f" (last log line: {line})" if line else ""
    return ProviderError(f"Replicate prediction {pid} failed{detail}", "remote_failed", ended="failed", usage=used)


def progress(prediction: dict[str, Any]) -> Progress | None:
    """A prediction's status as the progress bar shows it: tqdm percentage and last log line."""
    status = prediction.get("status")
    if status == "starting":
        return Progress(0.0, "starting", "queued")
    if status == "processing":
        logs = prediction.get("logs")
        return Progress(parse_progress(logs), last_log_line(logs) or "processing")
    return None


def _count(value: Any) -> int:
    """A requested number of outputs (num_outputs and the like); 1 when absent or not a number."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return 1
    return max(1, count)


def _megapixels(body: Mapping[str, Any]) -> float | None:
    """Megapixels of one output from width×height, a `megapixels` input, or ~1 MP for an aspect ratio."""
    width, height = body.get("width"), body.get("height")
    if isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0:
        return round(float(width) * float(height) / 1_000_000, 4)
    given = body.get("megapixels")
    try:
        return float(given) if given is not None else (1.0 if body.get("aspect_ratio") else None)
    except (TypeError, ValueError):
        return 1.0 if body.get("aspect_ratio") else None


def estimate(model: str, input_body: Mapping[str, Any], params: Mapping[str, Any]) -> Usage:
    """What one prediction of `model` with this input is expected to use: its outputs (num_outputs, default
    1), their megapixels when the input says, one request. Seconds are left to the price's typical_seconds."""
    outputs = _count(input_body.get("num_outputs", input_body.get("num_images")))
    units: dict[str, float] = {"output": float(outputs), "request": 1.0}
    megapixels = _megapixels(input_body)
    if megapixels:
        units["megapixel"] = megapixels * outputs
    return Usage(PROVIDER, model_key(model), units)


PRICE_DATE = "2025-06-01"
_OUTPUT_NOTE = "Replicate price page, June 2025 (official model, billed per output image)"
_HARDWARE_NOTE = "Replicate price page, June 2025 ({gpu} hardware at ${usd}/s; typical run {typical:g} s)"
# Official models are billed per output; the others per second of the hardware they run on (predict_time).
_PER_OUTPUT = {
    "black-forest-labs/flux-schnell": 0.003,
    "black-forest-labs/flux-dev": 0.025,
    "black-forest-labs/flux-pro": 0.055,
    "black-forest-labs/flux-1.1-pro": 0.04,
    "black-forest-labs/flux-1.1-pro-ultra": 0.06,
    "black-forest-labs/flux-kontext-pro": 0.04,
    "black-forest-labs/flux-kontext-max": 0.08,
    "recraft-ai/recraft-v3": 0.04,
    "recraft-ai/recraft-v3-svg": 0.08,
    "ideogram-ai/ideogram-v2": 0.08,
    "ideogram-ai/ideogram-v2-turbo": 0.05,
    "ideogram-ai/ideogram-v3-turbo": 0.03,
    "stability-ai/stable-diffusion-3.5-large": 0.065,
    "stability-ai/stable-diffusion-3.5-large-turbo": 0.04,
    "stability-ai/stable-diffusion-3.5-medium": 0.035,
    "google/imagen-4": 0.04,
}
# model: (GPU, $ per second, typical seconds of one prediction)
_PER_SECOND = {
    "stability-ai/sdxl": ("Nvidia L40S", 0.000975, 5.0),
    "bytedance/sdxl-lightning-4step": ("Nvidia L40S", 0.000975, 2.0),
    "nightmareai/real-esrgan": ("Nvidia T4", 0.000225, 4.0),
}
PRICES: tuple[UnitPrice, ...] = (
    *(UnitPrice(PROVIDER, model, "output", usd, "shipped", PRICE_DATE, _OUTPUT_NOTE)
      for model, usd in _PER_OUTPUT.items()),
    *(UnitPrice(PROVIDER, model, "second", usd, "shipped", PRICE_DATE,
                _HARDWARE_NOTE.format(gpu=gpu, usd=usd, typical=typical), typical_seconds=typical)
      for model, (gpu, usd, typical) in _PER_SECOND.items()),
)


def check_connection(settings: Any, token: str) -> str:
    with ReplicateClient(settings, token) as client:
        return f"Connected to Replicate as {client.account()}"


def upload_file(settings: Any, token: str, path: Path, mime: str, cancelled: CancelCheck | None) -> str:
    with ReplicateClient(settings, token, cancelled) as client:
        return client.upload(path, mime)


def fetch_schema(settings: Any, token: str | None, model: str) -> dict[str, Any]:
    if not token:
        raise ProviderError("Replicate needs an API key to read a model's schema", "auth")
    with ReplicateClient(settings, token) as client:
        return client.get_model_schema(model)


SPEC = ProviderSpec(
    id=PROVIDER,
    name="Replicate",
    key_env="REPLICATE_API_TOKEN",
    keychain_user=PROVIDER,
    key_pattern=r"\br8_[A-Za-z0-9]{16,}",  # Replicate tokens have a recognisable prefix
    base_url=BASE_URL,
    default_concurrency=4,
    concurrency_setting="concurrency_replicate",
    client=ReplicateClient,
    progress=progress,
    check_connection=check_connection,
    fetch_schema=fetch_schema,
    prices=PRICES,
    estimate=estimate,
    # The Files API takes up to 100 MB; smaller files than the inline setting go as data: URIs.
    media=MediaInputs(max_bytes=100 * 1024 * 1024, upload=upload_file),
    node=NodeSpec(
        model=Param("model", "string", "", "owner/name (official model) or owner/name:version", required=True),
        model_hint="choose a Replicate model (owner/name or owner/name:version)",
        extra_params=(
            Param("wait", "int", 0,
                  "Prefer: wait seconds (0-60). 0 = answer at once and poll: the prediction id is saved before "
                  "any waiting, so a crash resumes it and a cancel reaches it", minimum=0, maximum=60),
        ),
        image_field="image",
        doc="Runs a model on Replicate; every file it returns becomes a product.",
    ),
)
