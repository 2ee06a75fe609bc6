"""Shared test set-up: offscreen Qt, an isolated library root per test, an in-memory keychain."""

from __future__ import annotations

import os
from pathlib import Path

# Qt must never look for a display, and NodeGraphQt must bind to PyQt6; both before any Qt import.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_PREFERRED_BINDING"] = "PyQt6"
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")
# Tests never talk to a real provider or keychain.
for _name in ("REPLICATE_API_TOKEN", "FAL_KEY", "ARTFACTORY_DATABASE_URL",
              "ARTFACTORY_REPLICATE_BASE_URL", "ARTFACTORY_FAL_QUEUE_URL",
              "OPENAI_API_KEY", "ARTFACTORY_OPENAI_BASE_URL"):
    os.environ.pop(_name, None)

import keyring  # noqa: E402
import pytest  # noqa: E402

from tests.support.keychain import MemoryKeyring  # noqa: E402


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture(autouse=True)
def library_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own library root through ARTFACTORY_HOME."""
    home = tmp_path / "library"
    home.mkdir()
    monkeypatch.setenv("ARTFACTORY_HOME", str(home))
    return home


@pytest.fixture(autouse=True, scope="session")
def _one_qapplication(qapp):  # type: ignore[no-untyped-def]
    """One QApplication for the whole run, made first: headless code then finds it instead of making a
    QCoreApplication, which would leave later widget tests without a GUI application."""
    return qapp


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server for the whole run, started on first use (tests/support/postgres.py)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty PostgreSQL database for this test (a psycopg SQLAlchemy URL with its password)."""
    return str(postgres_server.fresh_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The library database a test runs on; a module opts in to both with
    `pytestmark = pytest.mark.usefixtures("db_backend")`. For "postgresql", ARTFACTORY_DATABASE_URL names a fresh
    database already on the newest schema, so Library.open, the CLI and subprocesses all use it."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("ARTFACTORY_DATABASE_URL", server.fresh_library_database())
    return str(request.param)
