"""Preferences → Prices & budget: the budget fields, every known price, your own prices, published ones refreshed."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.config import Settings
from artfactory.controllers.background import BackgroundCall
from artfactory.engine.cost import UNITS
from artfactory.providers import pricing
from artfactory.services.library import Library
from artfactory.services.prices import PriceError, UnitPrice
from artfactory.views import theme

COLUMNS = ("Provider", "Model", "Unit", "USD", "Source", "As of")
SOURCE_TEXT = {"user": "yours", "provider": "published", "shipped": "shipped"}


def _usd_spin(value: float, special: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 1_000_000.0)
    spin.setDecimals(2)
    spin.setPrefix("$ ")
    spin.setSingleStep(1.0)
    spin.setSpecialValueText(special)
    spin.setValue(value)
    spin.setMinimumWidth(140)
    return spin


class PriceEditor(QDialog):
    """Your own price of one provider model (it wins over published and shipped ones)."""

    def __init__(self, library: Library, providers: list[tuple[str, str]], price: UnitPrice | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.setObjectName("PriceEditor")
        self.setWindowTitle("Your price" if price is None else f"Your price of {price.model}")
        self.provider = QComboBox()
        for provider_id, name in providers:
            self.provider.addItem(name, provider_id)
        self.model = QLineEdit()
        self.model.setPlaceholderText("e.g. black-forest-labs/flux-schnell")
        self.unit = QComboBox()
        for unit in UNITS:
            self.unit.addItem(unit, unit)
        self.usd = QDoubleSpinBox()
        self.usd.setRange(0.0, 1_000_000.0)
        self.usd.setDecimals(6)
        self.usd.setPrefix("$ ")
        self.usd.setSingleStep(0.001)
        self.note = QLineEdit()
        if price is not None:
            self.provider.setCurrentIndex(max(0, self.provider.findData(price.provider)))
            self.model.setText(price.model)
            self.unit.setCurrentIndex(max(0, self.unit.findData(price.unit)))
            self.usd.setValue(price.usd)
            self.note.setText(price.note if price.source == "user" else "")
        self.error = QLabel()
        self.error.setObjectName("PriceEditorError")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Provider:", self.provider)
        form.addRow("Model:", self.model)
        form.addRow("Per:", self.unit)
        form.addRow("USD:", self.usd)
        form.addRow("Note:", self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.saved: UnitPrice | None = None

    def save(self) -> None:
        try:
            self.saved = pricing.set_user_price(self.library, str(self.provider.currentData() or ""),
                                                self.model.text().strip(), self.usd.value(),
                                                str(self.unit.currentData()), self.note.text().strip())
        except (PriceError, KeyError, ValueError) as exc:
            self.error.setText(str(exc).strip("'\""))
            return
        except Exception as exc:  # e.g. a read-only library: said here, the dialog stays open
            self.error.setText(f"Could not save the price: {exc}")
            return
        self.accept()


class PricesPage(QWidget):
    """The budget fields (applied with the dialog's OK) and the price table (price edits are saved at once)."""

    prices_changed = pyqtSignal()

    def __init__(self, library: Library, settings: Settings, providers: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.providers = providers
        self.book = pricing.PriceBook(library)
        self.prices: list[UnitPrice] = []
        budget = QGroupBox("Budget")
        form = QFormLayout(budget)
        self.monthly = _usd_spin(settings.budget_monthly_usd, "no budget")
        self.monthly.setObjectName("budget_monthly_usd")
        self.monthly.setToolTip("Run asks before a run whose estimate would take this (UTC) month's spend past it, "
                                "or that has paid nodes without a price")
        form.addRow("Monthly budget:", self.monthly)
        self.confirm = _usd_spin(settings.confirm_above_usd, "ask before every paid run")
        self.confirm.setObjectName("confirm_above_usd")
        self.confirm.setToolTip("Run asks before a run estimated above this")
        form.addRow("Ask before a run above:", self.confirm)

        self.filter = QLineEdit()
        self.filter.setObjectName("PriceFilter")
        self.filter.setPlaceholderText("Filter by provider, model or source")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("PriceTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(False)
        vertical = self.table.verticalHeader()
        if vertical is not None:
            vertical.setVisible(False)
        header = self.table.horizontalHeader()
        assert header is not None  # a table always has its header; PyQt's stubs mark every pointer optional
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit_price())
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Set your own price of a model (it wins over published and shipped prices)")
        self.add_button.clicked.connect(lambda: self.edit_price(new=True))
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Set your own price of the selected model")
        self.edit_button.clicked.connect(lambda: self.edit_price())
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove your price of the selected model (the published or shipped one "
                                      "applies again)")
        self.delete_button.clicked.connect(self.delete_price)
        self.refresh_button = QPushButton("Refresh from providers")
        self.refresh_button.setObjectName("RefreshPrices")
        self.refresh_button.setToolTip("Read the prices providers publish through their APIs (costs nothing)")
        self.refresh_button.clicked.connect(self.refresh_published)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the providers answer in their own time
        self.progress.setMaximumWidth(120)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setObjectName("PriceStatus")
        self.status.setProperty("role", "dim")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for widget in (self.add_button, self.edit_button, self.delete_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.progress)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(budget)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.refresher = BackgroundCall(self)
        self.refresher.finished.connect(self._on_refreshed)
        self.refresher.failed.connect(self._on_refresh_failed)
        self.reload()

    # --- the budget (saved with OK) --------------------------------------------------------------------
    def budget_settings(self) -> dict[str, float]:
        return {"budget_monthly_usd": round(self.monthly.value(), 2),
                "confirm_above_usd": round(self.confirm.value(), 2)}

    # --- the table -------------------------------------------------------------------------------------------
    def reload(self) -> None:
        try:
            self.prices = self.book.prices()
        except Exception as exc:  # an unreadable prices table: the page says so in one line
            self.prices = []
            self._say(f"Could not read the prices: {exc}", "error")
        self.table.setRowCount(len(self.prices))
        dim = QColor(theme.colors().dim)
        for row, price in enumerate(self.prices):
            values = (price.provider, price.model, price.unit, f"{price.usd:.6g}", SOURCE_TEXT.get(price.source,
                      price.source) + (f" (replaced by {SOURCE_TEXT.get(price.overridden_by, price.overridden_by)})"
                                       if price.overridden_by else ""), price.as_of)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if price.overridden_by:
                    item.setForeground(dim)
                if price.note:
                    item.setToolTip(price.note)
                self.table.setItem(row, column, item)
        self._apply_filter()
        self._update_buttons()

    def _apply_filter(self) -> None:
        words = self.filter.text().lower().split()
        for row, price in enumerate(self.prices):
            text = " ".join((price.provider, price.model, price.unit, price.source,
                             SOURCE_TEXT.get(price.source, ""))).lower()
            self.table.setRowHidden(row, not all(word in text for word in words))

    def visible_rows(self) -> list[list[str]]:
        out = []
        for row in range(self.table.rowCount()):
            if not self.table.isRowHidden(row):
                out.append([(cell.text() if (cell := self.table.item(row, c)) else "") for c in range(len(COLUMNS))])
        return out

    def selected_price(self) -> UnitPrice | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        return self.prices[rows.pop()] if len(rows) == 1 else None

    def select(self, provider: str, model: str, source: str = "user") -> bool:
        for row, price in enumerate(self.prices):
            if (price.provider, price.model, price.source) == (provider, model, source):
                self.table.selectRow(row)
                return True
        return False

    def _update_buttons(self) -> None:
        price = self.selected_price()
        self.edit_button.setEnabled(price is not None)
        self.delete_button.setEnabled(price is not None and price.source == "user")

    # --- editing (saved at once) -------------------------------------------------------------------------
    def editor(self, new: bool = False) -> PriceEditor:
        return PriceEditor(self.library, self.providers, None if new else self.selected_price(), self)

    def edit_price(self, new: bool = False) -> PriceEditor | None:
        if not new and self.selected_price() is None:
            return None
        dialog = self.editor(new)
        dialog.accepted.connect(lambda: self._after_edit(dialog))
        dialog.open()
        return dialog

    def _after_edit(self, dialog: PriceEditor) -> None:
        saved = dialog.saved
        if saved is None:
            return
        self.reload()
        self.select(saved.provider, saved.model)
        self._say(f"Saved your price of {saved.provider} {saved.model}: ${saved.usd:.6g} per {saved.unit}")
        self.prices_changed.emit()

    def delete_price(self) -> None:
        price = self.selected_price()
        if price is None or price.source != "user":
            return
        try:
            pricing.delete_user_price(self.library, price.provider, price.model)
        except Exception as exc:  # e.g. a read-only library
            self._say(f"Could not delete the price: {exc}", "error")
            return
        self.reload()
        self._say(f"Removed your price of {price.provider} {price.model}; the published or shipped one applies")
        self.prices_changed.emit()

    # --- published prices ------------------------------------------------------------------------------------
    def refresh_published(self) -> None:
        library = self.library

        def work() -> list[str]:
            notes: list[str] = []
            pricing.refresh_published(library, notes=notes)
            return notes

        self.refresh_button.setEnabled(False)
        self.progress.setVisible(True)
        self._say("Asking the providers for their prices…")
        self.refresher.call(work)

    def _on_refreshed(self, notes: object) -> None:
        self.refresh_button.setEnabled(True)
        self.progress.setVisible(False)
        self.reload()
        lines = [str(n) for n in notes] if isinstance(notes, list) else []
        self._say("; ".join(lines) or "Done")
        self.prices_changed.emit()

    def _on_refresh_failed(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.progress.setVisible(False)
        self._say(f"Could not refresh the prices: {message.splitlines()[0] if message else 'unknown error'}",
                  "error")

    def _say(self, text: str, role: str = "dim") -> None:
        self.status.setText(text)
        theme.set_style_property(self.status, "role", role)
