"""Provider outputs into the library's temp/: streamed, size-limited, verified as media, cancellable."""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import NodeCanceled
from artfactory.lazy import lazy_module
from artfactory.providers.http import (
    RETRYABLE_STATUS,
    CancelCheck,
    ProviderError,
    RetryPolicy,
    cancel_check,
    make_client,
    run_cancellable,
    safe_url,
    sleep_cancellable,
)

if TYPE_CHECKING:
    import httpx
else:  # ~0.15 s to import (it loads its own command line): only a request needs it, not `artfactory nodes`
    httpx = lazy_module("httpx")

log = logging.getLogger("artfactory.providers")

DOWNLOAD_CHUNK = 64 * 1024


def _suffix_for(url: str, content_type: str | None) -> str:
    if content_type:
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if guessed:
            return ".jpg" if guessed == ".jpe" else guessed
    path = urllib.parse.urlsplit(url).path
    suffix = Path(path).suffix.lower()
    return suffix if 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ".bin"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _too_big(where: str, size: int | None, limit: int) -> ProviderError:
    size_text = f" is {_mb(size)}," if size is not None else " is"
    return ProviderError(f"the file at {where}{size_text} over the {_mb(limit)} size limit", "download")


def _unlink(path: Path | None) -> None:
    if path is not None:
        with suppress(OSError):
            path.unlink()


@contextmanager
def _temp_file(storage: Any, suffix: str) -> Iterator[Path]:
    """A temp path that is deleted unless the block finishes without error."""
    path = Path(storage.temp_path(suffix))
    try:
        yield path
    except BaseException:
        _unlink(path)
        raise


def _verify(storage: Any, path: Path, display: str, where: str, content_type: str = "") -> Path:
    """Check the bytes are real media (storage.inspect); name the file by its real type."""
    try:
        info = storage.inspect(path, display)
    except Exception as exc:
        # StorageError is the expected refusal, but any failure to decode means the same to the user:
        # the provider's bytes are not usable media. The message keeps storage's reason.
        _unlink(path)
        hint = ""
        if "html" in content_type.lower():
            hint = "the server sent an HTML page instead of an image or video; "
        raise ProviderError(f"{where}: {hint}{exc}", "bad_output") from None
    ext = getattr(info, "ext", "") or ""
    if ext and path.suffix.lower() != f".{ext.lower().lstrip('.')}":
        target = path.with_suffix(f".{ext.lower().lstrip('.')}")
        try:
            path.rename(target)
            return target
        except OSError:
            return path
    return path


def _save_data_uri(uri: str, storage: Any, display: str, max_bytes: int) -> Path:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ProviderError("a data: URI output has no payload", "bad_output")
    meta = header[5:]
    is_base64 = meta.endswith(";base64")
    mime = (meta[: -len(";base64")] if is_base64 else meta).split(";")[0] or "application/octet-stream"
    # Base64 inflates by 4/3: refuse before decoding a giant string into memory twice.
    estimated = len(payload) * 3 // 4 if is_base64 else len(payload)
    if estimated > max_bytes:
        raise _too_big(f"data: URI ({mime})", estimated, max_bytes)
    try:
        if is_base64:
            data = base64.b64decode(payload, validate=False)
        else:
            data = urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(f"a data: URI output is not valid base64: {exc}", "bad_output") from None
    if len(data) > max_bytes:
        raise _too_big(f"data: URI ({mime})", len(data), max_bytes)
    with _temp_file(storage, _suffix_for("", mime)) as path:
        path.write_bytes(data)
    return _verify(storage, path, display, f"data: URI output ({mime})", mime)


def is_file_ref(value: str) -> bool:
    """Whether a string is a file reference a provider hands over: an http(s) URL or a data: URI."""
    head = value[:16].lower()
    if head.startswith("data:"):
        return "," in value[:4096]
    return head.startswith(("https://", "http://")) and not any(ch.isspace() for ch in value[:4096])


@dataclass(frozen=True)
class _Fetched:
    """One GET's outcome: the temp file (None when the answer was not 2xx) and what the server said."""

    path: Path | None
    status: int
    content_type: str
    retry_after: str | None


def _stream_once(settings: Any, url: str, storage: Any, max_bytes: int, cancelled: CancelCheck) -> _Fetched:
    """One GET streamed into a fresh temp file.

    Uses its own client, closed by whichever thread runs this: a cancelled download is abandoned
    (see run_cancellable) and finishes or times out in the background without touching shared state.
    """
    where = safe_url(url)
    with make_client(settings) as client, client.stream("GET", url) as response:
        ctype = response.headers.get("content-type", "")
        if not response.is_success:
            response.read()
            return _Fetched(None, response.status_code, ctype, response.headers.get("retry-after"))
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise _too_big(where, int(length), max_bytes)
        with _temp_file(storage, _suffix_for(url, ctype)) as path:
            written = 0
            with path.open("wb") as fh:
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    if cancelled():
                        raise NodeCanceled("canceled during a download")
                    written += len(chunk)
                    if written > max_bytes:
                        raise _too_big(where, None, max_bytes)
                    fh.write(chunk)
        return _Fetched(path, response.status_code, ctype, None)


def _discard(fetched: _Fetched) -> None:
    """What a download abandoned by a cancel left behind: its temp file goes."""
    _unlink(fetched.path)


def download(source: str, storage: Any, ctx: Any, display_name: str, *, settings: Any = None,
             policy: RetryPolicy | None = None) -> Path:
    """Fetch an output (https URL or data: URI) into storage's temp/, verified as real media.

    Streams with the size limit enforced as bytes arrive; retries transport errors, 429 and 5xx with
    a fresh temp file; deletes every temp file on failure. A cancel is honoured within a fraction of
    a second even while the CDN stalls mid-body. Never sends provider credentials: output URLs point
    at CDNs, so the client used here carries no Authorization header.
    """
    cancelled = cancel_check(ctx)
    settings = settings if settings is not None else getattr(ctx, "settings", None)
    max_bytes = int(getattr(storage, "max_bytes", 0) or getattr(settings, "max_file_bytes", 0) or 512 << 20)
    if source.startswith("data:"):
        return _save_data_uri(source, storage, display_name, max_bytes)
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme not in ("http", "https"):
        raise ProviderError(f"output {safe_url(source)!r} is not an http(s) URL or data: URI", "bad_output")
    policy = policy or RetryPolicy.for_settings(settings)
    where = safe_url(source)
    last_error: ProviderError | None = None
    for attempt in range(max(1, policy.attempts)):
        if cancelled():
            raise NodeCanceled("canceled before a download")
        # No API rate here: outputs come from the file host, once each, and the cap is for the API.
        retry_after: str | None = None
        try:
            fetched = run_cancellable(
                lambda: _stream_once(settings, source, storage, max_bytes, cancelled), cancelled,
                on_abandon=_discard,
            )
        except httpx.TransportError as exc:
            reason = "timed out" if isinstance(exc, httpx.TimeoutException) else (str(exc) or type(exc).__name__)
            last_error = ProviderError(f"download of {where} failed: {reason}", "download")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # too many redirects, undecodable body, bad URL
            raise ProviderError(f"download of {where} failed: {exc}", "download") from None
        else:
            if fetched.path is not None:
                return _verify(storage, fetched.path, display_name, f"download from {where}", fetched.content_type)
            last_error = ProviderError(f"download of {where} failed (HTTP {fetched.status})", "download",
                                       status=fetched.status)
            if fetched.status not in RETRYABLE_STATUS:
                raise last_error
            retry_after = fetched.retry_after
        if attempt + 1 >= policy.attempts:
            break
        delay = policy.delay_after(attempt, retry_after)
        log.info("retrying download of %s in %.2fs (%s)", where, delay, last_error)
        sleep_cancellable(delay, cancelled)
    assert last_error is not None
    raise ProviderError(f"{last_error} — gave up after {policy.attempts} attempts", "download",
                        status=last_error.status)
