"""Settings: declared once with docs; the library root follows --home > env > checkout > user data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artfactory import config
from artfactory.config import Settings, SettingsError, load_settings, resolve_home, save_settings


def test_every_setting_has_a_doc() -> None:
    docs = Settings.docs()
    assert docs and all(doc.strip() for doc in docs.values())


def test_home_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFACTORY_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "cli") == (tmp_path / "cli").resolve()
    assert resolve_home(None) == (tmp_path / "env").resolve()
    monkeypatch.delenv("ARTFACTORY_HOME")
    assert resolve_home(None) == (config.SOURCE_ROOT / "storage").resolve()
    monkeypatch.setattr(config, "_running_from_checkout", lambda: False)
    monkeypatch.setattr(config.platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "user"))
    assert resolve_home(None) == (tmp_path / "user").resolve()


def test_settings_round_trip_and_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(concurrency_replicate=7, theme="light")
    save_settings(tmp_path, settings)
    assert load_settings(tmp_path).concurrency_replicate == 7
    monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", "http://127.0.0.1:9")
    assert load_settings(tmp_path).replicate_base_url == "http://127.0.0.1:9"
    (tmp_path / "settings.json").write_text(json.dumps({"concurrency_fal": "lots", "unknown": 1}))
    with pytest.raises(SettingsError, match=r"settings\.json: setting 'concurrency_fal' must be a whole number"):
        load_settings(tmp_path)  # a wrong type is said, not silently ignored (tests/unit/test_settings_checks.py)
