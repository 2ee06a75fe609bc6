"""GraphController's link methods leave QObject.connect/disconnect alone (issue 11 item 4)."""

from __future__ import annotations

from PyQt6.QtCore import QObject

from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.registry import default_registry


def test_qobject_disconnect_is_not_shadowed_and_links_use_their_own_names() -> None:
    doc = GraphDocument(name="Links", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a fox"}),
        NodeSpec("gen", "provider.local", {"seed": 1, "width": 64, "height": 64}),
    ])
    ctl = GraphController(default_registry(), doc)
    assert "disconnect" not in vars(GraphController) and "connect" not in vars(GraphController)
    assert ctl.connect_ports("prompt", "text", "gen", "prompt") is None
    edge = EdgeSpec("prompt", "text", "gen", "prompt")
    assert ctl.doc.edges == [edge]
    # Qt's own disconnect on this object: one connection goes, signals keep working.
    heard: list[str] = []
    connection = ctl.message.connect(heard.append)
    assert QObject.disconnect(connection)
    ctl.message.emit("after")
    assert heard == []
    ctl.disconnect_edges([edge])
    assert ctl.doc.edges == []
    ctl.undo_stack.undo()
    assert ctl.doc.edges == [edge]
