"""The start-up sweep: stale temp files go, files no row points to move to lost+found/, referenced files stay."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from artfactory.models import Product
from artfactory.services.library import Library
from artfactory.services.sweep import CLI_WALK_EVERY_S, LOST_AND_FOUND, SUSPICIOUS, WALK_STAMP, sweep_library
from artfactory.services.thumbnails import ensure_thumbnails, thumbnail_path
from artfactory.services.transfer import import_paths
from tests.support.cli import GRAPHS, run_cli

HOUR = 3600


@pytest.fixture
def library(library_home: Path) -> Iterator[Library]:
    lib = Library.open(library_home)
    yield lib
    lib.close()


def png(colour: tuple[int, int, int], size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def imported(library: Library, tmp_path: Path, colour: tuple[int, int, int]) -> Product:
    source = tmp_path / f"in-{colour[0]}-{colour[1]}-{colour[2]}.png"
    source.write_bytes(png(colour))
    [product] = import_paths(library, [source], project_id=library.project_id()).products
    return product


def leftover(library: Library, product_id: str, colour: tuple[int, int, int], hours: float) -> Path:
    """A product file placed by a process killed before it committed the product's row."""
    stored = library.storage.store_bytes(png(colour), project_id=library.project_id(), product_id=product_id)
    return age(library.storage.absolute(stored.relative_path), hours * HOUR)


def test_kill_9_leftovers_are_swept_and_nothing_referenced_is_touched(library: Library, tmp_path: Path) -> None:
    root = library.home
    kept = imported(library, tmp_path, (10, 20, 30))
    kept_file = age(root / kept.path, 5 * HOUR)  # old, but a row points to it
    kept_thumbs = ensure_thumbnails(root, kept.id, kept_file)
    for thumb in kept_thumbs.values():
        age(thumb, 5 * HOUR)
    orphan = leftover(library, "orphan0000000001", (200, 0, 0), hours=2)
    fresh = leftover(library, "fresh00000000001", (0, 200, 0), hours=0.05)  # its row may be a moment away
    orphan_thumbs = [thumbnail_path(root, size, "orphan0000000001") for size in ("small", "large")]
    for thumb in orphan_thumbs:
        thumb.write_bytes(b"webp")
        age(thumb, 2 * HOUR)
    temp = library.storage.temp_dir
    stale_stage = temp / "a.stage"
    stale_stage.write_bytes(b"x")
    age(stale_stage, 2 * HOUR)  # a write killed mid-way
    fresh_stage = temp / "b.stage"
    fresh_stage.write_bytes(b"x")  # another process is writing it right now
    waiting_download = temp / "c.png"
    waiting_download.write_bytes(png((1, 2, 3)))
    age(waiting_download, 3 * HOUR)  # a download waiting for its node's batch to finish
    abandoned_download = temp / "d.mp4"
    abandoned_download.write_bytes(b"x")
    age(abandoned_download, 25 * HOUR)
    # lost+found already holds a file of that name: it is never overwritten.
    rel = orphan.relative_to(root).as_posix()
    earlier = root / LOST_AND_FOUND / rel
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"an earlier sweep's find")

    report = sweep_library(library)

    assert sorted(report.moved) == sorted([rel, "thumbnails/small/orphan0000000001.webp",
                                           "thumbnails/large/orphan0000000001.webp"])
    assert report.message == f"moved 3 unreferenced file(s) to {root / LOST_AND_FOUND}"
    assert not orphan.exists() and earlier.read_bytes() == b"an earlier sweep's find"
    assert earlier.with_name(f"{earlier.stem}-2{earlier.suffix}").read_bytes() == png((200, 0, 0))
    assert (root / LOST_AND_FOUND / "thumbnails/small/orphan0000000001.webp").read_bytes() == b"webp"
    assert not any(thumb.exists() for thumb in orphan_thumbs)
    assert kept_file.read_bytes() == png((10, 20, 30)) and all(t.is_file() for t in kept_thumbs.values())
    assert fresh.is_file()
    assert not stale_stage.exists() and not abandoned_download.exists()
    assert fresh_stage.exists() and waiting_download.exists()
    assert report.removed_temp == 2
    # Reported once: the next start finds nothing new to say.
    assert sweep_library(library).message is None


def test_a_download_placed_late_in_a_long_batch_is_not_taken_for_a_leftover(library: Library) -> None:
    """Renaming keeps a file's mtime: a download that waited hours in temp/ would look like an old orphan
    the moment it is placed, before its row is committed at the end of its node."""
    download = library.storage.temp_path(".png")
    download.write_bytes(png((9, 9, 9)))
    age(download, 3 * HOUR)
    stored = library.storage.store(download, project_id=library.project_id(), product_id="latebatch0000001",
                                   move=True)
    placed = library.storage.absolute(stored.relative_path)
    report = sweep_library(library)  # another process starts now; the row is not committed yet
    assert placed.is_file() and report.moved == []


def test_an_interrupted_delete_gets_its_file_back(library: Library, tmp_path: Path) -> None:
    """A gallery delete parks files in temp/ until it commits; killed before, the rows stayed."""
    product = imported(library, tmp_path, (40, 50, 60))
    path = library.home / product.path
    parked = library.storage.temp_path(".deleted")
    os.replace(path, parked)
    age(parked, 2 * HOUR)
    done_delete = library.storage.temp_path(".deleted")  # killed after its commit: no row wants it
    done_delete.write_bytes(png((70, 80, 90)))
    age(done_delete, 2 * HOUR)
    report = sweep_library(library)
    assert path.read_bytes() == png((40, 50, 60)) and not parked.exists()
    assert report.restored == [product.path] and not done_delete.exists()
    assert "put back 1 product file(s)" in (report.message or "")


def test_a_database_that_is_not_this_folders_moves_nothing(library: Library) -> None:
    files = [leftover(library, f"foreign{i:09d}", (i % 250, i // 250, 7), hours=2) for i in range(SUSPICIOUS + 1)]
    report = sweep_library(library)
    assert report.moved == [] and report.held_back == SUSPICIOUS + 1
    assert "ARTFACTORY_DATABASE_URL" in (report.message or "")
    assert all(f.is_file() for f in files)


def test_a_row_committed_during_the_sweep_keeps_its_file(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidates are checked against the database again right before they move."""
    import artfactory.services.sweep as sweep

    orphan = leftover(library, "late0000000000001", (5, 6, 7), hours=2)
    rel = orphan.relative_to(library.home).as_posix()
    listing = sweep._unreferenced_products

    def then_commit(*args: object) -> Iterator[str]:
        found = list(listing(*args))  # type: ignore[arg-type]
        with library.db.session() as session:
            session.add(Product(id="late0000000000001", project_id=library.project_id(), path=rel, sha256="0" * 64,
                                media_type="image", mime="image/png"))
        return iter(found)

    monkeypatch.setattr(sweep, "_unreferenced_products", then_commit)
    report = sweep_library(library)
    assert report.moved == [] and orphan.is_file()
    with library.db.session() as session:
        assert session.scalar(select(Product.path).where(Product.id == "late0000000000001")) == rel


def test_cli_commands_that_write_sweep_first_and_say_so_on_stderr(library: Library, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    orphan = leftover(library, "cliorphan0000001", (1, 1, 1), hours=2)
    source = tmp_path / "new.png"
    source.write_bytes(png((3, 4, 5)))
    result = run_cli(capsys, "import", source, "--json")
    assert result.code == 0, result.err
    assert result.json["products"]  # stdout is still one JSON document
    lost = library.home / LOST_AND_FOUND
    assert f"artfactory: moved 1 unreferenced file(s) to {lost}" in result.err.splitlines()
    assert not orphan.exists() and (lost / orphan.relative_to(library.home)).is_file()
    again = leftover(library, "cliorphan0000002", (2, 2, 2), hours=2)
    # Walked a moment ago: the next command skips the walk (a big library's products folder is 100,000s of files).
    soon = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    assert soon.code == 0 and "unreferenced" not in soon.err and again.exists()
    stamp = library.home / WALK_STAMP
    past = stamp.stat().st_mtime - CLI_WALK_EVERY_S - 1
    os.utime(stamp, (past, past))  # ten minutes later
    ran = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    assert "moved 1 unreferenced file(s)" in ran.err and not again.exists()
    quiet = run_cli(capsys, "products", "list", "--json")  # reading commands do not sweep
    assert quiet.code == 0 and "unreferenced" not in quiet.err
