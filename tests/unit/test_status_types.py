"""Statuses are enums with DESIGN §4's values, progress is one typed value, every status has a colour and a style."""

from __future__ import annotations

import dataclasses
import json

import pytest

from artfactory.engine.status import (
    NODE_DONE,
    NODE_FINISHED,
    NODE_OPEN,
    ORDER_FINISHED,
    ORDER_OPEN,
    NodeProgress,
    NodeStatus,
    OrderStatus,
    node_status,
    order_status,
)

# DESIGN §4, in its order.
NODE_STATUSES = ["pending", "running", "executed", "cached", "failed", "skipped", "canceled"]
# DESIGN §10 (graph power): a bypassed or muted node reports these.
MODE_STATUSES = ["bypassed", "muted"]
ORDER_STATUSES = ["queued", "running", "succeeded", "partial", "failed", "canceled", "interrupted"]


def test_enum_values_are_design_section_4s_lists_in_order() -> None:
    assert [s.value for s in NodeStatus] == NODE_STATUSES + MODE_STATUSES
    assert [s.value for s in OrderStatus] == ORDER_STATUSES


def test_statuses_are_their_strings_in_json_comparisons_and_dict_keys() -> None:
    assert NodeStatus.CACHED == "cached" and f"{OrderStatus.PARTIAL}" == "partial"
    assert str(NodeStatus.FAILED) == "failed"
    assert json.dumps({NodeStatus.EXECUTED: OrderStatus.SUCCEEDED}) == '{"executed": "succeeded"}'
    assert {"skipped": 1}[NodeStatus.SKIPPED] == 1


def test_status_sets_partition_the_enums() -> None:
    assert set(NodeStatus) == NODE_OPEN | NODE_FINISHED and not NODE_OPEN & NODE_FINISHED
    assert {NodeStatus.EXECUTED, NodeStatus.CACHED} == NODE_DONE and NODE_DONE <= NODE_FINISHED
    assert ORDER_OPEN | ORDER_FINISHED | {OrderStatus.INTERRUPTED} == set(OrderStatus)
    assert not ORDER_OPEN & ORDER_FINISHED
    assert NodeStatus.CACHED.made_products and not NodeStatus.FAILED.made_products
    assert NodeStatus.SKIPPED.finished and not NodeStatus.RUNNING.finished
    assert OrderStatus.QUEUED.open and not OrderStatus.INTERRUPTED.open


def test_parsing_a_status_names_an_unknown_one() -> None:
    assert node_status("cached") is NodeStatus.CACHED and order_status(OrderStatus.PARTIAL) is OrderStatus.PARTIAL
    with pytest.raises(ValueError, match="unknown node status 'done'"):
        node_status("done")
    with pytest.raises(ValueError, match="unknown order status 'executed'"):
        order_status("executed")


def test_node_progress_is_frozen_and_clamped_to_a_percent() -> None:
    progress = NodeProgress("o1", "gen", 140.0, "almost")
    assert (progress.order_id, progress.node_id, progress.percent, progress.message) == ("o1", "gen", 100.0, "almost")
    assert NodeProgress("o1", "gen", -3).percent == 0.0 and NodeProgress("o1", "gen", 12).message == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        progress.percent = 5.0  # type: ignore[misc]


def test_every_status_has_a_colour_and_a_cli_style() -> None:
    from artfactory.cli.output import STATUS_STYLE
    from artfactory.views.theme import STATUS_COLORS

    for status in [*NodeStatus, *OrderStatus]:
        assert status in STATUS_COLORS, status
        assert status in STATUS_STYLE, status


def test_the_database_defaults_are_members() -> None:
    from artfactory.models import Order, OrderItem

    order_default = Order.__table__.c.status.default
    item_default = OrderItem.__table__.c.status.default
    assert order_default is not None and order_default.arg == OrderStatus.QUEUED  # type: ignore[attr-defined]
    assert item_default is not None and item_default.arg == NodeStatus.PENDING  # type: ignore[attr-defined]
