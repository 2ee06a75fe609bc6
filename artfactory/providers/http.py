"""Shared HTTP for provider clients: errors, retries that never repay a create, rate limit, sessions."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import ssl
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from artfactory import __version__
from artfactory.engine.context import RemoteNotStored
from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import NodeCanceled
from artfactory.lazy import lazy_module
from artfactory.services.secrets import display_name, redact

if TYPE_CHECKING:
    import httpx
else:  # ~0.15 s to import (it loads its own command line): only a request needs it, not `artfactory nodes`
    httpx = lazy_module("httpx")

log = logging.getLogger("artfactory.providers")

USER_AGENT = f"ArtFactory/{__version__}"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
# How often a blocking wait looks at the cancel flag: well under the 1 s promise.
CANCEL_SLICE_S = 0.05
CANCEL_FOREGROUND_S = 0.6  # how long a cancel holds up the node before it goes on in the background
# How long the node waits for the cancel of a job it gives up on: the node fails anyway, and only a confirmed
# cancel lets it mark the job as ended (else the next run re-attaches to it).
GIVE_UP_CANCEL_S = 20.0

# Error codes that say "cannot reach the provider right now", not "the provider said no".
TRANSIENT_CODES = frozenset({"network", "timeout", "unavailable", "rate_limited"})
# How long polling rides out an outage, in poll intervals (default 1 s → 5 minutes).
OUTAGE_POLL_INTERVALS = 300

T = TypeVar("T")
CancelCheck = Callable[[], bool]


class ProviderError(Exception):
    """A provider call failed; `code` is machine-readable, the message is shown to the user as is.

    Codes: auth, not_found, validation, rate_limited, unavailable, network, timeout, uncertain_create,
    remote_failed, remote_canceled, download, bad_output, bad_response, storage, expired.

    `ended` says the remote job is over for good ("failed", "canceled" or "expired"): the provider said so,
    so the job must never be re-attached. `usage` is what the ended job used when the provider reports it
    (Replicate bills a failed prediction for its time), so the ledger records what a failure cost.
    """

    def __init__(self, message: str, code: str = "remote_failed", *, status: int | None = None,
                 ended: str | None = None, usage: Usage | None = None) -> None:
        super().__init__(redact(message))
        self.code = code
        self.status = status
        self.ended = ended
        self.usage = usage

    @property
    def message(self) -> str:
        return str(self)


class MalformedAnswer(ProviderError):
    """A 2xx answer whose body is not the JSON object the API documents (a proxy's page, a cut body).

    On a poll it is ridden out like an outage: the job was accepted and is paid for, one bad answer says
    nothing about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "bad_response")


def json_object(response: httpx.Response, provider: str, what: str) -> dict[str, Any]:
    """The JSON object a 2xx answer carries; MalformedAnswer when it is not one."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise MalformedAnswer(f"{display_name(provider)} answered {what} with something that is not a JSON object")
    return data


# --- cancellation ------------------------------------------------------------------------------


def cancel_check(source: Any) -> CancelCheck:
    """A cancel predicate from a RunContext (its `canceled`), a callable, or None (never cancelled)."""
    if source is None:
        return lambda: False
    if callable(source):
        return source
    return lambda: bool(source.canceled)


def sleep_cancellable(seconds: float, cancelled: CancelCheck) -> None:
    """Sleep in short slices; NodeCanceled as soon as `cancelled()` turns true."""
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        if cancelled():
            raise NodeCanceled("canceled while waiting")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(CANCEL_SLICE_S, left))


def run_cancellable(fn: Callable[[], T], cancelled: CancelCheck,
                    on_abandon: Callable[[T], None] | None = None) -> T:
    """Run a blocking call in a helper thread so a cancel is noticed within CANCEL_SLICE_S.

    httpx cannot interrupt a request from another thread, so on cancel the call is abandoned: it
    finishes (bounded by the client's timeout) in the background and `on_abandon` gets its result —
    that is how a create answered after a cancel still gets its remote cancel call (it receives
    whatever came back, success or not).
    """
    if cancelled():
        raise NodeCanceled("canceled before a request")
    done = threading.Event()
    abandoned = threading.Event()
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc
        with lock:
            done.set()
            late = abandoned.is_set()
        if late and on_abandon is not None and "value" in box:
            try:
                on_abandon(box["value"])
            except Exception as exc:  # background clean-up must never raise into nowhere loudly
                log.warning("clean-up after a cancelled request failed: %s", redact(str(exc)))

    thread = threading.Thread(target=target, name="artfactory-http", daemon=True)
    thread.start()
    while not done.wait(CANCEL_SLICE_S):
        if cancelled():
            with lock:
                if not done.is_set():
                    abandoned.set()
                    raise NodeCanceled("canceled during a request")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


_PERCENT_RE = re.compile(r"(\d{1,3}(?:\.\d+)?)%\|")


def parse_progress(logs: str | None) -> float | None:
    """The last tqdm-style percentage ("42%|████") in a job's logs, if any."""
    if not logs:
        return None
    found = _PERCENT_RE.findall(logs)
    if not found:
        return None
    return max(0.0, min(100.0, float(found[-1])))


def remembered_job(ctx: Any) -> dict[str, Any] | None:
    """The remote job this batch item already started (ctx.previous_remote), if any.

    The state carries the batch item's index: a context reused across items must not make item 2
    poll item 1's job (it would silently return the wrong picture and never create its own).
    """
    previous = getattr(ctx, "previous_remote", None)
    if not isinstance(previous, dict) or not previous.get("job_id") or previous.get("ended"):
        return None  # a job that ended (failed, canceled, outputs gone) is never re-attached
    if previous.get("item_index", getattr(ctx, "item_index", 0)) != getattr(ctx, "item_index", 0):
        return None
    return previous


# --- rate limit --------------------------------------------------------------------------------


class RateLimiter:
    """A thread-safe token bucket: at most `rate` requests per second on average, small bursts allowed."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self._lock = threading.Lock()
        self.rate = max(0.01, float(rate))
        self.burst = max(1.0, burst if burst is not None else self.rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            rate = max(0.01, float(rate))
            if rate != self.rate:
                self.rate = rate
                self.burst = max(1.0, rate)
                self._tokens = min(self._tokens, self.burst)

    def _take(self) -> float:
        """Take a token if there is one (0.0) or say how long until there will be."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, cancelled: CancelCheck | None = None) -> None:
        check = cancelled or (lambda: False)
        while True:
            wait = self._take()
            if wait <= 0:
                return
            sleep_cancellable(min(wait, 0.25), check)


# One bucket for the whole process: politeness is about all our traffic, whichever client sends it.
GLOBAL_LIMITER = RateLimiter(10.0)


def limiter_for(settings: Any) -> RateLimiter:
    GLOBAL_LIMITER.set_rate(float(getattr(settings, "requests_per_second", 10.0) or 10.0))
    return GLOBAL_LIMITER


# --- retry policy ------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins, capped at `retry_after_cap_s`."""

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 10.0
    retry_after_cap_s: float = 60.0

    @classmethod
    def for_settings(cls, settings: Any) -> RetryPolicy:
        # Backoff scales with the poll interval, so tests (tiny intervals) stay fast while the
        # defaults (1 s) give 0.5 s .. 10 s waits; there is deliberately no separate knob.
        poll = max(0.005, float(getattr(settings, "poll_interval_s", 1.0) or 1.0))
        return cls(base_s=poll / 2, cap_s=max(poll * 10, poll / 2))

    def backoff(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.cap_s, self.base_s * (2 ** max(0, attempt))))

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        return self.delay_after(attempt, response.headers.get("retry-after") if response is not None else None)

    def delay_after(self, attempt: int, retry_after: str | None) -> float:
        """The wait before retry `attempt`: the server's Retry-After header when it sent one, else backoff."""
        after = parse_retry_after(retry_after)
        if after is not None:
            return min(after, self.retry_after_cap_s)
        return self.backoff(attempt)


# --- clients and errors ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~50 ms); clients are made per job, so share one.
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


def make_client(settings: Any, headers: dict[str, str] | None = None,
                timeout_s: float | None = None) -> httpx.Client:
    """An httpx client with our User-Agent and the settings' timeout (connect capped at 10 s)."""
    total = float(timeout_s if timeout_s is not None else getattr(settings, "request_timeout_s", 60.0))
    timeout = httpx.Timeout(total, connect=min(10.0, total))
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=timeout,
        verify=_ssl_context(),
        # Redirects are followed for downloads (CDNs); httpx drops Authorization on a cross-origin hop.
        follow_redirects=True,
    )


def safe_url(url: str) -> str:
    """A URL fit for messages: no query string or fragment (signed URLs carry secrets there), no userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.scheme == "data":
        return f"data:{url[5:].split(',', 1)[0]},…"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _format_validation_items(items: list[Any]) -> str:
    """FastAPI/pydantic validation errors (`detail: [{"loc", "msg"}]`) as "field: message; …"."""
    parts = []
    for item in items:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        loc = item.get("loc") or []
        # FastAPI puts "body" first; the user knows the field by its input name.
        if isinstance(loc, list):
            names = [str(p) for p in loc if p not in ("body", "query", "path")]
        else:
            names = [str(loc)]
        field = ".".join(names) or "input"
        msg = str(item.get("msg") or item.get("message") or item.get("type") or "invalid value")
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def describe_body(response: httpx.Response) -> str:
    """The provider's own words from an error answer: problem+json, a FastAPI `detail`, or a text excerpt."""
    data = _json_or_none(response)
    if isinstance(data, dict):
        detail = data.get("detail")
        title = data.get("title")
        pieces: list[str] = []
        if isinstance(detail, list):
            pieces.append(_format_validation_items(detail))
        elif isinstance(detail, dict):
            pieces.append(str(detail.get("msg") or detail.get("message") or json.dumps(detail)[:300]))
        elif detail:
            detail_text = " ".join(str(detail).split())
            if title and str(title).strip() and str(title).strip().lower() not in detail_text.lower():
                pieces.append(f"{str(title).strip()}: {detail_text}")
            else:
                pieces.append(detail_text)
        elif title:
            pieces.append(str(title))
        invalid = data.get("invalid_fields")
        if isinstance(invalid, list) and invalid:
            fields = [
                f"{f.get('field', '?')}: {f.get('description', '')}".strip(": ")
                for f in invalid if isinstance(f, dict)
            ]
            joined = "; ".join(fields)
            if joined and joined not in " ".join(pieces):
                pieces.append(joined)
        for key in ("error", "message"):
            if not pieces and data.get(key):
                pieces.append(str(data[key]))
        if pieces:
            return " ".join(p for p in pieces if p)
    if isinstance(data, str) and data.strip():
        return data.strip()[:300]
    ctype = response.headers.get("content-type", "")
    if "html" in ctype:
        return "an HTML error page"
    text = response.text.strip() if response.content else ""
    return text[:300] if text else ""


def error_from_response(response: httpx.Response, provider: str, what: str) -> ProviderError:
    """A ProviderError for an unsuccessful answer, keeping the provider's message and never the key."""
    name = display_name(provider)
    status = response.status_code
    detail = describe_body(response)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return ProviderError(
            f"authentication failed for {name} (HTTP {status}){suffix} — check the key with "
            f"`artfactory keys set {provider}`",
            "auth", status=status,
        )
    if status == 404:
        return ProviderError(f"{name} could not {what}: not found (HTTP 404){suffix}", "not_found",
                             status=status)
    if status in (400, 409, 413, 415, 422):
        return ProviderError(f"{name} refused to {what} (HTTP {status}){suffix}", "validation", status=status)
    if status == 429:
        return ProviderError(f"{name} asked us to slow down while trying to {what} (HTTP 429){suffix}",
                             "rate_limited", status=status)
    if status >= 500:
        return ProviderError(f"{name} could not {what} (HTTP {status}){suffix}", "unavailable", status=status)
    return ProviderError(f"{name} could not {what} (HTTP {status}){suffix}", "remote_failed", status=status)


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip()
    return text or type(exc).__name__


def request_idempotent(client: httpx.Client, method: str, url: str, *, provider: str, what: str,
                       policy: RetryPolicy, cancelled: CancelCheck, limiter: RateLimiter | None = None,
                       final: Callable[[httpx.Response], ProviderError | None] | None = None,
                       **kwargs: Any) -> httpx.Response:
    """A call that is safe to repeat (poll, fetch, cancel): retried on 429, 5xx and transport errors.

    `final` names the error of an answer the provider marks as final (a "do not retry" header, a failed
    request's error type): it is raised at once, whatever the status, and never retried again.
    Returns the 2xx response; a non-retryable answer or exhausted retries raise ProviderError.
    """
    last_error: ProviderError | None = None
    for attempt in range(max(1, policy.attempts)):
        if limiter is not None:
            limiter.acquire(cancelled)
        response: httpx.Response | None = None
        try:
            response = run_cancellable(lambda: client.request(method, url, **kwargs), cancelled)
        except httpx.TransportError as exc:
            code = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
            last_error = ProviderError(
                f"{display_name(provider)} could not {what}: {_transport_reason(exc)} ({safe_url(url)})", code
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # too many redirects, undecodable body, bad URL
            raise ProviderError(f"{display_name(provider)} could not {what}: {exc} ({safe_url(url)})",
                                "bad_response") from None
        else:
            if response.is_success:
                return response
            given_up = final(response) if final is not None else None
            if given_up is not None:
                raise given_up
            if response.status_code not in RETRYABLE_STATUS:
                raise error_from_response(response, provider, what)
            last_error = error_from_response(response, provider, what)
        if attempt + 1 >= policy.attempts:
            break
        delay = policy.delay(attempt, response)
        log.info("%s: retrying %s in %.2fs (%s)", provider, what, delay, last_error)
        sleep_cancellable(delay, cancelled)
    assert last_error is not None
    raise ProviderError(f"{last_error} — gave up after {policy.attempts} attempts", last_error.code,
                        status=last_error.status)


def poll_through_outages(fetch: Callable[[], T], *, settings: Any, cancelled: CancelCheck,
                         job: str) -> T:
    """One poll that rides out a provider outage instead of failing the node.

    Once a job is accepted it is paid for: giving up on the first burst of 5xx, dropped connections or
    malformed 2xx answers would lose it (a re-run would pay again). Such errors are retried (each attempt
    already has its own backoff) for up to OUTAGE_POLL_INTERVALS poll intervals; then the error names the
    job (the cloud runner cancels a job it gives up on).
    """
    poll = max(0.005, float(getattr(settings, "poll_interval_s", 1.0) or 1.0))
    deadline = time.monotonic() + OUTAGE_POLL_INTERVALS * poll
    while True:
        try:
            return fetch()
        except ProviderError as exc:
            passing = exc.code in TRANSIENT_CODES or isinstance(exc, MalformedAnswer)
            if not passing or time.monotonic() >= deadline:
                if passing:
                    raise ProviderError(f"{exc}; gave up waiting for {job} after {OUTAGE_POLL_INTERVALS * poll:g} s",
                                        exc.code, status=exc.status) from None
                raise
            log.warning("still retrying %s: %s", job, exc)
            sleep_cancellable(poll, cancelled)


def create_once(settings: Any, headers: dict[str, str], method: str, url: str, *, provider: str, what: str,
                policy: RetryPolicy, cancelled: CancelCheck,
                on_abandoned: Callable[[httpx.Response], None] | None = None,
                limiter: RateLimiter | None = None, timeout_s: float | None = None,
                **kwargs: Any) -> httpx.Response:
    """Send a paid create. Repeated ONLY when the server provably did not take it.

    Retried: HTTP 429 (the server refused it), and a connection that could not be opened at all
    (ConnectError / ConnectTimeout: no byte of the request left this machine). Never retried: a read
    timeout, a dropped connection or a 5xx after sending — the job may exist and be billed, so we
    say so instead of paying twice. Each attempt uses its own client, because a create abandoned by a
    cancel keeps running in the background until its answer arrives and `on_abandoned` sees it.
    """
    name = display_name(provider)
    last_error: ProviderError | None = None
    for attempt in range(max(1, policy.attempts)):
        if limiter is not None:
            limiter.acquire(cancelled)

        def send() -> httpx.Response:
            with make_client(settings, headers, timeout_s) as client:
                response = client.request(method, url, **kwargs)
                response.read()
                return response

        response: httpx.Response | None = None
        try:
            response = run_cancellable(send, cancelled, on_abandon=on_abandoned)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last_error = ProviderError(
                f"cannot reach {name} to {what}: {_transport_reason(exc)} ({safe_url(url)})", "network"
            )
        except httpx.TimeoutException:
            raise ProviderError(
                f"{name} did not answer in time to {what}; the job may have started and may be billed, "
                "so it was not sent again — check your dashboard before re-running",
                "uncertain_create",
            ) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                f"the connection to {name} broke while trying to {what} ({_transport_reason(exc)}); the job "
                "may have started and may be billed, so it was not sent again — check your dashboard "
                "before re-running",
                "uncertain_create",
            ) from None
        except httpx.InvalidURL as exc:  # refused before anything was sent
            raise ProviderError(f"cannot {what}: {exc} ({safe_url(url)})", "validation") from None
        except httpx.HTTPError as exc:  # e.g. an undecodable answer: the job may exist all the same
            raise ProviderError(
                f"{name} answered in a way we could not read while trying to {what} ({exc}); the job may "
                "have started and may be billed, so it was not sent again — check your dashboard before "
                "re-running",
                "uncertain_create",
            ) from None
        else:
            if response.is_success:
                return response
            if response.status_code != 429:
                error = error_from_response(response, provider, what)
                if response.status_code >= 500:
                    raise ProviderError(
                        f"{error}. The job may have been accepted anyway, so it was not sent again",
                        error.code, status=error.status,
                    )
                raise error
            last_error = error_from_response(response, provider, what)
        if attempt + 1 >= policy.attempts:
            break
        delay = policy.delay(attempt, response)
        log.info("%s: %s not accepted (%s); retrying in %.2fs", provider, what, last_error, delay)
        sleep_cancellable(delay, cancelled)
    assert last_error is not None
    raise ProviderError(f"{last_error} — gave up after {policy.attempts} attempts", last_error.code,
                        status=last_error.status)


class ApiSession(ABC):
    """What every provider client shares: base URL, auth headers, retry policy, rate limit, one httpx client."""

    def __init__(self, settings: Any, base_url: str, headers: dict[str, str],
                 cancelled: Callable[[], bool] | None = None) -> None:
        self.settings = settings
        self.base = str(base_url).rstrip("/")
        self.headers = {**headers, "Accept": "application/json"}
        self.policy = RetryPolicy.for_settings(settings)
        self.limiter = limiter_for(settings)
        self.cancelled: Callable[[], bool] = cancelled or (lambda: False)
        self._client = make_client(settings, self.headers)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- cancelling a remote job (each client says how to cancel and how to make a twin) -----------------
    JOB_NOUN = "job"  # how the provider calls a remote job, for messages
    JOB_ID_FIELD = "id"
    CANCELS_REMOTELY = True  # the provider has a cancel call that stops (and stops billing) a running job

    @abstractmethod
    def cancel(self, job: dict[str, Any]) -> bool:
        """Ask the provider to stop the job: True when it is stopped (or gone), False when it had already
        finished (its outputs may be there to fetch)."""

    @abstractmethod
    def twin(self) -> Self:
        """A new client with the same settings and key, for another thread."""

    def remember_or_stop(self, ctx: Any, job: dict[str, Any], state: dict[str, Any]) -> None:
        """Hand a just-created job to ctx.remember_remote; if its id cannot be stored, cancel the job.

        A paid job whose id is nowhere on disk could never be resumed after a crash, only paid for again;
        so it is stopped at once (waiting for the cancel's answer) and the node fails naming it.
        """
        job_id = str(job.get(self.JOB_ID_FIELD))
        try:
            ctx.remember_remote(job_id, state)
        except RemoteNotStored as exc:
            try:
                self.cancel(job)
            except Exception as cancel_exc:
                outcome = f"canceling it failed too ({cancel_exc}) — check your dashboard, it may still run"
            else:
                outcome = "it was canceled"
            raise ProviderError(f"{self.JOB_NOUN} {job_id} was started but its id could not be stored "
                                f"({exc}); {outcome}", "storage") from None

    def cancel_soon(self, job: dict[str, Any], foreground_s: float = CANCEL_FOREGROUND_S) -> None:
        """Send the cancel in a helper thread; wait at most `foreground_s` for it, never raise."""
        twin = self.twin

        def send() -> None:
            try:
                with twin() as client:
                    client.cancel(job)
            except Exception as exc:
                log.warning("could not cancel %s %s: %s", self.JOB_NOUN, job.get(self.JOB_ID_FIELD), exc)

        thread = threading.Thread(target=send, name=f"{self.JOB_NOUN}-cancel", daemon=True)
        thread.start()
        thread.join(foreground_s)

    def cancel_confirmed(self, job: dict[str, Any], wait_s: float = GIVE_UP_CANCEL_S) -> str:
        """Send the cancel of a job the app gives up on and wait up to `wait_s` for its answer.

        "canceled" once the provider stopped it; "finished" when it had already finished (its outputs may be
        there for the next run to fetch); "unknown" when the cancel failed or did not answer in time (it goes
        on in the background) — the job may then still run, so it is left to be re-attached, not paid again."""
        twin = self.twin
        outcome: list[str] = []

        def send() -> None:
            try:
                with twin() as client:
                    outcome.append("canceled" if client.cancel(job) else "finished")
            except Exception as exc:
                log.warning("could not cancel %s %s: %s", self.JOB_NOUN, job.get(self.JOB_ID_FIELD), exc)

        thread = threading.Thread(target=send, name=f"{self.JOB_NOUN}-cancel", daemon=True)
        thread.start()
        thread.join(wait_s)
        return outcome[0] if outcome else "unknown"
