"""`nodes [TYPE]`: the node catalogue."""

from __future__ import annotations

import argparse

from artfactory.cli.common import EXIT_OK, CliError, emit
from artfactory.cli.output import console, table


def cmd_nodes(args: argparse.Namespace) -> int:
    from artfactory.engine.registry import default_registry

    registry = default_registry()
    types = [t for t in registry if not args.type or t.type == args.type]
    if args.type and not types:
        raise CliError(f"unknown node type {args.type!r}")
    data = {"nodes": [t.describe() for t in types]}

    def human() -> None:
        out = table("node types", ("type", "inputs", "outputs", "params"), overflow="fold")
        for t in types:
            out.add_row(t.type, ", ".join(f"{p.name}:{p.kind}" for p in t.inputs),
                        ", ".join(f"{p.name}:{p.kind}" for p in t.outputs), ", ".join(p.name for p in t.params))
        console().print(out)

    emit(args, data, human)
    return EXIT_OK
