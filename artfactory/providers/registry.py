"""The provider registry: each cloud provider's module declares one ProviderSpec; everything else reads it here."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from artfactory.services import secrets

if TYPE_CHECKING:
    from pathlib import Path

    from artfactory.engine.cost import Usage
    from artfactory.engine.nodetypes import Param
    from artfactory.services.prices import UnitPrice

# The registering line: each id names the module artfactory.providers.<id>, which declares `SPEC`. Adding a
# provider is its module plus its id here (see "Adding a provider" in the README).
PROVIDERS: tuple[str, ...] = ("replicate", "fal", "openai")
PACKAGE = "artfactory.providers"


class UnknownProvider(LookupError):
    """No provider is registered under this id."""


@dataclass(frozen=True)
class UrlSetting:
    """A base-URL setting a provider reads: the Settings field, its environment variable and its default.

    When Settings declares the field (config.py), settings.json and the environment go through it; a
    provider whose field is not declared there still honours the environment variable, then the default.
    """

    name: str
    env: str
    default: str

    def read(self, settings: Any) -> str:
        value = getattr(settings, self.name, None)
        return str(value or os.environ.get(self.env, "").strip() or self.default).rstrip("/")


@dataclass(frozen=True)
class Progress:
    """What a status answer says: percent of the remote part (None = unknown) and a short line.

    `phase` is "queued", "running" or "done"; the node times its product from the first of each.
    """

    percent: float | None
    message: str
    phase: str = "running"


@dataclass
class Finished:
    """A remote job that ended well: its id, the file references it produced, and product metadata."""

    job_id: str
    files: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    usage: Usage | None = None  # what the job used, as the provider reports it (for the ledger)


class JobClient(Protocol):
    """One session with a provider's job API, as the cloud node drives it (see nodes/provider_cloud.py)."""

    JOB_NOUN: str
    JOB_ID_FIELD: str

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def create_job(self, model: str, input: dict[str, Any], params: Mapping[str, Any],
                   on_abandoned: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Start a job exactly once; the job as the provider describes it (id, URLs).

        `on_abandoned` gets a job whose create was answered after the node had been cancelled."""
        ...

    def resume_state(self, job: dict[str, Any], model: str) -> dict[str, Any]:
        """What must be stored with the job id so `resume_job` can find the job again after a crash."""
        ...

    def resume_job(self, remembered: dict[str, Any], model: str) -> dict[str, Any]:
        """The job again from its stored id and state (`ctx.previous_remote`), without creating anything."""
        ...

    def poll_job(self, job: dict[str, Any], on_update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Poll until the job ends; its final state, or ProviderError naming how it failed."""
        ...

    def fetch_outputs(self, job: dict[str, Any], final: dict[str, Any], times: dict[str, str]) -> Finished:
        """What the ended job produced: its file references and the metadata every product carries."""
        ...

    def cancel_soon(self, job: dict[str, Any], foreground_s: float = ...) -> None: ...

    def remember_or_stop(self, ctx: Any, job: dict[str, Any], state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class NodeSpec:
    """How the provider's node looks: the param that names the model, extra params, the image field."""

    model: Param
    image_field: str
    doc: str
    extra_params: tuple[Param, ...] = ()
    model_hint: str = ""  # said when the model param is empty, e.g. "choose a model (owner/name)"


# (settings, key, local file, its media type, cancel check) -> the URL the provider's API takes for that file.
Uploader = Callable[[Any, str, "Path", str, Callable[[], bool] | None], str]


@dataclass(frozen=True)
class MediaInputs:
    """How the provider takes the files a node sends it (its image port and schema file fields).

    Files up to the `inline_input_bytes` setting go in the request as data: URIs; larger ones through `upload`
    (the provider's upload endpoint) when it has one, else inline too. Nothing over `max_bytes` is sent.
    `local_files`: the client sends files itself (multipart), so the input carries the local path.
    """

    max_bytes: int = 20 * 1024 * 1024
    upload: Uploader | None = None
    local_files: bool = False


@dataclass(frozen=True)
class ProviderSpec:
    """Everything about one cloud provider, declared once in its module.

    Money: `prices` is the shipped price book; `published_prices` reads the prices the provider publishes
    through its API (settings, key, models) where it has such an endpoint; `estimate` says what one job of a
    model with this input is expected to use (model, input body, node params) — the price-book key and units.
    What a job really used comes back as `Finished.usage`.
    """

    id: str
    name: str  # as messages and the Preferences page show it
    key_env: str  # environment variable that overrides the keychain
    keychain_user: str  # username of the key in the system keychain (service "artfactory")
    base_url: UrlSetting
    default_concurrency: int
    concurrency_setting: str | None  # Settings field holding the limit; None = default_concurrency
    client: Callable[[Any, str, Callable[[], bool] | None], JobClient]  # (settings, key, cancelled)
    progress: Callable[[dict[str, Any]], Progress | None]  # one status answer, as the progress bar shows it
    check_connection: Callable[[Any, str], str]  # (settings, key) -> confirmation; raises ProviderError
    fetch_schema: Callable[[Any, str | None, str], dict[str, Any]] | None  # (settings, key, model)
    node: NodeSpec
    other_urls: tuple[UrlSetting, ...] = ()
    key_pattern: str | None = None  # regex of the provider's key format, scrubbed even when never seen
    prices: tuple[UnitPrice, ...] = ()
    published_prices: Callable[[Any, str | None, tuple[str, ...]], list[UnitPrice]] | None = None
    estimate: Callable[[str, Mapping[str, Any], Mapping[str, Any]], Usage] | None = None
    media: MediaInputs = MediaInputs()

    @property
    def node_type(self) -> str:
        return f"provider.{self.id}"

    @property
    def key_ref(self) -> secrets.KeyRef:
        return secrets.KeyRef(self.id, self.name, self.key_env, self.keychain_user, self.key_pattern)

    def concurrency(self, settings: Any) -> int:
        if self.concurrency_setting is None:
            return self.default_concurrency
        return int(getattr(settings, self.concurrency_setting, self.default_concurrency))

    def url_settings(self) -> tuple[UrlSetting, ...]:
        return (self.base_url, *self.other_urls)


_lock = threading.RLock()
_specs: dict[str, ProviderSpec] | None = None
_loading: dict[str, ProviderSpec] | None = None  # while the provider modules are imported


def _loaded() -> dict[str, ProviderSpec]:
    global _specs, _loading
    with _lock:
        if _specs is not None:
            return _specs
        if _loading is not None:
            # Asked again while importing a provider module (a log record's redaction asks for the
            # keys): the providers loaded so far.
            return _loading
        _loading = {}
        try:
            for provider in PROVIDERS:
                spec = importlib.import_module(f"{PACKAGE}.{provider}").SPEC
                if spec.id != provider:
                    raise RuntimeError(f"{PACKAGE}.{provider} declares the provider {spec.id!r}")
                _loading[spec.id] = spec
            _specs = _loading
        finally:
            _loading = None
        return _specs


def register(spec: ProviderSpec) -> None:
    """Add a provider (a plugin, or a test's toy provider); its id must be new."""
    with _lock:
        specs = _loaded()
        if spec.id in specs and specs[spec.id] is not spec:
            raise ValueError(f"provider {spec.id!r} is already registered")
        specs[spec.id] = spec


def unregister(provider: str) -> None:
    with _lock:
        _loaded().pop(provider, None)


@contextmanager
def registered(spec: ProviderSpec) -> Iterator[ProviderSpec]:
    """The spec registered for the duration of a `with` block (tests)."""
    register(spec)
    try:
        yield spec
    finally:
        unregister(spec.id)


def all() -> list[ProviderSpec]:
    """Every registered provider, in registration order."""
    return list(_loaded().values())


def cloud() -> list[ProviderSpec]:
    """The providers that run remotely and need an API key: every registered one (the embedded local
    generator is a plain node, not a registered provider)."""
    return all()


def cloud_ids() -> list[str]:
    """Ids of the cloud providers: the choices of `artfactory keys set|test|status|delete`.

    Cheap: it loads no provider module (no HTTP client) until a provider is registered or looked up."""
    with _lock:
        return list(_specs) if _specs is not None else list(PROVIDERS)


def find(provider: str) -> ProviderSpec | None:
    return _loaded().get(provider)


def get(provider: str) -> ProviderSpec:
    spec = find(provider)
    if spec is None:
        known = ", ".join(sorted(_loaded())) or "none"
        raise UnknownProvider(f"unknown provider {provider!r} (known: {known})")
    return spec


def for_node_type(node_type: str) -> ProviderSpec | None:
    """The provider whose node has this type name ("provider.<id>"), if any."""
    return next((spec for spec in all() if spec.node_type == node_type), None)


def _key_refs() -> list[secrets.KeyRef]:
    return [spec.key_ref for spec in cloud()]


# The keychain service learns the providers' keys from here (services sit below providers, so it is told).
secrets.use_key_refs(_key_refs)
