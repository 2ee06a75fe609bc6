"""The price book: precedence, model matching, cost_of, plan estimates, the month and the budget guard."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from artfactory.engine.cost import Usage
from artfactory.engine.document import from_json
from artfactory.engine.nodetypes import NodeType, Param, Port
from artfactory.engine.plan import build_plan
from artfactory.engine.registry import NodeRegistry
from artfactory.models import Order, OrderItem, Project, new_id
from artfactory.providers import pricing, registry
from artfactory.providers.http import ProviderError
from artfactory.providers.registry import NodeSpec, Progress, ProviderSpec, UrlSetting
from artfactory.services import secrets
from artfactory.services.library import Library
from artfactory.services.prices import PriceError, PriceStore, UnitPrice
from nodes.prompt import PROMPT_LINES, PROMPT_TEMPLATE, PROMPT_TEXT

SHIPPED = (
    UnitPrice("toy", "toy/one", "output", 0.01, "shipped", "2025-06-01"),
    UnitPrice("toy", "toy/one:v2", "output", 0.02, "shipped", "2025-06-01"),
    UnitPrice("toy", "toy/slow", "second", 0.001, "shipped", "2025-06-01", typical_seconds=5.0),
    UnitPrice("toy", "toy/mp", "megapixel", 0.03, "shipped", "2025-06-01"),
)
PUBLISHED: list[UnitPrice] = []
PUBLISH_FAILS: list[str] = []


def _published(settings: Any, key: str | None, models: tuple[str, ...]) -> list[UnitPrice]:
    if PUBLISH_FAILS:
        raise ProviderError(PUBLISH_FAILS[0], "unavailable")
    assert key == "toy_key_0123456789abcdef"
    return list(PUBLISHED)


def _estimate(model: str, body: Mapping[str, Any], params: Mapping[str, Any]) -> Usage:
    units: dict[str, float] = {"output": float(body.get("num_outputs", 1))}
    if model == "toy/mp":
        units["megapixel"] = body.get("width", 1024) * body.get("height", 1024) / 1e6 * units["output"]
    if "duration" in body:  # a video endpoint: its input says how long
        units["second"] = float(body["duration"])
    return Usage("toy", model, units)


def _unused(*_args: Any) -> Any:
    raise AssertionError("a price book must never start a job or call the provider's API")


TOY = ProviderSpec(
    id="toy", name="Toy Cloud", key_env="TOY_API_KEY", keychain_user="toy-user", key_pattern=None,
    base_url=UrlSetting("toy_base_url", "ARTFACTORY_TOY_BASE_URL", "http://127.0.0.1:9/toy"),
    default_concurrency=2, concurrency_setting=None, client=_unused,
    progress=lambda status: Progress(None, "", "running"), check_connection=_unused, fetch_schema=None,
    node=NodeSpec(model=Param("model", "string", "toy/one"), image_field="image", doc="toy"),
    prices=SHIPPED, published_prices=_published, estimate=_estimate,
)

TOY_NODE = NodeType(
    type="provider.toy", title="Toy", run=_unused, provider="toy",
    inputs=(Port("prompt", "text", optional=True),), outputs=(Port("media", "media"),),
    params=(Param("model", "string", "toy/one"), Param("input", "object", {}), Param("seed", "int", -1)),
    seed_param="seed",
)


@pytest.fixture
def toy() -> Iterator[ProviderSpec]:
    PUBLISHED.clear()
    PUBLISH_FAILS.clear()
    with registry.registered(TOY) as spec:
        yield spec


@pytest.fixture
def library(tmp_path: Path, toy: ProviderSpec) -> Iterator[Library]:
    nodes = NodeRegistry([PROMPT_TEXT, PROMPT_LINES, PROMPT_TEMPLATE, TOY_NODE])
    lib = Library.open(tmp_path / "lib", registry=nodes)
    try:
        yield lib
    finally:
        lib.close()


def _graph(nodes: list[dict[str, Any]], edges: list[tuple[str, str]] = ()) -> Any:  # type: ignore[assignment]
    return from_json({"format": "artfactory.graph", "version": 1, "name": "t", "nodes": nodes,
                      "edges": [{"from": [a, "text"], "to": [b, "prompt"]} for a, b in edges]})


def _plan(lib: Library, doc: Any) -> Any:
    return build_plan(doc, lib.registry, home=lib.home)


# --- precedence and matching ------------------------------------------------------------------------------


def test_user_beats_provider_beats_shipped_and_deleting_falls_back(library: Library) -> None:
    book = pricing.PriceBook(library)
    assert book.price_for("toy", "toy/one") == SHIPPED[0]
    PriceStore(library).save_published([UnitPrice("toy", "toy/one", "output", 0.008, "provider", "2026-01-02")])
    pricing._changed()
    assert (book.price_for("toy", "toy/one").usd, book.price_for("toy", "toy/one").source) == (0.008, "provider")
    pricing.set_user_price(library, "toy", "toy/one", 0.005, "output", "my deal")
    price = book.price_for("toy", "toy/one")
    assert (price.usd, price.source, price.note) == (0.005, "user", "my deal")
    listed = [p for p in book.prices() if p.model == "toy/one"]
    assert [(p.source, p.overridden_by) for p in listed] == [("user", ""), ("provider", "user"), ("shipped", "user")]
    assert pricing.delete_user_price(library, "toy", "toy/one") is True
    assert book.price_for("toy", "toy/one").source == "provider"
    assert pricing.delete_user_price(library, "toy", "toy/one") is False


def test_a_version_or_variant_suffix_finds_the_models_price(library: Library) -> None:
    book = pricing.PriceBook(library)
    assert book.price_for("toy", "toy/one:0123abcd").usd == 0.01  # Replicate "owner/name:version"
    assert book.price_for("toy", "toy/one:v2").usd == 0.02  # the more specific key wins in its source
    assert book.price_for("toy", "toy/two") is None
    assert book.price_for("other", "toy/one") is None
    assert pricing.model_keys("gpt-image-1:high:1024x1024") == ["gpt-image-1:high:1024x1024", "gpt-image-1:high",
                                                                "gpt-image-1"]


def test_a_users_generic_price_beats_a_shipped_specific_one(library: Library) -> None:
    pricing.set_user_price(library, "toy", "toy/one", 0.1, "request")
    assert pricing.PriceBook(library).price_for("toy", "toy/one:v2").source == "user"


@pytest.mark.parametrize("usd, unit", [(-0.01, "output"), (math.nan, "output"), (math.inf, "output"),
                                       (0.01, "frame"), (True, "output"), (2e6, "output")])
def test_a_bad_price_is_refused(library: Library, usd: float, unit: str) -> None:
    with pytest.raises(PriceError):
        PriceStore(library).set_user_price("toy", "toy/one", usd, unit)
    assert PriceStore(library).rows() == []


@pytest.mark.parametrize("model", ["", "a\x00b", "bad\ud800", "x" * 301])
def test_a_bad_model_name_is_refused(library: Library, model: str) -> None:
    with pytest.raises(PriceError):
        PriceStore(library).set_user_price("toy", model, 0.01, "output")


def test_a_price_for_an_unknown_provider_is_refused(library: Library) -> None:
    with pytest.raises(registry.UnknownProvider):
        pricing.set_user_price(library, "nobody", "m", 1.0, "output")


def test_saving_published_prices_replaces_only_that_providers_published_rows(library: Library) -> None:
    store = PriceStore(library)
    store.set_user_price("toy", "toy/one", 0.5, "output")
    store.save_published([UnitPrice("toy", "toy/one", "output", 0.008, "provider", "2026-01-02"),
                          UnitPrice("toy", "toy/old", "output", 0.1, "provider", "2026-01-02"),
                          UnitPrice("acme", "a/b", "output", 0.1, "provider", "2026-01-02")])
    store.save_published([UnitPrice("toy", "toy/one", "output", 0.007, "provider", "2026-02-03")])
    rows = {(p.provider, p.model, p.source): (p.usd, p.as_of) for p in store.rows()}
    assert rows == {("toy", "toy/one", "user"): (0.5, rows[("toy", "toy/one", "user")][1]),
                    ("toy", "toy/one", "provider"): (0.007, "2026-02-03"),
                    ("acme", "a/b", "provider"): (0.1, "2026-01-02")}


# --- cost_of -------------------------------------------------------------------------------------------


def test_cost_from_reported_metrics_is_a_provider_cost(library: Library) -> None:
    cost = pricing.PriceBook(library).cost_of([Usage("toy", "toy/slow", {"second": 3.5, "output": 1}, True, "j1"),
                                               Usage("toy", "toy/slow", {"second": 4.5, "output": 1}, True, "j2")])
    assert cost is not None
    assert cost.usd == pytest.approx(0.008) and cost.source == "provider"
    detail = cost.detail
    assert (detail["provider"], detail["model"], detail["unit"], detail["unit_usd"], detail["price_source"]) == (
        "toy", "toy/slow", "second", 0.001, "shipped")
    assert detail["units"] == {"second": 8.0, "output": 2.0}
    assert [j["job_id"] for j in detail["jobs"]] == ["j1", "j2"]


def test_counted_units_make_an_estimate(library: Library) -> None:
    cost = pricing.PriceBook(library).cost_of([Usage("toy", "toy/one", {"output": 3}, False, "j1")])
    assert cost is not None and cost.usd == pytest.approx(0.03) and cost.source == "estimate"
    # A per-second model whose job reported no seconds: its typical run time, as an estimate.
    slow = pricing.PriceBook(library).cost_of([Usage("toy", "toy/slow", {"output": 1}, True, "j2")])
    assert slow is not None and slow.usd == pytest.approx(0.005) and slow.source == "estimate"


def test_a_stated_cost_wins_and_counts_as_reported(library: Library) -> None:
    cost = pricing.PriceBook(library).cost_of([Usage("toy", "toy/one", {"output": 1}, True, "j1", cost_usd=0.0123)])
    assert cost is not None and (cost.usd, cost.source) == (0.0123, "provider")


def test_a_job_without_a_price_leaves_the_cost_unknown(library: Library) -> None:
    cost = pricing.PriceBook(library).cost_of([Usage("toy", "toy/one", {"output": 1}, True, "j1"),
                                               Usage("toy", "toy/unknown", {"output": 1}, True, "j2")])
    assert cost is not None and cost.usd is None and cost.source == "estimate"
    assert pricing.PriceBook(library).cost_of([]) is None


# --- plan estimates -----------------------------------------------------------------------------------


def test_four_prompt_lines_make_four_priced_jobs(library: Library) -> None:
    doc = _graph([{"id": "p", "type": "prompt.lines", "params": {"text": "a\nb\n\nc\nd\n"}},
                  {"id": "gen", "type": "provider.toy", "params": {"model": "toy/one", "input": {"num_outputs": 2}}}],
                 [("p", "gen")])
    estimate = pricing.PriceBook(library).estimate_plan(library, _plan(library, doc))
    data = estimate.as_json()
    assert data["nodes"]["p"] == {"action": "execute", "paid": False, "estimated_usd": 0.0}
    gen = data["nodes"]["gen"]
    assert (gen["action"], gen["paid"], gen["jobs"]) == ("execute", True, 4)
    assert gen["estimated_usd"] == pytest.approx(4 * 2 * 0.01)
    assert data["estimated_usd"] == pytest.approx(0.08) and data["unpriced"] == []


def test_a_template_multiplies_and_an_unknown_batch_is_assumed_one_and_said(library: Library) -> None:
    doc = _graph([{"id": "t", "type": "prompt.template", "params": {"template": "a {red|blue|green} {fox|cat}"}},
                  {"id": "gen", "type": "provider.toy", "params": {"model": "toy/one"}},
                  {"id": "w", "type": "prompt.template", "params": {"template": "{2$$a|b|c}"}},
                  {"id": "gen2", "type": "provider.toy", "params": {"model": "toy/one"}}],
                 [("t", "gen"), ("w", "gen2")])
    nodes = pricing.PriceBook(library).estimate_plan(library, _plan(library, doc)).nodes
    assert nodes["gen"].jobs == 6 and nodes["gen"].estimated_usd == pytest.approx(0.06)
    assert nodes["gen2"].jobs == 1 and any("assumed 1" in note for note in nodes["gen2"].notes)


def test_unpriced_and_per_second_and_megapixel_estimates(library: Library) -> None:
    doc = _graph([{"id": "free", "type": "provider.toy", "params": {"model": "toy/nope"}},
                  {"id": "slow", "type": "provider.toy", "params": {"model": "toy/slow"}},
                  {"id": "mp", "type": "provider.toy", "params": {"model": "toy/mp",
                                                                  "input": {"width": 2000, "height": 1000}}}])
    estimate = pricing.PriceBook(library).estimate_plan(library, _plan(library, doc))
    assert estimate.unpriced == ["free"] and estimate.nodes["free"].estimated_usd is None
    assert estimate.nodes["slow"].estimated_usd == pytest.approx(0.005)  # typical 5 s × $0.001
    assert estimate.nodes["mp"].estimated_usd == pytest.approx(0.06)  # 2 MP × $0.03
    assert estimate.estimated_usd == pytest.approx(0.065)


def _ledger_item(library: Library, detail: dict[str, Any], usd: float, finished: datetime) -> None:
    with library.db.session() as db:
        project = db.query(Project).first() or Project(name="Default")
        db.add(project)
        db.flush()
        order = Order(id=new_id(), project_id=project.id, name="t", snapshot="{}", snapshot_sha256="0" * 64,
                      status="succeeded")
        db.add(order)
        db.flush()
        db.add(OrderItem(id=new_id(), order_id=order.id, position=0, node_id="gen", node_type="provider.toy",
                         type_version=1, params={}, request_key="r", cache_key=new_id(), status="executed",
                         finished_at=finished, cost_usd=usd, cost_source="provider", cost_detail=detail))


def _seconds_detail(seconds: float) -> dict[str, Any]:
    return {"provider": "toy", "model": "toy/slow", "unit": "second", "units": {"second": seconds},
            "jobs": [{"job_id": new_id(), "model": "toy/slow", "units": {"second": seconds}, "reported": True}]}


def test_a_per_second_estimate_uses_the_median_of_recorded_runs(library: Library) -> None:
    now = datetime.now()
    for seconds in (2.0, 3.0, 40.0):
        _ledger_item(library, _seconds_detail(seconds), seconds * 0.001, now)
    doc = _graph([{"id": "slow", "type": "provider.toy", "params": {"model": "toy/slow:abc"}}])
    node = pricing.PriceBook(library).estimate_plan(library, _plan(library, doc)).nodes["slow"]
    assert node.estimated_usd == pytest.approx(0.003)
    assert any("median" in note for note in node.notes)


def test_month_spent_counts_this_utc_month_only(library: Library) -> None:
    start = pricing.month_start()
    _ledger_item(library, _seconds_detail(1.0), 1.25, start + timedelta(hours=1))
    _ledger_item(library, _seconds_detail(1.0), 0.5, start + timedelta(days=1))
    _ledger_item(library, _seconds_detail(1.0), 9.0, start - timedelta(seconds=1))
    assert pricing.month_spent(library) == pytest.approx(1.75)


# --- the budget ---------------------------------------------------------------------------------------


def _estimate_of(total: float, unpriced: list[str] = ()) -> pricing.PlanEstimate:  # type: ignore[assignment]
    return pricing.PlanEstimate({}, total, list(unpriced))


def test_budget_problem_cases() -> None:
    assert pricing.budget_problem(_estimate_of(0.5), max_usd=1.0) is None
    over = pricing.budget_problem(_estimate_of(1.5), max_usd=1.0)
    assert over and "$1.50" in over and "--max-usd $1.00" in over and "nothing was sent" in over
    assert pricing.budget_problem(_estimate_of(1.0), max_usd=1.0) is None  # at the limit is within it
    unpriced = pricing.budget_problem(_estimate_of(0.1, ["gen"]), max_usd=1.0)
    assert unpriced and "gen" in unpriced and "--allow-unpriced" in unpriced
    assert pricing.budget_problem(_estimate_of(0.1, ["gen"]), max_usd=1.0, allow_unpriced=True) is None
    assert pricing.budget_problem(_estimate_of(0.1, ["gen"])) is None  # no limit given: nothing to hold
    monthly = pricing.budget_problem(_estimate_of(2.0), monthly_budget=10.0, month_spent=9.0)
    assert monthly and "monthly budget of $10.00" in monthly and "$9.00" in monthly
    assert pricing.budget_problem(_estimate_of(0.9), monthly_budget=10.0, month_spent=9.0) is None


# --- published prices -------------------------------------------------------------------------------


def test_refresh_skips_without_a_key_and_stores_with_one(library: Library) -> None:
    PUBLISHED.append(UnitPrice("toy", "toy/one", "output", 0.009, "provider", "2026-03-04"))
    notes: list[str] = []
    assert pricing.refresh_published(library, ["toy"], notes) == []
    assert "no API key" in notes[0] and PriceStore(library).rows() == []
    secrets.set_key("toy", "toy_key_0123456789abcdef")
    notes.clear()
    saved = pricing.refresh_published(library, ["toy"], notes)
    assert [(p.model, p.usd, p.source) for p in saved] == [("toy/one", 0.009, "provider")]
    assert pricing.PriceBook(library).price_for("toy", "toy/one").usd == 0.009
    PUBLISH_FAILS.append("fal pricing answered 503")
    notes.clear()
    assert pricing.refresh_published(library, ["toy"], notes) == []
    assert "could not read its prices" in notes[0]
    assert pricing.PriceBook(library).price_for("toy", "toy/one").usd == 0.009  # kept when the refresh fails


def test_format_usd() -> None:
    assert [pricing.format_usd(v) for v in (None, 0, 0.012, 0.089625, 0.25, 0.5, 0.125, 1, 12.5, 1234.5,
                                                   0.00004)] == [
        "unpriced", "$0.00", "$0.012", "$0.0896", "$0.25", "$0.50", "$0.125", "$1.00", "$12.50", "$1,234.50",
        "$4.0e-05"]


def test_jobs_an_earlier_run_started_are_not_estimated_again(library: Library) -> None:
    doc = _graph([{"id": "p", "type": "prompt.lines", "params": {"text": "a\nb\nc"}},
                  {"id": "gen", "type": "provider.toy", "params": {"model": "toy/one", "seed": 3}}], [("p", "gen")])
    plan = _plan(library, doc)
    with library.db.session() as db:
        project = Project(name="Default")
        db.add(project)
        db.flush()
        order = Order(id=new_id(), project_id=project.id, name="t", snapshot="{}", snapshot_sha256="0" * 64,
                      status="interrupted")
        db.add(order)
        db.flush()
        jobs = {str(i): {"job_id": f"j{i}", "provider": "toy", "item_index": i} for i in (0, 1)}
        jobs["1"]["ended"] = "failed"  # the provider said this one failed: a new job is paid for
        db.add(OrderItem(id=new_id(), order_id=order.id, position=1, node_id="gen", node_type="provider.toy",
                         type_version=1, params={}, request_key="r", cache_key=plan.nodes["gen"].cache_key,
                         status="pending", remote_job_id="j0", remote_state={"jobs": jobs}))
    node = pricing.PriceBook(library).estimate_plan(library, plan).as_json()["nodes"]["gen"]
    assert (node["jobs"], node["reattached"]) == (2, 1)
    assert node["estimated_usd"] == pytest.approx(0.02)


def test_seconds_the_input_asks_for_beat_the_recorded_median(library: Library) -> None:
    _ledger_item(library, _seconds_detail(2.0), 0.002, datetime.now())
    doc = _graph([{"id": "v", "type": "provider.toy", "params": {"model": "toy/slow", "input": {"duration": 10}}}])
    node = pricing.PriceBook(library).estimate_plan(library, _plan(library, doc)).nodes["v"]
    assert node.estimated_usd == pytest.approx(0.01)
