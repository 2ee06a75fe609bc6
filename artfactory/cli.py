"""The headless CLI (DESIGN §8): run, rerun, resume, validate, products, orders, import, export, templates, keys."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
log = logging.getLogger("artfactory")


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT, payload: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.payload = payload


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message}")


def _common() -> argparse.ArgumentParser:
    # Added to every sub-command with SUPPRESS defaults, so the options work before or after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="library root folder")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON document on stdout")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="artfactory", description="Art Factory — AI media pipelines as node graphs.",
                     parents=[common])
    parser.add_argument("--selftest", action="store_true", help="check this installation end to end and exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    run = command("run", "run a graph document")
    run.add_argument("graph", type=Path)
    run.add_argument("--project", default="Default")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    run.add_argument("--reroll", action="store_true", help="new random seeds for seed=-1 nodes")
    run.add_argument("--only", action="append", default=None, metavar="NODE",
                     help="run only this node and what it needs (repeatable)")

    rerun = command("rerun", "run an earlier order again, with tweaks")
    rerun.add_argument("order_id")
    rerun.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    rerun.add_argument("--reroll", action="store_true")

    resume = command("resume", "finish interrupted orders")
    resume.add_argument("order_ids", nargs="*")

    validate = command("validate", "check a graph document without running it")
    validate.add_argument("graph", type=Path)

    products = command("products", "list or show products")
    products_sub = products.add_subparsers(dest="action", required=True, parser_class=_Parser)
    plist = products_sub.add_parser("list", parents=[common])
    plist.add_argument("--order")
    plist.add_argument("--collection")
    plist.add_argument("--search")
    plist.add_argument("--project")
    plist.add_argument("--limit", type=positive_int, default=None)
    pshow = products_sub.add_parser("show", parents=[common])
    pshow.add_argument("product_id")

    orders = command("orders", "list or show orders")
    orders_sub = orders.add_subparsers(dest="action", required=True, parser_class=_Parser)
    olist = orders_sub.add_parser("list", parents=[common])
    olist.add_argument("--limit", type=positive_int, default=None)
    olist.add_argument("--status")
    oshow = orders_sub.add_parser("show", parents=[common])
    oshow.add_argument("order_id")

    imp = command("import", "import image or video files (or folders) as products")
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument("--project", default="Default")
    imp.add_argument("--collection")

    exp = command("export", "export products with lineage sidecars")
    exp.add_argument("product_ids", nargs="+")
    exp.add_argument("--to", dest="to", type=Path, required=True)

    templates = command("templates", "list, save and instantiate templates")
    tsub = templates.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tsub.add_parser("list", parents=[common])
    tsave = tsub.add_parser("save", parents=[common])
    tsave.add_argument("graph", type=Path)
    tsave.add_argument("--name")
    tsave.add_argument("--description", default="")
    tinst = tsub.add_parser("instantiate", parents=[common])
    tinst.add_argument("name")
    tinst.add_argument("--to", dest="to", type=Path)
    tinst.add_argument("--force", action="store_true", help="overwrite the --to file if it exists")

    keys = command("keys", "manage provider API keys in the system keychain")
    ksub = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action in ("set", "delete", "status", "test"):
        kp = ksub.add_parser(action, parents=[common])
        kp.add_argument("provider", choices=["replicate", "fal"])
        if action == "set":
            kp.add_argument("--stdin", action="store_true", help="read the key from standard input")

    nodes = command("nodes", "list the node catalogue")
    nodes.add_argument("type", nargs="?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    as_json = "--json" in args_list
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        from artfactory.services.secrets import install_redaction

        install_redaction()
    except ImportError:  # pragma: no cover - secrets ships with the app
        pass
    home: str | None = None
    try:
        args = build_parser().parse_args(args_list)
        args.json = getattr(args, "json", False)
        args.debug = getattr(args, "debug", False)
        args.home = home = getattr(args, "home", None)
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


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a negative --limit must not mean "no limit")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _report(message: str, as_json: bool, payload: dict[str, Any] | None = None) -> None:
    print(f"artfactory: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, **(payload or {})}))


def emit(args: argparse.Namespace, data: Any, human: Any = None) -> None:
    """One JSON document on stdout with --json, else the human rendering."""
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif human is not None:
        human()
    else:
        from rich.console import Console

        Console().print_json(json.dumps(data, default=str))


def dispatch(args: argparse.Namespace) -> int:
    if args.version:
        from artfactory import __version__

        print(__version__)
        return EXIT_OK
    if args.selftest:
        from artfactory.selftest import run_selftest

        return run_selftest(args.home)
    if args.command is None:
        from artfactory.app import run_app

        return run_app(args.home)
    from artfactory import cli_commands

    handler = getattr(cli_commands, f"cmd_{args.command}")
    return int(handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
