"""`products list`, `products show` and `products ancestry`."""

from __future__ import annotations

import argparse

from artfactory.cli.common import EXIT_OK, CliError, emit, emit_detail, open_library
from artfactory.cli.output import console, escape, table


def cmd_products_show(args: argparse.Namespace) -> int:
    from artfactory.services import lineage

    return emit_detail(args, open_library(args), lineage.product_detail, args.product_id)


def cmd_products_ancestry(args: argparse.Namespace) -> int:
    from artfactory.services import lineage

    library = open_library(args)
    with library.db.session() as db:
        try:
            ancestry = lineage.product_ancestry(db, args.product_id)
        except lineage.NotFound as exc:
            raise CliError(str(exc)) from None

    def human() -> None:
        out = table(f"ancestry of {ancestry.id} across {len(ancestry.orders)} order(s)",
                    ("back", "product", "made by", "order", "prompt"), overflow="fold")
        for step in ancestry.steps:
            link = step.product
            out.add_row(str(step.depth), escape(link.label if link.missing else f"{link.name} ({link.id})"),
                        escape(f"{link.node_id} ({link.node_type})" if link.node_id else ""),
                        escape(link.order_id or ""), escape(link.prompt[:50]))
        console().print(out)
        if ancestry.first_prompt:
            console().print(f"first prompt: {escape(ancestry.first_prompt)}")
        if ancestry.truncated:
            console().print(f"(stopped after {len(ancestry.steps)} products)")

    emit(args, ancestry.to_json(), human)
    return EXIT_OK


def cmd_products_list(args: argparse.Namespace) -> int:
    from artfactory.services import lineage

    library = open_library(args)
    with library.db.session() as db:
        project_id = None
        if args.project:
            from artfactory.models import Project

            project = db.query(Project).filter_by(name=args.project).one_or_none()
            if project is None:
                raise CliError(f"no project {args.project!r}")
            project_id = project.id
        rows = lineage.list_products(library, db, project_id=project_id, order_id=args.order,
                                     collection=args.collection, search=args.search, limit=args.limit)
        products = []
        for p in rows:
            item = lineage.product_summary(library, p)
            item.update({"order_id": p.order_id, "prompt": p.prompt, "provider": p.provider,
                         "created_at": p.created_at.isoformat(timespec="seconds") + "Z"})
            products.append(item)

    def human() -> None:
        out = table(f"{len(products)} products", ("id", "node", "size", "prompt", "path"), overflow="fold")
        for p in products:
            out.add_row(p["id"], escape(p["node_id"] or ""), f"{p['width']}×{p['height']}",
                        escape((p["prompt"] or "")[:40]), escape(p["path"]))
        console().print(out)

    emit(args, {"products": products}, human)
    return EXIT_OK
