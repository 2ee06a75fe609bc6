"""Shared set-up of the money UI tests: a fake Replicate, a library pointed at it, a graph with one paid node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artfactory.engine import document as graph_document
from artfactory.providers import pricing
from artfactory.services.library import Library
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.main_window import MainWindow
from tests.fixtures.fake_replicate import FakeReplicate

PRICE = 0.004  # USD per output of the fake's acme/painter, the user's own price in these tests


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, library_home: Path) -> Iterator[FakeReplicate]:
    server = FakeReplicate().start()
    monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.02, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def library(fake: FakeReplicate, library_home: Path, ui_ini: Path) -> Iterator[Library]:
    """The library opened after the fake's settings are written (so runs talk to it)."""
    lib = Library.open(library_home)
    pricing.set_user_price(lib, "replicate", "acme/painter", PRICE, "output")
    yield lib
    lib.close()


def money_doc(lines: int = 4, model: str = "acme/painter") -> graph_document.GraphDocument:
    return graph_document.from_json({
        "format": "artfactory.graph", "version": 1, "name": "money",
        "nodes": [{"id": "p", "type": "prompt.lines",
                   "params": {"text": "\n".join(f"a fox number {i}" for i in range(lines))}},
                  {"id": "gen", "type": "provider.replicate",
                   "params": {"model": model, "input": {"num_outputs": 1}, "seed": 5}},
                  {"id": "small", "type": "transform.resize", "params": {"width": 16, "height": 16}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "media"], "to": ["small", "image"]}],
    }, "money")


def open_money_graph(window: MainWindow, lines: int = 4, model: str = "acme/painter") -> GraphTab:
    return window.add_graph(window.app.new_graph(money_doc(lines, model)))


def badge(tab: GraphTab, node_id: str) -> str:
    item = tab.view.node_item(node_id)
    assert item is not None
    return item.cost_badge.text if item.cost_badge.isVisible() else ""


def wait_badge(qtbot: Any, tab: GraphTab, node_id: str, text: str, timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: badge(tab, node_id) == text, timeout=timeout)


def wait_finished(qtbot: Any, window: MainWindow, tab: GraphTab, timeout: int = 30_000) -> str:
    qtbot.waitUntil(lambda: tab.controller.run_state.order_status not in (None, "queued", "running"),
                    timeout=timeout)
    return str(tab.controller.run_state.order_status)
