"""`import` files as products and `export` products with their lineage sidecars."""

from __future__ import annotations

import argparse
import sys

from artfactory.cli.common import EXIT_FAILED, EXIT_OK, CliError, emit, open_library, sweep_first
from artfactory.cli.output import console, escape


def cmd_import(args: argparse.Namespace) -> int:
    from artfactory.engine.document import name_problem
    from artfactory.services import lineage
    from artfactory.services.transfer import import_paths

    library = open_library(args, writes=True)
    sweep_first(library)
    project_id = library.project_id(args.project)
    problem = name_problem(args.collection, "a collection name") if args.collection else None
    if problem:
        raise CliError(f"--collection: {problem}")
    result = import_paths(library, args.paths, project_id=project_id, collection=args.collection)
    data = {"products": [lineage.product_summary(library, p) for p in result.products],
            "rejected": [{"path": str(path), "reason": reason} for path, reason in result.rejected]}

    def human() -> None:
        out = console()
        out.print(f"imported {len(result.products)} file(s)")
        for path, reason in result.rejected:
            out.print(f"[red]refused[/] {escape(f'{path}: {reason}')}")

    emit(args, data, human)
    for path, reason in result.rejected:
        print(f"artfactory: refused {path}: {reason}", file=sys.stderr)
    return EXIT_FAILED if result.rejected else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from artfactory.services.transfer import ExportError, export_products

    library = open_library(args)
    try:
        files = export_products(library, args.product_ids, args.to)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    emit(args, {"files": [str(f) for f in files]}, lambda: [print(f) for f in files])
    return EXIT_OK
