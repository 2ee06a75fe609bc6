"""Input files reach each provider the way its API takes them: inline, uploaded once per order, or multipart."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from artfactory.engine.document import from_json
from artfactory.engine.nodetypes import Media, NewMedia
from artfactory.services import secrets
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from nodes.provider_cloud import cloud_node
from tests.fixtures import fake_openai
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_openai import FakeOpenAI, parse_multipart
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.fake_server import png_bytes
from tests.fixtures.providers import RecordingContext, provider_settings

INLINE = 2048  # bytes: the tests' inline limit, so a 64×64 noisy PNG (~12 KB) is uploaded and a flat one is not


def _files(tmp_path: Path) -> tuple[Media, Media]:
    big, small = tmp_path / "photo.png", tmp_path / "mask.png"
    big.write_bytes(png_bytes((64, 64), noise=True))
    Image.new("L", (64, 64), 0).save(small)
    assert big.stat().st_size > INLINE > small.stat().st_size
    return (Media(product_id="photo", path=big, media_type="image"),
            Media(product_id="mask", path=small, media_type="image"))


def _run(provider: str, ctx: RecordingContext, inputs: dict[str, Any], **params: Any) -> list[NewMedia]:
    node = cloud_node(provider)
    return list(node.run(ctx, {"prompt": "a fox in the snow", **inputs}, {**node.defaults(), **params})["media"])


def test_replicate_uploads_a_large_file_to_the_files_api_and_inlines_a_small_one(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    fake = fake_replicate_server
    fake.upload_script.answers.append((503, {"Retry-After": "0"}, {"title": "Service Unavailable", "status": 503}))
    photo, mask = _files(tmp_path)
    caplog.set_level(logging.DEBUG)
    ctx = make_ctx(provider_settings(replicate=fake, inline_input_bytes=INLINE))
    media = _run("replicate", ctx, {"image": photo, "mask": mask}, model="acme/painter",
                 input={"num_outputs": 1}, media_inputs={"mask": "mask"})
    assert len(media) == 1
    # The upload was retried after the 503 and accepted once; the prediction names the file by its urls.get.
    posts = fake.requests_to("POST", "/v1/files")
    assert len(posts) == 2 and len(fake.uploads) == 1
    (file_id, uploaded), = fake.uploads.items()
    assert uploaded["name"] == "photo.png" and uploaded["content_type"] == "image/png"
    assert fake.upload_bytes[file_id] == photo.path.read_bytes()
    assert posts[-1].headers["content-type"].startswith("multipart/form-data")
    sent = fake.create_requests()[0].json()["input"]
    assert sent["image"] == uploaded["urls"]["get"]
    assert sent["mask"].startswith("data:image/png;base64,")  # under the limit: inline
    assert media[0].meta["input"]["mask"].endswith("bytes)")  # product metadata keeps it short
    assert replicate_key not in caplog.text
    assert any(message.startswith("uploading photo.png (") for _, message in ctx.progress_events)


def test_fal_uploads_through_its_storage_flow_without_sending_the_key_to_the_signed_url(
        fake_fal_server: FakeFal, fal_key: str, make_ctx: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = fake_fal_server
    fake.put_script.answers.append((502, {}, {"detail": "bad gateway"}))
    photo, mask = _files(tmp_path)
    ctx = make_ctx(provider_settings(fal=fake, inline_input_bytes=INLINE))
    _run("fal", ctx, {"image": mask, "refs": [photo, photo]}, media_inputs={"refs": "image[]"})
    (initiate,) = fake.requests_to("POST", "/storage/upload/initiate")
    assert initiate.query["storage_type"] == ["fal-cdn-v3"]
    assert initiate.json() == {"file_name": "photo.png", "content_type": "image/png"}
    assert initiate.headers["authorization"] == f"Key {fal_key}"
    (upload,) = fake.uploads  # the PUT was retried after the 502: one upload, for both items of the list
    assert upload["data"] == photo.path.read_bytes() and upload["content_type_sent"] == "image/png"
    assert upload["authorization"] is None
    body = fake.submit_requests()[0].json()
    file_url = f"{fake.url}/files/uploads/{upload['token']}/photo.png"
    assert body["refs"] == [file_url, file_url]
    assert body["image_url"].startswith("data:image/png;base64,")
    # The retry was logged (by the app; httpx's own request lines show only with --debug) without the signed
    # URL's secret or the key.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("artfactory"))
    assert "retrying upload the input file photo.png" in ours
    assert "signed-upload-secret" not in ours and fal_key not in caplog.text


def test_openai_takes_the_mask_port_as_a_multipart_file_in_its_own_mask_format(
        monkeypatch: pytest.MonkeyPatch, memory_keyring: Any, make_ctx: Any, tmp_path: Path) -> None:
    fake = FakeOpenAI().start()
    monkeypatch.setenv("ARTFACTORY_OPENAI_BASE_URL", fake.url)
    secrets.set_key("openai", fake_openai.KEY)
    try:
        photo, mask = _files(tmp_path)
        _run("openai", make_ctx(provider_settings(inline_input_bytes=INLINE)), {"image": photo, "mask": mask},
             media_inputs={"mask": "mask"})
        (edit,) = fake.creates()
        parts = parse_multipart(edit)
        assert edit.path == "/v1/images/edits"
        assert parts["image"].data == photo.path.read_bytes()  # the file itself: no upload, no data URI
        with Image.open(__import__("io").BytesIO(parts["mask"].data)) as sent:
            assert sent.mode == "RGBA" and sent.getpixel((3, 3))[3] == 255  # black in the mask: kept
    finally:
        fake.stop()


@pytest.fixture
def session(library_home: Path, replicate_key: str, fal_key: str,
            fake_replicate_server: FakeReplicate, fake_fal_server: FakeFal) -> Iterator[HeadlessSession]:
    settings = provider_settings(fake_replicate_server, fake_fal_server, inline_input_bytes=INLINE)
    library = Library.open(library_home, settings=settings)
    try:
        yield HeadlessSession(library)
    finally:
        library.close()


def test_one_upload_per_file_per_order_across_nodes(session: HeadlessSession, fake_replicate_server: FakeReplicate,
                                                    fake_fal_server: FakeFal, tmp_path: Path) -> None:
    source = tmp_path / "shot.png"
    source.write_bytes(png_bytes((64, 64), noise=True))
    replicate = {"model": "acme/painter", "input": {"num_outputs": 1}}
    doc = from_json({
        "format": "artfactory.graph", "version": 2,
        "nodes": [
            {"id": "shot", "type": "input.image", "params": {"path": str(source)}},
            {"id": "p", "type": "prompt.text", "params": {"text": "the same shot, at night"}},
            {"id": "r1", "type": "provider.replicate", "params": {**replicate, "seed": 1}},
            {"id": "r2", "type": "provider.replicate",
             "params": {**replicate, "seed": 2, "media_inputs": {"init_image": "image"}}},
            {"id": "f1", "type": "provider.fal", "params": {"endpoint": "fal-ai/flux/dev", "seed": 3}},
            {"id": "f2", "type": "provider.fal", "params": {"endpoint": "fal-ai/flux/dev", "seed": 4}},
        ],
        "edges": [{"from": ["p", "text"], "to": [n, "prompt"]} for n in ("r1", "r2", "f1", "f2")] + [
            {"from": ["shot", "image"], "to": ["r1", "image"]},
            {"from": ["shot", "image"], "to": ["r2", "init_image"]},
            {"from": ["shot", "image"], "to": ["f1", "image"]},
            {"from": ["shot", "image"], "to": ["f2", "image"]},
        ],
    })
    _, status = session.run(session.plan(doc), project_id=session.library.project_id())
    assert status == "succeeded"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert fake_replicate_server.uploaded_sha256s() == [digest]
    assert len(fake_fal_server.uploads) == 1
    inputs = [r.json()["input"] for r in fake_replicate_server.create_requests()]
    (url,) = {i.get("image") or i.get("init_image") for i in inputs}
    assert url.endswith(f"/v1/files/{next(iter(fake_replicate_server.uploads))}")
    # A new order (other seeds, so every node executes) uploads again: the memo is per order.
    for node in doc.nodes:
        if node.type.startswith("provider."):
            node.params["seed"] += 10
    _, status = session.run(session.plan(doc), project_id=session.library.project_id())
    assert status == "succeeded"
    assert fake_replicate_server.uploaded_sha256s() == [digest, digest] and len(fake_fal_server.uploads) == 2
