"""Inpainting offline through the CLI: the shipped template, and a mask painted over a library product."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from artfactory.services.library import Library
from artfactory.services.masks import save_mask
from artfactory.services.transfer import import_paths
from tests.support.cli import GRAPHS, run_cli

TEMPLATE = GRAPHS / "inpaint-with-a-mask.json"


def _by_node(data: dict) -> dict[str, dict]:
    return {p["node_id"]: p for p in data["products"]}


def test_the_inpaint_template_repaints_only_inside_its_mask(library_home: Path, capsys) -> None:
    result = run_cli(capsys, "run", TEMPLATE, "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["status"] == "succeeded"
    made = _by_node(data)
    with Image.open(made["soften"]["path"]) as mask, Image.open(made["photo"]["path"]) as photo, \
            Image.open(made["inpaint"]["path"]) as painted:
        assert mask.mode == "L" and Image.open(made["sky_mask"]["path"]).mode == "L"
        assert painted.size == photo.size == mask.size
        diff = ImageChops.difference(painted.convert("RGB"), photo.convert("RGB")).convert("L")
        # Away from the mask (beyond the provider's own soft edge, 1% of the short side) the photo is untouched;
        # fully inside, it is repainted.
        near = mask.filter(ImageFilter.BoxBlur(20)).point(lambda v: 255 if v > 0 else 0)
        assert ImageChops.multiply(diff, ImageChops.invert(near)).getbbox() is None
        assert ImageStat.Stat(ImageChops.invert(near)).mean[0] > 60  # and that is a good part of the picture
        full = mask.point(lambda v: 255 if v == 255 else 0)
        assert ImageStat.Stat(diff, mask=full).mean[0] > 20

    shown = run_cli(capsys, "products", "show", made["inpaint"]["id"], "--json").json
    assert [link["node_id"] for link in shown["made_from"]] == ["photo", "soften"]
    assert shown["metadata"]["inpainted"] is True
    again = run_cli(capsys, "run", TEMPLATE, "--json").json
    assert {n["status"] for n in again["nodes"].values()} == {"cached"}


def test_a_painted_mask_inpaints_a_library_photo(library_home: Path, tmp_path: Path, capsys) -> None:
    photo = Image.new("RGB", (240, 160), (30, 80, 140))
    ImageDraw.Draw(photo).rectangle((0, 110, 239, 159), fill=(200, 180, 120))
    source = tmp_path / "shore.jpg"
    photo.save(source, quality=95)
    library = Library.open(library_home)
    try:
        photo_id = import_paths(library, [source], project_id=library.project_id()).products[0].id
        painted = Image.new("L", (240, 160), 0)
        ImageDraw.Draw(painted).ellipse((60, 20, 180, 100), fill=255)
        mask_id = save_mask(library, photo_id, painted, feather=3)
    finally:
        library.close()
    graph = tmp_path / "inpaint.json"
    graph.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "Inpaint mine",
        "nodes": [{"id": "photo", "type": "input.product", "params": {"products": photo_id}},
                  {"id": "mask", "type": "input.product", "params": {"products": mask_id}},
                  {"id": "what", "type": "prompt.text", "params": {"text": "a full moon, neon"}},
                  {"id": "paint", "type": "provider.local", "params": {"seed": 9}}],
        "edges": [{"from": ["photo", "media"], "to": ["paint", "image"]},
                  {"from": ["mask", "media"], "to": ["paint", "mask"]},
                  {"from": ["what", "text"], "to": ["paint", "prompt"]}],
    }))
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 0, result.err
    out = _by_node(result.json)["paint"]
    with Image.open(out["path"]) as image:
        image = image.convert("RGB")
        assert image.size == (240, 160)
        assert max(abs(a - b) for a, b in zip(image.getpixel((5, 150)), (200, 180, 120), strict=True)) <= 3
        inside = ImageChops.difference(image.crop((90, 35, 150, 85)), photo.crop((90, 35, 150, 85)))
        assert sum(ImageStat.Stat(inside).mean) > 30  # inside the painted ellipse: a new picture
    shown = run_cli(capsys, "products", "show", out["id"], "--json").json
    assert [link["id"] for link in shown["made_from"]] == [photo_id, mask_id]
    mask_shown = run_cli(capsys, "products", "show", mask_id, "--json").json
    assert mask_shown["metadata"] == {"mask": True, "source_product_ids": [photo_id]}
    assert [link["id"] for link in mask_shown["made_from"]] == [photo_id]


def test_a_video_on_a_mask_input_fails_that_node_clearly(library_home: Path, tmp_path: Path, capsys) -> None:
    graph = tmp_path / "bad.json"
    graph.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "Bad",
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "x"}},
                  {"id": "m", "type": "mask.invert"}],
        "edges": [{"from": ["p", "text"], "to": ["m", "mask"]}],
    }))
    result = run_cli(capsys, "run", graph)
    assert result.code != 0
    assert "input 'mask' takes mask but p.text gives text (a mask input takes a mask, or an image" in result.err
    assert "Traceback" not in result.err
