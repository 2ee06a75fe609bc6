"""Reading files the user names: regular files only, never more than a cap, refusals as one clear line."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

# A graph document is a few KB; 10 MiB leaves room for huge generated graphs and still validates quickly.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
_SHOWN_PATH_CHARS = 160


class FileRefused(Exception):
    """A file that is not read: missing, a folder, a device or pipe, too large, or a path the OS refuses."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{show_path(path)}: {reason}")


def show_path(path: str | os.PathLike[str]) -> str:
    """The path for a message: control characters made visible, a very long one shortened in the middle."""
    text = os.fspath(path)
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if len(text) > _SHOWN_PATH_CHARS:
        half = _SHOWN_PATH_CHARS // 2 - 2
        text = f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"
    return text


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long for this system"
    if exc.errno == errno.ENOTDIR:
        return "file not found (a part of the path is not a folder)"
    if exc.errno == errno.ELOOP:
        return "cannot be read (too many levels of symbolic links)"
    return f"cannot be read ({exc.strerror or exc})"


def _check_mode(path: str | os.PathLike[str], st: os.stat_result, max_bytes: int | None) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise FileRefused(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        # Reading a device (/dev/zero), a named pipe or a socket blocks or never ends.
        raise FileRefused(path, "not a regular file (a device, pipe or socket)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise FileRefused(path, f"too large ({size_text(st.st_size)}; the limit is {size_text(max_bytes)})")
    return st.st_size


def check_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> int:
    """The size of a regular file no larger than `max_bytes`; FileRefused otherwise. Opens nothing."""
    try:
        st = os.stat(path)
    except ValueError:  # the OS cannot even be asked: "embedded null byte"
        raise FileRefused(path, "the path contains a NUL character") from None
    except OSError as exc:
        raise FileRefused(path, _os_reason(exc)) from None
    return _check_mode(path, st, max_bytes)


@contextmanager
def open_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> Iterator[BinaryIO]:
    """A regular file opened for binary reading. Checked before opening (opening some devices has effects)
    and again on the open descriptor, so a file swapped for a pipe in between is caught too."""
    check_regular(path, max_bytes)
    # O_NONBLOCK: should a pipe be swapped in after the check, opening it must not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(path, _os_reason(exc)) from None
    try:
        _check_mode(path, os.fstat(fd), max_bytes)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        yield fh


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """All bytes of a regular file of at most `max_bytes` (also if it grows while being read)."""
    try:
        with open_regular(path, max_bytes) as fh:
            data = fh.read(max_bytes + 1)
    except FileRefused:
        raise
    except OSError as exc:
        raise FileRefused(path, _os_reason(exc)) from None
    if len(data) > max_bytes:
        raise FileRefused(path, f"too large (over {size_text(max_bytes)}, the limit)")
    return data
