"""`plan`: what a run would execute, take from the cache and cost — and the budget guard run/rerun/resume apply."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from artfactory.cli.common import EXIT_BAD_INPUT, EXIT_OK, CliError, emit, open_library, plan_error
from artfactory.cli.output import console, escape, table

if TYPE_CHECKING:
    from artfactory.engine.plan import Plan
    from artfactory.providers.pricing import PlanEstimate
    from artfactory.services.library import Library

ACTION_STYLE = {"execute": "cyan", "cached": "blue", "bypassed": "italic magenta", "muted": "dim italic"}


def non_negative_usd(text: str) -> float:
    """argparse type of --max-usd: a finite amount of at least 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in USD such as 0.50, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite amount of at least 0, got {text!r}")
    return value


def build_plan_readonly(library: Library, doc: Any) -> Plan:
    """The plan a run of `doc` would make now (seeds as the run would resolve them), writing nothing."""
    from artfactory.engine.plan import PlanError, build_plan
    from artfactory.services.orders import OrderStore

    try:
        return build_plan(doc, library.registry, home=library.home,
                          seed_lookup=OrderStore(library).seed_for_request)
    except PlanError as exc:
        raise plan_error(exc) from None


def cmd_plan(args: argparse.Namespace) -> int:
    from artfactory.engine import document as graph_document
    from artfactory.engine.overrides import OverrideError, apply_overrides, apply_sweeps
    from artfactory.providers.pricing import PriceBook

    # Read-only: a plan needs the cache and the ledger, it writes nothing and sends no request that can cost money.
    library = open_library(args)
    doc = graph_document.load(args.graph)
    try:
        doc, _ = apply_overrides(doc, args.sets, library.registry)
        doc = apply_sweeps(doc, getattr(args, "sweeps", []), library.registry)
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    plan = build_plan_readonly(library, doc)
    estimate = PriceBook(library).estimate_plan(library, plan)
    data = estimate.as_json()
    emit(args, data, lambda: print_plan(estimate))
    return EXIT_OK


def print_plan(estimate: PlanEstimate) -> None:
    from artfactory.providers.pricing import format_usd

    out = console()
    grid = table("Plan", ("node", "action", "bills", "jobs", "model", "estimate"))
    for node_id, node in estimate.nodes.items():
        style = ACTION_STYLE.get(node.action, "default")  # an empty style would be "[]", broken markup
        if not node.paid:
            cost = "free"
        elif node.action == "cached":
            cost = "cached · free"
        elif node.estimated_usd is None:
            cost = "[yellow]unpriced[/]"
        else:
            cost = f"≈ {format_usd(node.estimated_usd)}"
        grid.add_row(escape(node_id), f"[{style}]{node.action}[/]", "yes" if node.paid else "no",
                     "" if node.jobs is None else str(node.jobs), escape(node.model), cost)
    out.print(grid)
    out.print(f"estimated total: [bold]≈ {format_usd(estimate.estimated_usd)}[/]")
    if estimate.unpriced:
        out.print(f"[yellow]unpriced[/]: {escape(', '.join(estimate.unpriced))} "
                  "(set a price with `artfactory prices set`)")
    for node_id, node in estimate.nodes.items():
        for note in node.notes:
            out.print(f"  [dim]{escape(node_id)}: {escape(note)}[/]")


def guard_budget(library: Library, plans: list[Plan], *, max_usd: float | None, allow_unpriced: bool) -> None:
    """Refuse the run (exit 2, code over_budget, nothing sent) when its estimate passes --max-usd or this month's
    budget (setting budget_monthly_usd), or when a paid node that will execute has no price and --allow-unpriced
    is absent. Several plans (resume) are held to the limits together."""
    monthly = float(getattr(library.settings, "budget_monthly_usd", 0.0) or 0.0)
    if max_usd is None and not monthly:
        return
    from artfactory.providers.pricing import PlanEstimate, PriceBook, budget_problem, month_spent

    book = PriceBook(library)
    estimates = [book.estimate_plan(library, plan) for plan in plans]
    combined = PlanEstimate({f"{i}:{n}" if len(plans) > 1 else n: node for i, e in enumerate(estimates)
                             for n, node in e.nodes.items()},
                            round(sum(e.estimated_usd for e in estimates), 6),
                            [n for e in estimates for n in e.unpriced])
    spent = month_spent(library) if monthly else 0.0
    problem = budget_problem(combined, max_usd=max_usd, allow_unpriced=allow_unpriced,
                             monthly_budget=monthly or None, month_spent=spent)
    if problem:
        payload: dict[str, Any] = {"code": "over_budget", "estimated_usd": combined.estimated_usd,
                                   "unpriced": combined.unpriced}
        if max_usd is not None:
            payload["max_usd"] = max_usd
        if monthly:
            payload.update(budget_monthly_usd=monthly, month_spent_usd=spent)
        raise CliError(f"over_budget: {problem}", EXIT_BAD_INPUT, payload)
