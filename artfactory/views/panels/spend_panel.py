"""The Spend panel: what runs cost this month or since a date, by day (a small chart), provider, model, collection."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from PyQt6.QtCore import QDate, QPoint, QRectF, Qt, QTimer
from PyQt6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.background import BackgroundCall
from artfactory.services.library import Library
from artfactory.services.spend import format_usd, month_start, spend
from artfactory.views import icons, theme

REFRESH_DELAY_MS = 400  # orders that finish together refresh the panel once
SCOPES = (("This month", "month"), ("Last 7 days", "7"), ("Last 30 days", "30"), ("Since…", "since"),
          ("All time", "all"))


class DayChart(QWidget):
    """Spend per day as bars (QPainter, no chart library); hover a bar for its day and amount."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SpendChart")
        self.bars: list[tuple[str, float]] = []
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_days(self, by_day: dict[str, float], first: date | None, last: date) -> None:
        """Every day from `first` (or the first day with spend) to `last`, zero where nothing was spent."""
        days = sorted(by_day)
        start = first or (date.fromisoformat(days[0]) if days else last)
        if (last - start).days > 366:  # "all time" over years: only the days that spent
            self.bars = [(d, by_day[d]) for d in days]
        else:
            self.bars = [((start + timedelta(n)).isoformat(), by_day.get((start + timedelta(n)).isoformat(), 0.0))
                         for n in range((last - start).days + 1)]
        self.update()

    def _plot(self) -> QRectF:
        return QRectF(6, 16, max(1, self.width() - 12), max(1, self.height() - 32))

    def _bar_rect(self, index: int) -> QRectF:
        plot = self._plot()
        step = plot.width() / max(1, len(self.bars))
        peak = max((usd for _day, usd in self.bars), default=0.0) or 1.0
        height = plot.height() * self.bars[index][1] / peak
        gap = min(2.0, step * 0.2)
        return QRectF(plot.x() + index * step + gap / 2, plot.bottom() - height, max(1.0, step - gap), height)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        c = theme.colors()
        plot = self._plot()
        painter.setPen(QColor(c.border))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.setPen(QColor(c.dim))
        if not self.bars or not any(usd for _d, usd in self.bars):
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Nothing spent in this period")
            painter.end()
            return
        peak = max(usd for _d, usd in self.bars)
        painter.drawText(QRectF(plot.x(), 0, plot.width(), 14), Qt.AlignmentFlag.AlignRight,
                         f"peak {format_usd(peak)}/day")
        painter.drawText(QRectF(plot.x(), plot.bottom() + 2, plot.width(), 14), Qt.AlignmentFlag.AlignLeft,
                         self.bars[0][0])
        painter.drawText(QRectF(plot.x(), plot.bottom() + 2, plot.width(), 14), Qt.AlignmentFlag.AlignRight,
                         self.bars[-1][0])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(c.accent))
        for index, (_day, usd) in enumerate(self.bars):
            if usd > 0:
                painter.drawRoundedRect(self._bar_rect(index), 1.5, 1.5)
        painter.end()

    def bar_at(self, pos: QPoint) -> int | None:
        plot = self._plot()
        if not self.bars or not plot.adjusted(0, -plot.height(), 0, 0).contains(pos.toPointF()):
            return None
        index = int((pos.x() - plot.x()) / (plot.width() / len(self.bars)))
        return index if 0 <= index < len(self.bars) else None

    def event(self, event: Any) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QHelpEvent.Type.ToolTip:
            index = self.bar_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                day, usd = self.bars[index]
                QToolTip.showText(event.globalPos(), f"{day}: {format_usd(usd)}", self)
            return True
        return super().event(event)


class SpendPanel(QWidget):
    """Totals from the ledger (services.spend), read on a worker thread; refreshed when an order finishes."""

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SpendPanel")
        self.library = library
        self.data: dict[str, Any] | None = None
        self._dirty = True
        self.scope = QComboBox()
        self.scope.setObjectName("SpendScope")
        for text, key in SCOPES:
            self.scope.addItem(text, key)
        self.since = QDateEdit()
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setDate(QDate.currentDate().addDays(-30))
        self.since.setVisible(False)
        self.refresh_button = QPushButton(icons.icon("reset"), "Refresh")
        self.refresh_button.setToolTip("Read the totals again")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.scope, 1)
        top.addWidget(self.since)
        top.addWidget(self.refresh_button)
        self.total = QLabel("…")
        self.total.setObjectName("SpendTotal")
        self.total.setProperty("role", "heading")
        self.detail = QLabel()
        self.detail.setProperty("role", "dim")
        self.detail.setWordWrap(True)
        self.chart = DayChart()
        self.tables: dict[str, QTreeWidget] = {}
        self.breakdown = QTabWidget()
        self.breakdown.setDocumentMode(True)
        for key, title, column in (("by_provider", "Provider", "Provider"), ("by_model", "Model", "Model"),
                                   ("by_collection", "Collection", "Collection"), ("orders", "Orders", "Order")):
            tree = QTreeWidget()
            tree.setObjectName(f"Spend_{key}")
            tree.setRootIsDecorated(False)
            tree.setHeaderLabels([column, "USD"])
            tree.setUniformRowHeights(True)
            header = tree.header()
            assert header is not None  # a tree always has its header; PyQt's stubs mark every pointer optional
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
            header.setStretchLastSection(False)
            self.tables[key] = tree
            self.breakdown.addTab(tree, title)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.total)
        layout.addWidget(self.detail)
        layout.addWidget(self.chart)
        layout.addWidget(self.breakdown, 1)
        self.loader = BackgroundCall(self)
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.scope.currentIndexChanged.connect(self._on_scope)
        self.since.dateChanged.connect(lambda _d: self.refresh())

    # --- what is shown --------------------------------------------------------------------------------
    def period(self, today: date | None = None) -> tuple[date | None, str]:
        """The first day the panel sums from (None: all time) and how the total names it."""
        today = today or datetime.now(UTC).date()
        key = self.scope.currentData()
        if key == "month":
            return month_start(today), "This month"
        if key in ("7", "30"):
            return today - timedelta(days=int(key) - 1), f"Last {key} days"
        if key == "since":
            chosen = self.since.date().toPyDate()
            return chosen, f"Since {chosen.isoformat()}"
        return None, "All time"

    def _on_scope(self) -> None:
        self.since.setVisible(self.scope.currentData() == "since")
        self.refresh()

    def order_finished(self, *_args: object) -> None:
        """An order ended: its cost is in the ledger now (read soon, or when the panel is shown next)."""
        self._dirty = True
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self) -> None:
        self._dirty = False
        since, _label = self.period()
        library = self.library
        self.loader.call(lambda: spend(library, since=since))

    def _on_failed(self, message: str) -> None:
        self.total.setText("—")
        self.detail.setText(f"Could not read the spend from the library: {message}")

    def _on_loaded(self, data: object) -> None:
        assert isinstance(data, dict)
        self.data = data
        since, label = self.period()
        self.total.setText(f"{label}: {format_usd(data['total_usd'])}")
        priced, unpriced = data["priced_items"], data["unpriced_items"]
        parts = [f"{priced} paid node run{'s' if priced != 1 else ''}", f"{len(data['orders'])} order"
                 f"{'s' if len(data['orders']) != 1 else ''}"]
        if unpriced:
            parts.append(f"{unpriced} with no known price (not counted)")
        budget = float(self.library.settings.budget_monthly_usd or 0.0)
        if budget > 0 and self.scope.currentData() == "month":
            parts.append(f"{100 * data['total_usd'] / budget:.0f}% of the {format_usd(budget)} monthly budget")
        self.detail.setText(" · ".join(parts))
        self.chart.set_days(data["by_day"], since, datetime.now(UTC).date())
        for key, tree in self.tables.items():
            tree.clear()
            rows = [(o["id"], o["usd"]) for o in data[key]] if key == "orders" else list(data[key].items())
            for name, usd in rows:
                item = QTreeWidgetItem([str(name), format_usd(usd)])
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(0, str(name))
                tree.addTopLevelItem(item)

    def rows(self, key: str) -> list[tuple[str, str]]:
        """What a breakdown table shows (name, amount), for tests and accessibility."""
        tree = self.tables[key]
        return [(item.text(0), item.text(1)) for i in range(tree.topLevelItemCount())
                if (item := tree.topLevelItem(i)) is not None]

