"""The issue's measured never-twice cases end to end: the in-process CLI against the fake servers, counting creates."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.fake_server import MALFORMED
from tests.support.cli import run_cli

Fake = FakeReplicate | FakeFal


@pytest.fixture(autouse=True)
def fast_settings(library_home: Path) -> None:
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.02, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))


@pytest.fixture(params=["replicate", "fal"])
def fake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    server: Fake = (FakeReplicate() if request.param == "replicate" else FakeFal()).start()
    monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
    monkeypatch.setenv("ARTFACTORY_FAL_QUEUE_URL", server.url)
    monkeypatch.setenv("ARTFACTORY_FAL_REST_URL", server.url)
    if isinstance(server, FakeReplicate):
        monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
    else:
        monkeypatch.setenv("FAL_KEY", server.key)
    try:
        yield server
    finally:
        server.stop()


def creates(fake: Fake) -> int:
    return fake.accepted_creates if isinstance(fake, FakeReplicate) else fake.accepted_submits


def graph(tmp_path: Path, fake: Fake) -> Path:
    if isinstance(fake, FakeReplicate):
        gen = {"id": "gen", "type": "provider.replicate",
               "params": {"model": "acme/painter", "input": {"num_outputs": 1}}}
    else:
        gen = {"id": "gen", "type": "provider.fal", "params": {"endpoint": "fal-ai/flux/dev"}}
    path = tmp_path / "g.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "money", "meta": {},
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a red fox"}}, gen],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]}],
    }))
    return path


def run(capsys: pytest.CaptureFixture[str], path: Path, model: str | None = None) -> dict[str, Any]:
    extra = ["--set", f"gen.model={model}"] if model else []
    result = run_cli(capsys, "run", path, *extra, "--json")
    assert result.code in (0, 1), result.err
    gen: dict[str, Any] = result.json["nodes"]["gen"]
    return gen


def test_malformed_poll_answer_costs_one_create(tmp_path: Path, fake: Fake,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fake.run_s = 0.1
    script = fake.poll_script if isinstance(fake, FakeReplicate) else fake.status_script
    script.answers = [(MALFORMED, {}, None)]
    assert run(capsys, graph(tmp_path, fake))["status"] == "executed"
    assert creates(fake) == 1 and fake.cancels == 0


def test_poll_outage_is_ridden_out_with_one_create(tmp_path: Path, fake: Fake,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The issue measured a ~60 s outage at 1 s polls; here 1 s at 0.02 s polls (the window is 300 polls).
    fake.run_s, fake.poll_outage_s = 0.1, 1.0
    assert run(capsys, graph(tmp_path, fake))["status"] == "executed"
    assert creates(fake) == 1 and fake.cancels == 0


def test_output_404_once_then_the_next_run_reattaches(tmp_path: Path, fake: Fake,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    fake.file_mode, fake.file_fail_times = "missing", 1
    path = graph(tmp_path, fake)
    first = run(capsys, path)
    assert first["status"] == "failed" and "HTTP 404" in first["error"]
    second = run(capsys, path)
    assert second["status"] == "executed", second
    assert creates(fake) == 1


def test_outputs_gone_for_good_expire_once_then_a_new_job(tmp_path: Path, fake: Fake,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake.file_mode = "missing"
    path = graph(tmp_path, fake)
    assert run(capsys, path)["status"] == "failed"
    second = run(capsys, path)  # re-attached: the same outputs are still gone
    assert second["status"] == "failed"
    assert "are no longer available (HTTP 404); the next run creates a new one" in second["error"]
    assert creates(fake) == 1
    fake.file_mode = "png"
    assert run(capsys, path)["status"] == "executed"
    assert creates(fake) == 2


def test_a_job_the_provider_failed_is_not_reattached(tmp_path: Path, fake: Fake,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    if isinstance(fake, FakeReplicate):
        fake.outcome = "failed"
    else:
        fake.outcome = "error"
    path = graph(tmp_path, fake)
    assert run(capsys, path)["status"] == "failed"
    fake.outcome = "succeeded" if isinstance(fake, FakeReplicate) else "ok"
    assert run(capsys, path)["status"] == "executed"
    assert creates(fake) == 2  # the failed job was an answer: the next run asks again, once


def _ledger(home: Path, node_id: str) -> list[tuple[str, float | None, str | None]]:
    conn = sqlite3.connect(home / "library.sqlite3")
    try:
        rows = conn.execute("select status, cost_usd, cost_source from order_items where node_id=? order by rowid",
                            (node_id,)).fetchall()
    finally:
        conn.close()
    return [(str(s), c, src) for s, c, src in rows]


def test_the_ledger_prices_what_the_provider_reported(tmp_path: Path, library_home: Path, fake: Fake,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = graph(tmp_path, fake)
    if isinstance(fake, FakeReplicate):
        # An official model billed per output, then a failed prediction of a model billed per second of hardware.
        fake.models["black-forest-labs/flux-schnell"] = "b" * 64
        fake.models["stability-ai/sdxl"] = "c" * 64
        fake.run_s = 0.2
        assert run(capsys, path, "black-forest-labs/flux-schnell")["status"] == "executed"
        fake.outcome = "failed"
        assert run(capsys, path, "stability-ai/sdxl")["status"] == "failed"
        assert _ledger(library_home, "gen") == [("executed", 0.003, "provider"),
                                                ("failed", pytest.approx(0.2 * 0.000975), "provider")]
    else:
        fake.billable_units = 2  # what fal says it billed, whatever we would have counted
        assert run(capsys, path)["status"] == "executed"
        assert _ledger(library_home, "gen") == [("executed", pytest.approx(0.05), "provider")]
