"""Settings and paths: every setting declared once, with its default and a one-line doc."""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from artfactory.files import FileRefused, read_regular

APP_NAME = "Art Factory"
APP_SLUG = "artfactory"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = "settings.json"
MAX_SETTINGS_BYTES = 1024 * 1024
PROVIDER_REGISTRY = "artfactory.providers.registry"
log = logging.getLogger("artfactory")


class SettingsError(ValueError):
    """A setting with a value of the wrong type or out of bounds; the message names the file (or variable) and key."""


def _setting(default: Any, doc: str, env: str | None = None, *, minimum: float | None = None,
             maximum: float | None = None, choices: tuple[str, ...] = (),
             check: Callable[[Any], str | None] | None = None) -> Any:
    """One setting: its default, a one-line doc, the environment variable that overrides it, and the
    bounds, choices or check every value (from the file, the environment or the app) must pass."""
    return field(default=default, metadata={"doc": doc, "env": env, "minimum": minimum, "maximum": maximum,
                                            "choices": choices, "check": check})


def _http_url(value: str) -> str | None:
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return "must be an http:// or https:// URL"
    return None


def _database_url(value: str) -> str | None:
    if not value:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from artfactory.models.db import normalize_url  # postgres:// and postgresql:// mean the psycopg driver

    try:
        make_url(normalize_url(value)).get_dialect().import_dbapi()
    except ImportError as exc:
        return f"needs a database driver that is not installed ({exc.name or exc})"
    except NoSuchModuleError:  # before ArgumentError: it is one
        return f"names a database kind this installation does not know ({value.split(':', 1)[0]!r})"
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        return "is not a database URL (such as sqlite:////path/library.sqlite3 or postgresql://host/name)"
    return None


@dataclass
class Settings:
    """User settings; persisted as JSON in the library root, overridable from the environment."""

    database_url: str = _setting(
        "", "URL of the library database, e.g. postgresql://user@host:5432/name for a team (its password is kept in "
        "the system keychain, never here); empty = library.sqlite3 in the library root.",
        env="ARTFACTORY_DATABASE_URL", check=_database_url,
    )
    products_dir: str = _setting(
        "", "Folder holding the products (e.g. a team's shared folder); empty = products/ in the library root. "
        "Set by `artfactory library relocate`.", env="ARTFACTORY_PRODUCTS_DIR",
    )
    # Settings of the cloud providers (each provider's ProviderSpec names the ones it reads; a provider
    # without fields here uses its declared environment variable and defaults).
    replicate_base_url: str = _setting(
        "https://api.replicate.com", "Base URL of the Replicate HTTP API.", env="ARTFACTORY_REPLICATE_BASE_URL",
        check=_http_url,
    )
    fal_queue_url: str = _setting(
        "https://queue.fal.run", "Base URL of the fal queue API.", env="ARTFACTORY_FAL_QUEUE_URL", check=_http_url
    )
    fal_rest_url: str = _setting(
        "https://fal.run", "Base URL for fal endpoint OpenAPI schemas.", env="ARTFACTORY_FAL_REST_URL", check=_http_url
    )
    fal_api_url: str = _setting(
        "https://api.fal.ai", "Base URL of fal's platform API (published model prices).", env="ARTFACTORY_FAL_API_URL",
        check=_http_url,
    )
    fal_storage_url: str = _setting(
        "https://rest.fal.ai", "Base URL of fal's storage API (uploads of input files).",
        env="ARTFACTORY_FAL_STORAGE_URL", check=_http_url,
    )
    inline_input_bytes: int = _setting(
        1024 * 1024, "Input files up to this size go to a provider inside the request as data: URIs; larger ones "
        "through its upload endpoint (Replicate Files API, fal storage). Replicate recommends data URIs under 1 MB.",
        env="ARTFACTORY_INLINE_INPUT_BYTES", minimum=0, maximum=64 * 1024 * 1024,
    )
    concurrency_local: int = _setting(
        0, "Parallel provider.local jobs; 0 = number of CPU cores.", env="ARTFACTORY_CONCURRENCY_LOCAL",
        minimum=0, maximum=256,
    )
    concurrency_replicate: int = _setting(4, "Parallel Replicate predictions.", env="ARTFACTORY_CONCURRENCY_REPLICATE",
                                          minimum=1, maximum=64)
    concurrency_fal: int = _setting(4, "Parallel fal requests.", env="ARTFACTORY_CONCURRENCY_FAL",
                                    minimum=1, maximum=64)
    worker_threads: int = _setting(
        0, "Size of the worker pool for node execution; 0 = max(16, 4 x cores).", env="ARTFACTORY_WORKER_THREADS",
        minimum=0, maximum=1024,
    )
    max_file_bytes: int = _setting(
        512 * 1024 * 1024, "Largest media file accepted by import or download, in bytes.",
        env="ARTFACTORY_MAX_FILE_BYTES", minimum=1, maximum=2**40,
    )
    request_timeout_s: float = _setting(60.0, "HTTP timeout for one provider request, in seconds.",
                                        minimum=0.01, maximum=3600)
    poll_interval_s: float = _setting(1.0, "Longest wait between two polls of a remote job, in seconds.",
                                      minimum=0.001, maximum=600)
    requests_per_second: float = _setting(
        10.0, "Polite global cap on provider API requests per second (downloads of outputs are not counted).",
        env="ARTFACTORY_REQUESTS_PER_SECOND", minimum=0.01, maximum=100_000,
    )
    lease_ttl_s: float = _setting(
        15.0, "Seconds without a heartbeat after which another run takes over a node a crashed run was executing.",
        env="ARTFACTORY_LEASE_TTL_S", minimum=0.5, maximum=3600,
    )
    schema_ttl_s: int = _setting(24 * 3600, "How long a fetched model schema is trusted, in seconds.",
                                 minimum=0, maximum=365 * 24 * 3600)
    default_width: int = _setting(512, "Default image width for new provider nodes.", minimum=64, maximum=4096)
    default_height: int = _setting(512, "Default image height for new provider nodes.", minimum=64, maximum=4096)
    theme: str = _setting("dark", "UI theme: dark or light.", choices=("dark", "light"))
    autosave_s: int = _setting(30, "Seconds between autosaves of open graphs; 0 = off.", minimum=0, maximum=3600)
    # Money (DESIGN §11): the guards read before anything is sent to a provider.
    budget_monthly_usd: float = _setting(
        0.0, "Monthly budget in USD for provider runs (UTC calendar month); a run whose estimate would pass it does "
        "not start. 0 = no budget.", env="ARTFACTORY_BUDGET_MONTHLY_USD", minimum=0, maximum=1_000_000,
    )
    confirm_above_usd: float = _setting(
        1.0, "The app asks before starting a run estimated above this many USD; 0 = always ask before a paid run.",
        minimum=0, maximum=1_000_000,
    )

    @classmethod
    def docs(cls) -> dict[str, str]:
        return {f.name: f.metadata["doc"] for f in fields(cls)}

    def local_concurrency(self) -> int:
        return self.concurrency_local or (os.cpu_count() or 2)

    def pool_size(self) -> int:
        return self.worker_threads or max(16, 4 * (os.cpu_count() or 2))

    def provider_limits(self) -> dict[str, int]:
        """Concurrency limit per provider group, as the scheduler uses them: local, then each cloud provider."""
        # The provider registry sits above every layer that reads settings: found by name, like node modules.
        registry = importlib.import_module(PROVIDER_REGISTRY)
        return {"local": self.local_concurrency(), **{spec.id: spec.concurrency(self) for spec in registry.cloud()}}


_FIELDS = {f.name: f for f in fields(Settings)}


def check_setting(name: str, value: Any) -> Any:
    """`value` as setting `name` takes it (an int where a float is declared becomes a float);
    ValueError with the reason when its type, bounds or choices are wrong."""
    f = _FIELDS[name]
    default = f.default
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        expected = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "a whole number"
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        expected = "a number"
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
        expected = "text"
    if not ok:
        raise ValueError(f"must be {expected}, got {_shown(value)}")
    meta = f.metadata
    if meta["minimum"] is not None and value < meta["minimum"]:
        raise ValueError(f"must be at least {meta['minimum']:g}, got {_shown(value)}")
    if meta["maximum"] is not None and value > meta["maximum"]:
        raise ValueError(f"must be at most {meta['maximum']:g}, got {_shown(value)}")
    if meta["choices"] and value not in meta["choices"]:
        raise ValueError(f"must be one of {', '.join(meta['choices'])}, got {_shown(value)}")
    problem = meta["check"](value) if meta["check"] else None
    if problem:
        raise ValueError(f"{problem}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):  # a database URL may carry a password: never in a message
        value = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", value)
    text = json.dumps(value) if isinstance(value, bool | int | float | str | None) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "…"


def _from_env(raw: str, like: Any) -> Any:
    """An environment variable's text in the type of the setting (left as text when it does not convert)."""
    text = raw.strip()
    if isinstance(like, bool):
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        return raw
    try:
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
    except ValueError:
        return raw
    return raw


def _set_aside(path: Path) -> Path | None:
    """Move an unreadable settings file out of the way (never overwrite it); its new path, or None."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def load_settings(home: Path, problems: list[str] | None = None) -> Settings:
    """Settings from `home/settings.json`, then environment overrides, every value checked against its
    declaration. A bad value raises SettingsError naming the file (or variable) and the key — unless a
    `problems` list is given: then the message goes there and the default stays (the app starts and shows
    it). A settings file that is not a JSON object is moved aside to settings.json.corrupt-<time>, never
    overwritten, and reported (in `problems`, else as a warning in the log)."""
    settings = Settings()
    path = home / SETTINGS_FILE

    def bad(message: str) -> None:
        if problems is None:
            raise SettingsError(message)
        problems.append(message)

    stored: Any = {}
    if path.exists():
        try:
            text = read_regular(path, MAX_SETTINGS_BYTES).decode("utf-8")
            stored = json.loads(text)
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except FileRefused as exc:
            bad(f"settings file {exc}")
            stored = {}
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or not an object
            aside = _set_aside(path)
            message = (f"settings file {path} is corrupt; it was moved to {aside} and the defaults are used"
                       if aside else f"settings file {path} is corrupt and cannot be moved aside; defaults are used")
            if problems is None:
                log.warning(message)
            else:
                problems.append(message)
            stored = {}
    for name, value in stored.items():
        if name not in _FIELDS:
            continue  # a setting of a newer or older version: kept out of the way, not an error
        try:
            setattr(settings, name, check_setting(name, value))
        except ValueError as exc:
            bad(f"{path}: setting {name!r} {exc}")
    for f in fields(Settings):
        env = f.metadata.get("env")
        raw = os.environ.get(env) if env else None
        if not raw:
            continue
        try:
            setattr(settings, f.name, check_setting(f.name, _from_env(raw, f.default)))
        except ValueError as exc:
            bad(f"environment variable {env} (setting {f.name!r}) {exc}")
    return settings


def save_settings(home: Path, settings: Settings) -> None:
    """Write settings atomically (environment overrides are not written back); a bad value is refused."""
    data = {f.name: getattr(settings, f.name) for f in fields(Settings)}
    if data["database_url"]:  # a database password belongs in the keychain, never in this file
        from artfactory.models.db import url_without_password

        data["database_url"] = url_without_password(data["database_url"])
    for name, value in data.items():
        try:
            check_setting(name, value)
        except ValueError as exc:
            raise SettingsError(f"setting {name!r} {exc}") from None
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, home / SETTINGS_FILE)


def _running_from_checkout() -> bool:
    return (SOURCE_ROOT / "pyproject.toml").is_file() and (SOURCE_ROOT / "storage").is_dir()


def resolve_home(cli_home: str | os.PathLike[str] | None = None) -> Path:
    """Library root: --home > ARTFACTORY_HOME > storage/ in a checkout > the platform's user data dir."""
    if cli_home:
        return Path(cli_home).expanduser().resolve()
    env = os.environ.get("ARTFACTORY_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if _running_from_checkout():
        return (SOURCE_ROOT / "storage").resolve()
    return Path(platformdirs.user_data_dir(APP_SLUG, appauthor=False)).resolve()


def shipped_graphs_dir() -> Path:
    """Folder of the example graphs and templates that ship with the app."""
    import sys

    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "graphs"
    return SOURCE_ROOT / "graphs"
