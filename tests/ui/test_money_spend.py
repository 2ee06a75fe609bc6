"""The Spend panel: totals, the by-day chart and the breakdowns from the ledger; refreshed when an order finishes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from PyQt6.QtCore import QDate

from artfactory.services.library import Library
from artfactory.views.main_window import MainWindow
from tests.support.money import Item, seed_orders


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def test_spend_panel_shows_this_month_and_since_a_date(qtbot: Any, window: MainWindow, library: Library) -> None:
    now = _now()
    last_month = now.replace(day=1) - timedelta(days=3)
    seed_orders(library, [
        [Item(0.25, "replicate", "black-forest-labs/flux-schnell", now, collections=("Covers",)),
         Item(0.05, "fal", "fal-ai/flux/dev", now)],
        [Item(None, "fal", "fal-ai/unknown", now)],
        [Item(2.0, "openai", "gpt-image-1:high:1024x1024", last_month)],
    ])
    assert window.menu_actions["spend"].shortcut().toString() == "Ctrl+Shift+M"
    window.menu_actions["spend"].trigger()
    panel = window.spend_panel
    assert window.docks["spend"].isVisible()
    qtbot.waitUntil(lambda: panel.data is not None, timeout=5000)
    assert panel.total.text() == "This month: $0.30"
    assert "2 paid node runs" in panel.detail.text() and "1 with no known price" in panel.detail.text()
    assert panel.rows("by_provider") == [("replicate", "$0.25"), ("fal", "$0.05")]
    assert panel.rows("by_model")[0] == ("black-forest-labs/flux-schnell", "$0.25")
    assert panel.rows("by_collection") == [("Covers", "$0.25")]
    bars = dict(panel.chart.bars)
    assert bars[now.date().isoformat()] == 0.3 and len(bars) == now.day  # every day of the month so far
    assert panel.chart.grab().width() > 0  # the chart paints

    panel.scope.setCurrentIndex(panel.scope.findData("since"))
    assert panel.since.isVisible()
    panel.since.setDate(QDate(last_month.year, last_month.month, last_month.day))
    qtbot.waitUntil(lambda: panel.total.text().startswith(f"Since {last_month.date().isoformat()}"), timeout=5000)
    assert panel.total.text().endswith("$2.30")
    assert panel.rows("by_provider")[0] == ("openai", "$2.00")
    assert len(panel.rows("orders")) == 2


def test_spend_panel_refreshes_when_an_order_finishes(qtbot: Any, window: MainWindow, library: Library) -> None:
    window.app.update_settings(budget_monthly_usd=0.5)
    panel = window.show_spend()
    qtbot.waitUntil(lambda: panel.data is not None, timeout=5000)
    assert panel.total.text() == "This month: $0.00"
    [order_id] = seed_orders(library, [[Item(0.125, finished=_now())]])
    window.app.runs.executor.signals.order_finished.emit(order_id, "succeeded")  # as the executor says it
    qtbot.waitUntil(lambda: panel.total.text() == "This month: $0.125", timeout=5000)
    assert panel.rows("orders") == [(order_id, "$0.125")]
    assert "25% of the $0.50 monthly budget" in panel.detail.text()


def test_chart_covers_the_period_with_zero_days(qtbot: Any, window: MainWindow) -> None:
    chart = window.spend_panel.chart
    chart.set_days({"2026-11-03": 1.0}, date(2026, 11, 1), date(2026, 11, 5))
    assert [d for d, _ in chart.bars] == [f"2026-11-0{n}" for n in range(1, 6)]
    assert dict(chart.bars)["2026-11-03"] == 1.0 and dict(chart.bars)["2026-11-04"] == 0.0
