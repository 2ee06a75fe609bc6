"""input.folder through the CLI: pattern, recursion, sort order, limit, skipped files named, the cache key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from artfactory.services.folder_inputs import HASH_MEMO_FILE, list_folder
from tests.support.cli import run_cli


def _photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, quality=85)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    _photo(folder / "IMG_10.JPG", (200, 10, 10))
    _photo(folder / "IMG_2.jpg", (10, 200, 10), (60, 40))
    _photo(folder / "IMG_1.jpeg", (10, 10, 200), (20, 20))
    _photo(folder / "day2" / "IMG_3.jpg", (90, 90, 90))
    (folder / "notes.jpg").write_text("not a photo")
    (folder / "cut.png").write_bytes((folder / "IMG_2.jpg").read_bytes()[:150])
    (folder / "readme.txt").write_text("ignored: the pattern does not match it")
    return folder


def _graph(tmp_path: Path, **params: object) -> Path:
    path = tmp_path / "folder.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "folder",
        "nodes": [{"id": "in", "type": "input.folder", "params": params},
                  {"id": "keep", "type": "collection.add", "params": {"collection": "Shoot"}}],
        "edges": [{"from": ["in", "image"], "to": ["keep", "media"]}]}))
    return path


def _names(capsys: pytest.CaptureFixture[str], data: dict) -> list[str]:
    names = []
    for product_id in data["nodes"]["in"]["products"]:
        shown = run_cli(capsys, "products", "show", product_id, "--json").json
        names.append(shown["metadata"]["relative_path"])
    return names


def test_a_folder_becomes_a_batch_in_natural_name_order_and_bad_files_are_skipped_by_name(
        tmp_path: Path, library_home: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", _graph(tmp_path, folder=str(photos)), "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["status"] == "succeeded"
    assert _names(capsys, data) == ["IMG_1.jpeg", "IMG_2.jpg", "IMG_10.JPG"]
    item = next(i for i in run_cli(capsys, "orders", "show", data["order_id"], "--json").json["items"]
                if i["node_id"] == "in")
    assert item["message"].startswith("3 image(s) from")
    assert "skipped cut.png: damaged" in item["message"]
    assert "skipped notes.jpg: not an image" in item["message"]
    assert "readme.txt" not in item["message"]


def test_recursive_sort_by_size_descending_and_limit(tmp_path: Path, library_home: Path, photos: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    graph = _graph(tmp_path, folder=str(photos), recursive=True, pattern="*.jpg;*.jpeg", sort="size",
                   descending=True, limit=3)
    data = run_cli(capsys, "run", graph, "--json").json
    photos_found = {p.relative_to(photos).as_posix(): p.stat().st_size for p in photos.rglob("*")
                    if p.suffix.lower() in (".jpg", ".jpeg") and p.name != "notes.jpg"}
    assert "day2/IMG_3.jpg" in photos_found and len(photos_found) == 4
    expected = sorted(photos_found, key=lambda name: -photos_found[name])[:3]  # notes.jpg is the smallest
    assert _names(capsys, data) == expected
    os.utime(photos / "IMG_10.JPG", (1_000_000_000, 1_000_000_000))  # the oldest
    by_date = run_cli(capsys, "run", _graph(tmp_path, folder=str(photos), sort="date"), "--json").json
    assert _names(capsys, by_date)[0] == "IMG_10.JPG"
    os.utime(photos / "IMG_10.JPG", (4_000_000_000, 4_000_000_000))  # the newest now
    reordered = run_cli(capsys, "run", _graph(tmp_path, folder=str(photos), sort="date"), "--json").json
    assert _names(capsys, reordered)[-1] == "IMG_10.JPG"
    assert reordered["nodes"]["in"]["status"] == "executed"  # another order is another batch


def test_on_error_fail_fails_the_node_naming_the_file(tmp_path: Path, library_home: Path, photos: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", _graph(tmp_path, folder=str(photos), on_error="fail"), "--json")
    assert result.code == 1
    node = result.json["nodes"]["in"]
    assert node["status"] == "failed"
    assert "cut.png" in node["error"] and "(and 1 more)" in node["error"]
    assert result.json["nodes"]["keep"]["status"] == "skipped"


def test_a_missing_folder_and_a_folder_without_images_fail_clearly(tmp_path: Path, library_home: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", _graph(tmp_path, folder=str(tmp_path / "nowhere")), "--json")
    assert result.code == 1
    assert "input.folder: folder" in result.json["nodes"]["in"]["error"]
    assert "not found" in result.json["nodes"]["in"]["error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.jpg").write_text("text")
    result = run_cli(capsys, "run", _graph(tmp_path, folder=str(empty)), "--json")
    error = result.json["nodes"]["in"]["error"]
    assert "no image to take" in error and "a.jpg" in error


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_only_regular_files_under_the_size_cap_are_taken(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    _photo(folder / "ok.jpg", (1, 2, 3))
    os.mkfifo(folder / "pipe.jpg")
    big = folder / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"0" * 5000)
    listing = list_folder(folder, max_bytes=4000)
    assert [f.relative for f in listing.files] == ["ok.jpg"]
    reasons = dict(listing.refused)
    assert "not a regular file" in reasons["pipe.jpg"] and "too large" in reasons["big.jpg"]


def test_unchanged_folder_is_cached_and_any_change_reruns(tmp_path: Path, library_home: Path, photos: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    graph = _graph(tmp_path, folder=str(photos))
    first = run_cli(capsys, "run", graph, "--json").json
    assert (library_home / HASH_MEMO_FILE).is_file()
    again = run_cli(capsys, "run", graph, "--json").json
    assert again["nodes"]["in"]["status"] == "cached"
    assert again["nodes"]["in"]["products"] == first["nodes"]["in"]["products"]
    # Same size, same mtime, other bytes: the memo is keyed on (path, size, mtime_ns, inode), and a rewrite
    # through a new file (what editors and cameras do) gets a new inode, so the key changes.
    target = photos / "IMG_2.jpg"
    stat = target.stat()
    replacement = tmp_path / "new.jpg"
    _photo(replacement, (250, 250, 0), (60, 40))
    os.replace(replacement, target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = run_cli(capsys, "run", graph, "--json").json
    assert changed["nodes"]["in"]["status"] == "executed"
    _photo(photos / "IMG_0.jpg", (5, 5, 5))
    added = run_cli(capsys, "run", graph, "--json").json
    assert added["nodes"]["in"]["status"] == "executed"
    assert len(added["nodes"]["in"]["products"]) == 4
