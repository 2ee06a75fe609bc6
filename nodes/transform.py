"""Image transforms: resize, crop, rotate, adjust, grayscale, blur, sharpen, convert, watermark, grid."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port, RunContext, frames_hint
from artfactory.lazy import lazy_module

if TYPE_CHECKING:
    from PIL import Image, ImageColor, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps
else:  # Pillow is imported when an image is first touched: a fully cached run and `artfactory nodes` never touch one.
    Image = lazy_module("PIL.Image")
    ImageColor = lazy_module("PIL.ImageColor")
    ImageDraw = lazy_module("PIL.ImageDraw")
    ImageEnhance = lazy_module("PIL.ImageEnhance")
    ImageFilter = lazy_module("PIL.ImageFilter")
    ImageFont = lazy_module("PIL.ImageFont")
    ImageOps = lazy_module("PIL.ImageOps")

Operation = Callable[["Image.Image", Mapping[str, Any], Media], "Image.Image"]
Outputs = dict[str, list[Any]]
RunFn = Callable[[RunContext, Mapping[str, Any], Mapping[str, Any]], Outputs]
MAX_SIDE = 16384
# Clockwise quarter turns as Pillow transposes (whose names count counter-clockwise).
CLOCKWISE_QUARTERS = {90.0: "ROTATE_270", 180.0: "ROTATE_180", 270.0: "ROTATE_90"}
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")


# -- shared by every image node ---------------------------------------------------------------------

def open_image(media: Any, node: str, port: str = "image") -> tuple[Image.Image, str]:
    """The input as an upright (EXIF-rotated), loaded Pillow image in RGB/RGBA/L/LA, and its file format."""
    if not isinstance(media, Media):
        raise NodeError(f"{node} expects an image on {port!r} but received {type(media).__name__}",
                        "bad_input")
    if media.media_type != "image":
        raise NodeError(f"{node} expects an image but received a {media.media_type} "
                        f"(product {media.product_id}){frames_hint(media.media_type, 'image')}", "media_type")
    try:
        with Image.open(media.path) as src:
            fmt = (src.format or "png").lower()
            icc = src.info.get("icc_profile")
            image = ImageOps.exif_transpose(src)  # a loaded copy, so the file can close here
    except FileNotFoundError:
        raise NodeError(f"{node}: the file of product {media.product_id} is missing ({media.path})",
                        "missing_file") from None
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NodeError(f"{node}: product {media.product_id} is not a readable image ({exc})",
                        "bad_image") from None
    image = _normalise_mode(image)
    if icc and image.mode in ("RGB", "RGBA"):
        image.info["icc_profile"] = icc  # keep colour-managed photos looking the same after the edit
    return image, fmt


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA, L or LA: the modes every operation here handles, keeping any transparency."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    if mode in ("1",):
        return image.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping everything above 255 to white.
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if mode in ("RGBa", "La"):
        return image.convert("RGBA" if mode == "RGBa" else "LA")
    return image.convert("RGBA" if "A" in mode else "RGB")


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA")


def premultiplied(image: Image.Image, fn: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Filter or resample with premultiplied alpha, so transparent pixels do not bleed dark fringes."""
    if image.mode == "RGBA":
        return fn(image.convert("RGBa")).convert("RGBA")
    if image.mode == "LA":
        return fn(image.convert("La")).convert("LA")
    return fn(image)


def output_format(source_format: str, image: Image.Image) -> tuple[str, int]:
    """Keep the source's family (a JPEG photo stays a JPEG), but never drop transparency."""
    if source_format == "webp":
        return "webp", 95
    if source_format in ("jpeg", "jpg", "mpo") and not has_alpha(image):
        return "jpeg", 95
    return "png", 95


def lineage(sources: Sequence[Media], params: Mapping[str, Any]) -> dict[str, Any]:
    """Product metadata for a derived image: the source's prompt and seed travel on with it."""
    first = sources[0] if sources else None
    return {
        "prompt": first.prompt if first else "",
        "seed": first.seed if first else None,
        "provider": None,
        "model": None,
        "params": dict(params),
        "source_product_ids": [m.product_id for m in sources],
    }


def parse_colour(value: str, node: str, param: str) -> tuple[int, int, int, int]:
    try:
        rgba = ImageColor.getcolor(value.strip(), "RGBA")
    except ValueError:
        raise NodeError(f"{node}: {param} {value!r} is not a colour (use a name like 'white' or '#1e1e22')",
                        "bad_param") from None
    assert isinstance(rgba, tuple)
    return (rgba[0], rgba[1], rgba[2], rgba[3])


def _with_icc(result: Image.Image, source: Image.Image) -> Image.Image:
    icc = source.info.get("icc_profile")
    if icc and result.mode in ("RGB", "RGBA") and "icc_profile" not in result.info:
        result.info["icc_profile"] = icc
    return result


def _transform(node: str, op: Operation) -> RunFn:
    """The run function of a one-image-in, one-image-out node around `op`."""
    def run(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
        media = inputs.get("image")
        image, fmt = open_image(media, node)
        assert isinstance(media, Media)
        ctx.check_canceled()
        result = _with_icc(op(image, params, media), image)
        out_fmt, quality = output_format(fmt, result)
        made = NewMedia(image=result, format=out_fmt, quality=quality, meta=lineage([media], params))
        return {"image": [made]}
    return run


def _image_node(type_name: str, title: str, doc: str, op: Operation,
                params: tuple[Param, ...] = ()) -> NodeType:
    return NodeType(type=type_name, title=title, doc=doc, version=1, run=_transform(type_name, op),
                    inputs=(Port("image", "image", doc="the image to change"),),
                    outputs=(Port("image", "image", doc="the changed image"),), params=params)


# -- operations -------------------------------------------------------------------------------------

def _resize(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    box_w, box_h, mode = params["width"], params["height"], params["mode"]
    lanczos = Image.Resampling.LANCZOS
    if mode == "stretch":
        return premultiplied(image, lambda im: im.resize((box_w, box_h), lanczos))
    if mode == "fill":
        return premultiplied(image, lambda im: ImageOps.fit(im, (box_w, box_h), lanczos))
    scale = min(box_w / image.width, box_h / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return premultiplied(image, lambda im: im.resize(size, lanczos))


def _crop(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    left, top, width, height = params["left"], params["top"], params["width"], params["height"]
    if left + width > image.width or top + height > image.height:
        raise NodeError(
            f"transform.crop: the box at {left},{top} of {width}×{height} falls outside the "
            f"{image.width}×{image.height} image (product {media.product_id}); it must end by "
            f"x={image.width}, y={image.height}", "crop_outside",
        )
    return image.crop((left, top, left + width, top + height))


def _rotate(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    degrees, expand = params["degrees"], params["expand"]
    turn = degrees % 360
    if turn == 0:
        return image.copy()
    if turn in CLOCKWISE_QUARTERS and (expand or turn == 180.0 or image.width == image.height):
        # Quarter turns are exact pixel moves: no resampling blur and no uncovered corners to fill.
        return image.transpose(Image.Transpose[CLOCKWISE_QUARTERS[turn]])
    fill = params["fill"].strip().lower()
    if fill in ("", "transparent", "none"):
        if not has_alpha(image):
            image = image.convert("RGBA" if image.mode == "RGB" else "LA")
        colour: Any = None
    else:
        rgba = parse_colour(fill, "transform.rotate", "fill")
        colour = rgba if image.mode == "RGBA" else rgba[:3] if image.mode == "RGB" else rgba[0]
        if image.mode == "LA":
            colour = (rgba[0], rgba[3])
    # Pillow rotates counter-clockwise; people (and every photo app) mean clockwise for positive degrees.
    return premultiplied(image, lambda im: im.rotate(-degrees, Image.Resampling.BICUBIC, expand=expand,
                                                     fillcolor=colour))


def _on_colour(image: Image.Image, fn: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Apply fn to the colour channels only; enhancers would otherwise also fade the alpha channel."""
    if not has_alpha(image):
        return fn(image)
    colour, alpha = image.convert("RGB" if image.mode == "RGBA" else "L"), image.getchannel("A")
    out = fn(colour)
    out.putalpha(alpha)
    return out


def _adjust(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    def enhance(im: Image.Image) -> Image.Image:
        for enhancer, key in ((ImageEnhance.Brightness, "brightness"), (ImageEnhance.Contrast, "contrast"),
                              (ImageEnhance.Color, "saturation")):
            if params[key] != 1.0 and not (key == "saturation" and im.mode == "L"):
                im = enhancer(im).enhance(params[key])
        return im
    return _on_colour(image, enhance)


def _grayscale(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    return image.convert("LA" if has_alpha(image) else "L")


def _blur(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    radius = params["radius"]
    return premultiplied(image, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))


def _sharpen(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    unsharp = ImageFilter.UnsharpMask(params["radius"], params["percent"], params["threshold"])
    return _on_colour(image, lambda im: im.filter(unsharp))


def _convert(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    if params["format"] == "jpeg" and has_alpha(image):
        # JPEG has no transparency: flatten onto the chosen background instead of turning it black.
        bg = parse_colour(params["background"], "transform.convert", "background")
        flat = Image.new("RGBA", image.size, (*bg[:3], 255))
        flat.alpha_composite(image.convert("RGBA"))
        return flat.convert("RGB" if image.mode == "RGBA" else "L")
    return image


def _run_convert(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    media = inputs.get("image")
    image, _ = open_image(media, "transform.convert")
    assert isinstance(media, Media)
    result = _with_icc(_convert(image, params, media), image)
    return {"image": [NewMedia(image=result, format=params["format"], quality=params["quality"],
                               meta=lineage([media], params))]}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def _watermark(image: Image.Image, params: Mapping[str, Any], media: Media) -> Image.Image:
    text = params["text"].strip()
    if not text:
        return image
    w, h = image.size
    size = params["size"] or max(10, round(min(w, h) * 0.045))
    margin = max(4, round(size * 0.8))
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    font = _font(size)
    # Auto-shrink a text wider than the image, so it never spills out of its corner.
    while size > 6 and probe.textlength(text, font=font) > w - 2 * margin:
        size = max(6, int(size * 0.9))
        font = _font(size)
        margin = max(4, round(size * 0.8))
    stroke = max(1, size // 14)
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=stroke)
    tw, th = right - left, bottom - top
    shadow = max(1, size // 12)
    position = params["position"]
    x = margin if position.endswith("left") else w - margin - tw - shadow if position.endswith("right") \
        else (w - tw) // 2
    y = margin if position.startswith("top") else h - margin - th - shadow if position.startswith("bottom") \
        else (h - th) // 2
    # Light text with a dark outline and drop shadow reads on both light and dark pictures.
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    alpha = round(255 * params["opacity"])
    draw.text((x - left + shadow, y - top + shadow), text, font=font, fill=(0, 0, 0, alpha // 2))
    draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255, alpha), stroke_width=stroke,
              stroke_fill=(0, 0, 0, round(alpha * 0.6)))
    base = image.convert("RGBA")
    base.alpha_composite(layer)
    if has_alpha(image):
        return base if image.mode == "RGBA" else base.convert("LA")
    return base.convert(image.mode)


# -- contact sheet -----------------------------------------------------------------------------------

def _run_grid(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    items = inputs.get("image")
    items = list(items) if isinstance(items, list | tuple) else [] if items is None else [items]
    if not items:
        raise NodeError("transform.grid received no images to arrange", "empty_input")
    for media in items:  # refuse a video before opening anything
        open_check(media)
    n = len(items)
    swept = swept_keys(items)
    labels = cell_labels(items, swept)
    axes = xy_axes(items, swept) if params["layout"] == "xy" else None
    if axes is not None:
        row_values, col_values, places = axes
        rows, cols = len(row_values), len(col_values)
    else:
        cols = min(n, params["columns"] or math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        places = [(index // cols, index % cols) for index in range(n)]
    aspects = sorted((m.width / m.height) for m in items if m.width and m.height) or [1.0]
    cell_w = params["cell_size"]
    cell_h = max(16, min(cell_w * 4, round(cell_w / aspects[len(aspects) // 2])))  # the median shape
    pad = params["padding"]
    label_size = max(9, cell_w // 16)
    font = _font(label_size)
    # In an xy sheet the row and column headers say what each cell is; its cells are labelled only with what
    # making them took and cost, where the provider and the ledger said (a model shoot-out).
    facts = [cell_facts(m) for m in items]
    full = [" · ".join(part for part in (name, fact) if part) for name, fact in zip(labels, facts, strict=True)]
    labels = facts if axes is not None else full
    label_h = round(label_size * 1.7) if params["labels"] and any(labels) else 0
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    head_h = round(label_size * 1.9) if axes is not None else 0
    head_w = 0
    if axes is not None and any(row_values):  # one swept value: a single row under column headers
        head_w = min(cell_w, max(round(probe.textlength(_fit_text(probe, str(v), font, cell_w), font=font))
                                 for v in row_values) + pad + 4)
    sheet_w = head_w + cols * cell_w + (cols + 1) * pad
    sheet_h = head_h + rows * (cell_h + label_h) + (rows + 1) * pad
    if sheet_w > MAX_SIDE or sheet_h > MAX_SIDE:
        raise NodeError(f"transform.grid: the sheet would be {sheet_w}×{sheet_h} pixels (limit {MAX_SIDE}); "
                        "use a smaller cell_size or more columns", "too_large")
    bg = parse_colour(params["background"], "transform.grid", "background")
    sheet = Image.new("RGBA" if bg[3] < 255 else "RGB", (sheet_w, sheet_h), bg if bg[3] < 255 else bg[:3])
    draw = ImageDraw.Draw(sheet)
    ink = (30, 30, 34) if (0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]) > 140 else (226, 226, 230)
    if axes is not None:
        for col, value in enumerate(col_values):
            x0 = head_w + pad + col * (cell_w + pad)
            draw.text((x0, pad + head_h * 0.15), _fit_text(draw, str(value), font, cell_w), font=font, fill=ink)
        for row, value in enumerate(row_values):
            y0 = head_h + pad + row * (cell_h + pad)
            draw.text((pad, y0 + cell_h // 2 - label_size // 2), _fit_text(draw, str(value), font, head_w - pad),
                      font=font, fill=ink)
    for index, media in enumerate(items):
        ctx.check_canceled()
        ctx.progress(100 * index / n, f"placing image {index + 1} of {n}")
        image, _ = open_image(media, "transform.grid")
        image.thumbnail((cell_w, cell_h), Image.Resampling.LANCZOS)
        row, col = places[index]
        x0 = head_w + pad + col * (cell_w + pad)
        y0 = head_h + pad + row * (cell_h + label_h + pad)
        at = (x0 + (cell_w - image.width) // 2, y0 + (cell_h - image.height) // 2)
        if has_alpha(image):
            sheet.paste(image.convert("RGBA"), at, image.convert("RGBA"))
        else:
            sheet.paste(image.convert("RGB"), at)
        if label_h:
            draw.text((x0, y0 + cell_h + label_h * 0.2), _fit_text(draw, labels[index], font, cell_w), font=font,
                      fill=ink)
    ctx.progress(100, "sheet done")
    prompts = [m.prompt for m in items]
    meta = lineage(items, params)
    meta["prompt"] = prompts[0] if len(set(prompts)) == 1 else ""
    meta["seed"] = items[0].seed if n == 1 else None
    meta["prompts"] = prompts
    if params["labels"]:
        meta["labels"] = full
    if swept:
        meta["cells"] = [dict(m.sweep) for m in items]
    if axes is not None:
        meta["layout"] = {"rows": [str(v) for v in row_values], "columns": [str(v) for v in col_values],
                          "row_key": swept[0], "column_keys": swept[1:]}
    return {"image": [NewMedia(image=sheet, format="png", meta=meta)]}


def swept_keys(items: Sequence[Media]) -> list[str]:
    """The sweep keys ("gen.seed") whose values differ between the cells, in the order the first cell has them."""
    keys: dict[str, None] = {}
    for media in items:
        keys.update(dict.fromkeys(media.sweep))
    return [k for k in keys if len({_canon(m.sweep.get(k)) for m in items}) > 1]


def _canon(value: Any) -> str:
    return repr(value)


def _key_names(keys: Sequence[str]) -> dict[str, str]:
    """"gen.seed" shows as "seed" unless two swept nodes share that param name."""
    short = {k: k.rsplit(".", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for name in short.values():
        counts[name] = counts.get(name, 0) + 1
    return {k: name if counts[name] == 1 else k for k, name in short.items()}


def _value_text(value: Any) -> str:
    return " ".join(str(value).split()) if not isinstance(value, float) or not value.is_integer() else str(int(value))


def cell_facts(media: Media) -> str:
    """What making a cell took and cost, where known: "4.2 s · $0.003"."""
    parts = []
    if media.seconds is not None:
        parts.append(f"{media.seconds:.1f} s")
    if media.cost_usd is not None:
        parts.append(f"${media.cost_usd:.4f}".rstrip("0").rstrip(".") if media.cost_usd else "$0")
    return " · ".join(parts)


def cell_labels(items: Sequence[Media], swept: Sequence[str]) -> list[str]:
    """Each cell's label: the swept values that made it ("seed 3 · style neon"), else its number and prompt (or,
    for a photo without one, its title: the file name it came in as)."""
    names = _key_names(swept)
    labels = []
    for index, media in enumerate(items):
        if swept:
            labels.append(" · ".join(f"{names[k]} {_value_text(media.sweep[k])}" for k in swept if k in media.sweep))
        else:
            labels.append(f"{index + 1}  {' '.join((media.prompt or media.title).split())}".rstrip())
    return labels


def xy_axes(items: Sequence[Media], swept: Sequence[str]) -> tuple[list[str], list[str], list[tuple[int, int]]] | None:
    """Rows × columns for an xy sheet: rows by the first swept value, columns by the others; None (the auto
    layout) when nothing was swept. Header texts and each cell's (row, column)."""
    if not swept:
        return None
    names = _key_names(swept)
    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    places = []
    for media in items:
        if len(swept) == 1:
            row_text = ""
        else:
            row_text = f"{names[swept[0]]} {_value_text(media.sweep.get(swept[0], ''))}"
        col_keys = swept[1:] if len(swept) > 1 else swept
        col_text = " · ".join(f"{names[k]} {_value_text(media.sweep.get(k, ''))}" for k in col_keys)
        row = rows.setdefault(row_text, len(rows))
        col = cols.setdefault(col_text, len(cols))
        places.append((row, col))
    return list(rows), list(cols), places


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    """`text` cut with an ellipsis until it fits `width` pixels."""
    while draw.textlength(text, font=font) > width and len(text) > 2:
        text = text[:-2].rstrip() + "…"
    return text


def open_check(media: Any) -> None:
    """Refuse anything but an image Media up front (a contact sheet must not fail halfway)."""
    if not isinstance(media, Media):
        raise NodeError(f"transform.grid expects images but received {type(media).__name__}", "bad_input")
    if media.media_type != "image":
        raise NodeError(f"transform.grid expects images but received a {media.media_type} "
                        f"(product {media.product_id})", "media_type")


# -- the node types ---------------------------------------------------------------------------------

def _size(name: str, default: int, doc: str) -> Param:
    return Param(name, "int", default, minimum=1, maximum=MAX_SIDE, doc=doc)


TRANSFORM_RESIZE = _image_node(
    "transform.resize", "Resize", "Scales an image to a box: fit inside it, fill and crop it, or stretch.",
    _resize,
    (_size("width", 512, "Box width in pixels."), _size("height", 512, "Box height in pixels."),
     Param("mode", "choice", "fit", choices=("fit", "fill", "stretch"),
           doc="fit: keep the shape inside the box; fill: cover it, crop the centre; stretch: exact size.")),
)

TRANSFORM_CROP = _image_node(
    "transform.crop", "Crop", "Cuts a rectangle out of an image.", _crop,
    (Param("left", "int", 0, minimum=0, maximum=MAX_SIDE, doc="Left edge of the box in pixels."),
     Param("top", "int", 0, minimum=0, maximum=MAX_SIDE, doc="Top edge of the box in pixels."),
     _size("width", 256, "Box width in pixels."), _size("height", 256, "Box height in pixels.")),
)

TRANSFORM_ROTATE = _image_node(
    "transform.rotate", "Rotate", "Turns an image clockwise by any angle.", _rotate,
    (Param("degrees", "float", 90.0, minimum=-360, maximum=360, doc="Clockwise angle in degrees."),
     Param("expand", "bool", True, doc="Grow the canvas so no corner is cut off."),
     Param("fill", "string", "transparent", doc="Colour of the uncovered corners, or 'transparent'.")),
)

TRANSFORM_ADJUST = _image_node(
    "transform.adjust", "Adjust", "Changes brightness, contrast and saturation (1.0 leaves each as is).",
    _adjust,
    (Param("brightness", "float", 1.0, minimum=0, maximum=4, doc="0 is black, 1 unchanged, 2 doubled."),
     Param("contrast", "float", 1.0, minimum=0, maximum=4, doc="0 is flat grey, 1 unchanged, 2 doubled."),
     Param("saturation", "float", 1.0, minimum=0, maximum=4, doc="0 is greyscale, 1 unchanged, 2 doubled.")),
)

TRANSFORM_GRAYSCALE = _image_node(
    "transform.grayscale", "Grayscale", "Removes colour, keeping transparency.", _grayscale,
)

TRANSFORM_BLUR = _image_node(
    "transform.blur", "Blur", "Softens an image with a Gaussian blur.", _blur,
    (Param("radius", "float", 2.0, minimum=0, maximum=100, doc="Blur radius in pixels."),),
)

TRANSFORM_SHARPEN = _image_node(
    "transform.sharpen", "Sharpen", "Crisps edges with an unsharp mask.", _sharpen,
    (Param("radius", "float", 2.0, minimum=0, maximum=50, doc="Size of the edges to sharpen, in pixels."),
     Param("percent", "int", 150, minimum=0, maximum=1000, doc="Strength of the sharpening in percent."),
     Param("threshold", "int", 3, minimum=0, maximum=255,
           doc="Leave areas whose contrast is below this alone (keeps skies smooth).")),
)

TRANSFORM_CONVERT = NodeType(
    type="transform.convert",
    title="Convert",
    doc="Re-encodes an image as PNG, JPEG or WebP.",
    version=1,
    run=_run_convert,
    inputs=(Port("image", "image", doc="the image to re-encode"),),
    outputs=(Port("image", "image", doc="the image in the new format"),),
    params=(
        Param("format", "choice", "png", choices=("png", "jpeg", "webp"), doc="The file format to write."),
        Param("quality", "int", 90, minimum=1, maximum=100, doc="JPEG/WebP quality (PNG is lossless)."),
        Param("background", "string", "#ffffff", doc="Colour under transparent areas when writing JPEG."),
    ),
)

TRANSFORM_WATERMARK = _image_node(
    "transform.watermark", "Watermark", "Writes a text mark into a corner or the centre.", _watermark,
    (Param("text", "string", "Art Factory", doc="The text to write."),
     Param("position", "choice", "bottom-right", choices=POSITIONS, doc="Where the text goes."),
     Param("opacity", "float", 0.5, minimum=0, maximum=1, doc="0 invisible, 1 fully opaque."),
     Param("size", "int", 0, minimum=0, maximum=1000, doc="Text height in pixels; 0 picks one to suit.")),
)

TRANSFORM_GRID = NodeType(
    type="transform.grid",
    title="Contact sheet",
    doc="Arranges the whole batch of images into one grid image.",
    version=1,
    run=_run_grid,
    inputs=(Port("image", "image", whole_list=True, doc="all images of the batch"),),
    outputs=(Port("image", "image", doc="one contact sheet"),),
    params=(
        Param("columns", "int", 0, minimum=0, maximum=100, doc="Images per row; 0 makes it about square."),
        Param("labels", "bool", True,
              doc="Write under each image the swept values that made it, else its number and prompt."),
        Param("cell_size", "int", 256, minimum=16, maximum=2048, doc="Width of each cell in pixels."),
        Param("padding", "int", 8, minimum=0, maximum=256, doc="Space between and around cells, in pixels."),
        Param("background", "string", "#1e1e22",
              doc="Sheet colour: a name or #rrggbb (#rrggbbaa for see-through)."),
        Param("layout", "choice", "auto", choices=("auto", "xy"),
              doc="auto: rows of `columns`; xy: two swept values as rows × columns with headers."),
    ),
)
