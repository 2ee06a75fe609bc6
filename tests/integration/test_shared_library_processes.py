"""Several machines on one library (processes): no lost edit; made twice at once, still one collection, one product."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from artfactory.services.library import Library
from tests.support.cli import ROOT, cli_env
from tests.support.library_db import library_rows
from tests.unit.test_gallery_queries import make_products

pytestmark = pytest.mark.usefixtures("db_backend")  # SQLite and PostgreSQL
PRODUCTS = 80


def _workers(home: Path, tmp_path: Path, *commands: list[str]) -> list[dict[str, Any]]:
    """Start one worker process per command, let them all go at once, wait for each to finish cleanly, and
    return what each reported before "done"."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.library_worker", cmd[0], str(go), *cmd[1:]],
                              env=cli_env(home), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cmd in commands]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.communicate(timeout=30)
        go.touch()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            lines = out.strip().splitlines()
            assert json.loads(lines[-1])["done"]
            reports += [json.loads(line) for line in lines[:-1]]
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_concurrent_ratings_favourites_and_collection_adds_are_all_kept(library_home: Path, tmp_path: Path) -> None:
    library = Library.open(library_home)
    try:
        ids = sorted(r["id"] for r in make_products(library, PRODUCTS, orders=2))
        library.project_id()
    finally:
        library.close()
    _workers(library_home, tmp_path, ["rate", "4"], ["favourite"], ["collect", "Keep", "even"],
             ["collect", "Keep", "odd"])

    rows = library_rows(library_home, "select id, rating, favourite from products order by id")
    assert [r["id"] for r in rows] == ids
    assert {(r["rating"], bool(r["favourite"])) for r in rows} == {(4, True)}  # nobody's edit was lost
    collections = library_rows(library_home, "select id from collections where name = 'Keep'")
    assert len(collections) == 1  # made by two processes at once: one collection
    members = library_rows(library_home, "select product_id from collection_products where collection_id = :c"
                           .replace(":c", str(collections[0]["id"])))
    assert sorted(m["product_id"] for m in members) == ids


def test_one_file_imported_by_three_processes_at_once_is_one_product(library_home: Path, tmp_path: Path) -> None:
    Library.open(library_home).close()  # the library exists, as it would for a team
    picture = tmp_path / "shared.png"
    Image.new("RGB", (640, 480), (200, 40, 90)).save(picture)
    answers = _workers(library_home, tmp_path, *(["import", str(picture)] for _ in range(3)))
    ids = {pid for answer in answers for pid in answer["products"]}
    assert len(ids) == 1, answers  # every machine was given the same product
    rows = library_rows(library_home, "select id, path from products")
    assert [r["id"] for r in rows] == list(ids)
    stored = [p for p in (library_home / "products").rglob("*") if p.is_file()]
    assert [p.relative_to(library_home).as_posix() for p in stored] == [rows[0]["path"]]  # no stray copies

