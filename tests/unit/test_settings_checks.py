"""Every setting is checked against its declared type and bounds; bad files are said and kept, never lost."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from artfactory.config import Settings, SettingsError, check_setting, load_settings, save_settings
from tests.support.cli import run_cli, spawn_cli


def _write(home: Path, data: object) -> Path:
    path = home / "settings.json"
    path.write_text(json.dumps(data))
    return path


def test_every_default_passes_its_own_checks() -> None:
    for f in fields(Settings):
        assert check_setting(f.name, f.default) == f.default


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("max_file_bytes", -1, "must be at least 1, got -1"),
    ("max_file_bytes", "big", 'must be a whole number, got "big"'),
    ("concurrency_fal", 0, "must be at least 1, got 0"),
    ("concurrency_replicate", True, "must be a whole number, got true"),
    ("request_timeout_s", 0, "must be at least 0.01, got 0.0"),
    ("theme", "purple", 'must be one of dark, light, got "purple"'),
    ("replicate_base_url", "ftp://x", 'must be an http:// or https:// URL, got "ftp://x"'),
    ("default_width", 100000, "must be at most 4096, got 100000"),
])
def test_a_bad_value_in_the_file_names_file_and_key(tmp_path: Path, key: str, value: object, reason: str) -> None:
    path = _write(tmp_path, {key: value})
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert str(info.value) == f"{path}: setting {key!r} {reason}"
    problems: list[str] = []  # the app's way: the default is kept and the problem listed
    assert getattr(load_settings(tmp_path, problems), key) == getattr(Settings(), key)
    assert problems == [str(info.value)]
    assert json.loads(path.read_text()) == {key: value}, "a file with a bad value is not rewritten"


def test_an_int_where_a_float_is_declared_is_fine(tmp_path: Path) -> None:
    _write(tmp_path, {"poll_interval_s": 2, "unknown_future_setting": 1})
    assert load_settings(tmp_path).poll_interval_s == 2.0


def test_a_bad_environment_override_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFACTORY_MAX_FILE_BYTES", "lots")
    with pytest.raises(SettingsError, match=r"^environment variable ARTFACTORY_MAX_FILE_BYTES \(setting "
                                            r"'max_file_bytes'\) must be a whole number, got \"lots\"$"):
        load_settings(tmp_path)
    monkeypatch.setenv("ARTFACTORY_MAX_FILE_BYTES", "0")
    with pytest.raises(SettingsError, match="must be at least 1, got 0"):
        load_settings(tmp_path)
    monkeypatch.setenv("ARTFACTORY_MAX_FILE_BYTES", "2048")
    assert load_settings(tmp_path).max_file_bytes == 2048


def test_a_corrupt_file_is_moved_aside_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "settings.json").write_text('{"theme": "light",')  # cut off mid-write
    with caplog.at_level("WARNING", logger="artfactory"):
        settings = load_settings(tmp_path)
    assert settings.theme == Settings().theme
    (kept,) = tmp_path.glob("settings.json.corrupt-*")
    assert kept.read_text() == '{"theme": "light",', "the user's file is kept, byte for byte"
    assert not (tmp_path / "settings.json").exists()
    assert f"settings file {tmp_path / 'settings.json'} is corrupt; it was moved to {kept}" in caplog.text
    save_settings(tmp_path, settings)  # a later save writes a new file and leaves the kept one alone
    assert kept.read_text() == '{"theme": "light",'
    (tmp_path / "settings.json").write_text("[1, 2]")  # JSON, but not settings
    problems: list[str] = []
    load_settings(tmp_path, problems)
    assert len(list(tmp_path.glob("settings.json.corrupt-*"))) == 2 and "is corrupt" in problems[0]


def test_save_refuses_a_bad_value(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="setting 'autosave_s' must be at least 0, got -3"):
        save_settings(tmp_path, Settings(autosave_s=-3))
    assert not (tmp_path / "settings.json").exists()


def test_the_cli_reports_a_bad_setting_as_exit_2_in_one_line(library_home: Path, capsys) -> None:
    path = _write(library_home, {"max_file_bytes": -1})
    result = run_cli(capsys, "orders", "list")
    assert result.code == 2
    assert result.err == f"artfactory: error: {path}: setting 'max_file_bytes' must be at least 1, got -1\n"


def test_the_cli_goes_on_after_setting_a_corrupt_file_aside(library_home: Path) -> None:
    (library_home / "settings.json").write_text("{nope")
    # A subprocess: the warning goes through the CLI's own log set-up to stderr.
    out, err = spawn_cli(library_home, "orders", "list", "--json").communicate(timeout=60)
    assert json.loads(out) == {"orders": []}
    (kept,) = library_home.glob("settings.json.corrupt-*")
    assert err == (f"WARNING artfactory: settings file {library_home / 'settings.json'} is corrupt; "
                   f"it was moved to {kept} and the defaults are used\n")


def test_a_password_in_a_bad_database_url_is_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFACTORY_DATABASE_URL", "nosuchdb://ann:s3cret-pw@db.example/lib")
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert "s3cret-pw" not in str(info.value)
    assert str(info.value).endswith('got "nosuchdb://ann:***@db.example/lib"')
