"""The awkward answers of both provider APIs: cut and silent connections, 5xx on a create, 403, retried
cancels, stalled downloads, progress from logs and queue positions, and the global request rate."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from artfactory.engine.nodetypes import NewMedia, NodeCanceled, NodeError
from artfactory.providers.http import ProviderError
from artfactory.providers.schemas import schema_params
from nodes.provider_cloud import cloud_node
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.fake_server import DROP, HANG, Script
from tests.fixtures.providers import RecordingContext, provider_settings

REPLICATE, FAL = cloud_node("replicate"), cloud_node("fal")

MakeCtx = Callable[..., RecordingContext]


@dataclass
class Api:
    """One provider's fake and the handful of things these tests do with it, named the same for both."""

    name: str
    server: FakeReplicate | FakeFal
    key: str

    def run(self, ctx: RecordingContext, **params: Any) -> list[NewMedia]:
        if isinstance(self.server, FakeReplicate):
            values = {**REPLICATE.defaults(), "model": "acme/painter", "input": {"num_outputs": 1}, **params}
            return list(REPLICATE.run(ctx, {"prompt": "a red fox"}, values)["media"])
        return list(FAL.run(ctx, {"prompt": "a red fox"}, {**FAL.defaults(), **params})["media"])

    def settings(self, **overrides: Any) -> Any:
        if isinstance(self.server, FakeReplicate):
            return provider_settings(self.server, **overrides)
        return provider_settings(fal=self.server, **overrides)

    @property
    def create_script(self) -> Script:
        s = self.server
        return s.create_script if isinstance(s, FakeReplicate) else s.submit_script

    @property
    def poll_script(self) -> Script:
        s = self.server
        return s.poll_script if isinstance(s, FakeReplicate) else s.status_script

    def create_posts(self) -> int:
        s = self.server
        return len(s.create_requests() if isinstance(s, FakeReplicate) else s.submit_requests())

    def accepted(self) -> int:
        s = self.server
        return s.accepted_creates if isinstance(s, FakeReplicate) else s.accepted_submits

    def polls(self) -> int:
        s = self.server
        return len(s.requests_to("GET", "/v1/predictions/") if isinstance(s, FakeReplicate)
                   else s.requests_to("GET", "/status"))

    def cancel_posts(self) -> int:
        return len(self.server.cancel_requests())

    def job_canceled(self, job_id: str) -> bool:
        s = self.server
        job = s.predictions[job_id] if isinstance(s, FakeReplicate) else s.queue_requests[job_id]
        return job.canceled_at is not None

    def drop_after_accepting(self) -> None:
        if isinstance(self.server, FakeReplicate):
            self.server.create_then_drop = True
        else:
            self.server.submit_then_drop = True


@pytest.fixture(params=["replicate", "fal"])
def api(request: pytest.FixtureRequest, replicate_key: str, fal_key: str) -> Iterator[Api]:
    server: FakeReplicate | FakeFal = FakeReplicate() if request.param == "replicate" else FakeFal()
    server.start()
    try:
        yield Api(request.param, server, replicate_key if request.param == "replicate" else fal_key)
    finally:
        server.stop()


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# --- creates: never sent twice ----------------------------------------------------------------------


def test_a_create_answered_503_is_not_sent_again(api: Api, make_ctx: MakeCtx) -> None:
    api.create_script.answers = [(503, {"Retry-After": "0"}, {"detail": "upstream connect error"})]
    with pytest.raises(NodeError) as info:
        api.run(make_ctx(api.settings()))
    assert info.value.code == "unavailable"
    assert "upstream connect error" in str(info.value) and "not sent again" in str(info.value)
    assert api.create_posts() == 1


def test_a_create_cut_off_after_acceptance_is_not_sent_again(api: Api, make_ctx: MakeCtx) -> None:
    api.drop_after_accepting()
    ctx = make_ctx(api.settings())
    with pytest.raises(NodeError) as info:
        api.run(ctx)
    assert info.value.code == "uncertain_create"
    assert "may have started and may be billed" in str(info.value)
    assert api.create_posts() == 1 and api.accepted() == 1
    assert ctx.remembered == []  # there was no id to remember; the message tells the user to look


# --- polls: ride out what the network does ------------------------------------------------------------


def test_silent_cut_and_throttled_polls_are_retried(api: Api, make_ctx: MakeCtx) -> None:
    api.server.run_s = 0.05
    api.poll_script.answers = [(HANG, {}, 3.0), (DROP, {}, None),
                               (429, {"Retry-After": "0"}, {"detail": "Too many requests"})]
    media = api.run(make_ctx(api.settings(request_timeout_s=0.4)))
    assert len(media) == 1
    assert api.accepted() == 1 and api.create_posts() == 1
    assert api.polls() >= 4  # the three misbehaving answers, then real ones


def test_retry_after_on_a_poll_is_honoured(api: Api, make_ctx: MakeCtx) -> None:
    api.server.run_s = 0.05  # a job that is not done at once, so it is polled
    api.poll_script.answers = [(429, {"Retry-After": "1"}, {"detail": "Request was throttled."})]
    started = time.monotonic()
    assert len(api.run(make_ctx(api.settings()))) == 1
    assert time.monotonic() - started >= 1.0


def test_403_is_an_authentication_error_in_the_providers_words(api: Api, make_ctx: MakeCtx) -> None:
    api.server.forbidden = True
    with pytest.raises(NodeError) as info:
        api.run(make_ctx(api.settings()))
    message = str(info.value)
    display = "Replicate" if api.name == "replicate" else "fal"
    assert info.value.code == "auth"
    assert f"authentication failed for {display} (HTTP 403)" in message
    assert ("permission" if api.name == "replicate" else "Exhausted balance") in message
    assert api.key not in message and api.create_posts() == 1


# --- cancels: retried like any idempotent call, and still within a second ------------------------------


def test_cancel_call_is_retried_through_503_and_429(api: Api, make_ctx: MakeCtx) -> None:
    api.server.run_s = 60.0
    cancel_script = api.server.cancel_script
    cancel_script.answers = [(503, {}, {"detail": "Service Unavailable"}),
                             (429, {"Retry-After": "0"}, {"detail": "Too many requests"})]
    ctx = make_ctx(api.settings())
    canceled_at: list[float] = []

    def cancel_once_remembered() -> None:
        _wait_for("the job id", lambda: ctx.remembered)
        time.sleep(0.1)
        canceled_at.append(time.monotonic())
        ctx.cancel_event.set()

    threading.Thread(target=cancel_once_remembered, daemon=True).start()
    with pytest.raises(NodeCanceled):
        api.run(ctx)
    assert time.monotonic() - canceled_at[0] < 1.0
    job_id = ctx.remembered[0][0]
    _wait_for("the job to be canceled", lambda: api.job_canceled(job_id))
    assert api.cancel_posts() == 3 and cancel_script.answers == []


# --- downloads ------------------------------------------------------------------------------------------


def test_stalled_download_times_out_and_is_retried(fake_replicate_server: FakeReplicate, replicate_key: str,
                                                   make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.output, fake.file_mode, fake.file_fail_times = "url", "stall", 1
    ctx = make_ctx(provider_settings(fake, request_timeout_s=0.4))
    [media] = REPLICATE.run(ctx, {"prompt": "a fox"}, {**REPLICATE.defaults(), "model": "acme/painter"})["media"]
    assert media.file is not None
    with Image.open(media.file) as image:
        image.load()
    assert len(fake.requests_to("GET", "/files/")) == 2
    assert sorted(ctx.storage.temp_dir.iterdir()) == [media.file]


def test_cancel_during_a_stalled_download_stops_within_a_second(fake_replicate_server: FakeReplicate,
                                                                replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.output, fake.file_mode = "url", "stall"
    ctx = make_ctx(provider_settings(fake, request_timeout_s=30.0))
    canceled_at: list[float] = []

    def cancel_mid_download() -> None:
        _wait_for("the half-written file", lambda: list(ctx.storage.temp_dir.iterdir()))
        canceled_at.append(time.monotonic())
        ctx.cancel_event.set()

    threading.Thread(target=cancel_mid_download, daemon=True).start()
    with pytest.raises(NodeCanceled):
        REPLICATE.run(ctx, {"prompt": "a fox"}, {**REPLICATE.defaults(), "model": "acme/painter"})
    assert time.monotonic() - canceled_at[0] < 1.0
    fake.stop()  # the stalled answer ends; the abandoned download cleans up after itself
    _wait_for("the temp file to go", lambda: not list(ctx.storage.temp_dir.iterdir()))


@pytest.mark.parametrize(("mode", "code", "words"), [
    ("html", "bad_output", "HTML page instead of an image"),
    ("truncated", "bad_output", "truncated"),
    ("oversized", "download", "size limit"),
    ("missing", "download", "HTTP 404"),
])
def test_fal_bad_downloads_are_clear_and_leave_no_temp_files(fake_fal_server: FakeFal, fal_key: str,
                                                             make_ctx: MakeCtx, mode: str, code: str,
                                                             words: str) -> None:
    fake_fal_server.file_mode = mode
    ctx = make_ctx(provider_settings(fal=fake_fal_server))
    with pytest.raises(NodeError) as info:
        FAL.run(ctx, {"prompt": "a fox"}, FAL.defaults())
    assert info.value.code == code and words in str(info.value)
    assert "cdn-signature-secret" not in str(info.value)
    assert list(ctx.storage.temp_dir.iterdir()) == []


# --- progress -------------------------------------------------------------------------------------------


def _non_decreasing(values: list[float]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


def test_replicate_progress_follows_the_tqdm_percentage(fake_replicate_server: FakeReplicate,
                                                        replicate_key: str, make_ctx: MakeCtx) -> None:
    fake = fake_replicate_server
    fake.start_s, fake.run_s, fake.output = 0.1, 0.8, "url"
    ctx = make_ctx(provider_settings(fake))
    REPLICATE.run(ctx, {"prompt": "a fox"}, {**REPLICATE.defaults(), "model": "acme/painter"})
    events = ctx.progress_events
    percents = [p for p, _ in events]
    assert events[0] == (0.0, "starting")
    assert events[-1] == (100.0, "done")
    assert _non_decreasing(percents), events
    running = [(p, m) for p, m in events if 0 < p < 90]
    assert len({p for p, _ in running}) >= 3, events  # the bar moved while the model ran
    # The message is the bar as a terminal would show it, and its percentage is the one reported.
    assert all(m.lstrip().startswith(f"{round(p / 0.9)}%|") for p, m in running), running


def test_fal_progress_reports_the_queue_position_then_the_logs(fake_fal_server: FakeFal, fal_key: str,
                                                               make_ctx: MakeCtx) -> None:
    fake = fake_fal_server
    fake.queue_s, fake.run_s = 0.45, 0.6
    ctx = make_ctx(provider_settings(fal=fake))
    FAL.run(ctx, {"prompt": "a fox"}, FAL.defaults())
    events = ctx.progress_events
    positions = [int(m.rsplit(" ", 1)[1].rstrip(")")) for _, m in events if m.startswith("in queue (position")]
    assert positions[0] == 3 and len(set(positions)) >= 2, events
    assert positions == sorted(positions, reverse=True)
    assert _non_decreasing([p for p, _ in events]), events
    assert any(0 < p < 90 and "%|" in m for p, m in events), events
    assert events[-1] == (100.0, "done")


# --- politeness ---------------------------------------------------------------------------------------


def test_all_clients_share_one_polite_request_rate(fake_replicate_server: FakeReplicate,
                                                   fake_fal_server: FakeFal, replicate_key: str, fal_key: str,
                                                   make_ctx: MakeCtx) -> None:
    rate = 5.0
    fake_replicate_server.run_s = fake_fal_server.run_s = 1.0
    settings = provider_settings(fake_replicate_server, fake_fal_server, requests_per_second=rate)
    results: dict[str, Any] = {}

    def run(name: str, node: Any, params: dict[str, Any]) -> None:
        try:
            results[name] = node.run(make_ctx(settings), {"prompt": "a fox"}, {**node.defaults(), **params})
        except Exception as exc:  # reported below
            results[name] = exc

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=("replicate", REPLICATE, {"model": "acme/painter"})),
               threading.Thread(target=run, args=("fal", FAL, {}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert all(isinstance(r, dict) for r in results.values()) and len(results) == 2, results
    sent = sum(1 for server in (fake_replicate_server, fake_fal_server) for r in server.requests
               if not r.path.startswith("/files/"))
    # Polling every 20 ms would be ~100 API requests in these 1+ s; the shared bucket allows a burst of
    # `rate` and then `rate` per second, across both providers together. Output downloads go to the
    # file host, once each, and are not counted.
    assert sent <= rate + rate * elapsed + 1, (sent, elapsed)


# --- schemas are optional -----------------------------------------------------------------------------


def test_offline_schema_is_a_clear_error_and_the_node_still_runs_on_its_input(
        fake_fal_server: FakeFal, fal_key: str, make_ctx: MakeCtx) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the schema host is unreachable
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = provider_settings(fal=fake_fal_server, fal_rest_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError) as info:
        schema_params("fal", "fal-ai/flux/dev", settings=settings, api_key=fal_key)
    assert info.value.code == "network" and "fetch the schema of fal-ai/flux/dev" in str(info.value)
    ctx = make_ctx(settings)
    media = FAL.run(ctx, {"prompt": "a fox"}, {**FAL.defaults(), "input": {"num_images": 2, "guidance_scale": 5}})
    assert len(media["media"]) == 2
    assert fake_fal_server.submit_requests()[0].json() == {"num_images": 2, "guidance_scale": 5, "prompt": "a fox"}
