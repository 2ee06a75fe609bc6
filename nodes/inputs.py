"""Input nodes: bring an existing image file into the library as a product."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from artfactory.config import Settings, SettingsError, load_settings
from artfactory.engine.nodetypes import NewMedia, NodeError, NodeType, Param, Port, RunContext
from artfactory.files import FileRefused, check_regular, open_regular, show_path

CHUNK = 1024 * 1024


def resolve_path(raw: str) -> Path:
    """The file a `path` param names; relative paths are taken from the current working directory."""
    path = Path(raw.strip()).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def _max_bytes(home: Path) -> int:
    # The library's own limit when its settings can be read; the run reports a bad settings file itself.
    try:
        return load_settings(home).max_file_bytes
    except SettingsError:
        return Settings().max_file_bytes


def file_key(params: Mapping[str, Any], home: Path) -> str:
    """The sha256 of the file's bytes: the cache key changes exactly when the file's content does.
    Only a regular file under the library's size limit is read: a device or pipe would never end."""
    path = resolve_path(str(params.get("path") or ""))
    digest = hashlib.sha256()
    try:
        with open_regular(path, _max_bytes(home)) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except FileRefused as exc:
        # Not readable as an image file now; the run reports why. A distinct key never matches a cached result.
        return f"missing:{path}" if exc.reason == "file not found" else f"unreadable:{path}"
    except OSError:
        return f"unreadable:{path}"
    return digest.hexdigest()


def _run_image(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    path = resolve_path(params["path"])
    try:
        check_regular(path, getattr(ctx.settings, "max_file_bytes", None) or Settings().max_file_bytes)
    except FileRefused as exc:
        code = "missing_file" if exc.reason.startswith("file not found") else "bad_input"
        raise NodeError(f"input.image: {exc}", code) from None
    try:
        with open_regular(path) as fh, Image.open(fh) as image:
            fmt = image.format
            width, height = image.size
            image.verify()  # decodes enough to catch a truncated or fake file before it is copied
    except FileRefused as exc:
        raise NodeError(f"input.image: {exc}", "unreadable") from None
    except PermissionError:
        raise NodeError(f"input.image: {show_path(path)} cannot be read (permission denied)", "unreadable") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise NodeError(f"input.image: {show_path(path)} is not an image Pillow can read ({exc})",
                        "bad_image") from None
    meta = {
        "prompt": "",
        "seed": None,
        "provider": None,
        "model": None,
        "params": dict(params),
        "source_product_ids": [],
        "source_path": str(path),
        "source_format": fmt,
        "source_size": [width, height],
    }
    return {"image": [NewMedia(file=path, name=path.name, meta=meta)]}


INPUT_IMAGE = NodeType(
    type="input.image",
    title="Image file",
    doc="Imports an image file from disk as a product.",
    version=1,
    run=_run_image,
    outputs=(Port("image", "image", doc="the imported image"),),
    params=(Param("path", "path", "", required=True,
                  doc="The image file; a relative path is taken from the current folder."),),
    external_key=file_key,
)
