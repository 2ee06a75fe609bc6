"""What every CLI command shares: exit codes, CliError, emit, opening the library and the crash-leftover sweep."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from artfactory.engine.status import OrderStatus

if TYPE_CHECKING:  # the library pulls in SQLAlchemy: imported only by the commands that open one
    from artfactory.engine.plan import PlanError
    from artfactory.services.library import Library

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DATABASE_ENV = "ARTFACTORY_DATABASE_URL"
_opened: list[Library] = []  # closed by close_libraries() when the command ends


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT, payload: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.payload = payload


def emit(args: argparse.Namespace, data: Any, human: Any = None) -> None:
    """One JSON document on stdout with --json, else the human rendering."""
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif human is not None:
        human()
    else:
        from rich.console import Console

        Console().print_json(json.dumps(data, default=str))


def emit_detail(args: argparse.Namespace, library: Library, detail: Any, item_id: str) -> int:
    """`products show` / `orders show`: one record's detail as JSON, or a one-line error naming the id."""
    from artfactory.services import lineage

    with library.db.session() as db:
        try:
            data = detail(library, db, item_id)
        except lineage.NotFound as exc:
            raise CliError(str(exc)) from None
    emit(args, data)
    return EXIT_OK


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a negative --limit must not mean "no limit")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@contextmanager
def database_override(url: str | None) -> Iterator[None]:
    """`--database URL`: the library database of this command (or of the app it opens), for this process and the
    ones it starts; it wins over ARTFACTORY_DATABASE_URL and the settings. A bad URL is a bad-input error that
    never repeats a password."""
    if not url:
        yield
        return
    from artfactory.config import check_setting

    try:
        check_setting("database_url", url)
    except ValueError as exc:
        raise CliError(f"--database {exc}") from None
    previous = os.environ.get(DATABASE_ENV)
    os.environ[DATABASE_ENV] = url  # read by load_settings, wherever the library is opened
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DATABASE_ENV, None)
        else:
            os.environ[DATABASE_ENV] = previous


def open_library(args: argparse.Namespace, writes: bool = False) -> Library:
    from artfactory.services.library import Library

    library = Library.open(args.home)
    _opened.append(library)
    if writes and library.read_only:  # said up front, not as a database error halfway through
        raise CliError(f"the library at {library.home} is read-only; '{args.command}' needs to write to it "
                       "(validate, products and orders work)", EXIT_FAILED)
    return library


def close_libraries() -> None:
    """Close the libraries the command opened: their SQLite connections end cleanly (WAL checkpointed)."""
    while _opened:
        _opened.pop().close()


def sweep_first(library: Library) -> None:
    """Before a command writes: clear crash leftovers of earlier runs, and say once what moved where."""
    from artfactory.services.sweep import CLI_WALK_EVERY_S, sweep_library

    try:
        message = sweep_library(library, walk_every_s=CLI_WALK_EVERY_S).message
    except Exception as exc:  # housekeeping: a failure is said, and the command still runs
        message = f"could not check the library for crash leftovers: {exc}"
    if message:
        print(f"artfactory: {message}", file=sys.stderr)


def status_exit(status: OrderStatus | str, interrupted: bool = False) -> int:
    """The exit code for an order's final status (DESIGN §8): 0 succeeded, 130 interrupted by the user, else 1."""
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if status == OrderStatus.SUCCEEDED else EXIT_FAILED


def plan_error(exc: PlanError) -> CliError:
    return CliError(f"the graph is not valid: {exc}", EXIT_BAD_INPUT,
                    {"errors": [e.to_json() for e in exc.errors]})
