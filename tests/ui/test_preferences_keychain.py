"""Preferences with no safe keychain: the key is refused where the user typed it, and the way out is named."""

from __future__ import annotations

from typing import Any

import keyring
import pytest

from artfactory.controllers.app_controller import AppController
from artfactory.services.library import Library
from artfactory.views.dialogs.preferences import PreferencesDialog
from tests.support.fake_keys import fake_replicate_token
from tests.support.keychain import PlaintextKeyring


@pytest.fixture
def app(library: Library) -> AppController:
    return AppController(library)


def test_a_key_typed_without_a_safe_keychain_is_refused_in_the_dialog(qtbot: Any, app: AppController) -> None:
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)
    dialog = PreferencesDialog(app)
    qtbot.addWidget(dialog)
    row = dialog.keys["replicate"]
    # Before anything is typed, the row already says that keys cannot be kept here, and what to do.
    assert "keys cannot be stored here" in row.status.text() and "REPLICATE_API_TOKEN" in row.status.text()
    key = fake_replicate_token("TypedIntoPreferences0123456789")
    qtbot.keyClicks(row.field, key)
    dialog.apply()
    assert backend.store == {}
    assert not dialog.result()  # still open, with the reason
    message = dialog.error.text()
    assert "the Replicate key was not stored" in message and "keyrings.alt.file" in message
    assert "REPLICATE_API_TOKEN" in message and key not in message


def test_a_key_left_in_a_plain_file_is_shown_as_such_and_can_be_removed(qtbot: Any, app: AppController) -> None:
    backend = PlaintextKeyring()
    backend.store[("artfactory", "fal")] = "fal-key-left-by-an-older-version:0123456789"
    keyring.set_keyring(backend)
    dialog = PreferencesDialog(app)
    qtbot.addWidget(dialog)
    row = dialog.keys["fal"]
    assert "unsafe place" in row.status.text() and "FAL_KEY" in row.status.text()
    assert row.status.property("role") == "error"
    assert row.remove.isEnabled()
    row._toggle_remove()
    dialog.apply()
    assert backend.store == {}
