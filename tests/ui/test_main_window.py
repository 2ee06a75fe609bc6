"""The main window as a user drives it: run and cancel, files, templates, preferences, layout, crash recovery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QDockWidget, QMessageBox

from artfactory import app as app_module
from artfactory.config import shipped_graphs_dir
from artfactory.engine import document as graph_document
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.views.canvas.node_item import ThumbItem
from artfactory.views.dialogs.info import AboutDialog, ShortcutsDialog
from artfactory.views.dialogs.preferences import PreferencesDialog
from artfactory.views.dialogs.templates import SaveTemplateDialog, TemplateBrowser
from artfactory.views.main_window import MainWindow
from artfactory.views.viewer.product_dialog import ProductDialog
from tests.support.fake_keys import fake_replicate_token
from tests.support.qt import open_main_window, opened_window

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")
Button = QMessageBox.StandardButton


def open_window(qtbot: Any, library: Library) -> MainWindow:
    return open_main_window(qtbot, library, activate=True)


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def local_graph(latency_ms: int = 0) -> GraphDocument:
    return GraphDocument(name="Local", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a lighthouse at dusk"}),
        NodeSpec("gen", "provider.local", {"seed": 11, "width": 96, "height": 96, "latency_ms": latency_ms}),
        NodeSpec("small", "transform.resize", {"width": 48, "height": 48}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")])


def shipped_example() -> Path:
    candidates = sorted(shipped_graphs_dir().glob("*.json"))
    local_only = [p for p in candidates
                  if all(n.type.split(".")[0] != "provider" or n.type == "provider.local"
                         for n in graph_document.load(p).nodes)]
    assert local_only, "no shipped example runs offline"
    return local_only[0]


def wait_finished(qtbot: Any, win: MainWindow, timeout: int = 60_000) -> str:
    tab = win.current_tab()
    assert tab is not None
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=timeout)
    return str(tab.controller.run_state.order_status)


# --- run and watch ----------------------------------------------------------------------------------------


def test_run_a_shipped_example_shows_statuses_and_thumbnails(qtbot: Any, window: MainWindow) -> None:
    tab = window.files.open_file(shipped_example())
    assert tab is not None
    qtbot.keyClick(tab.view.viewer, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert wait_finished(qtbot, window) == "succeeded"
    graph = tab.controller
    statuses = {n.id: graph.run_state.get(n.id).status for n in graph.doc.nodes}  # type: ignore[union-attr]
    assert set(statuses.values()) == {"executed"}, statuses
    makers = [n.id for n in graph.doc.nodes if graph.run_state.get(n.id).products]  # type: ignore[union-attr]
    assert makers
    for node_id in makers:  # thumbnails are made after a node reports; the node redraws when they land
        item = tab.view.node_item(node_id)
        qtbot.waitUntil(lambda item=item: bool(item._thumbs) and not item._thumbs[0].pixmap().isNull(),
                        timeout=10_000)
        assert item.status == "executed"
    # The runs panel lists the order with every node done.
    order = window.runs_panel.tree.topLevelItem(0)
    assert order.text(1) == "succeeded" and order.childCount() == len(graph.doc.nodes)

    # Clicking a thumbnail opens the product with its lineage.
    thumb: ThumbItem = tab.view.node_item(makers[0])._thumbs[0]
    tab.view.zoom_to_fit()
    at = tab.view.viewer.mapFromScene(thumb.sceneBoundingRect().center())
    qtbot.mouseClick(tab.view.viewer.viewport(), Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: any(isinstance(w, ProductDialog) for w in QApplication.topLevelWidgets()
                                if w.isVisible()), timeout=2000)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ProductDialog) and w.isVisible())
    assert dialog.detail is not None and dialog.detail.id == thumb.product_id
    assert dialog.detail.node_id == makers[0] and dialog.detail.order_id == graph.run_state.order_id
    dialog.close()

    # A second run reuses everything: every node is cached and still shows its thumbnails.
    window.menu_actions["run"].trigger()
    assert wait_finished(qtbot, window) == "succeeded"
    assert {graph.run_state.get(n.id).status for n in graph.doc.nodes} == {"cached"}  # type: ignore[union-attr]
    assert tab.view.node_item(makers[0])._thumbs


def test_cancel_a_long_run_within_a_second(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph(latency_ms=30_000)))
    window.menu_actions["run"].trigger()
    qtbot.waitUntil(lambda: tab.controller.run_state.get("gen").status == "running", timeout=10_000)
    qtbot.waitUntil(lambda: tab.view.node_item("gen").percent > 0, timeout=5_000)  # progress reaches the node
    tab.view.viewer.setFocus()
    started = time.monotonic()
    qtbot.keyClick(tab.view.viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: tab.controller.run_state.order_status == "canceled", timeout=2000)
    assert time.monotonic() - started < 1.0
    assert tab.controller.run_state.get("gen").status == "canceled"
    assert tab.controller.run_state.get("small").status in ("canceled", "skipped")


def test_run_selected_branch_runs_only_what_the_selection_needs(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph()))
    tab.view.select(["gen"])
    window.menu_actions["run_branch"].trigger()
    wait_finished(qtbot, window)
    assert tab.controller.run_state.get("gen").status == "executed"
    assert tab.controller.run_state.get("small") is None


# --- files ---------------------------------------------------------------------------------------------------


def test_save_and_open_round_trip_keeps_the_document_and_ids(qtbot: Any, window: MainWindow,
                                                              tmp_path: Path) -> None:
    doc = local_graph()
    doc.meta = {"canvas": {"prompt": {"pos": [10, 20], "note": "kept"}}, "custom": {"x": 1}}
    tab = window.add_graph(window.app.new_graph(doc))
    tab.controller.set_param("gen", "seed", 99)
    assert tab.controller.dirty and tab.controller.title().startswith("Local")
    target = tmp_path / "saved.json"
    assert window.files.save_tab(tab, target)
    assert not tab.controller.dirty
    saved = tab.controller.doc.dumps()
    window.close_tab(window.tabs.indexOf(tab))
    reopened = window.files.open_file(target)
    assert reopened is not None and reopened.controller.doc.dumps() == saved
    assert [n.id for n in reopened.controller.doc.nodes] == ["prompt", "gen", "small"]
    assert reopened.controller.doc.meta["custom"] == {"x": 1}
    assert reopened.controller.doc.meta["canvas"]["prompt"]["note"] == "kept"
    assert reopened.view._nodes["gen"].get_property("af_id") == "gen"
    assert window.files.open_file(target) is reopened  # opening it again switches to its tab
    window.files.fill_recent(window.recent_menu)
    assert window.recent_menu.actions()[0].text() == "saved.json"


def test_malformed_file_shows_a_clear_error_and_changes_nothing(qtbot: Any, window: MainWindow,
                                                                tmp_path: Path) -> None:
    good = window.add_graph(window.app.new_graph(local_graph()))
    before = (window.tabs.count(), good.controller.doc.dumps())
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "artfactory.graph", "nodes": [{"id": "a", "type": 3}]', encoding="utf-8")
    assert window.files.open_file(bad) is None
    box = window.last_error
    assert box is not None and box.isVisible() and box.windowTitle() == "Cannot open graph"
    assert "broken.json" in box.text() and "not valid JSON" in box.text()
    assert (window.tabs.count(), good.controller.doc.dumps()) == before
    box.close()
    bad.write_text(json.dumps({"format": "artfactory.graph", "nodes": [{"id": "a", "type": 3}]}), encoding="utf-8")
    assert window.files.open_file(bad) is None
    assert "'type' must be text" in window.last_error.text()  # type: ignore[union-attr]


def test_unsaved_changes_prompt_on_close(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph()))
    tab.controller.set_param("gen", "seed", 5)
    asked: list[str] = []
    window.files.ask_save = lambda t: asked.append(t.controller.title()) or Button.Cancel  # type: ignore[method-assign]
    assert not window.close()
    assert window.isVisible() and asked == ["Local"]
    window.files.ask_save = lambda t: Button.Discard  # type: ignore[method-assign]
    assert window.close()


# --- templates and preferences ---------------------------------------------------------------------------------


def test_save_as_template_and_instantiate_it(qtbot: Any, window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph()))
    window.menu_actions["run"].trigger()
    wait_finished(qtbot, window)
    dialog = window.files.save_as_template()
    assert isinstance(dialog, SaveTemplateDialog) and dialog.use_preview.isChecked()
    dialog.name.setText("Lighthouses")
    dialog.description.setPlainText("Dusk studies")
    dialog._save()
    assert dialog.saved is not None and dialog.saved["preview_product_id"]

    browser = window.files.show_templates()
    assert isinstance(browser, TemplateBrowser)
    names = [browser.list.item(i).text() for i in range(browser.list.count())]
    assert "Lighthouses" in names and len(names) >= 2  # the shipped graphs are there too
    browser.list.setCurrentRow(names.index("Lighthouses"))
    assert "Dusk studies" in browser.description.text()
    count = window.tabs.count()
    browser._open()
    assert window.tabs.count() == count + 1
    new = window.current_tab()
    assert new is not None and new is not tab and new.controller.path is None
    assert [n.id for n in new.controller.doc.nodes] == ["prompt", "gen", "small"]


def test_a_key_entered_in_preferences_goes_to_the_keychain(qtbot: Any, window: MainWindow) -> None:
    dialog = window.show_preferences()
    assert isinstance(dialog, PreferencesDialog)
    field = dialog.keys["replicate"].field
    assert field.echoMode() == field.EchoMode.Password
    qtbot.keyClicks(field, fake_replicate_token("testtoken1234567890"))
    dialog.width_spin.setValue(768)
    dialog.concurrency["concurrency_replicate"].setValue(2)
    dialog.apply()
    assert keyring.get_password("artfactory", "replicate") == fake_replicate_token("testtoken1234567890")
    assert window.app.settings.default_width == 768
    assert window.app.runs.executor.limits["replicate"] == 2
    saved = json.loads((window.app.library.home / "settings.json").read_text(encoding="utf-8"))
    assert saved["default_width"] == 768
    # A new generator node takes the preferred size.
    tab = window.files.new_graph()
    node_id = tab.controller.add_node("provider.local", (0, 0))
    assert tab.controller.doc.node(node_id).params == {"width": 768}  # type: ignore[union-attr]
    again = window.show_preferences()
    assert "keychain" in again.keys["replicate"].status.text()
    assert again.keys["replicate"].field.text() == ""  # the stored key is never shown
    again.keys["replicate"]._toggle_remove()
    again.apply()
    assert keyring.get_password("artfactory", "replicate") is None


def test_help_dialogs_list_shortcuts_and_licences(window: MainWindow) -> None:
    shortcuts = window.show_shortcuts()
    assert isinstance(shortcuts, ShortcutsDialog)
    rows = [shortcuts.tree.topLevelItem(i) for i in range(shortcuts.tree.topLevelItemCount())]
    texts = {r.text(0).strip(): r.text(1) for r in rows}
    assert texts["Run"].startswith("Ctrl+Return") and texts["Undo"] == "Ctrl+Z" and texts["Zoom to Fit"] == "F"
    about = window.show_about()
    assert isinstance(about, AboutDialog)
    names = {about.libraries.topLevelItem(i).text(0) for i in range(about.libraries.topLevelItemCount())}
    assert {"NodeGraphQt", "PyQt6", "networkx"} <= names


# --- window state and recovery -------------------------------------------------------------------------------------


def test_window_and_dock_layout_is_restored(qtbot: Any, library: Library) -> None:
    first = open_window(qtbot, library)
    first.docks["runs"].hide()
    first.resize(720, 540)  # within the offscreen screen: restoreGeometry keeps windows on screen
    first.removeDockWidget(first.docks["library"])
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.docks["library"])
    first.docks["library"].show()
    assert first.close()
    second = open_window(qtbot, library)
    qtbot.waitUntil(lambda: second.isVisible(), timeout=1000)
    assert not second.docks["runs"].isVisible()
    assert second.dockWidgetArea(second.docks["library"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert (second.size().width(), second.size().height()) == (720, 540)
    assert all(isinstance(d, QDockWidget) for d in second.docks.values())
    second.close()


def test_autosave_is_offered_for_restore_after_a_crash(qtbot: Any, library: Library) -> None:
    crashed = open_window(qtbot, library)
    tab = crashed.add_graph(crashed.app.new_graph(local_graph()))
    tab.controller.set_param("gen", "seed", 1234)
    assert crashed.autosave.save_now() == 1
    # A crash: the session never exits cleanly, and its process is gone.
    for path in crashed.autosave.folder.glob("*"):
        if path.name.startswith(f"{crashed.autosave.pid}-"):
            path.rename(path.with_name("999999999-" + path.name.split("-", 1)[1]))
    crashed.autosave._sources.clear()
    (crashed.autosave.folder / f"session-{crashed.autosave.pid}.lock").rename(
        crashed.autosave.folder / "session-999999999.lock")
    crashed.close()

    offered: list[int] = []
    restarted = open_window(qtbot, library)
    restarted.files.ask_restore = lambda n: offered.append(n) or True  # type: ignore[method-assign]
    assert restarted.files.offer_restore() == 1
    assert offered == [1]
    restored = restarted.current_tab()
    assert restored is not None and restored.controller.dirty
    assert restored.controller.doc.node("gen").params["seed"] == 1234  # type: ignore[union-attr]
    assert restarted.files.offer_restore() == 0  # offered once, then gone
    restarted.close()
    assert not list(restarted.autosave.folder.glob("*.json"))  # a clean exit leaves nothing behind


def test_a_library_that_cannot_open_gives_a_clear_message_and_exit_code_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ui_ini: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    shown: list[str] = []
    monkeypatch.setattr("PyQt6.QtWidgets.QMessageBox.critical",
                        lambda parent, title, text, *a: shown.append(text) or Button.Ok)
    monkeypatch.setattr("artfactory.views.excepthook.install", lambda show_dialog=True: None)
    assert app_module.run_app(str(blocker / "library")) == 2
    assert shown and "cannot be opened" in shown[0] and "not-a-folder" in shown[0]


def test_title_shows_the_graph_and_unsaved_state(window: MainWindow) -> None:
    tab = window.add_graph(window.app.new_graph(local_graph()))
    assert window.windowTitle() == "Local — Art Factory"
    tab.controller.set_param("gen", "seed", 2)
    assert window.windowTitle() == "Local • — Art Factory"
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Local •"
    tab.controller.undo_stack.undo()
    assert window.windowTitle() == "Local — Art Factory"


def test_test_connection_checks_the_typed_or_stored_key_without_blocking(qtbot: Any, window: MainWindow) -> None:
    from artfactory.services import secrets
    from tests.fixtures import fake_fal, fake_replicate

    replicate, fal = fake_replicate.FakeReplicate().start(), fake_fal.FakeFal().start()
    try:
        window.app.library.settings.replicate_base_url = replicate.url
        window.app.library.settings.fal_queue_url = fal.url
        dialog = window.show_preferences()
        rows = dialog.keys

        def test(provider: str, typed: str = "") -> str:
            row = rows[provider]
            row.field.setText(typed)
            qtbot.mouseClick(row.test, Qt.MouseButton.LeftButton)
            assert not row.test.isEnabled() and row.test.text() == "Testing…"  # the answer comes later
            qtbot.waitUntil(row.test.isEnabled, timeout=10_000)
            return row.status.text()

        assert test("replicate").startswith("✗ no API key for Replicate")
        wrong = fake_replicate_token("wrongtoken0000000000")
        message = test("replicate", wrong)
        assert "authentication failed for Replicate" in message and wrong not in message
        assert rows["replicate"].status.property("role") == "error"
        assert test("replicate", fake_replicate.TOKEN) == "✓ Connected to Replicate as fake-artist"
        assert rows["replicate"].status.property("role") == "ok"
        secrets.set_key("fal", fake_fal.KEY)  # the stored key is used when nothing is typed
        assert test("fal") == "✓ Connected to fal: the key was accepted"
        assert not [r for r in replicate.requests if r.method == "POST"] and not fal.requests_to("POST")
        # Testing saves nothing: the typed Replicate key never reached the keychain.
        assert keyring.get_password("artfactory", "replicate") is None
        dialog.close()
    finally:
        replicate.stop()
        fal.stop()
