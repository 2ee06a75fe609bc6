"""The argument parser, with every sub-command bound to its handler (`args.handler`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from artfactory.cli import keys, nodes, orders, plan, prices, products, run, templates, transfer, validate
from artfactory.cli.common import CliError, positive_int


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message}")


def _common() -> _Parser:
    # Added to every sub-command with SUPPRESS defaults, so the options work before or after the command.
    common = _Parser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="library root folder")
    common.add_argument("--database", default=argparse.SUPPRESS, metavar="URL",
                        help="library database, e.g. postgresql://user@host/name (the password from the keychain); "
                             "default: ARTFACTORY_DATABASE_URL, the settings, else library.sqlite3 in the library root")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON document on stdout")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="artfactory", description="Art Factory — AI media pipelines as node graphs.",
                     parents=[common])
    parser.add_argument("--selftest", action="store_true", help="check this installation end to end and exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.set_defaults(handler=None)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    def actions(parent: argparse.ArgumentParser) -> argparse._SubParsersAction[_Parser]:
        return parent.add_subparsers(dest="action", required=True, parser_class=_Parser)

    def budget(parent: argparse.ArgumentParser) -> None:
        parent.add_argument("--max-usd", type=plan.non_negative_usd, default=None, metavar="N",
                            help="send nothing when the estimated cost is above N USD (see `plan`)")
        parent.add_argument("--allow-unpriced", action="store_true",
                            help="run paid nodes that have no price although a budget applies")

    rn = command("run", "run a graph document")
    rn.add_argument("graph", type=Path)
    rn.add_argument("--project", default="Default")
    rn.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    rn.add_argument("--reroll", action="store_true", help="new random seeds for seed=-1 nodes")
    rn.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="NODE.PARAM=V1,V2,...",
                    help="run NODE once per value (each parsed like --set); twice makes rows × columns")
    rn.add_argument("--only", action="append", default=None, metavar="NODE",
                    help="run only this node and what it needs (repeatable)")
    budget(rn)
    rn.set_defaults(handler=run.cmd_run)

    rerun = command("rerun", "run an earlier order again, with tweaks")
    rerun.add_argument("order_id")
    rerun.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    rerun.add_argument("--reroll", action="store_true")
    budget(rerun)
    rerun.set_defaults(handler=run.cmd_rerun)

    resume = command("resume", "finish interrupted orders")
    resume.add_argument("order_ids", nargs="*")
    budget(resume)
    resume.set_defaults(handler=run.cmd_resume)

    pl = command("plan", "what a run would execute, take from the cache and cost; sends nothing")
    pl.add_argument("graph", type=Path)
    pl.add_argument("--project", default="Default")
    pl.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    pl.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="NODE.PARAM=V1,V2,...",
                    help="as `run --sweep`: what the sweep would execute and cost")
    pl.set_defaults(handler=plan.cmd_plan)

    prices.add_commands(command, actions, common)

    check = command("validate", "check a graph document without running it")
    check.add_argument("graph", type=Path)
    check.set_defaults(handler=validate.cmd_validate)

    products_sub = actions(command("products", "list, show or trace products"))
    plist = products_sub.add_parser("list", parents=[common])
    plist.add_argument("--order")
    plist.add_argument("--collection")
    plist.add_argument("--search")
    plist.add_argument("--project")
    plist.add_argument("--limit", type=positive_int, default=None)
    plist.set_defaults(handler=products.cmd_products_list)
    pshow = products_sub.add_parser("show", parents=[common])
    pshow.add_argument("product_id")
    pshow.set_defaults(handler=products.cmd_products_show)
    pancestry = products_sub.add_parser("ancestry", parents=[common],
                                        help="walk back from a product through what it was made from")
    pancestry.add_argument("product_id")
    pancestry.set_defaults(handler=products.cmd_products_ancestry)

    orders_sub = actions(command("orders", "list or show orders"))
    olist = orders_sub.add_parser("list", parents=[common])
    olist.add_argument("--limit", type=positive_int, default=None)
    olist.add_argument("--status")
    olist.set_defaults(handler=orders.cmd_orders_list)
    oshow = orders_sub.add_parser("show", parents=[common])
    oshow.add_argument("order_id")
    oshow.set_defaults(handler=orders.cmd_orders_show)

    imp = command("import", "import image or video files (or folders) as products")
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument("--project", default="Default")
    imp.add_argument("--collection")
    imp.set_defaults(handler=transfer.cmd_import)

    exp = command("export", "export products with lineage sidecars")
    exp.add_argument("product_ids", nargs="+")
    exp.add_argument("--to", dest="to", type=Path, required=True)
    exp.set_defaults(handler=transfer.cmd_export)

    tsub = actions(command("templates", "list, save and instantiate templates"))
    tsub.add_parser("list", parents=[common]).set_defaults(handler=templates.cmd_templates_list)
    tsave = tsub.add_parser("save", parents=[common])
    tsave.add_argument("graph", type=Path)
    tsave.add_argument("--name")
    tsave.add_argument("--description", default="")
    tsave.set_defaults(handler=templates.cmd_templates_save)
    tinst = tsub.add_parser("instantiate", parents=[common])
    tinst.add_argument("name")
    tinst.add_argument("--to", dest="to", type=Path)
    tinst.add_argument("--force", action="store_true", help="overwrite the --to file if it exists")
    tinst.set_defaults(handler=templates.cmd_templates_instantiate)

    ksub = actions(command("keys", "manage provider API keys in the system keychain"))
    key_handlers = {"set": keys.cmd_keys_set, "delete": keys.cmd_keys_delete, "status": keys.cmd_keys_status,
                    "test": keys.cmd_keys_test}
    for action, handler in key_handlers.items():
        kp = ksub.add_parser(action, parents=[common])
        kp.add_argument("provider", choices=keys.provider_choices())
        if action == "set":
            kp.add_argument("--stdin", action="store_true", help="read the key from standard input")
        kp.set_defaults(handler=handler)

    catalogue = command("nodes", "list the node catalogue")
    catalogue.add_argument("type", nargs="?")
    catalogue.set_defaults(handler=nodes.cmd_nodes)

    from artfactory.cli import queue  # the queue group's whole registration

    queue.add_commands(command, actions, common, budget)

    from artfactory.cli import library  # the library group's whole registration

    library.add_commands(command, actions, common)

    from artfactory.cli import spend  # here, not above: this block is the spend command's whole registration

    sp = command("spend", "what the library's runs cost (by day, provider, model, collection, order)")
    sp.add_argument("--since", type=spend.since_date, default=None, metavar="YYYY-MM-DD")
    sp.add_argument("--project", default=None, help="only this project's orders")
    sp.set_defaults(handler=spend.cmd_spend)
    return parser
