"""Library file storage: only real media gets in, every write is atomic, every path stays inside the root."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import shutil
import struct
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from artfactory.engine.ports import ProductStorageError
from artfactory.files import FileRefused, check_regular
from artfactory.lazy import lazy_module
from artfactory.services.thumbnails import to_display_mode

if TYPE_CHECKING:
    from PIL import Image, PngImagePlugin
else:  # Pillow is imported when a file is checked or written: opening a library or a cached run needs none.
    Image = lazy_module("PIL.Image")
    PngImagePlugin = lazy_module("PIL.PngImagePlugin")

# Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS), known without importing Pillow.
PIXEL_LIMIT = 89_478_485


class StorageError(ProductStorageError):
    """A file could not be accepted, read or written; the message names the file and the reason."""


ALLOWED_IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "TIFF"}

# Pillow reports multi-picture JPEGs (phone cameras) as MPO; to the user they are ordinary JPEGs.
_FORMAT_ALIASES = {"MPO": "JPEG"}
_IMAGE_EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "TIFF": "tif"}
_IMAGE_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
               "TIFF": "image/tiff"}
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class MediaInfo:
    """What a file really is, judged from its bytes. Width and height are as displayed (EXIF-rotated)."""

    media_type: str
    mime: str
    ext: str
    width: int | None
    height: int | None
    duration: float | None = None


@dataclass(frozen=True)
class StoredFile:
    """A file now in the library; `deduplicated` means identical bytes were already there."""

    relative_path: str
    sha256: str
    size_bytes: int
    info: MediaInfo
    deduplicated: bool


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks so large videos do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                     *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def sanitize_name(name: str, max_length: int = 120) -> str:
    """A file-name stem that is safe on every platform: no separators, no '..', no control
    characters, no reserved Windows device name, never empty."""
    text = unicodedata.normalize("NFC", str(name))
    text = _UNSAFE_CHARS.sub("_", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"\s+", " ", text)
    # Leading dots hide files; trailing dots and spaces are silently dropped by Windows.
    text = text.strip(" ._")
    # Windows refuses device names even with an extension ("con.txt"); the check is case-insensitive.
    if text.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        text = "_" + text
    text = text[:max(1, max_length)]
    # Stay well under the 255-byte limit most filesystems put on one path component.
    while len(text.encode("utf-8")) > 200:
        text = text[:-1]
    text = text.rstrip(" .")
    return text or "file"


class LibraryStorage:
    """The library root's folders and the one way files get into them."""

    def __init__(self, root: Path, max_bytes: int = 512 * 1024 * 1024, products_dir: Path | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.max_bytes = max_bytes
        # Same idea as Pillow's decompression-bomb guard: a few KB of PNG can claim gigapixels.
        self.max_pixels: int = PIXEL_LIMIT
        # The products folder may live elsewhere (a team's shared folder, `library relocate`): rows keep saying
        # products/…, and that prefix means this folder, wherever it is mounted on this machine.
        self.products_dir = Path(products_dir).expanduser().resolve() if products_dir else self.root / "products"
        self.thumbnails_dir = self.root / "thumbnails"
        self.temp_dir = self.root / "temp"
        self.exports_dir = self.root / "exports"

    # -- layout and paths -------------------------------------------------------------------------

    def ensure_layout(self) -> None:
        for folder in (self.products_dir, self.temp_dir, self.exports_dir,
                       *(self.thumbnails_dir / size for size in ("small", "medium", "large"))):
            folder.mkdir(parents=True, exist_ok=True)

    def location(self, relative_path: str | Path) -> Path:
        """Where a library path (as rows store it: products/…, thumbnails/…) is on this machine, unresolved."""
        candidate = Path(relative_path).expanduser()
        if candidate.is_absolute():
            return candidate
        if candidate.parts[:1] == ("products",):
            return self.products_dir.joinpath(*candidate.parts[1:])
        return self.root / candidate

    def resolve_inside(self, path: str | Path) -> Path:
        # resolve() follows symlinks, so a link inside the root that points out is caught too.
        resolved = self.location(path).resolve()
        if not (resolved.is_relative_to(self.root) or resolved.is_relative_to(self.products_dir)):
            raise StorageError(f"{path}: outside the library folder {self.root}")
        return resolved

    def absolute(self, relative_path: str) -> Path:
        return self.resolve_inside(relative_path)

    def temp_path(self, suffix: str = "") -> Path:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        return self.temp_dir / f"{uuid.uuid4().hex}{suffix}"

    # -- validation -------------------------------------------------------------------------------

    def _check_file(self, path: Path, name: str) -> int:
        """Size of a regular, non-empty file under the limit; StorageError otherwise."""
        try:
            size = check_regular(path, self.max_bytes)  # never a FIFO or device: reading one blocks or never ends
        except FileRefused as exc:
            raise StorageError(f"{name}: {exc.reason}") from None
        if size == 0:
            raise StorageError(f"{name}: empty file")
        return size

    def inspect(self, path: Path, display_name: str | None = None) -> MediaInfo:
        """What the file really is; StorageError unless it is an allowed image or video that decodes."""
        path = Path(path)
        name = display_name or path.name
        size = self._check_file(path, name)
        try:
            with open(path, "rb") as fh:
                head = fh.read(512)
                video = _sniff_video(fh, head, size, name)
                if video is not None:
                    return video
                fh.seek(0)
                return self._inspect_image(fh, head, name)
        except PermissionError:
            raise StorageError(f"{name}: cannot be read (permission denied)") from None
        except OSError as exc:
            raise StorageError(f"{name}: cannot be read ({exc.strerror or exc})") from None

    def _inspect_image(self, fh: BinaryIO, head: bytes, name: str) -> MediaInfo:
        try:
            img = Image.open(fh, formats=sorted(ALLOWED_IMAGE_FORMATS))
        except Image.DecompressionBombError:
            raise StorageError(f"{name}: image too large to open safely (a decompression bomb?)") from None
        except Image.UnidentifiedImageError:
            kind = _describe(head)
            raise StorageError(f"{name}: not an image or video of an allowed type ({kind})") from None
        except Exception as exc:  # Pillow raises many types on malformed headers
            raise StorageError(f"{name}: damaged image header ({exc})") from None
        with img:
            fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "")
            if fmt not in ALLOWED_IMAGE_FORMATS:
                raise StorageError(f"{name}: {fmt or 'unknown'} images are not an allowed type")
            width, height = img.size
            if width * height > self.max_pixels:
                raise StorageError(f"{name}: image too large to open safely ({width}×{height} pixels, "
                                   f"limit {self.max_pixels:,}; possible decompression bomb)")
            try:
                img.load()  # full decode of the (first) frame: catches truncated and corrupt data
                orientation = img.getexif().get(0x0112, 1)
            except Exception as exc:  # any decoder failure means a damaged file
                raise StorageError(f"{name}: damaged or truncated {fmt} image ({exc})") from None
        if orientation in (5, 6, 7, 8):  # rotated a quarter turn on display
            width, height = height, width
        return MediaInfo("image", _IMAGE_MIME[fmt], _IMAGE_EXT[fmt], width, height)

    # -- writing ----------------------------------------------------------------------------------

    def store(self, source: Path, *, project_id: int, product_id: str, created: datetime | None = None,
              move: bool = False, find_existing: Callable[[str], str | None] | None = None,
              display_name: str | None = None) -> StoredFile:
        """Validate `source` and place it at products/{project}/{yyyy}/{mm}/{product}_{sha8}.{ext}.

        The bytes are staged in temp/ and validated there, so what lands in the library is exactly
        what was checked even if the source changes meanwhile; the final path only ever appears
        by an atomic rename of a complete, fsynced file."""
        source = Path(source)
        name = display_name or source.name
        self._check_file(source, name)  # fail fast, before copying anything
        staged = self.temp_path(".stage")
        renamed = False
        target = "temp/"
        try:
            digest: str | None = None
            # A rename would move a symlink itself (still pointing outside the library): copy those.
            if move and not source.is_symlink():
                try:
                    os.replace(source, staged)
                    renamed = True
                except OSError as exc:
                    if exc.errno != errno.EXDEV:  # EXDEV: another filesystem, so copy instead
                        raise
            if renamed:
                _fsync_file(staged)
            else:
                digest = _copy_hashing(source, staged)

            size = staged.stat().st_size
            info = self.inspect(staged, display_name=name)
            digest = digest or sha256_file(staged)
            final, written = self._place(staged, digest=digest, size=size, info=info, project_id=project_id,
                                         product_id=product_id, created=created, find_existing=find_existing,
                                         name=name)
            target = self._relative(final)
        except BaseException as exc:
            self._unstage(staged, source if renamed else None)
            if isinstance(exc, OSError):
                raise _io_error(name, target, exc) from None
            raise

        if not written:
            staged.unlink(missing_ok=True)
        if move and not renamed:
            source.unlink(missing_ok=True)
        return StoredFile(self._relative(final), digest, size, info, deduplicated=not written)

    def _place(self, staged: Path, *, digest: str, size: int, info: MediaInfo, project_id: int, product_id: str,
               created: datetime | None, find_existing: Callable[[str], str | None] | None,
               name: str) -> tuple[Path, bool]:
        """Rename a checked, fsynced staged file into place (or find its duplicate): (final path, written)."""
        existing = self._find_duplicate(digest, size, find_existing)
        if existing is not None:
            return existing, False
        folder = self.products_dir / str(int(project_id)) / f"{created or datetime.now():%Y/%m}"
        final, same_bytes = self._free_name(folder, sanitize_name(product_id), digest, info.ext, size)
        if same_bytes:  # same bytes: this very product was stored before
            return final, False
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # mtime = when placed, not the source's (a download renamed in keeps its own): the sweep tells a
            # file whose row is about to be committed from a crash leftover by this (services/sweep.py).
            os.utime(staged)
            try:
                os.replace(staged, final)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                _replace_across(staged, final)  # a products folder on another filesystem (a shared folder)
            _fsync_dir(folder)
        except OSError as exc:
            raise _io_error(name, self._relative(final), exc) from None
        return final, True

    def _unstage(self, staged: Path, restore_to: Path | None) -> None:
        """Undo staging after a failure: give a moved source back, or drop the partial copy."""
        if restore_to is not None:
            try:
                os.replace(staged, restore_to)
                return
            except OSError:
                pass
        staged.unlink(missing_ok=True)

    def _find_duplicate(self, digest: str, size: int,
                        find_existing: Callable[[str], str | None] | None) -> Path | None:
        if find_existing is None:
            return None
        known = find_existing(digest)
        if not known:
            return None
        try:
            path = self.resolve_inside(known)
        except StorageError:
            return None  # a stale or hostile record: write a fresh copy instead of trusting it
        try:
            # The size check is a cheap guard against a record whose file was replaced.
            return path if path.is_file() and path.stat().st_size == size else None
        except OSError:
            return None

    def _free_name(self, folder: Path, stem: str, digest: str, ext: str, size: int) -> tuple[Path, bool]:
        """The target path and whether it already holds these bytes. A file there with other bytes
        is never overwritten: the new one gets a -2, -3 … suffix."""
        n = 1
        while True:
            candidate = folder / (f"{stem}_{digest[:8]}" + (f"-{n}" if n > 1 else "") + f".{ext}")
            if not candidate.exists():
                return candidate, False
            try:
                if candidate.stat().st_size == size and sha256_file(candidate) == digest:
                    return candidate, True
            except OSError:
                pass
            n += 1

    def _relative(self, path: Path) -> str:
        return self.library_path(path)

    def library_path(self, path: Path) -> str:
        """The path rows store for a file in the library (the inverse of location)."""
        if self.products_dir != self.root / "products" and Path(path).is_relative_to(self.products_dir):
            return "products/" + Path(path).relative_to(self.products_dir).as_posix()
        return Path(path).relative_to(self.root).as_posix()

    def store_bytes(self, data: bytes, *, project_id: int, product_id: str, created: datetime | None = None,
                    find_existing: Callable[[str], str | None] | None = None,
                    display_name: str | None = None) -> StoredFile:
        """store() for bytes in memory (a download, a provider response)."""
        name = display_name or "downloaded file"
        if len(data) > self.max_bytes:
            raise StorageError(f"{name}: too large ({_mb(len(data))}; the limit is {_mb(self.max_bytes)})")
        tmp = self.temp_path(".bytes")
        try:
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
            except OSError as exc:
                raise _io_error(name, "temp/", exc) from None
            return self.store(tmp, project_id=project_id, product_id=product_id, created=created, move=True,
                              find_existing=find_existing, display_name=name)
        finally:
            tmp.unlink(missing_ok=True)

    def store_image(self, image: Image.Image, *, format: str = "png", quality: int = 95,
                    pnginfo: dict[str, str] | None = None, project_id: int, product_id: str,
                    created: datetime | None = None,
                    find_existing: Callable[[str], str | None] | None = None,
                    display_name: str | None = None) -> StoredFile:
        """Encode a Pillow image (png, jpeg or webp) and store it. `pnginfo` becomes PNG text chunks;
        JPEG and WebP carry no such chunks (the database keeps the metadata anyway)."""
        fmt = {"jpg": "jpeg"}.get(format.lower(), format.lower())
        name = display_name or f"image.{'jpg' if fmt == 'jpeg' else fmt}"
        if fmt not in ("png", "jpeg", "webp"):
            raise StorageError(f"{name}: cannot encode images as {format!r} (use png, jpeg or webp)")
        prepared = _prepare_for_format(image, fmt)
        params: dict[str, object] = {}
        icc = image.info.get("icc_profile")
        if icc and _colour_family(prepared.mode) == _colour_family(image.mode):
            params["icc_profile"] = icc
        if fmt == "png":
            if pnginfo:
                chunks = PngImagePlugin.PngInfo()
                for key, value in pnginfo.items():
                    chunks.add_text(key, value)
                params["pnginfo"] = chunks
        else:
            params["quality"] = quality
        # We encoded these bytes ourselves, so they need no decode check: hash them in memory and write
        # them once (temp → fsync → rename) instead of re-reading and re-decoding the file.
        buffer = io.BytesIO()
        prepared.save(buffer, format=fmt.upper(), **params)
        data = buffer.getvalue()
        if len(data) > self.max_bytes:
            raise StorageError(f"{name}: {_mb(len(data))} is over the {_mb(self.max_bytes)} limit")
        ext, mime = {"png": ("png", "image/png"), "jpeg": ("jpg", "image/jpeg"), "webp": ("webp", "image/webp")}[fmt]
        info = MediaInfo("image", mime, ext, prepared.width, prepared.height)
        staged = self.temp_path(".stage")
        target = "temp/"
        try:
            with open(staged, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            digest = hashlib.sha256(data).hexdigest()
            final, written = self._place(staged, digest=digest, size=len(data), info=info, project_id=project_id,
                                         product_id=product_id, created=created, find_existing=find_existing,
                                         name=name)
            target = self._relative(final)
        except OSError as exc:
            raise _io_error(name, target, exc) from None
        finally:
            if staged.exists():
                staged.unlink(missing_ok=True)
        return StoredFile(self._relative(final), digest, len(data), info, deduplicated=not written)

    def delete_file(self, relative_path: str) -> None:
        path = self.resolve_inside(relative_path)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            raise StorageError(f"{relative_path}: is a folder, not a file") from None
        except OSError as exc:
            raise StorageError(f"{relative_path}: could not delete ({exc.strerror or exc})") from None

    def write_atomic(self, destination: Path, data: bytes) -> None:
        """Write bytes so that readers see the old file or the whole new one, never a half."""
        target = self.resolve_inside(destination)
        tmp = self.temp_path(".write")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _io_error(target.name, self._relative(target), exc) from None


# -- file helpers ---------------------------------------------------------------------------------

def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _io_error(name: str, target: str, exc: OSError) -> StorageError:
    if exc.errno in _DISK_FULL:
        return StorageError(f"{name}: disk full while writing {target}")
    return StorageError(f"{name}: could not write {target} ({exc.strerror or exc})")


class _HashingReader:
    """A file wrapper that hashes what is read through it, so a copy reads the source only once."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(n)
        self.digest.update(chunk)
        return chunk


def _replace_across(staged: Path, final: Path) -> None:
    """Rename across filesystems: copy next to the target, fsync, rename there (still no half file), then drop the
    staged copy. A crash leaves a dot-file the sweep moves to lost+found like any unreferenced file."""
    part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        shutil.copyfile(staged, part)
        _fsync_file(part)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    staged.unlink(missing_ok=True)


def _copy_hashing(source: Path, destination: Path) -> str:
    """Copy, fsync, and return the sha256 of what was copied."""
    with open(source, "rb") as src, open(destination, "wb") as dst:
        reader = _HashingReader(src)
        shutil.copyfileobj(reader, dst, _CHUNK)
        dst.flush()
        os.fsync(dst.fileno())
    return reader.digest.hexdigest()


def _fsync_file(path: Path) -> None:
    # Windows only flushes handles opened for writing.
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; directories cannot be opened for fsync on Windows, so skip there."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (network, FUSE) refuse directory fsync; the rename still happened
    finally:
        os.close(fd)


def _colour_family(mode: str) -> str:
    return {"RGBA": "RGB", "LA": "L", "P": "RGB", "PA": "RGB"}.get(mode, mode)


def _prepare_for_format(image: Image.Image, fmt: str) -> Image.Image:
    """Convert to a mode the encoder accepts; JPEG has no alpha, so transparency goes onto white."""
    if fmt == "png":
        native = ("1", "L", "LA", "I;16", "I", "P", "RGB", "RGBA")
        return image if image.mode in native else to_display_mode(image)
    if fmt == "jpeg":
        if image.mode in ("L", "RGB", "CMYK"):
            return image
        shown = to_display_mode(image)
        if shown.mode in ("RGBA", "LA"):
            rgba = shown.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return shown
    shown = to_display_mode(image)  # webp takes RGB or RGBA only
    if shown.mode in ("RGB", "RGBA"):
        return shown
    return shown.convert("RGBA" if shown.mode == "LA" else "RGB")


# -- content sniffing -----------------------------------------------------------------------------

def _describe(head: bytes) -> str:
    """A human name for bytes that are not an allowed image or video, for the error message."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<head" in text:
        return "HTML document"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "SVG image"
    if text.startswith(b"<?xml"):
        return "XML document"
    known = [(b"%PDF", "PDF document"), (b"PK\x03\x04", "ZIP archive"), (b"BM", "BMP image"),
             (b"8BPS", "Photoshop document"), (b"\x00\x00\x01\x00", "icon file"),
             (b"GIF8", "damaged GIF"), (b"\x89PNG", "damaged PNG"), (b"\xff\xd8\xff", "damaged JPEG")]
    for magic, label in known:
        if head.startswith(magic):
            return label
    if head[:4] == b"RIFF":
        return {b"AVI ": "AVI video", b"WAVE": "WAV audio"}.get(head[8:12], "RIFF file")
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1").strip()
        return {"avif": "AVIF image", "heic": "HEIC image", "heix": "HEIC image", "mif1": "HEIF image",
                "M4A": "M4A audio"}.get(brand, f"'{brand}' media file")
    if text.startswith((b"{", b"[")):
        return "JSON text"
    printable = sum(32 <= b < 127 or b in b"\t\r\n" or b >= 0x80 for b in head)
    return "text file" if printable >= 0.95 * len(head) else "unrecognised data"


# ISO base media brands of MP4 video and QuickTime; audio-only and still-image brands are refused.
_MP4_BRANDS = {"isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42", "mp71",
               "avc1", "av01", "hvc1", "hev1", "dash", "msnv", "M4V ", "M4VH", "M4VP", "f4v ", "NDAS", "XAVC",
               "mmp4", "MSNV", "cmfc", "cmf2"}
_NOT_VIDEO_BRANDS = {"M4A ", "M4B ", "M4P ", "avif", "avis", "heic", "heix", "heim", "heis", "hevc", "hevx",
                     "mif1", "msf1", "jp2 ", "crx "}
_QUICKTIME_LEADING = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_MAX_HEADER_READ = 16 * 1024 * 1024


def _sniff_video(fh: BinaryIO, head: bytes, size: int, name: str) -> MediaInfo | None:
    """MediaInfo for an MP4/MOV/WebM file, None if the bytes are not a video container at all."""
    if head[4:8] == b"ftyp":
        major = head[8:12].decode("latin-1")
        box_size = int.from_bytes(head[:4], "big")
        compatible = {head[i:i + 4].decode("latin-1") for i in range(16, min(box_size, len(head)) - 3, 4)}
        if major in _NOT_VIDEO_BRANDS or not ({major} | compatible) & (_MP4_BRANDS | {"qt  "}):
            return None
        ext, mime = ("mov", "video/quicktime") if major == "qt  " else ("mp4", "video/mp4")
        return _inspect_mp4(fh, size, name, ext, mime)
    if head[4:8] in _QUICKTIME_LEADING and _plausible_box(head, size):
        return _inspect_mp4(fh, size, name, "mov", "video/quicktime")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _inspect_webm(fh, size, name)
    return None


def _plausible_box(head: bytes, size: int) -> bool:
    n = int.from_bytes(head[:4], "big")
    return n in (0, 1) or 8 <= n <= size


def _inspect_mp4(fh: BinaryIO, size: int, name: str, ext: str, mime: str) -> MediaInfo:
    """Walk the top-level boxes: they must tile the file exactly, and a 'moov' must be among them."""
    kind = "MOV" if ext == "mov" else "MP4"
    offset, moov = 0, None
    for _ in range(100_000):
        if size - offset < 8:
            break  # a few stray bytes of padding at the end are harmless
        fh.seek(offset)
        header = fh.read(16)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        header_len = 8
        if box_size == 1:
            box_size, header_len = struct.unpack(">Q", header[8:16])[0], 16
        elif box_size == 0:
            box_size = size - offset
        if box_size < header_len:
            raise StorageError(f"{name}: damaged {kind} video (bad size for box {box_type!r})")
        if offset + box_size > size:
            label = box_type.decode("latin-1")
            raise StorageError(f"{name}: truncated {kind} video (box '{label}' runs past the end)")
        if box_type == b"moov" and moov is None:
            fh.seek(offset + header_len)
            moov = fh.read(min(box_size - header_len, _MAX_HEADER_READ))
        offset += box_size
    if moov is None:
        raise StorageError(f"{name}: incomplete {kind} video (no 'moov' header; an interrupted recording?)")
    width, height, duration = _parse_moov(moov)
    return MediaInfo("video", mime, ext, width, height, duration)


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        box_size, box_type = struct.unpack_from(">I4s", data, start)
        header = 8
        if box_size == 1 and start + 16 <= end:
            box_size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif box_size == 0:
            box_size = end - start
        if box_size < header or start + box_size > end:
            return
        yield box_type, start + header, start + box_size
        start += box_size


def _parse_moov(moov: bytes) -> tuple[int | None, int | None, float | None]:
    """Display size of the first video track and the movie duration; None for what is missing."""
    width = height = None
    duration = None
    for box_type, start, end in _boxes(moov):
        if box_type == b"mvhd" and end - start >= 32:
            if moov[start] == 1:
                timescale, length = struct.unpack_from(">IQ", moov, start + 20)
            else:
                timescale, length = struct.unpack_from(">II", moov, start + 12)
            if timescale and length not in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                duration = length / timescale
        elif box_type == b"trak" and width is None:
            for child, cstart, cend in _boxes(moov, start, end):
                if child != b"tkhd":
                    continue
                base = cstart + (52 if moov[cstart] == 1 else 40)  # the matrix, after the times
                if cend - base < 44:
                    break
                a, b = struct.unpack_from(">ii", moov, base)
                w, h = (v >> 16 for v in struct.unpack_from(">II", moov, base + 36))
                if w and h:
                    # Phone videos are stored landscape with a quarter-turn matrix.
                    width, height = (h, w) if a == 0 and b != 0 else (w, h)
    return width, height, duration


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at data[pos]: (value, position after it)."""
    if pos >= len(data) or data[pos] == 0:
        raise ValueError("bad EBML number")
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        raise ValueError("EBML number runs past the data")
    value = int.from_bytes(data[pos:pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = -1  # "unknown size" (live streams)
    return value, pos + length


def _ebml(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(element id, payload start, declared payload end) of the EBML elements in data[start:end].
    The declared end may lie beyond the data read; an unknown size extends to `end`."""
    pos = start
    while pos < end:
        element, pos = _vint(data, pos, keep_marker=True)
        length, pos = _vint(data, pos, keep_marker=False)
        stop = end if length < 0 else pos + length
        yield element, pos, stop
        pos = stop


def _inspect_webm(fh: BinaryIO, size: int, name: str) -> MediaInfo:
    """Check the EBML header says WebM and the segment is complete; read size and duration if cheap."""
    fh.seek(0)
    data = fh.read(256 * 1024)
    try:
        _header, start, end = next(_ebml(data, 0, len(data)))
        if end > len(data):
            raise ValueError("EBML header runs past the data")
        doctype = next((data[s:e].rstrip(b"\0") for i, s, e in _ebml(data, start, end) if i == 0x4282), b"")
        segment = next(((s, e) for i, s, e in _ebml(data, end, len(data)) if i == 0x18538067), None)
    except (ValueError, StopIteration):
        raise StorageError(f"{name}: damaged WebM video (unreadable EBML header)") from None
    if doctype != b"webm":
        kind = doctype.decode("latin-1") or "unknown"
        raise StorageError(f"{name}: not an image or video of an allowed type "
                           f"({kind} video; only WebM is allowed)")
    if segment is None:
        raise StorageError(f"{name}: incomplete WebM video (no segment)")
    if segment[1] > size:
        raise StorageError(f"{name}: truncated WebM video (segment runs past the end of the file)")
    width = height = None
    duration = None
    scale = 1_000_000  # nanoseconds per timecode tick, the Matroska default
    try:
        for i, s, e in _ebml(data, segment[0], min(segment[1], len(data))):
            e = min(e, len(data))
            if i == 0x1549A966:  # Info: TimecodeScale, Duration
                for j, s2, e2 in _ebml(data, s, e):
                    if j == 0x2AD7B1:
                        scale = int.from_bytes(data[s2:e2], "big") or scale
                    elif j == 0x4489 and e2 - s2 in (4, 8):
                        duration = struct.unpack(">f" if e2 - s2 == 4 else ">d", data[s2:e2])[0]
            elif i == 0x1654AE6B and width is None:  # Tracks > TrackEntry > Video > PixelWidth/Height
                for j, s2, e2 in _ebml(data, s, e):
                    for k, s3, e3 in _ebml(data, s2, e2) if j == 0xAE else ():
                        if k == 0xE0 and width is None:
                            dims = {m: int.from_bytes(data[a:b], "big") for m, a, b in _ebml(data, s3, e3)}
                            width, height = dims.get(0xB0), dims.get(0xBA)
            elif i == 0x1F43B675:  # the first Cluster: all headers are behind us
                break
    except ValueError:
        pass  # headers laid out beyond what we read: size and duration stay unknown
    seconds = duration * scale / 1e9 if duration else None
    return MediaInfo("video", "video/webm", "webm", width, height, seconds)
