"""Provider API keys: the system keychain via keyring, environment overrides, and log redaction."""

from __future__ import annotations

import base64
import binascii
import importlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

SERVICE = "artfactory"
MASK = "***"
# Keys shorter than this are not scrubbed from arbitrary text: "abc" would mangle every log line.
_MIN_REDACT_LEN = 6
NO_KEYCHAIN = "no system keychain is available on this machine"
log = logging.getLogger("artfactory.secrets")


@dataclass(frozen=True)
class KeyRef:
    """A provider's key as this module needs it; each provider declares it (artfactory/providers/registry.py)."""

    provider: str
    name: str  # how messages name the provider
    env: str  # environment variable that overrides the keychain
    keychain_user: str  # username under the keychain service SERVICE
    pattern: str | None = None  # regex of the key's own format, scrubbed from text even when never seen


# Who tells this module the providers' keys: the provider registry, which sits above services and
# calls use_key_refs() when it is imported.
_key_refs: Callable[[], Iterable[KeyRef]] | None = None


def use_key_refs(source: Callable[[], Iterable[KeyRef]]) -> None:
    """Read the providers' keys from `source` (the provider registry installs itself here)."""
    global _key_refs
    _key_refs = source


def key_refs() -> list[KeyRef]:
    """Every provider key known."""
    if _key_refs is None:
        # Nobody imported the registry yet (a bare `secrets` user): load it by name, since this layer
        # may not import providers; it calls use_key_refs() as it loads.
        importlib.import_module("artfactory.providers.registry")
    return list(_key_refs()) if _key_refs is not None else []


class SecretsError(Exception):
    """The keychain cannot be used or the provider is unknown; the message says what to do."""


class InsecureKeychainError(SecretsError):
    """keyring's backend is not a system keychain (a plain file, nothing at all): the key is not stored."""


class MissingKeyError(SecretsError):
    """No key is configured for a provider."""

    def __init__(self, provider: str) -> None:
        name, env, _user = _provider(provider)
        super().__init__(
            f"no API key for {name}: run `artfactory keys set {provider}` or set {env} in the environment"
        )
        self.provider = provider


class _Key(NamedTuple):
    name: str
    env: str
    user: str


def _find(provider: str) -> KeyRef | None:
    return next((ref for ref in key_refs() if ref.provider == provider), None)


def _provider(provider: str) -> _Key:
    ref = _find(provider)
    if ref is None:
        known = ", ".join(sorted(ref.provider for ref in key_refs()))
        raise SecretsError(f"unknown provider {provider!r} (known: {known})")
    return _Key(ref.name, ref.env, ref.keychain_user)


def display_name(provider: str) -> str:
    """How the provider is named in messages, as it declares it."""
    ref = _find(provider)
    return ref.name if ref is not None else provider


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


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def keychain_problem(backend: Any | None = None) -> str | None:
    """Why keyring's backend is no safe place for a key, or None when it is a system keychain.

    keyring falls back to backends that are not keychains: keyrings.alt's files (plain text, or
    "encrypted" with a password kept next to them), fail.Keyring (nothing found) and null.Keyring
    (keyring switched off). keyring itself calls a backend below priority 1 "not recommended"; we
    refuse those too. The chainer is as safe as the backends it writes to and reads from. A backend
    class can vouch for itself with `artfactory_trusted = True` (the test suite's keychains do: they
    are stand-ins for the system keychain, chosen explicitly, never picked up by accident).
    """
    from keyring.backends import chainer, fail, null

    backend = _keyring().get_keyring() if backend is None else backend
    if getattr(type(backend), "artfactory_trusted", False) is True:
        return None
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if not chained:
            return NO_KEYCHAIN
        return next((p for p in map(keychain_problem, chained) if p), None)
    if isinstance(backend, fail.Keyring):
        return NO_KEYCHAIN
    name = backend_name(backend)
    if isinstance(backend, null.Keyring):
        return f"keyring is switched off ({name} stores nothing)"
    if name.startswith("keyrings.alt."):
        return f"keyring would use {name}, which keeps keys in a file, not in a system keychain"
    try:
        priority = float(backend.priority)
    except Exception:  # a backend's priority raises when it cannot work here
        return f"keyring's backend {name} cannot be used here"
    if priority < 1:
        return f"keyring's backend {name} is not a system keychain (keyring rates it {priority:g}, below 1)"
    return None


def get_key(provider: str) -> str | None:
    """The key for a provider: the environment variable wins over the keychain; None when unset.

    Raises SecretsError when there is no environment key and the keychain cannot be read, naming the
    environment variable as the way out (headless machines often have no keychain at all).
    """
    name, env, user = _provider(provider)
    value = os.environ.get(env, "").strip()
    if value:
        remember_secret(value)
        return value
    try:
        stored = _keyring().get_password(SERVICE, user)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise SecretsError(f"{_keychain_error('read', exc)}; set {env} instead") from None
    if stored:
        stored = stored.strip()
        remember_secret(stored)
        problem = keychain_problem()
        if stored and problem and provider not in _warned_insecure:
            # Stored before this check existed (or by another tool): used, not lost, but never silently.
            _warned_insecure.add(provider)
            log.warning("the %s key is read from an unsafe place: %s; set %s instead and remove it with "
                        "`artfactory keys delete %s`", name, problem, env, provider)
        return stored or None
    return None


_warned_insecure: set[str] = set()


def require_key(provider: str) -> str:
    """The key for a provider, or MissingKeyError / SecretsError with a message a user can act on."""
    key = get_key(provider)
    if not key:
        raise MissingKeyError(provider)
    return key


def set_key(provider: str, value: str) -> None:
    """Store a key in the system keychain (service "artfactory", username = provider).

    Raises InsecureKeychainError, naming the environment variable, when keyring's backend is not a
    system keychain: a key is never written to a plain file under the name of the keychain."""
    name, env, user = _provider(provider)
    value = value.strip()
    if not value:
        raise SecretsError("the key is empty")
    if any(ch.isspace() for ch in value):
        raise SecretsError("the key contains whitespace; paste it again without spaces or line breaks")
    remember_secret(value)
    problem = keychain_problem()
    if problem:
        raise InsecureKeychainError(f"the {name} key was not stored: {problem}; "
                                    f"set {env} in the environment instead")
    try:
        _keyring().set_password(SERVICE, user, value)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise _keychain_error("write to", exc) from None


def delete_key(provider: str) -> bool:
    """Remove a stored key; True when one was there. The environment variable is left alone."""
    user = _provider(provider).user
    from keyring.errors import PasswordDeleteError

    try:
        existing = _keyring().get_password(SERVICE, user)
        if existing is None:
            return False
        _keyring().delete_password(SERVICE, user)
    except PasswordDeleteError:
        return False
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        raise _keychain_error("delete from", exc) from None
    return True


def key_status(provider: str) -> dict[str, Any]:
    """Whether a key is set and where it comes from; never the value.

    "source" is "env", "keychain" (a system keychain), "insecure" (stored by a keyring backend that is
    not a system keychain: "warning" names it and what to do) or "none" ("error" says why, when no
    key can be stored here).
    """
    name, env, user = _provider(provider)
    status: dict[str, Any] = {"provider": provider, "name": name, "env": env}
    try:
        problem = keychain_problem()
    except Exception as exc:  # a broken keyring configuration: say so, the environment still works
        problem = f"keyring cannot choose a backend ({redact(str(exc))})"
    if os.environ.get(env, "").strip():
        return {**status, "set": True, "source": "env"}
    try:
        stored = _keyring().get_password(SERVICE, user)
    except Exception as exc:  # backends raise their own types (D-Bus, secretstorage, OS errors)
        return {**status, "set": False, "source": "none",
                "error": f"{_keychain_error('read', exc)}; set {env} in the environment instead"}
    if stored and stored.strip():
        if problem:
            return {**status, "set": True, "source": "insecure",
                    "warning": f"stored in an unsafe place: {problem}; set {env} in the environment instead "
                               f"and remove the stored key"}
        return {**status, "set": True, "source": "keychain"}
    if problem:
        return {**status, "set": False, "source": "none",
                "error": f"keys cannot be stored here: {problem}; set {env} in the environment instead"}
    return {**status, "set": False, "source": "none"}


# --- redaction ---------------------------------------------------------------------------------

_known: set[str] = set()
# Each known key's base64 "cores" (see _b64_cores), standard and urlsafe alphabet.
_known_b64: dict[str, tuple[str, ...]] = {}
_known_lock = threading.Lock()
_BEARER = re.compile(r"(?i)\b(bearer\s+)([^\s'\",]+)")
# "Key <key>" / "Token <x>": only token-like values (long, with a digit), so prose such as
# "the key contains whitespace" stays readable.
_KEY_SCHEME = re.compile(r"(?i)\b((?:key|token)\s+)(?=[A-Za-z0-9._:~+/=\-]*\d)([A-Za-z0-9._:~+/=\-]{16,})")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\n,}]+)")
# HTTP Basic credentials ("Basic base64(user:password)") outside an Authorization header; see _basic.
_BASIC = re.compile(r"(?i)\b(basic\s+)([A-Za-z0-9+/_\-]{4,}={0,2})")
# A run of base64 text (either alphabet, padded or not): masked whole when it carries a known key.
_B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
# Credentials in URL query strings (signed CDN links: ?token=, X-Amz-Signature=, Key-Pair-Id=, …), as
# httpx logs every request URL at INFO. The parameter name stays, so the line still says what it was.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][\w.\-]*(?:token|key|sig|secret|passw|credential|auth|policy)[\w.\-]*=)[^&#\s'\"<>]+"
)


def _b64_cores(secret: str) -> tuple[str, ...]:
    """The base64 characters that any base64 text containing `secret` must contain.

    Base64 maps 3 bytes to 4 characters, so the secret's encoding depends on where it starts inside the
    encoded data (offset 0, 1 or 2 modulo 3: "user:KEY" in a Basic header, a JSON body a server echoes).
    For each offset, the characters made only of the secret's own bits are the same whatever surrounds
    it; those are the cores. Both alphabets: standard (+/) and urlsafe (-_); padding is never in a core.
    """
    raw = secret.encode("utf-8")
    cores: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        core = encoded[-(-8 * offset // 6):(8 * (offset + len(raw))) // 6]
        cores += [core, core.translate(str.maketrans("+/", "-_"))]
    return tuple(dict.fromkeys(cores))


def remember_secret(value: str | None) -> None:
    """Add a value to the set scrubbed from logs and error messages."""
    if value and len(value) >= _MIN_REDACT_LEN:
        with _known_lock:
            if value not in _known:
                _known.add(value)
                _known_b64[value] = _b64_cores(value)


def _known_from_env() -> list[re.Pattern[str]]:
    """Remember the keys set in the environment; the providers' key formats, to scrub unseen keys too."""
    patterns = []
    for ref in key_refs():
        remember_secret(os.environ.get(ref.env, "").strip() or None)
        if ref.pattern:
            patterns.append(_pattern(ref.pattern))
    return patterns


_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(text: str) -> re.Pattern[str]:
    found = _patterns.get(text)
    if found is None:
        found = _patterns[text] = re.compile(text)
    return found


def redact(text: str) -> str:
    """The text with every known key and every auth-header-looking value replaced by ***."""
    if not text:
        return text
    formats = _known_from_env()
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
        cores = [core for secret in known for core in _known_b64[secret]]
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    if any(core in text for core in cores):
        text = _B64_RUN.sub(lambda m: MASK if any(core in m.group(0) for core in cores) else m.group(0), text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _BASIC.sub(_basic, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _KEY_SCHEME.sub(lambda m: m.group(1) + MASK, text)
    for key_format in formats:
        text = key_format.sub(MASK, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return text


def _basic(match: re.Match[str]) -> str:
    """Mask "Basic <value>" when the value is what Basic auth carries: base64 of "user:password".

    Decoding is the test that keeps prose ("Basic settings") readable: it is not base64 of a colon pair.
    """
    value = match.group(2)
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value
                                   else None, validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return match.group(1) + MASK if b":" in decoded else match.group(0)


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
    # The keys in the environment are read by redact() itself, at the first record: installing costs no provider
    # module import (a cached `artfactory run` logs nothing and loads no HTTP client).
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
