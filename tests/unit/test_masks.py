"""The `mask` port type: what links to it, the run-time conversion of images, the mask nodes and local inpainting."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from artfactory.engine.batch import run_batch
from artfactory.engine.context import NodeContext
from artfactory.engine.document import from_json
from artfactory.engine.masks import as_mask, has_real_alpha, mask_from_image
from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Port, port_fits
from artfactory.engine.registry import NodeRegistry, _load_builtin
from artfactory.engine.validate import validate
from nodes import mask as mask_nodes
from nodes.provider import PROVIDER_LOCAL


def _registry() -> NodeRegistry:
    registry = NodeRegistry()
    _load_builtin(registry)
    return registry


def _ctx(tmp_path: Path) -> NodeContext:
    return NodeContext(node_id="n1", order_id="o1", home=tmp_path, settings=None,
                       storage=SimpleNamespace(temp_dir=tmp_path / "temp"))


def _media(tmp_path: Path, name: str, image: Image.Image, media_type: str = "image") -> Media:
    path = tmp_path / name
    image.save(path, format="PNG")
    return Media(product_id=f"p-{Path(name).stem}", path=path, media_type=media_type, width=image.width,
                 height=image.height, prompt="a test", seed=1)


def _run(node: NodeType, ctx: NodeContext, inputs: Mapping[str, Any], **params: Any) -> dict[str, list[Any]]:
    full = node.defaults()
    full.update(params)
    coerced = {p.name: p.coerce(full[p.name]) for p in node.params}
    return {port: list(values) for port, values in node.run(ctx, dict(inputs), coerced).items()}


def _made(result: Mapping[str, list[Any]], port: str) -> NewMedia:
    (item,) = result[port]
    assert isinstance(item, NewMedia) and item.image is not None
    return item


# -- port rules -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target", "fits"), [
    ("mask", "mask", True), ("mask", "image", True), ("mask", "media", True),
    ("image", "mask", True), ("media", "mask", True),
    ("mask", "video", False), ("video", "mask", False), ("text", "mask", False), ("number", "mask", False),
    ("mask", "text", False), ("any", "mask", False), ("mask", "any", True),
])
def test_what_a_mask_port_links_to(source: str, target: str, fits: bool) -> None:
    assert port_fits(source, target) is fits


def test_mask_ports_validate_with_a_message_that_says_what_fits() -> None:
    doc = from_json({
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "sky"}},
                  {"id": "gen", "type": "provider.local"},
                  {"id": "m", "type": "mask.from_image"},
                  {"id": "inv", "type": "mask.invert"},
                  {"id": "paint", "type": "provider.local"},
                  {"id": "bad", "type": "mask.invert"}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "image"], "to": ["m", "image"]},
                  {"from": ["gen", "image"], "to": ["inv", "mask"]},  # an image is converted: fine
                  {"from": ["p", "text"], "to": ["paint", "prompt"]},
                  {"from": ["gen", "image"], "to": ["paint", "image"]},
                  {"from": ["m", "mask"], "to": ["paint", "mask"]},
                  {"from": ["p", "text"], "to": ["bad", "mask"]}],  # text is not a mask
    })
    errors = validate(doc, _registry())
    assert [(e.node_id, e.code) for e in errors] == [("bad", "type_mismatch")]
    assert errors[0].message == ("input 'mask' takes mask but p.text gives text (a mask input takes a mask, or an "
                                 "image: its alpha, else its brightness, becomes the mask)")


# -- the run-time conversion ----------------------------------------------------------------------------

def test_an_image_with_real_alpha_becomes_its_alpha(tmp_path: Path) -> None:
    image = Image.new("RGBA", (40, 30), (255, 255, 255, 0))
    ImageDraw.Draw(image).rectangle((10, 10, 19, 19), fill=(0, 0, 0, 255))  # black but opaque
    converted = as_mask(_media(tmp_path, "cut.png", image), tmp_path / "temp", node="n", port="mask")
    with Image.open(converted.path) as mask:
        assert mask.mode == "L" and mask.size == (40, 30)
        assert mask.getpixel((15, 15)) == 255 and mask.getpixel((2, 2)) == 0
    assert converted.product_id == "p-cut"  # lineage still names the image it came from


def test_an_opaque_image_becomes_its_luminance(tmp_path: Path) -> None:
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 255))  # an alpha channel that is opaque everywhere
    ImageDraw.Draw(image).rectangle((0, 0, 9, 19), fill=(255, 255, 255, 255))
    assert not has_real_alpha(image)
    mask = mask_from_image(image)
    assert mask.mode == "L" and mask.getpixel((5, 5)) == 255 and mask.getpixel((15, 5)) == 0
    rgb = Image.new("RGB", (4, 4), (255, 0, 0))
    assert mask_from_image(rgb).getpixel((0, 0)) == 76  # ITU-R 601 luma of pure red


def test_a_mask_file_passes_unchanged_and_a_video_is_refused(tmp_path: Path) -> None:
    mask = _media(tmp_path, "m.png", Image.new("L", (8, 8), 200))
    assert as_mask(mask, tmp_path, node="n", port="mask") is mask
    clip = Media(product_id="v1", path=tmp_path / "clip.mp4", media_type="video")
    with pytest.raises(NodeError, match=r"input 'mask' of n takes a mask \(a one-channel image\) but received a "
                                        r"video \(product v1\)"):
        as_mask(clip, tmp_path, node="n", port="mask")


def test_a_converted_image_is_reused_not_converted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = _media(tmp_path, "rgb.png", Image.new("RGB", (8, 8), (255, 255, 255)))
    first = as_mask(media, tmp_path / "temp", node="n", port="mask")

    def fail(image: Image.Image) -> Image.Image:
        raise AssertionError("converted twice")

    monkeypatch.setattr("artfactory.engine.masks.mask_from_image", fail)
    assert as_mask(media, tmp_path / "temp", node="n", port="mask").path == first.path


def test_run_batch_hands_a_mask_input_one_channel(tmp_path: Path) -> None:
    seen: list[str] = []

    def run(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
        with Image.open(inputs["mask"].path) as image:
            seen.append(image.mode)
        return {}

    node = NodeType(type="toy.masked", title="t", run=run, inputs=(Port("mask", "mask"),))
    colour = _media(tmp_path, "colour.png", Image.new("RGB", (16, 16), (10, 200, 30)))
    run_batch(node, _ctx(tmp_path), {"mask": [colour, colour]}, {})
    assert seen == ["L", "L"]
    # Converted once among the library's temp files (which the sweep ages out), never as a product.
    assert [p.name for p in (tmp_path / "temp").iterdir()] == ["mask-p-colour-v1.png"]


# -- mask nodes -----------------------------------------------------------------------------------------

def test_mask_from_image_channel_threshold_invert_and_lineage(tmp_path: Path) -> None:
    image = Image.new("RGB", (32, 32), (0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 15, 31), fill=(200, 40, 90))
    media = _media(tmp_path, "src.png", image)
    red = _made(_run(mask_nodes.MASK_FROM_IMAGE, _ctx(tmp_path), {"image": media}, channel="red"), "mask")
    assert red.image is not None and red.image.mode == "L"
    assert red.image.getpixel((4, 4)) == 200 and red.image.getpixel((24, 4)) == 0
    assert red.meta["mask"] is True and red.meta["source_product_ids"] == ["p-src"]
    hard = _made(_run(mask_nodes.MASK_FROM_IMAGE, _ctx(tmp_path), {"image": media}, channel="green",
                      threshold=30, invert=True), "mask").image
    assert hard is not None and hard.getpixel((4, 4)) == 0 and hard.getpixel((24, 4)) == 255
    alpha = _made(_run(mask_nodes.MASK_FROM_IMAGE, _ctx(tmp_path), {"image": media}, channel="alpha"), "mask").image
    assert alpha is not None and ImageStat.Stat(alpha).extrema == [(255, 255)]  # opaque: all inside


def test_feather_softens_the_edge(tmp_path: Path) -> None:
    image = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(image).rectangle((0, 0, 19, 39), fill=255)
    media = _media(tmp_path, "edge.png", image)
    soft = _made(_run(mask_nodes.MASK_FROM_IMAGE, _ctx(tmp_path), {"image": media}, feather=4), "mask").image
    assert soft is not None
    edge = soft.getpixel((20, 20))
    assert isinstance(edge, int) and 40 < edge < 215
    assert soft.getpixel((2, 20)) == 255 and soft.getpixel((38, 20)) == 0


def test_invert_and_grow(tmp_path: Path) -> None:
    image = Image.new("L", (41, 41), 0)
    image.putpixel((20, 20), 255)
    media = _media(tmp_path, "dot.png", image)
    inverted = _made(_run(mask_nodes.MASK_INVERT, _ctx(tmp_path), {"mask": media}), "mask").image
    assert inverted is not None and inverted.getpixel((20, 20)) == 0 and inverted.getpixel((0, 0)) == 255
    grown = _made(_run(mask_nodes.MASK_GROW, _ctx(tmp_path), {"mask": media}, pixels=5), "mask").image
    assert grown is not None and grown.getbbox() == (15, 15, 26, 26)
    shrunk = _made(_run(mask_nodes.MASK_GROW, _ctx(tmp_path), {"mask": _media(tmp_path, "g.png", grown)},
                        pixels=-3), "mask").image
    assert shrunk is not None and shrunk.getbbox() == (18, 18, 23, 23)


# -- provider.local with a mask: offline inpainting -----------------------------------------------------

def test_local_provider_repaints_only_inside_the_mask(tmp_path: Path) -> None:
    photo = Image.new("RGB", (200, 120), (40, 90, 160))
    ImageDraw.Draw(photo).ellipse((20, 20, 60, 60), fill=(240, 230, 40))
    mask = Image.new("L", (200, 120), 0)
    ImageDraw.Draw(mask).rectangle((100, 0, 199, 119), fill=255)
    inputs = {"prompt": "a red fox in snow", "image": _media(tmp_path, "photo.png", photo),
              "mask": _media(tmp_path, "mask.png", mask)}
    made = _made(_run(PROVIDER_LOCAL, _ctx(tmp_path), inputs, seed=3), "image")
    out = made.image
    assert out is not None and out.size == (200, 120)  # the photo's size, not the width/height params
    diff = ImageChops.difference(out.convert("RGB"), photo)
    assert diff.crop((0, 0, 90, 120)).getbbox() is None  # outside (away from the soft edge): untouched
    assert sum(ImageStat.Stat(diff.crop((110, 0, 200, 120))).mean) > 30  # inside: repainted
    assert made.meta["source_product_ids"] == ["p-photo", "p-mask"] and made.meta["inpainted"] is True
    again = _made(_run(PROVIDER_LOCAL, _ctx(tmp_path), inputs, seed=3), "image").image
    assert again is not None and again.tobytes() == out.tobytes()


def test_local_provider_refuses_a_mask_without_an_image(tmp_path: Path) -> None:
    inputs = {"prompt": "sky", "mask": _media(tmp_path, "m.png", Image.new("L", (64, 64), 255))}
    with pytest.raises(NodeError, match="a mask needs an image to repaint; connect one to the 'image' input"):
        _run(PROVIDER_LOCAL, _ctx(tmp_path), inputs, seed=1)
