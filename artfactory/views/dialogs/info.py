"""Help dialogs: the keyboard shortcuts (built from the window's actions) and About."""

from __future__ import annotations

import platform

from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.app_controller import AppController
from artfactory.views import icons
from artfactory.views.dialogs.mask_painter import KEYS as MASK_KEYS

# Canvas gestures that are not actions, so the dialog lists them by hand.
GESTURES = [
    ("Add a node from the search", "Tab (over the canvas), or double-click empty canvas"),
    ("Node menu (rename, duplicate, delete, products, id)", "Right-click a node"),
    ("Rename a node", "Double-click its title"),
    ("Connect ports", "Drag from an output to an input"),
    ("Disconnect", "Drag a link's end off its input"),
    ("Cut links", "Alt+Shift+drag across them"),
    ("Select several", "Drag a box, or Shift+click"),
    ("Pan", "Middle-drag, or Alt+drag"),
    ("Zoom", "Mouse wheel, or Alt+middle-drag"),
    ("Rename a backdrop", "Double-click its title"),
    ("Open a product", "Click its thumbnail in a node"),
]
GALLERY_KEYS = [
    ("Open a product in its own window", "Double-click, or Enter"),
    ("Rate the selected products", "0 – 5"),
    ("Favourite / unfavourite", "L"),
    ("Delete the selected products", "Del"),
    ("Compare two products", "Select both, then Compare"),
    ("Add to a collection", "Drag onto it in the sidebar"),
    ("Viewer: fit / actual size", "0  /  1"),
    ("Viewer: zoom in / out", "+  /  −, or the mouse wheel"),
    ("Video: play or pause", "Space"),
    ("Viewer: paint a mask over the image", "M"),
]


class ShortcutsDialog(QDialog):
    def __init__(self, sections: list[tuple[str, list[QAction]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts — Art Factory")
        self.resize(560, 620)
        tree = QTreeWidget()
        tree.setHeaderLabels(["Action", "Shortcut"])
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        columns = tree.header()
        assert columns is not None  # a tree always has its header; PyQt's stubs mark every pointer result optional
        columns.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        rows = [(title, [(a.text().replace("&", "").rstrip("…").strip(),
                          ",  ".join(k.toString(k.SequenceFormat.NativeText) for k in a.shortcuts()))
                         for a in actions if any(not k.isEmpty() for k in a.shortcuts())])
                for title, actions in sections]
        rows.append(("Canvas", GESTURES))
        rows.append(("Gallery and viewer", GALLERY_KEYS))
        rows.append(("Mask painter", MASK_KEYS))
        for title, entries in rows:
            if not entries:
                continue
            header = QTreeWidgetItem([title, ""])
            font = header.font(0)
            font.setBold(True)
            header.setFont(0, font)
            header.setFirstColumnSpanned(True)
            tree.addTopLevelItem(header)
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for name, keys in entries:
                tree.addTopLevelItem(QTreeWidgetItem([f"   {name}", keys]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tree, 1)
        layout.addWidget(buttons)
        self.tree = tree


class AboutDialog(QDialog):
    def __init__(self, app: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Art Factory")
        self.resize(600, 560)
        logo = QLabel()
        logo.setPixmap(icons.pixmap("canvas", 56, "#5b8def"))
        title = QLabel(f"<b style='font-size:17pt'>Art Factory</b><br/>version {app.version()}")
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)
        blurb = QLabel("Wire AI image and video pipelines as node graphs, run them, and keep every product "
                       "linked to the graph that made it.<br/>Free software under the GNU General Public "
                       "License, version 3 or later; it comes with no warranty.")
        blurb.setWordWrap(True)
        facts = QLabel(f"Library: {app.library.home}<br/>Python {platform.python_version()} · "
                       f"Qt {QT_VERSION_STR} · PyQt {PYQT_VERSION_STR} · {platform.system()} {platform.machine()}")
        facts.setProperty("role", "dim")
        facts.setWordWrap(True)
        facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        libraries = QTreeWidget()
        libraries.setHeaderLabels(["Bundled library", "Version", "Licence"])
        libraries.setRootIsDecorated(False)
        columns = libraries.header()
        assert columns is not None  # a tree always has its header; the stubs mark it optional
        columns.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        columns.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for name, version, licence in app.bundled_libraries():
            libraries.addTopLevelItem(QTreeWidgetItem([name, version, licence]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(blurb)
        layout.addWidget(facts)
        layout.addWidget(libraries, 1)
        layout.addWidget(buttons)
        self.libraries = libraries
