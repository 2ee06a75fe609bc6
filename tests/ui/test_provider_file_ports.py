"""On the canvas a provider node shows its model's file fields as typed ports, and keeps their links on reload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtWidgets import QApplication

from artfactory.engine.document import GraphDocument, NodeSpec, loads
from artfactory.engine.validate import validate
from artfactory.services import secrets
from artfactory.services.library import Library
from artfactory.views import theme
from artfactory.views.main_window import MainWindow
from tests.fixtures import fake_replicate
from tests.support.qt import opened_window


@pytest.fixture
def window(qtbot: Any, library: Library, memory_keyring: Any) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


@pytest.fixture
def server(window: MainWindow) -> Iterator[fake_replicate.FakeReplicate]:
    fake = fake_replicate.FakeReplicate().start()
    window.app.library.settings.replicate_base_url = fake.url
    secrets.set_key("replicate", fake_replicate.TOKEN)
    try:
        yield fake
    finally:
        fake.stop()


def _tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    return tab


def _inputs(tab: Any, node_id: str) -> dict[str, Any]:
    return dict(tab.view._nodes[node_id].inputs())


def _linked(tab: Any, node_id: str, port: str) -> list[str]:
    return [tab.view._ids[p.node().id] for p in _inputs(tab, node_id)[port].connected_ports()]


def test_loading_the_schema_adds_typed_ports_that_keep_their_links(qtbot: Any, window: MainWindow,
                                                                   server: fake_replicate.FakeReplicate) -> None:
    doc = GraphDocument(nodes=[NodeSpec("src", "provider.local", {"seed": 1}),
                               NodeSpec("paint", "provider.replicate", {"model": "acme/inpainter"})])
    tab = _tab(window, doc)
    graph = tab.controller
    assert "mask" not in _inputs(tab, "paint")
    assert graph.connect_ports("src", "image", "paint", "mask") is not None  # no such port yet: refused
    tab.view.select(["paint"])
    panel = window.properties
    qtbot.waitUntil(lambda: hasattr(panel, "schema_button") and panel.schema_button.isEnabled(), timeout=2000)
    panel.schema_button.click()
    qtbot.waitUntil(lambda: "mask" in _inputs(tab, "paint"), timeout=10_000)
    # The image port fills "image"; the mask and the list of references get typed ports of their own.
    assert graph.doc.node("paint").params["media_inputs"] == {"mask": "mask", "reference_images": "image[]"}
    ports = _inputs(tab, "paint")
    assert list(ports) == ["prompt", "image", "mask", "reference_images"]
    assert tuple(ports["mask"].color[:3]) == theme.PORT_COLORS["mask"]
    assert tuple(ports["reference_images"].color[:3]) == theme.PORT_COLORS["image"]
    # An image output fits the mask port (converted to one channel at run time); text does not.
    assert graph.connect_ports("src", "image", "paint", "mask") is None
    assert graph.connect_ports("src", "image", "paint", "reference_images") is None
    assert _linked(tab, "paint", "mask") == ["src"]
    assert validate(graph.doc, graph.registry) == [e for e in validate(graph.doc, graph.registry)
                                                   if e.code == "missing_input"]  # only the unlinked prompt
    # Reopened from its file, the node has the ports before its links are drawn: nothing is lost.
    reopened = _tab(window, loads(graph.doc.dumps()))
    assert _linked(reopened, "paint", "mask") == ["src"]
    assert _linked(reopened, "paint", "reference_images") == ["src"]
    # Undo takes the ports away in one step (the links first, then the ports).
    graph.undo_stack.undo()
    graph.undo_stack.undo()
    assert _linked(tab, "paint", "mask") == []
    graph.undo_stack.undo()
    assert "mask" not in _inputs(tab, "paint") and "media_inputs" not in graph.doc.node("paint").params
    assert len(server.requests_to("GET", "/v1/models/acme/inpainter")) == 1
