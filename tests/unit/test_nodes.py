"""The built-in node library, run for real through its run functions with a NodeContext."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from artfactory.engine.context import NodeContext
from artfactory.engine.nodetypes import Media, NewMedia, NodeCanceled, NodeError, NodeType
from artfactory.engine.registry import NodeRegistry, _load_builtin
from nodes import collection, inputs, prompt, provider, transform


def _ctx(tmp_path: Path, **kw: Any) -> NodeContext:
    return NodeContext(node_id="n1", order_id="o1", home=tmp_path, settings=None, storage=None, **kw)


def _run(node: NodeType, ctx: NodeContext, inputs_: Mapping[str, Any] | None = None,
         **params: Any) -> dict[str, list[Any]]:
    """Run like the executor does: defaults filled in and every param coerced."""
    full = node.defaults()
    full.update(params)
    coerced = {}
    for p in node.params:
        value = full[p.name]
        coerced[p.name] = p.coerce(value) if not (p.required and value == "") else value
    return {port: list(values) for port, values in node.run(ctx, dict(inputs_ or {}), coerced).items()}


def _media(tmp_path: Path, name: str, size: tuple[int, int] = (64, 48), colour: Any = (90, 120, 200),
           mode: str = "RGB", prompt_: str = "a test", seed: int | None = 1, fmt: str = "PNG",
           media_type: str = "image", image: Image.Image | None = None, **save: Any) -> Media:
    path = tmp_path / name
    (image or Image.new(mode, size, colour)).save(path, format=fmt, **save)
    w, h = (image.size if image else size)
    return Media(product_id=f"p-{name}", path=path, media_type=media_type, width=w, height=h,
                 prompt=prompt_, seed=seed)


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def _image(result: Mapping[str, list[Any]], port: str = "image") -> Image.Image:
    (item,) = result[port]
    assert isinstance(item, NewMedia) and item.image is not None
    return item.image


# -- catalogue ------------------------------------------------------------------------------------------

def test_every_builtin_node_is_documented_and_typed() -> None:
    registry = NodeRegistry()
    _load_builtin(registry)
    expected = {"prompt.text", "prompt.lines", "prompt.template", "prompt.combine", "input.image",
                "provider.local", "transform.resize", "transform.crop", "transform.rotate",
                "transform.adjust", "transform.grayscale", "transform.blur", "transform.sharpen",
                "transform.convert", "transform.watermark", "transform.grid", "collection.add"}
    assert expected <= {t.type for t in registry}
    for node in registry:
        if node.type not in expected:
            continue
        assert node.title and node.doc and node.version == 1, node.type
        assert node.outputs, node.type
        for param in node.params:
            assert param.doc, f"{node.type}.{param.name} has no doc"
            if not param.required:
                assert param.coerce(param.default) == param.default, f"{node.type}.{param.name}"


# -- prompts --------------------------------------------------------------------------------------------

def test_prompt_text_and_lines(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert _run(prompt.PROMPT_TEXT, ctx, text="a red fox") == {"text": ["a red fox"]}
    lines = _run(prompt.PROMPT_LINES, ctx, text="a fox\n\n   an owl  \n\t\na whale\n")
    assert lines == {"text": ["a fox", "an owl", "a whale"]}
    with pytest.raises(NodeError) as err:
        _run(prompt.PROMPT_LINES, ctx, text=" \n\n")
    assert err.value.code == "empty_input"


def test_template_expands_combinatorially(tmp_path: Path) -> None:
    out = _run(prompt.PROMPT_TEMPLATE, _ctx(tmp_path), template="{a|b} and {c|d|e}")["text"]
    assert len(out) == 6 and len(set(out)) == 6
    assert "a and c" in out and "b and e" in out


def test_template_input_braces_stay_literal(tmp_path: Path) -> None:
    out = _run(prompt.PROMPT_TEMPLATE, _ctx(tmp_path), {"input": "a {weird|odd} fox__x__"},
               template="photo of {input}, {day|night}")["text"]
    assert out == ["photo of a {weird|odd} fox__x__, day", "photo of a {weird|odd} fox__x__, night"]


def test_template_without_input_and_wildcard_lookalikes(tmp_path: Path) -> None:
    out = _run(prompt.PROMPT_TEMPLATE, _ctx(tmp_path), {"input": None},
               template="__init__ {x|y}{input}")["text"]
    assert out == ["__init__ x", "__init__ y"]


def test_template_limit_names_the_count(tmp_path: Path) -> None:
    with pytest.raises(NodeError) as err:
        _run(prompt.PROMPT_TEMPLATE, _ctx(tmp_path), template="{a|b|c} {d|e|f}", limit=5)
    assert err.value.code == "too_many_prompts"
    assert "9" in str(err.value) and "5" in str(err.value)


def test_template_syntax_error_is_clear(tmp_path: Path) -> None:
    with pytest.raises(NodeError) as err:
        _run(prompt.PROMPT_TEMPLATE, _ctx(tmp_path), template="a {red|blue fox")
    assert err.value.code == "template_syntax"


def test_combine_skips_empty_parts(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    both = _run(prompt.PROMPT_COMBINE, ctx, {"a": "a red fox ", "b": "poster"})
    assert both == {"text": ["a red fox, poster"]}
    assert _run(prompt.PROMPT_COMBINE, ctx, {"a": "a red fox", "b": "  "}) == {"text": ["a red fox"]}
    assert _run(prompt.PROMPT_COMBINE, ctx, {"a": "x", "b": "y"}, separator=" | ") == {"text": ["x | y"]}


# -- provider.local -------------------------------------------------------------------------------------

def test_local_provider_paints_with_lineage(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, seed=7)
    result = _run(provider.PROVIDER_LOCAL, ctx, {"prompt": "a red fox", "image": None}, seed=7,
                  width=128, height=96)
    (item,) = result["image"]
    assert item.image.size == (128, 96)
    assert item.meta["prompt"] == "a red fox" and item.meta["seed"] == 7
    assert item.meta["provider"] == "local" and item.meta["model"] == "procedural/illustration"
    assert item.meta["params"]["seed"] == 7
    again = _image(_run(provider.PROVIDER_LOCAL, _ctx(tmp_path, seed=7), {"prompt": "a red fox"}, seed=7,
                        width=128, height=96))
    assert again.tobytes() == item.image.tobytes()
    ctx.item_index = 1  # the next batch item gets the next seed
    second = _run(provider.PROVIDER_LOCAL, ctx, {"prompt": "a red fox"}, seed=7, width=128, height=96)
    assert second["image"][0].meta["seed"] == 8


def test_local_provider_uses_the_init_image(tmp_path: Path) -> None:
    init = _media(tmp_path, "init.png", (80, 80), (250, 250, 250))
    plain = _image(_run(provider.PROVIDER_LOCAL, _ctx(tmp_path, seed=3), {"prompt": "owl"},
                        width=96, height=96))
    result = _run(provider.PROVIDER_LOCAL, _ctx(tmp_path, seed=3), {"prompt": "owl", "image": init},
                  width=96, height=96)
    blended = _image(result)
    assert sum(ImageStat.Stat(ImageChops.difference(plain, blended)).mean) / 3 > 5
    assert result["image"][0].meta["source_product_ids"] == [init.product_id]


def test_local_provider_rejects_a_video(tmp_path: Path) -> None:
    clip = _media(tmp_path, "clip.png", media_type="video")
    with pytest.raises(NodeError) as err:
        _run(provider.PROVIDER_LOCAL, _ctx(tmp_path), {"prompt": "x", "image": clip}, width=64, height=64)
    assert err.value.code == "media_type"


def test_local_provider_latency_is_cancellable_with_progress(tmp_path: Path) -> None:
    progress: list[float] = []
    ctx = _ctx(tmp_path, seed=1, on_progress=lambda pct, msg: progress.append(pct))
    timer = threading.Timer(0.3, ctx.cancel_event.set)
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(NodeCanceled):
            _run(provider.PROVIDER_LOCAL, ctx, {"prompt": "slow"}, latency_ms=60000, width=64, height=64)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 1.0
    assert len(progress) >= 2 and progress == sorted(progress)


def test_local_provider_latency_waits(tmp_path: Path) -> None:
    start = time.monotonic()
    _run(provider.PROVIDER_LOCAL, _ctx(tmp_path), {"prompt": "x"}, latency_ms=250, width=64, height=64)
    assert time.monotonic() - start >= 0.25


# -- transforms -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "size"),
                         [("fit", (256, 128)), ("fill", (256, 256)), ("stretch", (256, 256))])
def test_resize_modes(tmp_path: Path, mode: str, size: tuple[int, int]) -> None:
    src = _media(tmp_path, "wide.png", (400, 200))
    result = _run(transform.TRANSFORM_RESIZE, _ctx(tmp_path), {"image": src}, width=256, height=256,
                  mode=mode)
    assert _image(result).size == size
    meta = result["image"][0].meta
    assert meta["prompt"] == "a test" and meta["seed"] == 1 and meta["source_product_ids"] == [src.product_id]


def test_resize_fill_crops_the_centre(tmp_path: Path) -> None:
    stripes = Image.new("RGB", (300, 100), "red")
    stripes.paste((0, 0, 255), (100, 0, 200, 100))  # blue middle third
    src = _media(tmp_path, "stripes.png", image=stripes)
    out = _image(_run(transform.TRANSFORM_RESIZE, _ctx(tmp_path), {"image": src}, width=50, height=50,
                      mode="fill"))
    for x in (2, 47):  # both sides of the square are the blue middle, not the red ends
        r, _, b = _pixel(out, (x, 25))
        assert r < 10 and b > 245


def test_crop_inside_and_outside(tmp_path: Path) -> None:
    src = _media(tmp_path, "src.png", (100, 80))
    out = _image(_run(transform.TRANSFORM_CROP, _ctx(tmp_path), {"image": src}, left=10, top=20,
                      width=50, height=40))
    assert out.size == (50, 40)
    with pytest.raises(NodeError) as err:
        _run(transform.TRANSFORM_CROP, _ctx(tmp_path), {"image": src}, left=60, top=0, width=50, height=40)
    assert err.value.code == "crop_outside"
    assert "100×80" in str(err.value) and src.product_id in str(err.value)


def test_rotate_clockwise_with_expand_and_transparent_corners(tmp_path: Path) -> None:
    marked = Image.new("RGB", (40, 20), "white")
    marked.paste((255, 0, 0), (0, 0, 40, 2))  # a red top edge
    src = _media(tmp_path, "marked.png", image=marked)
    out = _image(_run(transform.TRANSFORM_ROTATE, _ctx(tmp_path), {"image": src}, degrees=90.0))
    assert out.size == (20, 40) and out.mode == "RGB"  # a quarter turn is exact: no corners, no alpha
    assert _pixel(out, (19, 20))[1] < 50  # the red edge is now on the right
    back = _image(_run(transform.TRANSFORM_ROTATE, _ctx(tmp_path), {"image": src}, degrees=-90.0))
    assert _pixel(back, (0, 20))[1] < 50 and _pixel(back, (19, 20)) == (255, 255, 255)
    tilted = _image(_run(transform.TRANSFORM_ROTATE, _ctx(tmp_path), {"image": src}, degrees=30.0))
    assert tilted.mode == "RGBA" and _pixel(tilted, (0, 0))[3] == 0
    kept = _image(_run(transform.TRANSFORM_ROTATE, _ctx(tmp_path), {"image": src}, degrees=30.0, expand=False,
                       fill="black"))
    assert kept.size == (40, 20) and kept.mode == "RGB" and _pixel(kept, (0, 0)) == (0, 0, 0)


def test_adjust_and_grayscale_keep_alpha(tmp_path: Path) -> None:
    src = _media(tmp_path, "rgba.png", (32, 32), (200, 40, 40, 128), mode="RGBA")
    grey = _image(_run(transform.TRANSFORM_ADJUST, _ctx(tmp_path), {"image": src}, saturation=0.0))
    r, g, b, a = _pixel(grey, (5, 5))
    assert r == g == b and a == 128
    dark = _image(_run(transform.TRANSFORM_ADJUST, _ctx(tmp_path), {"image": src}, brightness=0.0))
    assert _pixel(dark, (5, 5)) == (0, 0, 0, 128)
    gray = _image(_run(transform.TRANSFORM_GRAYSCALE, _ctx(tmp_path), {"image": src}))
    assert gray.mode == "LA" and _pixel(gray, (5, 5))[1] == 128


def test_blur_has_no_dark_fringe_and_sharpen_adds_contrast(tmp_path: Path) -> None:
    dot = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    dot.paste((255, 255, 255, 255), (15, 15, 25, 25))
    src = _media(tmp_path, "dot.png", image=dot)
    blurred = _image(_run(transform.TRANSFORM_BLUR, _ctx(tmp_path), {"image": src}, radius=3.0))
    edge = _pixel(blurred, (12, 20))
    assert 0 < edge[3] < 255 and edge[0] > 240  # premultiplied: soft edge stays white, not grey
    soft = Image.new("L", (40, 40), 100)
    soft.paste(150, (20, 0, 40, 40))
    src2 = _media(tmp_path, "step.png", image=soft.convert("RGB"))
    sharp = _image(_run(transform.TRANSFORM_SHARPEN, _ctx(tmp_path), {"image": src2}, percent=300))
    assert ImageStat.Stat(sharp).stddev[0] > ImageStat.Stat(soft).stddev[0]


def test_convert_sets_format_and_flattens_for_jpeg(tmp_path: Path) -> None:
    src = _media(tmp_path, "clear.png", (20, 20), (0, 0, 0, 0), mode="RGBA")
    (item,) = _run(transform.TRANSFORM_CONVERT, _ctx(tmp_path), {"image": src}, format="jpeg",
                   quality=70)["image"]
    assert item.format == "jpeg" and item.quality == 70 and item.image.mode == "RGB"
    assert _pixel(item.image, (3, 3)) == (255, 255, 255)
    buf = io.BytesIO()
    item.image.save(buf, format=item.format.upper(), quality=item.quality)
    assert Image.open(io.BytesIO(buf.getvalue())).format == "JPEG"
    (webp,) = _run(transform.TRANSFORM_CONVERT, _ctx(tmp_path), {"image": src}, format="webp")["image"]
    assert webp.format == "webp" and webp.image.mode == "RGBA"


def test_transforms_keep_a_jpeg_a_jpeg(tmp_path: Path) -> None:
    src = _media(tmp_path, "photo.jpg", (64, 64), fmt="JPEG")
    (item,) = _run(transform.TRANSFORM_BLUR, _ctx(tmp_path), {"image": src})["image"]
    assert item.format == "jpeg"


@pytest.mark.parametrize("position", transform.POSITIONS)
def test_watermark_changes_only_its_corner(tmp_path: Path, position: str) -> None:
    for shade in ((240, 240, 240), (15, 15, 15)):  # readable on light and dark pictures alike
        src = _media(tmp_path, "plain.png", (400, 300), shade)
        out = _image(_run(transform.TRANSFORM_WATERMARK, _ctx(tmp_path), {"image": src}, text="© Studio",
                          position=position, opacity=0.8))
        box = ImageChops.difference(out.convert("RGB"), Image.new("RGB", (400, 300), shade)).getbbox()
        assert box is not None
        left, top, right, bottom = box
        if position == "center":
            assert left > 100 and right < 300 and top > 100 and bottom < 200
            continue
        vertical, horizontal = position.split("-")
        assert (bottom <= 150) if vertical == "top" else (top >= 150)
        assert (right <= 200) if horizontal == "left" else (left >= 200)


def test_grid_makes_one_sheet_of_the_batch(tmp_path: Path) -> None:
    items = [_media(tmp_path, f"g{i}.png", (512, 512), (40 * i, 90, 160), prompt_=f"prompt {i}")
             for i in range(5)]
    result = _run(transform.TRANSFORM_GRID, _ctx(tmp_path), {"image": items}, columns=0, labels=False,
                  cell_size=256, padding=8)
    sheet = _image(result)
    assert sheet.size == (3 * 256 + 4 * 8, 2 * 256 + 3 * 8)
    assert _pixel(sheet, (8 + 128, 8 + 128)) == (0, 90, 160)
    assert result["image"][0].meta["source_product_ids"] == [m.product_id for m in items]
    labelled = _image(_run(transform.TRANSFORM_GRID, _ctx(tmp_path), {"image": items}, cell_size=256,
                           padding=8))
    assert labelled.width == sheet.width and labelled.height > sheet.height
    two_cols = _image(_run(transform.TRANSFORM_GRID, _ctx(tmp_path), {"image": items}, columns=2,
                           labels=False, cell_size=100, padding=0))
    assert two_cols.size == (200, 300)


def test_grid_refuses_a_video_in_the_batch(tmp_path: Path) -> None:
    items = [_media(tmp_path, "a.png"), _media(tmp_path, "b.png", media_type="video")]
    with pytest.raises(NodeError) as err:
        _run(transform.TRANSFORM_GRID, _ctx(tmp_path), {"image": items})
    assert err.value.code == "media_type"


@pytest.mark.parametrize("node", [transform.TRANSFORM_RESIZE, transform.TRANSFORM_GRAYSCALE,
                                  transform.TRANSFORM_WATERMARK, transform.TRANSFORM_CONVERT])
def test_transforms_reject_a_video(tmp_path: Path, node: NodeType) -> None:
    clip = _media(tmp_path, "clip.png", media_type="video")
    with pytest.raises(NodeError) as err:
        _run(node, _ctx(tmp_path), {"image": clip})
    assert err.value.code == "media_type"
    assert "video" in str(err.value) and clip.product_id in str(err.value)


def test_transform_reports_a_missing_file(tmp_path: Path) -> None:
    gone = Media(product_id="p-gone", path=tmp_path / "gone.png", media_type="image")
    with pytest.raises(NodeError) as err:
        _run(transform.TRANSFORM_BLUR, _ctx(tmp_path), {"image": gone})
    assert err.value.code == "missing_file"


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90° clockwise
    src = _media(tmp_path, "sideways.jpg", (40, 20), fmt="JPEG", exif=exif.tobytes())
    out = _image(_run(transform.TRANSFORM_GRAYSCALE, _ctx(tmp_path), {"image": src}))
    assert out.size == (20, 40)


# -- input.image and collection.add ---------------------------------------------------------------------

def test_input_image_imports_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (30, 20), "teal").save(tmp_path / "pic.png")
    monkeypatch.chdir(tmp_path)
    (item,) = _run(inputs.INPUT_IMAGE, _ctx(tmp_path), path="pic.png")["image"]
    assert item.file == tmp_path / "pic.png" and item.image is None
    assert item.meta["source_path"] == str(tmp_path / "pic.png")


def test_input_image_missing_or_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(NodeError) as err:
        _run(inputs.INPUT_IMAGE, _ctx(tmp_path), path=str(tmp_path / "nope.png"))
    assert err.value.code == "missing_file" and "nope.png" in str(err.value)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(NodeError) as err:
        _run(inputs.INPUT_IMAGE, _ctx(tmp_path), path=str(tmp_path / "notes.png"))
    assert err.value.code == "bad_image"


def test_input_image_key_follows_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "pic.png"
    key = inputs.INPUT_IMAGE.external_key
    assert key is not None
    assert key({"path": str(path)}, tmp_path) == f"missing:{path}"
    Image.new("RGB", (8, 8), "red").save(path)
    first = key({"path": str(path)}, tmp_path)
    assert first == key({"path": str(path)}, tmp_path) and len(first) == 64
    Image.new("RGB", (8, 8), "blue").save(path)
    assert key({"path": str(path)}, tmp_path) != first


def test_collection_add_records_and_passes_through(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    items = [_media(tmp_path, "a.png"), _media(tmp_path, "b.png")]
    out = _run(collection.COLLECTION_ADD, ctx, {"media": items}, collection="  Foxes ")
    assert out == {"media": items}
    assert [(a.name, a.product_ids) for a in ctx.collection_adds] == [("Foxes", ["p-a.png", "p-b.png"])]
    with pytest.raises(NodeError) as err:  # run directly: validation would already refuse a blank name
        collection.COLLECTION_ADD.run(ctx, {"media": items}, {"collection": "   "})
    assert err.value.code == "bad_param"
