"""`templates list`, `templates save` and `templates instantiate`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from artfactory.cli.common import EXIT_OK, CliError, emit, open_library
from artfactory.cli.output import console, escape, table

if TYPE_CHECKING:
    from artfactory.services.library import Library


def _with_library(action: Callable[[argparse.Namespace, Library], None]) -> Callable[[argparse.Namespace], int]:
    """Open the library, run the action, and turn a template problem into one error line."""
    def handler(args: argparse.Namespace) -> int:
        from artfactory.services.templates import TemplateError

        library = open_library(args)
        try:
            action(args, library)
        except TemplateError as exc:
            raise CliError(str(exc)) from None
        return EXIT_OK

    handler.__name__ = handler.__qualname__ = f"cmd_templates_{action.__name__}"
    return handler


def _list(args: argparse.Namespace, library: Library) -> None:
    from artfactory.services import templates

    items = templates.list_templates(library)

    def human() -> None:
        out = table("templates", ("name", "source", "nodes", "description"), overflow="fold")
        for t in items:
            out.add_row(escape(t["name"]), t["source"], str(t["nodes"]), escape(t["description"] or ""))
        console().print(out)

    emit(args, {"templates": items}, human)


def _save(args: argparse.Namespace, library: Library) -> None:
    from artfactory.engine import document as graph_document
    from artfactory.services import templates

    saved = templates.save_template(library, graph_document.load(args.graph), name=args.name,
                                    description=args.description)
    emit(args, saved, lambda: print(f"saved template {saved['name']!r}"))


def _instantiate(args: argparse.Namespace, library: Library) -> None:
    from artfactory.services import templates

    doc = templates.instantiate(library, args.name)
    target = args.to or templates.default_instance_path(library, doc)
    templates.write_instance(doc, target, overwrite=args.force)
    emit(args, {"name": args.name, "path": str(target), "graph": doc.to_json()}, lambda: print(f"wrote {target}"))


cmd_templates_list = _with_library(_list)
cmd_templates_save = _with_library(_save)
cmd_templates_instantiate = _with_library(_instantiate)
