"""Never twice, measured with real `artfactory run` processes on one library and the fake Replicate server:
concurrent runs share in-flight work, a crashed run's job is taken over, a recorded job is re-attached."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import RowMapping

from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.cli import run_cli, spawn_cli
from tests.support.library_db import library_execute, library_rows

SLOW_S = 60.0  # a job that outlives the test unless the test lets it finish
# These run on SQLite and PostgreSQL (processes on one library either way); the three local runs, the slowest, on
# SQLite only: on PostgreSQL the same leases are proven by the Replicate runs, which also count the paid creates.
both_databases = pytest.mark.usefixtures("db_backend")


@pytest.fixture
def replicate() -> Iterator[FakeReplicate]:
    server = FakeReplicate().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fast_settings(library_home: Path) -> None:
    """Short polls, no politeness throttle, and a short lease TTL, where every CLI process reads them."""
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.05, "requests_per_second": 1000.0, "request_timeout_s": 10.0, "lease_ttl_s": 1.0}))


def _env(server: FakeReplicate) -> dict[str, str]:
    return {"ARTFACTORY_REPLICATE_BASE_URL": server.url, "REPLICATE_API_TOKEN": server.token}


@pytest.fixture
def in_process(replicate: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    for name, value in _env(replicate).items():
        monkeypatch.setenv(name, value)
    return replicate


def _write(tmp_path: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str, str, str]]) -> Path:
    path = tmp_path / "g.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "never twice", "meta": {}, "nodes": nodes,
        "edges": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in edges],
    }))
    return path


def _replicate_graph(tmp_path: Path, prompt: str = "a red fox, poster") -> Path:
    return _write(tmp_path, [
        {"id": "p", "type": "prompt.text", "params": {"text": prompt}},
        {"id": "gen", "type": "provider.replicate", "params": {"model": "acme/painter", "input": {"num_outputs": 1}}},
        {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}},
    ], [("p", "text", "gen", "prompt"), ("gen", "media", "small", "image")])


def _rows(home: Path, sql: str) -> list[RowMapping]:
    return library_rows(home, sql)


def _poll(what: str, check: Callable[[], Any], proc: subprocess.Popen[str], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the CLI exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _together(home: Path, count: int, *args: str | Path, **env: str) -> list[dict[str, Any]]:
    """Start `count` identical CLI runs at once and return their JSON answers (each must exit 0)."""
    procs = [spawn_cli(home, *args, **env) for _ in range(count)]
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        answers.append(json.loads(out))
    return answers


def _prepare_library(capsys: pytest.CaptureFixture[str]) -> None:
    """Create the library before the concurrent runs, as it would exist for a user who runs things at once."""
    assert run_cli(capsys, "orders", "list", "--json").code == 0


# --- (a) three runs of one Replicate graph at once: one paid prediction ---------------------------------------


@both_databases
def test_three_concurrent_runs_of_a_replicate_graph_pay_once(tmp_path: Path, library_home: Path,
                                                             replicate: FakeReplicate,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _prepare_library(capsys)
    replicate.run_s = 3.0  # long enough for all three processes to meet the running prediction
    answers = _together(library_home, 3, "run", _replicate_graph(tmp_path), "--json", **_env(replicate))
    assert replicate.accepted_creates == 1 and len(replicate.create_requests()) == 1
    assert [a["status"] for a in answers] == ["succeeded"] * 3
    gen = {a["order_id"]: a["nodes"]["gen"] for a in answers}
    assert sorted(n["status"] for n in gen.values()) == ["cached", "cached", "executed"]
    [owner] = [order for order, node in gen.items() if node["status"] == "executed"]
    for order, node in gen.items():
        if order != owner:
            assert node["shared_with"] == owner
            assert node["products"] == gen[owner]["products"]
    assert "shared_with" not in gen[owner]
    assert _rows(library_home, "select * from leases") == []


# --- (b) three runs of a provider.local graph at once: each piece of work executes once --------------------------


def test_three_concurrent_local_runs_execute_each_cache_key_once(tmp_path: Path, library_home: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _prepare_library(capsys)
    local = {"width": 64, "height": 64, "latency_ms": 2500}  # long enough for the three processes to meet
    graph = _write(tmp_path, [
        {"id": "p", "type": "prompt.text", "params": {"text": "a quiet lake"}},
        {"id": "g1", "type": "provider.local", "params": {**local, "seed": 1}},
        {"id": "g2", "type": "provider.local", "params": {**local, "seed": 2}},
        {"id": "r1", "type": "transform.resize", "params": {"width": 32, "height": 32}},
        {"id": "b2", "type": "transform.blur"},
        {"id": "g3", "type": "provider.local", "params": {**local, "seed": 3}},
    ], [("p", "text", "g1", "prompt"), ("p", "text", "g2", "prompt"), ("p", "text", "g3", "prompt"),
        ("g1", "image", "r1", "image"), ("g2", "image", "b2", "image")])
    answers = _together(library_home, 3, "run", graph, "--json")
    assert [a["status"] for a in answers] == ["succeeded"] * 3
    keys = {r["cache_key"] for r in _rows(library_home, "select cache_key from order_items")}
    executed = Counter(r["node_id"] for r in _rows(library_home,
                                                   "select node_id from order_items where status='executed'"))
    assert sum(executed.values()) == len(keys) == 6  # before: one execution per node per run (18)
    assert set(executed.values()) == {1}
    shared = [n for a in answers for n in a["nodes"].values() if n.get("shared_with")]
    assert shared and all(n["status"] == "cached" for n in shared)


# --- (c) a crashed owner: the next run takes over and re-attaches its prediction ------------------------------


@both_databases
def test_a_run_killed_mid_prediction_is_taken_over_without_a_second_create(
        tmp_path: Path, library_home: Path, in_process: FakeReplicate, capsys: pytest.CaptureFixture[str]) -> None:
    replicate = in_process
    replicate.run_s = SLOW_S
    graph = _replicate_graph(tmp_path)
    proc = spawn_cli(library_home, "run", graph, "--json", **_env(replicate))

    def recorded() -> str | None:
        rows = _rows(library_home, "select remote_job_id from order_items where node_id='gen'")
        return rows[0]["remote_job_id"] if rows and rows[0]["remote_job_id"] else None

    job_id = _poll("the prediction id in the database", recorded, proc)
    assert [r["owner"] for r in _rows(library_home, "select owner from leases")]  # the crashed run held the key
    proc.kill()  # kill -9: no cleanup at all
    proc.communicate(timeout=10)
    replicate.run_s = 0.0  # the prediction the dead run left behind finishes meanwhile

    started = time.monotonic()
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["status"] == "succeeded" and data["nodes"]["gen"]["status"] == "executed"
    assert replicate.accepted_creates == 1 and len(replicate.create_requests()) == 1  # re-attached, not created
    assert time.monotonic() - started < 15
    [gen] = [p for p in data["products"] if p["node_id"] == "gen"]
    shown = run_cli(capsys, "products", "show", gen["id"], "--json").json
    assert shown["metadata"]["prediction_id"] == job_id
    items = _rows(library_home, "select o.status, i.remote_job_id from order_items i join orders o "
                                "on o.id = i.order_id where i.node_id='gen' order by o.created_at")
    assert [(r["status"], r["remote_job_id"]) for r in items] == [("interrupted", job_id), ("succeeded", job_id)]
    assert _rows(library_home, "select * from leases") == []


# --- (d) a recorded prediction is re-attached by the next run, unless it ended -----------------------------------


def _fail_downloads(server: FakeReplicate, failing: bool) -> None:
    """Output URLs answer 404 (the CDN lost them for a while) or serve the file again."""
    server.file_mode = "missing" if failing else "png"
    with server.lock:
        for served in server.files.values():
            served.mode = server.file_mode


@both_databases
def test_a_failed_node_s_prediction_is_re_attached_by_the_next_run(tmp_path: Path, in_process: FakeReplicate,
                                                                   library_home: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    replicate = in_process
    graph = _replicate_graph(tmp_path)
    _fail_downloads(replicate, True)
    first = run_cli(capsys, "run", graph, "--json")
    assert first.code == 1 and first.json["nodes"]["gen"]["status"] == "failed"
    [job_id] = list(replicate.predictions)
    assert replicate.accepted_creates == 1

    _fail_downloads(replicate, False)
    again = run_cli(capsys, "run", graph, "--json")
    assert again.code == 0, again.err
    assert again.json["nodes"]["gen"]["status"] == "executed"
    assert replicate.accepted_creates == 1 and len(replicate.create_requests()) == 1  # re-attached
    [gen] = [p for p in again.json["products"] if p["node_id"] == "gen"]
    assert run_cli(capsys, "products", "show", gen["id"], "--json").json["metadata"]["prediction_id"] == job_id


@both_databases
def test_a_prediction_recorded_as_ended_is_not_re_attached(tmp_path: Path, in_process: FakeReplicate,
                                                           library_home: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    replicate = in_process
    graph = _replicate_graph(tmp_path, prompt="a grey owl")
    _fail_downloads(replicate, True)
    first = run_cli(capsys, "run", graph, "--json")
    assert first.code == 1 and replicate.accepted_creates == 1
    # The provider code records a job it learned is over for good (here: the provider said it failed).
    [row] = _rows(library_home, "select id, remote_state from order_items where node_id='gen'")
    state = row["remote_state"] if isinstance(row["remote_state"], dict) else json.loads(row["remote_state"])
    for job in state["jobs"].values():
        job["ended"] = "failed"
    library_execute(library_home, "update order_items set remote_state=:state where id=:id",
                    state=json.dumps(state), id=row["id"])

    _fail_downloads(replicate, False)
    again = run_cli(capsys, "run", graph, "--json")
    assert again.code == 0, again.err
    assert again.json["nodes"]["gen"]["status"] == "executed"
    assert replicate.accepted_creates == 2  # a new prediction: the ended one is never polled again
