"""Input nodes: bring an existing image file into the library as a product."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from artfactory.engine.nodetypes import NewMedia, NodeError, NodeType, Param, Port, RunContext

CHUNK = 1024 * 1024


def resolve_path(raw: str) -> Path:
    """The file a `path` param names; relative paths are taken from the current working directory."""
    path = Path(raw.strip()).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def file_key(params: Mapping[str, Any], home: Path) -> str:
    """The sha256 of the file's bytes: the cache key changes exactly when the file's content does."""
    path = resolve_path(str(params.get("path") or ""))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return f"missing:{path}"
    except OSError:
        # Unreadable now; the run reports why. A distinct key keeps it from matching a cached result.
        return f"unreadable:{path}"
    return digest.hexdigest()


def _run_image(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    path = resolve_path(params["path"])
    if not path.exists():
        raise NodeError(f"input.image: there is no file at {path}", "missing_file")
    if not path.is_file():
        raise NodeError(f"input.image: {path} is a folder, not an image file", "bad_input")
    try:
        with Image.open(path) as image:
            fmt = image.format
            width, height = image.size
            image.verify()  # decodes enough to catch a truncated or fake file before it is copied
    except PermissionError:
        raise NodeError(f"input.image: {path} cannot be read (permission denied)", "unreadable") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise NodeError(f"input.image: {path} is not an image Pillow can read ({exc})", "bad_image") from None
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
