"""Sweeps end to end through the CLI: param inputs, fan-out, bad_param, exact per-item cache, labelled xy sheets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import GRAPHS, run_cli


def _write(tmp_path: Path, nodes: list[dict], edges: list[tuple[str, str, str, str]],
           name: str = "g.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"format": "artfactory.graph", "version": 1, "name": "t", "meta": {},
                                "nodes": nodes,
                                "edges": [{"from": [a, b], "to": [c, d]} for a, b, c, d in edges]}))
    return path


def _show(capsys: pytest.CaptureFixture[str], product_id: str) -> dict[str, Any]:
    result = run_cli(capsys, "products", "show", product_id, "--json")
    assert result.code == 0, result.err
    return result.json


def _files(home: Path) -> set[Path]:
    return {p for p in (home / "products").rglob("*") if p.is_file()}


PROMPT = {"id": "p", "type": "prompt.text", "params": {"text": "a red fox"}}
GEN = {"id": "gen", "type": "provider.local", "params": {"width": 64, "height": 64}, "param_inputs": ["seed"]}


def _sweep_graph(tmp_path: Path, seeds: list, styles: list | None = None, grid: dict | None = None,
                 name: str = "g.json") -> Path:
    nodes = [PROMPT, {"id": "seeds", "type": "value.list", "params": {"values": seeds}}, GEN]
    edges = [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:seed")]
    if styles is not None:
        nodes.append({"id": "styles", "type": "value.list", "params": {"values": styles}})
        edges.append(("styles", "value", "gen", "param:style"))
    if grid is not None:
        nodes.append({"id": "sheet", "type": "transform.grid", "params": {"cell_size": 64, **grid}})
        edges.append(("gen", "image", "sheet", "image"))
    return _write(tmp_path, nodes, edges, name)


def test_a_single_value_replaces_the_param_and_is_recorded(tmp_path: Path, library_home: Path, capsys) -> None:
    graph = _write(tmp_path, [PROMPT, {"id": "n", "type": "value.number", "params": {"value": 77}}, GEN],
                   [("p", "text", "gen", "prompt"), ("n", "value", "gen", "param:seed")])
    data = run_cli(capsys, "run", graph, "--json").json
    assert data["status"] == "succeeded"
    [product] = data["nodes"]["gen"]["products"]
    shown = _show(capsys, product)
    assert shown["seed"] == 77 and shown["params"]["seed"] == 77
    assert shown["metadata"]["sweep"] == {"gen.seed": 77}


def test_a_list_fans_the_node_out_once_per_value(tmp_path: Path, library_home: Path, capsys) -> None:
    data = run_cli(capsys, "run", _sweep_graph(tmp_path, [5, 6, 7]), "--json").json
    assert data["status"] == "succeeded"
    products = data["nodes"]["gen"]["products"]
    assert [_show(capsys, p)["params"]["seed"] for p in products] == [5, 6, 7]


def test_a_value_the_param_cannot_take_fails_the_node_as_bad_param(tmp_path: Path, library_home: Path,
                                                                   capsys) -> None:
    graph = _sweep_graph(tmp_path, [1, 2], styles=["neon", "ink"])
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 1
    gen = result.json["nodes"]["gen"]
    assert gen["status"] == "failed" and "'style'" in gen["error"] and "'ink'" in gen["error"]
    assert gen["products"] == [] and not _files(library_home)  # nothing made for half a sweep
    order = run_cli(capsys, "orders", "show", result.json["order_id"], "--json").json
    assert "bad_param" in json.dumps(order)


def test_rerun_is_cached_and_changing_one_value_runs_only_its_cells(tmp_path: Path, library_home: Path,
                                                                    capsys) -> None:
    first = run_cli(capsys, "run", _sweep_graph(tmp_path, [1, 2, 3], styles=["neon", "poster"]), "--json").json
    files = _files(library_home)
    again = run_cli(capsys, "run", _sweep_graph(tmp_path, [1, 2, 3], styles=["neon", "poster"]), "--json").json
    assert {n["status"] for n in again["nodes"].values()} == {"cached"} and _files(library_home) == files
    changed = run_cli(capsys, "run", _sweep_graph(tmp_path, [1, 2, 4], styles=["neon", "poster"]), "--json").json
    assert changed["nodes"]["gen"]["status"] == "executed"
    before, after = first["nodes"]["gen"]["products"], changed["nodes"]["gen"]["products"]
    assert after[:4] == before[:4]  # seeds 1 and 2 in both styles: the products made before
    assert not set(after[4:]) & set(before)  # seed 4: the only cells executed
    assert len(_files(library_home) - files) == 2
    assert [_show(capsys, p)["params"]["seed"] for p in after[4:]] == [4, 4]


def test_labelled_sheet_names_the_swept_values_and_xy_lays_them_out(tmp_path: Path, library_home: Path,
                                                                    capsys) -> None:
    graph = _sweep_graph(tmp_path, [1, 2, 3], styles=["neon", "poster"], grid={"labels": True})
    data = run_cli(capsys, "run", graph, "--json").json
    [sheet] = data["nodes"]["sheet"]["products"]
    shown = _show(capsys, sheet)
    assert shown["metadata"]["labels"] == ["seed 1 · style neon", "seed 1 · style poster", "seed 2 · style neon",
                                           "seed 2 · style poster", "seed 3 · style neon", "seed 3 · style poster"]
    assert shown["metadata"]["cells"][5] == {"gen.seed": 3, "gen.style": "poster"}
    assert (shown["width"], shown["height"]) == (3 * 64 + 4 * 8, 2 * (64 + 15) + 3 * 8)  # auto layout

    xy = _sweep_graph(tmp_path, [1, 2, 3], styles=["neon", "poster"], grid={"layout": "xy"}, name="xy.json")
    data = run_cli(capsys, "run", xy, "--json").json
    assert data["nodes"]["gen"]["status"] == "cached"
    shown = _show(capsys, data["nodes"]["sheet"]["products"][0])
    layout = shown["metadata"]["layout"]
    assert layout["rows"] == ["seed 1", "seed 2", "seed 3"] and layout["columns"] == ["style neon", "style poster"]
    width, height = shown["width"], shown["height"]
    # 3 rows × 2 columns of 64-pixel cells with 8-pixel padding, plus a header row and a header column
    assert 2 * 64 + 3 * 8 < width <= 2 * 64 + 3 * 8 + 64
    assert height == round(9 * 1.9) + 3 * 64 + 4 * 8


def test_sweep_values_travel_through_transforms(tmp_path: Path, library_home: Path, capsys) -> None:
    nodes = [PROMPT, {"id": "seeds", "type": "value.list", "params": {"values": [1, 2]}}, GEN,
             {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}},
             {"id": "sheet", "type": "transform.grid", "params": {"cell_size": 64}}]
    edges = [("p", "text", "gen", "prompt"), ("seeds", "value", "gen", "param:seed"),
             ("gen", "image", "small", "image"), ("small", "image", "sheet", "image")]
    data = run_cli(capsys, "run", _write(tmp_path, nodes, edges), "--json").json
    assert _show(capsys, data["nodes"]["small"]["products"][1])["metadata"]["sweep"] == {"gen.seed": 2}
    assert _show(capsys, data["nodes"]["sheet"]["products"][0])["metadata"]["labels"] == ["seed 1", "seed 2"]
    # from the cache too: gen and small answer from the library, the sheet is made anew with the same labels
    nodes[-1] = {"id": "sheet", "type": "transform.grid", "params": {"cell_size": 48}}
    data = run_cli(capsys, "run", _write(tmp_path, nodes, edges), "--json").json
    assert data["nodes"]["small"]["status"] == "cached"
    assert _show(capsys, data["nodes"]["sheet"]["products"][0])["metadata"]["labels"] == ["seed 1", "seed 2"]


def test_cli_sweep_does_the_same_without_editing_the_graph(tmp_path: Path, library_home: Path, capsys) -> None:
    graph = _write(tmp_path, [PROMPT, {"id": "gen", "type": "provider.local", "params": {"width": 64, "height": 64}},
                              {"id": "sheet", "type": "transform.grid", "params": {"cell_size": 64, "layout": "xy"}}],
                   [("p", "text", "gen", "prompt"), ("gen", "image", "sheet", "image")])
    result = run_cli(capsys, "run", graph, "--sweep", "gen.seed=1,2", "--sweep", "gen.style=neon, poster", "--json")
    assert result.code == 0, result.err
    data = result.json
    assert len(data["nodes"]["gen"]["products"]) == 4
    layout = _show(capsys, data["nodes"]["sheet"]["products"][0])["metadata"]["layout"]
    assert layout["rows"] == ["seed 1", "seed 2"] and layout["columns"] == ["style neon", "style poster"]
    # the same sweep written into the graph: every node answers from the cache
    edited = _sweep_graph(tmp_path, [1, 2], styles=["neon", "poster"], grid={"layout": "xy"}, name="edited.json")
    assert {n["status"] for n in run_cli(capsys, "run", edited, "--json").json["nodes"].values()} == {"cached"}


@pytest.mark.parametrize(("sweep", "message"), [
    ("ghost.seed=1,2", "no node 'ghost'"),
    ("gen.colour=1,2", "no param 'colour'"),
    ("gen.seed", "expected NODE.PARAM=V1,V2"),
    ("gen.seed=", "give 1 to 1,000 values"),
])
def test_cli_sweep_errors_exit_2(tmp_path: Path, library_home: Path, capsys, sweep: str, message: str) -> None:
    graph = _write(tmp_path, [PROMPT, {"id": "gen", "type": "provider.local", "params": {}}],
                   [("p", "text", "gen", "prompt")])
    result = run_cli(capsys, "run", graph, "--sweep", sweep)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_cli_sweep_value_the_param_cannot_take_fails_the_run(tmp_path: Path, library_home: Path, capsys) -> None:
    graph = _write(tmp_path, [PROMPT, {"id": "gen", "type": "provider.local", "params": {"width": 64, "height": 64}}],
                   [("p", "text", "gen", "prompt")])
    result = run_cli(capsys, "run", graph, "--sweep", "gen.width=64,1", "--json")
    assert result.code == 1 and "'width'" in result.json["nodes"]["gen"]["error"]


@pytest.mark.parametrize("name", ["seed-style-sweep.json", "model-shoot-out.json"])
def test_shipped_sweep_templates_validate(library_home: Path, capsys, name: str) -> None:
    result = run_cli(capsys, "validate", GRAPHS / name, "--json")
    assert result.code == 0 and result.json == {"valid": True, "errors": []}


def test_model_shoot_out_plans_one_paid_job_per_model(library_home: Path, capsys) -> None:
    result = run_cli(capsys, "plan", GRAPHS / "model-shoot-out.json", "--json")
    assert result.code == 0, result.err
    gen = result.json["nodes"]["gen"]
    models = json.loads((GRAPHS / "model-shoot-out.json").read_text())["nodes"][1]["params"]["values"]
    assert gen["jobs"] == len(models) >= 3
    assert any("param input" in note for note in gen["notes"])


def test_model_shoot_out_cells_show_model_time_and_cost(tmp_path: Path, library_home: Path, capsys,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.fake_replicate import FakeReplicate

    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.02, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))
    server = FakeReplicate().start()
    server.models["acme/sketcher"] = server.models["acme/painter"]  # a second image model to compare
    try:
        monkeypatch.setenv("ARTFACTORY_REPLICATE_BASE_URL", server.url)
        monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
        for model, usd in (("acme/painter", "0.01"), ("acme/sketcher", "0.02")):
            assert run_cli(capsys, "prices", "set", "replicate", model, usd, "--unit", "output").code == 0
        graph = _write(tmp_path, [
            PROMPT, {"id": "models", "type": "value.list", "params": {"values": ["acme/painter", "acme/sketcher"]}},
            {"id": "gen", "type": "provider.replicate", "params": {"model": "acme/painter",
                                                                    "input": {"num_outputs": 1}}},
            {"id": "sheet", "type": "transform.grid", "params": {"cell_size": 64, "layout": "xy"}}],
            [("p", "text", "gen", "prompt"), ("models", "value", "gen", "param:model"),
             ("gen", "media", "sheet", "image")])
        result = run_cli(capsys, "run", graph, "--json")
        assert result.code == 0, result.err
    finally:
        server.stop()
    gen = [_show(capsys, p) for p in result.json["nodes"]["gen"]["products"]]
    assert [(g["params"]["model"], g["metadata"]["cost_usd"]) for g in gen] == [
        ("acme/painter", 0.01), ("acme/sketcher", 0.02)]
    sheet = _show(capsys, result.json["nodes"]["sheet"]["products"][0])["metadata"]
    assert sheet["layout"]["columns"] == ["model acme/painter", "model acme/sketcher"]
    assert sheet["labels"][0].startswith("model acme/painter · ") and sheet["labels"][0].endswith(" s · $0.01")
    assert sheet["labels"][1].endswith(" s · $0.02")


def test_xy_with_one_swept_value_is_one_row_under_column_headers(tmp_path: Path, library_home: Path,
                                                                 capsys) -> None:
    graph = _write(tmp_path, [PROMPT, {"id": "gen", "type": "provider.local", "params": {"width": 64, "height": 64}},
                              {"id": "sheet", "type": "transform.grid", "params": {"cell_size": 64, "layout": "xy"}}],
                   [("p", "text", "gen", "prompt"), ("gen", "image", "sheet", "image")])
    data = run_cli(capsys, "run", graph, "--sweep", "gen.seed=1,2,3", "--json").json
    shown = _show(capsys, data["nodes"]["sheet"]["products"][0])
    assert shown["metadata"]["layout"]["columns"] == ["seed 1", "seed 2", "seed 3"]
    assert (shown["width"], shown["height"]) == (3 * 64 + 4 * 8, round(9 * 1.9) + 64 + 2 * 8)


def test_a_reused_cell_whose_file_is_gone_runs_again(tmp_path: Path, library_home: Path, capsys) -> None:
    first = run_cli(capsys, "run", _sweep_graph(tmp_path, [1, 2]), "--json").json
    gone = _show(capsys, first["nodes"]["gen"]["products"][0])
    Path(gone["path"]).unlink()
    data = run_cli(capsys, "run", _sweep_graph(tmp_path, [1, 3]), "--json").json
    products = data["nodes"]["gen"]["products"]
    assert products[0] != gone["id"] and Path(_show(capsys, products[0])["path"]).is_file()


def test_plan_counts_the_jobs_a_cli_sweep_makes(library_home: Path, capsys) -> None:
    models = "black-forest-labs/flux-schnell,black-forest-labs/flux-dev"
    result = run_cli(capsys, "plan", GRAPHS / "model-shoot-out.json", "--sweep", f"gen.model={models}",
                     "--sweep", "gen.seed=1,2", "--json")
    assert result.code == 0, result.err
    assert result.json["nodes"]["gen"]["jobs"] == 4
    assert run_cli(capsys, "plan", GRAPHS / "model-shoot-out.json", "--sweep", "gen.nope=1").code == 2
