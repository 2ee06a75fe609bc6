"""`artfactory spend`: what the library's runs cost, by day, provider, model, collection and order."""

from __future__ import annotations

import argparse
from datetime import date

from artfactory.cli.common import EXIT_OK, CliError, emit, open_library
from artfactory.cli.output import console, escape, table

TOP_ORDERS = 10  # the readable table lists the most recent; --json has them all


def since_date(text: str) -> date:
    """argparse type: a YYYY-MM-DD date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def cmd_spend(args: argparse.Namespace) -> int:
    from artfactory.services.spend import format_usd as usd
    from artfactory.services.spend import spend

    library = open_library(args)
    project_id = None
    if args.project:
        from artfactory.models import Project

        with library.db.session() as db:
            project = db.query(Project).filter_by(name=args.project).one_or_none()
            if project is None:
                raise CliError(f"no project named {args.project!r} in the library at {library.home}")
            project_id = project.id
    data = spend(library, since=args.since, project_id=project_id)

    def human() -> None:
        out = console()
        scope = f"since {data['since']}" if data["since"] else "in all"
        out.print(f"[bold]Spent {scope}: {usd(data['total_usd'])}[/] "
                  f"({data['priced_items']} priced item{'s' if data['priced_items'] != 1 else ''}"
                  + (f", {data['unpriced_items']} not priced" if data["unpriced_items"] else "") + ")")
        for title, key, label in (("By provider", "by_provider", "provider"), ("By model", "by_model", "model"),
                                  ("By collection", "by_collection", "collection"), ("By day", "by_day", "day")):
            if data[key]:
                rows = table(title, (label, "USD"))
                for name, value in data[key].items():
                    rows.add_row(escape(name), usd(value))
                out.print(rows)
        if data["orders"]:
            rows = table(f"Orders (newest {min(TOP_ORDERS, len(data['orders']))} of {len(data['orders'])})",
                         ("order", "USD"))
            for order in data["orders"][:TOP_ORDERS]:
                rows.add_row(order["id"], usd(order["usd"]))
            out.print(rows)

    emit(args, data, human)
    return EXIT_OK
