"""OpenAI Images through the provider registry: generations, edits, retries, uncertain creates, keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from artfactory.engine.context import RemoteNotStored
from artfactory.engine.nodetypes import NewMedia, NodeError
from artfactory.providers import registry
from artfactory.providers.schemas import schema_params
from artfactory.services import secrets
from nodes.provider_cloud import cloud_node
from tests.fixtures import fake_openai
from tests.fixtures.fake_openai import FakeOpenAI, parse_multipart
from tests.fixtures.fake_server import DROP, png_bytes
from tests.fixtures.providers import RecordingContext, provider_settings
from tests.support.cli import run_cli

MakeCtx = Callable[..., RecordingContext]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    monkeypatch.setenv("ARTFACTORY_OPENAI_BASE_URL", fake.url)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def openai_key(memory_keyring: Any) -> str:
    secrets.set_key("openai", fake_openai.KEY)
    return fake_openai.KEY


def run_openai(ctx: RecordingContext, prompt: str = "a red fox, poster", inputs: dict[str, Any] | None = None,
               **params: Any) -> list[NewMedia]:
    node = cloud_node("openai")
    out = node.run(ctx, {"prompt": prompt, **(inputs or {})}, {**node.defaults(), **params})
    return list(out["media"])


def _size(media: NewMedia) -> tuple[int, int]:
    with Image.open(media.file) as image:
        image.load()
        return image.size


def test_openai_is_registered_with_its_key_url_and_offline_schema() -> None:
    spec = registry.get("openai")
    assert (spec.node_type, spec.key_env, spec.keychain_user) == ("provider.openai", "OPENAI_API_KEY", "openai")
    assert (spec.base_url.env, spec.base_url.default) == ("ARTFACTORY_OPENAI_BASE_URL", "https://api.openai.com")
    # Works with no key and no network: the schema is declared in the module.
    params = {p.name: p for p in schema_params("openai", "gpt-image-1", settings=provider_settings(),
                                               api_key=None)}
    assert {"size", "quality", "n", "background", "output_format"} <= set(params)
    assert "1536x1024" in params["size"].choices and "high" in params["quality"].choices


def test_generation_b64_outputs_become_products_with_metadata(server: FakeOpenAI, openai_key: str,
                                                              make_ctx: MakeCtx) -> None:
    server.revised_prompt = "A red fox in poster style"
    ctx = make_ctx(provider_settings())
    media = run_openai(ctx, input={"n": 2, "size": "1024x1024", "quality": "low"}, seed=5)
    assert len(media) == 2 and [_size(m) for m in media] == [(40, 30), (40, 30)]
    (create,) = server.creates()
    assert create.path == "/v1/images/generations"
    assert create.headers["authorization"] == f"Bearer {openai_key}"
    assert create.json() == {"model": "gpt-image-1", "prompt": "a red fox, poster", "n": 2, "size": "1024x1024",
                             "quality": "low"}  # no seed: the Images API has none
    meta = media[0].meta
    assert (meta["provider"], meta["model"], meta["prompt"], meta["size"]) == (
        "openai", "gpt-image-1", "a red fox, poster", "1024x1024")
    assert meta["revised_prompt"] == "A red fox in poster style" and meta["usage"]["total_tokens"] == 284
    assert meta["request_id"] == "req_fake123" and [m.meta["output_index"] for m in media] == [0, 1]
    # The request id was stored before the request went out (see resume below).
    assert len(ctx.remembered) == 1 and ctx.remembered[0][1]["synchronous"] is True


def test_generation_url_outputs_are_downloaded(server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx) -> None:
    server.output = "url"
    media = run_openai(make_ctx(provider_settings()), model="dall-e-3")
    assert len(media) == 1 and _size(media[0]) == (64, 48)  # what the fake CDN served
    assert [r.path for r in server.requests] == ["/v1/images/generations", "/files/img-0-0.png"]
    assert media[0].meta["model"] == "dall-e-3"


def test_an_edit_sends_image_and_mask_as_multipart(server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx,
                                                   tmp_path: Path) -> None:
    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    image.write_bytes(png_bytes((32, 32), (10, 20, 30)))
    mask.write_bytes(png_bytes((32, 32), (0, 0, 0)))
    media = run_openai(make_ctx(provider_settings()), "make it night", {"image": NewMedia(file=image)},
                       mask=str(mask), input={"size": "1024x1024", "n": 1})
    assert len(media) == 1
    (create,) = server.creates()
    assert create.path == "/v1/images/edits"
    assert create.headers["content-type"].startswith("multipart/form-data")
    parts = parse_multipart(create)
    assert parts["image"].data == image.read_bytes() and parts["image"].filename
    assert parts["mask"].data == mask.read_bytes() and parts["mask"].filename
    assert {k: parts[k].data.decode() for k in ("prompt", "model", "size", "n")} == {
        "prompt": "make it night", "model": "gpt-image-1", "size": "1024x1024", "n": "1"}
    assert media[0].meta["endpoint"] == "edits"


def test_a_mask_without_an_image_fails_before_any_request(server: FakeOpenAI, openai_key: str,
                                                          make_ctx: MakeCtx, tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="a mask needs an image"):
        run_openai(make_ctx(provider_settings()), mask=str(tmp_path / "m.png"))
    assert server.requests == []


def test_429_with_retry_after_is_retried(server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx) -> None:
    server.create_script.answers.append((429, {"Retry-After": "0"}, {"error": {
        "message": "Rate limit reached for images per min", "type": "requests", "code": "rate_limit_exceeded"}}))
    media = run_openai(make_ctx(provider_settings()))
    assert len(server.creates()) == 2 and len(media) == 1 and server.creates_done == 1


def test_a_used_up_quota_is_not_retried(server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx) -> None:
    server.create_script.answers.append((429, {"Retry-After": "0"}, {"error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "code": "insufficient_quota"}}))
    with pytest.raises(NodeError, match="You exceeded your current quota"):
        run_openai(make_ctx(provider_settings()))
    assert len(server.creates()) == 1


def test_an_id_that_cannot_be_stored_means_nothing_is_sent(server: FakeOpenAI, openai_key: str,
                                                           make_ctx: MakeCtx) -> None:
    ctx = make_ctx(provider_settings())

    def refuse(job_id: str, state: dict[str, Any]) -> None:
        raise RemoteNotStored("the disk is full")

    ctx.on_remote = refuse
    with pytest.raises(NodeError) as raised:
        run_openai(ctx)
    assert raised.value.code == "storage" and "was not sent" in str(raised.value)
    assert server.requests == []


def test_a_500_answer_is_retried(server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx) -> None:
    server.create_script.answers.append((500, {}, {"error": {
        "message": "The server had an error while processing your request.", "type": "server_error",
        "code": None}}))
    media = run_openai(make_ctx(provider_settings()))
    assert len(server.creates()) == 2 and len(media) == 1


def test_a_400_fails_with_openais_message_and_one_request(server: FakeOpenAI, openai_key: str,
                                                          make_ctx: MakeCtx) -> None:
    server.create_script.answers.append((400, {}, {"error": {
        "message": "Your request was rejected as a result of our safety system.", "type": "image_generation_user_error",
        "code": "moderation_blocked"}}))
    with pytest.raises(NodeError) as raised:
        run_openai(make_ctx(provider_settings()))
    assert "Your request was rejected as a result of our safety system." in str(raised.value)
    assert "moderation_blocked" in str(raised.value) and raised.value.code == "validation"
    assert len(server.creates()) == 1


def test_a_cut_connection_after_sending_is_uncertain_and_never_retried(server: FakeOpenAI, openai_key: str,
                                                                      make_ctx: MakeCtx) -> None:
    server.create_script.answers.append((DROP, {}, None))
    with pytest.raises(NodeError) as raised:
        run_openai(make_ctx(provider_settings()))
    message = str(raised.value)
    assert raised.value.code == "uncertain_create"
    assert "may have been billed" in message and "not idempotent" in message and "new request" in message
    assert len(server.creates()) == 1 and server.creates_done == 0


def test_resume_after_a_crash_fails_as_uncertain_without_a_request(server: FakeOpenAI, openai_key: str,
                                                                   make_ctx: MakeCtx) -> None:
    first = make_ctx(provider_settings())
    run_openai(first)
    job_id, state = first.remembered[0]
    resumed = make_ctx(provider_settings(), previous_remote={"job_id": job_id, **state})
    before = len(server.requests)
    with pytest.raises(NodeError) as raised:
        run_openai(resumed)
    assert raised.value.code == "uncertain_create" and job_id in str(raised.value)
    assert "re-running will create" in str(raised.value)
    assert len(server.requests) == before


def test_a_missing_key_fails_before_any_request(server: FakeOpenAI, memory_keyring: Any,
                                                make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as raised:
        run_openai(make_ctx(provider_settings()))
    assert raised.value.code == "missing_key" and "OpenAI" in str(raised.value)
    assert server.requests == []


def test_keys_status_and_test_for_openai(server: FakeOpenAI, memory_keyring: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "lib"
    status = run_cli(capsys, "keys", "status", "openai", "--json")
    assert status.code == 0 and {k: status.json[k] for k in ("provider", "set", "env")} == {
        "provider": "openai", "set": False, "env": "OPENAI_API_KEY"}
    wrong = "sk-proj-WrongKey000000000000000000000000"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    refused = run_cli(capsys, "keys", "test", "openai", "--home", home)
    assert refused.code == 1 and "authentication failed for OpenAI" in refused.err
    assert "Incorrect API key provided" in refused.err and wrong not in refused.out + refused.err
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.KEY)
    assert run_cli(capsys, "keys", "status", "openai", "--json").json["source"] == "env"
    ok = run_cli(capsys, "keys", "test", "openai", "--home", home, "--json")
    assert ok.code == 0 and ok.json["message"].startswith("Connected to OpenAI")
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models")] * 2


def test_a_graph_run_stores_products_with_lineage(server: FakeOpenAI, tmp_path: Path, library_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.KEY)
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.05, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "openai run", "meta": {},
        "nodes": [{"id": "p", "type": "prompt.text", "params": {"text": "a red fox, poster"}},
                  {"id": "gen", "type": "provider.openai", "params": {"model": "gpt-image-1"}},
                  {"id": "small", "type": "transform.resize", "params": {"width": 20, "height": 20}}],
        "edges": [{"from": ["p", "text"], "to": ["gen", "prompt"]},
                  {"from": ["gen", "media"], "to": ["small", "image"]}],
    }))
    result = run_cli(capsys, "run", graph, "--json")
    assert result.code == 0, result.err
    by_node = {p["node_id"]: p for p in result.json["products"]}
    assert set(by_node) == {"gen", "small"} and len(server.creates()) == 1
    shown = run_cli(capsys, "products", "show", by_node["gen"]["id"], "--json").json
    assert shown["provider"] == "openai" and shown["model"] == "gpt-image-1"
    assert shown["metadata"]["prompt"] == "a red fox, poster" and shown["metadata"]["size"] == "1024x1024"
    assert shown["node_type"] == shown["graph"]["nodes"][1]["type"] == "provider.openai"
    small = run_cli(capsys, "products", "show", by_node["small"]["id"], "--json").json
    assert small["order_id"] == shown["order_id"]
