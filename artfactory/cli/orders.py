"""`orders list` and `orders show`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from artfactory.cli.common import EXIT_OK, CliError, emit, emit_detail, open_library
from artfactory.cli.output import STATUS_STYLE, console, escape, table

if TYPE_CHECKING:
    from artfactory.services.library import Library


def _open_and_recover(args: argparse.Namespace) -> Library:
    from artfactory.services.orders import OrderStore
    from artfactory.services.write_errors import describe_write_failure, is_write_failure

    library = open_library(args)
    try:
        OrderStore(library).recover_interrupted()
    except Exception as exc:  # listing is read-only: a full disk must not stop it
        if not is_write_failure(exc):
            raise
        print(f"artfactory: warning: orders of ended runs not marked interrupted: "
              f"{describe_write_failure(exc, library.home)}", file=sys.stderr)
    return library


def cmd_orders_show(args: argparse.Namespace) -> int:
    from artfactory.services import lineage

    return emit_detail(args, _open_and_recover(args), lineage.order_detail, args.order_id)


def cmd_orders_list(args: argparse.Namespace) -> int:
    from artfactory.engine.status import OrderStatus
    from artfactory.models import Order
    from artfactory.services import lineage

    if args.status and args.status not in {status.value for status in OrderStatus}:
        raise CliError(f"--status {args.status!r} is not an order status (one of: {', '.join(OrderStatus)})")
    library = _open_and_recover(args)
    with library.db.session() as db:
        query = db.query(Order)
        if args.status:
            query = query.filter(Order.status == args.status)
        query = query.order_by(Order.created_at.desc(), Order.id.desc())
        if args.limit:
            query = query.limit(args.limit)
        orders = [lineage.order_summary(db, o) for o in query]

    def human() -> None:
        out = table(f"{len(orders)} orders", ("id", "name", "status", "nodes", "parent", "created"))
        for o in orders:
            status = o["status"]
            out.add_row(o["id"], escape(o["name"] or ""), f"[{STATUS_STYLE[status]}]{status}[/]",
                        str(o["nodes"]), o["parent_order_id"] or "", o["created_at"])
        console().print(out)

    emit(args, {"orders": orders}, human)
    return EXIT_OK
