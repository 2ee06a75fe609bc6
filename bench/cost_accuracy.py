"""Cost benchmark: the plan's estimate vs the cost the ledger recorded, per model, on the fake providers.

Each case runs a graph (prompt.lines → one provider node) through the real executor, provider node, HTTP client
and ledger against the in-process fake servers (tests/fixtures/fake_*.py, written from each provider's public
API), after asking `plan` what it would cost. The recorded cost is order_items.cost_usd of the provider node: the
provider's own metrics (Replicate's predict_time, fal's x-fal-billable-units) where the fake reports them, else
price × counted units. A per-second model is run twice: cold (its typical run time) and warm (the median of the
run times the ledger recorded).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rich.console import Console
from rich.table import Table

from artfactory.config import Settings
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.providers.pricing import PriceBook, format_usd
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.fixtures import fake_fal, fake_openai, fake_replicate
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.fake_replicate import FakeReplicate

WITHIN = 0.10  # the bar: estimate within 10 % of what was recorded, where priced


@dataclass
class Case:
    label: str
    node_type: str
    params: dict[str, Any]
    lines: int = 3
    run_s: float = 0.0  # the fake's run time (Replicate bills per second of it for per-second models)
    note: str = ""


CASES = [
    Case("replicate black-forest-labs/flux-schnell (per output)", "provider.replicate",
         {"model": "black-forest-labs/flux-schnell", "input": {"num_outputs": 2}}),
    Case("replicate stability-ai/sdxl (per second; cold: typical run time)", "provider.replicate",
         {"model": "stability-ai/sdxl", "input": {"num_outputs": 1}}, run_s=4.6,
         note="runs 4.6 s, shipped typical 5 s"),
    Case("replicate stability-ai/sdxl (per second; warm: median recorded)", "provider.replicate",
         {"model": "stability-ai/sdxl", "input": {"num_outputs": 1}}, run_s=4.8,
         note="runs 4.8 s, ledger median 4.6 s"),
    Case("fal fal-ai/flux/dev landscape_4_3 (per megapixel)", "provider.fal",
         {"endpoint": "fal-ai/flux/dev", "input": {"num_images": 1, "image_size": "landscape_4_3"}}),
    Case("fal fal-ai/flux/schnell 1536×1024 ×2 (per megapixel)", "provider.fal",
         {"endpoint": "fal-ai/flux/schnell", "input": {"num_images": 2, "image_size": {"width": 1536,
                                                                                        "height": 1024}}}),
    Case("fal fal-ai/recraft-v3 (per image)", "provider.fal", {"endpoint": "fal-ai/recraft-v3", "input": {}}),
    Case("openai gpt-image-1 low 1024×1024 ×2 (per image)", "provider.openai",
         {"model": "gpt-image-1", "input": {"n": 2, "quality": "low", "size": "1024x1024"}}),
    Case("openai dall-e-3 standard 1024×1024 (per image)", "provider.openai",
         {"model": "dall-e-3", "input": {"quality": "standard", "size": "1024x1024"}}),
]


def graph(case: Case, salt: str) -> GraphDocument:
    text = "\n".join(f"a lighthouse at dusk, take {salt}-{i}" for i in range(case.lines))
    return GraphDocument(name=case.label, nodes=[NodeSpec("p", "prompt.lines", {"text": text}),
                                                 NodeSpec("gen", case.node_type, dict(case.params))],
                         edges=[EdgeSpec("p", "text", "gen", "prompt")])


def recorded(library: Library, order_id: str) -> tuple[float | None, str | None]:
    from sqlalchemy import select

    from artfactory.models import OrderItem

    with library.db.engine.connect() as conn:
        row = conn.execute(select(OrderItem.cost_usd, OrderItem.cost_source, OrderItem.status, OrderItem.error)
                           .where(OrderItem.order_id == order_id, OrderItem.node_id == "gen")).one()
    if row.status != "executed":
        raise SystemExit(f"the provider node ended {row.status}: {row.error}")
    return row.cost_usd, row.cost_source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose label contains this text")
    args = parser.parse_args()
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    replicate, fal, openai = FakeReplicate().start(), FakeFal().start(), FakeOpenAI().start()
    os.environ.update({"REPLICATE_API_TOKEN": fake_replicate.TOKEN, "FAL_KEY": fake_fal.KEY,
                       "OPENAI_API_KEY": fake_openai.KEY})
    for model in ("black-forest-labs/flux-schnell", "stability-ai/sdxl"):
        replicate.models[model] = "b" * 64
    fal.apps |= {"fal-ai/recraft-v3"}
    rows: list[tuple[str, float | None, float | None, str, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="af-bench-cost-") as tmp:
            settings = Settings(replicate_base_url=replicate.url, fal_queue_url=fal.url, fal_rest_url=fal.url,
                                poll_interval_s=0.05, requests_per_second=1000.0,
                                concurrency_replicate=8, concurrency_fal=8)
            os.environ["ARTFACTORY_OPENAI_BASE_URL"] = openai.url
            library = Library.open(Path(tmp), settings=settings)
            try:
                session = HeadlessSession(library)
                book = PriceBook(library)
                for index, case in enumerate(CASES):
                    if args.only and args.only not in case.label:
                        continue
                    replicate.run_s = case.run_s
                    plan = session.plan(graph(case, str(index)))
                    estimate = book.estimate_plan(library, plan).nodes["gen"]
                    order_id, status = session.run(plan, project_id=library.project_id())
                    if status != "succeeded":
                        errors = {n: i["error"] for n, i in session.executor.store.items(order_id).items()
                                  if i["error"]}
                        raise SystemExit(f"{case.label}: the order ended {status}: {errors}")
                    usd, source = recorded(library, order_id)
                    rows.append((case.label, estimate.estimated_usd, usd, source or "-", case.note))
            finally:
                library.close()
    finally:
        for server in (replicate, fal, openai):
            server.stop()
    print_table(rows)
    return 0


def _usd(value: float | None) -> str:
    return format_usd(value) if value is None else f"${value:.5f}"


def print_table(rows: list[tuple[str, float | None, float | None, str, str]]) -> None:
    table = Table(title="Estimate vs recorded cost (fake providers)")
    for column in ("model", "estimate", "recorded", "recorded from", "diff", "within 10 %"):
        table.add_column(column, justify="left" if column in ("model", "recorded from") else "right")
    inside = priced = 0
    for label, estimate, usd, source, note in rows:
        if estimate is None or usd is None:
            diff, ok = "-", "unpriced"
        else:
            priced += 1
            rel = (estimate - usd) / usd if usd else (0.0 if estimate == 0 else float("inf"))
            diff = f"{rel * 100:+.1f} %"
            ok = "yes" if abs(rel) <= WITHIN else "no"
            inside += ok == "yes"
        table.add_row(label + (f" [dim]— {note}[/]" if note else ""), _usd(estimate), _usd(usd),
                      "provider metrics" if source == "provider" else "price × units", diff, ok)
    console = Console(width=190)
    console.print(table)
    console.print(f"{inside} of {priced} priced cases within 10 % of the recorded cost")


if __name__ == "__main__":
    sys.exit(main())
