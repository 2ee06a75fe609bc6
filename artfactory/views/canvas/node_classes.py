"""NodeGraphQt node classes generated from our node types: typed, colour-coded ports and a stable-id property."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from artfactory.engine.graph_power import REROUTE
from artfactory.engine.nodetypes import NodeType
from artfactory.engine.registry import NodeRegistry
from artfactory.views import icons, theme
from artfactory.views.canvas import compat
from artfactory.views.canvas.node_item import ArtNodeItem, RerouteItem, port_painter, rim_port

NodeGraphQt = compat.import_nodegraphqt()
BaseNode = NodeGraphQt.BaseNode
HIDDEN = NodeGraphQt.constants.NodePropWidgetEnum.HIDDEN.value
STABLE_ID = "af_id"  # the NodeGraphQt property that carries our node id (NodeGraphQt's own ids change on load)
UNKNOWN_FAMILY = "Unknown"


def _word(text: str) -> str:
    return re.sub(r"\W", "_", text) or "_"


def ng_type_name(type_name: str) -> str:
    """NodeGraphQt's type string for one of ours: the family becomes the search menu's folder."""
    family, _, name = type_name.partition(".")
    return f"{_word(family).capitalize()}.{_word(name or family)}"


class ArtNode(BaseNode):  # type: ignore[misc, valid-type]
    """Base of the generated classes; `AF_TYPE` names our node type."""

    __identifier__ = "artfactory"
    NODE_NAME = "Node"
    AF_TYPE = ""
    AF_FAMILY = ""
    AF_DOC = ""
    AF_INPUTS: tuple[tuple[str, str, bool], ...] = ()  # (name, kind, optional)
    AF_OUTPUTS: tuple[tuple[str, str], ...] = ()
    ITEM: type[ArtNodeItem] = ArtNodeItem  # how the node is drawn (a reroute is a dot)

    def __init__(self) -> None:
        super().__init__(qgraphics_item=self.ITEM)
        dot = issubclass(self.ITEM, RerouteItem)
        for name, kind, optional in self.AF_INPUTS:
            self.add_input(name, color=theme.PORT_COLORS.get(kind, (150, 150, 150)),
                           painter_func=rim_port if dot else port_painter(optional))
        for name, kind in self.AF_OUTPUTS:
            self.add_output(name, color=theme.PORT_COLORS.get(kind, (150, 150, 150)),
                            painter_func=rim_port if dot else port_painter(False))
        self.create_property(STABLE_ID, "", widget_type=HIDDEN)
        view = self.view
        view.family = self.AF_FAMILY
        view.description = self.AF_DOC
        view.text_color = (236, 238, 242, 255)
        family_icon = theme.FAMILY_ICONS.get(self.AF_FAMILY, "node")
        view.family_pixmap = icons.pixmap(family_icon, 15, "#ffffff")


def summary(node_type: NodeType | None, params: dict[str, Any], limit: int = 3) -> list[str]:
    """The node's key settings for its face: text params quoted, the rest as "name value" pairs.

    Values set in the document come first; defaults only show when nothing is set.
    """
    if node_type is None:
        return []
    lines: list[str] = []
    pairs: list[str] = []
    explicit = [p for p in node_type.params if p.name in params] or list(node_type.params)
    for param in explicit:
        value = params.get(param.name, param.default)
        if param.kind == "text":
            text = " ".join(str(value or "").split())
            if text:
                lines.append(f"“{text}”")
        elif param.kind == "object":
            if isinstance(value, dict) and value:
                pairs.append(f"{param.name} {{{len(value)}}}")
        elif value not in ("", None):
            shown = "random" if param.name == "seed" and value == -1 else value
            if isinstance(shown, float):
                shown = f"{shown:g}"
            pairs.append(f"{param.name} {shown}")
    line = ""
    for pair in pairs:  # short pairs share a line
        if line and len(line) + len(pair) > 30:
            lines.append(line)
            line = pair
        else:
            line = f"{line} · {pair}" if line else pair
    if line:
        lines.append(line)
    return lines[:limit]


def _describe(node_type: NodeType) -> str:
    lines = [f"<b>{node_type.title}</b> <span style='color:#9296a0'>{node_type.type}</span>"]
    if node_type.doc:
        lines.append(node_type.doc.strip().splitlines()[0])
    ports = [f"in {p.name}: {p.kind}{' (optional)' if p.optional else ''}" for p in node_type.inputs]
    ports += [f"out {p.name}: {p.kind}" for p in node_type.outputs]
    if ports:
        lines.append("<br/>".join(ports))
    return "<br/>".join(lines)


def make_class(node_type: NodeType) -> type[ArtNode]:
    ng_type = ng_type_name(node_type.type)
    identifier, class_name = ng_type.rsplit(".", 1)
    namespace: dict[str, Any] = {
        "__identifier__": identifier,
        "NODE_NAME": node_type.title,
        "AF_TYPE": node_type.type,
        "AF_FAMILY": node_type.family,
        "AF_DOC": _describe(node_type),
        "AF_INPUTS": tuple((p.name, p.kind, p.optional) for p in node_type.inputs),
        "AF_OUTPUTS": tuple((p.name, p.kind) for p in node_type.outputs),
        "ITEM": RerouteItem if node_type.type == REROUTE else ArtNodeItem,
        "__module__": __name__,
    }
    return cast("type[ArtNode]", type(class_name, (ArtNode,), namespace))


def make_unknown_class(serial: int, type_name: str, inputs: Iterable[str],
                       outputs: Iterable[str]) -> type[ArtNode]:
    """A stand-in for a node whose type is not installed, with the ports its links use, so the graph
    still shows (and can be fixed) instead of failing to open."""
    namespace: dict[str, Any] = {
        "__identifier__": UNKNOWN_FAMILY,
        "NODE_NAME": f"Unknown: {type_name}",
        "AF_TYPE": type_name,
        "AF_FAMILY": "unknown",
        "AF_DOC": f"<b>Unknown node type</b> {type_name}<br/>No installed node library provides it.",
        "AF_INPUTS": tuple((name, "media", True) for name in dict.fromkeys(inputs)),
        "AF_OUTPUTS": tuple((name, "media") for name in dict.fromkeys(outputs)),
        "__module__": __name__,
    }
    return cast("type[ArtNode]", type(f"unknown_{serial}", (ArtNode,), namespace))


_CACHE: dict[int, dict[str, type[ArtNode]]] = {}


def classes_for(registry: NodeRegistry) -> dict[str, type[ArtNode]]:
    """{NodeGraphQt type: class} for every registered node type, generated once per registry."""
    key = id(registry)
    if key not in _CACHE or len(_CACHE[key]) != len(registry):
        _CACHE[key] = {ng_type_name(t.type): make_class(t) for t in registry}
    return _CACHE[key]
