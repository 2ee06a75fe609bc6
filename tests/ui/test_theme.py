"""Switching the theme in Preferences applies at once, everywhere: palettes, icons, canvas and gallery colours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PyQt6.QtCore import QSize
from PyQt6.QtGui import QColor, QIcon, QPalette
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from artfactory.config import shipped_graphs_dir
from artfactory.services.library import Library
from artfactory.views import icons, theme
from artfactory.views.main_window import MainWindow
from artfactory.views.viewer.media import ImageView
from tests.support.qt import opened_window

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: QtBot, library: Library, qapp: QApplication) -> Iterator[MainWindow]:
    with opened_window(qtbot, library, size=(1280, 800)) as win:
        yield win
    theme.apply(qapp)  # the next test starts dark, as the app does


def ink(icon: QIcon, mode: QIcon.Mode = QIcon.Mode.Normal) -> QColor:
    """The colour of an icon's most opaque pixel."""
    image = icon.pixmap(QSize(18, 18), 2.0, mode).toImage()
    best = max(((image.pixelColor(x, y), image.pixelColor(x, y).alpha()) for x in range(image.width())
                for y in range(image.height())), key=lambda pair: pair[1])
    assert best[1] > 200, "the icon drew nothing"
    return best[0]


def close_to(color: QColor, expected: str) -> bool:
    want = QColor(expected)
    return all(abs(a - b) <= 8 for a, b in ((color.red(), want.red()), (color.green(), want.green()),
                                           (color.blue(), want.blue())))


def assert_whole_window_in(window: MainWindow, name: str, qtbot: QtBot) -> None:
    qtbot.wait(20)
    colors = theme.LIGHT if name == "light" else theme.DARK
    # Menus and docks get the panel shade from the stylesheet; anything else is the other theme's leftover.
    own = {colors.window, colors.panel}
    tops = QApplication.topLevelWidgets()
    assert window in tops
    # NodeGraphQt's Tab search pops up over the canvas and stays dark with it, by design; so do the category
    # menus it makes as parentless top-levels, which carry its stylesheet.
    search_styles = {w.styleSheet() for w in tops if type(w).__name__ == "TabSearchMenuWidget"}
    for widget in tops:
        if type(widget).__name__ == "TabSearchMenuWidget" or (widget.styleSheet() and
                                                                widget.styleSheet() in search_styles):
            continue
        got = widget.palette().color(QPalette.ColorRole.Window).name()
        assert got in own, f"{type(widget).__name__} {widget.objectName()!r} has window colour {got} in {name}"
    assert window.palette().color(QPalette.ColorRole.Window).name() == colors.window
    for widget in [*window.findChildren(type(window.gallery.view)), window.gallery, window.tabs]:
        assert widget.palette().color(QPalette.ColorRole.Base).name() == colors.base
    for action in (window.menu_actions["save"], window.menu_actions["undo"], window.menu_actions["gallery"]):
        assert close_to(ink(action.icon()), colors.text), f"{action.objectName()} is not drawn in {name} ink"
        button = window.toolbar.widgetForAction(action)
        assert button is not None and close_to(ink(button.icon()), colors.text)
    assert close_to(ink(window.menu_actions["save"].icon(), QIcon.Mode.Disabled), colors.dim)
    for tab in window.graph_tabs():
        assert tuple(tab.view.graph.background_color()) == colors.canvas
        assert tuple(tab.view.graph.grid_color()) == colors.grid
    for view in window.findChildren(ImageView):
        assert view.backgroundBrush().color() == QColor(*colors.canvas)


def test_switching_to_light_and_back_applies_live_everywhere(qtbot: QtBot, window: MainWindow) -> None:
    tab = window.files.open_file(shipped_graphs_dir() / "fox-posters.json")
    assert tab is not None
    # Icons made before the switch, outside the action table, follow it too.
    sidebar_icon = window.gallery.sidebar.new_button.icon()
    before = ink(sidebar_icon)
    save_key = window.menu_actions["save"].icon().cacheKey()
    assert_whole_window_in(window, "dark", qtbot)

    window.app.update_settings(theme="light")
    assert theme.current_name() == "light"
    assert_whole_window_in(window, "light", qtbot)
    assert window.menu_actions["save"].icon().cacheKey() != save_key, "the toolbar icons were regenerated"
    assert not close_to(ink(sidebar_icon), before.name()) and close_to(ink(sidebar_icon), theme.LIGHT.text)

    window.app.update_settings(theme="dark")
    assert_whole_window_in(window, "dark", qtbot)
    assert close_to(ink(sidebar_icon), theme.DARK.text)


def test_the_gallery_redraws_its_placeholders_in_the_new_theme(qtbot: QtBot, window: MainWindow) -> None:
    view = window.gallery.view
    tile = view.delegate._placeholder("image", False, QSize(60, 60))
    window.app.update_settings(theme="light")
    redrawn = view.delegate._placeholder("image", False, QSize(60, 60))
    assert redrawn.cacheKey() != tile.cacheKey()
    assert redrawn.toImage().pixelColor(2, 30) == QColor(theme.LIGHT.base)


def test_an_icon_follows_the_theme_at_every_size(qapp: QApplication) -> None:
    icon = icons.icon("save")
    theme.apply(qapp, "light")
    try:
        for size in (16, 18, 24, 48):
            pixmap = icon.pixmap(QSize(size, size), 2.0)
            assert pixmap.size() == QSize(size * 2, size * 2), "drawn crisp at the screen's resolution"
        assert close_to(ink(icon), theme.LIGHT.text)
        assert close_to(ink(icons.icon("run", "#3fb27f")), "#3fb27f"), "a fixed colour stays"
    finally:
        theme.apply(qapp)
    assert close_to(ink(icon), theme.DARK.text)
