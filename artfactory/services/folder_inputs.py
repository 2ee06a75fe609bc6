"""A folder of photos as a graph input: listing by pattern and sort order, and a cheap content key for the cache."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from artfactory.files import FileRefused, open_regular, show_path, size_text

log = logging.getLogger("artfactory.inputs")

SORT_ORDERS = ("name", "date", "size")
DEFAULT_PATTERN = "*.jpg;*.jpeg;*.png;*.webp;*.tif;*.tiff;*.gif"
MAX_FOLDER_FILES = 10_000  # one execution downstream per file: more than this wants a limit
HASH_MEMO_FILE = "cache/file-hashes.json"
HASH_MEMO_KEPT = 50_000  # entries kept in the memo file (the newest); a few MB of JSON at most
_CHUNK = 1024 * 1024


class FolderError(Exception):
    """The folder cannot be listed at all (missing, not a folder, unreadable); the message names it."""


@dataclass(frozen=True)
class FolderFile:
    """A matching regular file: where it is, its path inside the folder (posix), its size and mtime."""

    path: Path
    relative: str
    size: int
    mtime_ns: int
    inode: int


@dataclass
class FolderListing:
    """The files a folder input takes (sorted, limited) and the matching entries it refused, with why."""

    folder: Path
    files: list[FolderFile]
    refused: list[tuple[str, str]]  # (relative path, reason)
    matched: int  # matching entries before the limit


def patterns_of(text: str) -> list[str]:
    """Glob patterns separated by ';' or ',' ("*.jpg; *.png"); empty means every file."""
    found = [p.strip() for p in re.split(r"[;,]", text or "") if p.strip()]
    return found or ["*"]


def _matches(relative: str, name: str, patterns: list[str]) -> bool:
    # Case-insensitive on every system: cameras write IMG_0001.JPG, people type *.jpg.
    name, relative = name.casefold(), relative.casefold()
    return any(fnmatch.fnmatchcase(relative if "/" in p else name, p.casefold()) for p in patterns)


def _natural(text: str) -> list[object]:
    """A sort key that puts IMG_2 before IMG_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.casefold())]


def resolve_folder(raw: str, fallback_root: Path | None = None) -> Path:
    """The folder a `folder` param names: ~ expanded; a relative path is taken from the current folder, else (when
    it is not there) from `fallback_root` — the shipped graphs folder, so a template's sample folder is found."""
    path = Path(raw.strip()).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd() / path
    if fallback_root is not None and not here.exists() and (fallback_root / path).is_dir():
        return fallback_root / path
    return here


def list_folder(folder: Path, *, pattern: str = DEFAULT_PATTERN, recursive: bool = False, sort: str = "name",
                descending: bool = False, limit: int = 0, max_bytes: int | None = None) -> FolderListing:
    """The regular files of `folder` matching `pattern`, sorted and limited. Entries that match but cannot be
    taken (a pipe, a device, too large, unreadable) are listed in `refused`; hidden files and folders are left
    out, and symlinked folders are not followed (no loops)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        raise FolderError(f"folder {show_path(folder)} not found") from None
    except OSError as exc:
        raise FolderError(f"folder {show_path(folder)} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise FolderError(f"{show_path(folder)} is not a folder")
    patterns = patterns_of(pattern)
    files: list[FolderFile] = []
    refused: list[tuple[str, str]] = []
    pending = [(folder, "")]
    while pending:
        current, prefix = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            if current == folder:
                raise FolderError(f"folder {show_path(folder)} cannot be read ({exc.strerror or exc})") from None
            refused.append((prefix.rstrip("/") or ".", f"folder cannot be read ({exc.strerror or exc})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append((Path(entry.path), relative + "/"))
                    continue
            except OSError:
                continue
            if not _matches(relative, entry.name, patterns):
                continue
            try:
                info = entry.stat()  # follows a symlink to its file: what would be read
            except OSError as exc:
                refused.append((relative, f"cannot be read ({exc.strerror or exc})"))
                continue
            if stat.S_ISDIR(info.st_mode):
                continue  # a symlink to a folder
            if not stat.S_ISREG(info.st_mode):
                refused.append((relative, "not a regular file (a device, pipe or socket)"))
                continue
            if max_bytes is not None and info.st_size > max_bytes:
                refused.append((relative, f"too large ({size_text(info.st_size)}; the limit is "
                                          f"{size_text(max_bytes)})"))
                continue
            if info.st_size == 0:
                refused.append((relative, "empty file"))
                continue
            files.append(FolderFile(Path(entry.path), relative, info.st_size, info.st_mtime_ns, info.st_ino))
    if sort == "date":
        files.sort(key=lambda f: (f.mtime_ns, _natural(f.relative)), reverse=descending)
    elif sort == "size":
        files.sort(key=lambda f: (f.size, _natural(f.relative)), reverse=descending)
    else:
        files.sort(key=lambda f: _natural(f.relative), reverse=descending)
    refused.sort(key=lambda r: _natural(r[0]))
    matched = len(files)
    if limit and limit > 0:
        files = files[:limit]
    return FolderListing(folder, files, refused, matched)


class HashMemo:
    """sha256 of files by (path, size, mtime_ns, inode), kept in the library (cache/file-hashes.json) so a plan
    that finds a folder unchanged reads no file: only a stat per file. A file rewritten in place gets a new mtime
    (and usually size), so its hash is taken again."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._lock = threading.Lock()
        self._entries: dict[str, str] | None = None
        self._dirty = False

    @staticmethod
    def _key(item: FolderFile) -> str:
        return f"{item.path}\x00{item.size}\x00{item.mtime_ns}\x00{item.inode}"

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                self._entries = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}  # none yet, or damaged: hashes are taken again
        return self._entries

    def sha256(self, item: FolderFile) -> str | None:
        """The file's sha256 (None when it cannot be read now; the run says why)."""
        key = self._key(item)
        with self._lock:
            known = self._load().get(key)
        if known is not None:
            return known
        digest = hashlib.sha256()
        try:
            # Checked again as it is opened: a file swapped for a pipe since the listing must not hang the plan.
            with open_regular(item.path) as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except (FileRefused, OSError):
            return None
        value = digest.hexdigest()
        with self._lock:
            entries = self._load()
            entries.pop(key, None)
            entries[key] = value  # newest last: the oldest are dropped first when the memo is full
            self._dirty = True
        return value

    def save(self) -> None:
        """Write the memo if it changed (temp file, then rename: a reader never sees half of it)."""
        with self._lock:
            if not self._dirty or self._entries is None:
                return
            entries = self._entries
            if len(entries) > HASH_MEMO_KEPT:
                entries = dict(list(entries.items())[-HASH_MEMO_KEPT:])
                self._entries = entries
            text = json.dumps(entries, separators=(",", ":"))
            self._dirty = False
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temp = self.file.with_name(f".{self.file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, self.file)
        except OSError as exc:  # a read-only library still plans; the hashes are taken again next time
            log.debug("file hash memo not saved: %s", exc)


_MEMOS: dict[Path, HashMemo] = {}
_MEMOS_LOCK = threading.Lock()


def hash_memo(home: Path) -> HashMemo:
    """The library's file hash memo (one per library per process)."""
    file = Path(home) / HASH_MEMO_FILE
    with _MEMOS_LOCK:
        memo = _MEMOS.get(file)
        if memo is None:
            memo = _MEMOS[file] = HashMemo(file)
        return memo


def folder_key(listing: FolderListing, memo: HashMemo) -> list[list[object]]:
    """The content of a listing for a cache key: (relative path, size, sha256) per file in order, and the
    refused entries with their reasons (a file that becomes readable changes the key)."""
    rows: list[list[object]] = [[f.relative, f.size, memo.sha256(f) or f"unreadable:{f.mtime_ns}"]
                                for f in listing.files]
    memo.save()
    rows.extend([["refused", relative, reason] for relative, reason in listing.refused])
    return rows
