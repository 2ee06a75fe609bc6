"""Engine benchmarks: per-node overhead, parallel provider nodes, and the cost of a tweak. Prints a table."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession


def cheap_graph(n: int) -> GraphDocument:
    """n cheap text nodes in 10 layers: roots, then prompt.combine of the layer above and a root."""
    width = n // 10
    nodes = [NodeSpec(f"t{i}", "prompt.text", {"text": f"word{i}"}) for i in range(width)]
    edges: list[EdgeSpec] = []
    for layer in range(1, 10):
        for i in range(width):
            node_id = f"c{layer}_{i}"
            above = f"t{i}" if layer == 1 else f"c{layer - 1}_{i}"
            nodes.append(NodeSpec(node_id, "prompt.combine", {"separator": " "}))
            root = f"t{(i * 7 + layer) % width}"
            edges += [EdgeSpec(above, "text", node_id, "a"), EdgeSpec(root, "text", node_id, "b")]
    return GraphDocument(name="cheap", nodes=nodes, edges=edges)


def parallel_graph(count: int, latency_ms: int) -> GraphDocument:
    nodes = [NodeSpec("p", "prompt.text", {"text": "a teal ocean wave"})]
    edges = []
    for i in range(count):
        nodes.append(NodeSpec(f"g{i}", "provider.local",
                              {"seed": i, "width": 96, "height": 96, "latency_ms": latency_ms}))
        edges.append(EdgeSpec("p", "text", f"g{i}", "prompt"))
    return GraphDocument(name="parallel", nodes=nodes, edges=edges)


def fifty_graph() -> GraphDocument:
    nodes = [NodeSpec("p", "prompt.text", {"text": "a purple galaxy over mountains"})]
    edges = []
    chain = [("transform.resize", {"width": 192, "height": 192}), ("transform.adjust", {"contrast": 1.1}),
             ("transform.blur", {"radius": 1.0}), ("transform.sharpen", {}), ("transform.rotate", {"degrees": 5}),
             ("transform.watermark", {"text": "AF"})]
    for b in range(7):
        gen = f"g{b}"
        nodes.append(NodeSpec(gen, "provider.local", {"seed": b, "width": 256, "height": 256}))
        edges.append(EdgeSpec("p", "text", gen, "prompt"))
        previous = gen
        for k, (node_type, params) in enumerate(chain):
            node_id = f"b{b}_{k}"
            nodes.append(NodeSpec(node_id, node_type, dict(params)))
            edges.append(EdgeSpec(previous, "image", node_id, "image"))
            previous = node_id
    return GraphDocument(name="fifty", nodes=nodes, edges=edges)


def run(session: HeadlessSession, doc: GraphDocument, **plan_kwargs) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    plan = session.plan(doc, **plan_kwargs)
    order_id, status = session.run(plan, project_id=session.library.project_id())
    wall = time.perf_counter() - started
    counts: dict[str, int] = {}
    for item in session.executor.store.items(order_id).values():
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    if status != "succeeded":
        raise SystemExit(f"benchmark order ended {status}: {counts}")
    return wall, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    table = Table(title="Art Factory engine benchmark")
    for column in ("case", "measure", "value", "target"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        library = Library.open(Path(tmp) / "a")
        session = HeadlessSession(library)
        doc = cheap_graph(args.nodes)
        cold, counts = run(session, doc)
        warm, warm_counts = run(session, doc)
        n = len(doc.nodes)
        table.add_row(f"(a) {n} cheap nodes", "cold, per node", f"{cold / n * 1000:.2f} ms", "≤ 2 ms")
        table.add_row("", "cold, total", f"{cold:.2f} s ({counts.get('executed', 0)} executed)", "")
        table.add_row("", "fully cached, per node", f"{warm / n * 1000:.2f} ms", "≤ 0.5 ms")
        table.add_row("", "fully cached, total", f"{warm:.3f} s ({warm_counts.get('cached', 0)} cached)", "")
        library.close()

        latency = 500
        library = Library.open(Path(tmp) / "b")
        parallel = HeadlessSession(library, limits={"local": 8})
        run(parallel, parallel_graph(1, 10))  # warm-up: first-use imports and caches are not what we measure
        wall8, _ = run(parallel, parallel_graph(16, latency))
        ideal = 2 * latency / 1000
        serial_lib = Library.open(Path(tmp) / "c")
        serial = HeadlessSession(serial_lib, limits={"local": 1})
        wall1, _ = run(serial, parallel_graph(16, latency))
        table.add_row("(b) 16 × provider.local 500 ms, concurrency 8", "wall ÷ ideal",
                      f"{wall8 / ideal:.3f} ({wall8:.2f} s vs {ideal:.2f} s)", "≤ 1.15")
        table.add_row("", "speed-up over one after another", f"{wall1 / wall8:.2f}× ({wall1:.2f} s serial)", "")
        library.close()
        serial_lib.close()

        library = Library.open(Path(tmp) / "d")
        session = HeadlessSession(library)
        doc = fifty_graph()
        cold, cold_counts = run(session, doc)
        tweaked = doc.copy()
        tweaked.node("b3_5").params["text"] = "AF tweaked"  # type: ignore[union-attr]
        warm, warm_counts = run(session, tweaked)
        executed = f"{warm_counts.get('executed', 0)} of {len(doc.nodes)} (cold: {cold_counts.get('executed', 0)})"
        table.add_row(f"(c) tweak one param in a {len(doc.nodes)}-node graph", "nodes executed", executed, "")
        faster = f"{warm * 1000:.0f} ms vs cold {cold * 1000:.0f} ms ({cold / warm:.1f}× faster)"
        table.add_row("", "wall time", faster, "")
        library.close()
    Console().print(table)


if __name__ == "__main__":
    main()
