"""Preferences → Prices & budget: the price table, your own prices (add, edit, delete), the filter, refreshing the
published prices off the UI thread, and the budget fields."""

from __future__ import annotations

from typing import Any

import pytest
from PyQt6.QtWidgets import QApplication

from artfactory.providers import pricing
from artfactory.services.library import Library
from artfactory.views.dialogs.preferences import PRICES_PAGE
from artfactory.views.dialogs.prices_page import PricesPage
from artfactory.views.main_window import MainWindow


def _page(window: MainWindow) -> tuple[Any, PricesPage]:
    dialog = window.show_preferences()
    # The tab shows "Prices & budget": its text escapes the & (else Qt draws "Prices _budget", a mnemonic).
    titles = [dialog.tabs.tabText(i).replace("&&", "&") for i in range(dialog.tabs.count())]
    assert PRICES_PAGE in titles and "Prices && budget" in [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    dialog.tabs.setCurrentIndex(titles.index(PRICES_PAGE))
    return dialog, dialog.prices


def test_prices_table_lists_and_filters(window: MainWindow) -> None:
    _dialog, page = _page(window)
    rows = page.visible_rows()
    assert rows and all(len(r) == 6 for r in rows)
    flux = [r for r in rows if r[:2] == ["replicate", "black-forest-labs/flux-schnell"]]
    assert flux and flux[0][2] == "output" and flux[0][4] == "shipped" and float(flux[0][3]) > 0
    page.filter.setText("fal")
    assert page.visible_rows() and all("fal" in " ".join(r).lower() for r in page.visible_rows())
    page.filter.setText("no such model anywhere")
    assert page.visible_rows() == []


def test_add_edit_and_delete_your_price(qtbot: Any, window: MainWindow, library: Library) -> None:
    _dialog, page = _page(window)
    changed: list[bool] = []
    page.prices_changed.connect(lambda: changed.append(True))
    editor = page.edit_price(new=True)
    assert editor is not None
    editor.provider.setCurrentIndex(editor.provider.findData("replicate"))
    editor.model.setText("acme/painter")
    editor.unit.setCurrentIndex(editor.unit.findData("second"))
    editor.usd.setValue(0.0011)
    editor.save()
    assert not editor.isVisible() and changed == [True]
    mine = [r for r in page.visible_rows() if r[1] == "acme/painter"]
    assert mine == [["replicate", "acme/painter", "second", "0.0011", "yours", mine[0][5]]]
    price = pricing.PriceBook(library).price_for("replicate", "acme/painter")
    assert price is not None and (price.usd, price.unit, price.source) == (0.0011, "second", "user")

    assert page.select("replicate", "acme/painter")
    assert page.delete_button.isEnabled()
    edit = page.edit_price()
    assert edit is not None and edit.model.text() == "acme/painter"
    edit.usd.setValue(0.002)
    edit.save()
    assert pricing.PriceBook(library).price_for("replicate", "acme/painter").usd == 0.002  # type: ignore[union-attr]

    assert page.select("replicate", "acme/painter")
    page.delete_price()
    assert pricing.PriceBook(library).price_for("replicate", "acme/painter") is None
    assert not [r for r in page.visible_rows() if r[1] == "acme/painter"]
    assert "Removed your price" in page.status.text()
    # A shipped price cannot be deleted, only overridden.
    assert page.select("replicate", "black-forest-labs/flux-schnell", "shipped")
    assert not page.delete_button.isEnabled() and page.edit_button.isEnabled()


def test_a_bad_price_is_said_in_the_editor(window: MainWindow) -> None:
    _dialog, page = _page(window)
    editor = page.edit_price(new=True)
    assert editor is not None
    editor.model.setText("")
    editor.save()
    assert editor.isVisible() and "needs a model" in editor.error.text()
    editor.reject()


def test_refresh_from_providers_runs_off_the_ui_thread_and_says_what_happened(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    _dialog, page = _page(window)
    page.refresh_published()  # no keys in tests: each provider says why it was skipped
    assert page.progress.isVisibleTo(page) and not page.refresh_button.isEnabled()
    qtbot.waitUntil(lambda: page.refresh_button.isEnabled(), timeout=10_000)
    assert "no API key" in page.status.text() and not page.progress.isVisibleTo(page)

    def broken(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise OSError("the network is unreachable\nsecond line")

    monkeypatch.setattr(pricing, "refresh_published", broken)
    page.refresh_published()
    qtbot.waitUntil(lambda: page.refresh_button.isEnabled(), timeout=10_000)
    assert page.status.text() == "Could not refresh the prices: the network is unreachable"


def test_budget_fields_are_saved_with_ok(window: MainWindow) -> None:
    dialog, page = _page(window)
    assert page.confirm.value() == window.app.settings.confirm_above_usd
    page.monthly.setValue(25.0)
    page.confirm.setValue(0.5)
    dialog.apply()
    assert window.app.settings.budget_monthly_usd == 25.0 and window.app.settings.confirm_above_usd == 0.5
    again, page2 = _page(window)
    assert page2.monthly.value() == 25.0
    again.reject()
    QApplication.processEvents()
