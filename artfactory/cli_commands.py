"""The CLI's commands; each returns an exit code and prints via cli.emit."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from artfactory.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError, emit
from artfactory.engine import document as graph_document
from artfactory.engine.document import name_problem
from artfactory.engine.overrides import OverrideError, apply_overrides
from artfactory.engine.plan import PlanError
from artfactory.engine.validate import validate
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.services.write_errors import describe_write_failure, is_write_failure

STATUS_STYLE = {
    "pending": "dim", "running": "cyan", "executed": "green", "cached": "blue", "failed": "bold red",
    "skipped": "yellow", "canceled": "magenta", "succeeded": "green", "partial": "yellow",
    "interrupted": "magenta", "queued": "dim",
}
err_console = Console(stderr=True)


def _open(args: argparse.Namespace, writes: bool = False) -> Library:
    library = Library.open(args.home)
    if writes and library.read_only:  # said up front, not as a database error halfway through
        raise CliError(f"the library at {library.home} is read-only; '{args.command}' needs to write to it "
                       "(validate, products and orders work)", EXIT_FAILED)
    return library


def _sweep(library: Library) -> None:
    """Before a command writes: clear crash leftovers of earlier runs, and say once what moved where."""
    from artfactory.services.sweep import sweep_library

    try:
        message = sweep_library(library).message
    except Exception as exc:  # housekeeping: a failure is said, and the command still runs
        message = f"could not check the library for crash leftovers: {exc}"
    if message:
        print(f"artfactory: {message}", file=sys.stderr)


def _status_exit(status: str, interrupted: bool = False) -> int:
    if interrupted or status == "canceled":
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    return EXIT_OK if status == "succeeded" else EXIT_FAILED


def _plan_error(exc: PlanError) -> CliError:
    return CliError(f"the graph is not valid: {exc}", EXIT_BAD_INPUT,
                    {"errors": [e.to_json() for e in exc.errors]})


class _LiveProgress:
    """A rich live table of node statuses and progress, fed by the executor's signals."""

    def __init__(self, session: Any, order_nodes: list[str]) -> None:
        from rich.live import Live

        self.rows: dict[str, list[Any]] = {n: ["pending", 0.0, ""] for n in order_nodes}
        self.live = Live(self._table(), console=err_console, refresh_per_second=8, transient=False)
        signals = session.signals
        signals.node_started.connect(lambda _o, n: self._set(n, "running", 0.0, ""))
        signals.node_progress.connect(lambda _o, n, p, m: self._set(n, None, p, m))
        signals.node_finished.connect(
            lambda _o, n, s, e: self._set(n, s, 100.0 if s in ("executed", "cached") else None, e))

    def _set(self, node: str, status: str | None, percent: float | None, message: str) -> None:
        row = self.rows.setdefault(node, ["pending", 0.0, ""])
        if status:
            row[0] = status
        if percent is not None:
            row[1] = percent
        row[2] = message
        self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(title="Run", expand=False)
        table.add_column("node")
        table.add_column("status")
        table.add_column("progress", justify="right")
        table.add_column("message", overflow="fold", max_width=70)
        for node, (status, percent, message) in self.rows.items():
            bar = "█" * int(percent / 10) + "·" * (10 - int(percent / 10))
            # Node ids, provider messages and model logs are not markup ("[00:00<00:01]", "[/INST]").
            table.add_row(escape(node), f"[{STATUS_STYLE.get(status, '')}]{status}[/]", f"{bar} {percent:3.0f}%",
                          escape(message))
        return table


def _run_and_report(args: argparse.Namespace, library: Library, plan: Any, project_id: int,
                    parent: str | None, reroll: bool) -> int:
    from artfactory.workers.headless import HeadlessSession

    session = HeadlessSession(library)
    live = None if args.json else _LiveProgress(session, list(plan.order))
    if live:
        live.live.start()
    try:
        order_id, status = session.run(plan, project_id=project_id, parent_order_id=parent, reroll=reroll,
                                       handle_sigint=True)
    finally:
        if live:
            live.live.stop()
    result = _run_result(library, session, order_id)
    emit(args, result, lambda: _print_run(result))
    return _status_exit(status, session.interrupted)


def _run_result(library: Library, session: Any, order_id: str) -> dict[str, Any]:
    """The order as stored, corrected by its runner where the library could not be written (disk full)."""
    with library.db.session() as db:
        result = lineage.run_result(library, db, order_id)
    runner = session.runner
    if runner is not None and runner.order_id == order_id and runner.storage_error:
        print(f"artfactory: error: {runner.storage_error}", file=sys.stderr)
        result = runner.report(result)
    return result


def _print_run(result: dict[str, Any]) -> None:
    console = Console()
    style = STATUS_STYLE.get(result["status"], "")
    console.print(f"order [bold]{result['order_id']}[/] [{style}]{result['status']}[/]")
    for node, info in result["nodes"].items():
        if info["error"] and info["status"] == "failed":
            console.print(f"  [red]{escape(node)}[/]: {escape(info['error'])}")
    for product in result["products"]:
        size = f"{product['width']}×{product['height']}"
        console.print(escape(f"  {product['id']}  {product['node_id']:<14} {size}  {product['path']}"))


def cmd_run(args: argparse.Namespace) -> int:
    library = _open(args, writes=True)
    doc = graph_document.load(args.graph)
    try:
        doc, _ = apply_overrides(doc, args.sets, library.registry)
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    if args.only:
        missing = [n for n in args.only if doc.node(n) is None]
        if missing:
            raise CliError(f"--only: the graph has no node {missing[0]!r}")
    OrderStore(library).recover_interrupted()
    _sweep(library)
    from artfactory.workers.headless import HeadlessSession

    try:
        plan = HeadlessSession(library).plan(doc, reroll=args.reroll, only=args.only)
    except PlanError as exc:
        raise _plan_error(exc) from None
    project_id = library.project_id(args.project)
    return _run_and_report(args, library, plan, project_id, None, args.reroll)


def cmd_rerun(args: argparse.Namespace) -> int:
    library = _open(args, writes=True)
    OrderStore(library).recover_interrupted()
    _sweep(library)
    try:
        with library.db.session() as db:
            doc, pinned, project_id = lineage.rerun_document(library, db, args.order_id, args.sets, args.reroll)
    except lineage.NotFound as exc:
        raise CliError(str(exc)) from None
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    from artfactory.workers.headless import HeadlessSession

    try:
        plan = HeadlessSession(library).plan(doc, pinned_seeds=pinned, reroll=args.reroll)
    except PlanError as exc:
        raise _plan_error(exc) from None
    return _run_and_report(args, library, plan, project_id, args.order_id, args.reroll)


def cmd_resume(args: argparse.Namespace) -> int:
    from artfactory.workers.headless import HeadlessSession

    library = _open(args, writes=True)
    store = OrderStore(library)
    store.recover_interrupted()
    _sweep(library)
    orders = store.interrupted_orders(args.order_ids)
    if args.order_ids and len(orders) != len(set(args.order_ids)):
        found = {o.order_id for o in orders}
        missing = [o for o in args.order_ids if o not in found]
        raise CliError(f"no interrupted order {missing[0]!r}")
    session = HeadlessSession(library)
    results: list[dict[str, Any]] = []
    worst = EXIT_OK
    for order in orders:
        order_id, project_id, items = order.order_id, order.project_id, order.items
        try:
            doc = graph_document.loads(order.snapshot, f"order {order_id}")
            plan = session.plan(doc, pinned_seeds=order.pinned_seeds)
        except (PlanError, graph_document.DocumentError) as exc:
            store.finish_order(order_id, "failed", str(exc))
            results.append({"order_id": order_id, "status": "failed", "error": str(exc), "nodes": {}, "products": []})
            worst = max(worst, EXIT_FAILED)
            continue
        status = session.resume(order_id, plan, project_id, items, handle_sigint=True)
        results.append(_run_result(library, session, order_id))
        worst = max(worst, _status_exit(status, session.interrupted))
        if session.interrupted or (session.runner and session.runner.storage_error):  # a full disk fails the next too
            break
    emit(args, results, lambda: [_print_run(r) for r in results] or Console().print("no interrupted orders"))
    return worst


def cmd_validate(args: argparse.Namespace) -> int:
    # Checking a document needs only the node catalogue, not the library: no database is opened (it works
    # anywhere, read-only or not), and a large document has the process's memory to itself.
    from artfactory.engine.registry import default_registry

    try:
        doc = graph_document.load(args.graph)
    except graph_document.DocumentError as exc:
        message = str(exc)
        data = {"valid": False, "errors": [{"node_id": None, "code": "bad_document", "message": message}]}
        emit(args, data, lambda: Console().print(f"[red]invalid[/]: {escape(message)}"))
        return EXIT_BAD_INPUT
    errors = validate(doc, default_registry())
    data = {"valid": not errors, "errors": [e.to_json() for e in errors]}

    def human() -> None:
        console = Console()
        if not errors:
            console.print(f"[green]valid[/]: {escape(str(args.graph))} "
                          f"({len(doc.nodes)} nodes, {len(doc.edges)} edges)")
        for e in errors:
            console.print(f"[red]{escape(e.node_id or '-')}[/] {escape(f'[{e.code}] {e.message}')}")

    emit(args, data, human)
    return EXIT_OK if not errors else EXIT_BAD_INPUT


def cmd_products(args: argparse.Namespace) -> int:
    library = _open(args)
    with library.db.session() as db:
        if args.action == "show":
            try:
                data = lineage.product_detail(library, db, args.product_id)
            except lineage.NotFound as exc:
                raise CliError(str(exc)) from None
            emit(args, data)
            return EXIT_OK
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
        table = Table(title=f"{len(products)} products")
        for col in ("id", "node", "size", "prompt", "path"):
            table.add_column(col, overflow="fold")
        for p in products:
            table.add_row(p["id"], escape(p["node_id"] or ""), f"{p['width']}×{p['height']}",
                          escape((p["prompt"] or "")[:40]), escape(p["path"]))
        Console().print(table)

    emit(args, {"products": products}, human)
    return EXIT_OK


def cmd_orders(args: argparse.Namespace) -> int:
    from artfactory.models import Order

    library = _open(args)
    try:
        OrderStore(library).recover_interrupted()
    except Exception as exc:  # listing is read-only: a full disk must not stop it
        if not is_write_failure(exc):
            raise
        print(f"artfactory: warning: orders of ended runs not marked interrupted: "
              f"{describe_write_failure(exc, library.home)}", file=sys.stderr)
    with library.db.session() as db:
        if args.action == "show":
            try:
                data = lineage.order_detail(library, db, args.order_id)
            except lineage.NotFound as exc:
                raise CliError(str(exc)) from None
            emit(args, data)
            return EXIT_OK
        query = db.query(Order)
        if args.status:
            query = query.filter(Order.status == args.status)
        query = query.order_by(Order.created_at.desc(), Order.id.desc())
        if args.limit:
            query = query.limit(args.limit)
        orders = [lineage.order_summary(db, o) for o in query]

    def human() -> None:
        table = Table(title=f"{len(orders)} orders")
        for col in ("id", "name", "status", "nodes", "parent", "created"):
            table.add_column(col)
        for o in orders:
            table.add_row(o["id"], escape(o["name"] or ""), f"[{STATUS_STYLE.get(o['status'], '')}]{o['status']}[/]",
                          str(o["nodes"]), o["parent_order_id"] or "", o["created_at"])
        Console().print(table)

    emit(args, {"orders": orders}, human)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from artfactory.services.transfer import import_paths

    library = _open(args, writes=True)
    _sweep(library)
    project_id = library.project_id(args.project)
    problem = name_problem(args.collection, "a collection name") if args.collection else None
    if problem:
        raise CliError(f"--collection: {problem}")
    result = import_paths(library, args.paths, project_id=project_id, collection=args.collection)
    data = {"products": [lineage.product_summary(library, p) for p in result.products],
            "rejected": [{"path": str(path), "reason": reason} for path, reason in result.rejected]}

    def human() -> None:
        console = Console()
        console.print(f"imported {len(result.products)} file(s)")
        for path, reason in result.rejected:
            console.print(f"[red]refused[/] {escape(f'{path}: {reason}')}")

    emit(args, data, human)
    for path, reason in result.rejected:
        print(f"artfactory: refused {path}: {reason}", file=sys.stderr)
    return EXIT_FAILED if result.rejected else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from artfactory.services.transfer import ExportError, export_products

    library = _open(args)
    try:
        files = export_products(library, args.product_ids, args.to)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    emit(args, {"files": [str(f) for f in files]}, lambda: [print(f) for f in files])
    return EXIT_OK


def cmd_templates(args: argparse.Namespace) -> int:
    from artfactory.services import templates

    library = _open(args)
    try:
        if args.action == "list":
            items = templates.list_templates(library)
            data: Any = {"templates": items}

            def human() -> None:
                table = Table(title="templates")
                for col in ("name", "source", "nodes", "description"):
                    table.add_column(col, overflow="fold")
                for t in items:
                    table.add_row(escape(t["name"]), t["source"], str(t["nodes"]), escape(t["description"] or ""))
                Console().print(table)

            emit(args, data, human)
        elif args.action == "save":
            saved = templates.save_template(library, graph_document.load(args.graph), name=args.name,
                                            description=args.description)
            emit(args, saved, lambda: print(f"saved template {saved['name']!r}"))
        else:
            doc = templates.instantiate(library, args.name)
            target = args.to or templates.default_instance_path(library, doc)
            templates.write_instance(doc, target, overwrite=args.force)
            emit(args, {"name": args.name, "path": str(target), "graph": doc.to_json()},
                 lambda: print(f"wrote {target}"))
    except templates.TemplateError as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from artfactory.services import secrets

    try:
        if args.action == "set":
            if args.stdin or not sys.stdin.isatty():
                value = sys.stdin.readline().strip()
            else:
                value = getpass.getpass(f"{args.provider} API key (hidden): ").strip()
            if not value:
                raise CliError("no key given")
            secrets.set_key(args.provider, value)
            data = secrets.key_status(args.provider)
        elif args.action == "delete":
            secrets.delete_key(args.provider)
            data = secrets.key_status(args.provider)
        elif args.action == "test":
            return _test_key(args)
        else:
            data = secrets.key_status(args.provider)
    except secrets.SecretsError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    emit(args, {"provider": args.provider, **data},
         lambda: print(f"{args.provider}: {'set' if data.get('set') else 'not set'} ({data.get('source')})"))
    if data.get("warning") or data.get("error"):  # an unsafe or missing keychain: said even with --json
        print(f"artfactory: {data.get('warning') or data.get('error')}", file=sys.stderr)
    return EXIT_OK


def _test_key(args: argparse.Namespace) -> int:
    """One request that creates nothing: does the provider accept the key?"""
    from artfactory.config import load_settings, resolve_home
    from artfactory.providers.connection import check_connection
    from artfactory.providers.http import ProviderError
    from artfactory.services import secrets

    key = secrets.require_key(args.provider)
    try:
        message = check_connection(args.provider, load_settings(resolve_home(args.home)), key)
    except ProviderError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    emit(args, {"provider": args.provider, "ok": True, "message": message}, lambda: print(message))
    return EXIT_OK


def cmd_nodes(args: argparse.Namespace) -> int:
    from artfactory.engine.registry import default_registry

    registry = default_registry()
    types = [t for t in registry if not args.type or t.type == args.type]
    if args.type and not types:
        raise CliError(f"unknown node type {args.type!r}")
    data = {"nodes": [t.describe() for t in types]}

    def human() -> None:
        table = Table(title="node types")
        for col in ("type", "inputs", "outputs", "params"):
            table.add_column(col, overflow="fold")
        for t in types:
            table.add_row(t.type, ", ".join(f"{p.name}:{p.kind}" for p in t.inputs),
                          ", ".join(f"{p.name}:{p.kind}" for p in t.outputs), ", ".join(p.name for p in t.params))
        Console().print(table)

    emit(args, data, human)
    return EXIT_OK
