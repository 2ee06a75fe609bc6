"""Node errors as the app shows them: the engine's neutral text, its CLI hints turned into places in the app."""

from __future__ import annotations

import re

from artfactory.services.secrets import display_name

KEYS_PLACE = "Preferences → API keys"
KEY_CODES = ("missing_key", "auth")  # error codes a key in the Preferences fixes
_CLI_KEY_HINT = re.compile(r"(?:check the key with|run) `artfactory keys set [\w.-]+`"
                           r"(?: or set \w+ in the environment)?")


def for_gui(code: str, error: str, provider: str | None) -> str:
    """The message for a node's badge, the Runs panel and the status bar."""
    if code == "missing_key":
        return f"No API key for {display_name(provider) if provider else 'this provider'} — add it in {KEYS_PLACE}"
    if code == "auth":
        return _CLI_KEY_HINT.sub(f"check the key in {KEYS_PLACE}", error)
    return error
