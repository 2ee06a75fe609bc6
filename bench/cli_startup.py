"""CLI start-up benchmark: median wall time of short commands as subprocesses, next to `python -c pass`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Three nodes that all run locally; after one run every node is a cache hit.
CACHED_GRAPH = {
    "format": "artfactory.graph", "version": 1, "name": "Bench: cached run",
    "nodes": [
        {"id": "prompt", "type": "prompt.text", "params": {"text": "a red fox under a golden sunset, poster"}},
        {"id": "gen", "type": "provider.local", "params": {"seed": 7, "width": 256, "height": 256, "style": "poster"}},
        {"id": "small", "type": "transform.resize", "params": {"width": 128, "height": 128, "mode": "fit"}},
    ],
    "edges": [
        {"from": ["prompt", "text"], "to": ["gen", "prompt"]},
        {"from": ["gen", "image"], "to": ["small", "image"]},
    ],
}


def environment(home: Path, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # Bytecode cached as in an installed app, kept out of the source tree.
    env.update({"ARTFACTORY_HOME": str(home), "PYTHONPYCACHEPREFIX": str(pycache), "QT_QPA_PLATFORM": "offscreen",
                "XDG_DATA_HOME": str(home / "xdg"), "PYTHONPATH": str(ROOT)})
    return env


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


def check_all_cached(cli: list[str], graph: Path, env: dict[str, str]) -> None:
    done = subprocess.run([*cli, "run", str(graph), "--json"], env=env, cwd=ROOT, capture_output=True, text=True)
    statuses = {node: info["status"] for node, info in json.loads(done.stdout)["nodes"].items()}
    if set(statuses.values()) != {"cached"}:
        raise SystemExit(f"the benchmark graph did not come from the cache: {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (after one warm-up)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="artfactory-cli-bench-"))
    try:
        env = environment(work / "home", work / "pycache")
        graph = work / "cached.json"
        graph.write_text(json.dumps(CACHED_GRAPH), encoding="utf-8")
        cli = [sys.executable, "-m", "artfactory"]
        cases: list[tuple[str, list[str], float | None]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("artfactory --version", [*cli, "--version"], 0.3),
            ("artfactory nodes", [*cli, "nodes"], 0.3),
            ("artfactory nodes --json", [*cli, "nodes", "--json"], 0.3),
            ("artfactory validate fox-posters.json", [*cli, "validate", "graphs/fox-posters.json"], None),
            ("artfactory run, 3 nodes all cached", [*cli, "run", str(graph)], 0.8),
        ]
        wall([*cli, "run", str(graph), "--json"], env)  # fills the cache (and the bytecode cache)
        check_all_cached(cli, graph, env)
        rows = []
        for name, command, target in cases:
            wall(command, env)  # warm-up: bytecode and the OS file cache
            times = [wall(command, env) for _ in range(args.runs)]
            rows.append((name, statistics.median(times), min(times), target))
        show(rows, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def show(rows: list[tuple[str, float, float, float | None]], runs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"CLI start-up, wall time, median of {runs} runs ({sys.platform}, Python "
                        f"{sys.version_info.major}.{sys.version_info.minor})")
    for column in ("command", "median s", "min s", "target s", ""):
        table.add_column(column, justify="left" if column == "command" else "right", no_wrap=column == "command")
    for name, median, fastest, target in rows:
        verdict = "" if target is None else ("[green]ok[/]" if median <= target else "[red]over[/]")
        table.add_row(name, f"{median:.3f}", f"{fastest:.3f}", "—" if target is None else f"≤ {target:.1f}", verdict)
    Console().print(table)


if __name__ == "__main__":
    main()
