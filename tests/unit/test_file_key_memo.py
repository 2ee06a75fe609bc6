"""input.image and input.video keys come from the library's hash memo: an unchanged file is not read again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from artfactory.services import folder_inputs
from nodes.inputs import file_key


def test_an_unchanged_file_is_keyed_from_the_memo_and_a_changed_one_is_read_again(
        tmp_path: Path, library_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"first take" * 1000)
    first = file_key({"path": str(clip)}, library_home)
    assert first == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert (library_home / folder_inputs.HASH_MEMO_FILE).is_file()  # a new process finds it too

    def no_reading(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(folder_inputs, "open_regular", no_reading)
    assert file_key({"path": str(clip)}, library_home) == first
    monkeypatch.undo()
    clip.write_bytes(b"second take, longer" * 1000)
    assert file_key({"path": str(clip)}, library_home) == hashlib.sha256(clip.read_bytes()).hexdigest() != first


def test_a_missing_or_refused_file_gets_a_key_that_never_matches_a_result(tmp_path: Path, library_home: Path) -> None:
    assert file_key({"path": str(tmp_path / "gone.png")}, library_home).startswith("missing:")
    assert file_key({"path": str(tmp_path)}, library_home).startswith("unreadable:")  # a folder, not a file
