"""Thumbnails: upright, right-sized, every pixel mode, one cheap decode, cached on disk."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, JpegImagePlugin

from artfactory.services import thumbnails
from artfactory.services.thumbnails import (
    THUMBNAIL_SIZES,
    ThumbnailError,
    delete_thumbnails,
    ensure_thumbnails,
    make_thumbnails,
    thumbnail_path,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)


def destinations(folder: Path, *sizes: str) -> dict[str, Path]:
    return {size: folder / f"{size}.webp" for size in (sizes or THUMBNAIL_SIZES)}


def pixel(path: Path, xy: tuple[int, int]) -> Any:
    with Image.open(path) as img:
        return img.convert("RGBA").getpixel(xy)


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


# -- sizes ---------------------------------------------------------------------------------------

def test_sizes_follow_the_longest_edge(tmp_path: Path) -> None:
    src = tmp_path / "wide.png"
    Image.new("RGB", (1600, 1000), RED).save(src)
    made = make_thumbnails(src, destinations(tmp_path))
    assert made == {"large": (800, 500), "medium": (400, 250), "small": (150, 94)}
    for size, path in destinations(tmp_path).items():
        with Image.open(path) as img:
            assert img.format == "WEBP" and img.size == made[size]


def test_portrait_and_no_upscaling(tmp_path: Path) -> None:
    tall = tmp_path / "tall.png"
    Image.new("RGB", (1000, 1600), RED).save(tall)
    assert make_thumbnails(tall, destinations(tmp_path))["large"] == (500, 800)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (100, 50), RED).save(tiny)
    assert make_thumbnails(tiny, destinations(tmp_path)) == {"large": (100, 50), "medium": (100, 50),
                                                             "small": (100, 50)}


@pytest.mark.parametrize("size", [(1234, 567), (999, 1001), (3000, 7), (801, 800), (1000, 1000)])
def test_sizes_match_pillow_thumbnail(tmp_path: Path, size: tuple[int, int]) -> None:
    src = tmp_path / "odd.png"
    Image.new("L", size, 128).save(src)
    made = make_thumbnails(src, destinations(tmp_path))
    for name, edge in THUMBNAIL_SIZES.items():
        reference = Image.new("L", size)
        reference.thumbnail((edge, edge))
        assert made[name] == reference.size


def test_only_the_requested_sizes_are_made(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (1000, 500), RED).save(src)
    assert make_thumbnails(src, destinations(tmp_path, "small")) == {"small": (150, 75)}
    files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert files == ["a.png", "small.webp"]  # and no temp file left behind
    with pytest.raises(ValueError, match="huge"):
        make_thumbnails(src, {"huge": tmp_path / "x.webp"})


# -- orientation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_applied(tmp_path: Path, fmt: str) -> None:
    raw = Image.new("RGB", (1200, 800), BLUE)
    raw.paste(RED, (0, 0, 300, 300))  # a red top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    src = tmp_path / f"phone.{fmt.lower()}"
    raw.save(src, fmt, exif=exif.tobytes() if fmt != "TIFF" else exif)
    made = make_thumbnails(src, destinations(tmp_path))
    assert made["large"] == (533, 800) and made["small"] == (100, 150)  # width and height swapped
    large = tmp_path / "large.webp"
    # Turned clockwise, the stored top-left corner shows at the top right.
    assert close(pixel(large, (533 - 20, 20))[:3], RED)
    assert close(pixel(large, (20, 20))[:3], BLUE)
    assert close(pixel(tmp_path / "small.webp", (100 - 5, 5))[:3], RED)


# -- pixel modes ---------------------------------------------------------------------------------

def _palette_with_transparency(path: Path) -> None:
    img = Image.new("P", (300, 200), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 150, 200))
    img.save(path, "PNG", transparency=0)


def _rgba(path: Path) -> None:
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 150, 200))
    img.save(path, "PNG")


def _la(path: Path) -> None:
    img = Image.new("LA", (300, 200), (0, 0))
    img.paste((200, 255), (0, 0, 150, 200))
    img.save(path, "PNG")


CASES: dict[str, tuple[Any, tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    # name: (writer, colour at the left, colour at the right)
    "P+transparency": (_palette_with_transparency, (255, 0, 0, 255), (0, 0, 0, 0)),
    "RGBA": (_rgba, (255, 0, 0, 255), (0, 0, 0, 0)),
    "LA": (_la, (200, 200, 200, 255), (0, 0, 0, 0)),
    "CMYK JPEG": (lambda p: Image.new("CMYK", (300, 200), (255, 0, 0, 0)).save(p, "JPEG", quality=95),
                  (0, 255, 255, 255), (0, 255, 255, 255)),
    "I;16 PNG": (lambda p: Image.new("I;16", (300, 200), 32768).save(p, "PNG"),
                 (128, 128, 128, 255), (128, 128, 128, 255)),
    "L": (lambda p: Image.new("L", (300, 200), 90).save(p, "PNG"), (90, 90, 90, 255), (90, 90, 90, 255)),
    "1": (lambda p: Image.new("1", (300, 200), 1).save(p, "PNG"), (255, 255, 255, 255), (255, 255, 255, 255)),
    "F TIFF": (lambda p: Image.new("F", (300, 200), 0.5).save(p, "TIFF"), (128, 128, 128, 255),
               (128, 128, 128, 255)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pixel_modes(tmp_path: Path, case: str) -> None:
    writer, left, right = CASES[case]
    src = tmp_path / "source.img"
    writer(src)
    made = make_thumbnails(src, destinations(tmp_path))
    assert made["large"] == (300, 200) and made["small"] == (150, 100)
    for size in ("large", "small"):
        w, h = made[size]
        got_left, got_right = pixel(tmp_path / f"{size}.webp", (w // 8, h // 2)), \
            pixel(tmp_path / f"{size}.webp", (w - w // 8, h // 2))
        assert got_left[3] == left[3] and got_right[3] == right[3], (size, got_left, got_right)
        if left[3]:
            assert close(got_left[:3], left[:3], 12), (size, got_left)
        if right[3]:
            assert close(got_right[:3], right[:3], 12), (size, got_right)


def test_transparency_survives_as_alpha(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    _rgba(src)
    make_thumbnails(src, destinations(tmp_path, "large"))
    with Image.open(tmp_path / "large.webp") as img:
        assert img.mode == "RGBA"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_first_frame_of_an_animation(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / f"anim.{fmt.lower()}"
    frames = [Image.new("RGB", (200, 100), RED), Image.new("RGB", (200, 100), BLUE)]
    frames[0].save(src, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    make_thumbnails(src, destinations(tmp_path))
    assert close(pixel(tmp_path / "large.webp", (100, 50))[:3], RED)
    assert close(pixel(tmp_path / "small.webp", (75, 37))[:3], RED)


def test_thumbnails_are_readable_by_qt(tmp_path: Path) -> None:
    qtgui = pytest.importorskip("PyQt6.QtGui")
    src = tmp_path / "a.png"
    _rgba(src)
    make_thumbnails(src, destinations(tmp_path))
    image = qtgui.QImage(str(tmp_path / "medium.webp"))
    assert not image.isNull() and (image.width(), image.height()) == (300, 200)
    assert image.hasAlphaChannel()


# -- one cheap decode ----------------------------------------------------------------------------

def test_jpeg_is_decoded_at_reduced_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "photo.jpg"
    Image.new("RGB", (3200, 2400), RED).save(src, "JPEG")
    decoded: list[tuple[int, int]] = []
    real_draft, real_load = JpegImagePlugin.JpegImageFile.draft, JpegImagePlugin.JpegImageFile.load

    def spy_draft(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        return real_draft(self, mode, size)

    def spy_load(self: JpegImagePlugin.JpegImageFile) -> Any:
        result = real_load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy_draft)
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy_load)
    assert make_thumbnails(src, destinations(tmp_path))["large"] == (800, 600)
    # libjpeg decoded a quarter of each edge: 1/16 of the pixels, once for all three sizes.
    assert decoded and set(decoded) == {(800, 600)}


def test_other_formats_are_decoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "big.png"
    Image.new("RGB", (2400, 1600), RED).save(src)
    opened: list[str] = []
    real_open = Image.open

    def spy_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", spy_open)
    make_thumbnails(src, destinations(tmp_path))
    assert opened == [str(src)]


# -- errors --------------------------------------------------------------------------------------

def test_videos_and_junk_raise_thumbnail_errors(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(ThumbnailError, match=r"clip\.mp4: cannot be read as a video"):
        make_thumbnails(video, destinations(tmp_path))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"<html></html>")
    with pytest.raises(ThumbnailError, match=r"junk\.png: cannot be read as an image"):
        make_thumbnails(junk, destinations(tmp_path))
    with pytest.raises(ThumbnailError, match=r"gone\.png: file not found"):
        make_thumbnails(tmp_path / "gone.png", destinations(tmp_path))
    assert not any(p.suffix == ".webp" for p in tmp_path.iterdir())


def test_a_video_is_thumbnailed_from_a_poster_frame_a_tenth_in(tmp_path: Path) -> None:
    from tests.support.videos import frame_colour, make_video

    clip = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=12, size=(320, 180))
    made = make_thumbnails(clip, destinations(tmp_path))
    assert made == {"large": (320, 180), "medium": (320, 180), "small": (150, 84)}
    # 0.2 s in (a tenth of 2 s): frame 3 at 12 fps, not the first frame, which is often black
    assert close(pixel(tmp_path / "large.webp", (160, 90)), (*frame_colour(3), 255), tolerance=24)


def test_thumbnail_path_refuses_unsafe_ids(tmp_path: Path) -> None:
    assert thumbnail_path(tmp_path, "small", "abc") == tmp_path / "thumbnails" / "small" / "abc.webp"
    for bad in ("", "..", "../x", "a/b", "a\\b"):
        with pytest.raises(ValueError, match="product id"):
            thumbnail_path(tmp_path, "small", bad)
    with pytest.raises(ValueError, match="unknown thumbnail size"):
        thumbnail_path(tmp_path, "huge", "abc")


# -- the on-disk cache ---------------------------------------------------------------------------

def test_ensure_thumbnails_makes_only_what_is_missing(library_home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (1000, 600), RED).save(src)
    old = time.time() - 60
    os.utime(src, (old, old))
    paths = ensure_thumbnails(library_home, "p1", src)
    assert set(paths) == set(THUMBNAIL_SIZES) and all(p.is_file() for p in paths.values())
    assert paths["medium"] == library_home / "thumbnails" / "medium" / "p1.webp"
    stamps = {size: p.stat().st_mtime_ns for size, p in paths.items()}

    calls: list[set[str]] = []
    real_make = thumbnails.make_thumbnails

    def spy(source: Path, dests: dict[str, Path]) -> dict[str, tuple[int, int]]:
        calls.append(set(dests))
        return real_make(source, dests)

    monkeypatch.setattr(thumbnails, "make_thumbnails", spy)
    assert ensure_thumbnails(library_home, "p1", src) == paths
    assert calls == [] and {s: p.stat().st_mtime_ns for s, p in paths.items()} == stamps

    paths["small"].unlink()
    ensure_thumbnails(library_home, "p1", src)
    assert calls == [{"small"}]

    os.utime(src, None)  # the source changed after its thumbnails were made
    future = time.time() + 5
    os.utime(src, (future, future))
    ensure_thumbnails(library_home, "p1", src)
    assert calls[-1] == set(THUMBNAIL_SIZES)


def test_delete_thumbnails(library_home: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (500, 300), RED).save(src)
    paths = ensure_thumbnails(library_home, "p2", src)
    delete_thumbnails(library_home, "p2")
    assert not any(p.exists() for p in paths.values())
    delete_thumbnails(library_home, "p2")  # nothing left: fine
