"""Provider schema file fields become typed input ports that validation, planning and the request body all see."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from artfactory.engine.document import GraphDocument, from_json
from artfactory.engine.nodetypes import Media, NodeCanceled
from artfactory.engine.plan import build_plan
from artfactory.engine.registry import default_registry
from artfactory.engine.validate import validate
from artfactory.providers import fal, openai, replicate
from artfactory.providers.schemas import file_field_kind, file_fields, node_file_ports, params_from_schema
from artfactory.providers.uploads import FileSender, UploadMemo
from nodes.provider_cloud import build_input, cloud_node
from tests.fixtures.fake_replicate import painter_schema

KONTEXT_INPUT: dict[str, Any] = {  # shaped like black-forest-labs/flux-kontext-pro's Cog Input
    "type": "object", "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "x-order": 0},
        "input_image": {"type": "string", "format": "uri", "x-order": 1,
                        "description": "Image to use as reference. Must be jpeg, png, gif, or webp."},
        "aspect_ratio": {"type": "string", "enum": ["match_input_image", "1:1"], "x-order": 2},
        "output_format": {"type": "string", "enum": ["jpg", "png"], "x-order": 3},
    },
}
FAL_INPAINT_INPUT: dict[str, Any] = {  # fal writes its file fields as "*_url" strings, often without a format
    "type": "object", "required": ["prompt", "image_url", "mask_url"],
    "properties": {
        "prompt": {"type": "string", "x-order": 0},
        "image_url": {"type": "string", "title": "Image URL", "x-order": 1},
        "mask_url": {"type": "string", "title": "Mask URL", "x-order": 2},
        "image_size": {"type": "string", "enum": ["square_hd", "square"], "x-order": 3},
        "reference_image_urls": {"type": "array", "items": {"type": "string"}, "x-order": 4},
        "audio_url": {"type": "string", "format": "uri", "x-order": 5},
        "video_url": {"anyOf": [{"type": "string"}, {"type": "null"}], "x-order": 6},
        "lora_url": {"type": "string", "x-order": 7},
        "num_frames": {"type": "integer", "x-order": 8},
    },
}


def test_file_fields_are_found_by_schema_facts() -> None:
    assert file_fields(FAL_INPAINT_INPUT) == {"image_url": "image", "mask_url": "mask",
                                              "reference_image_urls": "image[]", "audio_url": "media",
                                              "video_url": "video"}
    schema = painter_schema()["components"]["schemas"]
    assert file_fields(schema["Input"], schema) == {"image": "image"}
    assert file_fields(KONTEXT_INPUT) == {"input_image": "image"}
    # Names alone are not enough without a file format or a URL name; arrays of URIs become list ports.
    assert file_field_kind("image_size", {"type": "string"}) is None
    assert file_field_kind("mask_image", {"type": "string", "format": "uri"}) == "mask"
    assert file_field_kind("input_images", {"type": "array", "items": {"type": "string", "format": "uri"}}) \
        == "image[]"
    assert file_field_kind("control", {"type": "string"}) is None
    assert file_field_kind("style_reference", {"type": "string", "format": "uri"}) == "image"
    # OpenAI's declared edit files: binary, so the form leaves them out and they come through ports.
    assert file_fields(openai.INPUT_SCHEMA) == {"image": "image", "mask": "mask"}
    assert "mask" not in [p.name for p in params_from_schema(openai.INPUT_SCHEMA)]


def test_the_image_port_keeps_its_field_and_moves_to_a_model_without_it() -> None:
    # fal: the image port fills image_url; the mask gets a port of its own.
    ports, field = node_file_ports({"image_url": "image", "mask_url": "mask"}, "", fal.SPEC.node.image_field)
    assert ports == {"mask_url": "mask"} and field == ""
    # flux-kontext has no "image" field: the image port moves to input_image (so a connected image arrives).
    ports, field = node_file_ports(file_fields(KONTEXT_INPUT), "", replicate.SPEC.node.image_field)
    assert ports == {} and field == "input_image"
    ports, field = node_file_ports(file_fields(openai.INPUT_SCHEMA), "", openai.SPEC.node.image_field)
    assert ports == {"mask": "mask"} and field == ""


def _doc(media_inputs: dict[str, Any], edges: list[dict[str, Any]]) -> GraphDocument:
    return from_json({
        "format": "artfactory.graph", "version": 2,
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a fox"}},
                  {"id": "img", "type": "provider.local", "params": {"seed": 1}},
                  {"id": "gen", "type": "provider.fal",
                   "params": {"endpoint": "fal-ai/flux/dev", "media_inputs": media_inputs}}],
        "edges": [{"from": ["p", "text"], "to": ["img", "prompt"]},
                  {"from": ["p", "text"], "to": ["gen", "prompt"]}, *edges],
    })


def test_validation_and_planning_see_the_ports_of_each_node(tmp_path: Path) -> None:
    registry = default_registry()
    linked = [{"from": ["img", "image"], "to": ["gen", "mask_url"]},
              {"from": ["img", "image"], "to": ["gen", "refs"]}]
    doc = _doc({"mask_url": "mask", "refs": "image[]"}, linked)
    assert validate(doc, registry) == []
    plan = build_plan(doc, registry, home=tmp_path)
    ports = {p.name: p for p in plan.nodes["gen"].node_type.inputs}
    assert ports["mask_url"].kind == "mask" and ports["refs"].whole_list
    # Without the declaration the same link is refused, naming the ports the node has.
    errors = validate(_doc({}, linked[:1]), registry)
    assert [e.code for e in errors] == ["unknown_port"] and "inputs: prompt, image" in errors[0].message
    assert 'media_inputs names it, e.g. {"mask_url": "image"}' in errors[0].message
    # A text output cannot feed an image field's port; a bad kind is a bad param.
    errors = validate(_doc({"mask_url": "mask"}, [{"from": ["p", "text"], "to": ["gen", "mask_url"]}]), registry)
    assert [e.code for e in errors] == ["type_mismatch"]
    errors = validate(_doc({"mask_url": "audio"}, []), registry)
    assert [e.code for e in errors] == ["bad_param"] and "kinds: image, mask, video, media" in errors[0].message
    # The declared node type in the registry is untouched: other nodes of the type have no such ports.
    assert registry.get("provider.fal") is cloud_node("fal")
    assert [p.name for p in cloud_node("fal").inputs] == ["prompt", "image"]


def _media(tmp_path: Path, name: str, size: int) -> Media:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (size // 256 + 1))
    return Media(product_id=name, path=path, media_type="image")


class _Settings:
    inline_input_bytes = 4096
    request_timeout_s = 5.0


def test_body_sends_small_files_inline_and_uploads_large_ones_once_per_order(tmp_path: Path) -> None:
    calls: list[str] = []

    def upload(settings: Any, key: str, path: Path, mime: str, cancelled: Any) -> str:
        calls.append(path.name)
        return f"https://cdn.example/{path.name}"

    spec = replace_media(fal.SPEC, upload)
    small, big = _media(tmp_path, "small.png", 1000), _media(tmp_path, "big.png", 10_000)
    memo = UploadMemo()
    params = {"input": {"num_images": 1}, "media_inputs": {"mask_url": "mask", "refs": "image[]"}, "seed": 5}
    files = FileSender(spec, settings=_Settings(), key="k", order_id="o1", memo=memo)
    body = build_input(spec, {"prompt": "a fox", "image": big, "mask_url": small, "refs": [big, small]}, params,
                       files)
    assert body["prompt"] == "a fox" and body["seed"] == 5 and body["num_images"] == 1
    assert body["image_url"] == "https://cdn.example/big.png"
    assert body["mask_url"].startswith("data:image/png;base64,")
    assert body["refs"][0] == "https://cdn.example/big.png" and body["refs"][1].startswith("data:")
    assert calls == ["big.png"]  # one upload although the big file was sent twice
    # Another node of the same order finds it; another order uploads it again.
    build_input(spec, {"image": big}, params, FileSender(spec, settings=_Settings(), key="k", order_id="o1",
                                                         memo=memo))
    assert calls == ["big.png"]
    build_input(spec, {"image": big}, params, FileSender(spec, settings=_Settings(), key="k", order_id="o2",
                                                         memo=memo))
    assert calls == ["big.png", "big.png"]


def replace_media(spec: Any, upload: Any) -> Any:
    from dataclasses import replace

    return replace(spec, media=replace(spec.media, upload=upload))


def test_two_nodes_asking_at_once_share_one_upload_and_a_failed_one_is_retried() -> None:
    memo = UploadMemo()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(5)
        return "https://cdn.example/one"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(memo.url("o", "fal", "abc", slow)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: results.append(memo.url("o", "fal", "abc", slow)))
    second.start()
    time.sleep(0.1)
    release.set()
    first.join(5)
    second.join(5)
    assert results == ["https://cdn.example/one"] * 2 and calls == [1]

    def broken() -> str:
        raise OSError("network down")

    with pytest.raises(OSError):
        memo.url("o", "fal", "def", broken)
    assert memo.url("o", "fal", "def", lambda: "https://cdn.example/two") == "https://cdn.example/two"
    with pytest.raises(NodeCanceled):
        memo._orders["o"][("fal", "ghi")] = type(memo._orders["o"][("fal", "abc")])()  # an upload under way
        memo.url("o", "fal", "ghi", slow, cancelled=lambda: True)


def test_openai_sends_local_files_and_converts_a_mask_product(tmp_path: Path) -> None:
    from io import BytesIO

    from PIL import Image

    mask_path = tmp_path / "mask.png"
    Image.new("L", (8, 8), 0).save(mask_path)
    with Image.open(mask_path) as im:
        im.load()
    image = Image.new("L", (8, 8), 0)
    image.paste(255, (0, 0, 4, 8))  # white = repaint on the left half
    image.save(mask_path)
    spec = openai.SPEC
    media = Media(product_id="m", path=mask_path, media_type="image")
    body = build_input(spec, {"prompt": "p", "image": media, "mask": media}, {"media_inputs": {"mask": "mask"}},
                       FileSender(spec, settings=_Settings(), key="k", order_id="o"))
    assert body["image"] == str(mask_path) and body["mask"] == str(mask_path)
    converted = Image.open(BytesIO(openai.openai_mask(mask_path.read_bytes())))
    assert converted.mode == "RGBA"
    assert converted.getpixel((1, 1))[3] == 0 and converted.getpixel((6, 1))[3] == 255
