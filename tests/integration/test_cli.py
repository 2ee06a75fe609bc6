"""The headless CLI contract (DESIGN §8) on the shipped graphs and on graphs made here."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.cli import GRAPHS, run_cli, spawn_cli


def _files(home: Path) -> set[Path]:
    return {p for p in (home / "products").rglob("*") if p.is_file()}


def _write(tmp_path: Path, doc: dict, name: str = "g.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"format": "artfactory.graph", "version": 1, "name": "t", "meta": {}, **doc}))
    return path


def _offline(graph: Path) -> bool:
    """Shipped graphs that need no key (the remote ones, e.g. Model shoot-out, are validated in test_sweeps)."""
    types = {n["type"] for n in json.loads(graph.read_text())["nodes"]}
    return not types & {"provider.replicate", "provider.fal", "provider.openai"}


@pytest.mark.parametrize("graph", sorted(g for g in GRAPHS.glob("*.json") if _offline(g)), ids=lambda p: p.stem)
def test_every_shipped_graph_runs_offline(graph: Path, library_home: Path, capsys) -> None:
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["status"] == "succeeded"
    assert set(data["nodes"]) == {n["id"] for n in json.loads(graph.read_text())["nodes"]}
    assert data["products"]
    for product in data["products"]:
        assert Path(product["path"]).is_file() and len(product["sha256"]) == 64


def test_identical_rerun_is_all_cached_and_writes_no_file(library_home: Path, capsys) -> None:
    graph = GRAPHS / "fox-posters.json"
    first = run_cli(capsys, "run", graph, "--json").json
    files = _files(library_home)
    second = run_cli(capsys, "--json", "run", graph)
    assert second.code == 0
    data = second.json
    assert {n["status"] for n in data["nodes"].values()} == {"cached"}
    assert _files(library_home) == files
    assert [p["id"] for p in data["products"]] == [p["id"] for p in first["products"]]


def test_tweak_reexecutes_only_the_node_and_its_descendants(library_home: Path, capsys) -> None:
    graph = GRAPHS / "fox-posters.json"
    run_cli(capsys, "run", graph, "--json")
    data = run_cli(capsys, "run", graph, "--set", "small.width=128", "--json").json
    assert {k: v["status"] for k, v in data["nodes"].items()} == {
        "prompt": "cached", "gen": "cached", "small": "executed", "keep": "executed"}
    small = [p for p in data["products"] if p["node_id"] == "small"]
    assert small[0]["width"] == 128


def test_random_seeds_are_recorded_rerun_keeps_them_and_reroll_draws_new(tmp_path: Path, library_home: Path,
                                                                         capsys) -> None:
    graph = _write(tmp_path, {
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a blue whale"}},
                  {"id": "gen", "type": "provider.local", "params": {"seed": -1, "width": 64, "height": 64}},
                  {"id": "gray", "type": "transform.grayscale"}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "image"], "to": ["gray", "image"]}],
    })
    first = run_cli(capsys, "run", graph, "--json").json
    seed = run_cli(capsys, "orders", "show", first["order_id"], "--json").json
    gen_item = next(i for i in seed["items"] if i["node_id"] == "gen")
    recorded = gen_item["params"]["seed"]
    assert isinstance(recorded, int) and recorded >= 0
    again = run_cli(capsys, "run", graph, "--json").json
    assert again["nodes"]["gen"]["status"] == "cached"
    # Re-run with a prompt tweak: new image but the same recorded seed.
    tweaked = run_cli(capsys, "rerun", first["order_id"], "--set", "p.text=a red whale", "--json").json
    assert tweaked["parent_order_id"] == first["order_id"]
    assert tweaked["nodes"]["gen"]["status"] == "executed"
    product = run_cli(capsys, "products", "show", tweaked["nodes"]["gen"]["products"][0], "--json").json
    assert product["params"]["seed"] == recorded and product["prompt"] == "a red whale"
    rolled = run_cli(capsys, "run", graph, "--reroll", "--json").json
    assert rolled["nodes"]["gen"]["status"] == "executed" and rolled["nodes"]["gray"]["status"] == "executed"


def test_failure_skips_dependents_and_exits_1(tmp_path: Path, library_home: Path, capsys) -> None:
    graph = _write(tmp_path, {
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "x"}},
                  {"id": "gen", "type": "provider.local", "params": {"seed": 1, "width": 64, "height": 64}},
                  {"id": "crop", "type": "transform.crop",
                   "params": {"left": 500, "top": 0, "width": 10, "height": 10}},
                  {"id": "after", "type": "transform.grayscale"},
                  {"id": "other", "type": "transform.blur"}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "image"], "to": ["crop", "image"]},
                  {"from": ["crop", "image"], "to": ["after", "image"]},
                  {"from": ["gen", "image"], "to": ["other", "image"]}],
    })
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 1
    data = result.json
    assert data["status"] == "partial"
    assert data["nodes"]["crop"]["status"] == "failed" and data["nodes"]["crop"]["error"]
    assert data["nodes"]["after"]["status"] == "skipped"
    assert data["nodes"]["other"]["status"] == "executed"


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"nodes": [{"id": "a", "type": "nope.nope"}], "edges": []}, "unknown_type"),
        ({"nodes": [{"id": "a", "type": "transform.blur"}], "edges": []}, "missing_input"),
        ({"nodes": [{"id": "a", "type": "prompt.text", "params": {"text": 5}}], "edges": []}, "bad_param"),
        ({"nodes": [{"id": "a", "type": "transform.blur"}, {"id": "b", "type": "transform.blur"}],
          "edges": [{"from": ["a", "image"], "to": ["b", "image"]}, {"from": ["b", "image"], "to": ["a", "image"]}]},
         "cycle"),
        ({"nodes": [{"id": "t", "type": "prompt.text", "params": {"text": "x"}}, {"id": "b", "type": "transform.blur"}],
          "edges": [{"from": ["t", "text"], "to": ["b", "image"]}]}, "type_mismatch"),
    ],
)
def test_invalid_graphs_exit_2_with_per_node_errors(tmp_path: Path, library_home: Path, capsys, doc: dict,
                                                    code: str) -> None:
    graph = _write(tmp_path, doc)
    validated = run_cli(capsys, "validate", graph, "--json")
    assert validated.code == 2
    assert validated.json["valid"] is False
    assert code in {e["code"] for e in validated.json["errors"]}
    ran = run_cli(capsys, "run", graph)
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "Traceback" not in ran.err
    assert not list((library_home / "products").rglob("*.png"))


def test_bad_arguments_exit_2(tmp_path: Path, library_home: Path, capsys) -> None:
    graph = GRAPHS / "fox-posters.json"
    assert run_cli(capsys, "run", graph, "--set", "ghost.width=1").code == 2
    assert run_cli(capsys, "run", graph, "--set", "small.colour=1").code == 2
    assert run_cli(capsys, "run", tmp_path / "missing.json").code == 2
    (tmp_path / "bad.json").write_text("{oops")
    result = run_cli(capsys, "run", tmp_path / "bad.json", "--json")
    assert result.code == 2 and "not valid JSON" in result.err and "error" in result.json
    assert run_cli(capsys, "frobnicate").code == 2


def test_lineage_products_and_orders(library_home: Path, capsys) -> None:
    run = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    product_id = run["nodes"]["small"]["products"][0]
    shown = run_cli(capsys, "products", "show", product_id, "--json").json
    assert shown["order_id"] == run["order_id"] and shown["node_id"] == "small"
    assert shown["params"] == {"width": 256, "height": 256, "mode": "fit"}
    assert shown["graph"]["name"] == "Fox posters" and shown["collections"] == ["Foxes"]
    assert shown["prompt"].startswith("a red fox")
    listed = run_cli(capsys, "products", "list", "--collection", "Foxes", "--json").json["products"]
    assert [p["id"] for p in listed] == [product_id]
    found = run_cli(capsys, "products", "list", "--search", "fox sunset", "--json").json["products"]
    assert product_id in {p["id"] for p in found}
    assert run_cli(capsys, "products", "list", "--search", "zebra", "--json").json["products"] == []
    orders = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert orders[0]["id"] == run["order_id"] and orders[0]["status"] == "succeeded"
    detail = run_cli(capsys, "orders", "show", run["order_id"], "--json").json
    assert detail["parent_order_id"] is None and len(detail["items"]) == 4
    assert run_cli(capsys, "products", "show", "nope").code == 2


def test_import_and_export_with_lineage(tmp_path: Path, library_home: Path, capsys) -> None:
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "orange").save(good)
    fake = tmp_path / "fake.png"
    fake.write_text("<html><body>not an image</body></html>")
    result = run_cli(capsys, "import", good, fake, "--json")
    assert result.code == 1
    data = result.json
    assert len(data["products"]) == 1 and data["products"][0]["width"] == 40
    assert data["rejected"][0]["path"] == str(fake) and data["rejected"][0]["reason"]
    run = run_cli(capsys, "run", GRAPHS / "fox-posters.json", "--json").json
    out = tmp_path / "out"
    exported = run_cli(capsys, "export", run["nodes"]["gen"]["products"][0], "--to", out, "--json")
    assert exported.code == 0
    files = [Path(f) for f in exported.json["files"]]
    png = next(f for f in files if f.suffix == ".png")
    sidecar = next(f for f in files if f.suffix == ".json")
    assert json.loads(sidecar.read_text())["graph"]["name"] == "Fox posters"
    with Image.open(png) as img:
        assert json.loads(img.text["artfactory.graph"])["name"] == "Fox posters"


def test_templates_list_save_instantiate(tmp_path: Path, library_home: Path, capsys) -> None:
    names = {t["name"] for t in run_cli(capsys, "templates", "list", "--json").json["templates"]}
    assert {"Fox posters", "Wildcard sweep"} <= names
    saved = run_cli(capsys, "templates", "save", GRAPHS / "fox-posters.json", "--name", "Mine", "--description", "d",
                    "--json")
    assert saved.code == 0
    target = tmp_path / "new.json"
    made = run_cli(capsys, "templates", "instantiate", "Mine", "--to", target, "--json")
    assert made.code == 0 and json.loads(target.read_text())["name"] == "Mine"
    assert run_cli(capsys, "templates", "instantiate", "Nope").code == 2


def _slow_graph(tmp_path: Path, latency_ms: int = 20000) -> Path:
    return _write(tmp_path, {
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "quick"}},
                  {"id": "fast", "type": "provider.local", "params": {"seed": 1, "width": 64, "height": 64}},
                  {"id": "slow", "type": "provider.local",
                   "params": {"seed": 2, "width": 64, "height": 64, "latency_ms": latency_ms}},
                  {"id": "after", "type": "transform.grayscale"}],
        "edges": [{"from": ["p", "text"], "to": ["fast", "prompt"]}, {"from": ["p", "text"], "to": ["slow", "prompt"]},
                  {"from": ["slow", "image"], "to": ["after", "image"]}],
    }, "slow.json")


def _wait_for_status(home: Path, node: str, status: str, timeout: float = 30) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'library.sqlite3'}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with engine.connect() as conn:
                row = conn.execute(text("select status from order_items where node_id=:n order by rowid desc"),
                                   {"n": node}).first()
            if row and row[0] == status:
                engine.dispose()
                return
        except Exception:
            pass
        time.sleep(0.05)
    engine.dispose()
    raise AssertionError(f"{node} never became {status}")


def test_ctrl_c_cancels_and_exits_130(tmp_path: Path, library_home: Path) -> None:
    proc = spawn_cli(library_home, "run", _slow_graph(tmp_path), "--json")
    _wait_for_status(library_home, "slow", "running")
    _wait_for_status(library_home, "fast", "executed")  # the other branch is done before the user gives up
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 5
    data = json.loads(out)
    assert data["status"] == "canceled" and data["nodes"]["slow"]["status"] == "canceled"
    assert data["nodes"]["fast"]["status"] == "executed"


def test_killed_run_is_interrupted_and_resume_finishes_without_redoing(tmp_path: Path, library_home: Path,
                                                                       capsys) -> None:
    proc = spawn_cli(library_home, "run", _slow_graph(tmp_path, latency_ms=1500), "--json")
    _wait_for_status(library_home, "fast", "executed")
    _wait_for_status(library_home, "slow", "running")
    proc.kill()
    proc.communicate(timeout=10)
    orders = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert orders[0]["status"] == "interrupted"
    before = run_cli(capsys, "orders", "show", orders[0]["id"], "--json").json
    fast_products = next(i for i in before["items"] if i["node_id"] == "fast")["products"]
    resumed = run_cli(capsys, "resume", "--json")
    assert resumed.code == 0, resumed.err
    data = resumed.json
    assert len(data) == 1 and data[0]["order_id"] == orders[0]["id"] and data[0]["status"] == "succeeded"
    assert data[0]["nodes"]["fast"]["status"] == "executed"
    assert data[0]["nodes"]["fast"]["products"] == fast_products  # not redone
    assert data[0]["nodes"]["slow"]["status"] == "executed" and data[0]["nodes"]["after"]["status"] == "executed"
    assert run_cli(capsys, "resume", "--json").json == []


def test_input_image_key_follows_the_file_content(tmp_path: Path, library_home: Path, capsys) -> None:
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (80, 60), "teal").save(photo)
    graph = _write(tmp_path, {
        "nodes": [{"id": "in", "type": "input.image", "params": {"path": str(photo)}},
                  {"id": "gray", "type": "transform.grayscale"}],
        "edges": [{"from": ["in", "image"], "to": ["gray", "image"]}],
    })
    first = run_cli(capsys, "run", graph, "--json").json
    assert first["status"] == "succeeded"
    assert {v["status"] for v in run_cli(capsys, "run", graph, "--json").json["nodes"].values()} == {"cached"}
    Image.new("RGB", (80, 60), "orange").save(photo)
    third = run_cli(capsys, "run", graph, "--json").json
    assert third["nodes"]["in"]["status"] == "executed" and third["nodes"]["gray"]["status"] == "executed"
    photo.unlink()
    missing = run_cli(capsys, "run", graph, "--json")
    assert missing.code == 1 and str(photo) in missing.json["nodes"]["in"]["error"]


def test_human_output_has_a_progress_table(library_home: Path, capsys) -> None:
    result = run_cli(capsys, "run", GRAPHS / "fox-posters.json")
    assert result.code == 0
    assert "succeeded" in result.out and "gen" in result.err  # rich live table goes to stderr
    listed = run_cli(capsys, "orders", "list")
    assert "succeeded" in listed.out
