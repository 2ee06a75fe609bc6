"""Never paying twice on the provider side, and what each job used: through the fake servers, counting creates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from artfactory.engine.cost import Usage
from artfactory.engine.nodetypes import NewMedia, NodeCanceled, NodeError
from artfactory.providers import fal, openai, replicate
from artfactory.providers import http as provider_http
from artfactory.providers.fal import FalClient
from artfactory.providers.http import ProviderError
from artfactory.providers.replicate import ReplicateClient
from artfactory.services import secrets
from nodes.provider_cloud import build_input, cloud_node
from tests.fixtures import fake_openai
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.fake_server import MALFORMED
from tests.fixtures.providers import RecordingContext, provider_settings

REPLICATE, FAL, OPENAI = cloud_node("replicate"), cloud_node("fal"), cloud_node("openai")
MakeCtx = Callable[..., RecordingContext]
Answer = tuple[int, dict[str, str], Any]
NOT_AN_OBJECT: Answer = (200, {}, ["a", "list", "is", "not", "a", "prediction"])
CUT_JSON: Answer = (MALFORMED, {}, None)
PROXY_PAGE: Answer = (MALFORMED, {}, "<html><body>502 Bad Gateway (but sent as 200)</body></html>")
SHORT_WINDOW = 10  # poll intervals an outage is ridden out for in the give-up tests (0.2 s at 0.02 s)


def run_replicate(ctx: RecordingContext, **input: Any) -> list[NewMedia]:
    values = {**REPLICATE.defaults(), "model": "acme/painter", "input": {"num_outputs": 1, **input}}
    return list(REPLICATE.run(ctx, {"prompt": "a red fox"}, values)["media"])


def run_fal(ctx: RecordingContext, **input: Any) -> list[NewMedia]:
    return list(FAL.run(ctx, {"prompt": "a red fox"}, {**FAL.defaults(), "input": input})["media"])


def ended_records(ctx: RecordingContext) -> list[str]:
    return [state["ended"] for _job, state in ctx.remembered if "ended" in state]


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
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


# --- (c) a malformed 200 on a poll is ridden out like an outage ---------------------------------------------


@pytest.mark.parametrize("answer", [CUT_JSON, PROXY_PAGE, NOT_AN_OBJECT], ids=["cut", "html", "list"])
def test_replicate_malformed_poll_answer_is_retried_not_fatal(fake_replicate_server: FakeReplicate,
                                                              replicate_key: str, make_ctx: MakeCtx,
                                                              answer: Answer) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.1
    fake.poll_script.answers = [answer]
    ctx = make_ctx(provider_settings(fake))
    assert len(run_replicate(ctx)) == 1
    assert fake.accepted_creates == 1 and fake.cancels == 0
    assert fake.poll_script.answers == []  # the malformed answer was served, and polling went on
    assert ended_records(ctx) == []


@pytest.mark.parametrize("answer", [CUT_JSON, PROXY_PAGE, NOT_AN_OBJECT], ids=["cut", "html", "list"])
def test_fal_malformed_status_or_result_answer_is_retried_not_fatal(fake_fal_server: FakeFal, fal_key: str,
                                                                     make_ctx: MakeCtx, answer: Answer) -> None:
    fake = fake_fal_server
    fake.run_s = 0.1
    fake.status_script.answers = [answer]
    fake.result_script.answers = [answer]
    ctx = make_ctx(provider_settings(fal=fake))
    assert len(run_fal(ctx)) == 1
    assert fake.accepted_submits == 1 and fake.cancels == 0
    assert fake.status_script.answers == [] and fake.result_script.answers == []


@pytest.mark.parametrize("provider", ["replicate", "fal"])
def test_malformed_create_answer_is_uncertain_and_never_resent(
        fake_replicate_server: FakeReplicate, fake_fal_server: FakeFal, replicate_key: str, fal_key: str,
        make_ctx: MakeCtx, provider: str) -> None:
    # A 2xx create answer we cannot read: the job may exist and be billed, so it is said, and not sent again.
    if provider == "replicate":
        fake_replicate_server.create_script.answers = [PROXY_PAGE]
    else:
        fake_fal_server.submit_script.answers = [PROXY_PAGE]
    ctx = make_ctx(provider_settings(fake_replicate_server, fake_fal_server))
    with pytest.raises(NodeError) as info:
        (run_replicate if provider == "replicate" else run_fal)(ctx)
    assert info.value.code == "uncertain_create" and "check your dashboard" in str(info.value)
    posts = fake_replicate_server.create_requests() if provider == "replicate" else fake_fal_server.submit_requests()
    assert len(posts) == 1


def test_malformed_answers_past_the_outage_window_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "OUTAGE_POLL_INTERVALS", 5)
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        raise provider_http.MalformedAnswer("Replicate answered a poll with something that is not a JSON object")

    with pytest.raises(ProviderError) as info:
        provider_http.poll_through_outages(fetch, settings=provider_settings(), cancelled=lambda: False,
                                           job="Replicate prediction p1")
    assert len(calls) >= 2 and "gave up waiting for Replicate prediction p1" in str(info.value)
    # Errors that are not an outage still end the poll at once.
    with pytest.raises(ProviderError, match="refused"):
        provider_http.poll_through_outages(lambda: (_ for _ in ()).throw(ProviderError("refused", "validation")),
                                           settings=provider_settings(), cancelled=lambda: False, job="x")


# --- (d) a job the app gives up on is canceled remotely ------------------------------------------------------


def test_replicate_outage_shorter_than_the_window_is_ridden_out(fake_replicate_server: FakeReplicate,
                                                                replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s, fake.poll_outage_s = 0.1, 0.6
    ctx = make_ctx(provider_settings(fake))
    assert len(run_replicate(ctx)) == 1
    assert fake.accepted_creates == 1 and fake.cancels == 0
    assert len(fake.requests_to("GET", "/v1/predictions/")) > 3


def test_replicate_outage_past_the_window_cancels_the_prediction(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "OUTAGE_POLL_INTERVALS", SHORT_WINDOW)
    fake = fake_replicate_server
    fake.run_s, fake.poll_outage_s = 30.0, 60.0
    ctx = make_ctx(provider_settings(fake))
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    (job_id, _state), (again, ended) = ctx.remembered
    assert again == job_id and ended["ended"] == "canceled"
    assert info.value.code == "unavailable"
    assert str(info.value).endswith(f"Replicate prediction {job_id} was canceled")
    assert fake.accepted_creates == 1 and fake.cancels == 1
    assert fake.predictions[job_id].canceled_at is not None


def test_fal_outage_past_the_window_cancels_the_request(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "OUTAGE_POLL_INTERVALS", SHORT_WINDOW)
    fake = fake_fal_server
    fake.run_s, fake.poll_outage_s = 30.0, 60.0
    ctx = make_ctx(provider_settings(fal=fake))
    with pytest.raises(NodeError) as info:
        run_fal(ctx)
    rid = ctx.remembered[0][0]
    assert ended_records(ctx) == ["canceled"]
    assert str(info.value).endswith(f"fal request {rid} was canceled")
    assert fake.accepted_submits == 1 and fake.cancels == 1
    assert fake.queue_requests[rid].canceled_at is not None


def test_a_give_up_whose_cancel_fails_leaves_the_job_to_be_reattached(
        fake_replicate_server: FakeReplicate, replicate_key: str, make_ctx: MakeCtx,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "OUTAGE_POLL_INTERVALS", SHORT_WINDOW)
    fake = fake_replicate_server
    fake.run_s, fake.poll_outage_s = 0.5, 60.0
    down: Answer = (503, {}, {"title": "Service Unavailable", "status": 503, "detail": "down"})
    fake.cancel_script.answers = [down] * 50
    first = make_ctx(provider_settings(fake))
    with pytest.raises(NodeError) as info:
        run_replicate(first)
    assert "did not get through either" in str(info.value) and "next run picks it up" in str(info.value)
    assert ended_records(first) == []  # not marked: the job may still run, and the next run re-attaches
    # The outage ends; the next run re-attaches to the same prediction: one create in all.
    fake.poll_outage_s, fake.cancel_script.answers = 0.0, []
    fake._outage_until = None
    job_id, state = first.remembered[0]
    again = make_ctx(provider_settings(fake), previous_remote={"job_id": job_id, **state})
    assert run_replicate(again)[0].meta["prediction_id"] == job_id
    assert fake.accepted_creates == 1


@pytest.mark.parametrize("provider", ["replicate", "fal"])
def test_a_give_up_on_a_job_that_had_finished_keeps_it_for_the_next_run(
        fake_replicate_server: FakeReplicate, fake_fal_server: FakeFal, replicate_key: str, fal_key: str,
        make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    monkeypatch.setattr(provider_http, "OUTAGE_POLL_INTERVALS", SHORT_WINDOW)
    fake: FakeReplicate | FakeFal = fake_replicate_server if provider == "replicate" else fake_fal_server
    fake.run_s, fake.poll_outage_s = 0.05, 60.0  # it finishes soon, but the polls cannot tell
    settings = provider_settings(fake_replicate_server, fake_fal_server)
    run = run_replicate if provider == "replicate" else run_fal
    first = make_ctx(settings)
    with pytest.raises(NodeError, match="had already finished: the next run fetches its outputs"):
        run(first)
    assert fake.cancels == 1 and ended_records(first) == []  # paid and done: not thrown away
    fake.poll_outage_s, fake._outage_until = 0.0, None
    (job_id, state), = first.remembered
    assert len(run(make_ctx(settings, previous_remote={"job_id": job_id, **state}))) == 1
    assert (fake.accepted_creates if isinstance(fake, FakeReplicate) else fake.accepted_submits) == 1


def test_user_cancel_marks_the_job_canceled(fake_replicate_server: FakeReplicate, replicate_key: str,
                                            make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 30.0
    ctx = make_ctx(provider_settings(fake))
    ctx.on_remote = lambda job_id, state: (ctx.remembered.append((job_id, state)),
                                           "ended" in state or ctx.cancel_event.set())
    with pytest.raises(NodeCanceled):
        run_replicate(ctx)
    assert ended_records(ctx) == ["canceled"] and fake.cancels == 1


# --- (b) the provider said the job ended: recorded, never re-attached; gone outputs expire ------------------


def test_failed_prediction_is_recorded_as_ended_with_what_it_used(fake_replicate_server: FakeReplicate,
                                                                   replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.outcome, fake.run_s = "failed", 0.05
    ctx = make_ctx(provider_settings(fake))
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    job_id = ctx.remembered[0][0]
    assert info.value.code == "remote_failed" and "CUDA out of memory" in str(info.value)
    assert ended_records(ctx) == ["failed"] and fake.cancels == 0
    # Replicate bills the failed prediction for its time: the error carries it for the ledger.
    assert info.value.usage == [Usage("replicate", "acme/painter", {"output": 0.0, "second": 0.05}, True, job_id)]
    # A run that meets the ended job creates a new one instead of re-attaching.
    fake.outcome = "succeeded"
    again = make_ctx(provider_settings(fake), previous_remote={"job_id": ctx.remembered[-1][0],
                                                               **ctx.remembered[-1][1]})
    assert run_replicate(again)[0].meta["prediction_id"] != job_id
    assert fake.accepted_creates == 2


def test_fal_request_that_completed_with_an_error_is_recorded_as_failed(fake_fal_server: FakeFal, fal_key: str,
                                                                         make_ctx: MakeCtx) -> None:
    fake_fal_server.outcome = "error"
    ctx = make_ctx(provider_settings(fal=fake_fal_server))
    with pytest.raises(NodeError, match="Runner ran out of GPU memory"):
        run_fal(ctx)
    assert ended_records(ctx) == ["failed"] and fake_fal_server.cancels == 0


def _finished_replicate_job(fake: FakeReplicate) -> dict[str, Any]:
    with ReplicateClient(provider_settings(fake), fake.token) as client:
        job = client.create("acme/painter", {"prompt": "a fox", "num_outputs": 1})
    return {"job_id": job["id"], "provider": "replicate", "model": "acme/painter", "urls": job["urls"],
            "item_index": 0}


def _finished_fal_job(fake: FakeFal) -> dict[str, Any]:
    with FalClient(provider_settings(fal=fake), fake.key) as client:
        job = client.submit("fal-ai/flux/dev", {"prompt": "a fox"})
    return {"job_id": job["request_id"], "provider": "fal", "endpoint": "fal-ai/flux/dev", "item_index": 0,
            "urls": {k: job[k] for k in ("status_url", "response_url", "cancel_url")}}


def test_reattached_prediction_whose_outputs_are_gone_expires(fake_replicate_server: FakeReplicate,
                                                              replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.file_mode = "missing"
    previous = _finished_replicate_job(fake)
    ctx = make_ctx(provider_settings(fake), previous_remote=previous)
    with pytest.raises(NodeError) as info:
        run_replicate(ctx)
    job_id = previous["job_id"]
    assert str(info.value) == (f"the outputs of Replicate prediction {job_id} are no longer available (HTTP 404); "
                               "the next run creates a new one")
    assert ctx.remembered == [(job_id, {**{k: v for k, v in previous.items() if k != "job_id"},
                                        "ended": "expired"})]
    assert fake.accepted_creates == 1
    # The job is paid for and will never be fetched again: its usage goes with the error.
    assert [u.model for u in info.value.usage] == ["acme/painter"]
    fake.file_mode = "png"
    again = make_ctx(provider_settings(fake), previous_remote={"job_id": job_id, **ctx.remembered[0][1]})
    assert run_replicate(again)[0].meta["prediction_id"] != job_id
    assert fake.accepted_creates == 2


def test_reattached_fal_request_whose_outputs_are_gone_expires(fake_fal_server: FakeFal, fal_key: str,
                                                               make_ctx: MakeCtx) -> None:
    fake = fake_fal_server
    fake.file_mode = "missing"
    previous = _finished_fal_job(fake)
    ctx = make_ctx(provider_settings(fal=fake), previous_remote=previous)
    with pytest.raises(NodeError, match=r"are no longer available \(HTTP 404\); the next run creates a new one"):
        run_fal(ctx)
    assert ended_records(ctx) == ["expired"] and fake.accepted_submits == 1


@pytest.mark.parametrize("provider", ["replicate", "fal"])
def test_output_404_once_on_a_fresh_job_keeps_it_for_the_next_run(
        fake_replicate_server: FakeReplicate, fake_fal_server: FakeFal, replicate_key: str, fal_key: str,
        make_ctx: MakeCtx, provider: str) -> None:
    fake: FakeReplicate | FakeFal = fake_replicate_server if provider == "replicate" else fake_fal_server
    fake.file_mode, fake.file_fail_times = "missing", 1
    settings = provider_settings(fake_replicate_server, fake_fal_server)
    run = run_replicate if provider == "replicate" else run_fal
    first = make_ctx(settings)
    with pytest.raises(NodeError, match="HTTP 404"):
        run(first)
    assert ended_records(first) == []  # a fresh job's 404 may be the CDN's hiccup: it stays re-attachable
    (job_id, state), = first.remembered
    again = make_ctx(settings, previous_remote={"job_id": job_id, **state})
    assert len(run(again)) == 1
    creates = fake.accepted_creates if isinstance(fake, FakeReplicate) else fake.accepted_submits
    assert creates == 1


def test_reattaching_rides_out_an_outage(fake_replicate_server: FakeReplicate, replicate_key: str,
                                         make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    previous = _finished_replicate_job(fake)
    fake.poll_outage_s = 0.6  # longer than one request's own retries at this poll interval
    ctx = make_ctx(provider_settings(fake), previous_remote=previous)
    assert run_replicate(ctx)[0].meta["prediction_id"] == previous["job_id"]
    assert fake.accepted_creates == 1 and fake.cancels == 0 and ended_records(ctx) == []


def test_vanished_job_on_reattach_expires(fake_replicate_server: FakeReplicate, replicate_key: str,
                                          make_ctx: MakeCtx) -> None:
    ctx = make_ctx(provider_settings(fake_replicate_server), previous_remote={"job_id": "gone123", "urls": {}})
    with pytest.raises(NodeError, match="the next run creates a new Replicate prediction") as info:
        run_replicate(ctx)
    assert info.value.code == "not_found" and ended_records(ctx) == ["expired"]
    assert fake_replicate_server.accepted_creates == 0


def test_openai_refused_request_is_ended_and_an_uncertain_one_expires_on_reattach(
        openai_server: FakeOpenAI, openai_key: str, make_ctx: MakeCtx) -> None:
    openai_server.create_script.answers = [(400, {}, {"error": {"message": "Your prompt was rejected",
                                                                "type": "invalid_request_error", "code": None}})]
    ctx = make_ctx(provider_settings())
    with pytest.raises(NodeError, match="rejected"):
        OPENAI.run(ctx, {"prompt": "a fox"}, OPENAI.defaults())
    assert ended_records(ctx) == ["failed"]  # an error answer made no images: nothing to come back to
    previous = {"job_id": "openai-abc", "provider": "openai", "model": "gpt-image-1", "endpoint": "generations",
                "synchronous": True, "item_index": 0}
    resumed = make_ctx(provider_settings(), previous_remote=previous)
    with pytest.raises(NodeError) as info:
        OPENAI.run(resumed, {"prompt": "a fox"}, OPENAI.defaults())
    assert info.value.code == "uncertain_create" and ended_records(resumed) == ["expired"]
    assert len(openai_server.creates()) == 1  # said once, never sent again


# --- usage: what each job used, reported once per job ---------------------------------------------------------


def test_replicate_reports_outputs_and_predict_time(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                    make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.run_s = 0.15
    ctx = make_ctx(provider_settings(fake))
    values = {**REPLICATE.defaults(), "model": f"acme/painter:{fake.models['acme/painter']}",
              "input": {"num_outputs": 2}}
    media = REPLICATE.run(ctx, {"prompt": "a fox"}, values)["media"]
    (usage,) = ctx.usage
    assert usage == Usage("replicate", "acme/painter", {"output": 2.0, "second": 0.15}, True,
                          media[0].meta["prediction_id"])
    # The estimate names the same price-book key (the version is not part of it) and the same outputs.
    body = build_input(replicate.SPEC, {"prompt": "a fox"}, values)
    expected = replicate.estimate(values["model"], body, values)
    assert expected.model == usage.model and expected.units["output"] == usage.units["output"]


@pytest.mark.parametrize(("input", "billed", "megapixels", "reported"), [
    ({"image_size": "square_hd", "num_images": 2}, "auto", 2.0, True),
    ({"image_size": {"width": 2048, "height": 1024}}, "auto", 2.0, True),
    ({"image_size": "landscape_4_3"}, 3, 3.0, True),  # fal's own figure wins over our count
    ({"image_size": "landscape_4_3"}, None, 1.0, False),
])
def test_fal_reports_billable_units_in_the_priced_unit(fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
                                                       input: dict[str, Any], billed: Any, megapixels: float,
                                                       reported: bool) -> None:
    fake_fal_server.billable_units = billed
    ctx = make_ctx(provider_settings(fal=fake_fal_server))
    media = run_fal(ctx, **input)
    (usage,) = ctx.usage
    assert (usage.provider, usage.model, usage.reported) == ("fal", "fal-ai/flux/dev", reported)
    assert usage.units["megapixel"] == megapixels and usage.units["output"] == len(media)
    assert usage.job_id == media[0].meta["request_id"]
    body = build_input(fal.SPEC, {"prompt": "a red fox"}, {"input": input})
    if billed == "auto":  # the estimate counts megapixels the way fal bills them
        assert fal.estimate("fal-ai/flux/dev", body, {}).units["megapixel"] == megapixels


def test_fal_endpoint_without_a_shipped_price_counts_units(fake_fal_server: FakeFal, fal_key: str,
                                                           make_ctx: MakeCtx) -> None:
    ctx = make_ctx(provider_settings(fal=fake_fal_server))
    FAL.run(ctx, {"prompt": "a fox"}, {**FAL.defaults(), "endpoint": "fal-ai/fast-sdxl"})
    (usage,) = ctx.usage
    assert usage.model == "fal-ai/fast-sdxl" and not usage.reported and usage.units["output"] == 1


@pytest.mark.parametrize(("model", "input", "key", "outputs"), [
    ("gpt-image-1", {"n": 2, "size": "1024x1536", "quality": "low"}, "gpt-image-1:low:1024x1536", 2),
    ("gpt-image-1", {}, "gpt-image-1:high:1024x1024", 1),  # the answer says what "auto" became
    ("dall-e-3", {"quality": "hd", "size": "1792x1024"}, "dall-e-3:hd:1792x1024", 1),
    ("dall-e-2", {"size": "512x512"}, "dall-e-2:standard:512x512", 1),
])
def test_openai_reports_images_under_model_quality_size(openai_server: FakeOpenAI, openai_key: str,
                                                        make_ctx: MakeCtx, model: str, input: dict[str, Any],
                                                        key: str, outputs: int) -> None:
    ctx = make_ctx(provider_settings())
    values = {**OPENAI.defaults(), "model": model, "input": input}
    media = OPENAI.run(ctx, {"prompt": "a fox"}, values)["media"]
    (usage,) = ctx.usage
    assert (usage.provider, usage.model, usage.reported) == ("openai", key, False)
    assert usage.units["output"] == outputs == len(media)
    assert openai.estimate(model, build_input(openai.SPEC, {"prompt": "a fox"}, values), values).model == key
    assert any(p.model == key for p in openai.PRICES)


def test_each_job_is_reported_once_per_item(fake_replicate_server: FakeReplicate, replicate_key: str,
                                            make_ctx: MakeCtx) -> None:
    ctx = make_ctx(provider_settings(fake_replicate_server))
    run_replicate(ctx)
    ctx.begin_item(1)
    run_replicate(ctx)
    assert len(ctx.usage) == 2 and len({u.job_id for u in ctx.usage}) == 2


# --- prices fal publishes through its platform API ----------------------------------------------------------


def test_fal_published_prices_are_read_from_the_platform_api(fake_fal_server: FakeFal, fal_key: str) -> None:
    settings = provider_settings(fal=fake_fal_server)
    asked = ("fal-ai/flux/dev", "fal-ai/flux-pro/kontext", "fal-ai/kling-video/v1.6/standard/text-to-video",
             "fal-ai/some-eu-model", "fal-ai/not-priced", "not an endpoint id")
    prices = fal.SPEC.published_prices(settings, fal_key, asked) if fal.SPEC.published_prices else []
    got = {(p.model, p.unit, p.usd, p.source) for p in prices}
    assert got == {("fal-ai/flux/dev", "megapixel", 0.025, "provider"),
                   ("fal-ai/flux-pro/kontext", "output", 0.04, "provider"),
                   ("fal-ai/kling-video/v1.6/standard/text-to-video", "second", 0.045, "provider")}  # USD only
    assert all(p.provider == "fal" and p.as_of and "fal pricing API" in p.note for p in prices)
    (request,) = fake_fal_server.requests_to("GET", "/v1/models/pricing")
    assert request.headers["authorization"] == f"Key {fal_key}"
    assert sorted(request.query["endpoint_id"]) == sorted(asked[:5])
    # A refused key is the usual clear error, and nothing is asked without one.
    with pytest.raises(ProviderError) as info:
        fal.published_prices(settings, "wrong:key", ("fal-ai/flux/dev",))
    assert info.value.code == "auth" and "wrong:key" not in str(info.value)
    assert fal.published_prices(settings, None, ("fal-ai/flux/dev",)) == []
    assert replicate.SPEC.published_prices is None and openai.SPEC.published_prices is None
