"""`library migrate|relocate`: move a library to another database, or its products folder to another place."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from artfactory.cli.common import EXIT_FAILED, EXIT_OK, CliError, emit, open_library
from artfactory.cli.output import console, table

T = TypeVar("T")


def add_commands(command: Any, actions: Any, common: argparse.ArgumentParser) -> None:
    """The `library` sub-commands, on the CLI's parser (see parser.py)."""
    lsub = actions(command("library", "move the library to another database or its products to another folder"))
    mig = lsub.add_parser("migrate", parents=[common],
                          help="copy every row into another database (SQLite ↔ PostgreSQL) and verify it")
    mig.add_argument("--to", dest="to", required=True, metavar="URL",
                     help="postgresql://user@host/name or sqlite:////path/library.sqlite3")
    mig.add_argument("--replace", action="store_true",
                     help="the target already holds a library: delete its rows and copy over them")
    mig.set_defaults(handler=cmd_library_migrate)
    rel = lsub.add_parser("relocate", parents=[common],
                          help="use another products folder (e.g. a shared folder); files are not rewritten")
    rel.add_argument("--products", dest="products", type=Path, required=True, metavar="DIR")
    rel.add_argument("--move", action="store_true", help="move the files there first (else they must be there)")
    rel.set_defaults(handler=cmd_library_relocate)


def _source_url(args: argparse.Namespace) -> str:
    """The library's database URL as the other commands would open it, without opening (or changing) it."""
    from artfactory.config import load_settings, resolve_home
    from artfactory.models.db import database_url_for

    home = resolve_home(args.home)  # --database reaches the settings through the environment (common.py)
    return database_url_for(home, load_settings(home).database_url)


def _progress(args: argparse.Namespace) -> Any:
    """A rich progress display on stderr (stdout stays one JSON document with --json); None when quiet."""
    if not sys.stderr.isatty() and args.json:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)


def _shown(bar: Any, work: Callable[[Any], T], report: Callable[..., None]) -> T:
    """Run `work(progress)` with the progress display up (progress=report), or quietly (progress=None)."""
    if bar is None:
        return work(None)
    with bar:
        return work(report)


def cmd_library_migrate(args: argparse.Namespace) -> int:
    from artfactory.models.db import describe_url
    from artfactory.services.library_move import MoveError, file_sha256, move_library, sqlite_path

    source = _source_url(args)
    path = sqlite_path(source)
    before = file_sha256(path) if path is not None and path.is_file() else None
    bar = _progress(args)
    tasks: dict[str, Any] = {}

    def report(name: str, done: int, total: int) -> None:
        if bar is None:
            return
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done)

    try:
        result = _shown(bar, lambda progress: move_library(source, args.to, replace=args.replace, progress=progress),
                        report)
    except MoveError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    data = result.as_json()
    if path is not None and before is not None:
        after = file_sha256(path)
        data["source_sha256"] = {"before": before, "after": after, "unchanged": before == after}
        if before != after:  # the copy only reads it; someone else wrote to the library meanwhile
            data["verified"] = False
    emit(args, data, lambda: _print_migrate(data, describe_url(args.to)))
    return EXIT_OK if data["verified"] else EXIT_FAILED


def _print_migrate(data: dict[str, Any], target: str) -> None:
    out = console()
    grid = table("Library migrated" if data["verified"] else "Library copy does NOT match",
                 ("table", "rows", "copied", "checksum"))
    for t in data["tables"]:
        grid.add_row(t["table"], str(t["rows"]), str(t["target_rows"]),
                     ("ok " if t["matches"] else "DIFFERS ") + t["checksum"][:12])
    out.print(grid)
    unchanged = data.get("source_sha256", {}).get("unchanged", True)
    out.print(f"{data['rows']} rows in {data['seconds']} s; source {'unchanged' if unchanged else 'CHANGED'}")
    if data["verified"]:
        out.print(f"To use it: set ARTFACTORY_DATABASE_URL (or Preferences › Library database) to {target}")


def cmd_library_relocate(args: argparse.Namespace) -> int:
    from artfactory.services.relocate import RelocateError, relocate_products

    library = open_library(args, writes=True)
    bar = _progress(args)
    task: list[Any] = []

    def report(done: int, total: int) -> None:
        if bar is not None:
            if not task:
                task.append(bar.add_task("products", total=total))
            bar.update(task[0], completed=done)

    try:
        result = _shown(bar, lambda progress: relocate_products(library, args.products, move=args.move,
                                                                progress=progress), report)
    except RelocateError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    data = result.as_json()
    emit(args, data, lambda: console().print(
        f"products folder: {data['products_dir']} (was {data['previous']}); {data['checked']} files checked"
        + (f", {data['moved']} moved" if args.move else "")
        + (f"; {data['missing_before']} were already missing" if data["missing_before"] else "")))
    return EXIT_OK
