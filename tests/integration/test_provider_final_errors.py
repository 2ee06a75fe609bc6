"""A provider answer that is final ends the node at once with the provider's words: no retry loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.nodetypes import NodeError
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from nodes.provider_cloud import cloud_node
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.providers import RecordingContext, provider_settings

REPLICATE, FAL = cloud_node("replicate"), cloud_node("fal")

MakeCtx = Callable[..., RecordingContext]
# Well under what riding out an "outage" takes with these settings (300 poll intervals of 20 ms = 6 s,
# each poll with its own retries); a final answer needs one request.
QUICK_S = 2.0

FAL_FAILURES = [
    (500, "Runner ran out of GPU memory", "runner_server_error", "remote_failed"),
    (504, "Request timed out", "request_timeout", "remote_failed"),
    (503, "No runner could be allocated", "runner_scheduling_failure", "remote_failed"),
    (422, "Image could not be decoded", "image_load_error", "validation"),
]


def _result_fetches(fake: FakeFal) -> int:
    return len([r for r in fake.requests_to("GET", "/requests/") if not r.path.endswith("/status")])


@pytest.mark.parametrize(("status", "detail", "error_type", "code"), FAL_FAILURES,
                         ids=[f[2] for f in FAL_FAILURES])
def test_fal_request_that_failed_remotely_fails_the_node_with_fals_detail(
        fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx,
        status: int, detail: str, error_type: str, code: str) -> None:
    fake_fal_server.result_error = (status, detail, error_type)
    ctx = make_ctx(provider_settings(fal=fake_fal_server))
    started = time.monotonic()
    with pytest.raises(NodeError) as info:
        FAL.run(ctx, {"prompt": "a fox"}, FAL.defaults())
    assert time.monotonic() - started < QUICK_S
    # Recorded when accepted, then recorded again as ended: fal said it is over, so no run re-attaches to it.
    (rid, state), (again, ended) = ctx.remembered
    assert again == rid and "ended" not in state
    assert ended["ended"] == ("canceled" if code == "remote_canceled" else "failed")
    assert str(info.value) == f"fal request {rid} failed [{error_type}]: {detail}"
    assert info.value.code == code
    assert _result_fetches(fake_fal_server) == 1  # the same answer would come back every time


def test_fal_status_marked_not_retryable_ends_at_once(fake_fal_server: FakeFal, fal_key: str,
                                                      make_ctx: MakeCtx) -> None:
    final = (500, {"X-Fal-Retryable": "false"}, {"detail": "Endpoint is misconfigured"})
    fake_fal_server.status_script.answers = [final] * 100
    started = time.monotonic()
    with pytest.raises(NodeError) as info:
        FAL.run(make_ctx(provider_settings(fal=fake_fal_server)), {"prompt": "a fox"}, FAL.defaults())
    assert time.monotonic() - started < QUICK_S
    assert "Endpoint is misconfigured" in str(info.value) and info.value.code == "remote_failed"
    assert len(fake_fal_server.requests_to("GET", "/status")) == 1


def test_fal_transient_result_errors_are_still_retried(fake_fal_server: FakeFal, fal_key: str,
                                                       make_ctx: MakeCtx) -> None:
    # A gateway hiccup without fal's error marks is not the request's end: the result still arrives.
    fake = fake_fal_server
    blip = (502, {}, {"detail": "Bad Gateway"})
    fake.result_script.answers = [blip, blip]
    out = FAL.run(make_ctx(provider_settings(fal=fake)), {"prompt": "a fox"}, FAL.defaults())
    assert len(out["media"]) == 1
    assert _result_fetches(fake) == 3


@pytest.mark.parametrize(("status", "body", "code"), [
    (404, {"title": "Not found", "detail": "The requested resource could not be found.", "status": 404},
     "not_found"),
    (422, {"title": "Invalid prediction", "detail": "Prediction input is no longer valid", "status": 422},
     "validation"),
])
def test_replicate_final_poll_answers_end_at_once(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                  make_ctx: MakeCtx, status: int, body: dict, code: str) -> None:
    fake = fake_replicate_server
    fake.run_s = 5.0
    fake.poll_script.answers = [(status, {}, body)] * 100
    started = time.monotonic()
    with pytest.raises(NodeError) as info:
        REPLICATE.run(make_ctx(provider_settings(replicate=fake)), {"prompt": "a fox"},
                      {**REPLICATE.defaults(), "model": "acme/painter"})
    assert time.monotonic() - started < QUICK_S
    assert body["detail"] in str(info.value) and info.value.code == code
    assert len(fake.requests_to("GET", "/v1/predictions/")) == 1
    assert fake.accepted_creates == 1


def test_replicate_failed_prediction_stops_polling_at_its_end(fake_replicate_server: FakeReplicate,
                                                             replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.outcome, fake.run_s = "failed", 0.1
    with pytest.raises(NodeError) as info:
        REPLICATE.run(make_ctx(provider_settings(replicate=fake)), {"prompt": "a fox"},
                      {**REPLICATE.defaults(), "model": "acme/painter"})
    assert fake.error in str(info.value) and info.value.code == "remote_failed"
    polls = len(fake.requests_to("GET", "/v1/predictions/"))
    time.sleep(0.2)
    assert len(fake.requests_to("GET", "/v1/predictions/")) == polls  # nothing polls a finished prediction


# --- a whole run ends -------------------------------------------------------------------------


@pytest.fixture
def fal_session(library_home: Path, fake_fal_server: FakeFal, fal_key: str) -> Iterator[HeadlessSession]:
    library = Library.open(library_home, settings=provider_settings(fal=fake_fal_server))
    try:
        yield HeadlessSession(library)
    finally:
        library.close()


def test_a_run_with_a_remotely_failed_fal_request_ends_failed(fal_session: HeadlessSession,
                                                             fake_fal_server: FakeFal) -> None:
    fake_fal_server.result_error = (500, "Runner ran out of GPU memory", "runner_server_error")
    doc = GraphDocument(nodes=[NodeSpec("p", "prompt.text", {"text": "a red fox"}),
                               NodeSpec("gen", "provider.fal", {"endpoint": "fal-ai/flux/dev", "seed": 1})],
                        edges=[EdgeSpec("p", "text", "gen", "prompt")])
    started = time.monotonic()
    order_id, status = fal_session.run(fal_session.plan(doc), project_id=fal_session.library.project_id())
    assert time.monotonic() - started < QUICK_S + 1
    assert status == "partial"  # the prompt node did its part
    with fal_session.library.db.session() as db:
        node = lineage.run_result(fal_session.library, db, order_id)["nodes"]["gen"]
    assert node["status"] == "failed"
    assert "[runner_server_error]: Runner ran out of GPU memory" in node["error"]
    assert fake_fal_server.accepted_submits == 1
