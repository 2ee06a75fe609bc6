"""`artfactory keys set|delete|status PROVIDER`: a hidden prompt or stdin, the keychain, never the value."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.fake_keys import fake_replicate_token
from tests.support.keychain import MemoryKeyring

KEY = fake_replicate_token("PromptedTokenForTheCli0123456789")
FAL_KEY = "4c3b2a19-0000-4abc-9def-0123456789ab:00112233445566778899aabbccddeeff"


class _Terminal(io.StringIO):
    """Standard input that says it is a terminal, as when a person runs `keys set` by hand."""

    def isatty(self) -> bool:
        return True


def test_keys_set_prompts_hidden_status_shows_no_value_delete_removes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], memory_keyring: MemoryKeyring) -> None:
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return f"  {KEY}  "

    monkeypatch.setattr("sys.stdin", _Terminal(""))
    monkeypatch.setattr("getpass.getpass", getpass)
    stored = run_cli(capsys, "keys", "set", "replicate")
    assert stored.code == 0, stored.err
    assert prompts and "hidden" in prompts[0]
    assert memory_keyring.store[("artfactory", "replicate")] == KEY
    assert stored.out.strip() == "replicate: set (keychain)"

    status = run_cli(capsys, "keys", "status", "replicate", "--json")
    assert status.code == 0
    assert {k: status.json[k] for k in ("provider", "set", "source")} == {
        "provider": "replicate", "set": True, "source": "keychain"}
    assert run_cli(capsys, "keys", "status", "fal").out.strip() == "fal: not set (none)"

    deleted = run_cli(capsys, "keys", "delete", "replicate", "--json")
    assert deleted.code == 0 and deleted.json["set"] is False
    assert ("artfactory", "replicate") not in memory_keyring.store
    again = run_cli(capsys, "keys", "delete", "replicate", "--json")  # nothing left to delete: still fine
    assert again.code == 0 and again.json["set"] is False
    for result in (stored, status, deleted, again):
        assert KEY not in result.out + result.err


def test_keys_set_reads_stdin_and_refuses_an_empty_key(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      memory_keyring: MemoryKeyring) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(FAL_KEY + "\n"))
    stored = run_cli(capsys, "keys", "set", "fal", "--stdin", "--json")
    assert stored.code == 0 and stored.json["set"] is True
    assert memory_keyring.store[("artfactory", "fal")] == FAL_KEY
    assert FAL_KEY not in stored.out + stored.err

    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    empty = run_cli(capsys, "keys", "set", "replicate", "--stdin", "--json")
    assert empty.code != 0 and "no key given" in empty.err
    assert ("artfactory", "replicate") not in memory_keyring.store


def test_environment_key_shows_as_such_and_unknown_providers_are_bad_input(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], memory_keyring: Any) -> None:
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    status = run_cli(capsys, "keys", "status", "fal", "--json")
    assert status.json["set"] is True and status.json["source"] == "env" and status.json["env"] == "FAL_KEY"
    assert FAL_KEY not in status.out
    unknown = run_cli(capsys, "keys", "status", "midjourney")
    assert unknown.code == 2 and "invalid choice" in unknown.err


def test_keys_test_asks_the_provider_without_creating_anything(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any,
        memory_keyring: MemoryKeyring) -> None:
    from tests.fixtures import fake_replicate

    server = fake_replicate.FakeReplicate().start()
    try:
        monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
        home = tmp_path / "lib"
        missing = run_cli(capsys, "keys", "test", "replicate", "--home", home)
        assert missing.code == 1 and "no API key for Replicate" in missing.err
        monkeypatch.setenv("REPLICATE_API_TOKEN", KEY)  # not the server's token
        refused = run_cli(capsys, "keys", "test", "replicate", "--home", home)
        assert refused.code == 1 and "authentication failed for Replicate" in refused.err
        assert KEY not in refused.out + refused.err
        monkeypatch.setenv("REPLICATE_API_TOKEN", fake_replicate.TOKEN)
        ok = run_cli(capsys, "keys", "test", "replicate", "--home", home, "--json")
        assert ok.code == 0 and ok.json["message"] == "Connected to Replicate as fake-artist"
        assert not [r for r in server.requests if r.method == "POST"]
    finally:
        server.stop()
