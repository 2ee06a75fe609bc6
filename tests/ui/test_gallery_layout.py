"""The gallery's layout as a user meets it: every row reachable, rating keys, nothing cut at 1280×800."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QComboBox, QLabel, QPushButton, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from artfactory.services.gallery import Gallery, GalleryQuery
from artfactory.services.library import Library
from artfactory.views.gallery import gallery_widget as gallery_widget_module
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.main_window import MainWindow
from artfactory.views.widgets.elided_label import ElidedLabel
from tests.support.qt import opened_window
from tests.unit.test_gallery_queries import make_products

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


def settle(qtbot: QtBot) -> None:
    qtbot.wait(30)  # the view lays out on a zero timer after a resize or a new query
    QApplication.processEvents()


def assert_every_row_reachable(qtbot: QtBot, widget: GalleryWidget, when: str) -> None:
    view, model = widget.view, widget.model
    viewport, bar = view.viewport(), view.verticalScrollBar()
    assert viewport is not None and bar is not None
    count = model.rowCount()
    assert count > 0, when
    cell = view.delegate.cell_size().width()
    # QListView wraps a cell whose right edge would reach the viewport's edge: one pixel less to fill.
    columns = (viewport.width() - 1) // cell
    top = view.visualRect(model.index(0)).top()
    first_line = [r for r in range(count) if view.visualRect(model.index(r)).top() == top]
    assert len(first_line) == min(columns, count), \
        f"{when}: the first line holds {len(first_line)} cells where {columns} fit in {viewport.width()} px"
    assert view.columns() == columns, when
    lines = -(-count // columns)
    overflows = lines * view.gridSize().height() > viewport.height()
    assert bar.isVisible(), f"{when}: the scroll bar is always shown, so the width never jumps"
    assert (bar.maximum() > 0) == overflows, f"{when}: scroll range {bar.maximum()} for {lines} lines"
    last = model.index(count - 1)
    view.scrollTo(last)
    settle(qtbot)
    assert viewport.rect().contains(view.visualRect(last)), f"{when}: the last row cannot be scrolled into view"
    view.scrollToTop()
    view.setFocus()
    view.setCurrentIndex(model.index(0))
    qtbot.keyClick(view, Qt.Key.Key_End)
    settle(qtbot)
    assert view.currentIndex().row() == count - 1, when
    assert viewport.rect().contains(view.visualRect(last)), f"{when}: End does not reach the last row"


@pytest.mark.parametrize("size", [(1280, 800), (1100, 700), (1600, 900), (900, 560)])
def test_every_row_stays_reachable_after_search_filter_selection_and_delete(qtbot: QtBot, library: Library,
                                                                           size: tuple[int, int]) -> None:
    make_products(library, 26)
    gallery = Gallery(library)
    collection = gallery.create_collection(library.project_id(), "Some")
    gallery.add_to_collection(collection, [r.id for r in gallery.page(GalleryQuery(), limit=11)])
    widget = GalleryWidget(library)
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    settle(qtbot)
    assert_every_row_reachable(qtbot, widget, f"{size} at start")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("search", lambda: (widget.sidebar.search.setText("-0000"), widget.sidebar._search_now())),
        ("clear search", lambda: (widget.sidebar.search.clear(), widget.sidebar._search_now())),
        ("collection", lambda: widget.sidebar.set_collection(collection)),
        ("all products", lambda: widget.sidebar.set_collection(None)),
        ("selection", lambda: widget.select_products([widget.model.row_at(2).id])),
        ("delete", lambda: (widget.select_products([widget.model.row_at(0).id]), widget.delete_selected(ask=False))),
    ]
    for name, step in steps:
        step()
        settle(qtbot)
        assert_every_row_reachable(qtbot, widget, f"{size} after {name}")


@pytest.mark.parametrize("key,stars", [(Qt.Key.Key_0, 0), (Qt.Key.Key_3, 3), (Qt.Key.Key_5, 5), (Qt.Key.Key_1, 1)])
def test_rating_keys_set_that_many_stars(qtbot: QtBot, library: Library, key: Qt.Key, stars: int) -> None:
    make_products(library, 4)
    gallery = Gallery(library)
    widget = GalleryWidget(library)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    qtbot.waitExposed(widget)
    settle(qtbot)
    target = widget.model.row_at(1).id
    gallery.rate([target], 2)
    widget.select_products([target])
    widget.view.setFocus()
    qtbot.keyClick(widget.view, key)
    settle(qtbot)
    row = gallery.row(target)
    assert row is not None and row.rating == stars, f"key {key.name} gave {row and row.rating} stars"
    model_row = widget.model.row_at(widget.model.row_of(target) or 0)
    assert model_row.id == target and model_row.rating == stars, "the grid shows the new rating"


def test_delete_key_asks_first(qtbot: QtBot, library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    make_products(library, 3)
    widget = GalleryWidget(library)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    settle(qtbot)
    asked: list[str] = []
    monkeypatch.setattr(gallery_widget_module, "confirm", lambda _w, _t, text: asked.append(text) or False)
    victim = widget.model.row_at(0).id
    widget.select_products([victim])
    widget.view.setFocus()
    qtbot.keyClick(widget.view, Qt.Key.Key_Delete)
    assert asked, "Del deleted without asking"
    assert Gallery(library).row(victim) is not None


# -- 1280×800 with the docks open -------------------------------------------------------------------------
@pytest.fixture
def window(qtbot: QtBot, library: Library) -> Iterator[MainWindow]:
    make_products(library, 18)
    with opened_window(qtbot, library, size=(1280, 800)) as win:
        yield win


def cut_texts(root: QWidget) -> list[str]:
    """Visible labels, buttons and combo boxes narrower than their text needs (and not eliding it)."""
    cut = []
    for cls in (QLabel, QPushButton, QToolButton, QComboBox):
        for widget in root.findChildren(cls):
            if not widget.isVisible():
                continue
            if isinstance(widget, ElidedLabel) and (not widget.is_elided() or widget.toolTip() == widget.text()):
                continue
            if isinstance(widget, QLabel) and widget.wordWrap():
                if widget.height() >= widget.heightForWidth(widget.width()):
                    continue
            elif widget.width() >= widget.sizeHint().width():
                continue
            text = widget.currentText() if isinstance(widget, QComboBox) else widget.text()
            cut.append(f"{type(widget).__name__} {text!r}: {widget.width()} < {widget.sizeHint().width()}")
    return cut


def test_gallery_at_1280_by_800_with_the_runs_dock_has_room_and_uncut_texts(qtbot: QtBot,
                                                                             window: MainWindow) -> None:
    gallery = window.show_gallery()
    settle(qtbot)
    assert window.docks["runs"].isVisible()
    viewport = gallery.view.viewport()
    assert viewport is not None
    assert viewport.width() >= 600, f"the grid gets {viewport.width()} px"
    assert gallery.left_tabs.isVisible() and gallery.left_tabs.width() > 0, "the filters still show"
    toolbar = gallery.splitter.widget(1)
    assert toolbar is not None
    assert cut_texts(toolbar) == []
    gallery.show_message("Exported 12 products with lineage to /a/rather/long/folder/name/for/the/exports")
    settle(qtbot)
    assert cut_texts(toolbar) == [], "a long message is elided, its whole text in the tooltip"
    gallery.left_tabs.setCurrentWidget(gallery.orders)
    settle(qtbot)
    assert cut_texts(gallery.orders) == []
    first = gallery.orders.orders.topLevelItem(0)
    assert first is not None
    gallery.orders.orders.setCurrentItem(first)  # a selected order fills the details and enables the buttons
    settle(qtbot)
    assert gallery.orders.rerun_button.isEnabled()
    assert cut_texts(gallery.orders) == []


def test_gallery_at_1280_by_800_with_every_dock_open_keeps_the_grid_wide(qtbot: QtBot, window: MainWindow) -> None:
    gallery = window.show_gallery()
    for dock in window.docks.values():
        dock.show()
    settle(qtbot)
    assert all(dock.isVisible() for dock in window.docks.values())
    viewport = gallery.view.viewport()
    assert viewport is not None and viewport.width() >= 600, f"the grid gets {viewport.width()} px"
    toolbar = gallery.splitter.widget(1)
    assert toolbar is not None and cut_texts(toolbar) == []
    # What does not fit is folded away whole (its divider can be dragged back), never squeezed.
    for pane in (gallery.left_tabs, gallery.viewer):
        assert pane.width() == 0 or pane.width() >= pane.minimumWidth()
