"""Settings and paths: every setting declared once, with its default and a one-line doc."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "Art Factory"
APP_SLUG = "artfactory"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = "settings.json"


def _setting(default: Any, doc: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "env": env})


@dataclass
class Settings:
    """User settings; persisted as JSON in the library root, overridable from the environment."""

    database_url: str = _setting(
        "", "SQLAlchemy URL of the library database; empty = library.sqlite3 in the library root.",
        env="ARTFACTORY_DATABASE_URL",
    )
    replicate_base_url: str = _setting(
        "https://api.replicate.com", "Base URL of the Replicate HTTP API.", env="ARTFACTORY_REPLICATE_BASE_URL"
    )
    fal_queue_url: str = _setting(
        "https://queue.fal.run", "Base URL of the fal queue API.", env="ARTFACTORY_FAL_QUEUE_URL"
    )
    fal_rest_url: str = _setting(
        "https://fal.run", "Base URL for fal endpoint OpenAPI schemas.", env="ARTFACTORY_FAL_REST_URL"
    )
    concurrency_local: int = _setting(
        0, "Parallel provider.local jobs; 0 = number of CPU cores.", env="ARTFACTORY_CONCURRENCY_LOCAL"
    )
    concurrency_replicate: int = _setting(4, "Parallel Replicate predictions.", env="ARTFACTORY_CONCURRENCY_REPLICATE")
    concurrency_fal: int = _setting(4, "Parallel fal requests.", env="ARTFACTORY_CONCURRENCY_FAL")
    worker_threads: int = _setting(
        0, "Size of the worker pool for node execution; 0 = max(16, 4 x cores).", env="ARTFACTORY_WORKER_THREADS"
    )
    max_file_bytes: int = _setting(
        512 * 1024 * 1024, "Largest media file accepted by import or download, in bytes.",
        env="ARTFACTORY_MAX_FILE_BYTES",
    )
    request_timeout_s: float = _setting(60.0, "HTTP timeout for one provider request, in seconds.")
    poll_interval_s: float = _setting(1.0, "Longest wait between two polls of a remote job, in seconds.")
    requests_per_second: float = _setting(
        10.0, "Polite global cap on provider API requests per second (downloads of outputs are not counted).",
        env="ARTFACTORY_REQUESTS_PER_SECOND",
    )
    schema_ttl_s: int = _setting(24 * 3600, "How long a fetched model schema is trusted, in seconds.")
    default_width: int = _setting(512, "Default image width for new provider nodes.")
    default_height: int = _setting(512, "Default image height for new provider nodes.")
    theme: str = _setting("dark", "UI theme: dark or light.")
    autosave_s: int = _setting(30, "Seconds between autosaves of open graphs.")

    @classmethod
    def docs(cls) -> dict[str, str]:
        return {f.name: f.metadata["doc"] for f in fields(cls)}

    def local_concurrency(self) -> int:
        return self.concurrency_local or (os.cpu_count() or 2)

    def pool_size(self) -> int:
        return self.worker_threads or max(16, 4 * (os.cpu_count() or 2))

    def provider_limits(self) -> dict[str, int]:
        """Concurrency limit per provider group, as the scheduler uses them."""
        return {
            "local": self.local_concurrency(),
            "replicate": self.concurrency_replicate,
            "fal": self.concurrency_fal,
        }


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return value


def load_settings(home: Path) -> Settings:
    """Settings from `home/settings.json`, then environment overrides."""
    settings = Settings()
    path = home / SETTINGS_FILE
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict):
            for f in fields(Settings):
                if f.name in stored:
                    default = getattr(settings, f.name)
                    value = stored[f.name]
                    if isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int)):
                        setattr(settings, f.name, value)
    for f in fields(Settings):
        env = f.metadata.get("env")
        if env and os.environ.get(env):
            try:
                setattr(settings, f.name, _coerce(os.environ[env], getattr(settings, f.name)))
            except ValueError:
                pass
    return settings


def save_settings(home: Path, settings: Settings) -> None:
    """Write settings atomically (environment overrides are not written back)."""
    data = {f.name: getattr(settings, f.name) for f in fields(Settings)}
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
