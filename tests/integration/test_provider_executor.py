"""Provider nodes on the real executor: cancelling a node or an order reaches the remote job within a
second, and independent provider nodes run in parallel up to the provider's concurrency limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QTimer

from artfactory.config import Settings
from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.executor import OrderRunner
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.fixtures.providers import provider_settings

SLOW_S = 60.0


@pytest.fixture
def servers(replicate_key: str, fal_key: str) -> Iterator[tuple[FakeReplicate, FakeFal]]:
    rep, fal = FakeReplicate().start(), FakeFal().start()
    try:
        yield rep, fal
    finally:
        rep.stop()
        fal.stop()


@pytest.fixture
def session(library_home: Path, servers: tuple[FakeReplicate, FakeFal]) -> Iterator[HeadlessSession]:
    # Limits come from the settings, as in the app: the shipped default of 4 per remote provider.
    library = Library.open(library_home, settings=provider_settings(*servers))
    try:
        yield HeadlessSession(library)
    finally:
        library.close()


def _cloud(node_id: str, provider: str, seed: int = 1) -> NodeSpec:
    if provider == "replicate":
        return NodeSpec(node_id, "provider.replicate",
                        {"model": "acme/painter", "input": {"num_outputs": 1}, "seed": seed})
    return NodeSpec(node_id, "provider.fal", {"endpoint": "fal-ai/flux/dev", "seed": seed})


def _jobs(server: FakeReplicate | FakeFal) -> dict[str, Any]:
    return dict(server.predictions if isinstance(server, FakeReplicate) else server.queue_requests)


def _when(check: Callable[[], bool], then: Callable[[], None]) -> QTimer:
    """Call `then` on the runner's thread once `check()` holds (looked at every 10 ms)."""
    timer = QTimer()

    def tick() -> None:
        if check():
            timer.stop()
            then()

    timer.timeout.connect(tick)
    timer.start(10)
    return timer


def _canceller(ready: Callable[[], bool], cancel: Callable[[OrderRunner], None],
               ) -> tuple[list[float], Callable[[OrderRunner], None]]:
    """An `on_runner` hook that calls `cancel(runner)` once `ready()`; the list gets the moment it did."""
    canceled_at: list[float] = []
    timers: list[QTimer] = []  # kept alive by the hook

    def on_runner(runner: OrderRunner) -> None:
        def fire() -> None:
            canceled_at.append(time.monotonic())
            cancel(runner)

        timers.append(_when(ready, fire))

    return canceled_at, on_runner


def _finish_times(session: HeadlessSession) -> dict[str, tuple[str, float]]:
    finished: dict[str, tuple[str, float]] = {}
    session.signals.node_finished.connect(
        lambda _o, node, status, _e: finished.setdefault(node, (status, time.monotonic())))
    return finished


@pytest.mark.parametrize("provider", ["replicate", "fal"])
def test_cancelling_a_provider_node_cancels_its_remote_job_within_a_second(
        session: HeadlessSession, servers: tuple[FakeReplicate, FakeFal], provider: str) -> None:
    server = servers[0] if provider == "replicate" else servers[1]
    server.run_s = SLOW_S
    doc = GraphDocument(nodes=[
        NodeSpec("p", "prompt.text", {"text": "a red fox"}), _cloud("gen", provider),
        NodeSpec("small", "transform.resize", {"width": 16, "height": 16}),
        NodeSpec("local", "provider.local", {"seed": 1, "width": 64, "height": 64}),
    ], edges=[EdgeSpec("p", "text", "gen", "prompt"), EdgeSpec("gen", "media", "small", "image"),
              EdgeSpec("p", "text", "local", "prompt")])
    finished = _finish_times(session)
    # Once the job exists remotely and the local branch is done: only the cloud node is running.
    canceled_at, on_runner = _canceller(lambda: bool(_jobs(server)) and "local" in finished,
                                        lambda runner: runner.cancel_node("gen"))

    order_id, status = session.run(session.plan(doc), project_id=session.library.project_id(),
                                   on_runner=on_runner)
    assert status == "partial"
    assert finished["gen"][0] == "canceled" and finished["gen"][1] - canceled_at[0] < 1.0
    assert finished["small"][0] == "skipped" and finished["local"][0] == "executed"
    [job_id] = _jobs(server)
    assert len(server.cancel_requests()) == 1 and _jobs(server)[job_id].canceled_at is not None
    item = session.executor.store.items(order_id)["gen"]
    assert item["status"] == "canceled" and item["remote_job_id"] == job_id


def test_cancelling_the_order_cancels_every_remote_job_within_a_second(
        session: HeadlessSession, servers: tuple[FakeReplicate, FakeFal]) -> None:
    for server in servers:
        server.run_s = SLOW_S
    doc = GraphDocument(nodes=[NodeSpec("p", "prompt.text", {"text": "a red fox"}),
                               _cloud("rep", "replicate"), _cloud("fal", "fal")],
                        edges=[EdgeSpec("p", "text", "rep", "prompt"), EdgeSpec("p", "text", "fal", "prompt")])
    finished = _finish_times(session)
    canceled_at, on_runner = _canceller(lambda: all(_jobs(s) for s in servers), lambda runner: runner.cancel())

    started = time.monotonic()
    _, status = session.run(session.plan(doc), project_id=session.library.project_id(), on_runner=on_runner)
    assert status == "canceled" and time.monotonic() - started < 10
    for node in ("rep", "fal"):
        assert finished[node][0] == "canceled" and finished[node][1] - canceled_at[0] < 1.0
    for server in servers:
        [job] = _jobs(server).values()
        assert len(server.cancel_requests()) == 1 and job.canceled_at is not None


def test_independent_provider_nodes_run_in_parallel_up_to_the_limit(
        session: HeadlessSession, servers: tuple[FakeReplicate, FakeFal]) -> None:
    rep = servers[0]
    rep.run_s = job_s = 0.5
    count = 6
    limit = Settings().concurrency_replicate
    assert limit == 4 and session.executor.limits["replicate"] == limit
    doc = GraphDocument(nodes=[NodeSpec("p", "prompt.text", {"text": "a red fox"})]
                        + [_cloud(f"g{i}", "replicate", seed=i) for i in range(count)],
                        edges=[EdgeSpec("p", "text", f"g{i}", "prompt") for i in range(count)])
    started = time.monotonic()
    _, status = session.run(session.plan(doc), project_id=session.library.project_id())
    wall = time.monotonic() - started
    assert status == "succeeded" and rep.accepted_creates == count
    # How many jobs ran at the same time, seen from the server: at each create, the unfinished ones.
    starts = sorted(p.mono for p in rep.predictions.values())
    at_once = max(sum(1 for s in starts if s <= t < s + job_s) for t in starts)
    assert at_once == limit
    assert wall < count * job_s - job_s  # two waves, far from six jobs one after another
