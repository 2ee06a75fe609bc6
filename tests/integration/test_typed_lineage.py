"""Typed statuses, lineage and progress end to end: what the executor, the database and the CLI emit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.nodetypes import NodeType, Port
from artfactory.engine.registry import NodeRegistry
from artfactory.engine.status import NodeProgress, NodeStatus, OrderStatus
from artfactory.models import Order, OrderItem
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.support import toy_nodes
from tests.support.cli import GRAPHS, run_cli

# DESIGN §8's `products show` document; more keys may follow, these must be there.
PRODUCT_SHOW_KEYS = {"id", "order_id", "node_id", "path", "media_type", "width", "height", "sha256", "params", "graph",
                     "collections"}


def _halves(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    ctx.progress(40, "first half")
    ctx.progress(250, "past full")  # clamped
    return {"value": [1.0]}


HALVES = NodeType(type="toy.halves", title="Halves", run=_halves, outputs=(Port("value", "number"),))


pytestmark = pytest.mark.usefixtures("db_backend")  # SQLite and PostgreSQL


@pytest.fixture
def session(library_home: Path) -> Any:
    library = Library.open(library_home,
                           registry=NodeRegistry([toy_nodes.SOURCE, toy_nodes.SUM, toy_nodes.SEEDED, HALVES]))
    yield HeadlessSession(library, limits={"toy": 4})
    library.close()


def _diamond(fail: str = "", sleep_ms: int = 0) -> GraphDocument:
    return GraphDocument(
        nodes=[NodeSpec("s", "toy.source"), NodeSpec("slow", "toy.sum", {"sleep_ms": sleep_ms}),
               NodeSpec("fast", "toy.sum", {"fail": fail}), NodeSpec("join", "toy.sum")],
        edges=[EdgeSpec("s", "value", "slow", "a"), EdgeSpec("s", "value", "fast", "a"),
               EdgeSpec("slow", "value", "join", "a"), EdgeSpec("fast", "value", "join", "b")],
    )


def _run(session: HeadlessSession, doc: GraphDocument, **kwargs: Any) -> tuple[str, str]:
    return session.run(session.plan(doc), project_id=session.library.project_id(), **kwargs)


def test_every_status_the_executor_and_database_emit_is_a_member(session: HeadlessSession) -> None:
    from PyQt6.QtCore import QTimer

    finished: list[tuple[str, str]] = []
    session.signals.node_finished.connect(lambda _o, _n, status, _e: finished.append(("node", status)))
    session.signals.order_finished.connect(lambda _o, status: finished.append(("order", status)))
    failed_id, status = _run(session, _diamond(fail="boom"))
    assert status == OrderStatus.PARTIAL
    _run(session, _diamond(fail="boom"))  # the same again: the good nodes are cached
    canceled_id, status = _run(session, _diamond(sleep_ms=30_000),
                               on_runner=lambda runner: QTimer.singleShot(200, runner.cancel))
    assert status == OrderStatus.CANCELED
    library = session.library
    with library.db.session() as db:
        stored_nodes = set(db.scalars(select(OrderItem.status).distinct()))
        stored_orders = set(db.scalars(select(Order.status).distinct()))
        result = lineage.run_result(library, db, failed_id)
        detail = lineage.order_detail(library, db, canceled_id)
        summary = lineage.order_summary(db, db.get(Order, failed_id))
    assert {"executed", "cached", "failed", "skipped", "canceled"} <= stored_nodes <= set(NodeStatus)
    assert {"partial", "canceled"} <= stored_orders <= set(OrderStatus)
    assert {s for kind, s in finished if kind == "node"} <= set(NodeStatus)
    assert {s for kind, s in finished if kind == "order"} <= set(OrderStatus)
    # The lineage answers carry the enums themselves, not loose strings.
    assert result["status"] is OrderStatus.PARTIAL
    assert result["nodes"]["fast"]["status"] is NodeStatus.FAILED
    assert result["nodes"]["join"]["status"] is NodeStatus.SKIPPED
    assert detail["status"] is OrderStatus.CANCELED
    assert all(isinstance(item["status"], NodeStatus) for item in detail["items"])
    assert summary["node_counts"] == {NodeStatus.EXECUTED: 2, NodeStatus.FAILED: 1, NodeStatus.SKIPPED: 1}
    assert all(type(status) is NodeStatus for status in summary["node_counts"])


def test_the_executor_reports_progress_as_one_typed_value(session: HeadlessSession) -> None:
    reports: list[object] = []
    session.signals.node_progress.connect(reports.append)
    order_id, status = _run(session, GraphDocument(nodes=[NodeSpec("h", "toy.halves")]))
    assert status == OrderStatus.SUCCEEDED
    assert reports == [NodeProgress(order_id, "h", 40.0, "first half"), NodeProgress(order_id, "h", 100.0, "past full")]


def test_cli_json_statuses_are_members(library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    assert run["status"] in set(OrderStatus)
    assert {node["status"] for node in run["nodes"].values()} <= set(NodeStatus)
    listed = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert [o["status"] for o in listed] == ["succeeded"] and set(listed[0]["node_counts"]) <= set(NodeStatus)
    assert run_cli(capsys, "orders", "list", "--status", "succeeded", "--json").json["orders"][0]["id"] == \
        run["order_id"]
    wrong = run_cli(capsys, "orders", "list", "--status", "done")
    assert wrong.code == 2 and "'done' is not an order status" in wrong.err and "Traceback" not in wrong.err


def _price(library_home: Path, order_id: str, costs: dict[str, tuple[float, str]]) -> None:
    library = Library.open(library_home)
    try:
        with library.db.engine.begin() as conn:
            for node_id, (usd, source) in costs.items():
                conn.execute(update(OrderItem).where(OrderItem.order_id == order_id, OrderItem.node_id == node_id)
                             .values(cost_usd=usd, cost_source=source))
    finally:
        library.close()


def test_products_show_and_orders_show_carry_the_cost(library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    order_id = run["order_id"]
    gen_product = run["nodes"]["gen"]["products"][0]
    unpriced = run_cli(capsys, "orders", "show", order_id, "--json").json
    assert unpriced["cost_usd"] is None and {i["cost_usd"] for i in unpriced["items"]} == {None}
    before = run_cli(capsys, "products", "show", gen_product, "--json").json
    assert before["cost_usd"] is None and before["cost_source"] is None

    _price(library_home, order_id, {"gen": (0.04, "provider"), "small": (0.0025, "estimate")})
    shown = run_cli(capsys, "products", "show", gen_product, "--json").json
    assert set(shown) >= PRODUCT_SHOW_KEYS
    assert (shown["cost_usd"], shown["cost_source"]) == (0.04, "provider")
    assert shown["order_status"] == "succeeded" and isinstance(shown["collections"], list)
    assert shown["graph"]["nodes"] and shown["params"]["seed"] >= 0
    order = run_cli(capsys, "orders", "show", order_id, "--json").json
    items = {i["node_id"]: (i["cost_usd"], i["cost_source"]) for i in order["items"]}
    assert items["gen"] == (0.04, "provider") and items["small"] == (0.0025, "estimate")
    assert items["prompt"] == (None, None)
    assert order["cost_usd"] == pytest.approx(0.0425)


def test_product_lineage_is_a_frozen_dataclass_whose_json_is_products_show(
        library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    run = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    product_id = run["nodes"]["small"]["products"][0]
    _price(library_home, run["order_id"], {"small": (0.5, "estimate")})
    library = Library.open(library_home)
    try:
        with library.db.session() as db:
            record = lineage.product_lineage(library, db, product_id)
            as_json = lineage.product_detail(library, db, product_id)
            with pytest.raises(lineage.NotFound, match="no product 'nope'"):
                lineage.product_lineage(library, db, "nope")
    finally:
        library.close()
    assert isinstance(record, lineage.ProductLineage)
    assert record.order_status is OrderStatus.SUCCEEDED and record.node_id == "small"
    assert record.cost_usd == 0.5 and record.cost_source == "estimate"
    assert isinstance(record.collections, tuple) and record.graph is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.rating = 3  # type: ignore[misc]
    assert as_json == record.to_json()
    assert as_json == run_cli(capsys, "products", "show", product_id, "--json").json
