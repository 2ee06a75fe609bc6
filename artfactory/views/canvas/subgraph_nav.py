"""Subgraph nodes on the canvas: their node class (ports typed like the inner ones), group and ungroup gestures."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, Protocol, cast

from PyQt6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QToolButton, QWidget

from artfactory.controllers import subgraphs
from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import GraphDocument
from artfactory.views.canvas.node_classes import ArtNode

SUBGRAPH_FAMILY = "subgraph"


class SubgraphCanvas(Protocol):
    controller: GraphController

    def selected_ids(self) -> list[str]: ...
    def select(self, node_ids: list[str]) -> None: ...


def make_class(serial: int, doc: GraphDocument, node_id: str) -> type[ArtNode]:
    """The NodeGraphQt class of one subgraph node: titled by its subgraph, with its subgraph's typed ports."""
    found = subgraphs.subgraph_of(doc, node_id)
    name = found[0] if found else str((spec.params.get("name") if (spec := doc.node(node_id)) else "") or "?")
    ins, outs = subgraphs.ports(doc, node_id)
    count = len(found[1].nodes) if found else 0
    namespace: dict[str, Any] = {
        "__identifier__": "Subgraph",
        "NODE_NAME": name,
        "AF_TYPE": "subgraph",
        "AF_FAMILY": SUBGRAPH_FAMILY,
        "AF_DOC": f"<b>Subgraph</b> {html.escape(name)}<br/>{count} node{'s' if count != 1 else ''} inside; "
                  "double-click to open it, right-click → Ungroup to put them back",
        "AF_INPUTS": tuple((n, kind, False) for n, kind in ins),
        "AF_OUTPUTS": tuple(outs),
        "__module__": __name__,
    }
    return cast("type[ArtNode]", type(f"subgraph_{serial}", (ArtNode,), namespace))


def face(doc: GraphDocument, node_id: str) -> list[str]:
    """The lines a subgraph node shows on its face: how many nodes it holds, and its ports."""
    found = subgraphs.subgraph_of(doc, node_id)
    if found is None:
        return ["no such subgraph in this document"]
    body = found[1]
    lines = [f"{len(body.nodes)} node{'s' if len(body.nodes) != 1 else ''} inside"]
    ins, outs = subgraphs.ports(doc, node_id)
    if ins or outs:
        lines.append(f"{len(ins)} in · {len(outs)} out")
    return lines


def group_selection(canvas: SubgraphCanvas, parent: QWidget | None, name: str | None = None) -> str | None:
    """Group the selected nodes into a subgraph (asking its name unless given); the new node's id, selected."""
    controller = canvas.controller
    node_ids = canvas.selected_ids()
    if not node_ids:
        controller.message.emit("Select the nodes to group into a subgraph first")
        return None
    if name is None:
        text, ok = QInputDialog.getText(parent, "Group into Subgraph", "Subgraph name:",
                                        text=subgraphs.default_name(controller.doc))
        if not ok:
            return None
        name = text
    try:
        outer = subgraphs.group(controller, node_ids, name)
    except subgraphs.GroupError as exc:
        controller.message.emit(f"Cannot group: {exc}")
        return None
    canvas.select([outer])
    return outer


def ungroup(canvas: SubgraphCanvas, node_id: str) -> list[str]:
    """Put a subgraph node's inner nodes back in its place; their ids, selected."""
    controller = canvas.controller
    try:
        added = subgraphs.ungroup_node(controller, node_id)
    except subgraphs.GroupError as exc:
        controller.message.emit(f"Cannot ungroup: {exc}")
        return []
    canvas.select(added)
    return added


def breadcrumb(chain: list[GraphController], go: Callable[[GraphController], object]) -> QWidget:
    """The bar above a subgraph's canvas: "Graph ▸ name ▸ …"; each crumb but the last goes back there."""
    bar = QWidget()
    bar.setObjectName("SubgraphBreadcrumb")
    layout = QHBoxLayout(bar)
    layout.setContentsMargins(8, 3, 8, 3)
    layout.setSpacing(4)
    for index, graph in enumerate(chain):
        if index:
            layout.addWidget(QLabel("▸"))
        text = graph.title().rsplit(" ▸ ", 1)[-1]
        if index == len(chain) - 1:
            label = QLabel(f"<b>{html.escape(text)}</b>")
            label.setObjectName("CrumbHere")
            layout.addWidget(label)
            continue
        button = QToolButton()
        button.setObjectName(f"Crumb{index}")
        button.setText(text)
        button.setAutoRaise(True)
        button.setToolTip("Back to this graph")
        button.clicked.connect(lambda _checked=False, graph=graph: go(graph))
        layout.addWidget(button)
    layout.addStretch(1)
    hint = QLabel("Edits here change the subgraph in its graph (and undo there too)")
    hint.setStyleSheet("color: rgba(200, 204, 212, 150);")
    layout.addWidget(hint)
    return bar


def refresh_face(view: Any, node_id: str) -> None:
    """Redraw a subgraph node's face (its node count) after its inside changed."""
    item = view.node_item(node_id)
    if item is not None:
        item.set_summary(face(view.controller.doc, node_id))
