"""Preferences → Library database: SQLite in the library folder or a PostgreSQL server, its password in the keychain."""

from __future__ import annotations

import os

from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from artfactory.controllers.background import BackgroundCall
from artfactory.models.db import DatabaseOpenError, describe_url, parse_url, url_without_password
from artfactory.services import database_login
from artfactory.services.secrets import SecretsError, redact
from artfactory.views.theme import set_style_property

SQLITE, SERVER = "sqlite", "server"
ENV = "ARTFACTORY_DATABASE_URL"
RESTART_NOTE = "A change takes effect at the next start of Art Factory."


class LibraryDatabaseBox(QGroupBox):
    """Which database holds the library: the URL goes to the settings without its password, the password to
    the system keychain (service "artfactory", user `database:user@host:port/name`)."""

    def __init__(self, configured: str, parent: QWidget | None = None) -> None:
        super().__init__("Library database", parent)
        self.configured = url_without_password(configured)
        self.kind = QComboBox()
        self.kind.setObjectName("database_kind")
        self.kind.addItem("SQLite file in the library folder (one machine)", SQLITE)
        self.kind.addItem("PostgreSQL server (a library shared by a team)", SERVER)
        self.url = QLineEdit()
        self.url.setObjectName("database_url")
        self.url.setPlaceholderText("postgresql://user@host:5432/artfactory")
        self.password = QLineEdit()
        self.password.setObjectName("database_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.test = QPushButton("Test connection")
        self.test.setObjectName("database_test")
        self.status = QLabel()
        self.status.setObjectName("database_status")
        self.status.setWordWrap(True)
        self.status.setProperty("role", "dim")
        self._check = BackgroundCall(self)
        self._check.finished.connect(self._on_checked)
        self._check.failed.connect(self._on_failed)

        form = QFormLayout(self)
        form.addRow("Database:", self.kind)
        form.addRow("Server URL:", self.url)
        row = QHBoxLayout()
        row.addWidget(self.password, 1)
        row.addWidget(self.test)
        form.addRow("Password:", row)
        form.addRow("", self.status)

        self.kind.setCurrentIndex(self.kind.findData(SERVER if self.configured else SQLITE))
        self.url.setText(self.configured)
        self.kind.currentIndexChanged.connect(self._sync)
        self.url.editingFinished.connect(self._take_password_out_of_url)
        self.test.clicked.connect(self.test_connection)
        self._sync()

    def _sync(self) -> None:
        server = self.kind.currentData() == SERVER
        for widget in (self.url, self.password, self.test):
            widget.setEnabled(server)
        self._refresh_password_hint()
        note = RESTART_NOTE
        if os.environ.get(ENV):
            note = f"{ENV} is set and overrides this setting. " + note
        self._say(note)

    def _refresh_password_hint(self) -> None:
        stored = False
        if self.kind.currentData() == SERVER and self.url.text().strip():
            try:
                stored = database_login.stored_password(self.url.text().strip()) is not None
            except (SecretsError, DatabaseOpenError):
                stored = False
        self.password.setPlaceholderText("•••••••• (stored in the keychain)" if stored
                                         else "kept in the system keychain, never in the settings")

    def _take_password_out_of_url(self) -> None:
        """A pasted URL with a password: the password moves to its masked field, the URL keeps the rest."""
        text = self.url.text().strip()
        try:
            without, password = database_login.split_password(text)
        except DatabaseOpenError:
            return
        if password:
            self.url.setText(without)
            self.password.setText(password)
        self._refresh_password_hint()

    def database_url(self) -> str:
        """The setting's value: "" for SQLite in the library folder, else the server URL without a password."""
        if self.kind.currentData() == SQLITE:
            return ""
        return url_without_password(self.url.text().strip())

    def test_connection(self) -> None:
        self._take_password_out_of_url()
        url = self.database_url()
        if not url:
            self._say("✗ type the server's URL first, e.g. postgresql://user@host:5432/artfactory", "error")
            return
        try:
            where = describe_url(parse_url(url).render_as_string(hide_password=True))
        except DatabaseOpenError as exc:
            self._say(f"✗ {exc}", "error")
            return
        self.test.setEnabled(False)
        self._say(f"Connecting to {where}…")
        password = self.password.text() or None
        self._check.call(lambda: database_login.check_database(url, password))

    def _on_checked(self, result: database_login.ConnectionCheck) -> None:
        self.test.setEnabled(self.kind.currentData() == SERVER)
        self._say(("✓ " if result.ok else "✗ ") + result.message, "ok" if result.ok else "error")

    def _on_failed(self, message: str) -> None:
        self.test.setEnabled(self.kind.currentData() == SERVER)
        self._say(f"✗ {redact(message)}", "error")  # the typed password is remembered for redaction

    def validate(self) -> str | None:
        """Why the choice cannot be saved, or None."""
        if self.kind.currentData() == SERVER:
            url = self.database_url()
            if not url:
                return "Library database: type the server's URL, or choose SQLite"
            try:
                if parse_url(url).get_backend_name() != "postgresql":
                    return "Library database: the server URL must start with postgresql://"
            except DatabaseOpenError as exc:
                return f"Library database: {exc}"
        return None

    def changed(self) -> bool:
        return self.database_url() != self.configured or bool(self.password.text())

    def apply(self) -> None:
        """Store a typed password in the keychain; raises SecretsError when the keychain refuses."""
        password = self.password.text()
        if password and self.kind.currentData() == SERVER:
            database_login.store_password(self.database_url(), password)
            self.password.clear()

    def _say(self, text: str, role: str = "dim") -> None:
        self.status.setText(text)
        set_style_property(self.status, "role", role)
