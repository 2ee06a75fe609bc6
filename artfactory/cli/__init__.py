"""The headless CLI (DESIGN §8): run, rerun, resume, validate, products, orders, import, export, templates, keys."""

from __future__ import annotations

import argparse
import atexit
import errno
import gc
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

# Defined in common.py so the command modules need not import this package back; re-exported as the CLI's API.
from artfactory.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
    close_libraries,
    database_override,
    emit,
    positive_int,
)
from artfactory.cli.parser import build_parser

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "CliError", "bad_input_reason",
           "build_parser", "dispatch", "emit", "main", "positive_int"]
log = logging.getLogger("artfactory")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    as_json = "--json" in args_list
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    home: str | None = None
    try:
        args = build_parser().parse_args(args_list)
        args.json = getattr(args, "json", False)
        args.debug = getattr(args, "debug", False)
        args.home = home = getattr(args, "home", None)
        with database_override(getattr(args, "database", None)):
            return dispatch(args)
    except CliError as exc:
        _report(str(exc), as_json, exc.payload)
        return exc.code
    except KeyboardInterrupt:
        _report("interrupted", as_json)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        from artfactory.config import SettingsError
        from artfactory.engine.document import DocumentError
        from artfactory.services.library import LibraryError

        if isinstance(exc, DocumentError | LibraryError | SettingsError):
            _report(str(exc), as_json)
            return EXIT_BAD_INPUT
        reason = bad_input_reason(exc)
        if reason:
            _report(reason, as_json)
            return EXIT_BAD_INPUT
        from artfactory.services.write_errors import describe_write_failure, is_write_failure

        if is_write_failure(exc):  # e.g. a full disk: one line naming the library, not "unexpected error"
            from artfactory.config import resolve_home

            _report(describe_write_failure(exc, resolve_home(home)), as_json)
            return EXIT_FAILED
        _report(f"unexpected error: {exc!r} (run with --debug for details)", as_json)
        return EXIT_FAILED
    finally:
        close_libraries()


def bad_input_reason(exc: BaseException) -> str | None:
    """One line for the errors Python raises on input it cannot take, should one get past the checks
    where input is read (those name the file or argument); None for anything else."""
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to be read (run with --debug for details)"
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return ("the input holds text that is not valid Unicode (a lone surrogate such as \\ud800) "
                "(run with --debug for details)")
    if isinstance(exc, ValueError) and "embedded null byte" in str(exc):
        return "a path contains a NUL character (run with --debug for details)"
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return f"a number has more than {sys.get_int_max_str_digits():,} digits (run with --debug for details)"
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        from artfactory.files import show_path

        where = f": {show_path(exc.filename)}" if exc.filename else ""
        return f"a path is too long for this system{where}"
    return None


def _report(message: str, as_json: bool, payload: dict[str, Any] | None = None) -> None:
    print(f"artfactory: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, **(payload or {})}))


def dispatch(args: argparse.Namespace) -> int:
    if args.version:
        from artfactory import __version__

        print(__version__)
        return EXIT_OK
    # Before anything that may log; not for --version, as it reads every provider's key declaration.
    from artfactory.services.secrets import install_redaction

    install_redaction()
    if args.selftest:
        from artfactory.selftest import run_selftest

        return run_selftest(args.home)
    if args.handler is None:  # no command: the desktop app
        from artfactory.app import run_app

        return run_app(args.home)
    # The process ends after the command: Python's last garbage collections would walk every object
    # SQLAlchemy, Qt and Pillow made (0.1-0.2 s of each command). Frozen objects are skipped and the
    # operating system frees the memory anyway; libraries are closed before that (close_libraries).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
