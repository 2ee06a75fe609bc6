"""Concurrency benchmark: N processes × M runs of cheap graphs on one library (SQLite, PostgreSQL) — throughput and
proof of 0 duplicates (products, executions, paid creates at a fake Replicate server)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

DATA = Path(__file__).resolve().parent / ".data"
SETTINGS = {"poll_interval_s": 0.02, "requests_per_second": 1000.0, "request_timeout_s": 30.0, "lease_ttl_s": 5.0}


def graph_document() -> dict[str, Any]:
    """A prompt shared by many runs feeds a paid Replicate node (the same prompt must be paid for once, whichever
    process gets there first) and a resize; a local node with a seed of its own makes a new product every run."""
    nodes = [
        {"id": "p", "type": "prompt.text", "params": {"text": "shared"}},
        {"id": "gen", "type": "provider.replicate", "params": {"model": "acme/painter", "input": {"num_outputs": 1}}},
        {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}},
        {"id": "own", "type": "provider.local", "params": {"width": 64, "height": 64, "seed": 1}},
    ]
    edges = [("p", "text", "gen", "prompt"), ("gen", "media", "small", "image"), ("p", "text", "own", "prompt")]
    return {"format": "artfactory.graph", "version": 1, "name": "concurrency", "meta": {}, "nodes": nodes,
            "edges": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in edges]}


def prompt_number(worker_index: int, run: int, shared: int) -> int:
    """Which shared prompt a run uses: the workers walk the same prompts from different starting points, so they
    meet on the same paid work at the same time as well as later."""
    return (run + worker_index * 7) % shared


# -- a worker process -----------------------------------------------------------------------------------
def worker(index: int, runs: int, shared: int, graph: Path, go: Path) -> int:
    from artfactory.engine import document as graph_document_io
    from artfactory.engine.overrides import apply_overrides
    from artfactory.services.library import Library
    from artfactory.workers.headless import HeadlessSession

    library = Library.open()
    session = HeadlessSession(library)
    project_id = library.project_id("Default")
    doc = graph_document_io.load(graph)
    while not go.exists():  # every worker is imported and connected before the clock starts
        time.sleep(0.005)
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for i in range(runs):
        sets = [f"p.text=shared prompt {prompt_number(index, i, shared)}", f"own.seed={index * 1_000_000 + i}"]
        run_doc, _ = apply_overrides(doc, sets, library.registry)
        _order_id, status = session.run(session.plan(run_doc), project_id=project_id)
        statuses[status] += 1
    print(json.dumps({"worker": index, "seconds": time.perf_counter() - started, "statuses": statuses}))
    library.close()
    return 0


# -- the coordinator ------------------------------------------------------------------------------------
def run_backend(backend: str, processes: int, runs: int, shared: int, server: Any) -> dict[str, Any]:
    from tests.fixtures.fake_replicate import FakeReplicate

    DATA.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=f"concurrency-{backend}-", dir=DATA))
    (home / "settings.json").write_text(json.dumps(SETTINGS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPLICATE", "FAL_", "ARTFACTORY_DATABASE"))}
    env.update({"ARTFACTORY_HOME": str(home), "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"})
    if backend == "postgresql":
        env["ARTFACTORY_DATABASE_URL"] = server.fresh_database()
    os.environ["ARTFACTORY_HOME"] = str(home)  # this process opens the same library (migration, then proof)
    os.environ.pop("ARTFACTORY_DATABASE_URL", None)
    os.environ.update({k: v for k, v in env.items() if k == "ARTFACTORY_DATABASE_URL"})
    from artfactory.services.library import Library

    Library.open(home).close()  # created and migrated once, before the workers race for it
    replicate = FakeReplicate().start()
    replicate.run_s = 0.05  # long enough for runs in other processes to meet the same prediction in flight
    env.update({"ARTFACTORY_REPLICATE_BASE_URL": replicate.url, "REPLICATE_API_TOKEN": replicate.token})
    graph = home / "graph.json"
    graph.write_text(json.dumps(graph_document()))
    go = home / "go"
    try:
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(k), "--runs", str(runs), "--shared",
                                   str(shared), "--graph", str(graph), "--go", str(go)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
                 for k in range(processes)]
        time.sleep(1.0)
        started = time.perf_counter()
        go.touch()
        answers = []
        for proc in procs:
            out, err = proc.communicate(timeout=3600)
            if proc.returncode != 0:
                raise RuntimeError(f"a worker failed ({proc.returncode}): {err.strip()[-2000:]}")
            answers.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - started
        creates = Counter(p.input.get("prompt") for p in replicate.predictions.values())
        proof = prove(Library.open(home))
    finally:
        replicate.stop()
    statuses: Counter[str] = Counter()
    for answer in answers:
        statuses.update(answer["statuses"])
    result = {"backend": backend, "processes": processes, "runs": processes * runs, "wall_s": wall,
              "runs_per_s": processes * runs / wall, "statuses": dict(statuses),
              "paid_creates": sum(creates.values()), "distinct_prompts": len(creates),
              "max_creates_per_prompt": max(creates.values(), default=0),
              "prompts_used": len({prompt_number(k, i, shared) for k in range(processes) for i in range(runs)}),
              **proof}
    shutil.rmtree(home, ignore_errors=True)
    return result


def prove(library: Any) -> dict[str, int]:
    """Counts that must be 0 (duplicates) or exact, read from the library's database."""
    from sqlalchemy import text

    queries = {
        "orders": "SELECT count(*) FROM orders",
        "orders_not_succeeded": "SELECT count(*) FROM orders WHERE status <> 'succeeded'",
        "products": "SELECT count(*) FROM products",
        # The same file from the same node of the same order twice.
        "duplicate_products": "SELECT count(*) FROM (SELECT 1 FROM products GROUP BY order_id, node_id, sha256 "
                              "HAVING count(*) > 1) d",
        # A piece of work (a cache key) executed by more than one order item: paid or computed twice.
        "duplicate_executions": "SELECT count(*) FROM (SELECT 1 FROM order_items WHERE status = 'executed' "
                                "GROUP BY cache_key HAVING count(*) > 1) d",
        "executed_items": "SELECT count(*) FROM order_items WHERE status = 'executed'",
        "leases_left": "SELECT count(*) FROM leases",
    }
    with library.db.engine.connect() as conn:
        out = {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in queries.items()}
    library.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--runs", type=int, default=200, help="runs per process")
    parser.add_argument("--shared", type=int, default=25, help="distinct prompts the runs share (paid once each)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--graph", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.runs, args.shared, args.graph, args.go)
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    server = None
    if "postgresql" in backends:
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start()
    results = []
    try:
        for backend in backends:
            results.append(run_backend(backend, args.processes, args.runs, args.shared, server))
    finally:
        if server is not None:
            server.stop()
    failures = []
    print(f"\n{args.processes} processes × {args.runs} runs of a cheap graph on one library "
          f"({args.shared} shared prompts, each a paid Replicate create at most once)\n")
    print(f"{'':34}" + "".join(f"{r['backend']:>14}" for r in results))
    rows = [("wall time (s)", "wall_s", "{:.1f}"), ("throughput (runs/s)", "runs_per_s", "{:.1f}"),
            ("orders", "orders", "{}"), ("orders not succeeded", "orders_not_succeeded", "{}"),
            ("products", "products", "{}"), ("duplicate products", "duplicate_products", "{}"),
            ("executed node items", "executed_items", "{}"),
            ("duplicate executions (cache key)", "duplicate_executions", "{}"),
            ("paid creates (fake Replicate)", "paid_creates", "{}"),
            ("max creates for one prompt", "max_creates_per_prompt", "{}"), ("leases left", "leases_left", "{}")]
    for label, key, fmt in rows:
        print(f"{label:34}" + "".join(f"{fmt.format(r[key]):>14}" for r in results))
    for r in results:
        expected = r["processes"] * (r["runs"] // r["processes"])
        checks = {"every run succeeded": r["orders"] == expected and r["orders_not_succeeded"] == 0,
                  "0 duplicate products": r["duplicate_products"] == 0,
                  "0 duplicate executions": r["duplicate_executions"] == 0,
                  "one paid create per prompt": r["paid_creates"] == r["distinct_prompts"] == r["prompts_used"],
                  "no lease left": r["leases_left"] == 0}
        failures += [f"{r['backend']}: {name}" for name, ok in checks.items() if not ok]
    print(f"\n{'0 duplicates, every target met' if not failures else 'FAILED: ' + '; '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
