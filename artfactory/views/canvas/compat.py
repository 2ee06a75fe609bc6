"""NodeGraphQt 0.6.44 on PyQt6: every patch and every use of a NodeGraphQt private member, in one place.

Each patch says why in one line and names the test that fails without it (tests/ui/test_nodegraph_compat.py
unless said otherwise); tests/ui/test_compat_boundary.py keeps NodeGraphQt's private members out of other modules.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

_applied = False


def apply() -> None:
    """Bind Qt.py to PyQt6 and patch the Qt5 names NodeGraphQt still uses; safe to call repeatedly."""
    global _applied
    if _applied:
        return
    qt_py = sys.modules.get("Qt")
    if qt_py is not None and getattr(qt_py, "__binding__", "PyQt6") != "PyQt6":
        raise RuntimeError(f"Qt.py was already imported bound to {qt_py.__binding__}, not PyQt6")
    # Qt.py reads this once, at import; PySide6 would otherwise win if it were ever installed.
    # Test: test_apply_is_idempotent_and_leaves_our_pyqt6_strict.
    os.environ["QT_PREFERRED_BINDING"] = "PyQt6"

    from PyQt6 import QtCore, QtGui, QtSvg, QtWidgets

    modules = (QtCore, QtGui, QtWidgets, QtSvg)
    _promote_scoped_enums(modules)  # Qt5 unscoped enum names (Qt.LeftButton). Test: every one; first test_apply_is_…
    _alias_exec(modules)  # Qt5 exec_(). Test: test_graph_and_node_context_menus_open_and_run_commands.

    # viewer.py mouseMoveEvent (Alt+MMB drag zoom) and the number fields' MMB drag call event.x().
    # Test: test_wheel_and_alt_middle_drag_zoom.
    QtGui.QMouseEvent.x = lambda self: int(self.position().x())  # type: ignore[attr-defined]
    # viewer.py dropEvent maps event.pos() (a QPoint) to the scene when a node is dropped from a palette.
    # Test: test_dropped_node_type_is_created.
    QtGui.QDropEvent.pos = lambda self: self.position().toPoint()  # type: ignore[attr-defined]

    import Qt  # Qt.py picks its binding at import: only after the environment variable above.

    if Qt.__binding__ != "PyQt6":
        raise RuntimeError(f"Qt.py bound to {Qt.__binding__}, not PyQt6")
    # PyQt6 rejects a float where Qt wants an int; PyQt5 truncated it. These rounding subclasses go
    # into Qt.py's namespace only, so NodeGraphQt sees them and our own PyQt6 code stays strict.
    # viewer_nav.add_label_item (group-node breadcrumbs): QSize(text_width * 1.5, 20).
    # Test: test_dot_grid_and_group_breadcrumbs_paint (also the QPen patch).
    # The type: ignores: replacing a class in Qt.py's namespace is the point (mypy refuses class assignment),
    # and Qt.py's stubs describe PySide6 while it is bound to PyQt6 here (checked above).
    Qt.QtCore.QSize = _rounding(QtCore.QSize, "__init__")  # type: ignore[misc, assignment]
    # scene._draw_dots (grid_mode dots): pen.setWidth(grid_size / 10).
    Qt.QtGui.QPen = _rounding(QtGui.QPen, "setWidth")  # type: ignore[misc, assignment]
    # QDoubleSlider (DOUBLE_SLIDER property) sets min/max/step to value * 10**decimals.
    # Test: test_properties_panel_edits_the_node.
    Qt.QtWidgets.QSlider = _rounding(  # type: ignore[misc, assignment]
        QtWidgets.QSlider, "setMinimum", "setMaximum", "setSingleStep")

    try:
        from NodeGraphQt.custom_widgets.properties_bin import node_property_widgets
    except ModuleNotFoundError as error:
        if error.name == "distutils":  # NodeGraphQt imports distutils; Python 3.12 dropped it
            raise ImportError("NodeGraphQt needs distutils: on Python >= 3.12 install setuptools") from error
        raise

    # The properties bin's list scrolls by angleDelta * 0.2, a float, on a scroll bar Qt created.
    # Test: test_properties_panel_edits_the_node (the wheel at its end).
    node_property_widgets._PropertiesList.wheelEvent = _wheel_by_rounded_steps
    _applied = True


def import_nodegraphqt() -> ModuleType:
    """Apply the patches, then import and return NodeGraphQt."""
    apply()
    import NodeGraphQt

    return NodeGraphQt


_C = TypeVar("_C", bound=type)


def _rounding(cls: _C, *methods: str) -> _C:
    """A subclass of cls whose named methods round float arguments to int."""

    def rounding(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: Any, *args: Any) -> Any:
            return method(self, *(round(a) if isinstance(a, float) else a for a in args))

        return call

    namespace: dict[str, Any] = {name: rounding(getattr(cls, name)) for name in methods}
    return cast(_C, type(cls.__name__, (cls,), {"__module__": __name__, **namespace}))


def _wheel_by_rounded_steps(self: Any, event: Any) -> None:
    bar = self.verticalScrollBar()
    bar.setValue(bar.value() - round(event.angleDelta().y() * 0.2))


def _promote_scoped_enums(modules: tuple[ModuleType, ...]) -> None:
    """Copy each scoped enum member onto its owning class, as Qt5 exposed it.

    NodeGraphQt writes QGraphicsItem.DeviceCoordinateCache, Qt.LeftButton, QPainter.Antialiasing,
    self.ItemIsMovable, QMessageBox.Yes, QKeySequence.Undo and about a hundred more. Promoting every
    member is smaller and safer than a hand list, and only ever adds attributes: a name a class
    already has (a method, or its own member) is left alone, so scoped access keeps working.
    """
    for module in modules:
        for cls in vars(module).values():
            if isinstance(cls, type) and not issubclass(cls, enum.Enum):
                _promote_class(cls)


def _promote_class(cls: type) -> None:
    """Promote the members of the enums defined on cls itself (inherited ones come via the base)."""
    for scoped in list(vars(cls).values()):
        if not (isinstance(scoped, type) and issubclass(scoped, enum.Enum)):
            continue
        for name, member in scoped.__members__.items():
            if name in vars(cls):
                continue
            inherited = getattr(cls, name, None)
            # Shadow a base class's promoted member (as C++ scoping did) but never a method.
            if inherited is None or isinstance(inherited, enum.Enum):
                setattr(cls, name, member)


def _alias_exec(modules: tuple[ModuleType, ...]) -> None:
    """Give every class with exec() the Qt5 exec_() alias: menu.exec_(), dlg.exec_(), app.exec_()."""
    for module in modules:
        for cls in vars(module).values():
            if isinstance(cls, type) and "exec" in vars(cls) and not hasattr(cls, "exec_"):
                # The raw sip descriptor, not cls.exec: only the descriptor binds self (and keeps the
                # static overloads such as QApplication.exec_() working).
                cls.exec_ = vars(cls)["exec"]  # type: ignore[attr-defined]


# --- NodeGraphQt private members, reached only here (each names what NodeGraphQt keeps where) ---------------
# Exercised by tests/ui/test_canvas.py, test_canvas_feedback.py and test_node_menu.py through the canvas.

# The NodeGraph slots wired to each NodeViewer signal in NodeGraph._wire_signals (0.6.44).
_GRAPH_HANDLERS = {
    "search_triggered": "_on_search_triggered",
    "connection_changed": "_on_connection_changed",
    "connection_sliced": "_on_connection_sliced",
    "moved_nodes": "_on_nodes_moved",
    "node_backdrop_updated": "_on_node_backdrop_updated",
    "data_dropped": "_on_node_data_dropped",
    "node_name_changed": "_on_node_name_changed",
    "insert_node": "_on_insert_node",
}


def replace_graph_handlers(graph: Any, ours: dict[str, Callable[..., Any] | None]) -> None:
    """Disconnect NodeGraph's own slot from each named viewer signal and connect ours (None: none)."""
    viewer = graph.viewer()
    for signal_name, slot in ours.items():
        signal = getattr(viewer, signal_name)
        signal.disconnect(getattr(graph, _GRAPH_HANDLERS[signal_name]))
        if slot is not None:
            signal.connect(slot)


def on_live_connection(viewer: Any, started: Callable[[Any], None], ended: Callable[[], None]) -> None:
    """Call started(port) when a link drag begins and ended() when it ends, after NodeViewer's own handling.

    NodeViewer has no signal for these; instance attributes shadow its methods, so its own calls
    (self.start_live_connection) reach ours. Test: test_dragging_a_link_lights_compatible_ports_and_dims_the_rest.
    """
    start, end = viewer.start_live_connection, viewer.end_live_connection

    def start_then(port: Any) -> None:
        start(port)
        started(port)

    def end_then() -> None:
        end()
        ended()

    viewer.start_live_connection = start_then
    viewer.end_live_connection = end_then


def forget_right_button(viewer: Any) -> None:
    """A menu opened on a right press takes its release: NodeViewer would think the button still down.

    Test: tests/ui/test_node_menu.py::test_after_the_node_menu_the_canvas_knows_the_right_button_is_up.
    """
    viewer.RMB_state = False


def set_last_mouse_pos(viewer: Any, at: Any) -> None:
    """Where the tab search creates its node: NodeViewer keeps the last mouse position in _previous_pos."""
    viewer._previous_pos = at


def items_near(viewer: Any, scene_pos: Any, size: int) -> list[Any]:
    """The scene items (nodes, ports, pipes, backdrops) within `size` of a scene point."""
    return list(viewer._items_near(scene_pos, None, size, size))


def port_labels(node_item: Any) -> dict[Any, Any]:
    """{port item: its text item} of a NodeItem, inputs and outputs."""
    return {**node_item._input_items, **node_item._output_items}


def hide_cursor_hint(viewer: Any) -> None:
    """Remove the "CTRL: Deselect Nodes" text NodeViewer draws while a modifier is down."""
    text = viewer._cursor_text
    if text.isVisible():
        text.setVisible(False)
        text.setPlainText("")


def live_pipe_visible(viewer: Any) -> bool:
    """Whether a link is being dragged (NodeViewer's live pipe is on show)."""
    return bool(viewer._LIVE_PIPE.isVisible())


def new_link_start(viewer: Any) -> Any | None:
    """The port a new link is being dragged from (NodeViewer's _start_port while its live pipe shows), or None:
    also while an existing link's end is dragged off its port (NodeViewer's _detached_port).

    Test: tests/ui/test_power_link_drop.py::test_a_link_dropped_on_empty_canvas_offers_compatible_nodes_and_wires."""
    if not viewer._LIVE_PIPE.isVisible() or viewer._detached_port is not None:
        return None
    return viewer._start_port


def set_scene_range(viewer: Any, rect: Any) -> None:
    """Make `rect` the visible scene range: NodeViewer keeps it in _scene_range and applies it in _update_scene."""
    viewer._scene_range = rect
    viewer._update_scene()


class NodeItemParts:
    """Mixed in before NodeGraphQt's NodeItem: public names for the parts a node item of ours lays out and draws.

    NodeItem calls the private hooks at the end; they forward to fit_size, layout_horizontal, paint_horizontal
    and disabled_tooltip, which a subclass overrides.
    """

    _width: float
    _height: float
    _text_item: Any
    _icon_item: Any
    _input_items: dict[Any, Any]
    _output_items: dict[Any, Any]

    @property
    def title_item(self) -> Any:
        """The node's title text item."""
        return self._text_item

    @property
    def icon_item(self) -> Any:
        """The pixmap item left of the title."""
        return self._icon_item

    def port_text_items(self) -> dict[Any, Any]:
        """{port item: its label item}, inputs and outputs."""
        return port_labels(self)

    def apply_text_color(self, color: Any) -> None:
        """Colour the title and port labels (NodeItem._set_text_color)."""
        self._set_text_color(color)  # type: ignore[attr-defined]

    def fit_size(self, add_w: float = 0.0, add_h: float = 0.0, *, at_least_minimum: bool = True) -> None:
        """Size the node to calc_size(), never below NodeGraphQt's minimum unless told (a reroute is a dot)."""
        from NodeGraphQt.constants import NodeEnum

        width, height = self.calc_size(add_w, add_h)  # type: ignore[attr-defined]
        if at_least_minimum:
            width, height = max(width, NodeEnum.WIDTH.value), max(height, NodeEnum.HEIGHT.value)
        if (width, height) != (self._width, self._height):
            # NodeItem assigns the size straight to _width/_height; without prepareGeometryChange the scene
            # keeps the old bounding rect, so a footer that shrank stays painted as a ghost and clicks miss.
            # Test: tests/ui/test_canvas_feedback.py::test_a_node_that_shrinks_leaves_no_ghost_of_its_footer.
            self.prepareGeometryChange()  # type: ignore[attr-defined]
            self._width, self._height = width, height

    # Overridable under public names; each default is NodeItem's own.
    def layout_horizontal(self) -> None:
        """Place the title, icon, ports and widgets (left-to-right layout)."""
        super()._draw_node_horizontal()  # type: ignore[misc]

    def paint_horizontal(self, painter: Any, option: Any, widget: Any) -> None:
        """Paint the node body (left-to-right layout)."""
        super()._paint_horizontal(painter, option, widget)  # type: ignore[misc]

    def disabled_tooltip(self, disabled: bool) -> None:
        """Set the tooltip when the node is (re-)enabled or disabled."""
        super()._tooltip_disable(disabled)  # type: ignore[misc]

    def _set_base_size(self, add_w: float = 0.0, add_h: float = 0.0) -> None:
        self.fit_size(add_w, add_h)

    def _draw_node_horizontal(self) -> None:
        self.layout_horizontal()

    def _paint_horizontal(self, painter: Any, option: Any, widget: Any) -> None:
        self.paint_horizontal(painter, option, widget)

    def _tooltip_disable(self, state: bool) -> None:
        self.disabled_tooltip(state)
