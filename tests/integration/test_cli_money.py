"""Money on the CLI: `prices`, `plan` (sends nothing), the budget guard of run, rerun and resume (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.cli import CliResult, run_cli

PRICE = 0.004  # USD per output of the fake's acme/painter, set by the user in these tests


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, library_home: Path) -> Iterator[FakeReplicate]:
    server = FakeReplicate().start()
    monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.02, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))
    try:
        yield server
    finally:
        server.stop()


def _graph(tmp_path: Path, lines: int = 4, model: str = "acme/painter") -> Path:
    path = tmp_path / "money.json"
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "money",
        "nodes": [{"id": "p", "type": "prompt.lines",
                   "params": {"text": "\n".join(f"a fox number {i}" for i in range(lines))}},
                  {"id": "gen", "type": "provider.replicate",
                   "params": {"model": model, "input": {"num_outputs": 1}, "seed": 5}},
                  {"id": "small", "type": "transform.resize", "params": {"width": 16, "height": 16}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "media"], "to": ["small", "image"]}],
    }))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    return run_cli(capsys, *args)


def _set_price(capsys: pytest.CaptureFixture[str], usd: float = PRICE) -> None:
    done = _cli(capsys, "prices", "set", "replicate", "acme/painter", str(usd), "--unit", "output", "--json")
    assert done.code == 0, done.err


def _orders(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    done = _cli(capsys, "orders", "list", "--json")
    assert done.code == 0, done.err
    return list(done.json["orders"])


# --- prices ----------------------------------------------------------------------------------------------


def test_prices_set_list_delete(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = _cli(capsys, "prices", "list", "--json")
    assert shipped.code == 0, shipped.err
    assert all({"provider", "model", "unit", "usd", "source"} <= set(p) for p in shipped.json["prices"])
    flux = [p for p in shipped.json["prices"] if (p["provider"], p["model"]) == ("replicate",
                                                                               "black-forest-labs/flux-schnell")]
    assert flux and flux[0]["source"] == "shipped"

    done = _cli(capsys, "prices", "set", "replicate", "black-forest-labs/flux-schnell", "0.0025", "--unit", "output",
                "--json")
    assert done.code == 0, done.err
    assert done.json["price"]["source"] == "user"
    listed = _cli(capsys, "prices", "list", "replicate", "--json").json["prices"]
    mine = [p for p in listed if p["model"] == "black-forest-labs/flux-schnell"]
    assert [(p["usd"], p["source"]) for p in mine] == [(0.0025, "user")]  # the overridden one only with --all
    everything = _cli(capsys, "prices", "list", "--all", "--json").json["prices"]
    both = [(p["source"], p.get("overridden_by")) for p in everything
            if p["model"] == "black-forest-labs/flux-schnell"]
    assert both == [("user", None), ("shipped", "user")]

    gone = _cli(capsys, "prices", "delete", "replicate", "black-forest-labs/flux-schnell", "--json")
    assert gone.code == 0, gone.err
    assert gone.json["price"]["source"] == "shipped"
    again = _cli(capsys, "prices", "delete", "replicate", "black-forest-labs/flux-schnell")
    assert again.code == 2 and "you set no price" in again.err


@pytest.mark.parametrize("args, says", [
    (("replicate", "m/x", "-1", "--unit", "output"), "at least 0"),
    (("replicate", "m/x", "nan", "--unit", "output"), "finite"),
    (("replicate", "m/x", "0.1", "--unit", "frame"), "invalid choice"),
    (("replicate", "m/x", "0.1"), "--unit"),
    (("nobody", "m/x", "0.1", "--unit", "output"), "unknown provider 'nobody'"),
])
def test_a_bad_price_is_a_one_line_bad_input(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                             says: str) -> None:
    done = _cli(capsys, "prices", "set", *args)
    assert done.code == 2 and says in done.err and "Traceback" not in done.err
    assert len(done.err.strip().splitlines()) == 1


# --- plan -----------------------------------------------------------------------------------------------


def test_plan_estimates_each_job_and_sends_nothing(fake: FakeReplicate, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    done = _cli(capsys, "plan", _graph(tmp_path), "--json")
    assert done.code == 0, done.err
    data = done.json
    assert set(data) >= {"nodes", "estimated_usd", "unpriced"}
    assert {n: (v["action"], v["paid"]) for n, v in data["nodes"].items()} == {
        "p": ("execute", False), "gen": ("execute", True), "small": ("execute", False)}
    assert data["nodes"]["gen"]["jobs"] == 4
    assert data["nodes"]["gen"]["estimated_usd"] == pytest.approx(4 * PRICE)
    assert data["estimated_usd"] == pytest.approx(4 * PRICE) and data["unpriced"] == []
    assert fake.requests == [] and fake.accepted_creates == 0  # not even a schema or model lookup
    assert _orders(capsys) == []
    human = _cli(capsys, "plan", _graph(tmp_path))
    assert human.code == 0 and "estimated total: ≈ $0.016" in human.out


def test_plan_after_a_run_says_cached_and_free(fake: FakeReplicate, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    graph = _graph(tmp_path, lines=2)
    ran = _cli(capsys, "run", graph, "--max-usd", "1", "--json")
    assert ran.code == 0, ran.err
    assert fake.accepted_creates == 2
    before = len(fake.requests)
    data = _cli(capsys, "plan", graph, "--json").json
    assert {n: v["action"] for n, v in data["nodes"].items()} == {"p": "cached", "gen": "cached", "small": "cached"}
    assert data["estimated_usd"] == 0 and data["nodes"]["gen"]["estimated_usd"] == 0
    assert len(fake.requests) == before
    # A new prompt line: two cached jobs stay free, the whole node runs again (2 → 3 items) and is estimated.
    changed = _cli(capsys, "plan", _graph(tmp_path, lines=3), "--json").json
    assert changed["nodes"]["gen"]["action"] == "execute"
    assert changed["estimated_usd"] == pytest.approx(3 * PRICE)


def test_plan_lists_an_unpriced_paid_node(fake: FakeReplicate, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli(capsys, "plan", _graph(tmp_path), "--json").json
    assert data["unpriced"] == ["gen"] and data["nodes"]["gen"]["estimated_usd"] is None
    assert data["estimated_usd"] == 0


# --- the budget guard --------------------------------------------------------------------------------------


def test_over_max_usd_sends_nothing_and_exits_2(fake: FakeReplicate, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    done = _cli(capsys, "run", _graph(tmp_path), "--max-usd", "0.01", "--json")
    assert done.code == 2
    assert done.json["code"] == "over_budget"
    assert done.json["estimated_usd"] == pytest.approx(0.016) and done.json["max_usd"] == 0.01
    assert "over_budget" in done.err and "$0.016" in done.err and "nothing was sent" in done.err
    assert len(done.err.strip().splitlines()) == 1
    assert fake.accepted_creates == 0 and fake.requests == []
    assert _orders(capsys) == []
    within = _cli(capsys, "run", _graph(tmp_path), "--max-usd", "0.016", "--json")
    assert within.code == 0, within.err
    assert fake.accepted_creates == 4


def test_an_unpriced_paid_node_needs_allow_unpriced_under_a_limit(fake: FakeReplicate, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    graph = _graph(tmp_path, lines=1)
    refused = _cli(capsys, "run", graph, "--max-usd", "5", "--json")
    assert refused.code == 2 and refused.json["code"] == "over_budget" and refused.json["unpriced"] == ["gen"]
    assert "gen" in refused.err and "--allow-unpriced" in refused.err
    assert fake.accepted_creates == 0
    allowed = _cli(capsys, "run", graph, "--max-usd", "5", "--allow-unpriced", "--json")
    assert allowed.code == 0, allowed.err
    assert fake.accepted_creates == 1


def test_rerun_is_guarded_too(fake: FakeReplicate, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    first = _cli(capsys, "run", _graph(tmp_path, lines=1), "--json")
    assert first.code == 0, first.err
    creates = fake.accepted_creates
    refused = _cli(capsys, "rerun", first.json["order_id"], "--set", "gen.seed=6", "--max-usd", "0.001", "--json")
    assert refused.code == 2 and refused.json["code"] == "over_budget"
    assert fake.accepted_creates == creates and len(_orders(capsys)) == 1
    # Nothing changed: everything comes from the cache, which costs nothing, so even $0 is enough.
    same = _cli(capsys, "rerun", first.json["order_id"], "--max-usd", "0", "--json")
    assert same.code == 0, same.err
    assert fake.accepted_creates == creates


def test_the_monthly_budget_guards_run(fake: FakeReplicate, tmp_path: Path, library_home: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    settings = json.loads((library_home / "settings.json").read_text())
    (library_home / "settings.json").write_text(json.dumps({**settings, "budget_monthly_usd": 0.01}))
    refused = _cli(capsys, "run", _graph(tmp_path), "--json")
    assert refused.code == 2 and refused.json["code"] == "over_budget"
    assert "monthly budget of $0.01" in refused.err and refused.json["budget_monthly_usd"] == 0.01
    assert fake.accepted_creates == 0 and fake.requests == []
    # Within the month's budget it runs.
    allowed = _cli(capsys, "run", _graph(tmp_path, lines=2), "--json")
    assert allowed.code == 0, allowed.err
    assert fake.accepted_creates == 2


@pytest.mark.parametrize("bad", ["-1", "abc", "inf"])
def test_a_bad_max_usd_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    done = _cli(capsys, "run", _graph(tmp_path), "--max-usd", bad)
    assert done.code == 2 and "--max-usd" in done.err


def test_budget_settings_are_checked(library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (library_home / "settings.json").write_text(json.dumps({"budget_monthly_usd": -5}))
    done = _cli(capsys, "prices", "list")
    assert done.code == 2 and "budget_monthly_usd" in done.err and "at least 0" in done.err


# --- provider-published prices ---------------------------------------------------------------------------


@pytest.fixture
def fal(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFal]:
    server = FakeFal().start()
    monkeypatch.setenv("ARTFACTORY_FAL_API_URL", server.url)
    monkeypatch.setenv("ARTFACTORY_FAL_QUEUE_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


def test_prices_refresh_reads_fals_pricing_endpoint(fal: FakeFal, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    missing = _cli(capsys, "prices", "refresh", "fal", "--json")
    assert missing.code == 0 and missing.json["prices"] == [] and "no API key" in missing.err
    assert fal.requests == []
    monkeypatch.setenv("FAL_KEY", fal.key)
    fal.prices["fal-ai/flux/dev"] = (0.02, "megapixels", "USD")  # fal lowered the price after the book shipped
    done = _cli(capsys, "prices", "refresh", "fal", "--json")
    assert done.code == 0, done.err
    got = {p["model"]: (p["usd"], p["unit"], p["source"]) for p in done.json["prices"]}
    assert got["fal-ai/flux/dev"] == (0.02, "megapixel", "provider")
    assert got["fal-ai/flux-pro/kontext"] == (0.04, "output", "provider")
    assert "fal-ai/some-eu-model" not in got  # not in USD: never mixed into dollar sums
    assert fal.accepted_submits == 0  # reading prices costs nothing
    listed = _cli(capsys, "prices", "list", "fal", "--json").json["prices"]
    dev = next(p for p in listed if p["model"] == "fal-ai/flux/dev")
    assert (dev["usd"], dev["source"]) == (0.02, "provider")
    # The user's own price still wins over the published one.
    _cli(capsys, "prices", "set", "fal", "fal-ai/flux/dev", "0.01", "--unit", "megapixel")
    listed = _cli(capsys, "prices", "list", "fal", "--json").json["prices"]
    assert next(p for p in listed if p["model"] == "fal-ai/flux/dev")["source"] == "user"


def test_refresh_of_a_provider_without_published_prices_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    done = _cli(capsys, "prices", "refresh", "replicate", "--json")
    assert done.code == 0 and done.json["prices"] == []
    assert "publishes no prices" in done.err


def _interrupted_order(library_home: Path, graph: Path) -> str:
    """An order a crashed process left behind (nothing of it ran), as `resume` finds it."""
    from sqlalchemy import update

    from artfactory.engine import document
    from artfactory.engine.plan import build_plan
    from artfactory.models import Order
    from artfactory.services.library import Library
    from artfactory.services.orders import OrderStore

    library = Library.open(library_home)
    try:
        plan = build_plan(document.load(graph), library.registry, home=library.home)
        order_id = OrderStore(library).create_order(plan, project_id=library.project_id())
        with library.db.engine.begin() as conn:
            conn.execute(update(Order).where(Order.id == order_id).values(status="interrupted"))
    finally:
        library.close()
    return order_id


def test_resume_is_guarded_too(fake: FakeReplicate, tmp_path: Path, library_home: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _set_price(capsys)
    order_id = _interrupted_order(library_home, _graph(tmp_path, lines=2))
    refused = _cli(capsys, "resume", "--max-usd", "0.005", "--json")
    assert refused.code == 2 and refused.json["code"] == "over_budget", refused.err
    assert refused.json["estimated_usd"] == pytest.approx(2 * PRICE)
    assert fake.requests == []
    assert [o["status"] for o in _orders(capsys)] == ["interrupted"]
    done = _cli(capsys, "resume", order_id, "--max-usd", "0.008", "--json")
    assert done.code == 0, done.err
    assert done.json[0]["status"] == "succeeded" and fake.accepted_creates == 2


def test_a_run_records_what_each_paid_node_cost(fake: FakeReplicate, tmp_path: Path, library_home: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    _set_price(capsys)
    fake.run_s = 0.05  # the fake reports it as metrics.predict_time: the quantities are the provider's own
    ran = _cli(capsys, "run", _graph(tmp_path, lines=3), "--json")
    assert ran.code == 0, ran.err
    conn = sqlite3.connect(library_home / "library.sqlite3")
    try:
        rows = {node: (usd, source, json.loads(detail) if detail else None) for node, usd, source, detail in
                conn.execute("select node_id, cost_usd, cost_source, cost_detail from order_items")}
    finally:
        conn.close()
    usd, source, detail = rows["gen"]
    assert usd == pytest.approx(3 * PRICE) and source == "provider"
    assert (detail["provider"], detail["model"], detail["unit"], detail["price_source"]) == (
        "replicate", "acme/painter", "output", "user")
    assert len(detail["jobs"]) == 3
    assert rows["p"][0] is None and rows["small"][0] is None  # free nodes record no cost


def test_plan_and_prices_list_work_on_a_read_only_library_and_write_nothing(
        library_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import hashlib

    from artfactory.services import library as library_module
    from tests.support.cli import GRAPHS

    ran = _cli(capsys, "run", GRAPHS / "fox-posters.json", "--json")
    assert ran.code == 0, ran.err
    gc.collect()
    library_module.Library.open(library_home).close()  # the WAL checkpointed before the snapshot below

    def contents() -> dict[str, str]:
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(library_home.rglob("*"))
                if p.is_file() and not p.name.endswith("-shm") and not (p.name.endswith("-wal") and not
                                                                        p.stat().st_size)}

    monkeypatch.setattr(library_module, "library_writable", lambda root: False)
    before = contents()
    planned = _cli(capsys, "plan", GRAPHS / "fox-posters.json", "--json")
    assert planned.code == 0, planned.err
    assert {v["action"] for v in planned.json["nodes"].values()} == {"cached"}
    listed = _cli(capsys, "prices", "list", "--json")
    assert listed.code == 0 and listed.json["prices"], listed.err
    refused = _cli(capsys, "prices", "set", "replicate", "a/b", "0.1", "--unit", "output")
    assert refused.code == 1 and "read-only" in refused.err
    assert contents() == before
