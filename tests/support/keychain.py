"""Keychains for tests and screenshots: in memory, or a file for CLI subprocesses; never the user's real one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class DictKeyring(KeyringBackend):
    """A working backend that keeps what it is given in `store`, to see whether a key was written to it.

    The app judges it as any third-party backend: by its priority (keyring's "recommended", 5) and module."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


# keyrings.alt's PlaintextKeyring as keyring sees it: judged by its module, whatever priority it claims.
PlaintextKeyring = type("PlaintextKeyring", (DictKeyring,), {"__module__": "keyrings.alt.file", "priority": 0.5})

# keyring registers every backend class it sees; these must never be picked for a real detection.
for _cls in (DictKeyring, PlaintextKeyring):
    KeyringBackend._classes.discard(_cls)  # type: ignore[attr-defined]


class MemoryKeyring(DictKeyring):
    priority = 1
    # The app refuses keyring backends that are not a system keychain; this stand-in is set explicitly.
    artfactory_trusted = True


class FileKeyring(KeyringBackend):
    """A JSON file shared by CLI subprocesses (PYTHON_KEYRING_BACKEND=tests.support.keychain.FileKeyring).

    It lives at $ARTFACTORY_TEST_KEYCHAIN, else $XDG_DATA_HOME/artfactory-test-keychain.json: tests point
    it into their tmp_path. Plain text, so it is for fake keys only; trusted like MemoryKeyring."""

    priority = 1  # type: ignore[assignment]
    artfactory_trusted = True

    @property
    def path(self) -> Path:
        explicit = os.environ.get("ARTFACTORY_TEST_KEYCHAIN")
        if explicit:
            return Path(explicit)
        data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(data) / "artfactory-test-keychain.json"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, str]) -> None:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)  # a CLI reading at the same time sees the old file or the new one

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is not None:
            self._save(data)
