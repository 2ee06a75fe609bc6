"""The embedded provider node: offline, key-free procedural images from a prompt and a seed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port, RunContext
from artfactory.providers.local import STYLES, inpaint, render, resolve_style
from nodes.transform import open_image

# Simulated latency is waited in slices this long, so a cancel lands well within the 1 s promise.
LATENCY_STEP_S = 0.1


def _wait(ctx: RunContext, latency_ms: int, start: float) -> None:
    """Stand in for a remote provider's wait until `latency_ms` after `start`: cancellable, with progress."""
    total = latency_ms / 1000
    while (elapsed := time.monotonic() - start) < total:
        ctx.progress(10 + 85 * elapsed / total, f"waiting {elapsed:.1f} of {total:.1f} s (simulated latency)")
        ctx.sleep(min(LATENCY_STEP_S, total - elapsed))


def _run_local(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    prompt = inputs.get("prompt")
    prompt = prompt if isinstance(prompt, str) else ""
    seed = ctx.seed_for()
    # Like a remote service, the latency is the time until the result is ready: painting happens
    # inside it, so a wave of parallel nodes costs the latency, not latency plus painting.
    started = time.monotonic()
    init_media = inputs.get("image")
    mask_media = inputs.get("mask")
    init = mask = None
    if init_media is not None:
        init, _ = open_image(init_media, "provider.local")
    if mask_media is not None:
        if init is None:
            raise NodeError("provider.local: a mask needs an image to repaint; connect one to the 'image' input",
                            "missing_input")
        mask, _ = open_image(mask_media, "provider.local", "mask")
    ctx.check_canceled()
    ctx.progress(5, "repainting inside the mask" if mask is not None else "painting")
    style = resolve_style(params["style"], prompt)
    try:
        if init is not None and mask is not None:
            image = inpaint(prompt, seed, style, init, mask)
        else:
            image = render(prompt, seed, style, params["width"], params["height"], init=init)
    except MemoryError:
        size = f"{init.width}×{init.height}" if init is not None and mask is not None else \
            f"{params['width']}×{params['height']}"
        raise NodeError(f"provider.local: not enough memory for a {size} image", "too_large") from None
    if params["latency_ms"]:
        _wait(ctx, params["latency_ms"], started)
    ctx.progress(100, "done")
    meta = {
        "prompt": prompt,
        "seed": seed,
        "provider": "local",
        "model": f"procedural/{style}",
        "params": {**params, "seed": seed},
        "source_product_ids": [m.product_id for m in (init_media, mask_media) if isinstance(m, Media)],
    }
    if isinstance(mask_media, Media):
        meta["inpainted"] = True  # repainted inside the mask; its second source is the mask
    return {"image": [NewMedia(image=image, format="png", meta=meta)]}


PROVIDER_LOCAL = NodeType(
    type="provider.local",
    title="Local generator",
    doc="Paints a deterministic procedural image from the prompt and seed; no key, no network.",
    version=1,
    run=_run_local,
    inputs=(
        Port("prompt", "text", doc="what to paint: colour, mood and subject words steer it"),
        Port("image", "image", optional=True, doc="an init image the painting is blended with"),
        Port("mask", "mask", optional=True,
             doc="with an image: repaint only where the mask is white (soft edge); the image keeps its size"),
    ),
    outputs=(Port("image", "image", doc="the painted image"),),
    params=(
        Param("seed", "int", -1, minimum=-1, maximum=2**31 - 1,
              doc="Same seed, same picture; -1 picks a random seed and records it."),
        Param("width", "int", 512, minimum=64, maximum=4096, doc="Image width in pixels."),
        Param("height", "int", 512, minimum=64, maximum=4096, doc="Image height in pixels."),
        Param("style", "choice", "auto", choices=STYLES,
              doc="Look of the painting; auto follows style words in the prompt (poster, neon…)."),
        Param("latency_ms", "int", 0, minimum=0, maximum=600000,
              doc="Extra wait before painting, to stand in for a remote provider in tests and benchmarks."),
    ),
    provider="local",
    seed_param="seed",
)
