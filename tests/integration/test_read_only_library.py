"""A library this process may not write is still validated against, listed, shown and browsed (issue 10, item 9)."""

from __future__ import annotations

import gc
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from artfactory.services import library as library_module
from tests.support.cli import GRAPHS, run_cli

GRAPH = GRAPHS / "fox-posters.json"


def _contents(home: Path) -> dict[str, str]:
    # SQLite's shared-memory index (-shm) is left out: readers keep their read marks there, by design. An
    # empty -wal counts as none: a read-only connection may create one where the folder lets it (root).
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm") and not (p.name.endswith("-wal") and not p.stat().st_size)}


def _assert_unchanged(home: Path, before: dict[str, str]) -> None:
    assert _contents(home) == before


def _read_only_commands(capsys, order_id: str, product_id: str) -> None:
    validated = run_cli(capsys, "validate", GRAPH, "--json")
    assert validated.code == 0 and validated.json["valid"], validated.err
    products = run_cli(capsys, "products", "list", "--json")
    assert products.code == 0, products.err
    assert product_id in {p["id"] for p in products.json["products"]}
    shown = run_cli(capsys, "products", "show", product_id, "--json")
    assert shown.code == 0 and shown.json["order_id"] == order_id, shown.err
    orders = run_cli(capsys, "orders", "list", "--json")
    assert orders.code == 0 and [o["id"] for o in orders.json["orders"]] == [order_id], orders.err
    assert "warning" not in orders.err
    order = run_cli(capsys, "orders", "show", order_id, "--json")
    assert order.code == 0 and order.json["id"] == order_id, order.err


@pytest.fixture
def ran(library_home: Path, capsys) -> Iterator[tuple[str, str]]:
    result = run_cli(capsys, "run", GRAPH, "--json")
    assert result.code == 0, result.err
    # The run's database connections close when the collector gets to them, and the last one to close
    # checkpoints the WAL: make that happen now, not in the middle of the read-only snapshot below.
    gc.collect()
    library_module.Library.open(library_home).close()
    yield result.json["order_id"], result.json["products"][0]["id"]


def test_read_only_commands_work_and_write_nothing(library_home: Path, capsys, ran: tuple[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, whom chmod does not stop; the library is told it may not write, and SQLite then
    # opens the database with mode=ro, which refuses writes even to root. What the commands did is then
    # checked on disk: every file byte for byte as it was.
    monkeypatch.setattr(library_module, "library_writable", lambda root: False)
    before = _contents(library_home)
    _read_only_commands(capsys, *ran)
    _assert_unchanged(library_home, before)
    # A command that must write says so in one line instead of a traceback.
    for command in (("run", GRAPH, "--set", "small.width=100"), ("import", GRAPH)):
        result = run_cli(capsys, *command)
        assert result.code == 1
        assert result.err == (f"artfactory: error: the library at {library_home} is read-only; '{command[0]}' "
                              "needs to write to it (validate, products and orders work)\n")
    _assert_unchanged(library_home, before)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can still write a chmod a-w folder; the test above covers root")
def test_a_chmod_read_only_library_still_lists_and_shows(library_home: Path, capsys, ran: tuple[str, str]) -> None:
    files = [library_home, *library_home.rglob("*")]
    modes = {p: p.stat().st_mode for p in files}
    try:
        for p in files:
            p.chmod(stat.S_IMODE(modes[p]) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        assert not library_module.library_writable(library_home)
        before = _contents(library_home)
        _read_only_commands(capsys, *ran)
        _assert_unchanged(library_home, before)
    finally:
        for p in reversed(files):
            p.chmod(stat.S_IMODE(modes[p]))


def test_the_gallery_browses_a_read_only_library(qtbot, library_home: Path, capsys, ran: tuple[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from PyQt6.QtWidgets import QApplication

    from artfactory.services.library import Library
    from artfactory.views.gallery.gallery_widget import GalleryWidget

    monkeypatch.setattr(library_module, "library_writable", lambda root: False)
    before = _contents(library_home)
    library = Library.open(library_home)
    try:
        assert library.read_only and library.db.read_only
        widget = GalleryWidget(library)
        qtbot.addWidget(widget)
        widget.resize(1000, 700)
        widget.show()
        qtbot.waitExposed(widget)
        qtbot.waitUntil(lambda: widget.model.rowCount() > 0, timeout=5000)
        assert ran[1] in {row.id for row in widget.model.rows()}
        qtbot.wait(50)
        widget.loader.wait_idle()
        QApplication.processEvents()
        widget.close()
    finally:
        library.close()
    # Thumbnails exist from the run; browsing read nothing new into the library.
    assert {k: v for k, v in _contents(library_home).items() if not k.startswith("thumbnails")} == \
        {k: v for k, v in before.items() if not k.startswith("thumbnails")}
