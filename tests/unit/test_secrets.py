"""Provider keys: keychain and environment, status without values, clear keychain errors, redaction."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from artfactory.engine.batch import execute_node
from artfactory.engine.context import NodeContext
from artfactory.engine.nodetypes import NodeError, NodeType, Port
from artfactory.services import secrets
from artfactory.services.secrets import MissingKeyError, SecretsError
from artfactory.services.storage import LibraryStorage
from tests.support.fake_keys import fake_replicate_token

REPLICATE_KEY = fake_replicate_token("UnitTestToken0123456789abcdefABCDEF")
FAL_KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789:fedcba9876543210fedcba9876543210"


def test_set_get_delete_in_the_keychain(memory_keyring: Any) -> None:
    assert secrets.get_key("replicate") is None
    secrets.set_key("replicate", f"  {REPLICATE_KEY}\n")
    assert memory_keyring.store[("artfactory", "replicate")] == REPLICATE_KEY
    assert secrets.get_key("replicate") == REPLICATE_KEY
    assert secrets.delete_key("replicate") is True
    assert secrets.delete_key("replicate") is False
    assert secrets.get_key("replicate") is None


def test_environment_overrides_the_keychain(memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.set_key("fal", "keychain:value-0123456789")
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    assert secrets.get_key("fal") == FAL_KEY
    status = secrets.key_status("fal")
    assert status["set"] is True and status["source"] == "env"


def test_status_never_holds_the_value(memory_keyring: Any) -> None:
    assert secrets.key_status("replicate") == {"provider": "replicate", "name": "Replicate",
                                               "env": "REPLICATE_API_TOKEN", "set": False, "source": "none"}
    secrets.set_key("replicate", REPLICATE_KEY)
    status = secrets.key_status("replicate")
    assert status["set"] is True and status["source"] == "keychain"
    assert REPLICATE_KEY not in repr(status)


def test_bad_input_is_refused(memory_keyring: Any) -> None:
    with pytest.raises(SecretsError, match="unknown provider 'midjourney'"):
        secrets.set_key("midjourney", "x" * 20)
    with pytest.raises(SecretsError, match="empty"):
        secrets.set_key("fal", "   ")
    with pytest.raises(SecretsError, match="whitespace"):
        secrets.set_key("fal", "abc def 0123456789")


def test_missing_key_says_what_to_do(memory_keyring: Any) -> None:
    with pytest.raises(MissingKeyError) as info:
        secrets.require_key("fal")
    assert "no API key for fal" in str(info.value)
    assert "artfactory keys set fal" in str(info.value) and "FAL_KEY" in str(info.value)


def test_no_keychain_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(SecretsError) as info:
        secrets.get_key("replicate")
    assert "no system keychain backend is available" in str(info.value)
    assert "REPLICATE_API_TOKEN" in str(info.value)
    with pytest.raises(SecretsError, match=r"not stored: no system keychain .*; set REPLICATE_API_TOKEN"):
        secrets.set_key("replicate", REPLICATE_KEY)
    status = secrets.key_status("replicate")
    assert status["set"] is False and "no system keychain" in status["error"]
    # The environment still works without any keychain (CI, servers).
    monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_KEY)
    assert secrets.get_key("replicate") == REPLICATE_KEY


def test_redact_known_keys_and_header_patterns(memory_keyring: Any) -> None:
    secrets.set_key("fal", FAL_KEY)
    text = (f"calling with {FAL_KEY}; headers={{'Authorization': 'Key {FAL_KEY}'}} "
            f"Bearer {fake_replicate_token('NeverSeenBefore')} and Token abcdef0123456789abcdef")
    clean = secrets.redact(text)
    assert FAL_KEY not in clean and "FAKENeverSeen" not in clean and "abcdef0123456789abcdef" not in clean
    assert "***" in clean
    # Ordinary prose that mentions keys and tokens stays readable.
    prose = "the key contains whitespace; Token expired; Key points to remember"
    assert secrets.redact(prose) == prose


def test_redacting_filter_scrubs_messages_args_and_tracebacks(memory_keyring: Any,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    secrets.set_key("replicate", REPLICATE_KEY)
    caplog.set_level(logging.INFO)
    secrets.install_redaction()
    log = logging.getLogger("artfactory.test")
    log.info("token is %s", REPLICATE_KEY)
    log.info({"Authorization": f"Bearer {REPLICATE_KEY}"})
    try:
        raise ValueError(f"request failed for {REPLICATE_KEY}")
    except ValueError:
        log.exception("provider call failed")
    assert REPLICATE_KEY not in caplog.text
    assert "token is ***" in caplog.text
    assert "ValueError: request failed for ***" in caplog.text
    assert all(REPLICATE_KEY not in r.getMessage() for r in caplog.records)


def test_handlers_added_later_and_other_loggers_get_clean_records(memory_keyring: Any) -> None:
    secrets.set_key("fal", FAL_KEY)
    secrets.install_redaction()
    # Added after install_redaction, on a logger that does not even propagate to the root.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    library = logging.getLogger("some.http.library")
    library.addHandler(handler)
    library.propagate = False
    try:
        library.warning("HTTP Request: POST %s headers=%s", "https://queue.fal.run/fal-ai/flux/dev",
                        {"Authorization": f"Key {FAL_KEY}"})
        try:
            raise ConnectionError(f"refused while sending Key {FAL_KEY}")
        except ConnectionError:
            library.exception("request failed")
    finally:
        library.removeHandler(handler)
        library.propagate = True
    text = stream.getvalue()
    assert "HTTP Request: POST https://queue.fal.run/fal-ai/flux/dev" in text
    assert "ConnectionError: refused while sending Key ***" in text
    assert FAL_KEY not in text and FAL_KEY.split(":")[1] not in text


def test_signed_url_credentials_are_scrubbed_but_the_url_stays_readable() -> None:
    line = ('HTTP Request: GET https://cdn.example/out-0.png?size=2&token=cdn-secret-1&X-Amz-Signature=abc123'
            '&X-Amz-Credential=AKIA%2F2024 "HTTP/1.1 200 OK"')
    clean = secrets.redact(line)
    assert "cdn-secret-1" not in clean and "abc123" not in clean and "AKIA" not in clean
    assert clean.startswith("HTTP Request: GET https://cdn.example/out-0.png?size=2&token=***&X-Amz-Signature=***")
    assert clean.endswith('"HTTP/1.1 200 OK"')


def test_remove_redaction_restores_the_record_factory() -> None:
    before = logging.getLogRecordFactory()
    secrets.install_redaction()
    assert logging.getLogRecordFactory() is not before
    secrets.remove_redaction()
    assert logging.getLogRecordFactory() is before


@pytest.mark.parametrize("error", [NodeError, RuntimeError])
def test_a_node_error_never_carries_a_key_into_the_order(memory_keyring: Any, tmp_path: Path,
                                                         error: type[Exception]) -> None:
    secrets.set_key("replicate", REPLICATE_KEY)

    def run(ctx: Any, inputs: Any, params: Any) -> dict[str, list[Any]]:
        raise error(f"the plugin echoed Bearer-less {REPLICATE_KEY} into its message")

    leaky = NodeType(type="plugin.leaky", title="Leaky", run=run, outputs=(Port("text", "text"),))
    ctx = NodeContext(node_id="n", order_id="o", home=tmp_path, settings=None, storage=None)
    outcome = execute_node(leaky, "n", ctx, {}, {}, LibraryStorage(tmp_path, 1 << 20), project_id=1,
                           redact=secrets.redact)
    assert outcome.status == "failed" and outcome.error is not None
    assert "the plugin echoed Bearer-less *** into its message" in outcome.error
    assert REPLICATE_KEY not in outcome.error


def test_install_redaction_is_idempotent() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        first = secrets.install_redaction()
        secrets.install_redaction()
        assert handler.filters.count(first) == 1 and root.filters.count(first) == 1
    finally:
        root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _detach_redaction() -> Iterator[None]:
    yield
    secrets.remove_redaction()
