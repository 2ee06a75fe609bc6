"""Mask nodes: make a one-channel mask from an image, invert it, grow or shrink it (white = the area to change)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from artfactory.engine.masks import has_real_alpha, mask_from_image
from artfactory.engine.nodetypes import Media, NewMedia, NodeType, Param, Port, RunContext
from artfactory.lazy import lazy_module
from nodes.transform import lineage, open_image

if TYPE_CHECKING:
    from PIL import Image, ImageChops, ImageFilter
else:  # Pillow is imported when an image is first touched: a fully cached run and `artfactory nodes` never touch one.
    Image = lazy_module("PIL.Image")
    ImageChops = lazy_module("PIL.ImageChops")
    ImageFilter = lazy_module("PIL.ImageFilter")

CHANNELS = ("auto", "alpha", "luminance", "red", "green", "blue")
MAX_GROW = 256  # pixels; each pixel of growth is one 3×3 pass, so this bounds the time on a large mask


def pick_channel(image: Image.Image, channel: str) -> Image.Image:
    """One channel of the image as "L": auto = alpha when it has real transparency, else luminance."""
    if channel == "auto":
        return mask_from_image(image)
    if channel == "alpha":
        # An image without transparency is opaque everywhere: its alpha is all white.
        return image.convert("RGBA").getchannel("A") if has_real_alpha(image) else Image.new("L", image.size, 255)
    if channel == "luminance":
        return image.convert("RGB").convert("L")
    return image.convert("RGB").getchannel({"red": "R", "green": "G", "blue": "B"}[channel])


def threshold(mask: Image.Image, level: int) -> Image.Image:
    """Hard edges: at or above `level` becomes white, below it black; 0 keeps the greys."""
    if level <= 0:
        return mask
    return mask.point(lambda v: 255 if v >= level else 0)


def feather(mask: Image.Image, radius: float) -> Image.Image:
    """Soft edges: a Gaussian blur of `radius` pixels."""
    return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask


def grow(mask: Image.Image, pixels: int) -> Image.Image:
    """Grow the white area by `pixels` (shrink when negative), one 3×3 max (or min) pass per pixel."""
    step = ImageFilter.MaxFilter(3) if pixels > 0 else ImageFilter.MinFilter(3)
    for _ in range(min(abs(pixels), MAX_GROW)):
        mask = mask.filter(step)
    return mask


def _mask_out(result: Image.Image, sources: list[Media], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    meta = {**lineage(sources, params), "mask": True}
    return {"mask": [NewMedia(image=result.convert("L"), format="png", meta=meta)]}


def _run_from_image(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    media = inputs.get("image")
    image, _fmt = open_image(media, "mask.from_image")
    assert isinstance(media, Media)
    mask = threshold(pick_channel(image, params["channel"]), params["threshold"])
    if params["invert"]:
        mask = ImageChops.invert(mask)
    ctx.check_canceled()
    return _mask_out(feather(mask, params["feather"]), [media], params)


def _run_invert(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    media = inputs.get("mask")
    image, _fmt = open_image(media, "mask.invert", "mask")
    assert isinstance(media, Media)
    return _mask_out(ImageChops.invert(image.convert("L")), [media], params)


def _run_grow(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    media = inputs.get("mask")
    image, _fmt = open_image(media, "mask.grow", "mask")
    assert isinstance(media, Media)
    mask = image.convert("L")
    pixels = params["pixels"]
    for done in range(0, abs(pixels), 16):  # in slices, so a cancel lands quickly on a large mask
        ctx.check_canceled()
        mask = grow(mask, (1 if pixels > 0 else -1) * min(16, abs(pixels) - done))
    return _mask_out(feather(mask, params["feather"]), [media], params)


FEATHER = Param("feather", "float", 0.0, minimum=0, maximum=256,
                doc="Soften the edge by this many pixels (a Gaussian blur); 0 keeps it as it is.")

MASK_FROM_IMAGE = NodeType(
    type="mask.from_image",
    title="Mask from image",
    doc="Makes a one-channel mask from an image's alpha, brightness or one colour channel (white = change).",
    version=1,
    run=_run_from_image,
    inputs=(Port("image", "image", doc="the image to take the mask from"),),
    outputs=(Port("mask", "mask", doc="the mask: white where the image is to change"),),
    params=(
        Param("channel", "choice", "auto", choices=CHANNELS,
              doc="Which channel becomes the mask; auto takes the alpha when the image has transparency, "
                  "else its brightness."),
        Param("threshold", "int", 0, minimum=0, maximum=255,
              doc="Make the mask hard: values at or above this become white, the rest black; 0 keeps the greys."),
        Param("invert", "bool", False, doc="Swap the inside and the outside of the mask."),
        FEATHER,
    ),
)

MASK_INVERT = NodeType(
    type="mask.invert",
    title="Invert mask",
    doc="Swaps a mask's inside and outside.",
    version=1,
    run=_run_invert,
    inputs=(Port("mask", "mask", doc="the mask (an image is turned into one first)"),),
    outputs=(Port("mask", "mask", doc="the inverted mask"),),
)

MASK_GROW = NodeType(
    type="mask.grow",
    title="Grow mask",
    doc="Grows (or, with a negative number, shrinks) a mask's white area, then optionally feathers its edge.",
    version=1,
    run=_run_grow,
    inputs=(Port("mask", "mask", doc="the mask (an image is turned into one first)"),),
    outputs=(Port("mask", "mask", doc="the grown or shrunk mask"),),
    params=(
        Param("pixels", "int", 8, minimum=-MAX_GROW, maximum=MAX_GROW,
              doc="How far the white area grows, in pixels; negative shrinks it."),
        FEATHER,
    ),
)
