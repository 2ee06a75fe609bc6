"""services.spend and `artfactory spend`: recorded costs summed by day, provider, model, collection and order."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import pytest

from artfactory.services.library import Library
from artfactory.services.spend import spend
from tests.support.cli import run_cli
from tests.support.money import Item, seed_orders

NOV5 = datetime(2026, 11, 5, 9, 30)
NOV6 = datetime(2026, 11, 6, 23, 59)
DEC1 = datetime(2026, 12, 1, 0, 0, 1)


@pytest.fixture
def library(library_home: Path) -> Library:
    lib = Library.open(library_home)
    yield lib  # type: ignore[misc]
    lib.close()


def _seed(library: Library) -> list[str]:
    return seed_orders(library, [
        [Item(0.003, finished=NOV5, collections=("Covers",), products=4),  # 4 products: the item counts once
         Item(0.04, "fal", "fal-ai/flux/dev", NOV5, source="estimate", collections=("Covers", "Print")),
         Item(None, called_provider=False, finished=NOV5)],  # a local node: costs nothing, is not "unpriced"
        [Item(0.012, "openai", "gpt-image-1:low:1024x1024", NOV6),
         Item(None, "fal", "fal-ai/unknown", NOV6)],  # called a provider with no known price
        [Item(0.5, "replicate", "black-forest-labs/flux-1.1-pro", DEC1, collections=("Print",))],
    ])


def test_spend_sums_every_way(library: Library) -> None:
    orders = _seed(library)
    data = spend(library)
    assert data["total_usd"] == pytest.approx(0.555)
    assert data["by_provider"] == pytest.approx({"replicate": 0.503, "fal": 0.04, "openai": 0.012})
    assert list(data["by_provider"]) == ["replicate", "fal", "openai"]  # biggest first
    assert data["by_model"]["black-forest-labs/flux-schnell"] == pytest.approx(0.003)
    assert data["by_model"]["fal-ai/flux/dev"] == pytest.approx(0.04)
    assert data["by_day"] == pytest.approx({"2026-11-05": 0.043, "2026-11-06": 0.012, "2026-12-01": 0.5})
    assert data["by_collection"] == pytest.approx({"Print": 0.54, "Covers": 0.043})
    assert [o["id"] for o in data["orders"]] == list(reversed(orders))  # newest first
    assert [o["usd"] for o in data["orders"]] == pytest.approx([0.5, 0.012, 0.043])
    assert data["unpriced_items"] == 1
    assert data["priced_items"] == 4


def test_spend_since_and_project(library: Library) -> None:
    _seed(library)
    seed_orders(library, [[Item(2.0, finished=DEC1)]], project="Other")
    data = spend(library, since=date(2026, 11, 6))
    assert data["total_usd"] == pytest.approx(2.512)
    assert set(data["by_day"]) == {"2026-11-06", "2026-12-01"}
    assert data["unpriced_items"] == 1
    default = library.project_id("Default")
    assert spend(library, since=date(2026, 12, 1), project_id=default)["total_usd"] == pytest.approx(0.5)
    assert spend(library, since=date(2027, 1, 1))["orders"] == []


def test_spend_is_fast_on_thousands_of_items(library: Library) -> None:
    providers = [("replicate", "a/b"), ("fal", "fal-ai/x"), ("openai", "gpt-image-1:low:1024x1024")]
    orders = [[Item(0.001 * (1 + (o + i) % 7), *providers[(o + i) % 3], datetime(2026, 11, 1 + o % 28, 10),
                    collections=("Big",) if o % 2 else ()) for i in range(5)] for o in range(1000)]
    seed_orders(library, orders)
    started = time.perf_counter()
    data = spend(library)
    elapsed = time.perf_counter() - started
    expected = sum(0.001 * (1 + (o + i) % 7) for o in range(1000) for i in range(5))
    assert data["total_usd"] == pytest.approx(expected)
    assert data["priced_items"] == 5000
    assert len(data["orders"]) == 1000 and len(data["by_day"]) == 28
    assert elapsed < 1.0, f"spend() took {elapsed:.2f}s on 5000 items"


def test_cli_spend_json_and_table(library: Library, library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(library)
    result = run_cli(capsys, "spend", "--since", "2026-11-06", "--json", "--home", library_home)
    assert result.code == 0, result.err
    data = result.json
    assert {"total_usd", "by_provider", "by_model", "orders"} <= set(data)
    assert data["total_usd"] == pytest.approx(0.512)
    assert data["by_provider"] == pytest.approx({"replicate": 0.5, "openai": 0.012})
    table = run_cli(capsys, "spend", "--home", library_home)
    assert table.code == 0
    assert "Spent in all: $0.555" in table.out and "1 not priced" in table.out
    assert "$0.50 " in table.out  # the December order, two decimals at least
    assert "fal-ai/flux/dev" in table.out and "Covers" in table.out


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026/11/01"])
def test_cli_spend_bad_since(library_home: Path, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    result = run_cli(capsys, "spend", "--since", bad, "--home", library_home)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "--since" in lines[0] and "YYYY-MM-DD" in lines[0]


def test_cli_spend_project(library: Library, library_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(library)
    seed_orders(library, [[Item(2.0, finished=DEC1)]], project="Other")
    other = run_cli(capsys, "spend", "--project", "Other", "--json", "--home", library_home)
    assert other.code == 0 and other.json["total_usd"] == pytest.approx(2.0)
    missing = run_cli(capsys, "spend", "--project", "Nope", "--home", library_home)
    assert missing.code == 2 and missing.err.strip().count("\n") == 0 and "no project named 'Nope'" in missing.err
