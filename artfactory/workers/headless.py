"""Running orders to the end without a window: the CLI, self-test, benchmarks and tests use this."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from PyQt6.QtCore import QCoreApplication, QEventLoop, QTimer

from artfactory.engine.document import GraphDocument
from artfactory.engine.executor import Executor, OrderRunner
from artfactory.engine.plan import Plan
from artfactory.providers.pricing import run_services_with_costs
from artfactory.services.library import Library

_APP: QCoreApplication | None = None
log = logging.getLogger("artfactory")


def ensure_core_app() -> QCoreApplication:
    """The running Qt application, or a new QCoreApplication for headless use (kept alive here)."""
    global _APP
    app = QCoreApplication.instance()
    if app is None:
        _APP = app = QCoreApplication(sys.argv[:1])
    return app


class Interrupted(Exception):
    """The user pressed Ctrl-C; the order was cancelled."""


class HeadlessSession:
    """An executor on a QCoreApplication, with helpers that block until orders finish."""

    def __init__(self, library: Library, limits: Mapping[str, int] | None = None) -> None:
        self.app = ensure_core_app()
        self.library = library
        self.executor = Executor(run_services_with_costs(library), limits=limits)
        self.signals = self.executor.signals
        self.interrupted = False
        self.runner: OrderRunner | None = None  # the order waited on last (its storage_error, report())

    def plan(self, doc: GraphDocument, *, pinned_seeds: Mapping[str, int] | None = None, reroll: bool = False,
             only: Iterable[str] | None = None) -> Plan:
        return self.executor.plan(doc, pinned_seeds=pinned_seeds, reroll=reroll, only=only)

    def run(self, plan: Plan, *, project_id: int, parent_order_id: str | None = None, reroll: bool = False,
            on_runner: Callable[[OrderRunner], None] | None = None, handle_sigint: bool = False) -> tuple[str, str]:
        """Submit and wait; returns (order_id, status)."""
        runner = self.executor.submit(plan, project_id=project_id, parent_order_id=parent_order_id,
                                      reroll=reroll, start=False)
        if on_runner:
            on_runner(runner)
        return runner.order_id, self.wait(runner, start=True, handle_sigint=handle_sigint)

    def resume(self, order_id: str, plan: Plan, project_id: int, items: Mapping[str, Mapping[str, Any]],
               handle_sigint: bool = False) -> str:
        runner = self.executor.resume(order_id, plan, project_id, items)
        return self.wait(runner, handle_sigint=handle_sigint)

    def wait(self, runner: OrderRunner, *, start: bool = False, handle_sigint: bool = False) -> str:
        self.runner = runner
        loop = QEventLoop()
        runner.finished.connect(lambda *_: loop.quit())
        previous = None
        ticker = QTimer()
        if handle_sigint:
            # Python only sees SIGINT when it runs bytecode; a ticking timer gives it the chance.
            def on_sigint(_signum: int, _frame: Any) -> None:
                if self.interrupted:
                    raise KeyboardInterrupt
                self.interrupted = True
                # The handler runs between two bytecodes of whatever the main thread was doing (maybe
                # half-way through a database write): cancel from the event loop, never from here.
                QTimer.singleShot(0, runner.cancel)

            previous = signal.signal(signal.SIGINT, on_sigint)
            ticker.timeout.connect(lambda: None)
            ticker.start(100)
        try:
            with _slot_errors_logged():
                if start:
                    runner.start()
                if runner.final_status is None:
                    loop.exec()
        finally:
            ticker.stop()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        self.executor.wait_idle(10_000)
        assert runner.final_status is not None
        return runner.final_status


@contextmanager
def _slot_errors_logged() -> Iterator[None]:
    """Without a sys.excepthook, PyQt6 aborts the whole process when a slot raises (SIGABRT, no answer):
    while a run waits, such an error is logged instead. A hook someone else set (the app's, a test
    harness's) is left in charge."""
    if sys.excepthook is not sys.__excepthook__:
        yield
        return

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # a second Ctrl-C: the user insists, stop now
            print("artfactory: error: interrupted", file=sys.stderr, flush=True)
            os._exit(130)
        log.error("internal error during the run: %s", f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__)
        log.debug("traceback", exc_info=(exc_type, exc, tb))

    sys.excepthook = hook
    try:
        yield
    finally:
        if sys.excepthook is hook:
            sys.excepthook = sys.__excepthook__
