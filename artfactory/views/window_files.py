"""The main window's file, template and dialog commands (a mixin, to keep main_window.py readable)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QFileDialog, QMessageBox

from artfactory.controllers import session
from artfactory.engine.document import DocumentError
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.dialogs.info import AboutDialog, ShortcutsDialog
from artfactory.views.dialogs.preferences import PreferencesDialog
from artfactory.views.dialogs.templates import SaveTemplateDialog, TemplateBrowser

if TYPE_CHECKING:
    from artfactory.views.main_window import MainWindow

GRAPH_FILTER = ("Art Factory graphs (*.json);;Exported products carrying a graph (*.png *.artfactory.json);;"
                "All files (*)")
Button = QMessageBox.StandardButton


class FilesMixin:
    """Needs the MainWindow attributes: app, tabs, autosave, undo_group, actions, recent_menu."""

    last_error: QMessageBox | None = None

    # --- messages -------------------------------------------------------------------------------------
    def show_error(self: MainWindow, title: str, text: str) -> QMessageBox:
        """A non-blocking error dialog (the window stays usable and nothing waits on it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, Button.Ok, self)
        box.setModal(False)
        box.open()
        self.last_error = box
        return box

    def ask_save(self: MainWindow, tab: GraphTab) -> Button:
        """Save, Discard or Cancel for a graph with unsaved changes."""
        return QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to “{tab.controller.title()}” before closing?",
            Button.Save | Button.Discard | Button.Cancel, Button.Save)

    def ask_restore(self: MainWindow, count: int) -> bool:
        answer = QMessageBox.question(
            self, "Restore unsaved graphs",
            f"Art Factory did not close properly last time. Restore {count} graph"
            f"{'s' if count != 1 else ''} with unsaved changes?", Button.Yes | Button.No, Button.Yes)
        return answer == Button.Yes

    # --- new, open, save -----------------------------------------------------------------------------------
    def new_graph(self: MainWindow) -> GraphTab:
        return self.add_graph(self.app.new_graph())

    def open_file(self: MainWindow, path: Path | None = None) -> GraphTab | None:
        """Open a graph in a new tab (or switch to it); a bad file shows why and changes nothing."""
        if path is None:
            start = str(session.recent_files()[0].parent) if session.recent_files() else str(Path.home())
            chosen, _ = QFileDialog.getOpenFileName(self, "Open graph", start, GRAPH_FILTER)
            if not chosen:
                return None
            path = Path(chosen)
        path = Path(path).resolve()
        for tab in self.graph_tabs():
            if tab.controller.path == path:
                self.tabs.setCurrentWidget(tab)
                return tab
        try:
            graph = self.app.open_graph(path)
        except DocumentError as exc:
            self.show_error("Cannot open graph", str(exc))
            return None
        replace = self.current_tab()
        tab = self.add_graph(graph)
        # An untouched empty "Untitled" tab makes way for the opened file, as editors do.
        if replace is not None and replace.controller.path is None and not replace.controller.doc.nodes \
                and not replace.controller.dirty:
            self.close_tab(self.tabs.indexOf(replace))
        session.remember_file(path)
        self.show_message(f"Opened {path.name}")
        return tab

    def save_current(self: MainWindow) -> bool:
        tab = self.current_tab()
        return self.save_tab(tab) if tab else False

    def save_current_as(self: MainWindow) -> bool:
        tab = self.current_tab()
        return self.save_tab(tab, ask=True) if tab else False

    def save_tab(self: MainWindow, tab: GraphTab, path: Path | None = None, ask: bool = False) -> bool:
        graph = tab.controller
        target = path or (None if ask else graph.path)
        if target is None:
            suggested = graph.path or Path.home() / f"{graph.doc.name or 'Untitled'}.json"
            chosen, _ = QFileDialog.getSaveFileName(self, "Save graph", str(suggested), GRAPH_FILTER)
            if not chosen:
                return False
            target = Path(chosen) if chosen.lower().endswith(".json") else Path(chosen + ".json")
        try:
            saved = graph.save(target)
        except OSError as exc:
            self.show_error("Cannot save graph", f"{target}: {exc.strerror or exc}")
            return False
        session.remember_file(saved)
        self.show_message(f"Saved {saved}")
        return True

    def _fill_recent(self: MainWindow) -> None:
        self.recent_menu.clear()
        files = session.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path.name)
            assert action is not None
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _=False, p=path: self._open_recent(p))
        if not files:
            empty = self.recent_menu.addAction("No recent graphs")
            assert empty is not None
            empty.setEnabled(False)

    def _open_recent(self: MainWindow, path: Path) -> None:
        if not path.is_file():
            session.forget_file(path)
            self.show_error("Cannot open graph", f"{path}: the file is gone (removed from Open Recent)")
            return
        self.open_file(path)

    # --- closing ----------------------------------------------------------------------------------------------
    def confirm_close(self: MainWindow, tab: GraphTab) -> bool:
        if not tab.controller.dirty:
            return True
        answer = self.ask_save(tab)
        if answer == Button.Save:
            return self.save_tab(tab)
        return answer == Button.Discard

    def close_tab(self: MainWindow, index: int) -> bool:
        widget = self.tabs.widget(index)
        if not isinstance(widget, GraphTab):
            return False
        if not self.confirm_close(widget):
            return False
        self.app.runs.forget_graph(widget.controller)
        self.autosave.untrack(widget.controller)
        self.undo_group.removeStack(widget.controller.undo_stack)
        self.tabs.removeTab(index)
        widget.deleteLater()
        return True

    def close_current_tab(self: MainWindow) -> None:
        tab = self.current_tab()
        if tab is not None:
            self.close_tab(self.tabs.indexOf(tab))

    def offer_restore(self: MainWindow) -> int:
        """After a crash: offer the autosaved graphs; returns how many were restored."""
        left = self.autosave.left_behind()
        if not left:
            return 0
        restored = 0
        if self.ask_restore(len(left)):
            for item in left:
                graph = self.app.new_graph(item.doc, item.original_path)
                graph.mark_dirty()
                self.add_graph(graph)
                restored += 1
        self.autosave.discard(left)
        return restored

    # --- dialogs -------------------------------------------------------------------------------------------------
    def show_templates(self: MainWindow) -> TemplateBrowser:
        dialog = TemplateBrowser(self.app, self)
        dialog.accepted.connect(lambda: dialog.chosen and self.add_graph(dialog.chosen))
        dialog.open()
        return dialog

    def save_as_template(self: MainWindow) -> SaveTemplateDialog | None:
        tab = self.current_tab()
        if tab is None:
            return None
        dialog = SaveTemplateDialog(self.app, tab.controller, self)
        dialog.accepted.connect(lambda: self.show_message(f"Saved template “{dialog.saved['name']}”"
                                                          if dialog.saved else "Template saved"))
        dialog.open()
        return dialog

    def show_preferences(self: MainWindow) -> PreferencesDialog:
        dialog = PreferencesDialog(self.app, self)
        dialog.open()
        return dialog

    def show_shortcuts(self: MainWindow) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.actions.sections, self)
        dialog.open()
        return dialog

    def show_about(self: MainWindow) -> AboutDialog:
        dialog = AboutDialog(self.app, self)
        dialog.open()
        return dialog
