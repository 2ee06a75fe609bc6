"""The window's actions in one table — text, icon, shortcuts, tip — plus the menus and toolbar built from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMainWindow, QMenu, QMenuBar, QToolBar, QToolButton, QWidget

from artfactory.views import icons


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


# (section, name, text, icon, shortcuts, tip); the window binds each name to its slot.
TABLE: tuple[tuple[str, str, str, str, tuple[str, ...], str], ...] = (
    ("File", "new", "&New Graph", "new", ("Ctrl+N",), "Start an empty graph"),
    ("File", "open", "&Open…", "open", ("Ctrl+O",), "Open a graph file"),
    ("File", "save", "&Save", "save", ("Ctrl+S",), "Save the graph"),
    ("File", "save_as", "Save &As…", "save-as", ("Ctrl+Shift+S",), "Save the graph under a new name"),
    ("File", "templates", "&Templates…", "template", ("Ctrl+Shift+N",),
     "Start from a shipped example or one of your templates"),
    ("File", "save_template", "Save as Te&mplate…", "template", (), "Keep this graph as a reusable template"),
    ("File", "import", "&Import Files…", "product", ("Ctrl+I",),
     "Add images or videos to the library (duplicates and impostors are listed, never half-imported)"),
    ("File", "import_folder", "Import F&older…", "", ("Ctrl+Shift+I",),
     "Add every image and video in a folder to the library"),
    ("File", "export", "&Export Selected Products…", "save-as", ("Ctrl+E",),
     "Copy the products selected in the gallery to a folder, each with its lineage"),
    ("File", "close_tab", "&Close Tab", "", ("Ctrl+W",), ""),
    ("File", "quit", "&Quit", "", ("Ctrl+Q",), ""),
    ("Edit", "undo", "&Undo", "undo", ("Ctrl+Z",), ""),
    ("Edit", "redo", "&Redo", "redo", ("Ctrl+Shift+Z", "Ctrl+Y"), ""),
    ("Edit", "copy", "&Copy", "copy", ("Ctrl+C",), "Copy the selected nodes"),
    ("Edit", "paste", "&Paste", "paste", ("Ctrl+V",), "Paste nodes at the mouse"),
    ("Edit", "duplicate", "&Duplicate", "duplicate", ("Ctrl+D",), "Duplicate the selected nodes"),
    ("Edit", "delete", "De&lete", "delete", ("Del", "Backspace"), "Delete the selected nodes and backdrops"),
    ("Edit", "select_all", "Select &All", "", ("Ctrl+A",), ""),
    ("Edit", "add_node", "&Add Node…", "search", ("Ctrl+K",), "Search the node library (Tab over the canvas)"),
    ("Edit", "backdrop", "Add &Backdrop", "backdrop", ("Ctrl+G",), "Frame the selected nodes with a titled backdrop"),
    ("Edit", "bypass", "B&ypass", "bypass", ("Ctrl+B",),
     "Bypass the selected nodes: their input passes straight through (again: back to normal)"),
    ("Edit", "mute", "&Mute", "mute", ("Ctrl+M",),
     "Mute the selected nodes: neither they nor what needs them runs (again: back to normal)"),
    ("Edit", "group", "&Group into Subgraph…", "", ("Ctrl+Shift+G",),
     "Make the selected nodes one subgraph node; the links that cross the selection become its ports"),
    ("Edit", "ungroup", "U&ngroup Subgraph", "", ("Ctrl+Shift+U",),
     "Put the selected subgraph node's inner nodes back in its place"),
    ("Edit", "preferences", "Pre&ferences…", "preferences", ("Ctrl+,",), ""),
    ("View", "gallery", "&Gallery", "gallery", ("Ctrl+1",), "Browse every product beside the graphs that made them"),
    ("View", "fit", "&Zoom to Fit", "fit", ("F",), "Frame the selection, or the whole graph"),
    ("View", "layout", "Auto-&Layout", "layout", ("Ctrl+L",), "Arrange the nodes left to right"),
    ("View", "spend", "S&pend", "spend", ("Ctrl+Shift+M",),
     "What runs cost: this month or since a date, by day, provider, model and collection"),
    ("Run", "run", "&Run", "run", ("Ctrl+Return", "Ctrl+Enter"), "Run the graph (unchanged nodes come from the cache)"),
    ("Run", "run_branch", "Run &Selected Branch", "run-branch", ("Ctrl+Shift+Return", "Ctrl+Shift+Enter"),
     "Run the selected nodes and what they need"),
    ("Run", "cancel", "&Cancel", "cancel", ("Esc", "Ctrl+."), "Cancel this graph's run"),
    ("Run", "plan", "&Plan…", "plan", ("Ctrl+Shift+P",),
     "What Run will execute, take from the cache and bill, with the estimated cost (sends nothing)"),
    ("Run", "resume", "Resume &Interrupted Orders", "run", (),
     "Finish the runs an earlier exit left open; what had finished is kept"),
    ("Help", "shortcuts", "&Keyboard Shortcuts", "keyboard", ("F1",), ""),
    ("Help", "about", "&About Art Factory", "info", (), ""),
)


def build(window: QWidget, slots: Mapping[str, Callable[[], object]]) -> Actions:
    """Every action in TABLE, owned by `window` (so shortcuts work with the menu bar hidden), bound to slots[name]."""
    names = [row[1] for row in TABLE]
    if set(slots) != set(names):
        raise ValueError(f"actions without a slot: {sorted(set(names) - set(slots))}; "
                         f"slots without an action: {sorted(set(slots) - set(names))}")
    actions = Actions()
    for section, name, text, icon, keys, tip in TABLE:
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
        action.triggered.connect(lambda _checked=False, slot=slots[name]: slot())
        window.addAction(action)
        actions.by_name[name] = action
        if not actions.sections or actions.sections[-1][0] != section:
            actions.sections.append((section, []))
        actions.sections[-1][1].append(action)
    actions["preferences"].setMenuRole(QAction.MenuRole.PreferencesRole)
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    return actions


@dataclass
class Menus:
    """The menus the window fills later."""

    recent: QMenu  # File → Open Recent, filled when it opens
    panels: QMenu  # View → Panels, one toggle per dock


def build_menus(window: QMainWindow, actions: Actions) -> Menus:
    """The menu bar; returns the menus the window fills (Open Recent, Panels)."""
    bar = window.menuBar()
    assert bar is not None
    file_menu = _menu(bar, "&File")
    for name in ("new", "open"):
        file_menu.addAction(actions[name])
    recent = _menu(file_menu, "Open &Recent")
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
    edit = _menu(bar, "&Edit")
    for entry in ("undo", "redo", None, "copy", "paste", "duplicate", "delete", "select_all", None,
                  "add_node", "backdrop", None, "bypass", "mute", None, "group", "ungroup", None, "preferences"):
        edit.addSeparator() if entry is None else edit.addAction(actions[entry])
    view = _menu(bar, "&View")
    view.addAction(actions["gallery"])
    view.addSeparator()
    view.addAction(actions["fit"])
    view.addAction(actions["layout"])
    view.addSeparator()
    view.addAction(actions["spend"])
    panels = _menu(view, "&Panels")
    run = _menu(bar, "&Run")
    for name in ("run", "run_branch", "cancel"):
        run.addAction(actions[name])
    run.addSeparator()
    run.addAction(actions["plan"])
    run.addAction(actions["resume"])
    help_menu = _menu(bar, "&Help")
    help_menu.addAction(actions["shortcuts"])
    help_menu.addAction(actions["about"])
    return Menus(recent, panels)


def _menu(parent: QMenuBar | QMenu, title: str) -> QMenu:
    menu = parent.addMenu(title)
    assert menu is not None  # Qt always returns the new menu; PyQt's stubs mark every pointer result optional
    return menu


def build_toolbar(window: QMainWindow, actions: Actions) -> QToolBar:
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("MainToolbar")
    bar.setMovable(False)
    bar.setIconSize(QSize(18, 18))
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for name in ("new", "open", "save", None, "undo", "redo", None, "add_node", "backdrop", "layout", "fit",
                 None, "bypass", "mute", None, "templates", "gallery"):
        bar.addSeparator() if name is None else bar.addAction(actions[name])
    bar.addSeparator()
    for name in ("plan", "run", "run_branch", "cancel"):
        bar.addAction(actions[name])
    run_button = bar.widgetForAction(actions["run"])
    if isinstance(run_button, QToolButton):  # the one labelled button: the main thing to do here
        run_button.setObjectName("RunButton")
        run_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return bar


def fill_canvas_menu(menu: QMenu, actions: Actions) -> None:
    """The canvas's right-click menu shares the window's actions (and so their shortcuts)."""
    for name in ("add_node", "paste", None, "copy", "duplicate", "delete", None, "bypass", "mute", "group", None,
                 "backdrop", "layout", "fit", None, "run_branch"):
        menu.addSeparator() if name is None else menu.addAction(actions[name])
