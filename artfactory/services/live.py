"""Live changes from a shared PostgreSQL library: a thread that LISTENs on the channel migration 0008 notifies."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import make_url

log = logging.getLogger("artfactory")
CHANNEL = "artfactory"  # the channel of migration 0008's triggers
WAKE_S = 0.25  # how often the thread looks at its stop flag while the database is quiet
RETRY_S = (0.5, 1.0, 2.0, 5.0)  # waits between reconnection attempts (the last one repeats)


@dataclass(frozen=True)
class Change:
    """One row that changed in another connection: kind "product" or "order"; op insert, update or delete.
    kind "reconnected" says notifications may have been missed while the connection was down, "resync" that the
    whole library changed (`library migrate --replace`): re-read."""

    kind: str
    op: str = ""
    id: str = ""
    project: int | None = None
    status: str = ""

    @classmethod
    def parse(cls, payload: str) -> Change | None:
        try:
            data = json.loads(payload)
            return cls(str(data["kind"]), str(data.get("op") or ""), str(data.get("id") or ""),
                       data.get("project"), str(data.get("status") or ""))
        except (ValueError, KeyError, TypeError):
            log.debug("ignored a notification that is not ours: %.200s", payload)
            return None


def supports_live_changes(url: str) -> bool:
    """Whether the library database can tell other processes about changes (PostgreSQL); SQLite cannot."""
    return url.startswith(("postgresql", "postgres:"))


def _conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL (the driver name dropped); it holds the password, so it is never logged."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A daemon thread with its own psycopg connection (not the pool's: LISTEN belongs to one session) that calls
    `on_change` for every notification, from that thread. It reconnects with growing waits after the server goes
    away, reporting Change("reconnected") once it is back, and `stop()` ends it within about WAKE_S."""

    def __init__(self, url: str, on_change: Callable[[Change], None], channel: str = CHANNEL) -> None:
        self._conninfo = _conninfo(url)
        self._where = make_url(url).render_as_string(hide_password=True)
        self._on_change = on_change
        self._channel = channel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while a connection is LISTENing (tests and status)
        self.connections = 0  # how many times a connection was made (1 + reconnections)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="artfactory-listen", daemon=True)
            self._thread.start()

    def stop_soon(self) -> None:
        """Ask the thread to end (it does within about WAKE_S) without waiting; callable from the thread itself."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen(reconnected=self.connections > 0)
                failures = 0
            except Exception as exc:  # the server went away or refused us: wait, then try again
                self.listening.clear()
                wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                log.info("live changes from %s paused (%s); retrying in %.1f s", self._where,
                         " ".join(str(exc).split())[:200], wait)
                self._stop.wait(wait)

    def _listen(self, reconnected: bool) -> None:
        import psycopg

        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {self._channel}")
            self.connections += 1
            self.listening.set()
            if reconnected:
                self._deliver(Change("reconnected"))
            while not self._stop.is_set():
                for note in conn.notifies(timeout=WAKE_S):
                    change = Change.parse(note.payload)
                    if change is not None:
                        self._deliver(change)
                    if self._stop.is_set():
                        break
        self.listening.clear()

    def _deliver(self, change: Change) -> None:
        try:
            self._on_change(change)
        except Exception:  # a receiver's bug must not end the thread
            log.exception("a live-change receiver failed on %s", change)

