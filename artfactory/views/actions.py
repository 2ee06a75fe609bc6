"""The window's actions in one table — text, icon, shortcuts, tip — plus the menus and toolbar built from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMenu, QToolBar

from artfactory.views import icons

if TYPE_CHECKING:
    from artfactory.views.main_window import MainWindow


@dataclass
class Actions:
    """Every action by name; `sections` groups them for the shortcuts dialog."""

    by_name: dict[str, QAction] = field(default_factory=dict)
    icons: dict[str, str] = field(default_factory=dict)
    sections: list[tuple[str, list[QAction]]] = field(default_factory=list)

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def retint(self) -> None:
        """Re-render the icons in the current theme's colours."""
        icons.clear_cache()
        for name, icon_name in self.icons.items():
            self.by_name[name].setIcon(icons.icon(icon_name, ICON_COLORS.get(icon_name)))


ICON_COLORS = {"run": "#3fb27f", "run-branch": "#3fb27f", "cancel": "#e5534b"}


def build(window: MainWindow) -> Actions:
    actions = Actions()

    def add(section: str, name: str, text: str, slot: Callable[[], object], *, icon: str = "",
            keys: tuple[str, ...] = (), tip: str = "") -> QAction:
        action = QAction(text, window)
        action.setObjectName(f"action_{name}")
        if icon:
            action.setIcon(icons.icon(icon, ICON_COLORS.get(icon)))
            actions.icons[name] = icon
        if keys:
            # Explicit sequences, the same on every platform (Qt shows Ctrl as ⌘ on macOS).
            action.setShortcuts([QKeySequence(k) for k in keys])
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f"  ({shortcut})" if shortcut else ""))
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        window.addAction(action)  # shortcuts work even with the menu bar hidden
        actions.by_name[name] = action
        if not actions.sections or actions.sections[-1][0] != section:
            actions.sections.append((section, []))
        actions.sections[-1][1].append(action)
        return action

    w = window
    add("File", "new", "&New Graph", w.new_graph, icon="new", keys=("Ctrl+N",), tip="Start an empty graph")
    add("File", "open", "&Open…", w.open_file, icon="open", keys=("Ctrl+O",), tip="Open a graph file")
    add("File", "save", "&Save", w.save_current, icon="save", keys=("Ctrl+S",), tip="Save the graph")
    add("File", "save_as", "Save &As…", w.save_current_as, icon="save-as", keys=("Ctrl+Shift+S",),
        tip="Save the graph under a new name")
    add("File", "templates", "&Templates…", w.show_templates, icon="template", keys=("Ctrl+Shift+N",),
        tip="Start from a shipped example or one of your templates")
    add("File", "save_template", "Save as Te&mplate…", w.save_as_template, icon="template",
        tip="Keep this graph as a reusable template")
    add("File", "import", "&Import Files…", w.import_files, icon="product", keys=("Ctrl+I",),
        tip="Add images or videos to the library (duplicates and impostors are listed, never half-imported)")
    add("File", "import_folder", "Import F&older…", w.import_folder, keys=("Ctrl+Shift+I",),
        tip="Add every image and video in a folder to the library")
    add("File", "export", "&Export Selected Products…", w.export_products, icon="save-as", keys=("Ctrl+E",),
        tip="Copy the products selected in the gallery to a folder, each with its lineage")
    add("File", "close_tab", "&Close Tab", w.close_current_tab, keys=("Ctrl+W",))
    add("File", "quit", "&Quit", w.close, keys=("Ctrl+Q",))
    add("Edit", "undo", "&Undo", w.undo_group.undo, icon="undo", keys=("Ctrl+Z",))
    add("Edit", "redo", "&Redo", w.undo_group.redo, icon="redo", keys=("Ctrl+Shift+Z", "Ctrl+Y"))
    add("Edit", "copy", "&Copy", w.copy_selection, icon="copy", keys=("Ctrl+C",), tip="Copy the selected nodes")
    add("Edit", "paste", "&Paste", w.paste, icon="paste", keys=("Ctrl+V",), tip="Paste nodes at the mouse")
    add("Edit", "duplicate", "&Duplicate", w.duplicate_selection, icon="duplicate", keys=("Ctrl+D",),
        tip="Duplicate the selected nodes")
    add("Edit", "delete", "De&lete", w.delete_selection, icon="delete", keys=("Del", "Backspace"),
        tip="Delete the selected nodes and backdrops")
    add("Edit", "select_all", "Select &All", w.select_all, keys=("Ctrl+A",))
    add("Edit", "add_node", "&Add Node…", w.show_node_search, icon="search", keys=("Ctrl+K",),
        tip="Search the node library (Tab over the canvas)")
    add("Edit", "backdrop", "Add &Backdrop", w.add_backdrop, icon="backdrop", keys=("Ctrl+G",),
        tip="Frame the selected nodes with a titled backdrop")
    add("Edit", "preferences", "Pre&ferences…", w.show_preferences, icon="preferences",
        keys=("Ctrl+,",))
    add("View", "gallery", "&Gallery", w.show_gallery, icon="gallery", keys=("Ctrl+1",),
        tip="Browse every product beside the graphs that made them")
    add("View", "fit", "&Zoom to Fit", w.zoom_to_fit, icon="fit", keys=("F",),
        tip="Frame the selection, or the whole graph")
    add("View", "layout", "Auto-&Layout", w.auto_layout, icon="layout", keys=("Ctrl+L",),
        tip="Arrange the nodes left to right")
    add("Run", "run", "&Run", w.run_graph, icon="run", keys=("Ctrl+Return", "Ctrl+Enter"),
        tip="Run the graph (unchanged nodes come from the cache)")
    add("Run", "run_branch", "Run &Selected Branch", w.run_selected_branch, icon="run-branch",
        keys=("Ctrl+Shift+Return", "Ctrl+Shift+Enter"), tip="Run the selected nodes and what they need")
    add("Run", "cancel", "&Cancel", w.cancel_run, icon="cancel", keys=("Esc", "Ctrl+."),
        tip="Cancel this graph's run")
    add("Run", "resume", "Resume &Interrupted Orders", w.resume_interrupted, icon="run",
        tip="Finish the runs an earlier exit left open; what had finished is kept")
    add("Help", "shortcuts", "&Keyboard Shortcuts", w.show_shortcuts, icon="keyboard", keys=("F1",))
    add("Help", "about", "&About Art Factory", w.show_about, icon="info")
    actions["preferences"].setMenuRole(QAction.MenuRole.PreferencesRole)
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    return actions


def build_menus(window: MainWindow, actions: Actions) -> QMenu:
    """The menu bar; returns the Open Recent menu for the window to fill."""
    bar = window.menuBar()
    assert bar is not None
    file_menu = bar.addMenu("&File")
    for name in ("new", "open"):
        file_menu.addAction(actions[name])
    recent = file_menu.addMenu("Open &Recent")
    file_menu.addSeparator()
    for name in ("save", "save_as"):
        file_menu.addAction(actions[name])
    file_menu.addSeparator()
    for name in ("templates", "save_template"):
        file_menu.addAction(actions[name])
    file_menu.addSeparator()
    for name in ("import", "import_folder", "export"):
        file_menu.addAction(actions[name])
    file_menu.addSeparator()
    file_menu.addAction(actions["close_tab"])
    file_menu.addAction(actions["quit"])
    edit = bar.addMenu("&Edit")
    for name in ("undo", "redo", None, "copy", "paste", "duplicate", "delete", "select_all", None,
                 "add_node", "backdrop", None, "preferences"):
        edit.addSeparator() if name is None else edit.addAction(actions[name])
    view = bar.addMenu("&View")
    view.addAction(actions["gallery"])
    view.addSeparator()
    view.addAction(actions["fit"])
    view.addAction(actions["layout"])
    view.addSeparator()
    window.panels_menu = view.addMenu("&Panels")
    run = bar.addMenu("&Run")
    for name in ("run", "run_branch", "cancel"):
        run.addAction(actions[name])
    run.addSeparator()
    run.addAction(actions["resume"])
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions["shortcuts"])
    help_menu.addAction(actions["about"])
    assert recent is not None
    return recent


def build_toolbar(window: MainWindow, actions: Actions) -> QToolBar:
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("MainToolbar")
    bar.setMovable(False)
    bar.setIconSize(QSize(18, 18))
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for name in ("new", "open", "save", None, "undo", "redo", None, "add_node", "backdrop", "layout", "fit",
                 None, "templates", "gallery"):
        bar.addSeparator() if name is None else bar.addAction(actions[name])
    bar.addSeparator()
    for name in ("run", "run_branch", "cancel"):
        bar.addAction(actions[name])
    run_button = bar.widgetForAction(actions["run"])
    if run_button is not None:  # the one labelled button: the main thing to do here
        run_button.setObjectName("RunButton")
        run_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return bar


def fill_canvas_menu(menu: QMenu, actions: Actions) -> None:
    """The canvas's right-click menu shares the window's actions (and so their shortcuts)."""
    for name in ("add_node", "paste", None, "copy", "duplicate", "delete", None, "backdrop", "layout", "fit",
                 None, "run_branch"):
        menu.addSeparator() if name is None else menu.addAction(actions[name])
