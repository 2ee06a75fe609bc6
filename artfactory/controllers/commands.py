"""Undo commands for graph edits; each calls the GraphModel write primitives, which emit the change signals."""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtGui import QUndoCommand

from artfactory.controllers.graph_model import GraphModel
from artfactory.engine.document import EdgeSpec, NodeSpec

PARAM_MERGE_ID = 1
# Keystrokes in one field within this window become one undo step, as in any text editor.
PARAM_MERGE_WINDOW_S = 1.5


class AddNode(QUndoCommand):
    def __init__(self, ctl: GraphModel, spec: NodeSpec, index: int, canvas: dict[str, Any], text: str) -> None:
        super().__init__(text)
        self.ctl, self.spec, self.index, self.canvas = ctl, spec, index, canvas

    def redo(self) -> None:
        self.ctl._insert_node(self.spec, self.index, self.canvas)

    def undo(self) -> None:
        self.ctl._delete_node(self.spec.id)


class RemoveNode(QUndoCommand):
    def __init__(self, ctl: GraphModel, node_id: str, text: str) -> None:
        super().__init__(text)
        self.ctl, self.node_id = ctl, node_id
        self.saved: tuple[NodeSpec, int, dict[str, Any] | None] | None = None

    def redo(self) -> None:
        self.saved = self.ctl._delete_node(self.node_id)

    def undo(self) -> None:
        if self.saved is not None:
            self.ctl._insert_node(*self.saved)


class AddEdge(QUndoCommand):
    def __init__(self, ctl: GraphModel, edge: EdgeSpec, text: str) -> None:
        super().__init__(text)
        self.ctl, self.edge = ctl, edge

    def redo(self) -> None:
        self.ctl._insert_edge(self.edge, None)

    def undo(self) -> None:
        self.ctl._delete_edge(self.edge)


class RemoveEdge(QUndoCommand):
    def __init__(self, ctl: GraphModel, edge: EdgeSpec, text: str) -> None:
        super().__init__(text)
        self.ctl, self.edge = ctl, edge
        self.index: int | None = None

    def redo(self) -> None:
        self.index = self.ctl._delete_edge(self.edge)

    def undo(self) -> None:
        self.ctl._insert_edge(self.edge, self.index)


class SetParam(QUndoCommand):
    """A param edit; consecutive edits of the same field merge into one undo step."""

    def __init__(self, ctl: GraphModel, node_id: str, name: str, old: Any, new: Any, text: str) -> None:
        super().__init__(text)
        self.ctl, self.node_id, self.name, self.old, self.new = ctl, node_id, name, old, new
        self.stamp = time.monotonic()

    def id(self) -> int:
        return PARAM_MERGE_ID

    def mergeWith(self, other: QUndoCommand | None) -> bool:
        if not (isinstance(other, SetParam) and (other.node_id, other.name) == (self.node_id, self.name)):
            return False
        if other.stamp - self.stamp > PARAM_MERGE_WINDOW_S:
            return False
        self.new, self.stamp = other.new, other.stamp
        return True

    def redo(self) -> None:
        self.ctl._write_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.ctl._write_param(self.node_id, self.name, self.old)


class SetNodeTitle(QUndoCommand):
    """A node's title on the canvas ("" = the node type's title)."""

    def __init__(self, ctl: GraphModel, node_id: str, old: str, new: str, text: str) -> None:
        super().__init__(text)
        self.ctl, self.node_id, self.old, self.new = ctl, node_id, old, new

    def redo(self) -> None:
        self.ctl._write_title(self.node_id, self.new)

    def undo(self) -> None:
        self.ctl._write_title(self.node_id, self.old)


class SetPositions(QUndoCommand):
    """Moves of nodes and backdrops: {("node"|"backdrop", id): (old, new)}."""

    def __init__(self, ctl: GraphModel, moves: dict[tuple[str, str], tuple[Any, Any]], text: str) -> None:
        super().__init__(text)
        self.ctl, self.moves = ctl, moves

    def redo(self) -> None:
        for (kind, item_id), (_old, new) in self.moves.items():
            self.ctl._write_position(kind, item_id, new)

    def undo(self) -> None:
        for (kind, item_id), (old, _new) in self.moves.items():
            self.ctl._write_position(kind, item_id, old)


class SetBackdrop(QUndoCommand):
    """Adds (old None), changes, or removes (new None) a backdrop."""

    def __init__(self, ctl: GraphModel, backdrop_id: str, old: dict[str, Any] | None,
                 new: dict[str, Any] | None, text: str) -> None:
        super().__init__(text)
        self.ctl, self.backdrop_id, self.old, self.new = ctl, backdrop_id, old, new
        self.index: int | None = None

    def redo(self) -> None:
        self.index = self.ctl._write_backdrop(self.backdrop_id, self.new, self.index)

    def undo(self) -> None:
        self.ctl._write_backdrop(self.backdrop_id, self.old, self.index)


class SetModes(QUndoCommand):
    """Bypass, mute or back to normal for several nodes at once: {node id: (old mode, new mode)}."""

    def __init__(self, ctl: GraphModel, changes: dict[str, tuple[str, str]], text: str) -> None:
        super().__init__(text)
        self.ctl, self.changes = ctl, changes

    def redo(self) -> None:
        for node_id, (_old, new) in self.changes.items():
            self.ctl._write_mode(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _new) in self.changes.items():
            self.ctl._write_mode(node_id, old)


class SetNodeMeta(QUndoCommand):
    """A UI-state value in meta.canvas[node] (None removes it), e.g. a seed param's mode."""

    def __init__(self, ctl: GraphModel, node_id: str, key: str, old: Any, new: Any, text: str) -> None:
        super().__init__(text)
        self.ctl, self.node_id, self.key, self.old, self.new = ctl, node_id, key, old, new

    def redo(self) -> None:
        self.ctl._write_node_meta(self.node_id, self.key, self.new)

    def undo(self) -> None:
        self.ctl._write_node_meta(self.node_id, self.key, self.old)


class SetSeed(SetParam):
    """A seed set on purpose (dice, or the bump after a Run): its own undo step, never merged with typing."""

    def id(self) -> int:
        return -1


class SetParamInputs(QUndoCommand):
    """Which params of a node are input ports ("param:NAME")."""

    def __init__(self, ctl: GraphModel, node_id: str, old: list[str], new: list[str], text: str) -> None:
        super().__init__(text)
        self.ctl, self.node_id, self.old, self.new = ctl, node_id, old, new

    def redo(self) -> None:
        self.ctl._write_param_inputs(self.node_id, self.new)

    def undo(self) -> None:
        self.ctl._write_param_inputs(self.node_id, self.old)
