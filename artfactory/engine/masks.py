"""Masks on ports: an image arriving at a `mask` input becomes one channel (its alpha if real, else luminance)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Media, NodeError, frames_hint

if TYPE_CHECKING:
    from PIL import Image

# Bumped when the conversion changes, so a converted file made by an older rule is never reused.
CONVERSION_VERSION = 1
_ORIENTATION = 0x0112


def has_real_alpha(image: Image.Image) -> bool:
    """Whether the image carries transparency that is used somewhere (an all-opaque alpha channel is not real)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        low = image.convert("RGBA").getchannel("A").getextrema()[0]
        return isinstance(low, int) and low < 255
    return False


def mask_from_image(image: Image.Image) -> Image.Image:
    """One channel ("L"): the image's alpha when it has real transparency, else its luminance."""
    if image.mode == "L":
        return image.copy()
    if has_real_alpha(image):
        return image.convert("RGBA").getchannel("A")
    if image.mode in ("LA", "PA"):
        return image.convert("L")
    return image.convert("RGB").convert("L")


def is_mask_file(image: Image.Image) -> bool:
    """A file already usable as a mask: one 8-bit channel, upright (no EXIF turn to apply)."""
    return image.mode == "L" and image.getexif().get(_ORIENTATION, 1) == 1


def as_mask(value: Any, temp_dir: Path | None, *, node: str, port: str) -> Any:
    """The value a `mask` input receives: a one-channel image file. A mask passes as it is; another image is
    reduced (alpha if real, else luminance) into a file in temp/ named by its product, written once."""
    if not isinstance(value, Media):
        return value
    if value.media_type != "image":
        raise NodeError(f"input {port!r} of {node} takes a mask (a one-channel image) but received a "
                        f"{value.media_type} (product {value.product_id}){frames_hint(value.media_type, 'mask')}",
                        code="media_type")
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Flat in temp/, so the library's sweep removes those unused for a day; a reused one is touched to stay fresh.
    folder = Path(temp_dir if temp_dir is not None else tempfile.gettempdir())
    target = folder / f"mask-{value.product_id}-v{CONVERSION_VERSION}.png"
    try:
        with Image.open(value.path) as src:
            if is_mask_file(src):
                return value
            try:
                os.utime(target)
                return replace(value, path=target)  # converted before: the product's bytes never change
            except OSError:  # not converted yet (or not touchable): convert it now
                pass
            mask = mask_from_image(ImageOps.exif_transpose(src))
    except FileNotFoundError:
        raise NodeError(f"{node}: the file of product {value.product_id} is missing ({value.path})",
                        "missing_file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NodeError(f"{node}: product {value.product_id} cannot be read as a mask ({exc})", "bad_image") from None
    folder.mkdir(parents=True, exist_ok=True)
    # Written under a unique name and renamed: two nodes converting the same product never see half a file.
    handle, part = tempfile.mkstemp(prefix=".mask-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as fh:
            mask.save(fh, format="PNG")
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return replace(value, path=target)
