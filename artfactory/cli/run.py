"""`run`, `rerun` and `resume`: orders run to the end with a live table, then a summary."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from artfactory.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    emit,
    open_library,
    plan_error,
    status_exit,
    sweep_first,
)
from artfactory.cli.output import LiveProgress, console, print_run, run_result
from artfactory.cli.plan import guard_budget
from artfactory.engine.status import OrderStatus

if TYPE_CHECKING:
    from artfactory.services.library import Library


def _run_and_report(args: argparse.Namespace, library: Library, plan: Any, project_id: int,
                    parent: str | None, reroll: bool) -> int:
    from artfactory.workers.headless import HeadlessSession

    session = HeadlessSession(library)
    live = None if args.json else LiveProgress(session, list(plan.order))
    if live:
        live.live.start()
    try:
        order_id, status = session.run(plan, project_id=project_id, parent_order_id=parent, reroll=reroll,
                                       handle_sigint=True)
    finally:
        if live:
            live.live.stop()
    result = run_result(library, session, order_id)
    emit(args, result, lambda: print_run(result))
    return status_exit(status, session.interrupted)


def cmd_run(args: argparse.Namespace) -> int:
    from artfactory.engine import document as graph_document
    from artfactory.engine.overrides import OverrideError, apply_overrides, apply_sweeps
    from artfactory.engine.plan import PlanError
    from artfactory.services.orders import OrderStore
    from artfactory.workers.headless import HeadlessSession

    library = open_library(args, writes=True)
    doc = graph_document.load(args.graph)
    try:
        doc, _ = apply_overrides(doc, args.sets, library.registry)
        doc = apply_sweeps(doc, getattr(args, "sweeps", []), library.registry)
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    if args.only:
        missing = [n for n in args.only if doc.node(n) is None]
        if missing:
            raise CliError(f"--only: the graph has no node {missing[0]!r}")
    OrderStore(library).recover_interrupted()
    sweep_first(library)
    try:
        plan = HeadlessSession(library).plan(doc, reroll=args.reroll, only=args.only)
    except PlanError as exc:
        raise plan_error(exc) from None
    guard_budget(library, [plan], max_usd=args.max_usd, allow_unpriced=args.allow_unpriced)
    project_id = library.project_id(args.project)
    return _run_and_report(args, library, plan, project_id, None, args.reroll)


def cmd_rerun(args: argparse.Namespace) -> int:
    from artfactory.engine.overrides import OverrideError
    from artfactory.engine.plan import PlanError
    from artfactory.services import lineage
    from artfactory.services.orders import OrderStore
    from artfactory.workers.headless import HeadlessSession

    library = open_library(args, writes=True)
    OrderStore(library).recover_interrupted()
    sweep_first(library)
    try:
        with library.db.session() as db:
            doc, pinned, project_id = lineage.rerun_document(library, db, args.order_id, args.sets, args.reroll)
    except lineage.NotFound as exc:
        raise CliError(str(exc)) from None
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    try:
        plan = HeadlessSession(library).plan(doc, pinned_seeds=pinned, reroll=args.reroll)
    except PlanError as exc:
        raise plan_error(exc) from None
    guard_budget(library, [plan], max_usd=args.max_usd, allow_unpriced=args.allow_unpriced)
    return _run_and_report(args, library, plan, project_id, args.order_id, args.reroll)


def cmd_resume(args: argparse.Namespace) -> int:
    from artfactory.engine import document as graph_document
    from artfactory.engine.plan import PlanError
    from artfactory.services.orders import OrderStore
    from artfactory.workers.headless import HeadlessSession

    library = open_library(args, writes=True)
    store = OrderStore(library)
    store.recover_interrupted()
    sweep_first(library)
    orders = store.interrupted_orders(args.order_ids)
    if args.order_ids and len(orders) != len(set(args.order_ids)):
        found = {o.order_id for o in orders}
        missing = [o for o in args.order_ids if o not in found]
        raise CliError(f"no interrupted order {missing[0]!r}")
    session = HeadlessSession(library)
    results: list[dict[str, Any]] = []
    worst = EXIT_OK
    plans: dict[str, Any] = {}
    for order in orders:
        order_id = order.order_id
        try:
            doc = graph_document.loads(order.snapshot, f"order {order_id}")
            plans[order_id] = session.plan(doc, pinned_seeds=order.pinned_seeds)
        except (PlanError, graph_document.DocumentError) as exc:
            plans[order_id] = exc
    # Every order to resume is held to the budget together, before any of them sends anything.
    guard_budget(library, [p for p in plans.values() if not isinstance(p, Exception)], max_usd=args.max_usd,
                 allow_unpriced=args.allow_unpriced)
    for order in orders:
        order_id, project_id, items = order.order_id, order.project_id, order.items
        plan = plans[order_id]
        if isinstance(plan, Exception):
            store.finish_order(order_id, OrderStatus.FAILED, str(plan))
            results.append({"order_id": order_id, "status": OrderStatus.FAILED, "error": str(plan), "nodes": {},
                            "products": []})
            worst = max(worst, EXIT_FAILED)
            continue
        status = session.resume(order_id, plan, project_id, items, handle_sigint=True)
        results.append(run_result(library, session, order_id))
        worst = max(worst, status_exit(status, session.interrupted))
        if session.interrupted or (session.runner and session.runner.storage_error):  # a full disk fails the next too
            break
    def human() -> None:
        for result in results:
            print_run(result)
        if not results:
            console().print("no interrupted orders")

    emit(args, results, human)
    return worst
