"""Rendering for people: status colours, the live run table and the run summary (rich is imported on use)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from artfactory.engine.status import NodeProgress, NodeStatus, OrderStatus, node_status

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from artfactory.services.library import Library

# Keyed by NodeStatus/OrderStatus members; they equal their strings, so a status from JSON finds its style too.
STATUS_STYLE: dict[str, str] = {
    NodeStatus.PENDING: "dim", NodeStatus.RUNNING: "cyan", NodeStatus.EXECUTED: "green", NodeStatus.CACHED: "blue",
    NodeStatus.FAILED: "bold red", NodeStatus.SKIPPED: "yellow", NodeStatus.CANCELED: "magenta",
    OrderStatus.SUCCEEDED: "green", OrderStatus.PARTIAL: "yellow", OrderStatus.INTERRUPTED: "magenta",
    OrderStatus.QUEUED: "dim", NodeStatus.BYPASSED: "italic magenta", NodeStatus.MUTED: "dim italic",
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


@dataclass(frozen=True)
class ProgressRow:
    """One node's line in the live table: its status and its latest progress report (or its error)."""

    status: NodeStatus
    progress: NodeProgress


class LiveProgress:
    """A rich live table of node statuses and progress, fed by the executor's signals."""

    def __init__(self, session: Any, order_nodes: list[str], order_id: str = "") -> None:
        from rich.live import Live

        self.rows: dict[str, ProgressRow] = {
            n: ProgressRow(NodeStatus.PENDING, NodeProgress(order_id, n, 0.0)) for n in order_nodes}
        self.live = Live(self._table(), console=console(stderr=True), refresh_per_second=8, transient=False)
        signals = session.signals
        signals.node_started.connect(self.on_started)
        signals.node_progress.connect(self.on_progress)
        signals.node_finished.connect(self.on_finished)

    def _row(self, order_id: str, node_id: str) -> ProgressRow:
        return self.rows.get(node_id) or ProgressRow(NodeStatus.PENDING, NodeProgress(order_id, node_id, 0.0))

    def on_started(self, order_id: str, node_id: str) -> None:
        self._set(ProgressRow(NodeStatus.RUNNING, NodeProgress(order_id, node_id, 0.0)))

    def on_progress(self, progress: NodeProgress) -> None:
        self._set(replace(self._row(progress.order_id, progress.node_id), progress=progress))

    def on_finished(self, order_id: str, node_id: str, signalled: str, error: str) -> None:
        status = node_status(signalled)
        before = self._row(order_id, node_id).progress
        self._set(ProgressRow(status, replace(before, percent=100.0 if status.made_products else before.percent,
                                              message=error)))

    def _set(self, row: ProgressRow) -> None:
        self.rows[row.progress.node_id] = row
        self.live.update(self._table())

    def _table(self) -> Table:
        from rich.table import Table

        out = Table(title="Run", expand=False)
        out.add_column("node")
        out.add_column("status")
        out.add_column("progress", justify="right")
        out.add_column("message", overflow="fold", max_width=70)
        for node, row in self.rows.items():
            percent, status = row.progress.percent, row.status
            bar = "█" * int(percent / 10) + "·" * (10 - int(percent / 10))
            out.add_row(escape(node), f"[{STATUS_STYLE[status]}]{status}[/]", f"{bar} {percent:3.0f}%",
                        escape(row.progress.message))
        return out


def run_result(library: Library, session: Any, order_id: str) -> dict[str, Any]:
    """The order as stored, corrected by its runner where the library could not be written (disk full)."""
    from artfactory.services import lineage

    with library.db.session() as db:
        result = lineage.run_result(library, db, order_id)
        _add_shared_with(db, order_id, result)
    runner = session.runner
    if runner is not None and runner.order_id == order_id and runner.storage_error:
        print(f"artfactory: error: {runner.storage_error}", file=sys.stderr)
        result = runner.report(result)
    return result


def _add_shared_with(db: Any, order_id: str, result: dict[str, Any]) -> None:
    """A node another run's in-flight execution answered names that run's order (`shared_with`)."""
    from sqlalchemy import select

    from artfactory.models import OrderItem

    rows = db.execute(select(OrderItem.node_id, OrderItem.shared_with).where(
        OrderItem.order_id == order_id, OrderItem.shared_with.is_not(None))).all()
    for node_id, shared_with in rows:
        entry = (result.get("nodes") or {}).get(node_id)
        if isinstance(entry, dict):
            entry["shared_with"] = shared_with


def print_run(result: dict[str, Any]) -> None:
    out = console()
    style = STATUS_STYLE.get(result["status"], "")
    out.print(f"order [bold]{result['order_id']}[/] [{style}]{result['status']}[/]")
    for node, info in result["nodes"].items():
        if info["error"] and info["status"] == NodeStatus.FAILED:
            out.print(f"  [red]{escape(node)}[/]: {escape(info['error'])}")
    for product in result["products"]:
        size = f"{product['width']}×{product['height']}"
        out.print(escape(f"  {product['id']}  {product['node_id']:<14} {size}  {product['path']}"))
