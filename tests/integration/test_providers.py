"""provider.replicate and provider.fal against fake servers that follow the public APIs."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from artfactory.engine.nodetypes import Media, NewMedia, NodeCanceled, NodeError
from artfactory.providers import http as provider_http
from artfactory.providers.fal import FalClient
from artfactory.providers.replicate import ReplicateClient
from artfactory.providers.schemas import SchemaCache, schema_params
from artfactory.services.secrets import install_redaction, remove_redaction
from nodes.provider_cloud import cloud_node
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import VERSION, FakeReplicate
from tests.fixtures.fake_server import png_bytes
from tests.fixtures.providers import RecordingContext, provider_settings
from tests.support.fake_keys import fake_replicate_token

REPLICATE, FAL = cloud_node("replicate"), cloud_node("fal")

MakeCtx = Callable[..., RecordingContext]
Answer = tuple[int, dict[str, str], Any]


def run_replicate(ctx: RecordingContext, prompt: str = "a red fox, poster", **params: Any) -> list[NewMedia]:
    values = {**REPLICATE.defaults(), "model": "acme/painter", "input": {"num_outputs": 2}, **params}
    out = REPLICATE.run(ctx, {"prompt": prompt}, values)
    return list(out["media"])


def run_fal(ctx: RecordingContext, prompt: str = "a red fox, poster", inputs: dict[str, Any] | None = None,
            **params: Any) -> list[NewMedia]:
    values = {**FAL.defaults(), **params}
    out = FAL.run(ctx, {"prompt": prompt, **(inputs or {})}, values)
    return list(out["media"])


def assert_decodes(media: list[NewMedia]) -> None:
    for item in media:
        assert item.file is not None and item.file.is_file()
        with Image.open(item.file) as image:
            image.load()
            assert image.size[0] > 0


def temp_files(ctx: RecordingContext) -> list[Path]:
    return sorted(ctx.storage.temp_dir.iterdir())


# --- Replicate: success paths ------------------------------------------------------------------


def test_replicate_async_create_poll_and_download(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                  make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.start_s, fake.run_s = 0.05, 0.25
    ctx = make_ctx(provider_settings(fake))
    media = run_replicate(ctx, seed=7)

    assert len(media) == 2
    assert_decodes(media)
    creates = fake.create_requests()
    assert len(creates) == 1 and fake.accepted_creates == 1
    assert creates[0].path == "/v1/models/acme/painter/predictions"
    assert creates[0].headers["authorization"] == f"Bearer {replicate_key}"
    assert creates[0].headers["user-agent"].startswith("ArtFactory/")
    assert "prefer" not in creates[0].headers
    assert creates[0].json() == {"input": {"num_outputs": 2, "prompt": "a red fox, poster", "seed": 7}}
    # The prediction id was remembered before the job finished, with the URLs to poll it.
    pid = media[0].meta["prediction_id"]
    assert ctx.remembered and ctx.remembered[0][0] == pid
    assert ctx.remembered[0][1]["urls"]["get"].endswith(f"/v1/predictions/{pid}")
    meta = media[0].meta
    assert meta["provider"] == "replicate" and meta["model"] == "acme/painter"
    assert meta["seed"] == 4242  # reported by the model in its logs
    assert meta["prompt"] == "a red fox, poster"
    assert meta["timings"]["created"] and meta["timings"]["completed"]
    assert meta["timings"]["predict_time"] == pytest.approx(0.25)
    percents = [p for p, _ in ctx.progress_events]
    assert any(0 < p < 100 for p in percents), ctx.progress_events
    assert temp_files(ctx) == sorted(m.file for m in media if m.file)


def test_replicate_prefer_wait_answer_needs_no_poll(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                    make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.1
    fake.output = "url"
    media = run_replicate(make_ctx(provider_settings(fake)), wait=5)
    assert len(media) == 1
    assert_decodes(media)
    assert fake.create_requests()[0].headers["prefer"] == "wait=5"
    assert fake.requests_to("GET", "/v1/predictions/") == []


def test_replicate_prefer_wait_still_processing_is_polled(fake_replicate_server: FakeReplicate,
                                                          replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 1.4
    media = run_replicate(make_ctx(provider_settings(fake)), wait=1)
    assert len(media) == 2
    assert fake.accepted_creates == 1
    assert len(fake.requests_to("GET", "/v1/predictions/")) >= 1


def test_replicate_version_form(fake_replicate_server: FakeReplicate, replicate_key: str,
                                make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    media = run_replicate(make_ctx(provider_settings(fake)), model=f"acme/painter:{VERSION}")
    assert len(media) == 2
    create = fake.create_requests()[0]
    assert create.path == "/v1/predictions"
    assert create.json()["version"] == VERSION


@pytest.mark.parametrize(("output", "count"), [("url", 1), ("object", 2), ("data", 1)])
def test_replicate_output_shapes(fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx,
                                 output: str, count: int) -> None:
    fake = fake_replicate_server
    fake.output = output
    media = run_replicate(make_ctx(provider_settings(fake)))
    assert len(media) == count
    assert_decodes(media)
    downloads = fake.requests_to("GET", "/files/")
    assert len(downloads) == (0 if output == "data" else count)
    # Output URLs go to a CDN: our key must never travel with them.
    assert all("authorization" not in r.headers for r in downloads)


def test_replicate_text_output_is_a_clear_error(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                make_ctx: MakeCtx) -> None:
    fake_replicate_server.output = "text"
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)))
    assert info.value.code == "bad_output"
    assert "without any file output" in str(info.value)


def test_replicate_seed_is_sent_only_when_set(fake_replicate_server: FakeReplicate, replicate_key: str,
                                              make_ctx: MakeCtx) -> None:
    run_replicate(make_ctx(provider_settings(fake_replicate_server)), seed=-1)
    assert "seed" not in fake_replicate_server.create_requests()[0].json()["input"]


def test_prompt_port_wins_and_image_goes_as_data_uri(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                     make_ctx: MakeCtx, tmp_path: Path) -> None:
    source = tmp_path / "init.png"
    source.write_bytes(png_bytes((20, 20)))
    image = Media(product_id="p1", path=source, media_type="image", width=20, height=20)
    ctx = make_ctx(provider_settings(fake_replicate_server))
    values = {**REPLICATE.defaults(), "model": "acme/painter",
              "input": {"prompt": "from the input object", "num_outputs": 1}}
    out = REPLICATE.run(ctx, {"prompt": "from the wire", "image": image}, values)
    body = fake_replicate_server.create_requests()[0].json()["input"]
    assert body["prompt"] == "from the wire"
    assert body["image"].startswith("data:image/png;base64,")
    # The product metadata keeps the input but not the megabytes of the data URI.
    assert out["media"][0].meta["input"]["image"].startswith("data:image/png;base64,…")


# --- Replicate: errors keep the provider's words -----------------------------------------------


def test_replicate_401_names_the_provider_not_the_key(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx) -> None:
    fake_replicate_server.token = fake_replicate_token("SomeOtherTokenTheServerExpects0000")
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)))
    assert info.value.code == "auth"
    assert "authentication failed for Replicate" in str(info.value)
    assert "valid authentication token" in str(info.value)
    assert replicate_key not in str(info.value)


def test_replicate_unknown_model_404(fake_replicate_server: FakeReplicate, replicate_key: str,
                                     make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)), model="acme/nope")
    assert info.value.code == "not_found"
    assert "Model acme/nope not found" in str(info.value)


def test_replicate_422_names_the_field(fake_replicate_server: FakeReplicate, replicate_key: str,
                                       make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)), input={"width": 4096})
    assert info.value.code == "validation"
    assert "input.width" in str(info.value) and "less than or equal to 1440" in str(info.value)
    assert fake_replicate_server.accepted_creates == 0


@pytest.mark.parametrize(("outcome", "code", "words"), [
    ("failed", "remote_failed", "CUDA out of memory"),
    ("canceled", "remote_canceled", "was canceled"),
    ("aborted", "remote_canceled", "aborted before it started"),
])
def test_replicate_unsuccessful_predictions(fake_replicate_server: FakeReplicate, replicate_key: str,
                                            make_ctx: MakeCtx, outcome: str, code: str, words: str) -> None:
    fake_replicate_server.outcome = outcome
    fake_replicate_server.run_s = 0.05
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)))
    assert info.value.code == code
    assert words in str(info.value)


# --- Replicate: retries that never repay -------------------------------------------------------


def test_replicate_429_on_create_is_retried_with_one_accepted_create(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    detail = "Request was throttled. Expected available in 1 second."
    throttle = (429, {"Retry-After": "1"}, {"title": "Too Many Requests", "status": 429, "detail": detail})
    fake.create_script.answers = [throttle, throttle]
    started = time.monotonic()
    media = run_replicate(make_ctx(provider_settings(fake)))
    elapsed = time.monotonic() - started
    assert len(media) == 2
    assert len(fake.create_requests()) == 3
    assert fake.accepted_creates == 1
    assert elapsed >= 1.9  # Retry-After: 1 was honoured twice


def test_replicate_create_timeout_is_not_resent(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.create_hang_s = 3.0
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake, request_timeout_s=0.5)))
    assert info.value.code == "uncertain_create"
    assert "may have started" in str(info.value)
    assert len(fake.create_requests()) == 1


def test_replicate_connection_refused_create_is_retried_then_reported(replicate_key: str,
                                                                      make_ctx: MakeCtx) -> None:
    with socket_closed_port() as port:
        settings = provider_settings(replicate_base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(NodeError) as info:
            run_replicate(make_ctx(settings))
    assert info.value.code == "network"
    assert "cannot reach Replicate" in str(info.value) and "gave up after" in str(info.value)


def test_replicate_503_and_429_on_polls_are_retried(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                    make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.1
    unavailable: Answer = (503, {}, {"title": "Service Unavailable", "status": 503, "detail": "try again"})
    # Longer than one request's own retries: an accepted job is not given up on a burst of errors.
    fake.poll_script.answers = [unavailable, (429, {"Retry-After": "0"}, {"status": 429})] + [unavailable] * 8
    media = run_replicate(make_ctx(provider_settings(fake)))
    assert len(media) == 2
    assert fake.accepted_creates == 1
    assert len(fake.requests_to("GET", "/v1/predictions/")) >= 11


def test_replicate_resume_polls_the_remembered_job(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                   make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.4

    class Crash(Exception):
        pass

    first = make_ctx(provider_settings(fake))

    def die_after_persisting(job_id: str, state: dict[str, Any]) -> None:
        first.remembered.append((job_id, state))
        raise Crash("process killed")

    first.on_remote = die_after_persisting
    with pytest.raises(Crash):
        run_replicate(first)
    job_id, state = first.remembered[0]
    assert fake.accepted_creates == 1

    resumed = make_ctx(provider_settings(fake), previous_remote={"job_id": job_id, **state})
    media = run_replicate(resumed)
    assert len(media) == 2 and media[0].meta["prediction_id"] == job_id
    assert fake.accepted_creates == 1
    assert len(fake.create_requests()) == 1


def test_resume_of_a_vanished_job_fails_without_creating(fake_replicate_server: FakeReplicate,
                                                          replicate_key: str, make_ctx: MakeCtx) -> None:
    previous = {"job_id": "gone123", "urls": {}}
    ctx = make_ctx(provider_settings(fake_replicate_server), previous_remote=previous)
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    assert info.value.code == "not_found" and "gone123" in str(info.value)
    assert fake_replicate_server.create_requests() == []


def test_remembered_job_of_another_batch_item_is_not_resumed(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    first = make_ctx(provider_settings(fake))
    run_replicate(first)
    job_id, state = first.remembered[0]
    assert state["item_index"] == 0
    second = make_ctx(provider_settings(fake), previous_remote={"job_id": job_id, **state})
    second.item_index = 1
    media = run_replicate(second)
    assert media[0].meta["prediction_id"] != job_id
    assert fake.accepted_creates == 2


def cancel_after(ctx: Any, delay_s: float) -> list[float]:
    """Cancel the node from another thread after `delay_s`; the list gets the moment it did."""
    canceled_at: list[float] = []

    def cancel() -> None:
        time.sleep(delay_s)
        canceled_at.append(time.monotonic())
        ctx.cancel_event.set()

    threading.Thread(target=cancel, daemon=True).start()
    return canceled_at


def test_replicate_cancel_sends_one_cancel_and_stops_fast(fake_replicate_server: FakeReplicate,
                                                          replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 30.0
    ctx = make_ctx(provider_settings(fake, poll_interval_s=1.0))
    canceled_at = cancel_after(ctx, 0.4)
    with pytest.raises(NodeCanceled):
        run_replicate(ctx)
    assert time.monotonic() - canceled_at[0] < 1.0
    assert len(fake.cancel_requests()) == 1
    (prediction,) = fake.predictions.values()
    assert prediction.canceled_at is not None


def test_replicate_cancel_during_a_prefer_wait_create_still_cancels_the_job(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 30.0
    ctx = make_ctx(provider_settings(fake))
    threading.Timer(0.3, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(NodeCanceled):
        run_replicate(ctx, wait=1)
    assert time.monotonic() - started < 1.3  # did not sit out the server's 1 s hold
    # The create answers after the node gave up; its prediction still gets the cancel call.
    deadline = time.monotonic() + 5
    while not fake.cancel_requests() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.cancel_requests()) == 1 and fake.accepted_creates == 1


def test_replicate_missing_key_fails_before_any_request(fake_replicate_server: FakeReplicate,
                                                        make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as info:
        run_replicate(make_ctx(provider_settings(fake_replicate_server)))
    assert info.value.code == "missing_key"
    assert "Replicate" in str(info.value) and "REPLICATE_API_TOKEN" in str(info.value)
    assert fake_replicate_server.requests == []


def test_env_key_overrides_keychain(fake_replicate_server: FakeReplicate, make_ctx: MakeCtx,
                                    monkeypatch: pytest.MonkeyPatch, memory_keyring: Any) -> None:
    from artfactory.services import secrets

    secrets.set_key("replicate", fake_replicate_token("WrongKeyInTheKeychain000000000"))
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake_replicate_server.token)
    assert len(run_replicate(make_ctx(provider_settings(fake_replicate_server)))) == 2


def test_keys_never_reach_logs_errors_or_metadata(
        fake_replicate_server: FakeReplicate, fake_fal_server: FakeFal, replicate_key: str, fal_key: str,
        make_ctx: MakeCtx, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> None:
    caplog.set_level(logging.DEBUG)
    install_redaction()
    request.addfinalizer(remove_redaction)
    settings = provider_settings(fake_replicate_server, fake_fal_server)
    media = run_replicate(make_ctx(settings)) + run_fal(make_ctx(settings))
    fake_replicate_server.token = fake_replicate_token("DifferentTokenOnTheServer00000000")
    fake_fal_server.key = "other:key"
    errors = []
    for runner in (run_replicate, run_fal):
        with pytest.raises(NodeError) as info:
            runner(make_ctx(settings))
        errors.append(str(info.value))
    # A library logging the raw header must be scrubbed too.
    logging.getLogger("some.library").warning("sent headers %s", {"Authorization": f"Bearer {replicate_key}"})
    logging.getLogger("some.library").warning("sent Key %s", fal_key)
    try:
        raise RuntimeError(f"boom with {fal_key}")
    except RuntimeError:
        logging.getLogger("some.library").exception("failed")
    text = caplog.text + "\n".join(errors) + json.dumps([m.meta for m in media])
    assert "authentication failed for Replicate" in errors[0]
    assert "authentication failed for fal" in errors[1]
    assert replicate_key not in text
    assert fal_key not in text
    assert fal_key.split(":")[1] not in text
    # httpx logs every request URL at INFO; the signed query of a CDN download is scrubbed there too.
    assert "HTTP Request: GET" in caplog.text and "/files/" in caplog.text
    assert "cdn-signature-secret" not in text


# --- downloads ---------------------------------------------------------------------------------


def test_dropped_download_is_retried_with_a_fresh_file(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.output, fake.file_mode, fake.file_fail_times = "url", "drop", 2
    ctx = make_ctx(provider_settings(fake))
    media = run_replicate(ctx)
    assert_decodes(media)
    assert len(fake.requests_to("GET", "/files/")) == 3
    assert temp_files(ctx) == [media[0].file]


@pytest.mark.parametrize(("mode", "code", "words"), [
    ("drop", "download", "gave up after"),
    ("error", "download", "HTTP 503"),
    ("missing", "download", "HTTP 404"),
    ("truncated", "bad_output", "truncated"),
    ("html", "bad_output", "HTML"),
    ("oversized", "download", "size limit"),
])
def test_bad_downloads_are_clear_and_leave_no_temp_files(fake_replicate_server: FakeReplicate,
                                                         replicate_key: str, make_ctx: MakeCtx,
                                                         mode: str, code: str, words: str) -> None:
    fake = fake_replicate_server
    fake.output, fake.file_mode = "list", mode
    ctx = make_ctx(provider_settings(fake))
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    assert info.value.code == code, str(info.value)
    assert words in str(info.value)
    assert "/files/" in str(info.value) or mode in ("truncated",)
    assert "cdn-signature-secret" not in str(info.value)
    assert temp_files(ctx) == []


def test_oversized_chunked_download_is_cut_while_streaming(fake_replicate_server: FakeReplicate,
                                                           replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.output, fake.file_mode, fake.file_chunked = "url", "oversized", True
    ctx = make_ctx(provider_settings(fake))
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    assert info.value.code == "download" and "size limit" in str(info.value)
    assert temp_files(ctx) == []


# --- fal ---------------------------------------------------------------------------------------


def test_fal_queue_success_follows_returned_urls(fake_fal_server: FakeFal, fal_key: str,
                                                 make_ctx: MakeCtx) -> None:
    fake = fake_fal_server
    fake.queue_s, fake.run_s = 0.15, 0.15
    ctx = make_ctx(provider_settings(fal=fake))
    media = run_fal(ctx, input={"num_images": 2})
    assert len(media) == 2
    assert_decodes(media)
    (submit,) = fake.submit_requests()
    assert submit.path == "/fal-ai/flux/dev"
    assert submit.headers["authorization"] == f"Key {fal_key}"
    assert submit.json() == {"num_images": 2, "prompt": "a red fox, poster"}
    rid = media[0].meta["request_id"]
    statuses = fake.requests_to("GET", "/status")
    assert statuses and all(r.path == f"/fal-ai/flux/requests/{rid}/status" for r in statuses)
    assert all(r.query.get("logs") == ["1"] for r in statuses)
    assert fake.requests_to("GET", f"/fal-ai/flux/requests/{rid}")
    assert not [r for r in fake.requests if "/fal-ai/flux/dev/requests" in r.path]
    assert ctx.remembered[0][0] == rid
    assert ctx.remembered[0][1]["urls"]["status_url"].endswith(f"/fal-ai/flux/requests/{rid}/status")
    meta = media[0].meta
    assert meta["provider"] == "fal" and meta["endpoint"] == "fal-ai/flux/dev"
    assert meta["seed"] == 1234567
    assert meta["timings"]["inference"] == 0.42 and meta["timings"]["completed"]
    messages = [m for _, m in ctx.progress_events]
    assert any("position" in m for m in messages), messages
    assert any("%|" in m for m in messages), messages


@pytest.mark.parametrize(("output", "count", "downloads"), [("video", 1, 1), ("data", 1, 0)])
def test_fal_output_shapes(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
                           output: str, count: int, downloads: int) -> None:
    fake_fal_server.output = output
    media = run_fal(make_ctx(provider_settings(fal=fake_fal_server)))
    assert len(media) == count
    assert_decodes(media)
    assert len(fake_fal_server.requests_to("GET", "/files/")) == downloads


def test_fal_image_field_and_seed(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
                                  tmp_path: Path) -> None:
    source = tmp_path / "init.png"
    source.write_bytes(png_bytes((16, 16)))
    image = Media(product_id="p1", path=source, media_type="image")
    run_fal(make_ctx(provider_settings(fal=fake_fal_server)), inputs={"image": image}, seed=99)
    body = fake_fal_server.submit_requests()[0].json()
    assert body["seed"] == 99 and body["image_url"].startswith("data:image/png;base64,")
    run_fal(make_ctx(provider_settings(fal=fake_fal_server)), inputs={"image": image},
            image_field="init_image")
    assert "init_image" in fake_fal_server.submit_requests()[1].json()


def test_fal_401_404(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server)), endpoint="fal-ai/nothing-here")
    assert info.value.code == "not_found" and "Application 'nothing-here' not found" in str(info.value)
    fake_fal_server.key = "another:key"
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server)))
    assert info.value.code == "auth" and "authentication failed for fal" in str(info.value)
    assert fal_key not in str(info.value)


@pytest.mark.parametrize(("where", "field"), [("submit", "image_size"), ("result", "num_images")])
def test_fal_422_names_the_field(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
                                 where: str, field: str) -> None:
    fake_fal_server.validate_at = where
    bad = {"image_size": "huge"} if field == "image_size" else {"num_images": 9}
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server)), input=bad)
    assert info.value.code == "validation"
    assert f"{field}:" in str(info.value)
    assert "body" not in str(info.value)
    # A 422 on the result is final: fetched once, not retried.
    assert len(fake_fal_server.requests_to("GET", "/requests/")) - len(
        fake_fal_server.requests_to("GET", "/status")) <= 1


def test_fal_completed_with_error(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    fake_fal_server.outcome = "error"
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server)))
    assert info.value.code == "remote_failed"
    assert "Runner ran out of GPU memory" in str(info.value)


def test_fal_429_submit_retried_once_accepted(fake_fal_server: FakeFal, fal_key: str,
                                              make_ctx: MakeCtx) -> None:
    fake_fal_server.submit_script.answers = [(429, {"Retry-After": "0"}, {"detail": "Too many requests"})]
    assert len(run_fal(make_ctx(provider_settings(fal=fake_fal_server)))) == 1
    assert len(fake_fal_server.submit_requests()) == 2
    assert fake_fal_server.accepted_submits == 1


def test_fal_503_on_status_polls_retried(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    down: Answer = (503, {}, {"detail": "No runner available", "error_type": "runner_scheduling_failure"})
    fake_fal_server.status_script.answers = [down, down, down]
    assert len(run_fal(make_ctx(provider_settings(fal=fake_fal_server)))) == 1
    assert len(fake_fal_server.requests_to("GET", "/status")) >= 4


def test_fal_submit_timeout_not_resent(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    fake_fal_server.submit_hang_s = 3.0
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server, request_timeout_s=0.5)))
    assert info.value.code == "uncertain_create" and "may have started" in str(info.value)
    assert len(fake_fal_server.submit_requests()) == 1


def test_fal_resume_makes_no_submit(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_fal_server
    fake.run_s = 0.3
    with FalClient(provider_settings(fal=fake), fal_key) as client:
        job = client.submit("fal-ai/flux/dev", {"prompt": "a fox"})
    state = {"provider": "fal", "endpoint": "fal-ai/flux/dev",
             "urls": {k: job[k] for k in ("status_url", "response_url", "cancel_url")}}
    ctx = make_ctx(provider_settings(fal=fake), previous_remote={"job_id": job["request_id"], **state})
    media = run_fal(ctx)
    assert len(media) == 1 and media[0].meta["request_id"] == job["request_id"]
    assert fake.accepted_submits == 1 and len(fake.submit_requests()) == 1
    assert ctx.remembered == []


def test_fal_cancel_sends_one_put_and_stops_fast(fake_fal_server: FakeFal, fal_key: str,
                                                 make_ctx: MakeCtx) -> None:
    fake = fake_fal_server
    fake.queue_s, fake.run_s = 0.1, 30.0
    ctx = make_ctx(provider_settings(fal=fake, poll_interval_s=1.0))
    canceled_at = cancel_after(ctx, 0.4)
    with pytest.raises(NodeCanceled):
        run_fal(ctx)
    assert time.monotonic() - canceled_at[0] < 1.0
    (put,) = fake.cancel_requests()
    rid = ctx.remembered[0][0]
    assert put.path == f"/fal-ai/flux/requests/{rid}/cancel"
    assert fake.queue_requests[rid].canceled_at is not None


def test_fal_missing_key_fails_before_any_request(fake_fal_server: FakeFal, make_ctx: MakeCtx) -> None:
    with pytest.raises(NodeError) as info:
        run_fal(make_ctx(provider_settings(fal=fake_fal_server)))
    assert info.value.code == "missing_key" and "fal" in str(info.value) and "FAL_KEY" in str(info.value)
    assert fake_fal_server.requests == []


# --- schemas from the APIs ---------------------------------------------------------------------


def _cache() -> SchemaCache:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from artfactory.models.entities import Base

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return SchemaCache(sessionmaker(engine), ttl_s=3600)


def test_replicate_schema_becomes_params_and_is_cached(fake_replicate_server: FakeReplicate,
                                                       replicate_key: str) -> None:
    settings = provider_settings(fake_replicate_server)
    cache = _cache()
    params = schema_params("replicate", "acme/painter", settings=settings, api_key=replicate_key, cache=cache)
    assert [p.name for p in params][:3] == ["prompt", "image", "width"]
    assert next(p for p in params if p.name == "scheduler").choices[0] == "DDIM"
    again = schema_params("replicate", "acme/painter", settings=settings, api_key=replicate_key, cache=cache)
    assert again == params
    assert len(fake_replicate_server.requests_to("GET", "/v1/models/acme/painter")) == 1
    with ReplicateClient(settings, replicate_key) as client:
        assert client.get_model_schema(f"acme/painter:{VERSION}")["version"] == VERSION


def test_fal_schema_from_openapi_and_offline_fallback(fake_fal_server: FakeFal, fal_key: str) -> None:
    settings = provider_settings(fal=fake_fal_server)
    cache = SchemaCache(_cache().sessions, ttl_s=0)  # everything is stale at once
    params = schema_params("fal", "fal-ai/flux/dev", settings=settings, api_key=fal_key, cache=cache)
    assert [p.name for p in params][:2] == ["prompt", "image_size"]
    assert "landscape_4_3" in next(p for p in params if p.name == "image_size").choices
    request = fake_fal_server.requests_to("GET", "/openapi/queue/openapi.json")[0]
    assert request.query["endpoint_id"] == ["fal-ai/flux/dev"] and "authorization" not in request.headers
    fake_fal_server.stop()
    offline = schema_params("fal", "fal-ai/flux/dev", settings=settings, api_key=fal_key, cache=cache)
    assert offline == params


# --- HTTP helpers ------------------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    assert provider_http.parse_retry_after("3") == 3.0
    assert provider_http.parse_retry_after("garbage") is None
    assert provider_http.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == \
        pytest.approx(10.0)
    policy = provider_http.RetryPolicy(base_s=0.5, cap_s=4.0, retry_after_cap_s=60.0)
    assert all(0 <= policy.backoff(n) <= min(4.0, 0.5 * 2**n) for n in range(8) for _ in range(20))
    response = httpx.Response(429, headers={"Retry-After": "600"})
    assert policy.delay(0, response) == 60.0


def test_rate_limiter_spaces_requests() -> None:
    limiter = provider_http.RateLimiter(20.0, burst=1)
    started = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    assert time.monotonic() - started >= 0.2


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on: connections are refused before sending."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        sock.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        return None
