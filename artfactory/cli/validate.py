"""`validate`: check a graph document against the node catalogue without opening the library."""

from __future__ import annotations

import argparse

from artfactory.cli.common import EXIT_BAD_INPUT, EXIT_OK, emit
from artfactory.cli.output import console, escape


def cmd_validate(args: argparse.Namespace) -> int:
    # Checking a document needs only the node catalogue, not the library: no database is opened (it works
    # anywhere, read-only or not), and a large document has the process's memory to itself.
    from artfactory.engine import document as graph_document
    from artfactory.engine.registry import default_registry
    from artfactory.engine.validate import validate

    try:
        doc = graph_document.load(args.graph)
    except graph_document.DocumentError as exc:
        message = str(exc)
        data = {"valid": False, "errors": [{"node_id": None, "code": "bad_document", "message": message}]}
        emit(args, data, lambda: console().print(f"[red]invalid[/]: {escape(message)}"))
        return EXIT_BAD_INPUT
    errors = validate(doc, default_registry())
    data = {"valid": not errors, "errors": [e.to_json() for e in errors]}

    def human() -> None:
        out = console()
        if not errors:
            out.print(f"[green]valid[/]: {escape(str(args.graph))} ({len(doc.nodes)} nodes, {len(doc.edges)} edges)")
        for e in errors:
            out.print(f"[red]{escape(e.node_id or '-')}[/] {escape(f'[{e.code}] {e.message}')}")

    emit(args, data, human)
    return EXIT_OK if not errors else EXIT_BAD_INPUT
