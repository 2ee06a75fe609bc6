"""Library storage: only real media gets in, writes are atomic, paths stay inside the root."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import struct
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from artfactory.services.storage import (
    LibraryStorage,
    StorageError,
    sanitize_name,
    sha256_file,
)

CREATED = datetime(2026, 11, 3, 12, 0)


@pytest.fixture
def storage(library_home: Path) -> LibraryStorage:
    s = LibraryStorage(library_home, max_bytes=5 * 1024 * 1024)
    s.ensure_layout()
    return s


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), colour: object = (200, 30, 30),
                mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, fmt, **save)  # type: ignore[arg-type]
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- minimal video containers --------------------------------------------------------------------

def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(brand: bytes = b"isom", *, width: int = 1920, height: int = 1080, seconds: float = 2.5,
              rotated: bool = False, with_moov: bool = True, truncate_mdat: bool = False) -> bytes:
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0x200) + brand + b"mp41")
    mvhd = box(b"mvhd", struct.pack(">4xIIII", 0, 0, 1000, int(seconds * 1000)) + bytes(80))
    matrix = (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000) if rotated else \
        (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = box(b"tkhd", bytes(4) + bytes(20) + bytes(8) + bytes(8) + struct.pack(">9i", *matrix)
               + struct.pack(">II", width << 16, height << 16))
    moov = box(b"moov", mvhd + box(b"trak", tkhd)) if with_moov else b""
    mdat = box(b"mdat", bytes(64))
    if truncate_mdat:
        mdat = struct.pack(">I", 10_000) + b"mdat" + bytes(64)
    return ftyp + moov + mdat


def ebml(element_id: bytes, payload: bytes) -> bytes:
    return element_id + b"\x01" + len(payload).to_bytes(7, "big") + payload


def webm_bytes(doctype: bytes = b"webm", *, truncated: bool = False) -> bytes:
    header = ebml(b"\x1a\x45\xdf\xa3", ebml(b"\x42\x86", b"\x01") + ebml(b"\x42\x82", doctype)
                  + ebml(b"\x42\x87", b"\x02") + ebml(b"\x42\x85", b"\x02"))
    info = ebml(b"\x15\x49\xa9\x66", ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))
                + ebml(b"\x44\x89", struct.pack(">d", 4000.0)))
    video = ebml(b"\xe0", ebml(b"\xb0", (640).to_bytes(2, "big")) + ebml(b"\xba", (360).to_bytes(2, "big")))
    tracks = ebml(b"\x16\x54\xae\x6b", ebml(b"\xae", ebml(b"\xd7", b"\x01") + ebml(b"\x83", b"\x01") + video))
    cluster = ebml(b"\x1f\x43\xb6\x75", ebml(b"\xe7", b"\x00") + bytes(32))
    segment = ebml(b"\x18\x53\x80\x67", info + tracks + cluster)
    data = header + segment
    return data[:-20] if truncated else data


# -- layout and paths ----------------------------------------------------------------------------

def test_ensure_layout_creates_every_folder(library_home: Path) -> None:
    LibraryStorage(library_home).ensure_layout()
    for rel in ("products", "temp", "exports", "thumbnails/small", "thumbnails/medium", "thumbnails/large"):
        assert (library_home / rel).is_dir()


@pytest.mark.parametrize("bad", ["../x", "products/../../x", "/etc/passwd"])
def test_paths_outside_the_root_are_refused(storage: LibraryStorage, bad: str) -> None:
    with pytest.raises(StorageError, match="outside the library"):
        storage.resolve_inside(bad)


def test_symlink_pointing_outside_is_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (storage.root / "products" / "link").symlink_to(outside)
    with pytest.raises(StorageError, match="outside"):
        storage.absolute("products/link/secret.png")
    with pytest.raises(StorageError):
        storage.delete_file("products/link/secret.png")
    assert (outside / "secret.png").exists()


def test_inside_paths_resolve(storage: LibraryStorage) -> None:
    assert storage.resolve_inside("products/../temp/a") == storage.temp_dir / "a"
    assert storage.absolute("products/1/x.png") == storage.root / "products" / "1" / "x.png"


def test_temp_paths_are_unique_and_inside(storage: LibraryStorage) -> None:
    a, b = storage.temp_path(".png"), storage.temp_path(".png")
    assert a != b and a.parent == storage.temp_dir and a.suffix == ".png" and not a.exists()


@pytest.mark.parametrize(("name", "expected"), [
    ("normal-name_1", "normal-name_1"),
    ("a/b\\c:d", "a_b_c_d"),
    ("a\x00b\nc", "a_b_c"),
    ("  hello world  ", "hello world"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("lpt9", "_lpt9"),
    ("", "file"),
    ("...", "file"),
    ("café ☕", "café ☕"),
])
def test_sanitize_name(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_sanitize_name_never_allows_traversal_or_long_names() -> None:
    cleaned = sanitize_name("../../etc/passwd")
    assert "/" not in cleaned and ".." not in cleaned and cleaned
    long = sanitize_name("é" * 500)
    assert len(long) <= 120 and len(long.encode()) <= 200
    assert len(sanitize_name("x" * 50, max_length=10)) == 10


# -- inspect: only real media --------------------------------------------------------------------

def test_html_renamed_png_is_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    fake = write(tmp_path / "photo.png", b"<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(StorageError, match=r"photo\.png: not an image or video of an allowed type \(HTML"):
        storage.inspect(fake)


def test_random_bytes_are_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    fake = write(tmp_path / "noise.jpg", os.urandom(4096))
    with pytest.raises(StorageError, match=r"noise\.jpg: not an image or video"):
        storage.inspect(fake)


def test_disallowed_image_type_is_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    bmp = write(tmp_path / "old.bmp", image_bytes("BMP"))
    with pytest.raises(StorageError, match=r"old\.bmp: .*BMP image"):
        storage.inspect(bmp)


def test_empty_missing_and_folder_are_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"empty\.png: empty file"):
        storage.inspect(write(tmp_path / "empty.png", b""))
    with pytest.raises(StorageError, match=r"gone\.png: file not found"):
        storage.inspect(tmp_path / "gone.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(StorageError, match=r"dir\.png: is a folder"):
        storage.inspect(tmp_path / "dir.png")


def test_unreadable_file_is_refused(storage: LibraryStorage, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "locked.png", image_bytes())

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("artfactory.services.storage.open", denied, raising=False)
    with pytest.raises(StorageError, match=r"locked\.png: cannot be read \(permission denied\)"):
        storage.inspect(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(storage: LibraryStorage, tmp_path: Path, fmt: str) -> None:
    data = io.BytesIO()
    # Detailed content so the pixel data is most of the file, and cutting it loses pixels.
    Image.effect_noise((256, 256), 60).convert("RGB").save(data, fmt)
    path = write(tmp_path / f"cut.{fmt.lower()}", data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(StorageError, match=rf"cut\.{fmt.lower()}: damaged or truncated {fmt}"):
        storage.inspect(path)


def test_oversize_file_is_refused(library_home: Path, tmp_path: Path) -> None:
    small = LibraryStorage(library_home, max_bytes=1000)
    big = write(tmp_path / "big.png", image_bytes(size=(64, 64), colour=None, mode="RGB") + bytes(2000))
    with pytest.raises(StorageError, match=r"big\.png: too large"):
        small.inspect(big)
    with pytest.raises(StorageError, match="too large"):
        small.store_bytes(bytes(5000), project_id=1, product_id="p")
    assert all_files(small.root) == []


def test_decompression_bomb_is_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    storage.max_pixels = 1000
    path = write(tmp_path / "bomb.png", image_bytes(size=(100, 100)))
    with pytest.raises(StorageError, match=r"bomb\.png: .*decompression bomb"):
        storage.inspect(path)


def test_images_are_described(storage: LibraryStorage, tmp_path: Path) -> None:
    info = storage.inspect(write(tmp_path / "a.webp", image_bytes("WEBP", size=(30, 20))))
    assert (info.media_type, info.mime, info.ext) == ("image", "image/webp", "webp")
    assert (info.width, info.height, info.duration) == (30, 20, None)
    assert storage.inspect(write(tmp_path / "b", image_bytes("JPEG"))).ext == "jpg"
    assert storage.inspect(write(tmp_path / "c", image_bytes("TIFF"))).mime == "image/tiff"
    assert storage.inspect(write(tmp_path / "d", image_bytes("GIF", mode="P", colour=1))).ext == "gif"


def test_exif_rotated_size_is_the_displayed_size(storage: LibraryStorage, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write(tmp_path / "phone.jpg", image_bytes("JPEG", size=(300, 200), exif=exif.tobytes()))
    info = storage.inspect(path)
    assert (info.width, info.height) == (200, 300)


def test_mp4_mov_and_webm_are_accepted(storage: LibraryStorage, tmp_path: Path) -> None:
    mp4 = storage.inspect(write(tmp_path / "clip.mp4", mp4_bytes()))
    assert (mp4.media_type, mp4.mime, mp4.ext) == ("video", "video/mp4", "mp4")
    assert (mp4.width, mp4.height, mp4.duration) == (1920, 1080, 2.5)
    mov = storage.inspect(write(tmp_path / "clip.mov", mp4_bytes(b"qt  ")))
    assert (mov.mime, mov.ext) == ("video/quicktime", "mov")
    # Old QuickTime files start straight with an atom, no ftyp.
    legacy = storage.inspect(write(tmp_path / "old.mov", box(b"mdat", bytes(32)) + mp4_bytes()[24:-72]))
    assert legacy.ext == "mov"
    portrait = storage.inspect(write(tmp_path / "phone.mp4", mp4_bytes(rotated=True)))
    assert (portrait.width, portrait.height) == (1080, 1920)
    webm = storage.inspect(write(tmp_path / "clip.webm", webm_bytes()))
    assert (webm.mime, webm.ext) == ("video/webm", "webm")
    assert (webm.width, webm.height, webm.duration) == (640, 360, 4.0)


def test_broken_or_foreign_videos_are_refused(storage: LibraryStorage, tmp_path: Path) -> None:
    cases = {
        "cut.mp4": (mp4_bytes(truncate_mdat=True), "truncated MP4"),
        "nomoov.mp4": (mp4_bytes(with_moov=False), "no 'moov'"),
        "still.avif": (mp4_bytes(b"avif"), "AVIF image"),
        "film.mkv": (webm_bytes(b"matroska"), "matroska video; only WebM"),
        "cut.webm": (webm_bytes(truncated=True), "truncated WebM"),
    }
    for name, (data, reason) in cases.items():
        with pytest.raises(StorageError, match=rf"{name.replace('.', '[.]')}: .*{reason}"):
            storage.inspect(write(tmp_path / name, data))


# -- store ---------------------------------------------------------------------------------------

def test_store_copies_into_the_layout(storage: LibraryStorage, tmp_path: Path) -> None:
    data = image_bytes()
    src = write(tmp_path / "in.png", data)
    stored = storage.store(src, project_id=7, product_id="prod1", created=CREATED)
    sha = hashlib.sha256(data).hexdigest()
    assert stored.relative_path == f"products/7/2026/11/prod1_{sha[:8]}.png"
    assert stored.sha256 == sha == sha256_file(src)
    assert (stored.size_bytes, stored.deduplicated, stored.info.ext) == (len(data), False, "png")
    assert storage.absolute(stored.relative_path).read_bytes() == data
    assert src.exists()  # a copy, not a move
    assert all_files(storage.temp_dir) == []


def test_store_move_takes_the_source(storage: LibraryStorage, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jpg", image_bytes("JPEG"))
    stored = storage.store(src, project_id=1, product_id="p", move=True, created=CREATED)
    assert not src.exists() and stored.relative_path.endswith(".jpg")
    assert all_files(storage.temp_dir) == []


def test_store_sanitizes_the_product_id(storage: LibraryStorage, tmp_path: Path) -> None:
    stored = storage.store(write(tmp_path / "a.png", image_bytes()), project_id=1, product_id="../../evil",
                           created=CREATED)
    assert stored.relative_path.startswith("products/1/2026/11/") and ".." not in stored.relative_path


def test_crash_before_the_final_rename_leaves_no_file(storage: LibraryStorage, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = write(tmp_path / "photo.png", image_bytes())
    synced: list[int] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    def crash(a: object, b: object) -> None:
        if Path(str(b)).is_relative_to(storage.products_dir):
            raise OSError(errno.EIO, "Input/output error")
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError, match=r"photo\.png: could not write products/1/2026/11/p_.*Input/outp"):
        storage.store(src, project_id=1, product_id="p", created=CREATED)
    assert synced, "the staged copy must be fsynced before it is renamed into place"
    assert all_files(storage.products_dir) == [] and all_files(storage.temp_dir) == []
    assert src.exists()


def test_crash_during_a_move_gives_the_source_back(storage: LibraryStorage, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = image_bytes()
    src = write(tmp_path / "photo.png", data)
    real_replace = os.replace

    def crash(a: object, b: object) -> None:
        if Path(str(b)).is_relative_to(storage.products_dir):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError, match=r"photo\.png: disk full while writing products/"):
        storage.store(src, project_id=1, product_id="p", move=True, created=CREATED)
    assert src.read_bytes() == data
    assert all_files(storage.products_dir) == [] and all_files(storage.temp_dir) == []


def test_disk_full_midway_through_the_copy(storage: LibraryStorage, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = write(tmp_path / "big.png", image_bytes(size=(400, 400), colour=None))

    def half_then_full(fsrc: io.BufferedReader, fdst: io.BufferedWriter, length: int = 0) -> None:
        fdst.write(fsrc.read(100))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", half_then_full)
    with pytest.raises(StorageError, match=r"big\.png: disk full while writing"):
        storage.store(src, project_id=1, product_id="p")
    assert all_files(storage.root) == []


def test_same_bytes_twice_are_stored_once(storage: LibraryStorage, tmp_path: Path) -> None:
    src = write(tmp_path / "a.png", image_bytes())
    known: dict[str, str] = {}
    first = storage.store(src, project_id=1, product_id="a", find_existing=known.get, created=CREATED)
    known[first.sha256] = first.relative_path
    second = storage.store(src, project_id=1, product_id="b", find_existing=known.get, created=CREATED)
    assert second.deduplicated and not first.deduplicated
    assert second.relative_path == first.relative_path
    assert len(all_files(storage.products_dir)) == 1
    # The lookup is per project (the caller scopes it): another project gets its own file.
    other = storage.store(src, project_id=2, product_id="c", find_existing=lambda sha: None, created=CREATED)
    assert not other.deduplicated and other.relative_path.startswith("products/2/")
    assert len(all_files(storage.products_dir)) == 2


def test_dedupe_with_move_removes_the_source(storage: LibraryStorage, tmp_path: Path) -> None:
    data = image_bytes()
    first = storage.store(write(tmp_path / "a.png", data), project_id=1, product_id="a")
    src = write(tmp_path / "again.png", data)
    again = storage.store(src, project_id=1, product_id="b", move=True,
                          find_existing=lambda sha: first.relative_path)
    assert again.deduplicated and not src.exists()
    assert all_files(storage.temp_dir) == [] and len(all_files(storage.products_dir)) == 1


def test_a_stale_dedupe_record_is_not_trusted(storage: LibraryStorage, tmp_path: Path) -> None:
    src = write(tmp_path / "a.png", image_bytes())
    for n, record in enumerate(("products/1/missing.png", "../outside.png")):
        stored = storage.store(src, project_id=n, product_id="a", find_existing=lambda sha, r=record: r)
        assert not stored.deduplicated and storage.absolute(stored.relative_path).is_file()


def test_a_different_file_is_never_overwritten(storage: LibraryStorage, tmp_path: Path) -> None:
    data = image_bytes()
    sha8 = hashlib.sha256(data).hexdigest()[:8]
    squatter = write(storage.products_dir / "1" / "2026" / "11" / f"p_{sha8}.png", b"other bytes")
    stored = storage.store(write(tmp_path / "a.png", data), project_id=1, product_id="p", created=CREATED)
    assert stored.relative_path == f"products/1/2026/11/p_{sha8}-2.png"
    assert squatter.read_bytes() == b"other bytes"
    # Storing the very same product again finds it in place instead of writing a third file.
    again = storage.store(write(tmp_path / "b.png", data), project_id=1, product_id="p", created=CREATED)
    assert again.deduplicated and again.relative_path == stored.relative_path


def test_impostor_store_leaves_nothing(storage: LibraryStorage, tmp_path: Path) -> None:
    src = write(tmp_path / "photo.png", b"<html>500 Internal Server Error</html>")
    with pytest.raises(StorageError, match="HTML"):
        storage.store(src, project_id=1, product_id="p", move=True)
    assert src.exists(), "a refused file is left for the caller to deal with"
    assert all_files(storage.root) == []


def test_store_bytes(storage: LibraryStorage) -> None:
    stored = storage.store_bytes(mp4_bytes(), project_id=3, product_id="v", created=CREATED)
    assert stored.relative_path.endswith(".mp4") and stored.info.media_type == "video"
    with pytest.raises(StorageError, match=r"^output\.png: not an image"):
        storage.store_bytes(b'{"error": "rate limited"}', project_id=3, product_id="x",
                            display_name="output.png")
    assert all_files(storage.temp_dir) == []


# -- store_image ---------------------------------------------------------------------------------

def test_store_image_png_keeps_text_chunks(storage: LibraryStorage) -> None:
    image = Image.new("RGB", (32, 32), (1, 2, 3))
    stored = storage.store_image(image, pnginfo={"prompt": "a snowman ☃", "seed": "42"}, project_id=1,
                                 product_id="p")
    with Image.open(storage.absolute(stored.relative_path)) as img:
        assert img.format == "PNG"
        assert img.text == {"prompt": "a snowman ☃", "seed": "42"}  # type: ignore[attr-defined]


def test_store_image_rgba_to_jpeg_goes_onto_white(storage: LibraryStorage) -> None:
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 16, 32))
    stored = storage.store_image(image, format="jpeg", quality=95, project_id=1, product_id="p")
    assert stored.info.mime == "image/jpeg" and stored.relative_path.endswith(".jpg")
    with Image.open(storage.absolute(stored.relative_path)) as img:
        assert img.mode == "RGB"
        assert min(img.getpixel((28, 16))) > 240  # was transparent: white, not black  # type: ignore[arg-type]
        r, g, b = img.getpixel((4, 16))  # type: ignore[misc]
        assert r > 230 and g < 30 and b < 30


def test_store_image_webp_keeps_alpha(storage: LibraryStorage) -> None:
    image = Image.new("RGBA", (32, 32), (0, 0, 255, 0))
    image.paste((0, 0, 255, 255), (0, 0, 16, 32))
    stored = storage.store_image(image, format="webp", project_id=1, product_id="p")
    with Image.open(storage.absolute(stored.relative_path)) as img:
        assert img.format == "WEBP" and img.mode == "RGBA"
        assert img.getpixel((28, 16))[3] == 0 and img.getpixel((4, 16))[3] == 255  # type: ignore[index]


def test_store_image_16_bit_to_jpeg_is_scaled_not_clipped(storage: LibraryStorage) -> None:
    grey16 = Image.new("I;16", (16, 16), 32768)
    stored = storage.store_image(grey16, format="jpeg", project_id=1, product_id="p")
    with Image.open(storage.absolute(stored.relative_path)) as img:
        assert 120 <= img.getpixel((8, 8)) <= 136  # type: ignore[operator]


def test_store_image_unknown_format(storage: LibraryStorage) -> None:
    with pytest.raises(StorageError, match="cannot encode images as 'bmp'"):
        storage.store_image(Image.new("RGB", (4, 4)), format="bmp", project_id=1, product_id="p")


# -- other writes --------------------------------------------------------------------------------

def test_write_atomic(storage: LibraryStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    target = storage.exports_dir / "manifest.json"
    storage.write_atomic(target, b"one")
    assert target.read_bytes() == b"one"

    def crash(a: object, b: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError, match=r"manifest\.json: disk full while writing exports/manifest\.json"):
        storage.write_atomic(target, b"two")
    assert target.read_bytes() == b"one" and all_files(storage.temp_dir) == []
    with pytest.raises(StorageError, match="outside"):
        storage.write_atomic(storage.root / ".." / "escape.txt", b"x")


def test_delete_file(storage: LibraryStorage, tmp_path: Path) -> None:
    stored = storage.store(write(tmp_path / "a.png", image_bytes()), project_id=1, product_id="p")
    storage.delete_file(stored.relative_path)
    assert not storage.absolute(stored.relative_path).exists()
    storage.delete_file(stored.relative_path)  # already gone: fine
    with pytest.raises(StorageError, match="outside"):
        storage.delete_file("../a.png")
