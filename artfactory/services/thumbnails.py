"""Gallery thumbnails: one reduced decode per source, three cached WebP sizes, written atomically."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from artfactory.lazy import lazy_module

if TYPE_CHECKING:
    from PIL import Image, ImageFile
else:  # Pillow is imported when a thumbnail is made: opening a library or a cached run needs none.
    Image = lazy_module("PIL.Image")

THUMBNAIL_SIZES = {"large": 800, "medium": 400, "small": 150}  # longest edge in pixels

# WebP keeps alpha (JPEG cannot) and Qt reads it out of the box (the qwebp image plugin).
THUMBNAIL_FORMAT = "WEBP"
# method 2 encodes twice as fast as the default 4 for ~3 % more bytes: a good trade for a cache.
THUMBNAIL_SAVE_OPTIONS = {"quality": 82, "method": 2}

# EXIF orientation → the transpose that shows the image upright (as ImageOps.exif_transpose does).
_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                7: "TRANSVERSE", 8: "ROTATE_90"}  # names of Image.Transpose members
_VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}


class ThumbnailError(Exception):
    """A thumbnail could not be made; the message names the file and the reason."""


def thumbnail_path(root: Path, size: str, product_id: str) -> Path:
    """Where the `size` thumbnail of a product lives: root/thumbnails/{size}/{product_id}.webp."""
    if size not in THUMBNAIL_SIZES:
        raise ValueError(f"unknown thumbnail size {size!r} (expected one of {', '.join(THUMBNAIL_SIZES)})")
    # The id becomes a file name: refuse anything that could point elsewhere.
    if not product_id or product_id in (".", "..") or any(c in product_id for c in "/\\:\0"):
        raise ValueError(f"product id {product_id!r} cannot be used as a file name")
    return Path(root) / "thumbnails" / size / f"{product_id}.webp"


def to_display_mode(image: Image.Image) -> Image.Image:
    """The image as L, LA, RGB or RGBA, with 16-bit and float data scaled into 0..255 (Pillow's own
    convert("L") clips I;16 instead of scaling it, turning most 16-bit images white)."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" or image.has_transparency_data else "RGB")
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper())
    if mode.startswith("I;16"):
        return _scale_to_l(image.convert("I"), 0.0, 65535.0)
    if mode in ("I", "F"):
        low, high = image.getextrema()
        low, high = float(low), float(high)  # type: ignore[arg-type]
        if low >= 0 and high <= (1.0 if mode == "F" else 255):
            # Already 8-bit data, or float data in the usual 0..1 range.
            return _scale_to_l(image, 0.0, 1.0 if mode == "F" else 255.0)
        if low >= 0 and high <= 65535:
            return _scale_to_l(image, 0.0, 65535.0)
        return _scale_to_l(image, low, high)  # anything else (depth maps …): stretch to fit
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def _scale_to_l(image: Image.Image, low: float, high: float) -> Image.Image:
    scale = 255.0 / (high - low) if high > low else 1.0
    return image.point(lambda v: v * scale - low * scale).convert("L")


def _fit(width: int, height: int, edge: int) -> tuple[int, int]:
    """Size inside an edge×edge box, never upscaled, rounded exactly as Image.thumbnail rounds."""
    if width <= edge and height <= edge:
        return width, height
    aspect = width / height
    if aspect <= 1:  # portrait or square: height is the long edge
        x = min(math.floor(edge * aspect), math.ceil(edge * aspect), key=lambda n: abs(aspect - n / edge))
        return max(x, 1), edge
    y = min(math.floor(edge / aspect), math.ceil(edge / aspect),
            key=lambda n: 0 if n == 0 else abs(aspect - edge / n))
    return edge, max(y, 1)


def _looks_like_video(source: Path) -> bool:
    if source.suffix.lower() in _VIDEO_SUFFIXES:
        return True
    try:
        with open(source, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"


def make_thumbnails(source: Path, destinations: Mapping[str, Path]) -> dict[str, tuple[int, int]]:
    """Write the requested thumbnail sizes of `source`; returns each one's pixel size.

    One decode serves every size: JPEG is decoded by libjpeg at a reduced scale (draft), other
    formats are reduced by an integer factor before the final Lanczos; each smaller size is then
    derived from the previous one, which costs next to nothing at these sizes."""
    source = Path(source)
    unknown = set(destinations) - set(THUMBNAIL_SIZES)
    if unknown:
        raise ValueError(f"unknown thumbnail sizes: {', '.join(sorted(unknown))}")
    if not destinations:
        return {}
    order = sorted(destinations, key=THUMBNAIL_SIZES.__getitem__, reverse=True)
    if _looks_like_video(source):
        return _save_sizes(video_poster(source), order, destinations, source.name)
    try:
        img = Image.open(source)
    except FileNotFoundError:
        raise ThumbnailError(f"{source.name}: file not found") from None
    except (Image.UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ThumbnailError(f"{source.name}: cannot be read as an image ({exc})") from None
    except OSError as exc:
        raise ThumbnailError(f"{source.name}: cannot be read ({exc.strerror or exc})") from None
    with img:
        try:
            working = _decode_reduced(img, THUMBNAIL_SIZES[order[0]])
        except Exception as exc:  # Pillow raises many types on damaged data
            raise ThumbnailError(f"{source.name}: damaged or unreadable image ({exc})") from None
        width, height = img.size
        # Read before any resize: derived images lose the EXIF (TIFF keeps it outside `info`).
        orientation = img.getexif().get(0x0112, 1)

    working = _finish(working, orientation)
    quarter_turn = orientation in (5, 6, 7, 8)
    made: dict[str, tuple[int, int]] = {}
    for size_name in order:
        # Sizes come from the stored dimensions (as Image.thumbnail computes them), then turn with the image.
        w, h = _fit(width, height, THUMBNAIL_SIZES[size_name])
        target = (h, w) if quarter_turn else (w, h)
        if working.size != target:
            working = working.resize(target, Image.Resampling.LANCZOS)
        _save_atomic(working, Path(destinations[size_name]), source.name)
        made[size_name] = working.size
    return made


def _save_sizes(image: Image.Image, order: list[str], destinations: Mapping[str, Path],
                source_name: str) -> dict[str, tuple[int, int]]:
    """Every requested size of an upright RGB image, largest first, each derived from the one before."""
    made: dict[str, tuple[int, int]] = {}
    for size_name in order:
        target = _fit(image.width, image.height, THUMBNAIL_SIZES[size_name])
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS)
        _save_atomic(image, Path(destinations[size_name]), source_name)
        made[size_name] = image.size
    return made


def video_poster(source: Path) -> Image.Image:
    """A video's poster frame, upright: the frame at a tenth of its length (at most 1 s in), since the very
    first frame of a clip is often black. PyAV is imported here only: most processes never make one."""
    import av

    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise ThumbnailError(f"{source.name}: has no video track")
            stream = container.streams.video[0]
            length = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            origin = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            wanted = origin + min(1.0, length / 10)
            poster = None
            for frame in container.decode(stream):
                poster = frame
                if frame.time is None or frame.time >= wanted:
                    break
            if poster is None:
                raise ThumbnailError(f"{source.name}: has no decodable frame")
            image = poster.to_image()
            rotation = getattr(poster, "rotation", 0) or 0
    except FileNotFoundError:
        raise ThumbnailError(f"{source.name}: file not found") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ThumbnailError(f"{source.name}: cannot be read as a video ({exc})") from None
    return image.rotate(rotation, expand=True) if rotation % 360 else image


def _decode_reduced(img: ImageFile.ImageFile, edge: int) -> Image.Image:
    """The first frame, decoded small but still at least the thumbnail size (never upscaled)."""
    target = _fit(img.width, img.height, edge)
    box = None
    if img.format in ("JPEG", "MPO"):
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, to no less than the target: the
        # biggest saving there is. The box maps the drafted pixels back onto the original exactly.
        drafted = img.draft(img.mode, target)
        box = drafted[1] if drafted else None
    img.load()
    working: Image.Image = img
    if working.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        working = to_display_mode(working)  # resampling wants 8-bit channels; P must not be averaged
    if working.size == target:
        return working.copy()  # detach from the file, which closes when we return
    # reducing_gap=2: reduce() by an integer factor (a cheap box filter) to about twice the target,
    # then Lanczos over the last step, which is where quality is decided.
    return working.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)


def _finish(image: Image.Image, orientation: int) -> Image.Image:
    """Upright and in a mode WebP stores (CMYK converted after reducing, where it is cheap)."""
    image = to_display_mode(image)
    if image.mode == "L":
        image = image.convert("RGB")
    elif image.mode == "LA":
        image = image.convert("RGBA")
    transpose = _ORIENTATION.get(orientation)
    return image.transpose(Image.Transpose[transpose]) if transpose is not None else image


def _save_atomic(image: Image.Image, destination: Path, source_name: str) -> None:
    # No fsync: a thumbnail is a cache that is remade if lost, and the rename alone already keeps
    # readers from ever seeing half a file.
    tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        image.save(tmp, format=THUMBNAIL_FORMAT, **THUMBNAIL_SAVE_OPTIONS)
        os.replace(tmp, destination)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ThumbnailError(f"{source_name}: could not write thumbnail {destination} "
                             f"({exc.strerror or exc})") from None


def ensure_thumbnails(root: Path, product_id: str, source: Path) -> dict[str, Path]:
    """Paths of all thumbnail sizes, making only those missing, empty or older than the source."""
    paths = {size: thumbnail_path(root, size, product_id) for size in THUMBNAIL_SIZES}
    try:
        source_mtime = Path(source).stat().st_mtime
    except OSError:
        raise ThumbnailError(f"{Path(source).name}: file not found") from None
    stale: dict[str, Path] = {}
    for size, path in paths.items():
        try:
            st = path.stat()
            fresh = st.st_size > 0 and st.st_mtime >= source_mtime
        except OSError:
            fresh = False
        if not fresh:
            stale[size] = path
    if stale:
        make_thumbnails(Path(source), stale)
    return paths


def delete_thumbnails(root: Path, product_id: str) -> None:
    for size in THUMBNAIL_SIZES:
        thumbnail_path(root, size, product_id).unlink(missing_ok=True)
