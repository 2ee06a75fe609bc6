"""Provider benchmark: 8 independent 1 s predictions on a fake Replicate server vs one. Prints a table.

The fake server (tests/fixtures/fake_replicate.py, written from Replicate's public API) runs in this
process on 127.0.0.1 with an ephemeral port; the predictions go through the real executor, provider
node, HTTP client (create, polls, download) and storage. Overhead = wall time beyond the job's own
run time: polling granularity, HTTP round trips, the download, storing the product, the database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rich.console import Console
from rich.table import Table

from artfactory.config import Settings
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.fixtures.fake_replicate import TOKEN, FakeReplicate

MODEL = "acme/painter"


def predictions_graph(count: int, label: str) -> GraphDocument:
    """One prompt feeding `count` independent provider.replicate nodes (distinct seeds: nothing is cached)."""
    nodes = [NodeSpec("p", "prompt.text", {"text": f"a lighthouse at dusk, {label}"})]
    edges = []
    for i in range(count):
        nodes.append(NodeSpec(f"g{i}", "provider.replicate", {"model": MODEL, "seed": i}))
        edges.append(EdgeSpec("p", "text", f"g{i}", "prompt"))
    return GraphDocument(name=f"{count} predictions", nodes=nodes, edges=edges)


def run(session: HeadlessSession, fake: FakeReplicate, count: int, label: str) -> tuple[float, dict[str, int]]:
    """Wall time of one order of `count` predictions, and the HTTP requests it made by kind."""
    before = len(fake.requests)
    started = time.perf_counter()
    plan = session.plan(predictions_graph(count, label))
    order_id, status = session.run(plan, project_id=session.library.project_id())
    wall = time.perf_counter() - started
    if status != "succeeded":
        errors = {n: i["error"] for n, i in session.executor.store.items(order_id).items() if i["error"]}
        raise SystemExit(f"benchmark order ended {status}: {errors}")
    kinds = {"create": 0, "poll": 0, "download": 0}
    for request in fake.requests[before:]:
        if request.path.startswith("/files/"):
            kinds["download"] += 1
        elif request.method == "POST" and request.path.endswith("/predictions"):
            kinds["create"] += 1
        elif request.method == "GET":
            kinds["poll"] += 1
    if kinds["create"] != count:
        raise SystemExit(f"expected {count} creates, the server saw {kinds['create']}")
    return wall, kinds


def measure(fake: FakeReplicate, home: Path, count: int, seconds: float, poll: float,
            rate: float) -> tuple[float, dict[str, int], float, dict[str, int]]:
    """(wall, requests) of one prediction, then of `count` in parallel, in a fresh library."""
    settings = Settings(replicate_base_url=fake.url, poll_interval_s=poll, requests_per_second=rate,
                        concurrency_replicate=count)
    library = Library.open(home, settings=settings)
    try:
        session = HeadlessSession(library, limits={"replicate": count})
        fake.run_s = 0.0
        run(session, fake, 1, "warm-up")  # first-use imports and caches are not what we measure
        fake.run_s = seconds
        wall1, req1 = run(session, fake, 1, "one")
        wall_n, req_n = run(session, fake, count, "many")
    finally:
        library.close()
    return wall1, req1, wall_n, req_n


def main() -> None:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="parallel predictions (default 8)")
    parser.add_argument("--seconds", type=float, default=1.0, help="run time of each prediction (default 1)")
    args = parser.parse_args()
    n, job = args.count, args.seconds
    # The shipped settings, then short polls without the politeness cap: what the engine itself costs.
    configs = [("shipped settings", defaults.poll_interval_s, defaults.requests_per_second),
               ("fast polls, no rate cap", 0.1, 1000.0)]

    table = Table(title=f"Art Factory provider benchmark: {n} × {job:g} s predictions on a fake Replicate "
                        f"server, replicate concurrency {n}")
    for column in ("settings", "case", "wall", "overhead", "per prediction", "requests", "speed-up"):
        table.add_column(column, justify="left" if column in ("settings", "case", "requests") else "right")
    fake = FakeReplicate()
    # socketserver listens with a backlog of 5: more simultaneous connects than that get their SYN
    # dropped and retried by the kernel a second later, which would be charged to the engine here.
    fake._httpd.socket.listen(128)
    fake.start()
    fake.output = "url"  # one image per prediction
    os.environ["REPLICATE_API_TOKEN"] = TOKEN  # read the way the app reads it (env overrides the keychain)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for index, (label, poll, rate) in enumerate(configs):
                wall1, req1, wall_n, req_n = measure(fake, Path(tmp) / f"lib{index}", n, job, poll, rate)
                name = f"{label}\n(poll {poll:g} s, {rate:g} req/s)"
                table.add_row(name, "1 prediction", f"{wall1:.2f} s", f"{wall1 - job:+.2f} s",
                              f"{(wall1 - job) * 1000:.0f} ms", _requests(req1), "")
                table.add_row("", f"{n} in parallel", f"{wall_n:.2f} s", f"{wall_n - job:+.2f} s",
                              f"{(wall_n - job) / n * 1000:.0f} ms", _requests(req_n),
                              f"{n * wall1 / wall_n:.1f}× (ideal {n}×)", end_section=True)
    finally:
        fake.stop()
    table.caption = ("overhead = wall − prediction run time; per prediction = overhead ÷ predictions in the "
                     f"order; speed-up = {n} × (1 prediction) ÷ ({n} in parallel)")
    # Piped (make bench | tee), rich would assume 80 columns and fold every cell.
    (Console() if sys.stdout.isatty() else Console(width=130)).print(table)


def _requests(kinds: dict[str, int]) -> str:
    return f"{kinds['create']} create, {kinds['poll']} poll, {kinds['download']} download"


if __name__ == "__main__":
    main()
