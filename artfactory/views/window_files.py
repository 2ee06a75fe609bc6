"""The main window's file commands: new, open, save, Open Recent, templates, unsaved changes, crash restore."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PyQt6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from artfactory.controllers import session
from artfactory.controllers.app_controller import AppController
from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.document import DocumentError
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.dialogs.templates import SaveTemplateDialog, TemplateBrowser

GRAPH_FILTER = ("Art Factory graphs (*.json);;Exported products carrying a graph (*.png *.artfactory.json);;"
                "All files (*)")
Button = QMessageBox.StandardButton


class GraphTabs(Protocol):
    """What the file commands use of the window's graph tabs and status (MainWindow provides it)."""

    def graph_tabs(self) -> list[GraphTab]: ...
    def current_tab(self) -> GraphTab | None: ...
    def add_graph(self, graph: GraphController, select: bool = True) -> GraphTab: ...
    def select_tab(self, tab: GraphTab) -> None: ...
    def close_graph(self, tab: GraphTab) -> bool: ...
    def show_message(self, text: str) -> None: ...
    def show_error(self, title: str, text: str) -> QMessageBox: ...


class FileCommands:
    """The File menu's commands; dialogs open over `parent`, graphs open as tabs of `window`."""

    def __init__(self, parent: QWidget, window: GraphTabs, app: AppController, autosave: session.Autosave) -> None:
        self.parent, self.window, self.app, self.autosave = parent, window, app, autosave

    # --- questions ------------------------------------------------------------------------------------
    def ask_save(self, tab: GraphTab) -> Button:
        """Save, Discard or Cancel for a graph with unsaved changes."""
        return QMessageBox.question(
            self.parent, "Unsaved changes", f"Save the changes to “{tab.controller.title()}” before closing?",
            Button.Save | Button.Discard | Button.Cancel, Button.Save)

    def ask_restore(self, count: int) -> bool:
        answer = QMessageBox.question(
            self.parent, "Restore unsaved graphs",
            f"Art Factory did not close properly last time. Restore {count} graph"
            f"{'s' if count != 1 else ''} with unsaved changes?", Button.Yes | Button.No, Button.Yes)
        return answer == Button.Yes

    # --- new, open, save -----------------------------------------------------------------------------------
    def new_graph(self) -> GraphTab:
        return self.window.add_graph(self.app.new_graph())

    def open_file(self, path: Path | None = None) -> GraphTab | None:
        """Open a graph in a new tab (or switch to it); a bad file shows why and changes nothing."""
        if path is None:
            start = str(session.recent_files()[0].parent) if session.recent_files() else str(Path.home())
            chosen, _ = QFileDialog.getOpenFileName(self.parent, "Open graph", start, GRAPH_FILTER)
            if not chosen:
                return None
            path = Path(chosen)
        path = Path(path).resolve()
        for tab in self.window.graph_tabs():
            if tab.controller.path == path:
                self.window.select_tab(tab)
                return tab
        try:
            graph = self.app.open_graph(path)
        except DocumentError as exc:
            self.window.show_error("Cannot open graph", str(exc))
            return None
        replace = self.window.current_tab()
        tab = self.window.add_graph(graph)
        # An untouched empty "Untitled" tab makes way for the opened file, as editors do.
        if replace is not None and replace.controller.path is None and not replace.controller.doc.nodes \
                and not replace.controller.dirty:
            self.window.close_graph(replace)
        session.remember_file(path)
        self.window.show_message(f"Opened {path.name}")
        return tab

    def save_current(self) -> bool:
        tab = self.window.current_tab()
        return self.save_tab(tab) if tab else False

    def save_current_as(self) -> bool:
        tab = self.window.current_tab()
        return self.save_tab(tab, ask=True) if tab else False

    def save_tab(self, tab: GraphTab, path: Path | None = None, ask: bool = False) -> bool:
        graph = tab.controller
        target = path or (None if ask else graph.path)
        if target is None:
            suggested = graph.path or Path.home() / f"{graph.doc.name or 'Untitled'}.json"
            chosen, _ = QFileDialog.getSaveFileName(self.parent, "Save graph", str(suggested), GRAPH_FILTER)
            if not chosen:
                return False
            target = Path(chosen) if chosen.lower().endswith(".json") else Path(chosen + ".json")
        try:
            saved = graph.save(target)
        except OSError as exc:
            self.window.show_error("Cannot save graph", f"{target}: {exc.strerror or exc}")
            return False
        session.remember_file(saved)
        self.window.show_message(f"Saved {saved}")
        return True

    def fill_recent(self, menu: QMenu) -> None:
        """Open Recent's items, read when it opens (another window may have added files)."""
        menu.clear()
        files = session.recent_files()
        for path in files:
            action = menu.addAction(path.name)
            assert action is not None
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _=False, p=path: self._open_recent(p))
        if not files:
            empty = menu.addAction("No recent graphs")
            assert empty is not None
            empty.setEnabled(False)

    def _open_recent(self, path: Path) -> None:
        if not path.is_file():
            session.forget_file(path)
            self.window.show_error("Cannot open graph", f"{path}: the file is gone (removed from Open Recent)")
            return
        self.open_file(path)

    # --- closing ----------------------------------------------------------------------------------------------
    def confirm_close(self, tab: GraphTab) -> bool:
        if not tab.controller.dirty:
            return True
        answer = self.ask_save(tab)
        if answer == Button.Save:
            return self.save_tab(tab)
        return answer == Button.Discard

    def offer_restore(self) -> int:
        """After a crash: offer the autosaved graphs; returns how many were restored."""
        left = self.autosave.left_behind()
        if not left:
            return 0
        restored = 0
        if self.ask_restore(len(left)):
            for item in left:
                graph = self.app.new_graph(item.doc, item.original_path)
                graph.mark_dirty()
                self.window.add_graph(graph)
                restored += 1
        self.autosave.discard(left)
        return restored

    # --- templates ------------------------------------------------------------------------------------------------
    def show_templates(self) -> TemplateBrowser:
        dialog = TemplateBrowser(self.app, self.parent)
        dialog.accepted.connect(lambda: dialog.chosen and self.window.add_graph(dialog.chosen))
        dialog.open()
        return dialog

    def save_as_template(self) -> SaveTemplateDialog | None:
        tab = self.window.current_tab()
        if tab is None:
            return None
        dialog = SaveTemplateDialog(self.app, tab.controller, self.parent)
        dialog.accepted.connect(lambda: self.window.show_message(f"Saved template “{dialog.saved['name']}”"
                                                          if dialog.saved else "Template saved"))
        dialog.open()
        return dialog
