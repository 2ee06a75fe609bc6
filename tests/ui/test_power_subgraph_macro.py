"""Save Subgraph as Template: the subgraph is kept in the library and the Nodes palette adds it to any graph."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtWidgets import QApplication, QTreeWidgetItem

from artfactory.controllers import subgraphs
from artfactory.engine.document import GraphDocument
from artfactory.services.library import Library
from artfactory.views.canvas import node_menu, subgraph_nav
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window
from tests.ui.test_power_subgraph import chain, open_tab

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, activate=True) as win:
        yield win


def palette_item(window: MainWindow, name: str) -> QTreeWidgetItem | None:
    tree = window.library_panel.tree
    for i in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(i)
        if group is None or group.text(0) != "Macros":
            continue
        for j in range(group.childCount()):
            child = group.child(j)
            if child is not None and child.text(0) == name:
                return child
    return None


def test_a_saved_subgraph_is_a_macro_in_the_palette_that_drops_into_another_graph(
        qtbot: Any, window: MainWindow, library: Library) -> None:
    tab = open_tab(window, chain())
    tab.view.select(["gen", "small"])
    assert subgraph_nav.group_selection(tab.view, window, name="Upscale") == "upscale"
    assert palette_item(window, "Upscale") is None
    menu = node_menu.build(tab.view, "upscale")
    next(a for a in menu.actions() if a.objectName() == "node_save_macro").trigger()
    assert (library.home / "macros" / "Upscale.json").is_file()
    item = palette_item(window, "Upscale")
    assert item is not None
    # Into an empty graph: one subgraph node, with its definition; one undo step takes both away.
    other = open_tab(window, GraphDocument(name="other"))
    window.library_panel.tree.itemActivated.emit(item, 0)
    QApplication.processEvents()
    doc = other.controller.doc
    assert [(n.id, n.type, n.params) for n in doc.nodes] == [("upscale", "subgraph", {"name": "Upscale"})]
    assert doc.subgraphs["Upscale"].to_json() == tab.controller.doc.subgraphs["Upscale"].to_json()
    node = other.view.ng_nodes()["upscale"]
    assert list(node.inputs()) == ["prompt"] and list(node.outputs()) == ["image"]
    # Its inside opens with the positions it had.
    assert subgraphs.inner_canvas(doc, "Upscale")["gen"]["pos"] == [320, 0]
    other.controller.undo_stack.undo()
    assert doc.nodes == [] and doc.subgraphs == {}
    # A second macro of the same name and definition shares it; the palette lists macros after a restart too.
    other.controller.undo_stack.redo()
    window.add_macro("Upscale")
    assert [n.id for n in doc.nodes] == ["upscale", "upscale_2"] and list(doc.subgraphs) == ["Upscale"]
    assert list(subgraphs.list_macros(library.home)) == ["Upscale"]


def test_a_macro_whose_name_clashes_with_a_different_subgraph_is_refused_in_one_line(
        qtbot: Any, window: MainWindow, library: Library) -> None:
    tab = open_tab(window, chain())
    tab.view.select(["gen", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale")
    assert window.save_subgraph_macro("upscale") is not None
    second = open_tab(window, chain())
    second.view.select(["small", "tiny"])
    subgraph_nav.group_selection(second.view, window, name="Upscale")
    steps = second.controller.undo_stack.count()
    assert window.add_macro("Upscale") is None
    assert second.controller.undo_stack.count() == steps
    message = window.statusBar().currentMessage()
    assert message.startswith("Cannot add macro Upscale:") and "different subgraph" in message
