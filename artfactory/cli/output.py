"""Rendering for people: status colours, the live run table and the run summary (rich is imported on use)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from artfactory.services.library import Library

STATUS_STYLE = {
    "pending": "dim", "running": "cyan", "executed": "green", "cached": "blue", "failed": "bold red",
    "skipped": "yellow", "canceled": "magenta", "succeeded": "green", "partial": "yellow",
    "interrupted": "magenta", "queued": "dim",
}


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def escape(text: str) -> str:
    """Node ids, prompts, paths and provider messages are not rich markup ("[00:00<00:01]", "[/INST]")."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def table(title: str, columns: tuple[str, ...], **column_options: Any) -> Table:
    from rich.table import Table

    out = Table(title=title)
    for column in columns:
        out.add_column(column, **column_options)
    return out


class LiveProgress:
    """A rich live table of node statuses and progress, fed by the executor's signals."""

    def __init__(self, session: Any, order_nodes: list[str]) -> None:
        from rich.live import Live

        self.rows: dict[str, list[Any]] = {n: ["pending", 0.0, ""] for n in order_nodes}
        self.live = Live(self._table(), console=console(stderr=True), refresh_per_second=8, transient=False)
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
        from rich.table import Table

        out = Table(title="Run", expand=False)
        out.add_column("node")
        out.add_column("status")
        out.add_column("progress", justify="right")
        out.add_column("message", overflow="fold", max_width=70)
        for node, (status, percent, message) in self.rows.items():
            bar = "█" * int(percent / 10) + "·" * (10 - int(percent / 10))
            out.add_row(escape(node), f"[{STATUS_STYLE.get(status, '')}]{status}[/]", f"{bar} {percent:3.0f}%",
                        escape(message))
        return out


def run_result(library: Library, session: Any, order_id: str) -> dict[str, Any]:
    """The order as stored, corrected by its runner where the library could not be written (disk full)."""
    from artfactory.services import lineage

    with library.db.session() as db:
        result = lineage.run_result(library, db, order_id)
    runner = session.runner
    if runner is not None and runner.order_id == order_id and runner.storage_error:
        print(f"artfactory: error: {runner.storage_error}", file=sys.stderr)
        result = runner.report(result)
    return result


def print_run(result: dict[str, Any]) -> None:
    out = console()
    style = STATUS_STYLE.get(result["status"], "")
    out.print(f"order [bold]{result['order_id']}[/] [{style}]{result['status']}[/]")
    for node, info in result["nodes"].items():
        if info["error"] and info["status"] == "failed":
            out.print(f"  [red]{escape(node)}[/]: {escape(info['error'])}")
    for product in result["products"]:
        size = f"{product['width']}×{product['height']}"
        out.print(escape(f"  {product['id']}  {product['node_id']:<14} {size}  {product['path']}"))
