"""Make NodeGraphQt 0.6.44 (Qt5-style code reached through Qt.py) run on PyQt6; apply() before import."""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

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
    os.environ["QT_PREFERRED_BINDING"] = "PyQt6"

    from PyQt6 import QtCore, QtGui, QtSvg, QtWidgets

    modules = (QtCore, QtGui, QtWidgets, QtSvg)
    _promote_scoped_enums(modules)
    _alias_exec(modules)

    # viewer.py mouseMoveEvent (Alt+MMB drag zoom) and the number fields' MMB drag call event.x().
    QtGui.QMouseEvent.x = lambda self: int(self.position().x())  # type: ignore[attr-defined]
    # viewer.py dropEvent maps event.pos() (a QPoint) to the scene when a node is dropped from a palette.
    QtGui.QDropEvent.pos = lambda self: self.position().toPoint()  # type: ignore[attr-defined]

    import Qt  # Qt.py picks its binding at import: only after the environment variable above.

    if Qt.__binding__ != "PyQt6":
        raise RuntimeError(f"Qt.py bound to {Qt.__binding__}, not PyQt6")
    # PyQt6 rejects a float where Qt wants an int; PyQt5 truncated it. These rounding subclasses go
    # into Qt.py's namespace only, so NodeGraphQt sees them and our own PyQt6 code stays strict.
    # viewer_nav.add_label_item (group-node breadcrumbs): QSize(text_width * 1.5, 20).
    Qt.QtCore.QSize = _rounding(QtCore.QSize, "__init__")
    # scene._draw_dots (grid_mode dots): pen.setWidth(grid_size / 10).
    Qt.QtGui.QPen = _rounding(QtGui.QPen, "setWidth")
    # QDoubleSlider (DOUBLE_SLIDER property) sets min/max/step to value * 10**decimals.
    Qt.QtWidgets.QSlider = _rounding(QtWidgets.QSlider, "setMinimum", "setMaximum", "setSingleStep")

    try:
        from NodeGraphQt.custom_widgets.properties_bin import node_property_widgets
    except ModuleNotFoundError as error:
        if error.name == "distutils":  # NodeGraphQt imports distutils; Python 3.12 dropped it
            raise ImportError("NodeGraphQt needs distutils: on Python >= 3.12 install setuptools") from error
        raise

    # The properties bin's list scrolls by angleDelta * 0.2, a float, on a scroll bar Qt created.
    node_property_widgets._PropertiesList.wheelEvent = _wheel_by_rounded_steps
    _applied = True


def import_nodegraphqt() -> ModuleType:
    """Apply the patches, then import and return NodeGraphQt."""
    apply()
    import NodeGraphQt

    return NodeGraphQt


def _rounding(cls: type, *methods: str) -> type:
    """A subclass of cls whose named methods round float arguments to int."""

    def rounding(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: Any, *args: Any) -> Any:
            return method(self, *(round(a) if isinstance(a, float) else a for a in args))

        return call

    namespace: dict[str, Any] = {name: rounding(getattr(cls, name)) for name in methods}
    return type(cls.__name__, (cls,), {"__module__": __name__, **namespace})


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
