"""Provider API keys: the system keychain via keyring, environment overrides, and log redaction."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

SERVICE = "artfactory"
# provider -> (display name, environment variable that overrides the keychain)
PROVIDERS: dict[str, tuple[str, str]] = {
    "replicate": ("Replicate", "REPLICATE_API_TOKEN"),
    "fal": ("fal", "FAL_KEY"),
}
MASK = "***"
# Keys shorter than this are not scrubbed from arbitrary text: "abc" would mangle every log line.
_MIN_REDACT_LEN = 6


class SecretsError(Exception):
    """The keychain cannot be used or the provider is unknown; the message says what to do."""


class MissingKeyError(SecretsError):
    """No key is configured for a provider."""

    def __init__(self, provider: str) -> None:
        name, env = _provider(provider)
        super().__init__(
            f"no API key for {name}: run `artfactory keys set {provider}` or set {env} in the environment"
        )
        self.provider = provider


def _provider(provider: str) -> tuple[str, str]:
    try:
        return PROVIDERS[provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise SecretsError(f"unknown provider {provider!r} (known: {known})") from None


def display_name(provider: str) -> str:
    """How the provider is named in messages ("Replicate", "fal")."""
    return PROVIDERS.get(provider, (provider, ""))[0]


def _keychain_error(action: str, exc: BaseException) -> SecretsError:
    # The backend's own words explain the cause (no backend, locked, denied); scrubbed in case it echoes.
    reason = redact(str(exc)) or type(exc).__name__
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        reason = "no system keychain backend is available"
    return SecretsError(f"cannot {action} the system keychain: {reason}")


def _keyring() -> ModuleType:
    """keyring, imported on first use: it scans its backends, which the app's start-up need not wait for."""
    import keyring

    return keyring


def get_key(provider: str) -> str | None:
    """The key for a provider: the environment variable wins over the keychain; None when unset.

    Raises SecretsError when there is no environment key and the keychain cannot be read, naming the
    environment variable as the way out (headless machines often have no keychain at all).
    """
    _name, env = _provider(provider)
    value = os.environ.get(env, "").strip()
    if value:
        remember_secret(value)
        return value
    try:
        stored = _keyring().get_password(SERVICE, provider)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise SecretsError(f"{_keychain_error('read', exc)}; set {env} instead") from None
    if stored:
        stored = stored.strip()
        remember_secret(stored)
        return stored or None
    return None


def require_key(provider: str) -> str:
    """The key for a provider, or MissingKeyError / SecretsError with a message a user can act on."""
    key = get_key(provider)
    if not key:
        raise MissingKeyError(provider)
    return key


def set_key(provider: str, value: str) -> None:
    """Store a key in the system keychain (service "artfactory", username = provider)."""
    _provider(provider)
    value = value.strip()
    if not value:
        raise SecretsError("the key is empty")
    if any(ch.isspace() for ch in value):
        raise SecretsError("the key contains whitespace; paste it again without spaces or line breaks")
    remember_secret(value)
    try:
        _keyring().set_password(SERVICE, provider, value)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise _keychain_error("write to", exc) from None


def delete_key(provider: str) -> bool:
    """Remove a stored key; True when one was there. The environment variable is left alone."""
    _provider(provider)
    from keyring.errors import PasswordDeleteError

    try:
        existing = _keyring().get_password(SERVICE, provider)
        if existing is None:
            return False
        _keyring().delete_password(SERVICE, provider)
    except PasswordDeleteError:
        return False
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise _keychain_error("delete from", exc) from None
    return True


def key_status(provider: str) -> dict[str, Any]:
    """Whether a key is set and where it comes from ("env", "keychain" or "none"); never the value."""
    name, env = _provider(provider)
    status: dict[str, Any] = {"provider": provider, "name": name, "env": env}
    if os.environ.get(env, "").strip():
        return {**status, "set": True, "source": "env"}
    try:
        stored = _keyring().get_password(SERVICE, provider)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        return {**status, "set": False, "source": "none", "error": str(_keychain_error("read", exc))}
    if stored and stored.strip():
        return {**status, "set": True, "source": "keychain"}
    return {**status, "set": False, "source": "none"}


# --- redaction ---------------------------------------------------------------------------------

_known: set[str] = set()
_known_lock = threading.Lock()
_BEARER = re.compile(r"(?i)\b(bearer\s+)([^\s'\",]+)")
# "Key <fal key>" / "Token <x>": only token-like values (long, with a digit), so prose such as
# "the key contains whitespace" stays readable.
_KEY_SCHEME = re.compile(r"(?i)\b((?:key|token)\s+)(?=[A-Za-z0-9._:~+/=\-]*\d)([A-Za-z0-9._:~+/=\-]{16,})")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\n,}]+)")
# Replicate tokens have a recognisable prefix; scrub them even when we never saw the value.
_REPLICATE_TOKEN = re.compile(r"\br8_[A-Za-z0-9]{16,}")
# Credentials in URL query strings (signed CDN links: ?token=, X-Amz-Signature=, Key-Pair-Id=, …), as
# httpx logs every request URL at INFO. The parameter name stays, so the line still says what it was.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][\w.\-]*(?:token|key|sig|secret|passw|credential|auth|policy)[\w.\-]*=)[^&#\s'\"<>]+"
)


def remember_secret(value: str | None) -> None:
    """Add a value to the set scrubbed from logs and error messages."""
    if value and len(value) >= _MIN_REDACT_LEN:
        with _known_lock:
            _known.add(value)


def _known_from_env() -> None:
    for _name, env in PROVIDERS.values():
        remember_secret(os.environ.get(env, "").strip() or None)


def redact(text: str) -> str:
    """The text with every known key and every auth-header-looking value replaced by ***."""
    if not text:
        return text
    _known_from_env()
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _KEY_SCHEME.sub(lambda m: m.group(1) + MASK, text)
    text = _REPLICATE_TOKEN.sub(MASK, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return text


def _scrub(record: logging.LogRecord) -> None:
    """Rewrite a record in place so its message, arguments and traceback text carry no key."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not hide the record
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Scrubs every record a handler (or logger) it is attached to sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


_FILTER = RedactingFilter()
# The record factory in place before ours, while ours is installed.
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = (_previous_factory or logging.LogRecord)(*args, **kwargs)
    _scrub(record)
    return record


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Scrub keys from every log record: at creation (a record factory) and in every current handler.

    The record factory is what makes it "everywhere": a record is clean before any handler sees it,
    also handlers added later (a log file, pytest's caplog) and records of libraries such as httpx,
    which logs each request URL at INFO. The handler filters catch records built without the factory
    (logging.makeLogRecord in socket/queue listeners). Idempotent; call again after adding handlers.
    """
    global _previous_factory
    target = logger or logging.getLogger()
    _known_from_env()
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)
    for handler in target.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    return _FILTER


def remove_redaction(logger: logging.Logger | None = None) -> None:
    """Detach the redaction again (tests, or a host application that manages logging itself)."""
    global _previous_factory
    target = logger or logging.getLogger()
    target.removeFilter(_FILTER)
    for handler in target.handlers:
        handler.removeFilter(_FILTER)
    if _previous_factory is not None and logging.getLogRecordFactory() is _redacting_factory:
        logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None
