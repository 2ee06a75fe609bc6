"""Preferences: provider keys (keychain), library folder and database, concurrency, image size, theme, prices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from artfactory.config import Settings
from artfactory.controllers import session
from artfactory.controllers.app_controller import AppController
from artfactory.services.secrets import SecretsError
from artfactory.views import theme
from artfactory.views.dialogs.database_page import LibraryDatabaseBox
from artfactory.views.dialogs.prices_page import PricesPage

MASKED = "••••••••••••"
KEYS_PAGE = "API keys"  # messages send GUI users to "Preferences → API keys"
PRICES_PAGE = "Prices & budget"


class _KeyRow(QWidget):
    """A provider key: where it comes from, a masked field to enter a new one, and Remove."""

    def __init__(self, app: AppController, provider: str) -> None:
        super().__init__()
        self.app, self.provider = app, provider
        self.remove_requested = False
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setObjectName(f"key_{provider}")
        self.status = QLabel()
        self.status.setProperty("role", "dim")
        self.status.setWordWrap(True)  # a keychain warning names the backend and the way out: a long line
        self.remove = QPushButton("Remove stored key")
        self.remove.clicked.connect(self._toggle_remove)
        self.test = QPushButton("Test connection")
        self.test.setObjectName(f"test_{provider}")
        self.test.setToolTip("Check the key typed here (or the stored one) with one request that costs nothing")
        self.test.clicked.connect(self.test_connection)
        app.connection_tested.connect(self._on_tested)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.field, 1)
        row.addWidget(self.test)
        row.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        status = self.app.key_status(self.provider)
        self.remove_requested = False
        if status.get("source") == "env":
            text = f"Set by the environment variable {status['env']} (it overrides the keychain)."
        elif status.get("source") == "keychain":
            text = "Stored in the system keychain. Type a new key to replace it."
        else:  # "insecure" says where the key is and what to do; "none" why nothing can be stored, if so
            text = (status.get("warning") or status.get("error")
                    or "Not set. Paste your API key; it is kept in the system keychain.")
        self._say(text, "error" if status.get("warning") or status.get("error") else "dim")
        self.field.clear()
        self.field.setPlaceholderText(MASKED + "  (stored)" if status.get("set") else "paste the API key")
        self.remove.setEnabled(status.get("source") in ("keychain", "insecure"))
        self.remove.setText("Remove stored key")

    def test_connection(self) -> None:
        self.test.setEnabled(False)
        self.test.setText("Testing…")
        self._say(f"Asking {self.app.provider_name(self.provider)}…")
        self.app.test_connection(self.provider, self.field.text())

    def _on_tested(self, provider: str, ok: bool, message: str) -> None:
        if provider != self.provider:
            return
        self.test.setEnabled(True)
        self.test.setText("Test connection")
        self._say(("✓ " if ok else "✗ ") + message, "ok" if ok else "error")

    def _say(self, text: str, role: str = "dim") -> None:
        self.status.setText(text)
        theme.set_style_property(self.status, "role", role)

    def _toggle_remove(self) -> None:
        self.remove_requested = not self.remove_requested
        self.remove.setText("Keep stored key" if self.remove_requested else "Remove stored key")
        self.status.setText("The stored key will be removed when you press OK." if self.remove_requested
                            else "Stored in the system keychain. Type a new key to replace it.")

    def apply(self) -> None:
        """Raises SecretsError when the keychain refuses."""
        value = self.field.text().strip()
        if value:
            self.app.set_key(self.provider, value)
        elif self.remove_requested:
            self.app.delete_key(self.provider)


class PreferencesDialog(QDialog):
    def __init__(self, app: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.setWindowTitle("Preferences — Art Factory")
        self.resize(620, 480)
        s = app.settings
        tabs = self.tabs = QTabWidget()

        providers = QWidget()
        provider_layout = QVBoxLayout(providers)
        self.keys: dict[str, _KeyRow] = {}
        for spec in app.cloud_providers():
            box = QGroupBox(f"{spec.name} API key")
            box_layout = QVBoxLayout(box)
            self.keys[spec.id] = _KeyRow(app, spec.id)
            box_layout.addWidget(self.keys[spec.id])
            provider_layout.addWidget(box)
        limits = QGroupBox("Parallel jobs per provider")
        limits_form = QFormLayout(limits)
        self.concurrency_local = self._spin(s.concurrency_local, 0, 256, "automatic (one per core)")
        limits_form.addRow("Local generator:", self.concurrency_local)
        # One spin box per provider whose limit is a setting, named by that setting (concurrency_<id>).
        self.concurrency: dict[str, QSpinBox] = {}
        bounds = {f.name: f.metadata for f in dataclasses.fields(Settings)}
        for spec in app.cloud_providers():
            name = spec.concurrency_setting
            if name is None or name not in bounds:
                continue
            spin = self._spin(getattr(s, name), int(bounds[name]["minimum"] or 1), int(bounds[name]["maximum"] or 64))
            spin.setObjectName(name)
            self.concurrency[name] = spin
            limits_form.addRow(f"{spec.name}:", spin)
        provider_layout.addWidget(limits)
        provider_layout.addStretch(1)
        tabs.addTab(providers, KEYS_PAGE)

        general = QWidget()
        form = QFormLayout(general)
        self.library = QLineEdit(str(app.library.home))
        self.library.setReadOnly(True)
        choose = QPushButton("Change…")
        choose.clicked.connect(self._choose_library)
        row = QHBoxLayout()
        row.addWidget(self.library, 1)
        row.addWidget(choose)
        form.addRow("Library folder:", row)
        self.library_note = QLabel("Products, thumbnails and the database live here.")
        self.library_note.setProperty("role", "dim")
        self.library_note.setWordWrap(True)
        form.addRow("", self.library_note)
        self.database = LibraryDatabaseBox(s.database_url)
        form.addRow(self.database)
        # Not self.width/height: those would shadow QWidget.width()/height() on the dialog.
        self.width_spin = self._spin(s.default_width, 64, 4096)
        self.height_spin = self._spin(s.default_height, 64, 4096)
        for spin in (self.width_spin, self.height_spin):
            spin.setSuffix(" px")
            spin.setSingleStep(64)
        size = QHBoxLayout()
        size.addWidget(self.width_spin)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_spin)
        size.addStretch(1)
        form.addRow("New image size:", size)
        self.theme = QComboBox()
        self.theme.addItem("Dark", theme.ThemeName.DARK.value)
        self.theme.addItem("Light", theme.ThemeName.LIGHT.value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))
        form.addRow("Theme:", self.theme)
        self.autosave = self._spin(s.autosave_s, 0, 3600, "off")
        self.autosave.setSuffix(" s")
        form.addRow("Autosave every:", self.autosave)
        tabs.addTab(general, "General")
        self.prices = PricesPage(app.library, s, [(spec.id, spec.name) for spec in app.cloud_providers()])
        tabs.addTab(self.prices, PRICES_PAGE.replace("&", "&&"))  # a lone & would make a mnemonic ("Prices _budget")

        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.new_library: Path | None = None

    def show_keys(self, provider: str = "") -> None:
        """Open on the API keys page, in the provider's key field when one is named."""
        self.tabs.setCurrentIndex(0)
        row = self.keys.get(provider)
        if row is not None:
            row.field.setFocus()

    @staticmethod
    def _spin(value: int, low: int, high: int, special: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        if special:
            spin.setSpecialValueText(special)
        spin.setMinimumWidth(110)
        spin.setMaximumWidth(240)
        return spin

    def _choose_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", self.library.text())
        if folder:
            self.library.setText(folder)
            self.new_library = Path(folder)
            self.library_note.setText("The new library folder is used from the next start of Art Factory.")

    def apply(self) -> None:
        """Save keys, then settings; stays open with the reason when the keychain refuses."""
        problem = self.database.validate()
        if problem:
            self.error.setText(problem)
            return
        try:
            for row in self.keys.values():
                row.apply()
            self.database.apply()
        except SecretsError as exc:
            self.error.setText(str(exc))
            return
        # Only a changed choice is written: an ARTFACTORY_DATABASE_URL in force must not become the setting.
        database = {"database_url": self.database.database_url()} if self.database.changed() else {}
        self.app.update_settings(
            **database,
            concurrency_local=self.concurrency_local.value(),
            **{name: spin.value() for name, spin in self.concurrency.items()},
            default_width=self.width_spin.value(), default_height=self.height_spin.value(),
            theme=self.theme.currentData(), autosave_s=self.autosave.value(),
            **self.prices.budget_settings(),
        )
        if self.new_library is not None and self.new_library != self.app.library.home:
            settings = session.ui_settings()
            settings.setValue("library/home", str(self.new_library))
            settings.sync()
        self.accept()
