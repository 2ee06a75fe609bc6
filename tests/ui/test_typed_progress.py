"""Typed progress and statuses in the run controller, the runs panel and the CLI's live table; cost in the lineage."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from artfactory.controllers.run_controller import NodeRow, OrderInfo, RunController
from artfactory.engine.status import NodeProgress, NodeStatus, OrderStatus
from artfactory.services.library import Library
from artfactory.services.product_records import ProductLineage
from artfactory.signals import DomainSignals
from artfactory.views.panels.runs_panel import NODE_ROLE, PERCENT_ROLE, RunsPanel
from artfactory.views.viewer.media import LineagePanel, cost_text


@pytest.fixture
def runs(library_home: Path) -> Any:
    library = Library.open(library_home)
    controller = RunController(library)
    yield controller
    library.close()


def test_the_run_controller_and_runs_panel_take_typed_progress(qtbot: Any, runs: RunController) -> None:
    panel = RunsPanel(runs)
    qtbot.addWidget(panel)
    runs.orders["o1"] = OrderInfo("o1", "poster", OrderStatus.RUNNING, time.time(), {"gen": NodeRow("o1", "gen")})
    runs.order_added.emit("o1")
    signals = runs.executor.signals
    signals.node_started.emit("o1", "gen")
    signals.node_progress.emit(NodeProgress("o1", "gen", 40.0, "denoising"))
    row = runs.orders["o1"].nodes["gen"]
    assert row.status is NodeStatus.RUNNING and row.progress == NodeProgress("o1", "gen", 40.0, "denoising")
    order_item = panel.tree.topLevelItem(0)
    assert order_item is not None
    child = order_item.child(0)
    assert child is not None and child.data(0, NODE_ROLE) == "gen"
    assert (child.text(1), child.data(2, PERCENT_ROLE), child.toolTip(0)) == ("running", 40.0, "denoising")

    signals.node_finished.emit("o1", "gen", "executed", "")  # a Qt signal carries the string; it comes back typed
    assert row.status is NodeStatus.EXECUTED and row.percent == 100.0
    assert (child.text(1), child.data(2, PERCENT_ROLE)) == ("executed", 100.0)
    signals.order_finished.emit("o1", "succeeded")
    assert runs.orders["o1"].status is OrderStatus.SUCCEEDED and order_item.text(1) == "succeeded"
    assert runs.active_orders() == []


def test_a_failed_node_keeps_the_bar_where_it_stopped(qtbot: Any, runs: RunController) -> None:
    runs.orders["o2"] = OrderInfo("o2", "g", OrderStatus.RUNNING, time.time(), {"n": NodeRow("o2", "n")})
    signals = runs.executor.signals
    signals.node_started.emit("o2", "n")
    signals.node_progress.emit(NodeProgress("o2", "n", 62.5, "step 5/8"))
    signals.node_finished.emit("o2", "n", "failed", "provider said no")
    row = runs.orders["o2"].nodes["n"]
    assert (row.status, row.percent, row.error) == (NodeStatus.FAILED, 62.5, "provider said no")
    assert runs.orders["o2"].done == 1


def test_the_cli_live_table_takes_typed_progress() -> None:
    from artfactory.cli.output import LiveProgress

    signals = DomainSignals()
    live = LiveProgress(SimpleNamespace(signals=signals), ["a", "b"], "o1")
    signals.node_started.emit("o1", "a")
    signals.node_progress.emit(NodeProgress("o1", "a", 30.0, "uploading"))
    assert live.rows["a"].status is NodeStatus.RUNNING and live.rows["a"].progress.percent == 30.0
    assert live.rows["a"].progress.message == "uploading"
    signals.node_finished.emit("o1", "a", "cached", "")
    signals.node_finished.emit("o1", "b", "skipped", "upstream failed")
    assert (live.rows["a"].status, live.rows["a"].progress.percent) == (NodeStatus.CACHED, 100.0)
    assert (live.rows["b"].status, live.rows["b"].progress.percent) == (NodeStatus.SKIPPED, 0.0)
    assert live.rows["b"].progress.message == "upstream failed"


def _lineage(**changes: Any) -> ProductLineage:
    base = ProductLineage(
        id="p1", node_id="gen", path="/tmp/p1.png", media_type="image", width=64, height=48, sha256="0" * 64,
        order_id="o1", order_item_id="i1", node_type="provider.fal", mime="image/png", size_bytes=2048,
        duration=None, name="gen-1", prompt="a fox", seed=7, provider="fal", model="flux", params={"seed": 7},
        metadata={}, rating=0, favourite=False, created_at="2026-01-02T03:04:05Z",
        order_status=OrderStatus.PARTIAL, parent_order_id=None, graph={"nodes": []}, collections=("Keep",),
        cost_usd=0.04, cost_source="provider")
    return ProductLineage(**{**base.__dict__, **changes})


def test_the_lineage_panel_shows_the_typed_record_with_its_cost(qtbot: Any) -> None:
    panel = LineagePanel()
    qtbot.addWidget(panel)
    panel.show_detail(_lineage())
    assert panel.value("cost") == "$0.04 (reported by the provider)"
    assert "partial" in panel.value("order") and panel.value("collections") == "Keep"
    assert panel.value("node") == "gen (provider.fal)"
    panel.show_detail(_lineage(cost_usd=None, cost_source=None, order_id=None, order_status=None))
    assert panel.value("cost") == "—" and panel.value("order") == "imported"


def test_cost_text() -> None:
    assert cost_text(0.5, "estimate") == "$0.50 (estimate)"
    assert cost_text(0.0025, "provider") == "$0.0025 (reported by the provider)"
    assert cost_text(12.3, "estimate") == "$12.30 (estimate)"
    assert cost_text(0.0, "provider") == "$0.00 (reported by the provider)"
    assert cost_text(None, "estimate") == "not priced"
