"""The main window: the gallery and tabbed canvases, dockable panels, menus, toolbar, status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QByteArray, Qt
from PyQt6.QtGui import QCloseEvent, QIcon, QUndoGroup
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers import session, subgraphs
from artfactory.controllers.app_controller import AppController
from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.money_controller import MoneyController, PlanWatcher, badge_text, badge_tip
from artfactory.controllers.schema_controller import SchemaController
from artfactory.engine.document import DocumentError
from artfactory.services.lineage import NotFound
from artfactory.views import actions as window_actions
from artfactory.views import icons, theme
from artfactory.views.canvas import subgraph_nav
from artfactory.views.canvas.graph_tab import GraphTab
from artfactory.views.canvas.properties import PropertiesPanel
from artfactory.views.dialogs.info import AboutDialog, ShortcutsDialog
from artfactory.views.dialogs.plan_dialog import BudgetDialog, PlanDialog
from artfactory.views.dialogs.preferences import PreferencesDialog
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.panels.library_panel import LibraryPanel
from artfactory.views.panels.runs_panel import RunsPanel
from artfactory.views.panels.spend_panel import SpendPanel
from artfactory.views.viewer.product_dialog import ProductDialog
from artfactory.views.window_files import FileCommands

LAYOUT_VERSION = 1
CANVAS_DOCKS = ("library", "properties")  # panels that only serve a canvas
MESSAGE_MS = 8000


class MainWindow(QMainWindow):
    """The window owns the tabs, docks and status; the File menu's commands live in `files` (FileCommands)."""

    def __init__(self, app: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.setObjectName("MainWindow")
        self.setWindowTitle("Art Factory")
        self.setWindowIcon(QIcon(icons.pixmap("canvas", 64, theme.colors().accent)))
        self.resize(1480, 900)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.undo_group = QUndoGroup(self)
        # Bound methods only on undo signals: stacks emit while they are destroyed, and PyQt
        # disconnects a bound slot when its receiver goes, which a lambda would outlive.
        self.undo_group.canUndoChanged.connect(self._on_undo_state)
        self.undo_group.canRedoChanged.connect(self._on_undo_state)
        self.undo_group.undoTextChanged.connect(self._on_undo_text)
        self.undo_group.redoTextChanged.connect(self._on_redo_text)
        self.schemas = SchemaController(app.library, self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("CentralTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)

        self.library_panel = LibraryPanel(app.registry)
        self.library_panel.add_requested.connect(self._add_from_library)
        self.library_panel.set_macros(subgraphs.list_macros(app.library.home), subgraphs.MACRO_PREFIX)
        self.properties = PropertiesPanel(self.schemas)
        self.runs_panel = RunsPanel(app.runs)
        self.runs_panel.node_requested.connect(self.show_node)
        self.money = MoneyController(app.library, app.runs.executor, self)
        self.spend_panel = SpendPanel(app.library)
        app.runs.executor.signals.order_finished.connect(self.spend_panel.order_finished)
        self.plan_dialog: PlanDialog | None = None
        self.budget_dialog: BudgetDialog | None = None
        self.last_error: QMessageBox | None = None
        self.autosave = session.Autosave(app.library.home, app.settings.autosave_s, self)
        self.files = FileCommands(self, self, app, self.autosave)
        # Not self.actions: that would shadow QWidget.actions().
        self.menu_actions = window_actions.build(self, self._action_slots())
        menus = window_actions.build_menus(self, self.menu_actions)
        self.recent_menu, self.panels_menu = menus.recent, menus.panels
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent(self.recent_menu))
        self.toolbar = window_actions.build_toolbar(self, self.menu_actions)
        self.docks = {
            "library": self._dock("Nodes", "LibraryDock", self.library_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "properties": self._dock("Properties", "PropertiesDock", self.properties,
                                     Qt.DockWidgetArea.RightDockWidgetArea),
            "runs": self._dock("Runs", "RunsDock", self.runs_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "spend": self._dock("Spend", "SpendDock", self.spend_panel, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["runs"], self.docks["spend"])
        self.docks["spend"].hide()  # until View → Spend (or Panels) asks: then it sits as a tab beside Runs
        self.splitDockWidget(self.docks["properties"], self.docks["runs"], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["library"], self.docks["properties"]], [250, 360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["properties"], self.docks["runs"]], [520, 300], Qt.Orientation.Vertical)
        self._canvas_docks: list[str] | None = None  # canvas panels hidden while the gallery is shown
        self.gallery = GalleryWidget(app.library)
        self.gallery.attach_executor(app.runs.executor)
        self.gallery.attach_live(app.live)
        self.gallery.open_graph_requested.connect(self.open_order_graph)
        self.gallery.rerun_requested.connect(self.rerun_order)
        self.gallery.product_activated.connect(self.open_product)
        self.add_central_tab(self.gallery, "Gallery", icons.icon("gallery"))
        self.product_window: ProductDialog | None = None

        self.library_label = QLabel(f"Library: {app.library.home}")
        status = self.statusBar()
        assert status is not None
        status.addPermanentWidget(self.library_label)
        # Status-bar buttons, hidden until needed: one click to where a key goes, or to finish interrupted orders.
        self.key_button = self._status_button("Add API key…", "KeyNeededButton", "Open Preferences → API keys",
                                              self._open_key_preferences)
        self._key_provider = ""
        self.resume_button = self._status_button(
            "Resume", "ResumeButton", "Finish the interrupted orders (Run → Resume Interrupted Orders)",
            self.resume_interrupted)
        app.runs.key_needed.connect(self._on_key_needed)
        app.runs.order_added.connect(self.key_button.hide)
        app.runs.message.connect(self.show_message)
        app.settings_changed.connect(self._on_settings_changed)
        self.autosave.start()
        self.restore_layout()
        self._update_actions()

    def _action_slots(self) -> dict[str, Callable[[], object]]:
        """What each action in actions.TABLE does."""
        f = self.files
        return {
            "new": f.new_graph, "open": f.open_file, "save": f.save_current, "save_as": f.save_current_as,
            "templates": f.show_templates, "save_template": f.save_as_template,
            "import": self.import_files, "import_folder": self.import_folder, "export": self.export_products,
            "close_tab": self.close_current_tab, "quit": self.close,
            "undo": self.undo_group.undo, "redo": self.undo_group.redo,
            "copy": self.copy_selection, "paste": self.paste, "duplicate": self.duplicate_selection,
            "delete": self.delete_selection, "select_all": self.select_all, "add_node": self.show_node_search,
            "backdrop": self.add_backdrop, "preferences": self.show_preferences,
            "bypass": lambda: self.toggle_mode("bypass"), "mute": lambda: self.toggle_mode("mute"),
            "group": self.group_selection, "ungroup": self.ungroup_selection,
            "gallery": self.show_gallery, "fit": self.zoom_to_fit, "layout": self.auto_layout,
            "run": self.run_graph, "run_branch": self.run_selected_branch, "cancel": self.cancel_run,
            "plan": self.show_plan, "spend": self.show_spend,
            "resume": self.resume_interrupted, "shortcuts": self.show_shortcuts, "about": self.show_about,
        }

    def _status_button(self, text: str, name: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.hide()
        button.clicked.connect(slot)
        status = self.statusBar()
        assert status is not None
        status.addPermanentWidget(button)
        return button

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    # --- central tabs ---------------------------------------------------------------------------------
    def add_central_tab(self, widget: QWidget, title: str, icon: QIcon | None = None, closable: bool = False,
                        index: int | None = None) -> int:
        """Put any page (e.g. the gallery) beside the canvases; a non-closable page has no close button."""
        position = self.tabs.insertTab(index if index is not None else self.tabs.count(), widget,
                                       icon or QIcon(), title)
        if not closable:
            bar = self.tabs.tabBar()
            if bar is not None:
                for side in (bar.ButtonPosition.RightSide, bar.ButtonPosition.LeftSide):
                    bar.setTabButton(position, side, None)
        return position

    def graph_tabs(self) -> list[GraphTab]:
        return [w for i in range(self.tabs.count()) if isinstance(w := self.tabs.widget(i), GraphTab)]

    def current_tab(self) -> GraphTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, GraphTab) else None

    def add_graph(self, graph: GraphController, select: bool = True) -> GraphTab:
        tab = GraphTab(graph)
        graph.message.connect(self.show_message)
        graph.title_changed.connect(self._on_title_changed)
        graph.run_state.reset.connect(self._on_run_state)
        graph.run_state.finished.connect(self._on_run_state)
        tab.view.selection_changed.connect(self._on_view_selection)
        tab.view.product_activated.connect(self.open_product)
        tab.view.node_activated.connect(self._on_node_activated)
        tab.view.files_dropped.connect(self._open_dropped)
        tab.view.media_dropped.connect(self._import_dropped)
        tab.view.products_requested.connect(self.show_node_products)
        tab.view.macro_requested.connect(self.save_subgraph_macro)
        window_actions.fill_canvas_menu(tab.view.context_menu(), self.menu_actions)
        watcher = self.money.watch(graph)  # the cost badges: re-planned a moment after each edit and run
        watcher.updated.connect(self._on_plan_updated)
        for menu in tab.findChildren(QMenu):  # NodeGraphQt styles its menus dark in any theme: the app's rules
            menu.setStyleSheet("")
        self.undo_group.addStack(graph.undo_stack)
        if not isinstance(graph, subgraphs.SubgraphController):  # a subgraph saves with its graph
            tab.autosave_key = self.autosave.track(graph)
        index = self.tabs.addTab(tab, icons.icon("canvas"), graph.title())
        close = QToolButton()
        close.setIcon(icons.icon("close"))
        close.setAutoRaise(True)
        close.setToolTip("Close this graph")
        close.clicked.connect(lambda: self.close_tab(self.tabs.indexOf(tab)))
        bar = self.tabs.tabBar()
        if bar is not None:
            bar.setTabButton(index, bar.ButtonPosition.RightSide, close)
        if select:
            self.tabs.setCurrentIndex(index)
        self._retitle(tab)
        return tab

    def select_tab(self, tab: GraphTab) -> None:
        self.tabs.setCurrentWidget(tab)

    def close_tab(self, index: int) -> bool:
        """Close a graph tab, asking first about unsaved changes; False when it stays open."""
        widget = self.tabs.widget(index)
        if not isinstance(widget, GraphTab):
            return False
        if isinstance(widget.controller, subgraphs.SubgraphController):
            return self._close_subgraph_tab(widget)
        if not self.files.confirm_close(widget):
            return False
        for inner in self._subgraph_tabs(widget.controller):
            self._close_subgraph_tab(inner)
        self.app.runs.forget_graph(widget.controller)
        self.autosave.untrack(widget.controller)
        self.undo_group.removeStack(widget.controller.undo_stack)
        self.tabs.removeTab(index)
        widget.deleteLater()
        return True

    # --- subgraphs: each opened in a tab of its own, edited in place in its graph --------------------------
    def _subgraph_tabs(self, graph: GraphController) -> list[GraphTab]:
        return [t for t in self.graph_tabs() if isinstance(t.controller, subgraphs.SubgraphController)
                and graph in subgraphs.chain_of(t.controller)[:-1]]

    def open_subgraph(self, tab: GraphTab, node_id: str) -> GraphTab | None:
        """Double-click on a subgraph node: its inside in a tab with a breadcrumb back (the same tab if open)."""
        for other in self._subgraph_tabs(tab.controller):
            inner = other.controller
            if isinstance(inner, subgraphs.SubgraphController) and inner.root is tab.controller \
                    and inner.outer_id == node_id and inner.still_there():
                self.select_tab(other)
                return other
        try:
            graph = subgraphs.SubgraphController(tab.controller, node_id)
        except subgraphs.GroupError as exc:
            self.show_message(f"Cannot open the subgraph: {exc}")
            return None
        inner_tab = self.add_graph(graph)
        # The undo stack holds commands that edit this graph in place: it outlives its tab.
        graph.setParent(None)
        graph.gone.connect(lambda: self._close_subgraph_tab(inner_tab))
        # The subgraph node's face counts its nodes: kept current as they are added or deleted inside.
        graph.node_added.connect(lambda _id: subgraph_nav.refresh_face(tab.view, node_id))
        graph.node_removed.connect(lambda _id: subgraph_nav.refresh_face(tab.view, node_id))
        layout = inner_tab.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(0, subgraph_nav.breadcrumb(subgraphs.chain_of(graph), self._go_to_graph))
        return inner_tab

    def save_subgraph_macro(self, node_id: str) -> Path | None:
        """A subgraph node's "Save Subgraph as Template": kept in the library, listed under Nodes → Macros."""
        tab = self._tab_of(self.sender()) or self.current_tab()
        if tab is None:
            return None
        try:
            path = subgraphs.save_macro(self.app.library.home, tab.controller.doc, node_id)
        except (subgraphs.GroupError, OSError) as exc:
            self.show_message(f"Not saved: {exc}")
            return None
        self.library_panel.set_macros(subgraphs.list_macros(self.app.library.home), subgraphs.MACRO_PREFIX)
        self.show_message(f"Saved {path.stem} as a macro: Nodes → Macros adds it to any graph")
        return path

    def add_macro(self, name: str) -> str | None:
        """A saved subgraph (Nodes → Macros) as a new subgraph node in the current graph; one undo step."""
        tab = self.current_tab()
        path = subgraphs.list_macros(self.app.library.home).get(name)
        if tab is None or path is None:
            self.show_message(f"No macro named {name!r}" if tab else "Open a graph first")
            return None
        try:
            node_id = subgraphs.insert_macro(tab.controller, path, tab.view.drop_point())
        except subgraphs.GroupError as exc:
            self.show_message(f"Cannot add macro {name}: {exc}")
            return None
        tab.view.select([node_id])
        tab.view.viewer.setFocus()
        return node_id

    def _go_to_graph(self, graph: GraphController) -> None:
        tab = self._tab_of(graph)
        if tab is not None:
            self.select_tab(tab)

    def _close_subgraph_tab(self, tab: GraphTab) -> bool:
        index = self.tabs.indexOf(tab)
        if index < 0:
            return False
        for inner in self._subgraph_tabs(tab.controller):
            self._close_subgraph_tab(inner)
        graph = tab.controller
        if isinstance(graph, subgraphs.SubgraphController):
            graph.gone.disconnect()
        self.tabs.removeTab(index)
        tab.deleteLater()
        return True

    def close_graph(self, tab: GraphTab) -> bool:
        return self.close_tab(self.tabs.indexOf(tab))

    def close_current_tab(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            self.close_graph(tab)

    def _retitle(self, tab: GraphTab) -> None:
        index = self.tabs.indexOf(tab)
        if index < 0:
            return
        graph = tab.controller
        self.tabs.setTabText(index, graph.title() + (" •" if graph.dirty else ""))
        self.tabs.setTabToolTip(index, str(graph.path) if graph.path else "Not saved yet")
        if tab is self.current_tab():
            self.setWindowTitle(f"{graph.title()}{' •' if graph.dirty else ''} — Art Factory")

    def _switch_perspective(self) -> None:
        """The gallery gets the width: the canvas-only panels step aside while it is shown and come back after."""
        on_gallery = self.tabs.currentWidget() is self.gallery
        if on_gallery and self._canvas_docks is None:
            self._canvas_docks = [d for d in CANVAS_DOCKS if not self.docks[d].isHidden()]
            for name in self._canvas_docks:
                self.docks[name].hide()
        elif not on_gallery and self._canvas_docks is not None:
            for name in self._canvas_docks:
                self.docks[name].show()
            self._canvas_docks = None

    def _on_tab_changed(self, _index: int) -> None:
        self._switch_perspective()
        tab = self.current_tab()
        if tab is not None:
            self.undo_group.setActiveStack(tab.controller.undo_stack)
            self._retitle(tab)
            self.properties.set_graph(tab.controller)
            self.properties.show_nodes(tab.view.selected_ids())
        else:
            self.undo_group.setActiveStack(None)
            self.properties.set_graph(None)
            self.setWindowTitle("Art Factory")
        self._update_actions()

    def _tab_of(self, obj: object) -> GraphTab | None:
        return next((t for t in self.graph_tabs() if obj in (t.controller, t.view)), None)

    def _on_title_changed(self) -> None:
        tab = self._tab_of(self.sender())
        if tab is not None:
            self._retitle(tab)

    def _on_view_selection(self, node_ids: list[str]) -> None:
        if self._tab_of(self.sender()) is self.current_tab():
            self.properties.show_nodes(node_ids)
            self._update_actions()

    def _on_node_activated(self, node_id: str) -> None:
        tab = self._tab_of(self.sender())
        if tab is not None and subgraphs.is_subgraph(tab.controller, node_id):
            self.open_subgraph(tab, node_id)
            return
        self.docks["properties"].show()
        self.docks["properties"].raise_()

    def _open_dropped(self, paths: list[str]) -> None:
        for path in paths:
            self.files.open_file(Path(path))

    def _import_dropped(self, paths: list[str], pos: tuple[float, float]) -> QWidget | None:
        """Desktop files dropped on a canvas: a folder becomes an input.folder node; files are imported into the
        library (the import dialog says what was refused) and one input.product node takes them in, where they
        were dropped. Returns the import dialog, if files were imported."""
        tab = self._tab_of(self.sender()) or self.current_tab()
        if tab is None:
            return None
        view = tab.view
        x, y = pos
        files = []
        for path in map(Path, paths):
            if path.is_dir():
                view.add_input_node("input.folder", (x, y), {"folder": str(path)})
                x, y = x + 40, y + 40
            else:
                files.append(path)
        if not files:
            return None
        dialog = self.gallery.import_files(files)

        def take_in(_new: list[str]) -> None:
            result = dialog.result_value
            ids = list(dict.fromkeys(p.id for p in result.products)) if result is not None else []
            if ids and tab in self.graph_tabs():
                view.add_product_node(ids, (x, y))

        dialog.imported.connect(take_in)
        return dialog

    def _on_run_state(self, *_args: object) -> None:
        self._update_actions()

    def _on_undo_state(self, _can: bool) -> None:
        self._update_actions()

    def _on_undo_text(self, text: str) -> None:
        self._undo_text("undo", "Undo", text)

    def _on_redo_text(self, text: str) -> None:
        self._undo_text("redo", "Redo", text)

    def _update_actions(self) -> None:
        tab = self.current_tab()
        has_graph = tab is not None
        for name in ("save", "save_as", "save_template", "copy", "paste", "duplicate", "delete", "select_all",
                     "add_node", "backdrop", "fit", "layout", "run", "run_branch", "close_tab", "plan", "bypass",
                     "mute", "group", "ungroup"):
            self.menu_actions[name].setEnabled(has_graph)
        self.menu_actions["cancel"].setEnabled(tab is not None and tab.controller.run_state.running)
        self.menu_actions["undo"].setEnabled(has_graph and self.undo_group.canUndo())
        self.menu_actions["redo"].setEnabled(has_graph and self.undo_group.canRedo())

    def _undo_text(self, name: str, verb: str, text: str) -> None:
        if hasattr(self, "menu_actions"):  # undo stacks report while the window is still being built
            self.menu_actions[name].setText(f"&{verb} {text}" if text else f"&{verb}")

    def _on_key_needed(self, provider: str) -> None:
        self._key_provider = provider
        name = self.app.provider_name(provider) if provider else ""
        self.key_button.setText(f"Add {name} API key…" if name else "Add API key…")
        self.key_button.show()

    def _open_key_preferences(self) -> None:
        self.key_button.hide()
        self.show_preferences().show_keys(self._key_provider)

    def show_message(self, text: str) -> None:
        status = self.statusBar()
        if status is not None:
            status.showMessage(text, MESSAGE_MS)

    def show_error(self, title: str, text: str) -> QMessageBox:
        """A non-blocking error dialog (the window stays usable and nothing waits on it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.open()
        self.last_error = box
        return box

    # --- dialogs ------------------------------------------------------------------------------------------
    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.app, self)
        dialog.prices.prices_changed.connect(self.money.notify_prices_changed)
        dialog.open()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.menu_actions.sections, self)
        dialog.open()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.app, self)
        dialog.open()
        return dialog

    # --- edit commands on the current canvas --------------------------------------------------------------
    def copy_selection(self) -> None:
        if (tab := self.current_tab()) and tab.copy():
            self.show_message(f"Copied {len(tab.view.selected_ids())} node(s)")

    def paste(self) -> None:
        if tab := self.current_tab():
            tab.paste()

    def duplicate_selection(self) -> None:
        if tab := self.current_tab():
            tab.duplicate()

    def delete_selection(self) -> None:
        if tab := self.current_tab():
            tab.delete_selection()

    def select_all(self) -> None:
        if tab := self.current_tab():
            tab.view.select_all()

    def show_node_search(self) -> None:
        if tab := self.current_tab():
            tab.view.viewer.setFocus()
            tab.view.show_search()

    def _add_from_library(self, type_name: str) -> None:
        if type_name.startswith(subgraphs.MACRO_PREFIX):
            self.add_macro(type_name.removeprefix(subgraphs.MACRO_PREFIX))
            return
        if tab := self.current_tab():
            tab.view.add_node(type_name)
            tab.view.viewer.setFocus()

    def add_backdrop(self) -> None:
        if tab := self.current_tab():
            tab.view.add_backdrop_around_selection()

    def toggle_mode(self, mode: str) -> None:
        """Ctrl+B / Ctrl+M: bypass or mute the selected nodes (again: back to normal); one undo step."""
        if tab := self.current_tab():
            tab.view.toggle_mode(mode)

    def group_selection(self) -> str | None:
        """Ctrl+Shift+G: the selected nodes become one subgraph node (asks its name); one undo step."""
        tab = self.current_tab()
        return subgraph_nav.group_selection(tab.view, self) if tab else None

    def ungroup_selection(self) -> list[str]:
        """Ctrl+Shift+U: the selected subgraph nodes give back their inner nodes; one undo step each."""
        tab = self.current_tab()
        if tab is None:
            return []
        chosen = [n for n in tab.view.selected_ids() if subgraphs.is_subgraph(tab.controller, n)]
        if not chosen:
            tab.controller.message.emit("Select a subgraph node to ungroup first")
            return []
        return [new for node_id in chosen for new in subgraph_nav.ungroup(tab.view, node_id)]

    def zoom_to_fit(self) -> None:
        if tab := self.current_tab():
            tab.view.zoom_to_fit()

    def auto_layout(self) -> None:
        if tab := self.current_tab():
            tab.view.auto_layout()
            tab.view.zoom_to_fit()

    # --- runs -----------------------------------------------------------------------------------------------
    def run_graph(self) -> str | None:
        tab = self.current_tab()
        return self._run_checked(subgraphs.top_graph(tab.controller)) if tab else None

    def _run_checked(self, graph: GraphController, only: list[str] | None = None) -> str | None:
        """Run, unless the estimate needs the user's yes first (threshold, monthly budget, unpriced paid nodes):
        then the budget dialog asks, and nothing is sent unless they choose Run anyway."""
        # A graph that is running queues the order (RunController.run): held to the same budget check first.
        check = self.money.check_run(graph, only)
        if not check.needs_confirmation:
            return self.app.runs.run(graph, only=only)
        dialog = BudgetDialog(graph, check, self)
        dialog.accepted.connect(lambda: self.app.runs.run(graph, only=only))
        dialog.rejected.connect(lambda: self.show_message("Not started: nothing was sent"))
        dialog.open()
        self.budget_dialog = dialog
        return None

    def show_plan(self) -> PlanDialog | None:
        """Run → Plan…: what Run would execute, take from the cache and bill, kept current while open."""
        tab = self.current_tab()
        if tab is not None:  # inside a subgraph: the plan of the graph it belongs to
            tab = self._tab_of(subgraphs.top_graph(tab.controller)) or tab
        watcher = self.plan_watcher(tab.controller) if tab else None
        if tab is None or watcher is None:
            return None
        if self.plan_dialog is not None:
            self.plan_dialog.close()
        dialog = PlanDialog(tab.controller, watcher, self)
        dialog.run_requested.connect(lambda: self._run_from_plan(tab))
        dialog.node_selected.connect(lambda node_id: tab.view.select([node_id]))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "plan_dialog", None))
        dialog.show()
        self.plan_dialog = dialog
        return dialog

    def _run_from_plan(self, tab: GraphTab) -> None:
        if tab in self.graph_tabs():
            self.select_tab(tab)
            self._run_checked(tab.controller)

    @staticmethod
    def plan_watcher(graph: GraphController) -> PlanWatcher | None:
        return graph.findChild(PlanWatcher)

    def _on_plan_updated(self) -> None:
        watcher = self.sender()
        if not isinstance(watcher, PlanWatcher):
            return
        tab = self._tab_of(watcher.graph)
        if tab is not None:
            self.apply_costs(tab, watcher)

    def apply_costs(self, tab: GraphTab, watcher: PlanWatcher) -> None:
        """Each paid node's badge from the graph's latest estimate ("" when it has none, or no plan)."""
        nodes = watcher.estimate.nodes if watcher.estimate is not None else {}
        for node_id in [spec.id for spec in tab.controller.doc.nodes]:
            item = tab.view.node_item(node_id)
            estimate = nodes.get(node_id)
            if item is not None:
                item.set_cost(badge_text(estimate) if estimate else "", badge_tip(estimate) if estimate else "")

    def show_spend(self) -> SpendPanel:
        dock = self.docks["spend"]
        dock.show()
        dock.raise_()
        self.spend_panel.refresh()
        return self.spend_panel

    def run_selected_branch(self) -> str | None:
        tab = self.current_tab()
        if tab is None:
            return None
        selected = tab.view.selected_ids()
        if not selected:
            self.show_message("Select the node(s) to run; what they need runs with them")
            return None
        graph = subgraphs.top_graph(tab.controller)
        if graph is not tab.controller:  # inside a subgraph: its node (in the top graph) and what it needs
            inner = subgraphs.chain_of(tab.controller)[1]
            assert isinstance(inner, subgraphs.SubgraphController)
            selected = [inner.outer_id]
        return self._run_checked(graph, only=selected)

    def offer_resume(self, count: int) -> None:
        """Say that `count` orders were interrupted by the last exit, with a button that finishes them."""
        were, them = ("s were", "them") if count != 1 else (" was", "it")
        self.show_message(f"{count} order{were} interrupted by the last exit — Resume finishes {them} "
                          "(Run → Resume Interrupted Orders)")
        self.resume_button.setVisible(not self.app.library.read_only)

    def resume_interrupted(self) -> None:
        self.resume_button.hide()
        if self.app.library.read_only:
            self.show_message(f"The library at {self.app.library.home} is read-only: runs cannot be resumed")
            return
        if not self.app.runs.resume_interrupted():
            self.show_message("No interrupted orders to resume")

    def cancel_run(self) -> None:
        tab = self.current_tab()
        if tab is not None and not self.app.runs.cancel_graph(subgraphs.top_graph(tab.controller)):
            self.show_message("Nothing is running in this graph")

    def show_node(self, order_id: str, node_id: str) -> None:
        graph = self.app.runs.graph_of(order_id)
        for tab in self.graph_tabs():
            if tab.controller is graph:
                self.tabs.setCurrentWidget(tab)
                tab.view.select([node_id.split("/", 1)[0]])  # an inner node (OUTER/INNER): its subgraph node
                tab.view.zoom_to_fit()
                return
        self.show_message("That order's graph is not open")

    # --- products and lineage -------------------------------------------------------------------------------
    def show_gallery(self) -> GalleryWidget:
        self.tabs.setCurrentWidget(self.gallery)
        self.gallery.view.setFocus()
        return self.gallery

    def import_files(self) -> None:
        self.show_gallery().import_dialog()

    def import_folder(self) -> None:
        self.show_gallery().import_dialog(folder=True)

    def export_products(self) -> None:
        gallery = self.show_gallery()
        if not gallery.selected_ids():
            self.show_message("Select the products to export in the gallery first")
            return
        gallery.export_selected()

    def open_product(self, product_id: str) -> ProductDialog | None:
        """The product viewer window (one, reused) with the product and its lineage."""
        if self.product_window is None:
            window = ProductDialog(self.app.library, self)
            viewer = window.viewer
            viewer.open_graph_requested.connect(self.open_order_graph)
            viewer.rerun_requested.connect(self.rerun_order)
            viewer.order_requested.connect(self._show_order_in_gallery)
            viewer.product_changed.connect(lambda pid: self.gallery.model.update_products([pid]))
            viewer.product_deleted.connect(lambda _pid: self.gallery.refresh())
            viewer.mask_saved.connect(self.gallery.show_saved_mask)
            viewer.message.connect(self.show_message)
            self.product_window = window
        if not self.product_window.show_product(product_id):
            self.show_error("Product not found", f"The product {product_id} is no longer in the library.")
            return None
        return self.product_window

    def show_node_products(self, node_id: str) -> None:
        """The gallery on the order that made what a node shows (a cached node's products are an older order's)."""
        tab = self._tab_of(self.sender()) or self.current_tab()
        product_ids = tab.view.node_products(node_id) if tab is not None else []
        order_id = self.gallery.gallery.origin(product_ids[0])[0] if product_ids else None
        if not order_id:
            self.show_message(f"{node_id} has made nothing yet: run the graph first")
            return
        gallery = self.show_gallery()
        gallery.show_order(order_id)
        gallery.refresh()  # now, not after the filter's debounce: the selection needs the rows
        if gallery.model.canFetchMore():
            gallery.model.fetchMore()  # the first page (an order's worth) before the view asks for it
        gallery.select_products(product_ids)

    def _show_order_in_gallery(self, order_id: str) -> None:
        self.show_gallery().show_order(order_id)

    def _graph_from_order(self, order_id: str, rerun: bool) -> GraphController | None:
        try:
            return self.app.graph_from_order(order_id, rerun=rerun)
        except (NotFound, DocumentError) as exc:
            self.show_error("Cannot open the order's graph", f"Order {order_id}: {exc}")
            return None

    def open_order_graph(self, order_id: str, node_id: str = "") -> GraphTab | None:
        """The graph exactly as the order ran it, in a new tab, with the producing node selected and highlighted."""
        graph = self._graph_from_order(order_id, rerun=False)
        if graph is None:
            return None
        tab = self.add_graph(graph)
        if node_id:
            if not tab.view.highlight(node_id):
                self.show_message(f"Node {node_id} is not in that order's graph")
        else:
            tab.view.zoom_to_fit()
        self.show_message(f"Opened the graph of order {order_id}" + (f" at node {node_id}" if node_id else ""))
        return tab

    def rerun_order(self, order_id: str) -> GraphTab | None:
        """The order's graph as a new graph linked to it: tweak, Run, and only what changed executes."""
        graph = self._graph_from_order(order_id, rerun=True)
        if graph is None:
            return None
        tab = self.add_graph(graph)
        tab.view.zoom_to_fit()
        self.show_message(f"Re-run of order {order_id}: change what you like and Run — "
                          "unchanged nodes come from the cache")
        return tab

    # --- layout ---------------------------------------------------------------------------------------------
    def restore_layout(self) -> None:
        settings = session.ui_settings()
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        if self._canvas_docks is not None:  # keep the canvas perspective, not the gallery's
            for name in self._canvas_docks:
                self.docks[name].show()
        settings = session.ui_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        settings.sync()

    def _on_settings_changed(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication) and self.app.settings.theme != theme.current_name():
            theme.apply(app, self.app.settings.theme)  # live: palette, stylesheet, icons (drawn in its colours)
            self.menu_actions.retint()
            c = theme.colors()
            for tab in self.graph_tabs():  # the canvas colours live in NodeGraphQt's scene, not the palette
                tab.view.graph.set_background_color(*c.canvas)
                tab.view.graph.set_grid_color(*c.grid)
        self.autosave.set_interval(self.app.settings.autosave_s)

    def closeEvent(self, event: QCloseEvent | None) -> None:
        if event is None:
            return
        for tab in self.graph_tabs():
            # A subgraph's tab saves with its graph's: asked about there.
            if not isinstance(tab.controller, subgraphs.SubgraphController) and not self.files.confirm_close(tab):
                event.ignore()
                return
        self.save_layout()
        self.app.runs.cancel_all()
        self.app.live.stop()
        self.autosave.clean_exit()
        event.accept()
