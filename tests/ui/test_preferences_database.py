"""Preferences → Library database: a PostgreSQL server chosen, tested and saved; its password only in the keychain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from artfactory.controllers.app_controller import AppController
from artfactory.services.library import Library
from artfactory.views.dialogs.database_page import SERVER, SQLITE
from artfactory.views.dialogs.preferences import PreferencesDialog
from tests.support.keychain import MemoryKeyring
from tests.support.postgres import PASSWORD


@pytest.fixture
def app(library: Library) -> AppController:
    return AppController(library)


def _dialog(qtbot: Any, app: AppController) -> PreferencesDialog:
    dialog = PreferencesDialog(app)
    qtbot.addWidget(dialog)
    return dialog


def _tested(qtbot: Any, dialog: PreferencesDialog) -> str:
    box = dialog.database
    box.test.click()
    qtbot.waitUntil(lambda: box.status.text().startswith(("✓", "✗")), timeout=15_000)
    return box.status.text()


def test_a_server_is_tested_and_saved_with_its_password_in_the_keychain_only(
        qtbot: Any, app: AppController, library_home: Path, postgres_url: str, memory_keyring: MemoryKeyring) -> None:
    dialog = _dialog(qtbot, app)
    box = dialog.database
    assert box.kind.currentData() == SQLITE and not box.url.isEnabled()
    box.kind.setCurrentIndex(box.kind.findData(SERVER))
    assert "next start" in box.status.text()
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    box.url.setText(plain)  # pasted with its password in it
    box.url.editingFinished.emit()
    assert PASSWORD not in box.url.text() and box.password.text() == PASSWORD
    message = _tested(qtbot, dialog)
    assert message.startswith("✓ connected to PostgreSQL 15") and "empty database" in message
    assert PASSWORD not in message

    dialog.apply()
    assert dialog.result(), dialog.error.text()
    saved = (library_home / "settings.json").read_text(encoding="utf-8")
    assert PASSWORD not in saved
    assert json.loads(saved)["database_url"] == plain.replace(f":{PASSWORD}@", "@")
    port, name = postgres_url.rsplit(":", 1)[1].split("/")
    assert memory_keyring.store == {("artfactory", f"database:artfactory@127.0.0.1:{port}/{name}"): PASSWORD}
    # The next start opens the server, the password coming from the keychain.
    reopened = Library.open(library_home)
    try:
        assert reopened.db.engine.dialect.name == "postgresql"
        assert reopened.project_id() >= 1
    finally:
        reopened.close()
    # Preferences opened again: the password is known to be stored, and is not shown.
    second = _dialog(qtbot, app)
    again = second.database
    assert again.kind.currentData() == SERVER and "stored in the keychain" in again.password.placeholderText()
    assert again.password.text() == ""


def test_a_wrong_password_is_said_without_showing_it(qtbot: Any, app: AppController, postgres_url: str) -> None:
    dialog = _dialog(qtbot, app)
    box = dialog.database
    box.kind.setCurrentIndex(box.kind.findData(SERVER))
    box.url.setText(postgres_url.replace(f":{PASSWORD}@", "@"))
    box.password.setText("s3cret-Wrong-typed")
    message = _tested(qtbot, dialog)
    assert message.startswith("✗") and "refused the password" in message
    assert "s3cret-Wrong-typed" not in message


def test_a_server_url_that_is_not_postgresql_is_refused_on_ok(qtbot: Any, app: AppController,
                                                              library_home: Path) -> None:
    dialog = _dialog(qtbot, app)
    box = dialog.database
    box.kind.setCurrentIndex(box.kind.findData(SERVER))
    box.url.setText("")
    dialog.apply()
    assert not dialog.result() and "type the server's URL" in dialog.error.text()
    box.url.setText("mysql://someone@db/library")
    dialog.apply()
    assert not dialog.result() and "postgresql://" in dialog.error.text()
    assert not (library_home / "settings.json").exists() or "mysql" not in (
        library_home / "settings.json").read_text(encoding="utf-8")
