"""`prices list|set|delete|refresh`: the price book (shipped, provider-published and the user's own prices)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from artfactory.cli.common import EXIT_OK, CliError, emit, open_library
from artfactory.cli.output import console, escape, table

if TYPE_CHECKING:
    from artfactory.providers.registry import ProviderSpec


def _provider(name: str) -> ProviderSpec:
    from artfactory.providers import registry

    try:
        return registry.get(name)
    except registry.UnknownProvider as exc:
        raise CliError(str(exc)) from None


def cmd_prices_list(args: argparse.Namespace) -> int:
    from artfactory.providers.pricing import PriceBook

    library = open_library(args)
    prices = PriceBook(library).prices()
    if args.provider:
        _provider(args.provider)
        prices = [p for p in prices if p.provider == args.provider]
    if not args.all:
        prices = [p for p in prices if not p.overridden_by]
    data = {"prices": [p.as_dict() for p in prices]}

    def human() -> None:
        grid = table("Prices", ("provider", "model", "price", "unit", "source", "as of"))
        grid.columns[1].overflow = "fold"  # a model id is never cut short
        for p in prices:
            style = "dim" if p.overridden_by else ""
            source = f"{p.source} (overridden by {p.overridden_by})" if p.overridden_by else p.source
            grid.add_row(*(f"[{style}]{escape(v)}[/]" if style else escape(v)
                           for v in (p.provider, p.model, f"${p.usd:g}", p.unit, source, p.as_of)))
        console().print(grid)

    emit(args, data, human)
    return EXIT_OK


def cmd_prices_set(args: argparse.Namespace) -> int:
    from artfactory.providers.pricing import set_user_price
    from artfactory.services.prices import PriceError

    spec = _provider(args.provider)
    library = open_library(args, writes=True)
    try:
        price = set_user_price(library, spec.id, args.model, args.usd, args.unit, args.note or "")
    except PriceError as exc:
        raise CliError(str(exc)) from None
    emit(args, {"price": price.as_dict()},
         lambda: print(f"{price.provider} {price.model}: {price.usd:g} USD per {price.unit} (your price)"))
    return EXIT_OK


def cmd_prices_delete(args: argparse.Namespace) -> int:
    from artfactory.providers.pricing import PriceBook, delete_user_price

    spec = _provider(args.provider)
    library = open_library(args, writes=True)
    if not delete_user_price(library, spec.id, args.model):
        raise CliError(f"you set no price for {spec.id} {args.model!r} (see `artfactory prices list`)")
    now = PriceBook(library).price_for(spec.id, args.model)
    data: dict[str, Any] = {"deleted": {"provider": spec.id, "model": args.model},
                            "price": now.as_dict() if now else None}
    emit(args, data, lambda: print(f"{spec.id} {args.model}: your price removed; now "
                                   + (f"{now.usd:g} USD per {now.unit} ({now.source})" if now else "unpriced")))
    return EXIT_OK


def cmd_prices_refresh(args: argparse.Namespace) -> int:
    from artfactory.providers.pricing import refresh_published

    providers = [_provider(args.provider).id] if args.provider else None
    library = open_library(args, writes=True)
    notes: list[str] = []
    saved = refresh_published(library, providers, notes)
    for note in notes:  # what was skipped and why: on stderr, so --json stays one document
        print(f"artfactory: {note}", file=sys.stderr)
    emit(args, {"prices": [p.as_dict() for p in saved], "notes": notes},
         lambda: print(f"{len(saved)} published price{'s' if len(saved) != 1 else ''} stored"))
    return EXIT_OK


def add_commands(command: Any, actions: Any, common: argparse.ArgumentParser) -> None:
    """The `prices` sub-commands, on the CLI's parser (see parser.py)."""
    from artfactory.cli.plan import non_negative_usd
    from artfactory.engine.cost import UNITS

    psub = actions(command("prices", "list and set the prices that estimate and record what runs cost"))
    plist = psub.add_parser("list", parents=[common], help="the price of each model and where it comes from")
    plist.add_argument("provider", nargs="?")
    plist.add_argument("--all", action="store_true", help="also the prices a stronger source overrides")
    plist.set_defaults(handler=cmd_prices_list)
    pset = psub.add_parser("set", parents=[common], help="your own price of a model (wins over the others)")
    pset.add_argument("provider")
    pset.add_argument("model")
    pset.add_argument("usd", type=non_negative_usd, metavar="USD")
    pset.add_argument("--unit", required=True, choices=UNITS)
    pset.add_argument("--note", default="")
    pset.set_defaults(handler=cmd_prices_set)
    pdel = psub.add_parser("delete", parents=[common], help="remove your price of a model")
    pdel.add_argument("provider")
    pdel.add_argument("model")
    pdel.set_defaults(handler=cmd_prices_delete)
    pref = psub.add_parser("refresh", parents=[common], help="read the prices providers publish (costs nothing)")
    pref.add_argument("provider", nargs="?")
    pref.set_defaults(handler=cmd_prices_refresh)
