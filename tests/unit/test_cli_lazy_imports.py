"""Short CLI commands load no heavy library they do not use (issue 11 item 6: a fast `--version` and `nodes`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, cli_env

# Each costs from 0.05 s to 0.3 s to import; none is needed to print the version or the node catalogue.
HEAVY = ("PyQt6", "sqlalchemy", "alembic", "PIL", "httpx", "rich", "networkx", "dynamicprompts", "pyparsing",
         "keyring", "av", "psycopg")
PROBE = """
import json, sys
from artfactory.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def loaded_after(home: Path, *args: str) -> set[str]:
    """The top-level packages in sys.modules after `artfactory ARGS` ran in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=cli_env(home), cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["loaded"])


def test_version_loads_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    assert loaded_after(tmp_path, "--version") & set(HEAVY) == set()


@pytest.mark.parametrize("args", [("nodes", "--json"), ("validate", str(ROOT / "graphs" / "fox-posters.json"),
                                                        "--json")])
def test_the_node_catalogue_loads_no_database_qt_or_http_client(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert loaded_after(tmp_path, *args) & set(HEAVY) == set()


def test_a_fully_cached_run_loads_no_pillow_http_client_video_or_postgres_driver(tmp_path: Path) -> None:
    graph = tmp_path / "cached.json"
    graph.write_text(json.dumps({
        "format": "artfactory.graph", "version": 2, "name": "cached",
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a fox"}},
                  {"id": "gen", "type": "provider.local", "params": {"seed": 3, "width": 64, "height": 64}},
                  {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "image"], "to": ["small", "image"]}]}), encoding="utf-8")
    assert "PIL" in loaded_after(tmp_path, "run", str(graph), "--json")  # the first run draws and resizes
    # Run again: every node is a cache hit, so nothing is decoded, drawn, downloaded or sent to PostgreSQL.
    assert loaded_after(tmp_path, "run", str(graph), "--json") & {"PIL", "httpx", "av", "psycopg", "alembic",
                                                                   "keyring"} == set()


def test_reopening_an_up_to_date_library_does_not_load_alembic(tmp_path: Path) -> None:
    assert "alembic" in loaded_after(tmp_path, "orders", "list", "--json")  # creates the library: migrations run
    assert "alembic" not in loaded_after(tmp_path, "orders", "list", "--json")


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    from artfactory.models.db import head_revision, plain_head_revision

    assert plain_head_revision() == head_revision()


def test_a_command_closes_its_library_before_the_process_ends(tmp_path: Path) -> None:
    # The CLI skips the final garbage collections (gc.freeze at exit), so the database must be closed
    # explicitly: a closed SQLite connection checkpoints and removes its write-ahead log.
    loaded_after(tmp_path, "orders", "list", "--json")
    assert (tmp_path / "library.sqlite3").is_file()
    assert not (tmp_path / "library.sqlite3-wal").exists()
