"""NodeGraphQt 0.6.44 on PyQt6 through our compat layer: search, menus, properties, drags, excepthook."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt
from PyQt6.QtGui import QContextMenuEvent, QDropEvent, QWheelEvent
from PyQt6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QLineEdit,
    QMenu,
    QMessageBox,
    QStyleOptionButton,
    QWidget,
)

from artfactory.views import excepthook
from artfactory.views.canvas import compat
from tests.support.qt import drag, while_popup_open

NodeGraphQt = compat.import_nodegraphqt()
NodePropWidgetEnum = NodeGraphQt.constants.NodePropWidgetEnum
ViewerEnum = NodeGraphQt.constants.ViewerEnum

# NodeGraphQt compares Qt versions with distutils' LooseVersion whenever a menu command is added.
pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = (200, 120, 40)
TEXT = (40, 120, 200)


class ImageSourceNode(NodeGraphQt.BaseNode):
    """Produces an image and a caption, like a provider node would."""

    __identifier__ = "artfactory.test"
    NODE_NAME = "Image Source"

    def __init__(self) -> None:
        super().__init__()
        self.add_output("image", color=IMAGE)
        self.add_output("caption", color=TEXT)


class UpscaleNode(NodeGraphQt.BaseNode):
    """Takes an image; its "image" input accepts only an image output (a typed port)."""

    __identifier__ = "artfactory.test"
    NODE_NAME = "Upscale"

    def __init__(self) -> None:
        super().__init__()
        image_in = self.add_input("image", color=IMAGE)
        self.add_input("prompt", color=TEXT)
        self.add_output("image", color=IMAGE)
        image_in.add_accept_port_type("image", "out", "artfactory.test.ImageSourceNode")
        self.create_property("factor", "2x", items=["2x", "4x"],
                             widget_type=NodePropWidgetEnum.QCOMBO_BOX.value)
        self.create_property("title", "upscaled", widget_type=NodePropWidgetEnum.QLINE_EDIT.value)
        self.create_property("strength", 0.5, range=(0.0, 1.0),
                             widget_type=NodePropWidgetEnum.DOUBLE_SLIDER.value)


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def graph(qtbot: Any) -> Iterator[Any]:
    node_graph = NodeGraphQt.NodeGraph()
    node_graph.register_nodes([ImageSourceNode, UpscaleNode])
    widget = node_graph.widget
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()  # menu shortcuts (Tab, Del) only fire in the active window
    node_graph.viewer().setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=1000)
    yield node_graph


def viewport(graph: Any) -> QWidget:
    return graph.viewer().viewport()


def port_pos(graph: Any, port: Any) -> QPoint:
    """Where a port is drawn, in viewport coordinates."""
    return graph.viewer().mapFromScene(port.view.sceneBoundingRect().center())


def node_pos(graph: Any, node: Any) -> QPoint:
    return graph.viewer().mapFromScene(node.view.sceneBoundingRect().center())


def open_context_menu(graph: Any, at: QPoint) -> None:
    vp = viewport(graph)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, vp.mapToGlobal(at))
    QApplication.sendEvent(vp, event)


# --- the compat layer itself -----------------------------------------------------------------


def test_apply_is_idempotent_and_leaves_our_pyqt6_strict() -> None:
    compat.apply()
    compat.apply()
    import Qt as qt_py  # Qt.py, the shim NodeGraphQt imports Qt through

    assert qt_py.__binding__ == "PyQt6"
    assert os.environ["QT_PREFERRED_BINDING"] == "PyQt6"
    # Qt5 spellings NodeGraphQt uses now resolve to the very same scoped members.
    assert QGraphicsItem.DeviceCoordinateCache is QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert qt_py.QtCore.Qt.LeftButton is Qt.MouseButton.LeftButton
    # A class's own member wins over a base class's member of the same name, as in C++.
    assert QStyleOptionButton.Type is QStyleOptionButton.StyleOptionType.Type
    assert callable(QMenu.exec_)
    # The float-tolerant QSize lives in Qt.py's namespace only; PyQt6's own stays strict for our code.
    assert qt_py.QtCore.QSize(10.6, 20) == QSize(11, 20)
    with pytest.raises(TypeError):
        QSize(10.6, 20)  # type: ignore[call-overload]


# --- NodeGraphQt driven like a user would --------------------------------------------------------


def test_tab_opens_search_and_enter_creates_the_typed_node(qtbot: Any, graph: Any) -> None:
    graph.get_context_menu("graph").add_command(
        "Search nodes", lambda g: g.toggle_node_search(), shortcut="Tab")
    viewer = graph.viewer()
    qtbot.mouseMove(viewport(graph), QPoint(300, 300))  # the search opens only under the mouse
    typed: list[str] = []

    def search(menu: QMenu) -> None:
        assert menu is viewer._search_widget
        line_edit = menu.findChild(QLineEdit)
        qtbot.keyClicks(line_edit, "upsc")
        typed.append(line_edit.text())
        qtbot.keyClick(line_edit, Qt.Key.Key_Return)

    opened = while_popup_open(qtbot, lambda: qtbot.keyClick(viewer, Qt.Key.Key_Tab), search)

    assert opened, "Tab did not open the node search"
    assert typed == ["upsc"]
    assert [n.type_ for n in graph.all_nodes()] == ["artfactory.test.UpscaleNode"]


def test_graph_and_node_context_menus_open_and_run_commands(qtbot: Any, graph: Any) -> None:
    ran: list[str] = []
    graph.get_context_menu("graph").add_command("Fit view", lambda g: ran.append("graph"))
    graph.get_context_menu("nodes").add_command(
        "Mark", lambda g, node: ran.append(node.name()), node_class=UpscaleNode)
    node = graph.create_node("artfactory.test.UpscaleNode", pos=[0, 0])
    graph.center_on([node])

    def run(label: str) -> Callable[[QMenu], None]:
        def inside(menu: QMenu) -> None:
            action = next(a for a in menu.actions() if a.text() == label)
            action.trigger()
        return inside

    empty = QPoint(20, 20)
    qtbot.mouseMove(viewport(graph), empty)
    assert while_popup_open(qtbot, lambda: open_context_menu(graph, empty), run("Fit view"))

    on_node = node_pos(graph, node)
    qtbot.mouseMove(viewport(graph), on_node)  # the viewer picks the node under the last mouse pos
    assert while_popup_open(qtbot, lambda: open_context_menu(graph, on_node), run("Mark"))

    assert ran == ["graph", "Upscale"]


def test_properties_panel_edits_the_node(qtbot: Any, graph: Any) -> None:
    node = graph.create_node("artfactory.test.UpscaleNode")
    panel = NodeGraphQt.PropertiesBinWidget(node_graph=graph)
    qtbot.addWidget(panel)
    panel.show()
    panel.add_node(node)  # builds every widget, the DOUBLE_SLIDER included
    editor = panel.get_property_editor_widget(node)

    combo = editor.get_widget("factor")
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    title = editor.get_widget("title")
    title.selectAll()
    qtbot.keyClicks(title, "hero shot")
    qtbot.keyClick(title, Qt.Key.Key_Return)
    editor.get_widget("strength").set_value(0.75)

    assert node.get_property("factor") == "4x"
    assert node.get_property("title") == "hero shot"
    assert node.get_property("strength") == pytest.approx(0.75)
    graph.undo_stack().undo()
    assert node.get_property("strength") == pytest.approx(0.5)

    # The panel's list scrolls by a fractional step on wheel; it must not raise.
    from NodeGraphQt.custom_widgets.properties_bin.node_property_widgets import _PropertiesList

    prop_list = panel.findChild(_PropertiesList)
    wheel(prop_list.viewport(), QPoint(10, 10), -120)


def test_dragging_between_ports_connects_only_matching_types(qtbot: Any, graph: Any) -> None:
    source = graph.create_node("artfactory.test.ImageSourceNode", pos=[0, 0])
    upscale = graph.create_node("artfactory.test.UpscaleNode", pos=[350, 0])
    graph.center_on([source, upscale])
    vp = viewport(graph)

    drag(qtbot, vp, port_pos(graph, source.output(1)), port_pos(graph, upscale.input(0)))
    assert upscale.input(0).connected_ports() == []  # caption into an image input: refused

    drag(qtbot, vp, port_pos(graph, source.output(0)), port_pos(graph, upscale.input(0)))
    assert upscale.input(0).connected_ports() == [source.output(0)]

    graph.undo_stack().undo()
    assert upscale.input(0).connected_ports() == []


def wheel(widget: QWidget, at: QPoint, delta: int) -> None:
    event = QWheelEvent(QPointF(at), QPointF(widget.mapToGlobal(at)), QPoint(), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_and_alt_middle_drag_zoom(qtbot: Any, graph: Any) -> None:
    viewer = graph.viewer()
    vp = viewport(graph)
    start = viewer.get_zoom()
    wheel(vp, QPoint(200, 200), 240)
    wheeled = viewer.get_zoom()
    assert wheeled > start

    # Alt + middle-drag to the right zooms in too; this path reads QMouseEvent.x().
    alt = Qt.KeyboardModifier.AltModifier
    qtbot.keyPress(viewer, Qt.Key.Key_A, alt)  # the viewer tracks Alt from key events
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, alt, QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(260, 200))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, alt, QPoint(260, 200))
    qtbot.keyRelease(viewer, Qt.Key.Key_A)
    assert viewer.get_zoom() > wheeled


def test_delete_key_removes_the_node_and_undo_restores_it(qtbot: Any, graph: Any) -> None:
    graph.get_context_menu("graph").add_command(
        "Delete", lambda g: g.delete_nodes(g.selected_nodes()), shortcut="Del")
    keep = graph.create_node("artfactory.test.ImageSourceNode", pos=[0, 0])
    doomed = graph.create_node("artfactory.test.UpscaleNode", pos=[300, 0])
    graph.clear_selection()
    doomed.set_selected(True)

    qtbot.keyClick(graph.viewer(), Qt.Key.Key_Delete)
    assert graph.all_nodes() == [keep]

    graph.undo_stack().undo()
    assert {n.id for n in graph.all_nodes()} == {keep.id, doomed.id}


def test_dropped_node_type_is_created(graph: Any) -> None:
    mime = QMimeData()
    mime.setData("nodegraphqt/nodes", b"nodegraphqt::node:artfactory.test.UpscaleNode")
    drop = QDropEvent(QPointF(150, 150), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    # Qt ignores a Drop with no drag in progress, so hand the event to the viewer directly;
    # its dropEvent reads event.pos().
    graph.viewer().dropEvent(drop)
    assert [n.type_ for n in graph.all_nodes()] == ["artfactory.test.UpscaleNode"]


def test_dot_grid_and_group_breadcrumbs_paint(graph: Any) -> None:
    """Spots where NodeGraphQt hands a float to an int-only Qt call."""
    graph.set_grid_mode(ViewerEnum.GRID_DISPLAY_DOTS.value)
    graph.create_node("artfactory.test.UpscaleNode")
    assert not graph.widget.grab().isNull()

    class GroupNode(NodeGraphQt.GroupNode):
        __identifier__ = "artfactory.test"
        NODE_NAME = "Group"

    graph.register_node(GroupNode)
    group = graph.create_node("artfactory.test.GroupNode")
    sub_graph = graph.expand_group_node(group)  # adds a breadcrumb sized QSize(width * 1.5, 20)
    assert sub_graph is not None
    assert not graph.widget.grab().isNull()


# --- the excepthook ---------------------------------------------------------------------------


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Install the hook for one test and put pytest-qt's and threading's hooks back afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(excepthook, "last_error", None)
    monkeypatch.setattr(excepthook, "_show_dialog", excepthook._show_dialog)
    monkeypatch.setattr(excepthook, "_dialog", None)
    yield
    if excepthook._dialog is not None:
        excepthook._dialog.close()


def error_dialogs() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.windowTitle() == excepthook.DIALOG_TITLE
            and w.isVisible()]


def raise_and_hook(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException as caught:
        sys.excepthook(type(caught), caught, caught.__traceback__)


def test_hook_logs_and_shows_a_non_blocking_dialog(qtbot: Any, hook: None,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    excepthook.install(show_dialog=True)
    with caplog.at_level(logging.ERROR, logger="artfactory"):
        raise_and_hook(ValueError("bad seed"))

    assert isinstance(excepthook.last_error, ValueError)
    assert "Unexpected error: ValueError: bad seed" in caplog.text
    [dialog] = error_dialogs()
    assert dialog.text() == "ValueError: bad seed"
    assert "raise exc" in dialog.detailedText()

    raise_and_hook(TypeError("again"))  # a second error while the first is shown: logged only
    assert isinstance(excepthook.last_error, TypeError)
    assert error_dialogs() == [dialog]
    dialog.close()
    qtbot.waitUntil(lambda: excepthook._dialog is None, timeout=1000)


def test_hook_survives_a_failing_dialog(hook: None, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("dialog exploded")

    monkeypatch.setattr(excepthook, "QMessageBox", broken)
    excepthook.install(show_dialog=True)
    with caplog.at_level(logging.ERROR, logger="artfactory"):
        raise_and_hook(KeyError("x"))  # must return normally

    assert isinstance(excepthook.last_error, KeyError)
    assert "The error handler itself failed" in caplog.text


def test_worker_thread_error_reaches_the_gui_thread(qtbot: Any, hook: None) -> None:
    excepthook.install(show_dialog=True)

    def work() -> None:
        raise OSError("disk full")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()

    assert isinstance(excepthook.last_error, OSError)
    qtbot.waitUntil(lambda: len(error_dialogs()) == 1, timeout=1000)


SLOT_RAISES = textwrap.dedent("""
    import logging, resource, sys
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort should not write a core file
    logging.basicConfig(level=logging.INFO)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    from artfactory.views import excepthook
    app = QApplication(sys.argv)
    if sys.argv[1] == "install":
        excepthook.install(show_dialog=True)
    def boom():
        raise RuntimeError("boom from a slot")
    QTimer.singleShot(0, boom)
    QTimer.singleShot(100, app.quit)
    app.exec()
    print("still running after", type(excepthook.last_error).__name__)
""")


def run_slot_script(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SLOT_RAISES, mode], cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_exception_in_qt_slot_is_logged_and_the_app_keeps_running() -> None:
    result = run_slot_script("install")
    assert result.returncode == 0, result.stderr
    assert "still running after RuntimeError" in result.stdout
    assert "Unexpected error: RuntimeError: boom from a slot" in result.stderr


def test_without_the_hook_pyqt6_aborts_on_a_slot_exception() -> None:
    """The control: proves the test above would notice a missing hook."""
    result = run_slot_script("none")
    assert result.returncode != 0
    assert "still running" not in result.stdout
