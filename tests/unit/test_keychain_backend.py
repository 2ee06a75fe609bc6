"""Keys go only to a system keychain: plain-file and missing keychains are refused, named, and the way out given."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from artfactory.services import secrets
from artfactory.services.secrets import NO_KEYCHAIN, InsecureKeychainError
from tests.support.cli import ROOT, cli_env, run_cli
from tests.support.fake_keys import fake_replicate_token
from tests.support.keychain import DictKeyring, FileKeyring, MemoryKeyring, PlaintextKeyring

KEY = fake_replicate_token("KeychainBackendTest0123456789")

# A plain-file keyring that claims a high priority is still judged by its module.
LoudPlaintext = type("EncryptedKeyring", (DictKeyring,), {"__module__": "keyrings.alt.file", "priority": 9})


class _LowPriority(DictKeyring):
    priority = 0.5  # type: ignore[assignment]


class _NotHere(DictKeyring):
    @property  # type: ignore[override]
    def priority(self) -> float:
        raise RuntimeError("requires a D-Bus session")


def _chain(*backends: Any) -> chainer.ChainerBackend:
    """A chainer over exactly these backends (the real one chains whatever this machine has)."""
    return type("Chain", (chainer.ChainerBackend,), {"backends": list(backends)})()  # type: ignore[no-any-return]


# keyring registers every backend class it sees; these must never be picked for a real detection.
for _cls in (LoudPlaintext, _LowPriority, _NotHere):
    KeyringBackend._classes.discard(_cls)  # type: ignore[attr-defined]


def test_system_keychains_and_the_test_keychains_are_accepted() -> None:
    assert secrets.keychain_problem(MemoryKeyring()) is None
    assert secrets.keychain_problem(FileKeyring()) is None
    assert secrets.keychain_problem(DictKeyring()) is None  # priority 5: keyring's own "recommended" (>= 1)


@pytest.mark.parametrize(("backend", "expected"), [
    (fail.Keyring(), NO_KEYCHAIN),
    (null.Keyring(), "keyring is switched off"),
    (PlaintextKeyring(), "keeps keys in a file, not in a system keychain"),
    (LoudPlaintext(), "keyrings.alt.file.EncryptedKeyring"),
    (_LowPriority(), "below 1"),
    (_NotHere(), "cannot be used here"),
])
def test_backends_that_are_no_keychain_are_named(backend: Any, expected: str) -> None:
    problem = secrets.keychain_problem(backend)
    assert problem is not None and expected in problem


def test_the_chainer_is_as_safe_as_what_it_chains() -> None:
    problem = secrets.keychain_problem(_chain(DictKeyring(), PlaintextKeyring()))
    assert problem is not None and "keyrings.alt.file.PlaintextKeyring" in problem
    assert secrets.keychain_problem(_chain()) == NO_KEYCHAIN
    assert secrets.keychain_problem(_chain(DictKeyring(), MemoryKeyring())) is None


def test_a_plain_file_keyring_is_refused_and_nothing_is_written() -> None:
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)
    with pytest.raises(InsecureKeychainError) as info:
        secrets.set_key("replicate", KEY)
    message = str(info.value)
    assert "not stored" in message and "keyrings.alt.file.PlaintextKeyring" in message
    assert "REPLICATE_API_TOKEN" in message and KEY not in message
    assert backend.store == {}
    status = secrets.key_status("replicate")
    assert status["source"] == "none" and status["set"] is False and "REPLICATE_API_TOKEN" in status["error"]


def test_a_key_already_in_a_plain_file_is_reported_as_such_and_still_used(caplog: pytest.LogCaptureFixture) -> None:
    backend = PlaintextKeyring()
    backend.store[("artfactory", "fal")] = "fal-key-from-an-older-version:0123456789abcdef"
    keyring.set_keyring(backend)
    status = secrets.key_status("fal")
    assert status["set"] is True and status["source"] == "insecure"
    assert "keyrings.alt.file.PlaintextKeyring" in status["warning"] and "FAL_KEY" in status["warning"]
    caplog.set_level(logging.WARNING)
    assert secrets.get_key("fal") == "fal-key-from-an-older-version:0123456789abcdef"  # nothing lost
    assert "unsafe place" in caplog.text and "FAL_KEY" in caplog.text
    assert secrets.delete_key("fal") is True  # the way to clean up works on any backend
    assert backend.store == {}


def test_cli_keys_set_without_a_keychain_names_the_environment_variable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    keyring.set_keyring(PlaintextKeyring())
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    refused = run_cli(capsys, "keys", "set", "replicate", "--stdin", "--json")
    assert refused.code == 1
    error = refused.json["error"]
    assert error.startswith("the Replicate key was not stored") and "REPLICATE_API_TOKEN" in error
    assert "the Replicate key was not stored" in refused.err
    assert "Traceback" not in refused.err and KEY not in refused.err
    status = run_cli(capsys, "keys", "status", "replicate")
    assert status.code == 0 and status.out.strip() == "replicate: not set (none)"
    assert "keys cannot be stored here" in status.err and "REPLICATE_API_TOKEN" in status.err


def test_headless_machine_without_a_keychain_in_a_real_process(tmp_path: Path) -> None:
    """keyring's own fallback on a machine with no secret service: fail.Keyring, chosen at start-up."""
    env = cli_env(tmp_path / "lib", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = subprocess.run([sys.executable, "-m", "artfactory", "keys", "set", "fal", "--stdin"],
                          input="fal-key:abc123\n", env=env, capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("artfactory: ") and line.endswith(
        "the fal key was not stored: no system keychain is available on this machine; "
        "set FAL_KEY in the environment instead")


# --- redaction of encoded keys ------------------------------------------------------------------


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
@pytest.mark.parametrize("prefix", ["", "u", "ab", "user:", ":", "token="])
@pytest.mark.parametrize("padded", [True, False])
def test_a_key_echoed_base64_encoded_is_redacted(encode: Any, prefix: str, padded: bool) -> None:
    key = "falSECRET-0f1e2d3c4b5a6978:8796a5b4c3d2e1f0?>~"  # "?>~" gives + and / (- and _) in the encoding
    secrets.remember_secret(key)
    encoded = encode((prefix + key).encode()).decode()
    encoded = encoded if padded else encoded.rstrip("=")
    text = f'{{"detail": "invalid credentials {encoded}", "status": 401}}'
    clean = secrets.redact(text)
    assert encoded not in clean and clean == '{"detail": "invalid credentials ***", "status": 401}'


def test_basic_auth_values_are_redacted_and_prose_stays() -> None:
    basic = base64.b64encode(b"artist:never-seen-password").decode()
    assert secrets.redact(f"sent Basic {basic} to the proxy") == "sent Basic *** to the proxy"
    assert secrets.redact(f"headers: {{'X-Upstream': 'basic {basic}'}}") == "headers: {'X-Upstream': 'basic ***'}"
    prose = "Basic settings are on the first tab; basic usage is described below"
    assert secrets.redact(prose) == prose
