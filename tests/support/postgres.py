"""A real PostgreSQL server for the tests: initdb in a temp folder, on 127.0.0.1 at a free port, stopped at exit.

The server comes from the system's packages (the Makefile's system step installs postgresql-15). PostgreSQL refuses to
run as root, so as root the cluster belongs to the `postgres` system user and its tools run through `runuser`.
Each test gets its own database (`fresh_database`), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "artfactory"
PASSWORD = "pg-test-password"  # a throwaway cluster's password; tests check it never reaches logs or settings


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here; the message says what to install."""


def server_bin_dir() -> Path:
    """The folder holding initdb/pg_ctl: $ARTFACTORY_PG_BIN, else the newest /usr/lib/postgresql/N/bin."""
    explicit = os.environ.get("ARTFACTORY_PG_BIN")
    candidates = [Path(explicit)] if explicit else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable("PostgreSQL server binaries not found (install postgresql-15: `make test` does)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One running cluster. `url(db)` is a SQLAlchemy URL with the psycopg driver."""

    root: Path
    port: int
    bin_dir: Path
    as_user: str | None  # "postgres" when we are root
    _library_template: str | None = None
    _copies: ThreadPoolExecutor | None = None
    _next_copy: Future[str] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.as_user, "--", *args] if self.as_user else list(args)

    def url(self, database: str = "postgres", password: bool = True) -> str:
        auth = f"{SUPERUSER}:{PASSWORD}" if password else SUPERUSER
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = server_bin_dir()
        as_user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="artfactory-pg-"))
        server = cls(root=root, port=_free_port(), bin_dir=bin_dir, as_user=as_user)
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
        if as_user:
            shutil.chown(root, user=as_user)
            shutil.chown(pwfile, user=as_user)
        run = server._run
        run(str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB")
        run(str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-o", options, "-l", str(root / "server.log"),
            "-w", "-t", "60", "start")
        return server

    def _run(self, *args: str) -> None:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, cwd=self.root, timeout=120)
        if result.returncode != 0:
            log = (self.root / "server.log")
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def stop(self) -> None:
        if self._copies is not None:
            self._copies.shutdown(wait=True, cancel_futures=True)
        subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                                 "stop"), capture_output=True, timeout=60)
        # Every test's database is in there (hundreds of MB by the end of a run): removed in the background
        # rather than holding up the end of the run for seconds.
        subprocess.Popen(["rm", "-rf", "--", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def fresh_database(self, template: str = "template0") -> str:
        """A new database copied from `template` (empty by default); returns its SQLAlchemy URL."""
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=PASSWORD,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def fresh_library_database(self) -> str:
        """A new database already on the newest schema: a copy of a template migrated once per run, made in the
        background while the previous test runs (a copy takes 0.05-0.5 s, every migration ~0.5 s)."""
        if self._library_template is None:
            from artfactory.models.db import Database

            url = self.fresh_database()
            Database(url).close()  # CREATE DATABASE ... TEMPLATE needs the template without connections
            self._library_template = url.rsplit("/", 1)[1]
            self._copies = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-template-copy")
        assert self._copies is not None
        ready = self._next_copy or self._copies.submit(self.fresh_database, self._library_template)
        self._next_copy = self._copies.submit(self.fresh_database, self._library_template)
        return ready.result()
