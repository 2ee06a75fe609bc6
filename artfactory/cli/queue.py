"""`queue add|list|pause|resume|remove|move|run`: the library's queue, shared with the app."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.cli.common import EXIT_FAILED, EXIT_OK, CliError, emit, open_library, plan_error, status_exit
from artfactory.cli.output import console, escape, print_run, run_result, table
from artfactory.engine.status import OrderStatus

if TYPE_CHECKING:
    from artfactory.services.queue import Queue


def add_commands(command: Any, actions: Any, common: argparse.ArgumentParser, budget: Any) -> None:
    """The `queue` sub-commands, on the CLI's parser (see parser.py)."""
    qsub = actions(command("queue", "orders waiting to run, shared with the app"))
    qadd = qsub.add_parser("add", parents=[common], help="queue a graph document (planned and seeded now)")
    qadd.add_argument("graph", type=Path)
    qadd.add_argument("--project", default="Default")
    qadd.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE")
    qadd.add_argument("--reroll", action="store_true", help="new random seeds for seed=-1 nodes")
    qadd.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="NODE.PARAM=V1,V2,...",
                      help="as `run --sweep`: NODE once per value; twice makes rows × columns")
    budget(qadd)
    qadd.set_defaults(handler=cmd_queue_add)
    qsub.add_parser("list", parents=[common], help="the queued orders in the order they run") \
        .set_defaults(handler=cmd_queue_list)
    qsub.add_parser("pause", parents=[common], help="start no more queued orders (running ones finish)") \
        .set_defaults(handler=cmd_queue_pause)
    qsub.add_parser("resume", parents=[common], help="let queued orders start again") \
        .set_defaults(handler=cmd_queue_resume)
    qrm = qsub.add_parser("remove", parents=[common], help="take a queued order out of the queue")
    qrm.add_argument("order_id")
    qrm.set_defaults(handler=cmd_queue_remove)
    qmv = qsub.add_parser("move", parents=[common], help="put a queued order at a position (1 = next)")
    qmv.add_argument("order_id")
    qmv.add_argument("position", type=int)
    qmv.set_defaults(handler=cmd_queue_move)
    qsub.add_parser("run", parents=[common], help="work through the queue; ends when it is empty or paused") \
        .set_defaults(handler=cmd_queue_run)


def _queue(args: argparse.Namespace, writes: bool = False) -> Queue:
    from artfactory.services.queue import Queue

    return Queue(open_library(args, writes=writes))


def _listing(queue: Queue) -> dict[str, Any]:
    return {"queue": [e.as_json() for e in queue.entries()], "paused": queue.paused()}


def _print_listing(data: dict[str, Any]) -> None:
    out = console()
    grid = table("Queue (paused)" if data["paused"] else "Queue", ("#", "order", "name", "status"))
    for entry in data["queue"]:
        grid.add_row(str(entry["position"]), entry["order_id"], escape(entry["name"]), entry["status"])
    out.print(grid)
    if not data["queue"]:
        out.print("the queue is empty")


def cmd_queue_add(args: argparse.Namespace) -> int:
    from artfactory.cli.plan import guard_budget
    from artfactory.engine import document as graph_document
    from artfactory.engine.overrides import OverrideError, apply_overrides, apply_sweeps
    from artfactory.engine.plan import PlanError

    queue = _queue(args, writes=True)
    library = queue.library
    doc = graph_document.load(args.graph)
    try:
        doc, _ = apply_overrides(doc, args.sets, library.registry)
        doc = apply_sweeps(doc, args.sweeps, library.registry)
    except OverrideError as exc:
        raise CliError(str(exc)) from None
    try:
        plan = queue.plan(doc, reroll=args.reroll)
    except PlanError as exc:
        raise plan_error(exc) from None
    guard_budget(library, [plan], max_usd=args.max_usd, allow_unpriced=args.allow_unpriced)
    order_id = queue.add(plan, project_id=library.project_id(args.project), reroll=args.reroll)
    entry = next((e for e in queue.entries() if e.order_id == order_id), None)
    data = {"order_id": order_id, "position": entry.position if entry else None, "status": OrderStatus.QUEUED}
    emit(args, data, lambda: console().print(f"queued order {order_id} at position {data['position']}"))
    return EXIT_OK


def cmd_queue_list(args: argparse.Namespace) -> int:
    data = _listing(_queue(args))
    emit(args, data, lambda: _print_listing(data))
    return EXIT_OK


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    queue = _queue(args, writes=True)
    queue.set_paused(paused)
    data = _listing(queue)
    emit(args, data, lambda: console().print("the queue is paused" if paused else "the queue runs"))
    return EXIT_OK


def cmd_queue_pause(args: argparse.Namespace) -> int:
    return _set_paused(args, True)


def cmd_queue_resume(args: argparse.Namespace) -> int:
    return _set_paused(args, False)


def cmd_queue_remove(args: argparse.Namespace) -> int:
    from artfactory.services.queue import QueueError

    queue = _queue(args, writes=True)
    try:
        queue.remove(args.order_id)
    except QueueError as exc:
        raise CliError(str(exc)) from None
    data = {"removed": args.order_id, **_listing(queue)}
    emit(args, data, lambda: console().print(f"removed order {args.order_id} from the queue"))
    return EXIT_OK


def cmd_queue_move(args: argparse.Namespace) -> int:
    from artfactory.services.queue import QueueError

    queue = _queue(args, writes=True)
    try:
        place = queue.move(args.order_id, args.position)
    except QueueError as exc:
        raise CliError(str(exc)) from None
    data = {"order_id": args.order_id, "position": place, **_listing(queue)}
    emit(args, data, lambda: console().print(f"order {args.order_id} is now at position {place}"))
    return EXIT_OK


def cmd_queue_run(args: argparse.Namespace) -> int:
    from PyQt6.QtCore import QEventLoop, QTimer

    from artfactory.cli.common import sweep_first
    from artfactory.engine import document as graph_document
    from artfactory.engine.plan import PlanError
    from artfactory.engine.queue_pump import Claimed, QueuePump
    from artfactory.workers.headless import HeadlessSession

    queue = _queue(args, writes=True)
    library = queue.library
    queue.store.recover_interrupted()
    sweep_first(library)
    session = HeadlessSession(library)
    failed: list[dict[str, Any]] = []  # orders whose snapshot no longer plans

    def take() -> Claimed | None:
        while True:
            taken = queue.take_next()
            if taken is None:
                return None
            try:
                plan = queue.plan_taken(taken)
            except (PlanError, graph_document.DocumentError) as exc:
                queue.store.finish_order(taken.order_id, OrderStatus.FAILED, str(exc))
                failed.append({"order_id": taken.order_id, "status": OrderStatus.FAILED, "error": str(exc),
                               "nodes": {}, "products": []})
                continue
            return Claimed(taken.order_id, taken.project_id, plan, taken.items)

    pump = QueuePump(session.executor, take, session.executor.pool.maxThreadCount())
    finished: list[tuple[str, str]] = []
    pump.order_done.connect(lambda order_id, status: finished.append((order_id, status)))
    if not args.json:  # a line per order on stderr while the queue is worked through; the summary follows
        err = console(stderr=True)
        pump.starting.connect(lambda order_id, runner: err.print(
            f"running queued order {order_id} ({escape(runner.plan.document.name or 'unnamed')})"))
        pump.order_done.connect(lambda order_id, status: err.print(f"order {order_id} {status}"))
    loop = QEventLoop()
    pump.drained.connect(loop.quit)

    def on_sigint(_signum: int, _frame: Any) -> None:
        if session.interrupted:
            raise KeyboardInterrupt
        session.interrupted = True
        pump.stopped = True
        QTimer.singleShot(0, session.executor.cancel_all)  # from the event loop, never from the handler

    previous = signal.signal(signal.SIGINT, on_sigint)
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)  # Python sees SIGINT only while it runs bytecode
    ticker.start(100)
    try:
        if pump.fill() or pump.active:
            loop.exec()
    finally:
        ticker.stop()
        signal.signal(signal.SIGINT, previous)
    session.executor.wait_idle(10_000)
    results = list(failed)
    worst = EXIT_FAILED if failed else EXIT_OK
    for order_id, status in finished:
        results.append(run_result(library, session, order_id))
        worst = max(worst, status_exit(status, session.interrupted))

    def human() -> None:
        for result in results:
            print_run(result)
        if not results:
            console().print("the queue is paused" if queue.paused() else "nothing queued")

    emit(args, results, human)
    return worst
