"""Folder listing and the file hash memo behind input.folder's cache key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from artfactory.services.folder_inputs import HashMemo, folder_key, list_folder, patterns_of


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_patterns_are_case_insensitive_and_hidden_entries_are_left_out(tmp_path: Path) -> None:
    _file(tmp_path / "A.JPG", b"a")
    _file(tmp_path / "b.png", b"b")
    _file(tmp_path / ".hidden.jpg", b"h")
    _file(tmp_path / ".cache" / "c.jpg", b"c")
    _file(tmp_path / "sub" / "d.jpg", b"d")
    assert patterns_of(" *.jpg ; *.png,") == ["*.jpg", "*.png"] and patterns_of("") == ["*"]
    assert [f.relative for f in list_folder(tmp_path, pattern="*.jpg").files] == ["A.JPG"]
    assert [f.relative for f in list_folder(tmp_path, pattern="*.jpg", recursive=True).files] == ["A.JPG", "sub/d.jpg"]
    assert [f.relative for f in list_folder(tmp_path, pattern="sub/*", recursive=True).files] == ["sub/d.jpg"]


def test_name_order_is_natural_and_limit_takes_the_first(tmp_path: Path) -> None:
    for name in ("IMG_10.jpg", "IMG_9.jpg", "img_1.jpg"):
        _file(tmp_path / name, name.encode())
    listing = list_folder(tmp_path, pattern="*.jpg", limit=2)
    assert [f.relative for f in listing.files] == ["img_1.jpg", "IMG_9.jpg"] and listing.matched == 3
    assert list_folder(tmp_path, pattern="*.jpg", descending=True).files[0].relative == "IMG_10.jpg"


def test_the_memo_answers_without_reading_the_file_and_survives_a_new_process(tmp_path: Path) -> None:
    path = _file(tmp_path / "photos" / "a.jpg", b"first bytes")
    memo_file = tmp_path / "memo.json"
    listing = list_folder(tmp_path / "photos", pattern="*")
    first = folder_key(listing, HashMemo(memo_file))
    assert first[0] == ["a.jpg", 11, hashlib.sha256(b"first bytes").hexdigest()]
    # Same size, mtime and inode, other bytes: only a read could tell, and the memo (read back from its file, as
    # a new process would) answers without one. This is the trade: a stat per file instead of a read.
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.write(b"other bytes")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = folder_key(list_folder(tmp_path / "photos", pattern="*"), HashMemo(memo_file))
    assert again == first
    # A real edit moves the mtime: hashed again.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    edited = folder_key(list_folder(tmp_path / "photos", pattern="*"), HashMemo(memo_file))
    assert edited[0][2] == hashlib.sha256(b"other bytes").hexdigest()
