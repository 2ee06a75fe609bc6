"""Input files to providers: a data: URI when small, else the provider's upload endpoint, once per file per order."""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Media, NodeCanceled, NodeError
from artfactory.providers.downloads import is_file_ref

if TYPE_CHECKING:
    from artfactory.providers.registry import ProviderSpec

log = logging.getLogger("artfactory.providers.uploads")

# Port kinds a provider's file field may get (audio goes on `media`), and the suffix of a field that takes a list
# (its port takes the whole batch).
FIELD_KINDS = ("image", "mask", "video", "media")
LIST_SUFFIX = "[]"
DEFAULT_INLINE_BYTES = 1024 * 1024  # Replicate's docs recommend data URIs only under 1 MB
# Orders whose uploads are remembered; an order's nodes run within minutes, so the last few are plenty.
KEEP_ORDERS = 32
_HASH_CHUNK = 1024 * 1024
_DEFAULT_MIME = {"image": "image/png", "mask": "image/png", "video": "video/mp4"}


@dataclass
class _Upload:
    done: threading.Event = field(default_factory=threading.Event)
    url: str | None = None


class UploadMemo:
    """What this process uploaded for each order: (order, provider, sha256) -> the URL the provider gave.

    Shared by every node of an order, so a file two nodes send is uploaded once; when both ask at the same
    time the second waits for the first's answer. A failed upload is forgotten (the next asker tries again)."""

    def __init__(self, keep_orders: int = KEEP_ORDERS) -> None:
        self._lock = threading.Lock()
        self._orders: OrderedDict[str, dict[tuple[str, str], _Upload]] = OrderedDict()
        self._keep = keep_orders

    def url(self, order_id: str, provider: str, sha256: str, upload: Callable[[], str],
            cancelled: Callable[[], bool] = lambda: False) -> str:
        key = (provider, sha256)
        while True:
            with self._lock:
                uploads = self._orders.get(order_id)
                if uploads is None:
                    uploads = self._orders[order_id] = {}
                    while len(self._orders) > self._keep:
                        self._orders.popitem(last=False)
                self._orders.move_to_end(order_id)
                entry = uploads.get(key)
                mine = entry is None
                if entry is None:
                    entry = uploads[key] = _Upload()
            if mine:
                try:
                    entry.url = upload()
                finally:
                    if entry.url is None:
                        with self._lock:
                            uploads.pop(key, None)
                    entry.done.set()
                return entry.url
            while not entry.done.wait(0.05):
                if cancelled():
                    raise NodeCanceled(order_id)
            if entry.url is not None:
                return entry.url
            # The upload this node waited for failed: it is forgotten, so this node tries itself.

    def uploaded(self, order_id: str) -> dict[tuple[str, str], str]:
        """(provider, sha256) -> URL of the files uploaded for an order (tests, diagnostics)."""
        with self._lock:
            return {k: v.url for k, v in self._orders.get(order_id, {}).items() if v.url is not None}


MEMO = UploadMemo()
_hash_lock = threading.Lock()
_hashes: OrderedDict[tuple[str, int, int], str] = OrderedDict()


def file_sha256(path: Path) -> str:
    """The file's sha256, remembered by (path, size, mtime) so a file sent by many items is read once."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        known = _hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hashes[key] = value
        while len(_hashes) > 4096:
            _hashes.popitem(last=False)
    return value


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class FileSender:
    """Turns the files on a provider node's ports into what its API takes (see MediaInputs in the registry).

    A URL or data: URI passes as it is; a local file becomes a data: URI up to the `inline_input_bytes` setting,
    else the provider's upload URL (once per file per order, through MEMO), else — for a provider that sends
    files itself — its local path. `resuming`: the job was created before, nothing is uploaded again."""

    def __init__(self, spec: ProviderSpec, *, settings: Any, key: str, order_id: str,
                 cancelled: Callable[[], bool] = lambda: False, resuming: bool = False,
                 memo: UploadMemo = MEMO, on_upload: Callable[[str], None] | None = None) -> None:
        self.spec, self.settings, self.key, self.order_id = spec, settings, key, order_id
        self.cancelled, self.resuming, self.memo = cancelled, resuming, memo
        self.on_upload = on_upload  # told "uploading NAME (SIZE)" before an upload starts (the progress line)
        self.uploads = 0  # uploads this sender made itself (not those it found in the memo)

    def send(self, value: Any, field: str, kind: str = "image") -> str:
        if isinstance(value, str) and is_file_ref(value):
            return value
        path = getattr(value, "path", None) or getattr(value, "file", None)
        if path is None:
            raise NodeError(f"input {field!r} is not a file (got {type(value).__name__})", "bad_input")
        media_type = getattr(value, "media_type", None)
        if isinstance(value, Media) and kind in ("image", "mask") and media_type != "image":
            raise NodeError(f"input {field!r} takes an image but got a {media_type} (product {value.product_id})",
                            "bad_input")
        path = Path(path)
        media = self.spec.media
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise NodeError(f"input {field!r}: {path.name} cannot be read: {exc.strerror}", "bad_input") from None
        if size > media.max_bytes:
            raise NodeError(f"input {field!r}: {path.name} is {_mb(size)}; {self.spec.name} takes files up to "
                            f"{_mb(media.max_bytes)}", "bad_input")
        if media.local_files:
            return str(path)
        mime = mimetypes.guess_type(path.name)[0] or _DEFAULT_MIME.get(str(media_type or kind), "image/png")
        inline = int(getattr(self.settings, "inline_input_bytes", DEFAULT_INLINE_BYTES))
        if media.upload is None or size <= inline:
            try:
                return data_uri(path.read_bytes(), mime)
            except OSError as exc:
                raise NodeError(f"input {field!r}: {path.name} cannot be read: {exc.strerror}", "bad_input") from None
        sha256 = file_sha256(path)
        if self.resuming:
            # The job already has its inputs; this only describes the file in the product's metadata.
            return f"file:{path.name} (sha256 {sha256[:12]}…, sent with the job)"
        upload = media.upload

        def send() -> str:
            if self.cancelled():
                raise NodeCanceled(self.order_id)
            log.info("%s: uploading %s (%s) for input %s", self.spec.id, path.name, _mb(size), field)
            if self.on_upload is not None:
                self.on_upload(f"uploading {path.name} ({_mb(size)}) to {self.spec.name}")
            url = upload(self.settings, self.key, path, mime, self.cancelled)
            self.uploads += 1
            return url

        return self.memo.url(self.order_id, self.spec.id, sha256, send, self.cancelled)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"
